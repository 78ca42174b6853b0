"""What a push's flow asks of the outside world per blob: file work (an ``Offload``, a hop
to a worker thread in the asyncio API) only where it must be -- one before the blob's
upload, none between its requests or after them, none for a blob the registry has."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests_mock

from registry_client import LayoutError, Registry
from registry_client._flow import Call, Effect, Offload
from registry_client.layout import OCILayout
from registry_client.services._upload_source import CheckedFile
from registry_client.testing._image import build_image, sha256_digest

BASE = "https://registry.example"
# a layer over IN_MEMORY (sent in a PATCH) and a config under it (read into memory)
IMAGE = build_image("app", "linux/amd64", "oci", [CheckedFile.IN_MEMORY + 1024],
                    random.Random(7), None, "2024-01-02T03:04:05Z")

Env = tuple[Registry, requests_mock.Adapter]


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    lay = OCILayout(tmp_path / "layout")
    lay.init()
    for digest, data in {**IMAGE.blobs, IMAGE.digest: IMAGE.manifest}.items():
        lay.write_blob(digest, data)
    lay.add_manifest({"mediaType": IMAGE.media_type, "digest": IMAGE.digest,
                      "size": IMAGE.size}, "1.0")
    return tmp_path / "layout"


@pytest.fixture
def env(mocked_registry: Callable[..., Env]) -> Env:
    reg, adapter = mocked_registry(retries=0)
    received: dict[str, bytes] = {}
    session = f"{BASE}/v2/app/blobs/uploads/s1"

    def patch(request: Any, context: Any) -> bytes:
        body = request.body if isinstance(request.body, bytes) else request.body.read()
        received["s1"] = received.get("s1", b"") + body
        context.status_code = 202
        context.headers["Range"] = f"0-{len(received['s1']) - 1}"
        context.headers["Location"] = session
        return b""

    def put(request: Any, context: Any) -> bytes:
        body = request.body if isinstance(request.body, bytes | None) else request.body.read()
        data = received.pop("s1", b"") + (body or b"")
        digest = request.qs["digest"][0]
        assert sha256_digest(data) == digest
        context.status_code = 201
        context.headers["Docker-Content-Digest"] = digest
        return b""

    adapter.register_uri("HEAD", requests_mock.ANY, status_code=404)
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
                         headers={"Location": session})
    adapter.register_uri("PATCH", session, content=patch)
    adapter.register_uri("PUT", session, content=put)
    adapter.register_uri("PUT", f"{BASE}/v2/app/manifests/1.0", status_code=201,
                         headers={"Docker-Content-Digest": IMAGE.digest})
    return reg, adapter


def _labels(effects: list[Effect]) -> list[str]:
    """``file`` for a file work, else the request's method (``PUT manifest`` for the
    manifest)."""
    labels = []
    for effect in effects:
        if isinstance(effect, Offload):
            labels.append("file")
        elif isinstance(effect, Call):
            manifest = "/manifests/" in effect.request.target
            labels.append(f"{effect.request.verb}{' manifest' if manifest else ''}")
    return labels


def test_a_blob_takes_one_file_hop_once_it_is_known_missing_and_none_after(
    env: Env, layout: Path, performed: list[Effect],
) -> None:
    reg, adapter = env
    reg.max_workers = 1  # one blob at a time, so the effects of one blob follow each other
    reg.repository("app").images.push(layout, "1.0")
    seen = _labels(performed)
    # the layout read (what it is, the entry, the manifest, every blob file checked); then
    # per blob, largest first: the HEAD that finds it missing, one hop that opens the file
    # (and reads a small one into memory), the upload's requests; then the manifest (the
    # config for the returned image is read with the check of the blob files, first)
    start = ["file", "file", "file", "file"]
    layer = ["HEAD", "file", "POST", "PATCH", "PUT"]
    config = ["HEAD", "file", "POST", "PUT"]
    assert seen == [*start, *layer, *config, "PUT manifest"], seen
    assert adapter.called


def test_a_blob_the_registry_has_is_not_opened(
    env: Env, layout: Path, performed: list[Effect],
) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", requests_mock.ANY, status_code=200,
                         headers={"Content-Length": "1"})
    reg.max_workers = 1
    reg.repository("app").images.push(layout, "1.0")
    seen = _labels(performed)
    assert seen == ["file", "file", "file", "file", "HEAD", "HEAD", "PUT manifest"], seen


def test_a_manifest_of_another_size_than_its_index_entry_pushes_nothing(
    tmp_path: Path, mocked_registry: Callable[..., Env],
) -> None:
    """docs/reliability.md: every file a push sends is of the size its descriptor
    gives -- manifests too, not only layers (skopeo accepts it; the index pushed on
    would carry a wrong size)."""
    from registry_client import LayoutError

    reg, adapter = mocked_registry(retries=0)
    lay = OCILayout(tmp_path / "layout")
    lay.init()
    for digest, data in {**IMAGE.blobs, IMAGE.digest: IMAGE.manifest}.items():
        lay.write_blob(digest, data)
    lay.add_manifest({"mediaType": IMAGE.media_type, "digest": IMAGE.digest,
                      "size": IMAGE.size + 10}, "1.0")
    with pytest.raises(LayoutError, match="size"):
        reg.repository("app").images.push(tmp_path / "layout", "1.0")
    assert adapter.request_history == []


@pytest.mark.parametrize("broken", ["manifest", "config"])
def test_a_layout_whose_json_is_malformed_is_a_layout_error_and_sends_nothing(
    tmp_path: Path, mocked_registry: Callable[..., Env], broken: str,
) -> None:
    """A layout's (or an oci-archive's) manifest or config that is not a JSON object was
    a RegistryResponseError -- "the registry answered ..." -- not the LayoutError (a
    ValueError) the push promises for a malformed layout, and it did not name the file;
    a malformed config was found only after the manifest was pushed."""
    reg, adapter = mocked_registry(retries=0)
    adapter.register_uri("HEAD", requests_mock.ANY, status_code=404)
    lay = OCILayout(tmp_path / "layout")
    lay.init()
    manifest, config = IMAGE.manifest, IMAGE.blobs[IMAGE.config_digest]
    if broken == "manifest":
        manifest = b"[]"
    else:
        config = b"not json"
        manifest = manifest.replace(IMAGE.config_digest.encode(),
                                    sha256_digest(config).encode()).replace(
            b'"size": %d' % len(IMAGE.blobs[IMAGE.config_digest]),
            b'"size": %d' % len(config))
    blobs = {**IMAGE.blobs, sha256_digest(config): config, sha256_digest(manifest): manifest}
    for digest, data in blobs.items():
        lay.write_blob(digest, data)
    lay.add_manifest({"mediaType": IMAGE.media_type, "digest": sha256_digest(manifest),
                      "size": len(manifest)}, "1.0")
    with pytest.raises(LayoutError, match=rf"^{tmp_path / 'layout'}: .*JSON"):
        reg.repository("app").images.push(tmp_path / "layout", "1.0")
    assert [r.method for r in adapter.request_history if r.method != "HEAD"] == []


@pytest.mark.parametrize(("document", "said"), [
    (b'{"schemaVersion": 1, "name": "app", "tag": "1.0", "fsLayers": []}',
     "a Docker schema1 manifest"),
    (b'{"schemaVersion": 2, "mediaType": "application/x-weird"}', "application/x-weird"),
])
def test_a_layout_manifest_of_a_schema_not_read_is_a_layout_error(
    tmp_path: Path, mocked_registry: Callable[..., Env], document: bytes, said: str,
) -> None:
    # it was "HOST/REPO: the registry sent a Docker schema1 manifest": the registry sent
    # nothing, the layout's own file is the problem
    reg, adapter = mocked_registry(retries=0)
    lay = OCILayout(tmp_path / "layout")
    lay.init()
    lay.write_blob(sha256_digest(document), document)
    lay.add_manifest({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "digest": sha256_digest(document), "size": len(document)}, "1.0")
    with pytest.raises(LayoutError, match=rf"^{tmp_path / 'layout'}: .*{said}"):
        reg.repository("app").images.push(tmp_path / "layout", "1.0")
    assert adapter.request_history == []
