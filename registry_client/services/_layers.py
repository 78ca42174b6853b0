"""Layer streams read as they arrive: decompressed (gzip, zstd where it can be), hashed
for their diff_id, and checked to be whole tar streams -- never a whole layer in memory.

Used by validation (is every layer a readable tar whose digest is its config's
diff_id?) and by docker-archive writing (layers stored uncompressed, checked on the way).
"""

from __future__ import annotations

import hashlib
import tarfile
import zlib
from collections.abc import Callable
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BLOCK = 512
_OUT_CAP = 4 << 20
"""At most this many decompressed bytes are made from one input block at a time (a
small block of zeros may inflate a thousandfold)."""


def compression_of(head: bytes) -> str:
    """``"gzip"``, ``"zstd"`` or ``"none"``, from a stream's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def declared_compression(media_type: str) -> str | None:
    """What a layer's media type says it is compressed with (None: it does not say)."""
    if media_type.endswith(("+gzip", ".tar.gzip")) or media_type.endswith("tar.gz"):
        return "gzip"
    if media_type.endswith("+zstd"):
        return "zstd"
    if media_type.endswith((".tar", "layer.v1.tar", "diff.tar")):
        return "none"
    return None


def _zstd_decompressor() -> Any:
    """A streaming zstd decompressor, or None where no zstd module is installed."""
    try:
        import zstandard  # type: ignore[import-not-found]  # optional
    except ImportError:
        return None
    return zstandard.ZstdDecompressor().decompressobj()


class LayerProblem(Exception):
    """The layer stream is not a readable (compressed) tar; the message says why."""


class _Gunzip:
    """gzip members one after another, as ``gzip`` itself reads them, in bounded pieces."""

    def __init__(self, out: Callable[[bytes], None]) -> None:
        self._out = out
        self._d = zlib.decompressobj(31)

    def feed(self, data: bytes) -> None:
        while data:
            try:
                chunk = self._d.decompress(data, _OUT_CAP)
            except zlib.error as exc:
                raise LayerProblem(f"gzip stream is corrupt ({exc})") from None
            if chunk:
                self._out(chunk)
            if self._d.eof:
                data = self._d.unused_data
                if data.strip(b"\0"):  # another member follows (trailing zeros are padding)
                    self._d = zlib.decompressobj(31)
                    continue
                return
            data = self._d.unconsumed_tail

    def finish(self) -> None:
        if not self._d.eof:
            raise LayerProblem("gzip stream ends early (truncated)")


class TarCheck:
    """Follows a tar stream header by header; :meth:`finish` says whether it was whole."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0  # data bytes (padded) still to pass of the current member
        self._ended = False
        self.members = 0

    def feed(self, data: bytes) -> None:
        if self._ended:
            return
        view = memoryview(data)
        while view:
            if self._skip:
                n = min(self._skip, len(view))
                self._skip -= n
                view = view[n:]
                continue
            need = _BLOCK - len(self._buf)
            self._buf += view[:need]
            view = view[need:]
            if len(self._buf) < _BLOCK:
                return
            block, self._buf = bytes(self._buf), bytearray()
            if block == b"\0" * _BLOCK:  # the end-of-archive marker
                self._ended = True
                return
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
            except tarfile.HeaderError as exc:
                raise LayerProblem(f"not a tar stream: bad header after {self.members} "
                                   f"member(s) ({exc})") from None
            self.members += 1
            self._skip = -(-info.size // _BLOCK) * _BLOCK if info.size > 0 else 0

    def finish(self) -> None:
        if self._ended:
            return
        if self._skip or self._buf:
            raise LayerProblem(f"tar stream ends in the middle of member {self.members}")


class LayerReader:
    """A sink for a layer's bytes as stored: decompresses them, hashes the tar (its
    diff_id), checks the tar stream and hands the tar bytes to ``out`` (when given).

    ``media_type`` is the layer's; a stream whose compression contradicts it is a
    problem. Problems raise :class:`LayerProblem` from :meth:`feed` or :meth:`finish`.
    """

    def __init__(self, media_type: str, out: Callable[[bytes], object] | None = None) -> None:
        self._declared = declared_compression(media_type)
        self._out = out
        self._hash = hashlib.sha256()
        self._tar = TarCheck()
        self._head = b""
        self._feed: Callable[[bytes], None] | None = None
        self._finish: Callable[[], None] = lambda: None
        self._problem: LayerProblem | None = None
        self.compression = "none"
        self.size = 0
        """Bytes of the uncompressed tar."""

    def _plain(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)
        self._tar.feed(data)
        if self._out is not None:
            self._out(data)

    def _start(self) -> None:
        self.compression = compression_of(self._head)
        if self._declared is not None and self._declared != self.compression:
            found = self.compression if self.compression != "none" else "not compressed"
            raise LayerProblem(f"its media type says {self._declared}, its content is {found}")
        if self.compression == "gzip":
            gunzip = _Gunzip(self._plain)
            self._feed, self._finish = gunzip.feed, gunzip.finish
        elif self.compression == "zstd":
            d = _zstd_decompressor()
            if d is None:
                raise LayerProblem("zstd-compressed, and this Python cannot read zstd "
                                   "(install the zstandard package): not checked")
            def unzstd(data: bytes) -> None:
                try:
                    out = d.decompress(data)
                except Exception as exc:  # zstandard.ZstdError: the module is optional
                    raise LayerProblem(f"zstd stream is corrupt ({exc})") from None
                self._plain(out)

            self._feed = unzstd
        else:
            self._feed = self._plain

    def feed(self, data: bytes) -> None:
        """Take the layer's next bytes (a problem is kept for :meth:`finish`: the blob is
        still read to its end, so that a wrong digest is reported as that)."""
        if self._problem is not None:
            return
        try:
            self._take(data)
        except LayerProblem as exc:
            self._problem = exc

    def _take(self, data: bytes) -> None:
        if self._feed is None:
            self._head += data
            if len(self._head) < len(ZSTD_MAGIC):
                return
            data = self._head
            self._start()
            self._head = b""
        assert self._feed is not None
        self._feed(data)

    def finish(self) -> str:
        """Check the stream ended whole; its diff_id (``sha256:`` of the tar)."""
        if self._problem is not None:
            raise self._problem
        if self._feed is None:  # shorter than any magic number
            data = self._head
            self._start()
            self._head = b""
            assert self._feed is not None
            self._feed(data)
        self._finish()
        self._tar.finish()
        return f"sha256:{self._hash.hexdigest()}"
