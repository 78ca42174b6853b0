"""Downloads under faults: retries with backoff, Range resumes, verification, pull re-runs.

Every test talks to the real registry through a :class:`FaultProxy`.
"""

from __future__ import annotations

import hashlib
import http.server
import itertools
import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import registry_client._retry as retry_mod
from registry_client import (
    DigestMismatchError,
    Registry,
    RegistryUnavailableError,
)
from registry_client.layout import OCILayout
from registry_client.services._blob_reader import BlobReader
from registry_client.testing import FaultProxy, LocalRegistry, SeededImage, seed_image

MB = 1_000_000


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        yield p


def client(proxy: FaultProxy, **kw: Any) -> Registry:
    kw.setdefault("backoff", 0.01)
    return Registry(proxy.host, protocol="http", **kw)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_gets(proxy: FaultProxy, digest: str) -> list[Any]:
    return [r for r in proxy.requests if r.method == "GET" and r.path.endswith(digest)]


@pytest.fixture
def image(anon_registry: LocalRegistry, unique_repository: str) -> SeededImage:
    return seed_image(anon_registry, unique_repository, "v1", layers=[3 * MB, 1_500_000, 4000])


# -- blobs: resume with Range ------------------------------------------------------------
def test_blob_cut_is_resumed_with_range_and_verified(proxy: FaultProxy, image: SeededImage) -> None:
    layer = image.layers[0]
    proxy.add_rule("GET", f"/blobs/{layer}", action="cut", after_bytes=MB)
    reg = client(proxy)
    data = reg.repository(image.repository).blobs.get(layer)
    assert sha(data) == layer and data == image.blobs[layer]
    first, second = blob_gets(proxy, layer)
    assert first.fault == "cut" and first.response_bytes == MB
    assert second.headers["range"] == f"bytes={MB}-" and second.status == 206
    # nothing was fetched twice: the resume asked only for what was missing
    assert first.response_bytes + second.response_bytes == len(data)


def test_every_cut_resumes_where_it_stopped(proxy: FaultProxy, image: SeededImage) -> None:
    layer = image.layers[0]
    proxy.add_rule("GET", f"/blobs/{layer}", action="cut", after_bytes=700_000, times=3)
    reg = client(proxy, retries=3)
    with reg.repository(image.repository).blobs.open(layer) as f:
        assert isinstance(f, BlobReader)
        data = f.read_all()
        assert not f.restarted
    assert data == image.blobs[layer]
    ranges = [r.headers.get("range") for r in blob_gets(proxy, layer)]
    assert ranges == [None, "bytes=700000-", "bytes=1400000-", "bytes=2100000-"]


def test_a_short_body_is_resumed_too(proxy: FaultProxy, image: SeededImage) -> None:
    layer = image.layers[1]
    proxy.add_rule("GET", f"/blobs/{layer}", action="short", after_bytes=123_456)
    data = client(proxy).repository(image.repository).blobs.get(layer)
    assert data == image.blobs[layer]
    assert blob_gets(proxy, layer)[1].headers["range"] == "bytes=123456-"


def test_cuts_beyond_the_retry_budget_give_unavailable(
    proxy: FaultProxy, image: SeededImage
) -> None:
    layer = image.layers[0]
    proxy.add_rule("GET", f"/blobs/{layer}", action="cut", after_bytes=100_000, times=None)
    with pytest.raises(RegistryUnavailableError) as info:
        client(proxy, retries=2).repository(image.repository).blobs.get(layer)
    assert "cut at byte 300000" in str(info.value)
    assert len(blob_gets(proxy, layer)) == 3  # first attempt + 2 resumes
    # the cause in words (not an exception class name), and chained
    assert "connection" in str(info.value).rsplit("(", 1)[1]
    assert info.value.__cause__ is not None


def test_restart_from_zero_when_the_server_ignores_range(
    proxy: FaultProxy, image: SeededImage, tmp_path: Path
) -> None:
    layer = image.layers[0]
    proxy.add_rule("GET", f"/blobs/{layer}", action="cut", after_bytes=MB)
    proxy.add_rule("GET", f"/blobs/{layer}", action="ignore_range")
    blobs = client(proxy).repository(image.repository).blobs
    with blobs.open(layer) as f:
        assert isinstance(f, BlobReader)
        assert f.read_all() == image.blobs[layer]
        assert f.restarted
    second = blob_gets(proxy, layer)[1]
    assert second.headers["range"] == f"bytes={MB}-" and second.status == 200

    # the same through download(): the partly written file is rewritten from byte 0
    proxy.add_rule("GET", f"/blobs/{layer}", action="cut", after_bytes=MB)
    proxy.add_rule("GET", f"/blobs/{layer}", action="ignore_range")
    dest = blobs.download(layer, tmp_path / "layer")
    assert dest.read_bytes() == image.blobs[layer]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer"]


