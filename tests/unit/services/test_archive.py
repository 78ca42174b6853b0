"""images.push of an archive through a requests-mock registry: errors name the archive."""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import os
import random
import re
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests_mock

from registry_client import LayerError, LayoutError, NotFoundError, Registry
from registry_client.services import _archive
from registry_client.testing._image import build_image

BASE = "https://registry.example"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

MockedRegistry = tuple[Registry, requests_mock.Adapter]


def oci_archive(path: Path, index: bytes) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
                           "index.json": index}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())


@pytest.mark.parametrize("index", [
    {"schemaVersion": 2, "manifests": "none"},
    {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + "1" * 64, "size": 10,
        "annotations": {"org.opencontainers.image.ref.name": "1.0"}}]},
])
def test_errors_of_an_oci_archive_name_the_archive_not_the_temp_folder(
    mocked_registry: Callable[..., MockedRegistry], tmp_path: Path, index: object
) -> None:
    reg, adapter = mocked_registry()
    adapter.register_uri(requests_mock.ANY, requests_mock.ANY, status_code=404)
    archive = tmp_path / "bad-oci.tar"
    oci_archive(archive, json.dumps(index).encode())
    with pytest.raises(LayoutError) as info:
        reg.repository("app").images.push(archive, "1.0")
    assert str(info.value).startswith(f"{archive}: ")
    assert not re.search("registry-client-push", str(info.value))


def test_a_full_disk_during_an_archive_pull_names_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ENOSPC while the image's blobs were written named the hidden work folder, deleted
    by the time the user reads the error, not the archive asked for."""
    images = Registry("registry.example").repository("app").images
    flows = images.flows

    def full(reference: str, layout: Path, **kw: object) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(layout / "blobs" / "x"))
        yield  # pragma: no cover - a flow

    monkeypatch.setattr(flows._puller, "pull", full)
    target = tmp_path / "app.tar"
    with pytest.raises(OSError) as info:
        images._run(flows._archiver.pull("sha256:" + "a" * 64, target, platform=None,
                                         format="oci-archive", progress=None))
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(target))
    assert sorted(tmp_path.iterdir()) == []  # (the work folder is gone)


def test_a_full_disk_while_a_docker_archive_is_written_names_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ENOSPC while the docker-archive's layers were unpacked (after the pull) named no
    file at all."""
    images = Registry("registry.example").repository("app").images
    flows = images.flows

    def pulled(reference: str, layout: Path, **kw: object) -> Any:
        return None
        yield  # pragma: no cover - a flow

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(flows._puller, "pull", pulled)
    monkeypatch.setattr(_archive, "write_docker_archive", full)
    target = tmp_path / "app.tar"
    with pytest.raises(OSError) as info:
        images._run(flows._archiver.pull("sha256:" + "a" * 64, target, platform="linux/amd64",
                                         format="docker-archive", progress=None))
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(target))


@pytest.mark.parametrize("kind", ["oci-archive", "docker-archive"])
def test_a_full_temp_disk_while_an_archive_is_unpacked_for_a_push_names_the_folder(
    mocked_registry: Callable[..., MockedRegistry], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, kind: str,
) -> None:
    """A push unpacks an archive into a folder of the temp directory: ENOSPC there said
    only "[Errno 28] No space left on device" -- not which disk (the archive's has
    room). It names the folder in TMPDIR, as downloads name theirs."""
    reg, _ = mocked_registry()
    monkeypatch.setattr(_archive.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    seen: list[Path] = []

    def full(source: Path, layout: Path, *args: object, **kw: object) -> None:
        seen.append(layout)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_archive, "archive_kind", lambda path: kind)
    monkeypatch.setattr(_archive, "oci_archive_to_layout", full)
    monkeypatch.setattr(_archive, "docker_archive_to_layout", full)
    with pytest.raises(OSError) as info:
        reg.repository("app").images.push(tmp_path / "app.tar", "1.0")
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(seen[0].parent)
    assert str(info.value.filename).startswith(str(tmp_path / "tmp" / "registry-client-push."))


