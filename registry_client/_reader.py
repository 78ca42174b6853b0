"""Reading a blob: the protocol (:class:`BlobReceiver`: Range resumes, Content-Range checks,
sizes, the digest at the end), without the I/O.

The flows of ``services._fetch`` drive it with effects -- for ``get``, ``download``,
``open`` and the image workflows of both flavours -- so every blob is read by one set of
rules."""

from __future__ import annotations

import re
from typing import Any

from ._digest import new_hasher, overlapped
from ._http import BodyCutError, content_length
from ._log import log
from ._response import Answer
from .errors import DigestMismatchError, RegistryError, RegistryUnavailableError

CHUNK = 1024 * 1024
_CONTENT_RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)\Z", re.ASCII)



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
            total = content_length(resp.headers, decoded=False)  # (a blob is its bytes as sent)
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
