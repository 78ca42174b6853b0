"""A streaming blob reader that hashes as it goes, resumes cuts with Range and verifies at EOF."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import urllib3.exceptions

from ._digest import new_hasher
from ._http import connection_failure, discard, failure_cause, is_digits
from ._log import log
from ._response import Response
from .errors import DigestMismatchError, RegistryError, RegistryUnavailableError

CHUNK = 1024 * 1024
_CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
# What reading a body on the wire raises when the connection breaks.
READ_ERRORS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
    OSError,
)

Opener = Callable[[int], Response]
"""``opener(offset)`` sends the GET (with ``Range: bytes=offset-`` when offset > 0)."""


class VerifyingReader(io.RawIOBase):
    """Read a blob from the registry, hashing every byte and checking the digest at EOF.

    When the connection is cut, it asks again with ``Range`` from where it got
    to (when the server ignores ``Range`` and sends the whole blob again, the
    bytes already delivered are skipped), up to ``max_resumes`` times.
    """

    def __init__(
        self,
        opener: Opener,
        digest: str,
        *,
        start: int = 0,
        hasher: Any = None,
        expected_size: int | None = None,
        max_resumes: int = 3,
        on_bytes: Callable[[int], None] | None = None,
        what: str = "blob",
    ) -> None:
        super().__init__()
        self._opener = opener
        self.digest = digest
        self._hasher = hasher if hasher is not None else new_hasher(digest)
        self.offset = start
        self._expected = expected_size
        self._resumes_left = max_resumes
        self._on_bytes = on_bytes
        self._what = what
        self._verified = False
        self._resp: Response | None = None
        self._restarted = False
        self._skip = 0
        self._open(start)

    # -- connection ---------------------------------------------------------------------
    def _open(self, offset: int) -> None:
        self._skip = 0
        resp = self._opener(offset)
        self._resp = resp
        total: int | None = None
        if resp.status_code == 206:
            m = _CONTENT_RANGE_RE.match(resp.headers.get("Content-Range", "").strip())
            if not m or int(m.group(1)) != offset:
                resp.close()
                raise RegistryUnavailableError(
                    f"{self._what}: the registry answered Range {offset}- with an unusable "
                    f"Content-Range {resp.headers.get('Content-Range', '')[:60]!r}"
                )
            if m.group(3) != "*":
                total = int(m.group(3))
        else:
            length = resp.headers.get("Content-Length", "")
            if is_digits(length):
                total = int(length)
            if offset:
                # The server ignored Range and sends the whole blob again: skip the
                # ``offset`` bytes the caller already has (and the hasher already saw),
                # so the stream stays the blob's bytes, each exactly once.
                log.debug("%s: server ignored Range, skipping %d bytes", self._what, offset)
                self._skip = offset
                self._restarted = True
        if total is not None:
            if self._expected is not None and total != self._expected:
                resp.close()
                raise DigestMismatchError(
                    f"{self._what}: the registry announced {total} bytes, expected "
                    f"{self._expected}"
                )
            self._expected = total

    @property
    def expected_size(self) -> int | None:
        """The blob's full size, when the registry or the caller told it."""
        return self._expected

    @property
    def restarted(self) -> bool:
        """True when a resume got the whole blob again because the server ignored Range."""
        return self._restarted

    def _resume(self, exc: BaseException | None) -> None:
        if self._resp is not None:
            self._resp.close()
        if self._resumes_left <= 0:
            raise RegistryUnavailableError(
                f"{self._what}: the download was cut at byte {self.offset} and could not "
                f"be resumed ({connection_failure(exc)[1] if exc else 'short body'})"
            ) from (failure_cause(exc) if exc else None)
        self._resumes_left -= 1
        log.debug("%s: resuming at byte %d", self._what, self.offset)
        self._open(self.offset)

    # -- io.RawIOBase -------------------------------------------------------------------
    def readable(self) -> bool:
        """Always True."""
        return True

    def tell(self) -> int:
        """How many bytes of the blob were read so far (its offset)."""
        if self.closed:
            raise ValueError("I/O operation on closed blob reader")
        return self.offset

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer``; raise DigestMismatchError at the end when the content is wrong.

        The read that would deliver the blob's last byte (when its size is known) or
        the first one at EOF raises instead: wrong content is never handed over whole.
        """
        view = memoryview(buffer).cast("B")
        data = self.read_chunk(len(view))
        n = len(data)
        view[:n] = data
        return n

    def read_chunk(self, want: int = CHUNK) -> bytes:
        """The next bytes as they arrive (at most ``want``; b"" at a verified EOF).

        The fast path for copying loops: no intermediate buffer, no extra copy.

        Raises:
            DigestMismatchError: at EOF, when the content does not match the digest.
        """
        return self._next(want)

    def read_into(self, buffer: bytearray) -> memoryview:
        """The next bytes as they arrive, at most ``len(buffer)``, as a view (empty at EOF).

        The view is only valid until the next call: write or hash it at once. This is
        the download loop's path: the bytes are handed on as they came off the socket,
        without a copy (``buffer`` only sets the size).

        Raises:
            DigestMismatchError: at EOF, when the content does not match the digest.
        """
        return memoryview(self._next(len(buffer)))

    def _next(self, want: int) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed blob reader")
        if want <= 0 or self._verified:
            return b""
        while True:
            assert self._resp is not None
            try:
                data = self._read_some(want)
            except READ_ERRORS as exc:
                if isinstance(exc, RegistryError):
                    raise
                self._resume(exc)
                continue
            if data and self._skip:
                dropped = min(self._skip, len(data))
                self._skip -= dropped
                data = data[dropped:]
                if not data:
                    continue
            if data:
                n = len(data)
                if self._expected is not None and self.offset + n > self._expected:
                    self.close()
                    raise DigestMismatchError(
                        f"{self._what}: the registry sent more than the {self._expected} "
                        "bytes announced"
                    )
                self._hasher.update(data)
                self.offset += n
                if self.offset == self._expected:
                    # the last byte: verified before anyone gets it, so a reader that
                    # stops at the blob's size (tarfile, readinto) never sees bad bytes
                    self._finish()
                if self._on_bytes is not None:
                    self._on_bytes(n)
                return data
            if self._expected is not None and self.offset < self._expected:
                self._resume(None)
                continue
            self._finish()
            return b""

    def _read_some(self, want: int) -> bytes:
        # The bytes as served, whatever Content-Encoding says (never decoded: the digest
        # is of what the registry stores). read1 hands over whatever arrived (up to
        # ``want``): a cut then loses nothing already received, so the resume starts
        # exactly there. ``read(want)`` would drop a partly filled block when the
        # connection breaks.
        if self._resp is None:
            return b""
        return self._resp.read1(want)

    def _finish(self) -> None:
        if self._resp is not None:
            discard(self._resp)  # the body is read: the connection goes back to the pool
        actual = f"{self.digest.split(':', 1)[0]}:{self._hasher.hexdigest()}"
        if actual != self.digest:
            raise DigestMismatchError(
                f"{self._what}: content is {actual}, expected {self.digest}"
            )
        self._verified = True

    def verify(self) -> None:
        """Check, at the end of the blob, that nothing follows and the digest matches.

        For a caller that has read exactly the blob's size and will not read on
        (a streamed upload): call it before the last bytes are passed on.

        Raises:
            DigestMismatchError: more bytes follow, or the content does not match.
        """
        if self._next(1):
            self.close()
            raise DigestMismatchError(f"{self._what}: the registry sent more than expected")

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes as they arrive (everything when ``size`` is -1 or None)."""
        if size is None or size < 0:
            return self.read_all()
        return self.read_chunk(size)

    def read_all(self, chunk: int = CHUNK) -> bytes:
        """Read to EOF and return everything (verified)."""
        parts: list[bytes] = []
        while True:
            block = self.read_chunk(chunk)
            if not block:
                return b"".join(parts)
            parts.append(block)

    def close(self) -> None:
        """Release the connection."""
        if self._resp is not None:
            self._resp.close()
        super().close()
