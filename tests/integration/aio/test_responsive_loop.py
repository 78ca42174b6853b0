"""The event loop stays responsive while the asyncio API moves big blobs (issue #14).

"Hashing and file I/O of large blobs never block the loop for long: a heartbeat coroutine
running during a 256 MiB pull sees no gap over 100 ms." The heartbeat sleeps 5 ms at a
time and records how long each sleep really took; the pull runs beside it. A second pull
into the same layout finds every blob there and must verify it (hash 256 MiB), and a push
of the layout reads and hashes it again, without stalling the loop either.

A busy machine holds up the whole process now and then, loop and all; what is judged is
the library's part of each gap only, the part a plain thread's heartbeat beating over the
same window does not share (tests/_loop_stall.py).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _loop_stall import longest_stall
from _write_helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, layout_blobs

from registry_client import RawManifest, Registry
from registry_client.testing import LocalRegistry, LocalRegistryFactory

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
SIZE = 256 * MiB
MAX_GAP = 0.100


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


@pytest.mark.anyio
async def test_a_256_mib_pull_never_stalls_the_loop_over_100_ms(
    big_image: BigImage, aclient_for: Callable[..., Any], tmp_path: Path,
) -> None:
    async with aclient_for(big_image.registry) as areg:
        repo = await maybe_await(areg.repository(big_image.repository))
        pulled, stall = await longest_stall(lambda: repo.images.pull("1.0", tmp_path))
        assert pulled.digest == big_image.digest
        assert stall.beats >= 10  # the pull took long enough for the heartbeat to mean much
        assert stall.ours < MAX_GAP, f"during the pull {stall}"

        # again: the layer is there, and checking it means hashing 256 MiB
        again, stall = await longest_stall(lambda: repo.images.pull("1.0", tmp_path))
        assert again.digest == big_image.digest
        assert stall.ours < MAX_GAP, f"re-checking the layout {stall}"

        # and back up to another repository: the layer is read, hashed and sent in chunks
        target = await maybe_await(areg.repository("big/pushed"))
        pushed, stall = await longest_stall(lambda: target.images.push(tmp_path, "1.0"))
        assert pushed.digest == big_image.digest
        assert stall.ours < MAX_GAP, f"during the push {stall}"

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
    assert stall.ours < MAX_GAP, f"during the download {stall}"
