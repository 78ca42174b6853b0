"""AsyncTransport and AsyncShell against a real Distribution registry: blobs read, written
and relayed over httpx, block by block, with the loop kept responsive."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from registry_client._flow import Call, Drain, Flow, Gather
from registry_client._request import Relay, Request
from registry_client._response import Response
from registry_client.aio._run import arun
from registry_client.aio._shell import AsyncShell
from registry_client.aio._transport import AsyncTransport
from registry_client.testing import LocalRegistry, seed_blob

pytestmark = pytest.mark.integration

MiB = 1 << 20


class _Sender:
    """Just enough of a requester for the shell: the transport, statuses checked."""

    def __init__(self, reg: LocalRegistry) -> None:
        self.base = reg.url
        self.transport = AsyncTransport(reg.url, timeout=(2, 10), verify=True, proxy=None,
                                        user_agent=None, pool_size=4)
        self.received = 0

    async def send_request(self, request: Request) -> Response:
        url = request.target if "://" in request.target else f"{self.base}/v2/{request.target}"
        resp = await self.transport.send(request.verb, url, params=request.params,
                                         headers=request.headers, body=request.body)
        assert resp.status_code in request.expected, resp.status_code
        return resp

    def count_received(self, n: int) -> None:
        self.received += n


@pytest.fixture
async def sender(anon_registry: LocalRegistry) -> AsyncIterator[_Sender]:
    sender = _Sender(anon_registry)
    yield sender
    await sender.transport.aclose()


def _download(repository: str, digest: str, hasher: hashlib._Hash) -> Flow[int]:
    resp = yield Call(Request("GET", f"{repository}/blobs/{digest}", stream=True))
    try:
        n: int = yield Drain(resp, hasher.update)
    finally:
        resp.close()
    return n


@pytest.mark.anyio
async def test_a_blob_drains_block_by_block_with_the_loop_responsive(
    anon_registry: LocalRegistry, unique_repository: str, sender: _Sender,
) -> None:
    data = os.urandom(64 * MiB)
    digest = seed_blob(anon_registry, unique_repository, data)
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.001)  # a 64 MiB drain may take only ~50 ms
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beat = asyncio.ensure_future(heartbeat())
    hasher = hashlib.sha256()
    n = await arun(_download(unique_repository, digest, hasher), AsyncShell(sender))
    done.set()
    await beat
    assert n == len(data)
    assert "sha256:" + hasher.hexdigest() == digest
    assert sender.received == len(data)
    assert len(gaps) > 10 and max(gaps) < 0.1, f"the loop stalled for {max(gaps):.3f} s"


@pytest.mark.anyio
async def test_blobs_drain_side_by_side_in_one_gather(
    anon_registry: LocalRegistry, unique_repository: str, sender: _Sender,
) -> None:
    blobs = [os.urandom(size) for size in (3 * MiB, 2 * MiB, 700_000, 10)]
    digests = [seed_blob(anon_registry, unique_repository, b) for b in blobs]
    hashers = [hashlib.sha256() for _ in blobs]

    def pull_all() -> Flow[list[int]]:
        sizes: list[int] = yield Gather(
            [lambda d=d, h=h: _download(unique_repository, d, h)  # type: ignore[misc]
             for d, h in zip(digests, hashers, strict=True)], workers=3)
        return sizes

    sizes = await arun(pull_all(), AsyncShell(sender))
    assert sizes == [len(b) for b in blobs]
    assert ["sha256:" + h.hexdigest() for h in hashers] == digests


async def _upload(sender: _Sender, repository: str, digest: str, body: object,
                  headers: dict[str, str] | None = None) -> None:
    start = await sender.send_request(Request("POST", f"{repository}/blobs/uploads/",
                                              expected=frozenset({202})))
    await start.aclose()
    location = start.headers["Location"]
    if "://" not in location:
        location = sender.base + location
    put = await sender.send_request(Request(
        "PUT", location, params={"digest": digest}, body=body,  # type: ignore[arg-type]
        headers=headers, expected=frozenset({201})))
    await put.aclose()


@pytest.mark.anyio
async def test_a_file_body_is_uploaded_with_its_length(
    anon_registry: LocalRegistry, unique_repository: str, sender: _Sender, tmp_path: Path,
) -> None:
    data = os.urandom(5 * MiB + 3)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = tmp_path / "layer"
    path.write_bytes(data)
    with path.open("rb") as f:
        await _upload(sender, unique_repository, digest, f)
    hasher = hashlib.sha256()
    assert await arun(_download(unique_repository, digest, hasher), AsyncShell(sender)) \
        == len(data)
    assert "sha256:" + hasher.hexdigest() == digest


@pytest.mark.anyio
async def test_a_relay_copies_a_blob_between_repositories_as_it_arrives(
    anon_registry: LocalRegistry, unique_repository: str, sender: _Sender,
) -> None:
    data = os.urandom(6 * MiB)
    digest = seed_blob(anon_registry, unique_repository, data)
    source = await sender.send_request(Request("GET", f"{unique_repository}/blobs/{digest}",
                                               stream=True))
    relayed = hashlib.sha256()
    await _upload(sender, unique_repository + "-copy", digest, Relay(source, relayed.update),
                  headers={"Content-Length": str(len(data))})
    assert "sha256:" + relayed.hexdigest() == digest
    hasher = hashlib.sha256()
    await arun(_download(unique_repository + "-copy", digest, hasher), AsyncShell(sender))
    assert "sha256:" + hasher.hexdigest() == digest
