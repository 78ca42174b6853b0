"""What an upload reads: the source (bytes, a file, a stream), a layout's checked blob
file, and the request body that counts and reports the bytes it hands over."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Callable, Iterator
from typing import IO, Any

from .._calloff import check_cancelled
from .._digest import compute_digest, new_hasher
from .._flow import Flow
from .._reader import CHUNK
from .._request import Relay
from .._response import Response
from ..errors import DigestMismatchError
from ._fetch import BlobFetch


class UploadSource:
    """What to upload: a file object positioned at the blob's start, its size and digest."""

    def __init__(
        self, stream: IO[bytes], size: int | None, digest: str | None, *, owned: bool
    ) -> None:
        self.stream = stream
        self.size = size
        self.digest = digest
        self.start = stream.tell() if stream.seekable() else 0
        self._owned = owned

    @classmethod
    def from_data(cls, data: Any, digest: str | None) -> UploadSource:
        """Normalise bytes, a path or a file object; hash seekable content when no digest."""
        if isinstance(data, bytes | bytearray | memoryview):
            raw = bytes(data)
            actual = compute_digest(raw, (digest or "sha256").split(":", 1)[0])
            if digest is not None and actual != digest:
                raise DigestMismatchError(f"upload: content is {actual}, expected {digest}")
            return cls(io.BytesIO(raw), len(raw), actual, owned=True)
        if isinstance(data, str | os.PathLike):
            f = open(data, "rb")
            info = os.fstat(f.fileno())
            # a FIFO or a device (/dev/stdin on a pipe, a shell's <(...)) has no size, nor
            # has a /proc file (st_size 0, however much it holds): read to its end instead
            size = info.st_size if stat.S_ISREG(info.st_mode) and info.st_size else None
            src = cls(f, size, digest, owned=True)
        elif hasattr(data, "read"):
            src = cls(data, None, digest, owned=False)
            if data.seekable():
                end = data.seek(0, os.SEEK_END)
                data.seek(src.start)
                src.size = end - src.start
        else:
            raise TypeError(f"cannot upload {type(data).__name__}: want bytes, a path or a file")
        if src.digest is None and src.size is not None:
            # its size when the upload began (a log appended to meanwhile: as it was)
            h = hashlib.sha256()
            left = src.size
            while left > 0 and (block := src.stream.read(min(CHUNK, left))):
                h.update(block)
                left -= len(block)
            src.stream.seek(src.start)
            src.digest = f"sha256:{h.hexdigest()}"
        return src

    @property
    def owned(self) -> bool:
        """True when this source opened its file (so :meth:`close` closes it)."""
        return self._owned

    def close(self) -> None:
        """Close the file when this source opened it."""
        if self._owned:
            self.stream.close()


class CheckedFile:
    """A blob file of a layout being pushed: hashed while it streams, checked before the
    upload is committed (nothing on disk is trusted: the file may have changed since
    it was written).

    A small blob (up to ``IN_MEMORY``) is read once into memory and checked before its
    upload starts; a larger one goes in PATCH requests, hashed as it is read, and is
    checked before the final PUT that commits it -- at the latest, before the last
    block of the last PATCH is handed over. Bytes read again (a PATCH resent after a
    cut) are not hashed twice, so the file is read once however it goes.
    """

    IN_MEMORY = 4 * 1024 * 1024

    def __init__(self, f: IO[bytes], digest: str, name: str) -> None:
        self._f: IO[bytes] = f
        self.digest = digest
        self.name = name
        self.size = os.fstat(f.fileno()).st_size
        self._hasher = new_hasher(digest)
        self._hashed = 0  # the bytes 0 .. _hashed-1 went through the hasher, in order
        self._pos = f.tell()
        self._preloaded = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = self._f.seek(pos, whence)
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        data = self._f.read(-1 if n is None else n)
        start, self._pos = self._pos, self._pos + len(data)
        if start <= self._hashed < self._pos:
            self._hasher.update(memoryview(data)[self._hashed - start:])
            self._hashed = self._pos
        return data

    @property
    def preloaded(self) -> bool:
        """True once :meth:`preload` has read the file into memory."""
        return self._preloaded

    @property
    def complete(self) -> bool:
        """True when every byte went through the hasher: :meth:`check` reads nothing."""
        return self._hashed >= self.size

    def preload(self) -> None:
        """Read the whole (small) file into memory and check it, before any request.

        Raises:
            DigestMismatchError: the content does not match the digest.
        """
        self._f.seek(0)
        self._pos = 0
        data = self.read()
        self.check()
        self._f = io.BytesIO(data)
        self._pos = 0
        self._preloaded = True

    def verify(self) -> None:
        """At the blob's last byte (a streamed body's last block): check the digest.

        Before the end (a PATCH that is not the last) there is nothing to check yet.
        """
        if self._hashed >= self.size:
            self.check()

    def check(self) -> None:
        """Raise unless the file's bytes hash to the digest (read what was skipped).

        Raises:
            DigestMismatchError: they do not; the error names the file.
        """
        if self._hashed < self.size:  # skipped by a resume: hash the rest, in order
            back = self._f.tell()
            self._f.seek(self._hashed)
            while block := self._f.read(CHUNK):
                self._hasher.update(block)
                self._hashed += len(block)
            self._f.seek(back)
        actual = f"{self.digest.split(':', 1)[0]}:{self._hasher.hexdigest()}"
        if actual != self.digest or self._hashed != self.size:
            raise DigestMismatchError(
                f"{self.name}: content is {actual}, expected {self.digest} (the file changed "
                "after it was written); its upload was stopped before being committed")

    def close(self) -> None:
        """The caller closes the file it opened."""


