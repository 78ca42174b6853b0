"""``AsyncBlobService.open`` against the real registry: the blocking ``blobs.open``'s
bytes, resumes and errors, read with ``await read(n)`` and ``async for``.

A cut connection is resumed with ``Range`` (counted by a FaultProxy in front of the
registry); content that does not match the digest raises ``DigestMismatchError``
from the read that would complete it, as the blocking reader does.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from registry_client import DigestMismatchError, NotFoundError, Registry
from registry_client.aio import AsyncRegistry
from registry_client.testing import FaultProxy, LocalRegistry, seed_blob

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

MB = 1_000_000


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        yield p


@pytest.fixture
async def areg(proxy: FaultProxy) -> AsyncIterator[AsyncRegistry]:
    async with AsyncRegistry(proxy.host, protocol="http", backoff=0.01) as reg:
        yield reg


def blob_gets(proxy: FaultProxy, digest: str) -> list[Any]:
    return [r for r in proxy.requests if r.method == "GET" and r.path.endswith(digest)]


async def test_reads_and_blocks_are_the_blob(
    anon_registry: LocalRegistry, areg: AsyncRegistry, unique_repository: str,
) -> None:
    data = os.urandom(3 * MB + 17)
    digest = seed_blob(anon_registry, unique_repository, data)
    blobs = areg.repository(unique_repository).blobs
    async with blobs.open(digest) as blob:
        first = await blob.read(10)
        assert first == data[:10] and blob.tell() == 10
        rest = [block async for block in blob]
        assert await blob.read(5) == b""  # a verified end
    assert first + b"".join(rest) == data
    assert all(len(b) <= 1 << 20 for b in rest)
    assert blob.closed
    with pytest.raises(ValueError, match="closed"):
        await blob.read(1)

    reader = await blobs.open(digest, expected_size=len(data))
    try:
        assert await reader.read() == data
        assert reader.expected_size == len(data)
    finally:
        await reader.aclose()


async def test_a_long_blob_read_in_small_pieces_uses_one_get(
    proxy: FaultProxy, anon_registry: LocalRegistry, areg: AsyncRegistry,
    unique_repository: str,
) -> None:
    data = os.urandom(9 * MB)  # a body the asyncio transport may read past h11
    digest = seed_blob(anon_registry, unique_repository, data)
    got = bytearray()
    async with areg.repository(unique_repository).blobs.open(digest) as blob:
        while piece := await blob.read(64 * 1024 + 7):
            assert len(piece) <= 64 * 1024 + 7
            got += piece
    assert got == data
    [get] = blob_gets(proxy, digest)  # no resume: each read goes on where the last ended
    assert get.status == 200


async def test_a_cut_read_resumes_with_range_and_is_verified(
    proxy: FaultProxy, anon_registry: LocalRegistry, areg: AsyncRegistry,
    unique_repository: str,
) -> None:
    data = os.urandom(3 * MB)
    digest = seed_blob(anon_registry, unique_repository, data)
    proxy.add_rule("GET", f"/blobs/{digest}", action="cut", after_bytes=MB)
    async with areg.repository(unique_repository).blobs.open(digest) as blob:
        got = b"".join([block async for block in blob])
    assert got == data
    first, second = blob_gets(proxy, digest)
    assert first.fault == "cut" and first.response_bytes == MB
    assert second.headers["range"] == f"bytes={MB}-" and second.status == 206


async def test_errors_are_the_blocking_reader_s(
    proxy: FaultProxy, anon_registry: LocalRegistry, areg: AsyncRegistry,
    unique_repository: str,
) -> None:
    data = os.urandom(2 * MB)
    digest = seed_blob(anon_registry, unique_repository, data)
    blobs = areg.repository(unique_repository).blobs
    with Registry(proxy.host, protocol="http") as reg:
        sync_blobs = reg.repository(unique_repository).blobs
        # a start offset with a fresh hasher: the bytes read cannot match the digest
        with sync_blobs.open(digest, start=MB, hasher=hashlib.sha256()) as reader, \
                pytest.raises(DigestMismatchError) as sync_wrong:
            reader.read()
        async with blobs.open(digest, start=MB, hasher=hashlib.sha256()) as blob:
            delivered = 0
            with pytest.raises(DigestMismatchError) as async_wrong:
                async for block in blob:
                    delivered += len(block)
            assert delivered < MB  # the block completing wrong content is never handed on
            with pytest.raises(DigestMismatchError):
                await blob.read(1)  # reading on raises it again
        assert str(async_wrong.value) == str(sync_wrong.value)

        with pytest.raises(DigestMismatchError) as sync_size:
            sync_blobs.open(digest, expected_size=5)
        with pytest.raises(DigestMismatchError) as async_size:
            await blobs.open(digest, expected_size=5)
        assert str(async_size.value) == str(sync_size.value)

        missing = "sha256:" + hashlib.sha256(b"nothing here").hexdigest()
        with pytest.raises(NotFoundError) as sync_missing:
            sync_blobs.open(missing)
        with pytest.raises(NotFoundError) as async_missing:
            async with blobs.open(missing):
                pass
        assert str(async_missing.value) == str(sync_missing.value)
