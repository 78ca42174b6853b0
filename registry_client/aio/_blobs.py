"""AsyncBlobService: the blob operations of one repository, awaitable."""

from __future__ import annotations

import io
import os
from pathlib import Path

from ..models import Descriptor
from ..progress import ProgressCallback
from ..services.blobs import BlobFlows, UploadData
from ._base import AsyncService

__all__ = ["AsyncBlobService"]


class AsyncBlobService(AsyncService[BlobFlows]):
    """Read and write the blobs (layers, configs) of one repository, with asyncio.

    The same methods, arguments, results and errors as
    :class:`~registry_client.services.BlobService`, as coroutines. Hashing and file
    work run in worker threads, so the event loop keeps running during large
    transfers. Cancelling a ``download`` keeps its ``.partial`` file for the next run
    (as Ctrl-C does in the blocking API); cancelling an ``upload`` sends nothing more
    (a ``state_file`` keeps the session for the next run).

    There is no async ``open``: read a blob whole with :meth:`get`, or to a file (a
    FIFO or ``/dev/stdout`` included) with :meth:`download`.
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