class CountingBody:
    """A file-like request body: ``length`` bytes of ``stream`` from where it stands,
    each block handed over reported to ``advance`` (negative after a rewind).

    Also an iterable of blocks, for a shell that sends iterables (the asyncio one, which
    iterates it in a worker thread: reading the file never blocks its event loop)."""

    def __init__(self, stream: IO[bytes], length: int, advance: Callable[[int], None], *,
                 at: int | None = None) -> None:
        self._advance = advance
        self._src = stream
        self._seekable = self._src.seekable()
        # ``at``: the stream is moved there by the first read, in the thread that reads it
        # (so the flow that makes the body does no file work of its own for it)
        self._move = at is not None
        self._start = at if at is not None else (self._src.tell() if self._seekable else 0)
        self._length = length
        self._sent = 0
        self.failed: OSError | None = None
        """What reading the source raised: an HTTP library sending the body takes an
        OSError for its connection's (requests: "the connection broke"), so the upload
        raises this instead, as the user's file's own error."""

    def __len__(self) -> int:
        return self._length - self._sent

    def __iter__(self) -> Iterator[bytes]:
        while block := self.read(CHUNK):
            yield block

    def read(self, n: int = -1) -> bytes:
        left = self._length - self._sent
        if left <= 0:
            return b""
        check_cancelled()  # another blob of the same transfer failed: stop sending
        if self._move:
            self._move = False
            self._src.seek(self._start + self._sent)
        want = left if n is None or n < 0 else min(n, left, 4 * CHUNK)
        try:
            block = self._src.read(want)
        except OSError as exc:
            self.failed = exc
            raise
        if not block and want:
            # the source ended early (a file truncated while it was sent): the request
            # announced the length, and the registry would wait for the rest
            raise DigestMismatchError(
                f"the blob's content ended after {self._sent} of {self._length} bytes: it "
                "changed while it was uploaded")
        self._sent += len(block)
        if self._sent >= self._length:
            # The last block: a source that can check its digest (a blob streamed from
            # another registry) does so now, before the registry gets the final bytes.
            verify = getattr(self._src, "verify", None)
            if callable(verify):
                verify()
        self._advance(len(block))
        return block

    def tell(self) -> int:
        return self._sent

    def seekable(self) -> bool:
        return self._seekable

    def raise_failed(self) -> None:
        """Raise :attr:`failed`, the source's own error, when reading it failed."""
        if self.failed is not None:
            raise self.failed from None  # (not the HTTP error it became on the way)

    def seek(self, pos: int, whence: int = 0) -> int:
        self._advance(-self._sent + pos)
        self._src.seek(self._start + pos)
        self._move = False
        self._sent = pos
        return pos


_READ_STEP = 64 * 1024 * 1024


def read_full(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at EOF: a pipe or socket hands over 64 KiB per
    read, and each short read sent as its own PATCH would cost a round trip (and break
    a registry's minimum chunk length). Each read asks for at most 64 MiB: a stream
    allocates what it is asked for up front, and a registry's minimum chunk length may
    be any number (1 TiB, for a pipe holding 3 MB)."""
    first = stream.read(min(size, _READ_STEP))
    if not first or len(first) >= size:
        return bytes(first or b"")
    parts = [first]
    got = len(first)
    while got < size:
        more = stream.read(min(size - got, _READ_STEP))
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class Relayed:
    """A blob read from a repository (this registry's or another's) while it is uploaded:
    a copy's source, for either flavour of the API. Read once, as the upload's body; its
    receiver checks the digest before the last block is passed on, so wrong bytes are
    never committed."""

    def __init__(self, fetch: BlobFetch, digest: str, size: int,
                 keep: list[bytes] | None = None) -> None:
        self._fetch = fetch
        self._rx = fetch.receiver(digest, expected_size=size)
        self._resp: Response | None = None
        self._keep = keep  # the blocks as they pass, for a caller that needs the bytes

    @property
    def opened(self) -> bool:
        """True once the source answered the GET: its bytes may have started to flow."""
        return self._resp is not None

    def seekable(self) -> bool:
        """False: a relayed blob is read once."""
        return False

    def tell(self) -> int:
        """0: the blob's start."""
        return 0

    def relay(self, advance: Callable[[int], None]) -> Flow[Relay]:
        """GET the blob: the request body that streams it (each block checked, then
        reported to ``advance``).

        Raises:
            NotFoundError: the source has no such blob.
            DigestMismatchError: the source announces another size.
        """
        rx = self._rx
        self._resp = resp = yield from self._fetch.open(rx)
        if rx.expected_size == 0:
            rx.ended()  # no block comes to be checked: the empty content is, before the PUT

        received = self._fetch._endpoint.count_received  # the source's stats count it

        keep = self._keep

        def passing(block: bytes) -> None:
            rx.take(block)
            if keep is not None:
                keep.append(block)
            received(len(block))
            advance(len(block))
            check_cancelled()  # as a file body does: a called-off copy stops at this block

        return Relay(resp, passing)

    def check(self) -> None:
        """After the upload: the whole blob went through, verified.

        Raises:
            DigestMismatchError: the source sent less than its size.
        """
        if not self._rx.verified:
            raise DigestMismatchError(
                f"{self._rx.what}: the source ended at byte {self._rx.offset} of "
                f"{self._rx.expected_size}")

    def close(self) -> None:
        """Release the source's answer."""
        if self._resp is not None:
            self._resp.close()
