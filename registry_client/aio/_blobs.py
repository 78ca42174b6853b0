"""AsyncBlobService: the blob operations of one repository, awaitable."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._reader import CHUNK, BlobReceiver, ReceiverView, check_ranged_read
from .._response import Response
from ..reference import check_digest
from ..services._fetch import BlobFetch
from ..services.blobs import BlobFlows, UploadData
from ._base import AsyncRepositoryService
from ._run import AsyncPerformer, arun

if TYPE_CHECKING:  # annotations only: the progress events load with a callback's first use
    from ..models import Descriptor
    from ..progress import ProgressCallback

__all__ = ["AsyncBlobReader", "AsyncBlobService", "OpeningBlob"]


class AsyncBlobService(AsyncRepositoryService[BlobFlows]):
    """Read and write the blobs (layers, configs) of one repository, with asyncio.

    The same methods, arguments, results and errors as
    :class:`~registry_client.services.BlobService`, as coroutines. Hashing and file
    work run in worker threads, so the event loop keeps running during large
    transfers. Cancelling a ``download`` keeps its ``.partial`` file for the next run
    (as Ctrl-C does in the blocking API); cancelling an ``upload`` sends nothing more
    (a ``state_file`` keeps the session for the next run).

    :meth:`open` streams a blob: ``async with repo.blobs.open(digest) as blob`` then
    ``await blob.read(n)`` or ``async for block in blob``, verified at its end.
    """

    async def head(self, digest: str) -> Descriptor:
        """Async form of :meth:`BlobService.head`."""
        return await self._run(self.flows.head(digest))

    async def exists(self, digest: str, *, for_push: bool = False) -> bool:
        """Async form of :meth:`BlobService.exists`."""
        return await self._run(self.flows.exists(digest, for_push=for_push))

    async def size(self, digest: str) -> int:
        """Async form of :meth:`BlobService.size`."""
        return await self._run(self.flows.size(digest))

    def open(
        self, digest: str, *, start: int = 0, hasher: object = None,
        expected_size: int | None = None,
    ) -> OpeningBlob:
        """Async form of :meth:`BlobService.open`: stream a blob, its digest checked at
        the end (``DigestMismatchError`` from the read that would complete wrong content).

        ``async with repo.blobs.open(digest) as blob:`` (closed on leaving), or
        ``blob = await repo.blobs.open(digest)`` then ``await blob.aclose()``. Opening
        sends the GET (``NotFoundError``: no such blob); a cut connection is resumed with
        ``Range``. ``start``, ``hasher``, ``expected_size``: as for the blocking form (a
        ``start`` without ``hasher`` is a ValueError).
        """
        check_digest(digest)
        check_ranged_read(start, hasher)
        rx = self.flows.fetch.receiver(digest, start=start, hasher=hasher,
                                       expected_size=expected_size)
        return OpeningBlob(self.flows.fetch, rx, self._shell)

    async def get(self, digest: str, *, expected_size: int | None = None) -> bytes:
        """Async form of :meth:`BlobService.get`: the whole blob in memory, verified."""
        return await self._run(self.flows.get(digest, expected_size=expected_size))

    async def download(
        self, digest: str, path: str | os.PathLike[str], *,
        progress: ProgressCallback | None = None, expected_size: int | None = None,
    ) -> Path:
        """Async form of :meth:`BlobService.download`: streamed, verified, renamed into
        place when right; a cancelled download keeps its ``.partial`` for a resume."""
        return await self._run(self.flows.download(digest, path, progress=progress,
                                                   expected_size=expected_size))

    async def upload(
        self,
        data: UploadData,
        *,
        digest: str | None = None,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        state_file: str | os.PathLike[str] | None = None,
    ) -> Descriptor:
        """Async form of :meth:`BlobService.upload` (a file is read in worker threads)."""
        return await self._run(self.flows.upload(data, digest=digest, chunk_size=chunk_size,
                                                 progress=progress, state_file=state_file))

    async def upload_stream(
        self, stream: io.RawIOBase, *, digest: str, size: int,
        progress: ProgressCallback | None = None,
    ) -> Descriptor:
        """Async form of :meth:`BlobService.upload_stream` (``stream`` is read in worker
        threads)."""
        return await self._run(self.flows.upload_stream(stream, digest=digest, size=size,
                                                        progress=progress))

    async def mount(self, digest: str, from_repository: str) -> bool:
        """Async form of :meth:`BlobService.mount`."""
        return await self._run(self.flows.mount(digest, from_repository))

    async def delete(self, digest: str) -> None:
        """Async form of :meth:`BlobService.delete`."""
        await self._run(self.flows.delete(digest))


class AsyncBlobReader(ReceiverView):
    """An open blob of :meth:`AsyncBlobService.open`: ``await read(n)``, ``async for
    block in reader``, ``await aclose()``. Every byte is hashed; the read that would
    complete content not matching the digest raises ``DigestMismatchError`` instead.
    What each read means (resumes, Content-Range, sizes, the digest) is
    ``BlobFetch.pump_some``'s, as for ``get`` and ``download``."""

    def __init__(
        self, fetch: BlobFetch, rx: BlobReceiver, resp: Response, shell: AsyncPerformer,
    ) -> None:
        self._fetch = fetch
        self._rx = rx
        self._resp: Response | None = resp
        self._shell = shell
        self._error: Exception | None = None
        self.closed = False
        self.digest = rx.digest

    def tell(self) -> int:
        """How many bytes of the blob were read so far (its offset)."""
        self._check_open()
        return self._rx.offset

    async def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (everything left when ``size`` is -1 or None); b"" at a
        verified end."""
        self._check_open()
        if self._error is not None:  # the read that failed closed the answer
            raise self._error
        if size is None or size < 0:
            parts = [block async for block in self]
            return b"".join(parts)
        if size == 0:
            return b""
        parts = []
        while not parts and self._resp is not None:  # a block may be all skipped bytes
            self._resp = await self._step(parts, size)
        return b"".join(parts)

    async def _step(self, parts: list[bytes], size: int) -> Response | None:
        resp, self._resp = self._resp, None
        assert resp is not None
        try:
            result = await arun(self._fetch.pump_some(self._rx, resp, parts.append, size),
                                self._shell)
        except Exception as exc:  # the answer is closed; reading on raises it again
            self._error = exc
            raise
        except BaseException:  # cancelled mid-read: the answer is closed, so is the reader
            self.closed = True
            raise
        if self.closed and result is not None:  # closed by another task meanwhile
            await result.aclose()
            return None
        return result

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._blocks()

    async def _blocks(self) -> AsyncIterator[bytes]:
        while block := await self.read(CHUNK):
            yield block

    async def aclose(self) -> None:
        """Release the connection."""
        resp, self._resp = self._resp, None
        self.closed = True
        self._rx.hasher.stopped(for_good=True)  # (closed: see HashThread.stopped)
        if resp is not None:
            await resp.aclose()

    async def __aenter__(self) -> AsyncBlobReader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed blob reader")


class OpeningBlob:
    """What :meth:`AsyncBlobService.open` returns: ``async with`` it (the reader, closed
    on leaving), or await it (the reader, yours to close)."""

    def __init__(self, fetch: BlobFetch, rx: BlobReceiver, shell: AsyncPerformer) -> None:
        self._fetch = fetch
        self._rx = rx
        self._shell = shell
        self._reader: AsyncBlobReader | None = None

    async def _open(self) -> AsyncBlobReader:
        resp = await arun(self._fetch.open(self._rx), self._shell)
        return AsyncBlobReader(self._fetch, self._rx, resp, self._shell)

    def __await__(self) -> Generator[Any, None, AsyncBlobReader]:
        return self._open().__await__()

    async def __aenter__(self) -> AsyncBlobReader:
        self._reader = await self._open()
        return self._reader

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            await self._reader.aclose()
