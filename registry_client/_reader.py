"""Reading a blob: the protocol (:class:`BlobReceiver`: Range resumes, Content-Range checks,
sizes, the digest at the end) and the blocking file-like reader on it (:class:`VerifyingReader`).

The flows of ``services.blobs`` drive the same receiver with effects, so both flavours of
the API read blobs by one set of rules."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import urllib3.exceptions

from ._digest import new_hasher, overlapped
from ._http import BodyCutError, body_broken, connection_failure, discard, failure_cause, is_digits
from ._log import log
from ._response import Answer, Response
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


def blob_headers(offset: int) -> dict[str, str]:
    """The headers of a blob GET for its bytes from ``offset`` on.

    The blob is the bytes as served: never a decoded Content-Encoding (a storage
    backend serving a gzip layer "Content-Encoding: gzip" must not be unzipped).
    """
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return headers


def check_ranged_read(start: int, hasher: object) -> None:
    """A blob opened from byte ``start`` needs the hash of the bytes before it.

    Raises:
        ValueError: ``start`` without ``hasher``: the digest could never be checked.
    """
    if start and hasher is None:
        raise ValueError(
            f"a blob read from byte {start} needs hasher=, the hash of its first {start} "
            "bytes (hashlib.sha256(first_bytes)): without it the digest cannot be checked")


class BlobReceiver:
    """What reading one blob means, without the I/O: which request to send at which
    offset, what an answer's headers allow, and what each block received is.

    It hashes every byte -- on a worker thread, while the next bytes are received and
    written (:class:`~registry_client._digest.HashThread`) -- and checks the digest when
    the blob is complete. After a cut
    the reading resumes with ``Range`` from :attr:`offset` (up to ``max_resumes``
    times): at once after a cut that brought new bytes, after a backoff after one
    that brought none (:meth:`resume`); a server that ignores ``Range`` and sends the
    whole blob again has the bytes already delivered skipped, so the blocks handed on
    are the blob's bytes, each exactly once.
    """

    def __init__(
        self, digest: str, *, start: int = 0, hasher: Any = None,
        expected_size: int | None = None, max_resumes: int = 3, what: str = "blob",
    ) -> None:
        self.digest = digest
        self.hasher = overlapped(hasher if hasher is not None else new_hasher(digest))
        self.offset = start
        self.expected_size = expected_size
        self.verified = False
        self.restarted = False
        self.what = what
        self._resumes_left = max_resumes
        self._skip = 0
        self._last_cut = start  # the offset of the last cut (or the start)
        self._stalls = 0  # cuts in a row that brought no new byte

    def headers(self) -> dict[str, str]:
        """The headers of the GET for the bytes from :attr:`offset` on."""
        return blob_headers(self.offset)

    def opened(self, resp: Answer) -> None:
        """Take in the answer to the GET of :meth:`headers` (the caller closes it on error).

        Raises:
            RegistryUnavailableError: a 206 whose Content-Range is not the one asked for.
            DigestMismatchError: the registry announces another size than expected.
        """
        offset = self.offset
        self._skip = 0
        total: int | None = None
        if resp.status_code == 206:
            m = _CONTENT_RANGE_RE.match(resp.headers.get("Content-Range", "").strip())
            if not m or int(m.group(1)) != offset:
                raise RegistryUnavailableError(
                    f"{self.what}: the registry answered Range {offset}- with an unusable "
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
                # ``offset`` bytes the caller already has (and the hasher already saw).
                log.debug("%s: server ignored Range, skipping %d bytes", self.what, offset)
                self._skip = offset
                self.restarted = True
        if total is not None:
            if self.expected_size is not None and total != self.expected_size:
                raise DigestMismatchError(
                    f"{self.what}: the registry announced {total} bytes, expected "
                    f"{self.expected_size}"
                )
            self.expected_size = total

    def take(self, data: bytes) -> bytes:
        """The blob's bytes in ``data`` (received after :attr:`offset`), hashed and counted.

        A block that completes the blob (its size known) is verified before it is
        returned: wrong content is never handed over whole.

        Raises:
            DigestMismatchError: more bytes than announced, or the complete blob is wrong.
        """
        if data and self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        if not data:
            return b""
        n = len(data)
        if self.expected_size is not None and self.offset + n > self.expected_size:
            raise DigestMismatchError(
                f"{self.what}: the registry sent more than the {self.expected_size} "
                "bytes announced"
            )
        self.hasher.update(data)
        self.offset += n
        if self.offset == self.expected_size:
            self.finish()
        return data

    def ended(self) -> bool:
        """At the end of an answer's body: True when the blob is complete (verified);
        False when it is short of its size (resume: :meth:`resume`, then a new GET).

        Raises:
            DigestMismatchError: the content does not match the digest.
        """
        if self.verified:
            return True
        if self.expected_size is not None and self.offset < self.expected_size:
            return False
        self.finish()
        return True

    def resume(self, cut: RegistryError | None) -> int | None:
        """After a cut (``cut``: the shell's error, a :class:`~registry_client._http.BodyCutError`
        for a broken body; None: a short body): allow one more GET from :attr:`offset`.

        Returns the retry attempt to back off for before that GET (``endpoint.back_off``),
        or None to send it at once. A cut that brought new bytes is resumed at once; one
        that brought none -- storage hiccuping, a gateway cutting every answer for a
        moment -- waits as any failed request does, longer each time in a row.

        Raises:
            RegistryUnavailableError: no resumes left.
        """
        if self._resumes_left <= 0:
            why = "short body" if cut is None else (
                cut.words if isinstance(cut, BodyCutError) else cut.message)
            raise RegistryUnavailableError(
                f"{self.what}: the download was cut at byte {self.offset} and could not "
                f"be resumed ({why})"
            ) from cut
        self._resumes_left -= 1
        log.debug("%s: resuming at byte %d", self.what, self.offset)
        if self.offset > self._last_cut:
            self._last_cut, self._stalls = self.offset, 0
            return None
        self._stalls += 1
        return self._stalls - 1

    def finish(self) -> None:
        """Check the digest of what was taken (the whole blob).

        Raises:
            DigestMismatchError: it does not match.
        """
        actual = f"{self.digest.split(':', 1)[0]}:{self.hasher.hexdigest()}"
        if actual != self.digest:
            raise DigestMismatchError(f"{self.what}: content is {actual}, expected {self.digest}")
        self.verified = True


class ReceiverView:
    """What a blob reader of either flavour tells of its :class:`BlobReceiver` (``_rx``)."""

    _rx: BlobReceiver

    @property
    def offset(self) -> int:
        """How many bytes of the blob were read so far."""
        return self._rx.offset

    @property
    def expected_size(self) -> int | None:
        """The blob's full size, when the registry or the caller told it."""
        return self._rx.expected_size

    @property
    def restarted(self) -> bool:
        """True when a resume got the whole blob again because the server ignored Range."""
        return self._rx.restarted


