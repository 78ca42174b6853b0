"""Digests of other algorithms through the services: read, never fetched unverified."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests_mock

from registry_client import (
    DigestMismatchError,
    NotFoundError,
    Registry,
    RegistryResponseError,
    UnsupportedDigestError,
)

BASE = "https://registry.example"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
B64U = "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": CONFIG_DIGEST, "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": B64U,
                "size": 1000}],
}).encode()
SHA256 = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
SHA512 = "sha512:" + hashlib.sha512(MANIFEST).hexdigest()

Env = tuple[Registry, requests_mock.Adapter]


@pytest.fixture
def env(mocked_registry: Callable[..., Env]) -> Env:
    reg, adapter = mocked_registry(retries=0)
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/1.0", content=MANIFEST,
                         headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": SHA256})
    adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{CONFIG_DIGEST}", content=CONFIG)
    return reg, adapter


def test_fetching_by_an_unverifiable_digest_is_refused_before_any_request(
    env: Env, tmp_path: Path
) -> None:
    reg, adapter = env
    repo = reg.repository("app")
    calls: list[Callable[[], object]] = [
        lambda: repo.blobs.get(B64U),
        lambda: repo.blobs.open(B64U),
        lambda: repo.blobs.download(B64U, tmp_path / "layer"),
        lambda: repo.manifests.get_raw(B64U),
        lambda: repo.manifests.get(B64U),
        lambda: repo.manifests.head(B64U),
        lambda: repo.images.get_by_digest(B64U),
        lambda: repo.images.pull(B64U, tmp_path / "out"),
        lambda: repo.images.copy(B64U, reg.repository("other")),
    ]
    for call in calls:
        with pytest.raises(UnsupportedDigestError, match="unsupported digest algorithm"):
            call()
    assert adapter.request_history == []
    assert list(tmp_path.iterdir()) == []


def test_a_manifest_with_such_a_layer_is_read_but_not_pulled_or_copied(
    env: Env, tmp_path: Path
) -> None:
    reg, adapter = env
    repo = reg.repository("app")
    manifest = repo.manifests.get("1.0")
    assert manifest.layers[0].digest == B64U  # type: ignore[union-attr]
    adapter.reset()
    with pytest.raises(UnsupportedDigestError, match=r"1\.0: unsupported digest algorithm"):
        repo.images.pull("1.0", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before the layout was made
    with pytest.raises(UnsupportedDigestError):
        repo.images.copy("1.0", reg.repository("other"))
    # only the manifest was read: no blob was fetched, nothing sent to the target
    assert {(r.method, r.path) for r in adapter.request_history} == {
        ("GET", "/v2/app/manifests/1.0")}


def test_head_by_sha512_accepts_the_canonical_sha256_header(env: Env) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/{SHA512}", headers={
        "Docker-Content-Digest": SHA256, "Content-Length": str(len(MANIFEST)),
        "Content-Type": OCI_MANIFEST})
    head = reg.repository("app").manifests.head(SHA512)
    assert (head.digest, head.size, head.media_type) == (SHA256, len(MANIFEST), OCI_MANIFEST)
    assert [r.method for r in adapter.request_history] == ["HEAD"]
    # as get_raw does: it verifies the bytes against both and returns the sha256
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/{SHA512}", content=MANIFEST,
                         headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": SHA256})
    assert reg.repository("app").manifests.get_raw(SHA512).digest == SHA256


def test_head_still_refuses_another_digest_of_the_same_algorithm(env: Env) -> None:
    reg, adapter = env
    other = "sha512:" + "0" * 128
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/{SHA512}", headers={
        "Docker-Content-Digest": other, "Content-Length": "10", "Content-Type": OCI_MANIFEST})
    with pytest.raises(DigestMismatchError):
        reg.repository("app").manifests.head(SHA512)


def test_head_by_an_unverifiable_digest_is_refused_before_any_request(env: Env) -> None:
    # Distribution answers such a HEAD with a 500, and a sha256 header could not be
    # tied to the b64u digest anyway: refused like get_raw and blobs.head.
    reg, adapter = env
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/{B64U}", headers={
        "Docker-Content-Digest": SHA256, "Content-Length": str(len(MANIFEST)),
        "Content-Type": OCI_MANIFEST})
    with pytest.raises(UnsupportedDigestError, match="unsupported digest algorithm 'sha256"):
        reg.repository("app").manifests.head(B64U)
    assert adapter.request_history == []


def test_a_head_falling_back_to_get_names_the_head_in_its_errors(env: Env) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/{SHA512}", headers={
        "Content-Type": "application/json", "Content-Length": "10"})
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/{SHA512}", status_code=404,
                         json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "unknown"}]})
    with pytest.raises(NotFoundError) as caught:
        reg.repository("app").manifests.head(SHA512)
    assert str(caught.value).startswith(f"head manifest {SHA512}"), caught.value
    assert [r.method for r in adapter.request_history] == ["HEAD", "GET"]


def test_a_docker_content_digest_of_another_algorithm_is_refused(env: Env) -> None:
    reg, adapter = env
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/2.0", content=MANIFEST,
                         headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": B64U})
    with pytest.raises(RegistryResponseError, match="Docker-Content-Digest"):
        reg.repository("app").manifests.get_raw("2.0")  # the bytes can't be checked by it
