"""The event loop stays responsive while the asyncio API moves big blobs (issue #14).

"Hashing and file I/O of large blobs never block the loop for long: a heartbeat coroutine
running during a 256 MiB pull sees no gap over 100 ms." The heartbeat sleeps 5 ms at a
time and records how long each sleep really took; the pull runs beside it. A second pull
into the same layout finds every blob there and must verify it (hash 256 MiB), and a push
of the layout reads and hashes it again, without stalling the loop either.
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _write_helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, layout_blobs

from registry_client import RawManifest, Registry
from registry_client.testing import LocalRegistry, LocalRegistryFactory

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
SIZE = 256 * MiB
MAX_GAP = 0.100
BEAT = 0.005


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


@dataclass
class BigImage:
    registry: LocalRegistry
    repository: str
    digest: str
    layer: str


@pytest.fixture(scope="module")
def big_image(
    local_registry_factory: LocalRegistryFactory, tmp_path_factory: pytest.TempPathFactory
) -> BigImage:
    """A one-layer image of 256 MiB, uploaded from a file (memory stays flat)."""
    reg = local_registry_factory("anonymous")
    path = tmp_path_factory.mktemp("big") / "layer"
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(SIZE // (4 * MiB)):
            block = os.urandom(4 * MiB)
            h.update(block)
            f.write(block)
    layer = "sha256:" + h.hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [layer]}}).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": config_digest},
        "layers": [{"mediaType": OCI_LAYER, "size": SIZE, "digest": layer}],
    }).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    with Registry(reg.host, protocol="http") as client:
        repo = client.repository("big/app")
        assert repo.blobs.upload(path).digest == layer
        repo.blobs.upload(config)
        repo.manifests.put("1.0", RawManifest(manifest, OCI_MANIFEST, digest))
    path.unlink()
    return BigImage(reg, "big/app", digest, layer)


@dataclass
class Stall:
    """The longest gap the loop's heartbeat saw, and (for the reader of a failure) the
    longest gap a plain thread's heartbeat saw meanwhile: when that one is long too, the
    whole process was starved (a busy machine), not only the loop."""

    loop: float
    thread: float
    beats: int

    def __str__(self) -> str:
        return (f"the loop stalled {self.loop * 1000:.0f} ms (a plain thread's heartbeat: "
                f"{self.thread * 1000:.0f} ms; {self.beats} beats)")


async def longest_stall(work: Callable[[], Awaitable[Any]]) -> tuple[Any, Stall]:
    """Run ``work()`` beside a heartbeat coroutine (and a heartbeat thread)."""
    beats: list[float] = []
    thread_beats: list[float] = []
    done = asyncio.Event()
    stop = threading.Event()

    async def heartbeat() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(BEAT)
            now = time.monotonic()
            beats.append(now - last)
            last = now

    def thread_heartbeat() -> None:
        last = time.monotonic()
        while not stop.wait(BEAT):
            now = time.monotonic()
            thread_beats.append(now - last)
            last = now

    control = threading.Thread(target=thread_heartbeat, daemon=True)
    control.start()
    beating = asyncio.create_task(heartbeat())
    try:
        result = await work()
    finally:
        done.set()
        stop.set()
        await beating
        control.join()
    return result, Stall(max(beats, default=0.0), max(thread_beats, default=0.0), len(beats))


@pytest.mark.anyio
async def test_a_256_mib_pull_never_stalls_the_loop_over_100_ms(
    big_image: BigImage, aclient_for: Callable[..., Any], tmp_path: Path,
) -> None:
    async with aclient_for(big_image.registry) as areg:
        repo = await maybe_await(areg.repository(big_image.repository))
        pulled, stall = await longest_stall(lambda: repo.images.pull("1.0", tmp_path))
        assert pulled.digest == big_image.digest
        assert stall.beats >= 10  # the pull took long enough for the heartbeat to mean much
        assert stall.loop < MAX_GAP, f"during the pull {stall}"

        # again: the layer is there, and checking it means hashing 256 MiB
        again, stall = await longest_stall(lambda: repo.images.pull("1.0", tmp_path))
        assert again.digest == big_image.digest
        assert stall.loop < MAX_GAP, f"re-checking the layout {stall}"

        # and back up to another repository: the layer is read, hashed and sent in chunks
        target = await maybe_await(areg.repository("big/pushed"))
        pushed, stall = await longest_stall(lambda: target.images.push(tmp_path, "1.0"))
        assert pushed.digest == big_image.digest
        assert stall.loop < MAX_GAP, f"during the push {stall}"

    blobs = layout_blobs(tmp_path)
    assert blobs[big_image.layer].stat().st_size == SIZE


@pytest.mark.anyio
async def test_a_256_mib_download_never_stalls_the_loop_over_100_ms(
    big_image: BigImage, aclient_for: Callable[..., Any], tmp_path: Path,
) -> None:
    async with aclient_for(big_image.registry) as areg:
        repo = await maybe_await(areg.repository(big_image.repository))
        path, stall = await longest_stall(
            lambda: repo.blobs.download(big_image.layer, tmp_path / "layer"))
    assert Path(path) == tmp_path / "layer"
    assert (tmp_path / "layer").stat().st_size == SIZE
    assert stall.beats >= 10
    assert stall.loop < MAX_GAP, f"during the download {stall}"
