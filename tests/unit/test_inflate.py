"""Content-Encoding undone in bounded steps (``registry_client._inflate``)."""

from __future__ import annotations

import gzip
import zlib

import pytest

from registry_client._inflate import (
    STEP,
    InflateCut,
    InflateError,
    InflateLimit,
    Inflater,
    codings_to_undo,
)


def undo(header: str, data: bytes, limit: int | None = None, block: int = 1000) -> bytes:
    codings = codings_to_undo(header)
    assert codings is not None
    inflater = Inflater(codings, limit)
    out = [b for i in range(0, len(data), block) for b in inflater.feed(data[i:i + block])]
    return b"".join([*out, *inflater.flush()])


@pytest.mark.parametrize(("header", "expected"), [
    ("", []), ("identity", []), ("gzip", ["gzip"]), (" GZIP ", ["gzip"]),
    ("deflate, gzip", ["gzip", "deflate"]), ("identity, x-gzip", ["x-gzip"]),
    ("br", None), ("gzip, zstd", None),
])
def test_the_codings_to_undo_are_the_applied_ones_last_first(
        header: str, expected: list[str] | None) -> None:
    assert codings_to_undo(header) == expected


def test_gzip_deflate_raw_deflate_and_chains_inflate() -> None:
    text = b'{"tags": ["a", "b"]}' * 500
    raw = zlib.compressobj(wbits=-15)
    raw_deflate = raw.compress(text) + raw.flush()
    assert undo("gzip", gzip.compress(text)) == text
    assert undo("deflate", zlib.compress(text)) == text
    assert undo("deflate", raw_deflate) == text
    # (one byte at a time: zlib or raw is told only once an output came, as urllib3 does)
    assert undo("deflate", raw_deflate, block=1) == text
    assert undo("deflate", zlib.compress(text), block=1) == text
    assert undo("deflate, gzip", gzip.compress(zlib.compress(text))) == text
    # gzip members one after another, trailing garbage after them dropped (as urllib3)
    assert undo("gzip", gzip.compress(b"a") + gzip.compress(b"b") + b"junk") == b"ab"


def test_a_bomb_comes_out_in_bounded_blocks() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20))
    inflater = Inflater(["gzip"])
    blocks = inflater.feed(bomb)
    assert len(next(blocks)) <= STEP  # (the caller's cap stops it here)


@pytest.mark.parametrize("header", ["gzip", "gzip, gzip"])
def test_a_body_a_stage_takes_more_of_than_the_limit_allows_is_refused(header: str) -> None:
    # 2 MB of empty gzip members inflate to nothing: a reader's cap never sees a byte,
    # and without a bound the inflater would read (and burn CPU) for ever
    body = gzip.compress(b"") * 100_000
    if header == "gzip, gzip":
        body = gzip.compress(body)  # (the outer stage takes in ~5 KB)
    codings = codings_to_undo(header)
    assert codings is not None
    inflater = Inflater(codings, limit=1 << 20)
    with pytest.raises(InflateLimit, match="past the size"):
        for _ in inflater.feed(body):
            pass
    assert undo(header, body) == b""  # (without a limit: read to its end)


def test_what_does_not_inflate_and_too_many_codings_are_refused() -> None:
    with pytest.raises(InflateError, match="does not inflate"):
        undo("gzip", b"not gzip at all")
    with pytest.raises(InflateError, match="does not inflate"):
        undo("deflate", b"\xff\xff\xff\xff")
    with pytest.raises(InflateError, match="3 content codings"):
        Inflater(["gzip", "gzip", "gzip"])


@pytest.mark.parametrize(("header", "whole"), [
    ("gzip", gzip.compress(b"x" * 1000, mtime=0)),
    ("deflate", zlib.compress(b"x" * 1000)),
    ("gzip", gzip.compress(b"a", mtime=0) + gzip.compress(b"x" * 1000, mtime=0)),
    ("deflate, gzip", gzip.compress(zlib.compress(b"x" * 1000), mtime=0)),
], ids=["gzip", "deflate", "gzip-second-member", "deflate-in-gzip"])
def test_a_body_whose_stream_is_cut_short_is_refused_not_taken_as_whole(
        header: str, whole: bytes) -> None:
    """urllib3 and httpx hand out what a cut stream inflates to: a manifest read by tag
    got the digest of its first part, silently."""
    assert undo(header, whole)  # (whole, it reads)
    with pytest.raises(InflateCut, match="ends before"):
        undo(header, whole[:-6])


def test_an_empty_body_and_trailing_bytes_of_no_member_are_no_cut_stream() -> None:
    assert undo("gzip", b"") == b""
    assert undo("deflate", b"") == b""
    assert undo("deflate", zlib.compress(b"")) == b""
    # (bytes after the last member that start no member: dropped, as urllib3 drops them)
    assert undo("gzip", gzip.compress(b"a") + b"\0") == b"a"
    assert undo("gzip", gzip.compress(b"a") + b"\0" * 20) == b"a"


@pytest.mark.parametrize("cut", [1, 2, 10, 12])
def test_a_later_member_cut_before_it_gave_anything_is_a_cut_stream(cut: int) -> None:
    """A member that began (gzip's magic) and was cut before its first output was
    taken for trailing garbage, and the body for its first member alone: Python's gzip
    and Go refuse it."""
    second = gzip.compress(b"x" * 1000, mtime=0)
    with pytest.raises(InflateCut, match="ends before"):
        undo("gzip", gzip.compress(b"a", mtime=0) + second[:cut])
    corrupt = bytearray(second)
    corrupt[-8] ^= 0xFF  # (its CRC: begun, then corrupt)
    with pytest.raises(InflateError, match="does not inflate"):
        undo("gzip", gzip.compress(b"a", mtime=0) + bytes(corrupt))
