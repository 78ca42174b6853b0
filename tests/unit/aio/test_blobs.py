"""AsyncBlobService on a requests-mock registry: the blob flows awaited, cancelled as tasks.

The shell here is a test double that performs each effect with the blocking shell but
reads a Drain one block at a time, yielding to the loop between blocks: a task can be
cancelled there, as the httpx shell is (asyncio.CancelledError thrown into the flow).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock

from registry_client import Descriptor, NullAuthenticator, Registry
from registry_client._flow import Drain, Effect
from registry_client.aio._blobs import AsyncBlobService
from registry_client.errors import DigestMismatchError, NotFoundError
from registry_client.services._shell import BlockingShell

BASE = "https://registry.example"
BIG = bytes(range(256)) * (5 * 4096)  # 5 MiB: five blocks
DIGEST = "sha256:" + hashlib.sha256(BIG).hexdigest()
BLOB_URL = f"{BASE}/v2/app/blobs/{DIGEST}"


class _LoopShell:
    """Effects done by the blocking shell; a Drain block by block, the loop let in between
    (``hold_after`` blocks in, it waits until cancelled)."""

    def __init__(self, reg: Registry, hold_after: int | None = None) -> None:
        self._shell = BlockingShell(reg.requester)
        self._hold_after = hold_after
        self.holding = asyncio.Event()

    async def perform(self, effect: Effect) -> Any:
        if not isinstance(effect, Drain):
            return self._shell.perform(effect)
        total = 0
        while block := effect.response.read1(effect.block_size):
            effect.sink(block)
            total += len(block)
            await asyncio.sleep(0)
            if self._hold_after is not None and total >= self._hold_after * effect.block_size:
                self._hold_after = None
                self.holding.set()
                await asyncio.sleep(3600)  # cancelled here
        return total


def _registry() -> tuple[Registry, requests_mock.Adapter]:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry("registry.example", session=session, authenticator=NullAuthenticator(),
                   retries=1, backoff=0.0)
    return reg, adapter


def _serve_with_range(adapter: requests_mock.Adapter, sent: list[int]) -> None:
    def answer(request: Any, context: Any) -> bytes:
        start = int(request.headers.get("Range", "bytes=0-").removeprefix("bytes=").rstrip("-"))
        if start:
            context.status_code = 206
            context.headers["Content-Range"] = f"bytes {start}-{len(BIG) - 1}/{len(BIG)}"
        else:
            context.headers["Content-Length"] = str(len(BIG))
        sent.append(len(BIG) - start)
        return BIG[start:]

    adapter.register_uri("GET", BLOB_URL, content=answer)


def _service(reg: Registry, shell: _LoopShell) -> AsyncBlobService:
    return AsyncBlobService(reg.repository("app").blobs.flows, shell)


@pytest.mark.anyio
async def test_a_cancelled_download_keeps_its_partial_and_a_rerun_moves_the_rest(
    tmp_path: Path,
) -> None:
    reg, adapter = _registry()
    sent: list[int] = []
    _serve_with_range(adapter, sent)
    shell = _LoopShell(reg, hold_after=3)
    blobs = _service(reg, shell)
    task = asyncio.create_task(blobs.download(DIGEST, tmp_path / "blob"))
    await shell.holding.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    kept = (tmp_path / "blob.partial").read_bytes()
    assert len(kept) == 3 << 20 and BIG.startswith(kept)

    assert await blobs.download(DIGEST, tmp_path / "blob") == tmp_path / "blob"
    assert (tmp_path / "blob").read_bytes() == BIG
    assert not (tmp_path / "blob.partial").exists()
    assert sent[-1] == len(BIG) - len(kept) < 0.6 * len(BIG)


@pytest.mark.anyio
async def test_get_head_exists_and_a_wrong_blob(tmp_path: Path) -> None:
    reg, adapter = _registry()
    _serve_with_range(adapter, [])
    adapter.register_uri("HEAD", BLOB_URL, headers={"Content-Length": str(len(BIG))})
    blobs = _service(reg, _LoopShell(reg))
    assert await blobs.get(DIGEST) == BIG
    assert await blobs.head(DIGEST) == Descriptor(
        media_type="application/octet-stream", digest=DIGEST, size=len(BIG))
    assert await blobs.exists(DIGEST) and await blobs.size(DIGEST) == len(BIG)

    wrong = "sha256:" + "0" * 64
    adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{wrong}", content=b"not it",
                         headers={"Content-Length": "6"})
    adapter.register_uri("HEAD", f"{BASE}/v2/app/blobs/{wrong}", status_code=404)
    with pytest.raises(DigestMismatchError):
        await blobs.download(wrong, tmp_path / "wrong")
    assert list(tmp_path.iterdir()) == []
    assert not await blobs.exists(wrong)
    with pytest.raises(NotFoundError):
        await blobs.head(wrong)


@pytest.mark.anyio
async def test_a_chunked_upload_sends_its_chunks_in_order() -> None:
    reg, adapter = _registry()
    held = bytearray()
    session = f"{BASE}/v2/app/blobs/uploads/s1"
    adapter.register_uri("HEAD", BLOB_URL, status_code=404)
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
                         headers={"Location": "/v2/app/blobs/uploads/s1"})

    def patch(request: Any, context: Any) -> bytes:
        body = request.body
        held.extend(body if isinstance(body, bytes) else body.read())
        context.status_code = 202
        context.headers["Range"] = f"0-{len(held) - 1}"
        context.headers["Location"] = "/v2/app/blobs/uploads/s1"
        return b""

    adapter.register_uri("PATCH", session, content=patch)
    adapter.register_uri("PUT", session, status_code=201,
                         headers={"Docker-Content-Digest": DIGEST})
    blobs = _service(reg, _LoopShell(reg))
    d = await blobs.upload(BIG, chunk_size=2 << 20)
    assert d == Descriptor(media_type="application/octet-stream", digest=DIGEST, size=len(BIG))
    assert bytes(held) == BIG
    ranges = [r.headers["Content-Range"] for r in adapter.request_history if r.method == "PATCH"]
    assert ranges == [f"0-{(2 << 20) - 1}", f"{2 << 20}-{(4 << 20) - 1}",
                      f"{4 << 20}-{len(BIG) - 1}"]


class _Throttled(BaseHTTPRequestHandler):
    """A registry that takes an upload session and answers its chunk 429, Retry-After 20."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, code: int, *headers: tuple[str, str]) -> None:
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._answer(404)

    def do_POST(self) -> None:
        self._answer(202, ("Location", "/v2/r/blobs/uploads/u1"), ("Range", "0-0"))

    def do_PATCH(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer(429, ("Retry-After", "20"))

    def do_DELETE(self) -> None:
        self._answer(204)


@pytest.mark.anyio
async def test_a_cancel_during_a_chunk_s_retry_wait_ends_at_once() -> None:
    """The wait before a chunk's retry (a 429's Retry-After) was a time.sleep in a
    worker thread, which a cancel cannot stop: 19 s for a cancel one second in. The flow
    now yields the wait, and the asyncio shell awaits it."""
    from registry_client.aio import AsyncRegistry

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttled)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        async with AsyncRegistry(f"127.0.0.1:{server.server_port}", protocol="http",
                                 authenticator=NullAuthenticator()) as reg:
            task = asyncio.create_task(
                reg.repository("r").blobs.upload(b"x" * (2 << 20), chunk_size=1 << 20))
            await asyncio.sleep(0.5)
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - started < 2
    finally:
        server.shutdown()
        server.server_close()