def test_download_resumes_a_partial_file_left_by_an_earlier_run(
    proxy: FaultProxy, image: SeededImage, tmp_path: Path
) -> None:
    layer = image.layers[0]
    blobs = client(proxy, retries=1).repository(image.repository).blobs
    rule = proxy.add_rule("GET", f"/blobs/{layer}", action="cut", after_bytes=400_000, times=None)
    dest = tmp_path / "layer.tar"
    with pytest.raises(RegistryUnavailableError):
        blobs.download(layer, dest)
    partial = tmp_path / "layer.tar.partial"
    assert not dest.exists()
    assert partial.read_bytes() == image.blobs[layer][:800_000]
    proxy.remove_rule(rule)
    before = len(blob_gets(proxy, layer))
    assert blobs.download(layer, dest) == dest
    assert dest.read_bytes() == image.blobs[layer] and not partial.exists()
    (again,) = blob_gets(proxy, layer)[before:]
    assert again.headers["range"] == "bytes=800000-" and again.response_bytes == 2_200_000
    # a verified file at the destination is kept without any request
    assert blobs.download(layer, dest) == dest
    assert len(blob_gets(proxy, layer)) == before + 1


def test_corrupt_blob_raises_and_leaves_nothing(
    proxy: FaultProxy, image: SeededImage, tmp_path: Path
) -> None:
    layer = image.layers[1]
    proxy.add_rule("GET", f"/blobs/{layer}", action="corrupt", offset=1_000_000, times=2)
    blobs = client(proxy).repository(image.repository).blobs
    with pytest.raises(DigestMismatchError) as info:
        blobs.get(layer)
    assert layer in str(info.value)
    dest = tmp_path / "out" / "blob"
    dest.parent.mkdir()
    with pytest.raises(DigestMismatchError):
        blobs.download(layer, dest)
    assert list(dest.parent.iterdir()) == []  # neither the file nor a .partial


def test_download_through_a_redirect_resumes_on_the_storage_host(
    proxy: FaultProxy, image: SeededImage, tmp_path: Path
) -> None:
    layer = image.layers[0]
    proxy.add_rule("GET", f"/blobs/{layer}", action="redirect", times=None)
    proxy.add_rule("GET", layer, action="cut", after_bytes=MB, server="storage")
    dest = client(proxy).repository(image.repository).blobs.download(layer, tmp_path / "b")
    assert dest.read_bytes() == image.blobs[layer]
    stored = proxy.storage_requests
    assert [r.headers.get("range") for r in stored] == [None, f"bytes={MB}-"]
    assert [r.status for r in stored] == [200, 206]


