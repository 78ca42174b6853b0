"""A body's ``Content-Encoding`` undone in bounded steps, by both flavours' readers.

The HTTP libraries inflate each block they receive whole: one 64 KiB block of a
compression bomb is ~64 MiB before a reader's cap sees a byte of it (httpx; urllib3
before 2.6, which this library still allows), and a header of several codings
(``gzip, gzip``) multiplies that. :class:`Inflater` hands out at most ``STEP`` bytes at
a time whatever the codings, and with a ``limit`` stops a stage taking in more than a
body of ``limit`` bytes could be encoded as (which also bounds the CPU an answer that
inflates to nothing can cost). Only the standard library is imported: every layer may
use it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

__all__ = ["STEP", "InflateCut", "InflateError", "InflateLimit", "Inflater", "codings_to_undo"]

STEP = 1 << 20
"""The most bytes one step of inflating hands out."""

_INFLATABLE = frozenset({"gzip", "x-gzip", "deflate"})
_MAGIC = b"\x1f\x8b"  # (what a gzip member begins with)
_MAX_CODINGS = 2
"""More codings than this on one body are refused: no server sends them but to hurt."""


class InflateError(ValueError):
    """The body does not inflate as its ``Content-Encoding`` says: not gzip or deflate,
    cut before its stream ends, or of more codings than are undone."""


class InflateCut(InflateError):
    """The body ends before its gzip or deflate stream does: cut short, as a connection
    that broke is (one its close delimits cannot tell a cut from an end)."""


class InflateLimit(ValueError):
    """A stage took in more than a body under the reader's cap could be encoded as: the
    body is over the cap, as one sent plain would be (not an :class:`InflateError`, so
    that a reader says so, in its own words)."""


def codings_to_undo(header: str | None) -> list[str] | None:
    """The codings of a ``Content-Encoding`` header, in the order to undo them (the last
    applied first), ``identity`` left out; None when one is not gzip or deflate (the
    HTTP library's to undo, or not)."""
    applied = [c.strip().lower() for c in (header or "").split(",")]
    applied = [c for c in applied if c and c != "identity"]
    if any(c not in _INFLATABLE for c in applied):
        return None
    return applied[::-1]


class _Stage:
    """One coding undone: gzip (members one after another, as urllib3 reads them) or
    deflate (zlib-wrapped, or raw as some servers send it, as the HTTP libraries read
    it)."""

    def __init__(self, coding: str, budget: int | None) -> None:
        self._gzip = coding != "deflate"
        self._first = True  # (deflate: until the first output, zlib-wrapped or raw is open)
        self._taken = b""  # what deflate took in before its first output
        self._later_member = False
        self._fed = self._out = False  # (the present member/stream took in / gave out)
        self._head = b""  # a later gzip member's first two bytes: its magic, if one
        self._garbage = False  # after the last gzip member: bytes of none, dropped
        self._budget = budget
        self._d = self._new()

    def _new(self) -> zlib._Decompress:
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._budget is not None:
            self._budget -= len(data)
            if self._budget < 0:
                raise InflateLimit("the body inflates past the size the read takes")
        while data and not self._garbage:
            if self._d.eof:  # what follows the end: gzip's next member (deflate: dropped)
                if not self._gzip:
                    return
                self._d, self._later_member, self._out = self._new(), True, False
                self._head = b""
            self._fed = True
            if self._later_member and len(self._head) < 2:
                self._head += data[:2 - len(self._head)]
            try:
                out = self._d.decompress(data, STEP)
            except zlib.error as exc:
                if self._later_member and not self._member():
                    self._garbage = True  # trailing garbage: dropped, as urllib3 drops it
                    return
                if self._gzip or not self._first:
                    raise InflateError(f"the {'gzip' if self._gzip else 'deflate'} body "
                                       f"does not inflate ({exc})") from None
                # raw deflate, read again from its start
                self._d, self._first = zlib.decompressobj(-zlib.MAX_WBITS), False
                data, self._taken = self._taken + data, b""
                continue
            if self._first and not self._gzip:
                if not out:
                    self._taken += data  # (a header's bytes: all a first block may hold)
                    if len(self._taken) < 64 << 10:
                        data = self._d.unconsumed_tail or self._d.unused_data
                        continue
                self._first, self._taken = False, b""
            data = self._d.unconsumed_tail or self._d.unused_data
            if out:
                self._out = True
                yield out

    def _member(self) -> bool:
        """Whether the bytes after a gzip member begin another (gave out bytes, or start
        with gzip's magic -- its first byte, when the body ends there): not trailing
        garbage, which is dropped."""
        return self._out or (bool(self._head) and _MAGIC.startswith(self._head))

    def flush(self) -> bytes:
        if self._garbage:
            return b""
        try:
            tail = self._d.flush()
        except zlib.error as exc:
            raise InflateError(f"the body does not inflate ({exc})") from None
        # A stream cut short inflates to its first part, which urllib3 and httpx hand
        # out as the body (Python's gzip and Go refuse it).
        if self._fed and not self._d.eof and (
                not self._later_member or tail or self._member()):
            raise InflateCut(f"the {'gzip' if self._gzip else 'deflate'} body ends "
                             "before its stream does")
        return tail


class Inflater:
    """The codings :func:`codings_to_undo` named, undone as blocks arrive.

    Args:
        codings: the codings to undo, in that order.
        limit: the most bytes the reader takes (then it refuses the body): each stage
            takes in at most what a body that long could be encoded as. None: no limit.

    Raises (from :meth:`feed` and :meth:`flush`):
        InflateError: the body does not inflate, or has more than two codings;
            InflateCut: it is cut short.
        InflateLimit: the body would inflate past ``limit``.
    """

    def __init__(self, codings: list[str], limit: int | None = None) -> None:
        if len(codings) > _MAX_CODINGS:
            raise InflateError(f"a body of {len(codings)} content codings is refused")
        # deflate's worst case grows a body by 5 bytes a 64 KiB block, gzip adds ~20
        budget = None if limit is None else limit + limit // 64 + (64 << 10)
        self._stages = [_Stage(c, budget) for c in codings]

    def feed(self, data: bytes) -> Iterator[bytes]:
        """``data`` (the next bytes as served), undone, in blocks of at most ``STEP``."""
        return self._through(0, data)

    def flush(self) -> Iterator[bytes]:
        """What is left once every block was fed."""
        for k, stage in enumerate(self._stages):
            tail = stage.flush()
            if tail:
                yield from self._through(k + 1, tail)

    def _through(self, k: int, data: bytes) -> Iterator[bytes]:
        if k == len(self._stages):
            if data:
                yield data
            return
        for block in self._stages[k].feed(data):
            yield from self._through(k + 1, block)
