"""Cancelling a task is Ctrl-C for the asyncio API: what was moved stays for the next run.

Issue #14: "cancelling a task keeps ``.partial`` files and upload state for the next run,
exactly as Ctrl-C does in the sync API" and "a pull task cancelled halfway and re-run
transfers under 60% of the bytes again and verifies". The bytes are counted by a
FaultProxy in front of the registry (what really crossed the wire), never by the client.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _write_helpers import layout_blobs, layout_entry

from registry_client import BlobAdvanced, ProgressEvent, Registry
from registry_client.testing import FaultProxy, LocalRegistry, SeededImage, seed_image

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
LAYERS = (8 * MiB,) * 4


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class Halfway:
    """A progress callback that counts the bytes moved and says when half of ``total`` did.

    Thread-safe: a shell may call it from a worker thread as well as from the loop.
    """

    def __init__(self, total: int, fraction: float = 0.5) -> None:
        self.total, self.fraction = total, fraction
        self.done = 0
        self.reached = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        if isinstance(event, BlobAdvanced):
            with self._lock:
                self.done += event.advanced
                if self.done >= self.fraction * self.total:
                    self.reached.set()

    async def wait(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.reached.is_set():
            assert time.monotonic() < deadline, f"only {self.done} of {self.total} bytes moved"
            await asyncio.sleep(0.002)


async def cancel_halfway(make: Callable[[], Any], halfway: Halfway) -> None:
    """Start ``make()`` as a task, cancel it once half the bytes moved; it must end cancelled."""
    task = asyncio.ensure_future(make())
    try:
        await halfway.wait()
    finally:
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def image(anon_registry: LocalRegistry, unique_repository: str) -> SeededImage:
    return seed_image(anon_registry, unique_repository, "1.0", layers=LAYERS, media="oci",
                      seed=1414)


@pytest.mark.anyio
async def test_a_pull_cancelled_halfway_resumes_with_under_60_percent(
    proxy: FaultProxy, image: SeededImage, aclient_for: Callable[..., Any],
    anon_registry: LocalRegistry, tmp_path: Path,
) -> None:
    total = sum(LAYERS)
    layout = tmp_path / "layout"
    # slow enough that "halfway" is a moment the test can act in: 4 x 16 MiB/s
    proxy.add_rule("GET", r"/blobs/sha256:", action="throttle", rate=16 * MiB, times=None)
    halfway = Halfway(total)
    async with aclient_for(anon_registry, host=proxy.host) as areg:
        repo = await maybe_await(areg.repository(image.repository))
        await cancel_halfway(lambda: repo.images.pull("1.0", layout, progress=halfway), halfway)

        partials = list(layout.rglob("*.partial"))
        assert partials, "cancelling must keep the .partial files, as Ctrl-C does"
        kept = sum(p.stat().st_size for p in partials) + sum(
            p.stat().st_size for p in (layout / "blobs").rglob("*")
            if p.is_file() and not p.name.endswith(".partial"))
        assert kept >= 0.4 * total
        assert not (layout / "index.json").exists() or not any(
            e.get("annotations", {}).get("org.opencontainers.image.ref.name") == "1.0"
            for e in json.loads((layout / "index.json").read_text())["manifests"])

        proxy.clear_rules()
        sent_before, requests_before = proxy.bytes_to_client, len(proxy.requests)
        pulled = await repo.images.pull("1.0", layout)

    assert pulled.digest == image.digest
    again = proxy.bytes_to_client - sent_before
    assert again < 0.6 * total, f"the re-run moved {again / total:.0%} of the bytes again"
    ranged = [r for r in proxy.requests[requests_before:]
              if r.method == "GET" and "/blobs/" in r.path and "range" in r.headers]
    assert ranged, "a .partial blob is resumed with Range"
    assert layout_entry(layout, "1.0")["digest"] == image.digest
    assert set(layout_blobs(layout)) == {image.digest, *image.blobs}  # each file verified
    assert not list(layout.rglob("*.partial"))


@pytest.mark.anyio
async def test_a_download_cancelled_halfway_keeps_its_partial_file(
    proxy: FaultProxy, image: SeededImage, aclient_for: Callable[..., Any],
    anon_registry: LocalRegistry, tmp_path: Path,
) -> None:
    digest = image.layers[0]
    size = LAYERS[0]
    dest = tmp_path / "layer"
    proxy.add_rule("GET", r"/blobs/sha256:", action="throttle", rate=8 * MiB, times=None)
    halfway = Halfway(size)
    async with aclient_for(anon_registry, host=proxy.host) as areg:
        repo = await maybe_await(areg.repository(image.repository))
        await cancel_halfway(lambda: repo.blobs.download(digest, dest, progress=halfway),
                             halfway)
        partial = dest.with_name("layer.partial")
        assert not dest.exists() and partial.is_file()
        assert 0.4 * size <= partial.stat().st_size < size

        proxy.clear_rules()
        sent_before = proxy.bytes_to_client
        assert Path(await repo.blobs.download(digest, dest)) == dest

    assert proxy.bytes_to_client - sent_before < 0.6 * size
    assert "sha256:" + hashlib.sha256(dest.read_bytes()).hexdigest() == digest
    assert not partial.exists()


@pytest.mark.anyio
async def test_an_upload_cancelled_halfway_resumes_from_its_state_file(
    proxy: FaultProxy, aclient_for: Callable[..., Any], anon_registry: LocalRegistry,
    unique_repository: str, tmp_path: Path,
) -> None:
    size = 32 * MiB
    source = tmp_path / "big"
    with open(source, "wb") as f:
        for _ in range(size // MiB):
            f.write(os.urandom(MiB))
    digest = "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
    state = tmp_path / "upload.state"
    proxy.add_rule("PATCH", r"/blobs/uploads/", action="delay", delay=0.05, times=None)
    halfway = Halfway(size)
    async with aclient_for(anon_registry, host=proxy.host) as areg:
        repo = await maybe_await(areg.repository(unique_repository))
        await cancel_halfway(
            lambda: repo.blobs.upload(source, chunk_size=2 * MiB, progress=halfway,
                                      state_file=state),
            halfway)
        saved = json.loads(state.read_text())  # kept for the next run
        assert saved["digest"] == digest and 0.3 * size <= saved["offset"] < size
        session = urlsplit(saved["location"]).path

        proxy.clear_rules()
        requests_before = len(proxy.requests)
        sent_before = areg.requester.stats["bytes_sent"]
        events: list[ProgressEvent] = []
        desc = await repo.blobs.upload(source, chunk_size=2 * MiB, state_file=state,
                                       progress=events.append)
        sent = areg.requester.stats["bytes_sent"] - sent_before

    assert desc.digest == digest
    assert not state.exists()
    # The next run starts from the saved session: it asks the registry where it stands,
    # with a GET of the session. (By method: the cancelled run's PATCH on that session
    # may reach the proxy's list only now, one thread per connection.)
    asked = [r for r in proxy.requests[requests_before:]
             if r.method == "GET" and urlsplit(r.path).path == session]
    assert asked, "the re-run did not look at the saved upload session"
    if asked[0].status in (200, 204):  # the registry kept it: only the rest is sent
        # the client's own count of what it sent (the proxy's may still grow by the
        # cancelled PATCH's last bytes)
        advanced = [e for e in events if isinstance(e, BlobAdvanced)]
        resumed_at = advanced[0].done  # the bytes the registry had: skipped, not sent
        assert saved["offset"] <= resumed_at < size, f"the re-run began at byte {resumed_at}"
        assert sent == size - resumed_at, f"the re-run sent {sent} of {size} bytes"
    else:  # the registry dropped it: a fresh upload, the whole blob
        assert asked[0].status == 404 and sent == size
    # (Distribution drops a session whose PATCH was cut mid-body, as Ctrl-C may do in the
    # blocking API too: then a fresh upload is the only way, and it is what happens)
    with Registry(anon_registry.host, protocol="http") as check:
        assert check.repository(unique_repository).blobs.size(digest) == size
