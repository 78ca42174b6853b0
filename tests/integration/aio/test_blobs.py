"""AsyncBlobService against the real registry: the blob flows run by the asyncio shell.

A download cut mid-body resumes with ``Range``; a chunked upload is read back by the
blocking API; a download task cancelled halfway keeps its ``.partial``, and the re-run
moves under 60% of the blob again and verifies it. Bytes are counted by a FaultProxy in
front of the registry (what crossed the wire), never by the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from registry_client import BlobAdvanced, DigestMismatchError, ProgressEvent, Registry
from registry_client.aio._blobs import AsyncBlobService
from registry_client.aio._requester import AsyncRequester
from registry_client.aio._run import arun
from registry_client.aio._shell import AsyncShell
from registry_client.services.blobs import BlobFlows
from registry_client.testing import FaultProxy, LocalRegistry, seed_blob, seed_image

pytestmark = pytest.mark.integration

MB = 1_000_000


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        yield p


@contextlib.asynccontextmanager
async def async_blobs(host: str, repository: str) -> AsyncIterator[AsyncBlobService]:
    requester = AsyncRequester(host, protocol="http", backoff=0.01)
    try:
        yield AsyncBlobService(BlobFlows(requester, repository), AsyncShell(requester))
    finally:
        await requester.aclose()


def blob_gets(proxy: FaultProxy, digest: str) -> list[Any]:
    return [r for r in proxy.requests if r.method == "GET" and r.path.endswith(digest)]


@pytest.mark.anyio
async def test_a_cut_download_resumes_with_range_and_is_verified(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    image = seed_image(anon_registry, unique_repository, "v1", layers=[3 * MB])
    layer = image.layers[0]
    proxy.add_rule("GET", f"/blobs/{layer}", action="cut", after_bytes=MB)
    async with async_blobs(proxy.host, unique_repository) as blobs:
        path = await blobs.download(layer, tmp_path / "layer")
    assert path.read_bytes() == image.blobs[layer]
    assert not (tmp_path / "layer.partial").exists()
    first, second = blob_gets(proxy, layer)
    assert first.fault == "cut" and first.response_bytes == MB
    assert second.headers["range"] == f"bytes={MB}-" and second.status == 206
    assert first.response_bytes + second.response_bytes == 3 * MB


@pytest.mark.anyio
async def test_a_chunked_upload_from_a_file_is_what_the_blocking_api_reads(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    data = os.urandom(5 * MB)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    source = tmp_path / "blob"
    source.write_bytes(data)
    async with async_blobs(proxy.host, unique_repository) as blobs:
        assert not await blobs.exists(digest)
        uploaded = await blobs.upload(source, chunk_size=2 * MB)
        assert (uploaded.digest, uploaded.size) == (digest, len(data))
        assert await blobs.size(digest) == len(data)
        assert (await blobs.upload(data)).digest == digest  # there: skipped
    patches = [r.headers["content-range"] for r in proxy.requests if r.method == "PATCH"]
    assert patches == ["0-1999999", "2000000-3999999", "4000000-4999999"]
    assert [r.method for r in proxy.requests].count("PUT") == 1
    blocking = Registry(anon_registry.host, protocol="http")
    assert blocking.repository(unique_repository).blobs.get(digest) == data


@pytest.mark.anyio
async def test_a_cancelled_download_keeps_its_partial_and_the_rerun_moves_under_60_percent(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    size = 8 * MB
    image = seed_image(anon_registry, unique_repository, "v1", layers=[size])
    layer = image.layers[0]
    proxy.add_rule("GET", f"/blobs/{layer}", action="throttle", rate=8 * MB)  # ~1 s
    halfway = threading.Event()  # progress may come from a worker thread
    done = 0

    def progress(event: ProgressEvent) -> None:
        nonlocal done
        if isinstance(event, BlobAdvanced):
            done += event.advanced
            if done >= size // 2:
                halfway.set()

    dest = tmp_path / "layer"
    async with async_blobs(proxy.host, unique_repository) as blobs:
        task = asyncio.create_task(blobs.download(layer, dest, progress=progress))
        while not halfway.is_set():
            assert not task.done(), "the download ended before it was cancelled"
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        kept = (tmp_path / "layer.partial").stat().st_size
        assert size // 2 <= kept < size and not dest.exists()

        assert await blobs.download(layer, dest) == dest
    assert dest.read_bytes() == image.blobs[layer]
    assert not (tmp_path / "layer.partial").exists()
    rerun = blob_gets(proxy, layer)[-1]
    assert rerun.headers["range"] == f"bytes={kept}-"
    assert rerun.response_bytes < 0.6 * size


@pytest.mark.anyio
async def test_a_blob_relayed_between_repositories_is_verified_on_the_way(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    data = os.urandom(3 * MB)
    source, target = f"{unique_repository}/source", f"{unique_repository}/target"
    digest = seed_blob(anon_registry, source, data)
    bad = seed_blob(anon_registry, source, os.urandom(MB))
    proxy.add_rule("GET", f"/blobs/{bad}", action="corrupt", offset=MB // 2)
    requester = AsyncRequester(proxy.host, protocol="http", backoff=0.01)
    shell = AsyncShell(requester)
    try:
        fetch = BlobFlows(requester, source).fetch
        blobs = AsyncBlobService(BlobFlows(requester, target), shell)
        stored = await arun(blobs.flows.upload_stream(fetch, digest=digest, size=len(data)),
                            shell)
        assert stored.digest == digest and await blobs.get(digest) == data
        with pytest.raises(DigestMismatchError):
            await arun(blobs.flows.upload_stream(fetch, digest=bad, size=MB), shell)
        assert not await blobs.exists(bad)
    finally:
        await requester.aclose()


@pytest.mark.anyio
async def test_a_chunk_cut_midway_starts_a_new_session_as_in_the_blocking_api(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    data = os.urandom(3 * MB + 12_345)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    proxy.add_rule("PATCH", "/blobs/uploads/", action="cut", on="request",
                   after_bytes=400_000, every=2)
    async with async_blobs(proxy.host, unique_repository) as blobs:
        assert (await blobs.upload(data, chunk_size=MB)).digest == digest
        assert await blobs.get(digest) == data
    uploads = [r for r in proxy.requests if "/blobs/uploads/" in r.path]
    assert [r.method for r in uploads].count("POST") == 2
    assert [r.status for r in uploads if r.method == "GET"] == [404]


@pytest.mark.anyio
async def test_a_cancelled_crash_safe_upload_resumes_its_session_on_the_next_run(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    data = os.urandom(5 * MB)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    state = tmp_path / "upload.json"
    task: asyncio.Task[Any] | None = None

    def progress(event: ProgressEvent) -> None:
        # the flow reports a chunk once the registry has it and the state is saved
        if isinstance(event, BlobAdvanced) and event.done >= 2 * MB and task is not None:
            task.cancel()

    async with async_blobs(proxy.host, unique_repository) as blobs:
        task = asyncio.create_task(blobs.upload(data, chunk_size=MB, state_file=state,
                                                progress=progress))
        with pytest.raises(asyncio.CancelledError):
            await task
        assert state.is_file()
        assert [r.method for r in proxy.requests].count("DELETE") == 0
        assert (await blobs.upload(data, chunk_size=MB, state_file=state)).digest == digest
        assert await blobs.get(digest) == data
    assert not state.exists()
    patches = [r.headers["content-range"] for r in proxy.requests if r.method == "PATCH"]
    assert patches == [f"{i * MB}-{(i + 1) * MB - 1}" for i in range(5)]  # none twice
    assert [r.method for r in proxy.requests].count("POST") == 1
