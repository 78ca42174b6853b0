"""The blocking file object of ``repo.blobs.open``: reads are ``BlobFetch.pump_some`` flows,
so resumes, Content-Range checks, sizes and the digest are the rules every other blob read
of either flavour follows (``registry_client.aio``'s ``AsyncBlobReader`` is its twin)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, TypeVar

from .._flow import Flow
from .._reader import CHUNK, BlobReceiver, ReceiverView
from .._response import Response
from ..errors import DigestMismatchError
from ._fetch import BlobFetch

__all__ = ["BlobReader"]

T = TypeVar("T")


class BlobReader(ReceiverView, io.RawIOBase):
    """A blob being read from the registry: every byte hashed, the digest checked at the end.

    The read that would deliver the blob's last byte, when the content is wrong, raises
    ``DigestMismatchError`` instead: wrong content is never handed over whole. A cut
    connection is resumed with ``Range`` from where it got to (as often as the registry's
    requests retry). Close it (or use ``with``) when done.
    """

    def __init__(
        self, fetch: BlobFetch, rx: BlobReceiver, run: Callable[[Flow[Any]], Any],
    ) -> None:
        super().__init__()
        self._fetch = fetch
        self._rx = rx
        self._run = run
        self._error: Exception | None = None
        self.digest = rx.digest
        self._resp: Response | None = run(fetch.open(rx))

    def readable(self) -> bool:
        """Always True."""
        return True

    def tell(self) -> int:
        """How many bytes of the blob were read so far (its offset)."""
        self._check_open()
        return self._rx.offset

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (everything left when ``size`` is -1 or None); b"" at a
        verified end."""
        if size is None or size < 0:
            return self.read_all()
        return self.read_chunk(size)

    def read_chunk(self, want: int = CHUNK) -> bytes:
        """The next bytes (at most ``want``; b"" at a verified end).

        Raises:
            DigestMismatchError: the content (or its size) is not the blob's.
            RegistryUnavailableError: cut more often than the registry's retries.
        """
        self._check_open()
        if self._error is not None:  # the read that failed closed the answer
            raise self._error
        parts: list[bytes] = []
        while want > 0 and not parts and self._resp is not None:  # a block may be all
            self._resp = self._step(parts, want)                  # skipped bytes
        return b"".join(parts)

    def _step(self, parts: list[bytes], want: int) -> Response | None:
        resp, self._resp = self._resp, None
        assert resp is not None
        try:
            result: Response | None = self._run(
                self._fetch.pump_some(self._rx, resp, parts.append, want))
        except Exception as exc:  # the answer is closed; reading on raises it again
            self._error = exc
            raise
        except BaseException:  # interrupted mid-read (Ctrl-C): the answer is closed, so
            self.close()       # is the reader -- never a clean end of a blob cut short
            raise
        if self.closed and result is not None:  # closed by another thread meanwhile
            result.close()
            return None
        return result

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer``: the number of bytes, 0 at a verified end."""
        view = memoryview(buffer).cast("B")
        data = self.read_chunk(len(view))
        view[:len(data)] = data
        return len(data)

    def read_all(self, chunk: int = CHUNK) -> bytes:
        """Everything left, verified."""
        parts: list[bytes] = []
        while block := self.read_chunk(chunk):
            parts.append(block)
        return b"".join(parts)

    def verify(self) -> None:
        """Check, at the end of the blob, that nothing follows and the digest matches.

        For a caller that has read exactly the blob's size and will not read on (a
        blob streamed into an upload): call it before the last bytes are passed on.

        Raises:
            DigestMismatchError: more bytes follow, or the content does not match.
        """
        if self.read_chunk(1):
            self.close()
            raise DigestMismatchError(f"{self._rx.what}: the registry sent more than expected")

    def close(self) -> None:
        """Release the connection."""
        resp, self._resp = getattr(self, "_resp", None), None
        if resp is not None:
            resp.close()
        rx = getattr(self, "_rx", None)
        if rx is not None:
            rx.hasher.stopped(for_good=True)  # (closed: see HashThread.stopped)
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed blob reader")
