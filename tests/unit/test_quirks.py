"""Registry quirks, each driven through requests-mock."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import types
from typing import Any

import pytest
import requests
import requests_mock

import registry_client.requester as requester_mod
from registry_client import NullAuthenticator, Registry, RegistryResponseError
from registry_client.quirks import QUIRKS, chunk_size_limit, has_quirk, max_page_size

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make(domain: str, **kw: Any) -> tuple[Registry, requests_mock.Adapter]:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry(domain, session=session, authenticator=NullAuthenticator(), retries=2,
                   backoff=0.0, **kw)
    return reg, adapter


def test_every_quirk_has_a_reason_and_a_link() -> None:
    names = [q.name for q in QUIRKS]
    assert len(names) == len(set(names)) >= 10
    for q in QUIRKS:
        assert q.behaviour and q.handling and q.link.startswith("https://")


def test_host_matching() -> None:
    assert has_quirk(ECR, "ecr-page-size") and not has_quirk("ghcr.io", "ecr-page-size")
    assert has_quirk("registry-1.docker.io", "dockerhub-no-catalog")
    assert max_page_size(ECR, 5000) == 1000 and max_page_size(ECR, 10) == 10
    assert max_page_size("ghcr.io", 5000) == 5000 and max_page_size(ECR, None) is None
    assert chunk_size_limit("ghcr.io") == 4 * 1024 * 1024 and chunk_size_limit(ECR) is None


def test_ecr_tag_pages_are_clamped_to_1000() -> None:
    reg, adapter = make(ECR)
    adapter.register_uri("GET", f"https://{ECR}/v2/app/tags/list",
                         json={"name": "app", "tags": ["a"]})
    reg.repository("app").tags.list(n=5000)
    assert adapter.last_request.qs["n"] == ["1000"]
    list(reg.repository("app").tags.iter(page_size=2000))
    assert adapter.last_request.qs["n"] == ["1000"]


def test_docker_hub_catalog_fails_without_a_request() -> None:
    reg, adapter = make("docker.io")
    with pytest.raises(RegistryResponseError, match="catalog"):
        reg.repositories()
    assert adapter.call_count == 0


def _upload_stubs(adapter: requests_mock.Adapter, base: str, headers: dict[str, str]) -> None:
    adapter.register_uri("HEAD", requests_mock.ANY, status_code=404)
    adapter.register_uri("POST", f"{base}/v2/app/blobs/uploads/", status_code=202,
                         headers={"Location": "/v2/app/blobs/uploads/u1", **headers})
    adapter.register_uri("PATCH", f"{base}/v2/app/blobs/uploads/u1", status_code=202,
                         headers={"Location": "/v2/app/blobs/uploads/u1"})
    adapter.register_uri("PUT", f"{base}/v2/app/blobs/uploads/u1", status_code=201)


def test_ghcr_chunks_are_at_most_4_mib() -> None:
    reg, adapter = make("ghcr.io")
    _upload_stubs(adapter, "https://ghcr.io", {})
    data = b"x" * (9 * 1024 * 1024)
    reg.repository("app").blobs.upload(data, chunk_size=16 * 1024 * 1024)
    patches = [r for r in adapter.request_history if r.method == "PATCH"]
    assert [len(r.body) for r in patches] == [4 << 20, 4 << 20, 1 << 20]


def test_oci_chunk_min_length_raises_the_chunk_size() -> None:
    reg, adapter = make("registry.example")
    _upload_stubs(adapter, "https://registry.example", {"OCI-Chunk-Min-Length": "3000000"})
    reg.repository("app").blobs.upload(b"y" * 7_000_000, chunk_size=1_000_000)
    patches = [r for r in adapter.request_history if r.method == "PATCH"]
    assert [len(r.body) for r in patches] == [3_000_000, 3_000_000, 1_000_000]
    assert patches[1].headers["Content-Range"] == "3000000-5999999"


@pytest.mark.parametrize("minimum", ["1099511627776", "99999999999999999999"])
def test_a_huge_chunk_minimum_reads_a_stream_only_as_far_as_it_goes(minimum: str) -> None:
    """A stream of unknown size (a pipe) is read a chunk at a time: a registry's huge
    OCI-Chunk-Min-Length made that one read of 1 TiB (MemoryError) or of more than an
    index holds (OverflowError) up front; a 3 MB pipe is one chunk, its last."""
    reg, adapter = make("registry.example")
    _upload_stubs(adapter, "https://registry.example", {"OCI-Chunk-Min-Length": minimum})
    data = b"z" * 3_000_000
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(read_end, "rb") as stream:
        got = reg.repository("app").blobs.upload(stream, chunk_size=1_000_000)
    writer.join(5)
    assert got.digest == sha256(data) and got.size == len(data)
    patches = [r for r in adapter.request_history if r.method == "PATCH"]
    assert [len(r.body) for r in patches] == [3_000_000]


@pytest.mark.parametrize("status", [401, 403, 404])
def test_mount_refused_like_harbor_means_not_mounted(status: int) -> None:
    reg, adapter = make("harbor.example")
    adapter.register_uri("POST", "https://harbor.example/v2/app/blobs/uploads/",
                         status_code=status, json={"errors": [{"code": "UNAUTHORIZED"}]})
    assert reg.repository("app").blobs.mount(sha256(b"a"), "missing/repo") is False
    query = adapter.last_request.qs
    assert query["from"] == ["missing/repo"] and query["mount"] == [sha256(b"a")]


def test_tag_delete_capability_is_remembered() -> None:
    reg, adapter = make("registry.example")
    base = "https://registry.example/v2/app"
    # requests-mock tries the matcher registered last first: the catch-alls go first
    manifest = b'{"schemaVersion":2,"config":{},"layers":[]}'
    adapter.register_uri("GET", requests_mock.ANY, status_code=200, content=manifest, headers={
        "Docker-Content-Digest": sha256(manifest),
        "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    adapter.register_uri("HEAD", requests_mock.ANY, status_code=200, headers={
        "Docker-Content-Digest": sha256(b"{}"), "Content-Length": "2"})  # the empty config
    adapter.register_uri("PUT", requests_mock.ANY, status_code=201)
    adapter.register_uri("DELETE", requests_mock.ANY, status_code=202)
    adapter.register_uri("DELETE", f"{base}/manifests/a", status_code=405,
                         json={"errors": [{"code": "UNSUPPORTED"}]})
    adapter.register_uri("DELETE", f"{base}/manifests/b", status_code=405)
    reg.repository("app").tags.delete("a")
    reg.repository("app").tags.delete("b")
    tag_deletes = [r for r in adapter.request_history
                   if r.method == "DELETE" and r.path.endswith(("/manifests/a", "/manifests/b"))]
    assert len(tag_deletes) == 1  # the second delete went straight to the fallback
    assert reg.requester.capabilities["tag_delete"] is False


def test_429_makes_every_worker_back_off_together(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    clock = [1000.0]

    def sleep(s: float) -> None:
        slept.append(s)
        clock[0] += s

    fake = types.SimpleNamespace(sleep=sleep, monotonic=lambda: clock[0], time=time.time)
    monkeypatch.setattr(requester_mod, "time", fake)
    reg, adapter = make("registry.example")
    url = "https://registry.example/v2/app/tags/list"
    adapter.register_uri("GET", url, [
        {"status_code": 429, "headers": {"Retry-After": "7"}},
        {"json": {"name": "app", "tags": []}},
    ])
    reg.repository("app").tags.list()
    assert slept == [7.0]
    # another request right after the 429, at the same clock: it waits out the same pause
    clock[0] -= 5
    reg.repository("app").tags.list()
    assert slept[-1] == pytest.approx(5.0)


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_a_page_size_that_is_not_a_positive_integer_is_refused(bad: object) -> None:
    reg, adapter = make("registry.example")
    with pytest.raises(ValueError, match="positive integer"):
        list(reg.iter_repositories(page_size=bad))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive integer"):
        list(reg.repository("app").tags.iter(page_size=bad))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive integer"):
        reg.repository("app").tags.list(n=bad)  # type: ignore[arg-type]
    assert adapter.request_history == []


def test_docker_hub_deletes_fail_naming_the_quirk_and_write_nothing() -> None:
    """No throw-away manifest over a live Hub tag: Hub refuses every registry-API delete."""
    reg, adapter = make("docker.io")
    adapter.register_uri(requests_mock.ANY, requests_mock.ANY, status_code=500)  # unexpected
    adapter.register_uri("DELETE", requests_mock.ANY, status_code=405,
                         json={"errors": [{"code": "UNSUPPORTED", "message": "unsupported"}]})
    digest = "sha256:" + "a" * 64
    # (a manifest delete reads the manifest first, for its referrers tag entry)
    adapter.register_uri("GET", f"https://registry-1.docker.io/v2/me/app/manifests/{digest}",
                         status_code=404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})
    repo = reg.repository("me/app")
    with pytest.raises(RegistryResponseError, match="dockerhub-no-delete"):
        repo.tags.delete("1.0")
    with pytest.raises(RegistryResponseError, match="dockerhub-no-delete"):
        repo.images.delete_by_digest(digest)
    assert {r.method for r in adapter.request_history} <= {"DELETE", "GET"}


def test_a_body_over_the_cap_names_the_operation() -> None:
    reg, adapter = make("registry.example", body_limit=100)
    adapter.register_uri("GET", "https://registry.example/v2/app/manifests/big",
                         content=b"x" * 101, headers={"Content-Length": "101"})
    with pytest.raises(RegistryResponseError, match=r"get manifest big .*exceeds") as info:
        reg.repository("app").manifests.get_raw("big")
    assert "registry.example/app" in str(info.value)