def test_a_failed_archive_pull_keeps_the_folders_it_made(
    mocked_registry: Callable[..., MockedRegistry], tmp_path: Path,
) -> None:
    """The archive's folders are made before any request (so a pull cannot fail after
    its download for want of one), and kept when it fails, as mkdir -p keeps them:
    removing them when still empty took them from under an export that had found them
    there and was downloading into the temp directory -- it failed after its download."""
    reg, adapter = mocked_registry(retries=0)
    adapter.register_uri(requests_mock.ANY, requests_mock.ANY, status_code=404,
                         json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "no"}]})
    with pytest.raises(NotFoundError):
        reg.repository("app").images.pull("missing", tmp_path / "x" / "out.tar",
                                          format="docker-archive")
    assert sorted(tmp_path.rglob("*")) == [tmp_path / "x"]


def _image_at(adapter: requests_mock.Adapter, image: Any, reference: str) -> None:
    """``image`` served by the mock registry as app:``reference``, its blobs with their
    lengths, as a registry sends them."""
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/{reference}", content=image.manifest,
                         headers={"Content-Type": image.media_type})
    for digest, data in image.blobs.items():
        adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{digest}", content=data,
                             headers={"Content-Length": str(len(data))})


def test_a_docker_archive_of_an_image_with_a_foreign_layer_is_refused_before_any_blob(
    mocked_registry: Callable[..., MockedRegistry], tmp_path: Path,
) -> None:
    """A foreign layer's bytes are at its urls, not in the registry, and a docker-archive
    must hold every layer: refused with what ``export`` says, before a blob is fetched --
    it failed after the download, naming the deleted work folder ("blob ... is missing")."""
    reg, adapter = mocked_registry(retries=0)
    image = build_image("app", "windows/amd64", "docker", [300, 200], random.Random(3), None,
                        "2024-01-02T03:04:05Z")
    doc = json.loads(image.manifest)
    doc["layers"][0]["mediaType"] = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    doc["layers"][0]["urls"] = ["https://example.invalid/base"]
    image = dataclasses.replace(image, manifest=json.dumps(doc).encode())
    _image_at(adapter, image, "1.0")
    with pytest.raises(LayerError, match=r"is foreign .*its urls"):
        reg.repository("app").images.pull("1.0", tmp_path / "img.tar", format="docker-archive")
    assert [r.path for r in adapter.request_history if "/blobs/" in r.path] == []
    assert sorted(tmp_path.iterdir()) == []


def test_a_docker_archive_of_an_index_of_one_image_without_a_platform(
    mocked_registry: Callable[..., MockedRegistry], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An index entry's ``platform`` is optional (OCI image spec): an index of one image
    without one holds one image, which a docker-archive can hold -- it was "an index of
    0 platforms ... choose one with platform=", which no platform could satisfy."""
    reg, adapter = mocked_registry(retries=0)
    image = build_image("app", "linux/arm64", "oci", [300], random.Random(4), None,
                        "2024-01-02T03:04:05Z")
    _image_at(adapter, image, image.digest)
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": image.media_type, "digest": image.digest, "size": len(image.manifest)}]})
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/1.0", text=index,
                         headers={"Content-Type": OCI_INDEX})
    written: list[tuple[list[dict[str, Any]], list[str]]] = []

    def write(layout: Path, dest: Path, tags: list[str], limit: int) -> None:
        # (the image's layers are random bytes, no tars to unpack: what would be written)
        written.append((json.loads((layout / "index.json").read_text())["manifests"], tags))

    monkeypatch.setattr(_archive, "write_docker_archive", write)
    image_out = reg.repository("app").images.pull("1.0", tmp_path / "img.tar",
                                                  format="docker-archive")
    [(entries, tags)] = written
    assert [e["digest"] for e in entries] == [image.digest]
    assert tags == ["registry.example/app:1.0"]
    assert image_out.digest == image.digest
    # as for an index whose entry names its platform: the tag asked for, the image's digest
    assert image_out.tag == "1.0"
    assert image_out.reference == f"registry.example/app:1.0@{image.digest}"