# -- manifests: retries, backoff, jitter, Retry-After -------------------------------------
def test_5xx_is_retried_with_exponential_backoff_and_jitter(
    proxy: FaultProxy, image: SeededImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    jitter: list[tuple[float, float]] = []
    real_uniform = random.uniform

    def spy(a: float, b: float) -> float:
        jitter.append((a, b))
        return real_uniform(a, b)

    monkeypatch.setattr(retry_mod.random, "uniform", spy)
    proxy.add_rule("GET", "/manifests/v1", action="status", status=503, times=3)
    reg = client(proxy, backoff=0.2, retries=3)
    raw = reg.repository(image.repository).manifests.get_raw("v1")
    assert raw.digest == image.digest and raw.data == image.manifest
    times = [r.time for r in proxy.requests if "/manifests/v1" in r.path]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # attempt n waits backoff * 2**n, half of it random: [0.1, 0.2], [0.2, 0.4], [0.4, 0.8]
    for n, gap in enumerate(gaps):
        base = 0.2 * 2**n
        assert base / 2 - 0.02 <= gap <= base + 0.25, (n, gaps)
    assert jitter == [(0, 0.1), (0, 0.2), (0, 0.4)]


def test_retry_after_is_honoured(proxy: FaultProxy, image: SeededImage) -> None:
    proxy.add_rule("GET", "/manifests/v1", action="status", status=429, retry_after=1)
    proxy.add_rule("GET", "/manifests/v1", action="status", status=502)  # no Retry-After
    reg = client(proxy, backoff=0.01)
    assert reg.repository(image.repository).manifests.get_raw("v1").digest == image.digest
    t = [r.time for r in proxy.requests if "/manifests/v1" in r.path]
    assert [r.status for r in proxy.requests if "/manifests/v1" in r.path] == [429, 502, 200]
    assert 1.0 <= t[1] - t[0] < 2.0  # the registry's Retry-After, not the 10 ms backoff
    assert t[2] - t[1] < 0.5


def test_retries_run_out(proxy: FaultProxy, image: SeededImage) -> None:
    proxy.add_rule("GET", "/manifests/v1", action="status", status=502, times=None)
    with pytest.raises(RegistryUnavailableError) as info:
        client(proxy, retries=2).repository(image.repository).manifests.get_raw("v1")
    assert info.value.status_code == 502
    assert proxy.count("GET", "/manifests/v1") == 3


def test_a_500_to_a_manifest_or_blob_read_is_asked_again(
    proxy: FaultProxy, image: SeededImage
) -> None:
    # Distribution's answer to a link file read while another request rewrites it
    # (see tests/integration/test_link_races.py): reads of manifests and blobs retry it
    proxy.add_rule("GET", "/manifests/v1", action="status", status=500, times=1)
    layer = next(iter(image.blobs))
    proxy.add_rule("GET", f"/blobs/{layer}", action="status", status=500, times=1)
    repo = client(proxy).repository(image.repository)
    assert repo.manifests.get_raw("v1").digest == image.digest
    assert repo.blobs.get(layer) == image.blobs[layer]
    assert proxy.count("GET", "/manifests/v1") == proxy.count("GET", f"/blobs/{layer}") == 2


def test_500_is_not_retried_and_session_posts_are(
    proxy: FaultProxy, image: SeededImage
) -> None:
    proxy.add_rule("GET", "/tags/list", action="status", status=500)
    with pytest.raises(RegistryUnavailableError):
        client(proxy).repository(image.repository).tags.get_all()
    assert proxy.count("GET", "/tags/list") == 1
    # starting an upload session, or a mount, is safe to repeat: that POST is retried
    proxy.add_rule("POST", "/blobs/uploads/", action="status", status=503)
    client(proxy).repository(image.repository).blobs.upload(b"x" * 10)
    assert proxy.count("POST", "/blobs/uploads/") == 2
    proxy.add_rule("POST", "/blobs/uploads/", action="status", status=503)
    some_blob = next(iter(image.blobs))
    assert client(proxy).repository(image.repository + "-m").blobs.mount(
        some_blob, image.repository) is True
    assert proxy.count("POST", "/blobs/uploads/") == 4


@pytest.mark.parametrize("action", ["short", "cut", "reset"])
def test_a_manifest_cut_mid_body_is_fetched_again(
    proxy: FaultProxy, image: SeededImage, action: str
) -> None:
    proxy.add_rule("GET", "/manifests/v1", action=action, after_bytes=50)  # type: ignore[arg-type]
    raw = client(proxy).repository(image.repository).manifests.get_raw("v1")
    assert raw.data == image.manifest and raw.digest == image.digest
    assert proxy.count("GET", "/manifests/v1") == 2


@pytest.mark.parametrize("by_digest", [False, True])
def test_a_corrupt_manifest_is_refused(
    proxy: FaultProxy, image: SeededImage, by_digest: bool
) -> None:
    proxy.add_rule("GET", "/manifests/", action="corrupt", offset=30)
    ref = image.digest if by_digest else "v1"
    with pytest.raises(DigestMismatchError) as info:
        client(proxy).repository(image.repository).manifests.get_raw(ref)
    assert image.digest in str(info.value)


# -- pull -----------------------------------------------------------------------------------
def layout_blobs(directory: Path) -> dict[str, bytes]:
    root = directory / "blobs" / "sha256"
    return {f"sha256:{p.name}": p.read_bytes() for p in root.iterdir()} if root.exists() else {}


def assert_complete_layout(directory: Path, image: SeededImage) -> None:
    blobs = layout_blobs(directory)
    for digest, data in {**image.blobs, image.digest: image.manifest}.items():
        assert blobs[digest] == data
    assert all(sha(data) == digest for digest, data in blobs.items())
    assert not list(directory.rglob("*.partial")) and not list(directory.rglob("*.tmp"))
    index = json.loads((directory / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [image.digest]


def test_pull_through_cuts_and_5xx_is_complete_and_verified(
    proxy: FaultProxy, image: SeededImage, tmp_path: Path
) -> None:
    proxy.add_rule("GET", "/manifests/v1", action="status", status=503)
    for layer in image.layers[:2]:
        proxy.add_rule("GET", f"/blobs/{layer}", action="cut", after_bytes=600_000)
    proxy.add_rule("GET", f"/blobs/{image.config_digest}", action="status", status=502)
    pulled = client(proxy).repository(image.repository).images.pull("v1", tmp_path / "oci")
    assert pulled.digest == image.digest
    assert_complete_layout(tmp_path / "oci", image)
    for layer in image.layers[:2]:
        assert [r.headers.get("range") for r in blob_gets(proxy, layer)] == [
            None, "bytes=600000-"
        ]


def test_interrupted_pull_rerun_reuses_what_was_verified(
    proxy: FaultProxy, image: SeededImage, tmp_path: Path
) -> None:
    big, middle, _small = image.layers
    reg = client(proxy, retries=1, max_workers=1)  # largest blob first, one at a time
    rule = proxy.add_rule("GET", f"/blobs/{middle}", action="cut", after_bytes=300_000,
                          times=None)
    out = tmp_path / "oci"
    with pytest.raises(RegistryUnavailableError):
        reg.repository(image.repository).images.pull("v1", out)
    layout = OCILayout(out)
    assert layout.has_blob(big)  # done and verified before the failure
    partial = layout.blob_path(middle).with_name(layout.blob_path(middle).name + ".partial")
    assert partial.stat().st_size == 600_000
    proxy.remove_rule(rule)
    first_run = len(proxy.requests)

    pulled = reg.repository(image.repository).images.pull("v1", out)
    assert pulled.digest == image.digest
    assert_complete_layout(out, image)
    rerun = proxy.requests[first_run:]
    assert not [r for r in rerun if r.path.endswith(big)]  # kept, not fetched again
    (resumed,) = [r for r in rerun if r.path.endswith(middle)]
    assert resumed.headers["range"] == "bytes=600000-"
    assert resumed.response_bytes == 1_500_000 - 600_000
    # a third run finds everything in place: manifests only
    third = len(proxy.requests)
    reg.repository(image.repository).images.pull("v1", out)
    assert not [r for r in proxy.requests[third:] if "/blobs/" in r.path]


def test_pull_with_a_corrupt_layer_keeps_no_unverified_blob(
    proxy: FaultProxy, image: SeededImage, tmp_path: Path
) -> None:
    bad = image.layers[1]
    proxy.add_rule("GET", f"/blobs/{bad}", action="corrupt", offset=10)
    out = tmp_path / "oci"
    with pytest.raises(DigestMismatchError):
        client(proxy).repository(image.repository).images.pull("v1", out)
    assert bad not in layout_blobs(out)
    assert not list(out.rglob("*.partial"))
    assert all(sha(data) == digest for digest, data in layout_blobs(out).items())
    # the same pull, once the registry behaves, completes
    client(proxy).repository(image.repository).images.pull("v1", out)
    assert_complete_layout(out, image)


def test_pull_of_an_index_retries_child_manifests(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path
) -> None:
    index = seed_image(anon_registry, unique_repository, "multi", layers=[200_000],
                       platforms=["linux/amd64", "linux/arm64/v8"], media="oci")
    for child in index.children:
        proxy.add_rule("GET", f"/manifests/{child.digest}", action="short", after_bytes=20)
    t0 = time.monotonic()
    pulled = client(proxy).repository(unique_repository).images.pull("multi", tmp_path / "i")
    assert time.monotonic() - t0 < 10
    assert pulled.digest == index.digest and len(pulled.platforms) == 2
    blobs = layout_blobs(tmp_path / "i")
    for child in index.children:
        assert blobs[child.digest] == child.manifest
        assert all(blobs[d] == data for d, data in child.blobs.items())


# -- calling a transfer off -----------------------------------------------------------------------
class _Stop(Exception):
    pass


@pytest.mark.parametrize("operation", ["pull", "copy"])
def test_an_error_in_one_blob_stops_the_others_within_a_block(
    proxy: FaultProxy, anon_registry: LocalRegistry, tmp_path: Path, operation: str,
    local_registry_factory: Any,
) -> None:
    # Three 4 MiB layers at 1 MB/s each would take ~4 s; the progress callback raises on
    # the first bytes, and every running blob stops at its next block.
    import threading

    seed_image(anon_registry, "stop/app", "v1", layers=(4 << 20, 4 << 20, 4 << 20), seed=7)
    proxy.add_rule("GET", "/blobs/sha256:", action="throttle", rate=1_000_000, times=None)

    raised = threading.Event()

    def progress(event: object) -> None:  # one blob fails; the others would go on
        if type(event).__name__ == "BlobAdvanced" and not raised.is_set():
            raised.set()
            raise _Stop("enough")

    def pool_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor")}

    before = pool_threads()
    started = time.monotonic()
    with pytest.raises(_Stop):
        repo = client(proxy).repository("stop/app")
        if operation == "pull":
            repo.images.pull("v1", tmp_path, progress=progress)
        else:
            target = local_registry_factory("anonymous")
            with Registry(target.host, protocol="http") as other:
                repo.images.copy("v1", other.repository("stop/copy"), progress=progress)
    assert time.monotonic() - started < 2.5
    assert pool_threads() <= before  # no worker left running


# -- the connection a download read to its end is kept ------------------------------------
def test_downloads_read_to_the_end_keep_their_connection(
    proxy: FaultProxy, image: SeededImage, tmp_path: Path,
) -> None:
    # A download receives straight into the hasher's buffers (below urllib3): at the
    # end of each body the connection must still go back to the pool, not be dropped.
    reg = client(proxy, max_workers=1)
    blobs = reg.repository(image.repository).blobs
    for i, layer in enumerate(image.layers * 2):
        blobs.download(layer, tmp_path / f"{i}.bin")
        assert (tmp_path / f"{i}.bin").read_bytes() == image.blobs[layer]
    assert blobs.get(image.layers[2]) == image.blobs[image.layers[2]]
    assert len(proxy.requests) == 7
    assert {r.connection for r in proxy.requests} == {1}


# -- a chunked body (no Content-Length), whole and cut -----------------------------------
class _ChunkedBlobServer:
    """A registry stand-in serving one blob with ``Transfer-Encoding: chunked`` (as some
    proxies in front of registries do) and Range; the first ``cut_first`` answers stop
    half-way without the last chunk and close the connection."""

    def __init__(self, blob: bytes, cut_first: int = 0) -> None:
        self.blob, self.digest = blob, sha(blob)
        self.cuts_left = cut_first
        self.ranges: list[str | None] = []
        self.connections: set[int] = set()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:  # the size a chunked answer does not say
                self.send_response(200)
                self.send_header("Content-Length", str(len(owner.blob)))
                self.end_headers()

            def do_GET(self) -> None:
                owner.connections.add(self.client_address[1])
                start = 0
                rng = self.headers.get("Range")
                owner.ranges.append(rng)
                if rng:
                    start = int(rng.split("=")[1].rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(owner.blob) - 1}/{len(owner.blob)}")
                else:
                    self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                body = owner.blob[start:]
                cut = owner.cuts_left > 0
                owner.cuts_left -= cut
                end = len(body) // 2 if cut else len(body)
                for at in range(0, end, 100_000):
                    piece = body[at:min(at + 100_000, end)]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                if cut:
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> _ChunkedBlobServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_a_chunked_blob_downloads_whole_and_keeps_its_connection(tmp_path: Path) -> None:
    blob = random.Random(7).randbytes(3 * MB + 12_345)
    with _ChunkedBlobServer(blob) as server, \
            Registry(server.host, protocol="http", max_workers=1) as reg:
        blobs = reg.repository("x/y").blobs
        for name in ("one", "two"):
            blobs.download(server.digest, tmp_path / name)
            assert (tmp_path / name).read_bytes() == blob
        assert len(server.connections) == 1  # read to its end: back to the pool


def test_a_chunked_blob_cut_half_way_resumes_from_what_was_written(tmp_path: Path) -> None:
    blob = random.Random(8).randbytes(3 * MB + 777)
    with _ChunkedBlobServer(blob, cut_first=1) as server, \
            Registry(server.host, protocol="http", backoff=0.01) as reg:
        reg.repository("x/y").blobs.download(server.digest, tmp_path / "blob")
        assert (tmp_path / "blob").read_bytes() == blob
    first, second = server.ranges
    assert first is None and second is not None
    resumed_at = int(second.split("=")[1].rstrip("-"))
    # whole blocks were taken before the cut, the rest asked again: nothing lost
    assert 0 < resumed_at <= len(blob) // 2 and resumed_at % (1 << 20) == 0