class VerifyingReader(ReceiverView, io.RawIOBase):
    """Read a blob from the registry, hashing every byte and checking the digest at EOF.

    A blocking file object over a :class:`BlobReceiver`: when the connection is cut,
    it asks again with ``Range`` from where it got to, up to ``max_resumes`` times.
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
        back_off: Callable[[int], None] | None = None,
        size_of: Callable[[], int] | None = None,
    ) -> None:
        super().__init__()
        self._opener = opener
        self._back_off = back_off
        self._size_of = size_of
        self._rx = BlobReceiver(digest, start=start, hasher=hasher,
                                expected_size=expected_size, max_resumes=max_resumes, what=what)
        self.digest = digest
        self._on_bytes = on_bytes
        self._resp: Response | None = None
        self._open()

    # -- connection ---------------------------------------------------------------------
    def _open(self) -> None:
        resp = self._opener(self._rx.offset)
        self._resp = resp
        try:
            self._rx.opened(resp)
            if self._rx.expected_size is None and self._size_of is not None:
                self._rx.expected_size = self._size_of()  # (an answer of no length)
        except BaseException:
            resp.close()
            raise

    def _resume(self, cut: RegistryError | None) -> None:
        if self._resp is not None:
            self._resp.close()
        attempt = self._rx.resume(cut)
        if attempt is not None and self._back_off is not None:
            self._back_off(attempt)
        self._open()

    # -- io.RawIOBase -------------------------------------------------------------------
    def readable(self) -> bool:
        """Always True."""
        return True

    def tell(self) -> int:
        """How many bytes of the blob were read so far (its offset)."""
        if self.closed:
            raise ValueError("I/O operation on closed blob reader")
        return self._rx.offset

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
        rx = self._rx
        if want <= 0 or rx.verified:
            return b""
        while True:
            assert self._resp is not None
            try:
                raw = self._read_some(want)
            except READ_ERRORS as exc:
                if isinstance(exc, RegistryError):
                    raise
                # in the words of the blocking shell's Drain (requests' failures)
                cut = body_broken(rx.offset, connection_failure(exc)[1])
                cut.__cause__ = failure_cause(exc)
                self._resume(cut)
                continue
            if raw:
                try:
                    data = rx.take(raw)
                except DigestMismatchError:
                    if rx.offset == rx.expected_size:  # the whole blob came, and is wrong
                        discard(self._resp)
                    else:  # more than announced
                        self.close()
                    raise
                if not data:
                    continue
                if rx.verified:
                    discard(self._resp)  # the body is read: the connection goes back to the pool
                if self._on_bytes is not None:
                    self._on_bytes(len(data))
                return data
            if not rx.ended():
                self._resume(None)
                continue
            discard(self._resp)
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

    def verify(self) -> None:
        """Check, at the end of the blob, that nothing follows and the digest matches.

        For a caller that has read exactly the blob's size and will not read on
        (a streamed upload): call it before the last bytes are passed on.

        Raises:
            DigestMismatchError: more bytes follow, or the content does not match.
        """
        if self._next(1):
            self.close()
            raise DigestMismatchError(f"{self._rx.what}: the registry sent more than expected")

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
