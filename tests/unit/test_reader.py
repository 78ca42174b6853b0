"""VerifyingReader on fake answers: hashing, the check at the last byte, resuming a cut."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest

from registry_client._http import body_broken, connection_failure
from registry_client._reader import BlobReceiver, VerifyingReader
from registry_client.errors import DigestMismatchError, RegistryUnavailableError

DATA = os.urandom(10_000)
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


class Body:
    """A body on the wire: hands over at most ``block`` bytes a read, and is cut (raises
    ConnectionError) once ``cut_at`` bytes went out."""

    def __init__(self, data: bytes, block: int, cut_at: int | None) -> None:
        self.data, self.block, self.cut_at, self.pos = data, block, cut_at, 0

    def read1(self, want: int, **_: Any) -> bytes:
        if self.cut_at is not None and self.pos >= self.cut_at:
            raise ConnectionError("connection reset by peer")
        end = min(self.pos + want, self.pos + self.block, len(self.data))
        if self.cut_at is not None:
            end = min(end, self.cut_at)
        out, self.pos = self.data[self.pos:end], end
        return out

    read = read1


class Answer:
    """A fake streamed answer (status, headers, body); closes like a real one."""

    def __init__(self, status: int, headers: dict[str, str], body: Body) -> None:
        self.status_code, self.headers, self.raw = status, headers, body
        self.closed = False

    def read1(self, want: int) -> bytes:
        return self.raw.read1(want)

    def iter_content(self, size: int) -> list[bytes]:
        return []

    def close(self) -> None:
        self.closed = True


class Registry:
    """Serves ``blob`` to ``opener(offset)`` calls; ``cuts`` lists where each answer is cut,
    ``honour_range`` whether a resume gets a 206 or the whole blob again."""

    def __init__(self, blob: bytes, *, cuts: list[int | None] | None = None,
                 honour_range: bool = True, length: int | None = None) -> None:
        self.blob, self.cuts, self.honour_range = blob, list(cuts or []), honour_range
        self.length = len(blob) if length is None else length
        self.offsets: list[int] = []
        self.answers: list[Answer] = []

    def __call__(self, offset: int) -> Answer:
        self.offsets.append(offset)
        cut = self.cuts.pop(0) if self.cuts else None
        if offset and self.honour_range:
            headers = {"Content-Range": f"bytes {offset}-{len(self.blob) - 1}/{self.length}"}
            body = Body(self.blob[offset:], 1000, None if cut is None else cut - offset)
            answer = Answer(206, headers, body)
        else:
            answer = Answer(200, {"Content-Length": str(self.length)}, Body(self.blob, 1000, cut))
        self.answers.append(answer)
        return answer


def test_a_whole_blob_is_read_hashed_and_counted() -> None:
    seen: list[int] = []
    reader = VerifyingReader(Registry(DATA), DIGEST, on_bytes=seen.append)
    assert reader.expected_size == len(DATA)
    assert reader.read() == DATA
    assert reader.tell() == len(DATA) and sum(seen) == len(DATA)
    assert reader.read(100) == b""  # a verified EOF
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader.tell()


def test_wrong_content_raises_before_its_last_byte_is_handed_over() -> None:
    bad = DATA[:-1] + bytes([DATA[-1] ^ 1])
    reader = VerifyingReader(Registry(bad), DIGEST, what="blob x")
    got = b""
    while len(got) < len(DATA) - 1000:
        got += reader.read(len(DATA) - 1000 - len(got))
    assert got == bad[:-1000]
    with pytest.raises(DigestMismatchError, match=f"blob x: content is sha256:.*{DIGEST}"):
        reader.read(1000)


def test_a_cut_is_resumed_with_range_from_where_it_got_to() -> None:
    registry = Registry(DATA, cuts=[3500, 7200])
    reader = VerifyingReader(registry, DIGEST)
    assert reader.read() == DATA
    assert registry.offsets == [0, 3500, 7200]
    assert not reader.restarted
    assert registry.answers[0].closed and registry.answers[1].closed


def test_a_server_ignoring_range_is_skipped_to_where_the_cut_was() -> None:
    registry = Registry(DATA, cuts=[4000], honour_range=False)
    reader = VerifyingReader(registry, DIGEST)
    assert reader.read() == DATA  # each byte once
    assert registry.offsets == [0, 4000] and reader.restarted


def test_cuts_beyond_max_resumes_are_an_unavailable_registry() -> None:
    registry = Registry(DATA, cuts=[1000, 2000, 3000])
    reader = VerifyingReader(registry, DIGEST, max_resumes=2)
    with pytest.raises(RegistryUnavailableError, match="cut at byte 3000"):
        reader.read()


def test_an_announced_size_other_than_the_expected_one_is_refused() -> None:
    with pytest.raises(DigestMismatchError, match="announced 10000 bytes, expected 9999"):
        VerifyingReader(Registry(DATA), DIGEST, expected_size=9999)


def test_more_bytes_than_announced_are_refused() -> None:
    reader = VerifyingReader(Registry(DATA, length=9500), DIGEST)  # blocks of 1000
    with pytest.raises(DigestMismatchError, match="more than the 9500 bytes announced"):
        reader.read()


# -- BlobReceiver: the protocol without the I/O (the flows of both flavours use it) -------
def _answer(status: int, **headers: str) -> Answer:
    return Answer(status, headers, Body(b"", 1, None))


def test_the_receiver_asks_for_the_bytes_it_lacks() -> None:
    rx = BlobReceiver(DIGEST, start=1234)
    assert rx.headers() == {"Accept-Encoding": "identity", "Range": "bytes=1234-"}
    assert "Range" not in BlobReceiver(DIGEST).headers()


def test_the_receiver_skips_what_it_has_when_the_server_ignores_range() -> None:
    rx = BlobReceiver(DIGEST)
    rx.opened(_answer(200, **{"Content-Length": str(len(DATA))}))
    assert rx.take(DATA[:4000]) == DATA[:4000]
    assert rx.ended() is False  # short of the size announced: resume
    rx.resume(None)
    rx.opened(_answer(200, **{"Content-Length": str(len(DATA))}))  # Range ignored
    assert rx.restarted
    assert rx.take(DATA[:3000]) == b""  # already delivered
    assert rx.take(DATA[3000:5000]) == DATA[4000:5000]
    assert rx.take(DATA[5000:]) == DATA[5000:]
    assert rx.verified and rx.ended()


@pytest.mark.parametrize(("status", "headers", "error"), [
    (206, {"Content-Range": "bytes 0-9999/10000"}, RegistryUnavailableError),  # not 100-
    (206, {"Content-Range": "items 100-9999/10000"}, RegistryUnavailableError),
    (206, {"Content-Range": "bytes 100-9999/9999"}, DigestMismatchError),  # other size
    (200, {"Content-Length": "9999"}, DigestMismatchError),
])
def test_the_receiver_refuses_answers_it_cannot_use(
    status: int, headers: dict[str, str], error: type[Exception],
) -> None:
    rx = BlobReceiver(DIGEST, start=100, expected_size=len(DATA))
    with pytest.raises(error):
        rx.opened(_answer(status, **headers))


def test_the_receiver_checks_the_digest_before_the_last_block_is_handed_on() -> None:
    bad = DATA[:-1] + bytes([DATA[-1] ^ 1])
    rx = BlobReceiver(DIGEST, expected_size=len(DATA))
    assert rx.take(bad[:-10]) == bad[:-10]
    with pytest.raises(DigestMismatchError, match="content is sha256:"):
        rx.take(bad[-10:])
    with pytest.raises(DigestMismatchError, match="more than the 10000 bytes"):
        BlobReceiver(DIGEST, expected_size=len(DATA)).take(DATA + b"x")


def test_the_receiver_resumes_only_as_often_as_allowed() -> None:
    rx = BlobReceiver(DIGEST, max_resumes=1, what="blob x")
    rx.resume(None)
    with pytest.raises(RegistryUnavailableError, match="blob x: the download was cut at byte 0"):
        rx.resume(body_broken(0, "connection reset by peer"))


def test_the_receiver_backs_off_only_after_cuts_that_brought_no_new_byte() -> None:
    rx = BlobReceiver(DIGEST, max_resumes=5)
    rx.take(DATA[:100])
    assert rx.resume(None) is None  # new bytes: at once
    assert [rx.resume(None), rx.resume(None)] == [0, 1]  # nothing new: longer each time
    rx.take(DATA[100:200])
    assert rx.resume(None) is None  # new bytes again: at once, and the count starts over
    assert rx.resume(None) == 0


def test_a_cut_beyond_the_resumes_is_worded_by_the_shell_s_typed_error() -> None:
    """Whichever HTTP library cut it: the words come from the Drain's error, never from
    asking that library's exception types."""
    rx = BlobReceiver(DIGEST, max_resumes=0, what="blob x")
    cut = body_broken(400, "the connection broke in the middle of the answer")
    with pytest.raises(RegistryUnavailableError) as caught:
        rx.resume(cut)
    assert str(caught.value) == ("blob x: the download was cut at byte 0 and could not be "
                                 "resumed (the connection broke in the middle of the answer)")
    assert caught.value.__cause__ is cut


def test_the_blocking_reader_words_a_cut_as_the_blocking_drain() -> None:
    registry = Registry(DATA, cuts=[1000, 2000])
    reader = VerifyingReader(registry, DIGEST, max_resumes=1)
    with pytest.raises(RegistryUnavailableError) as caught:
        reader.read()
    words = connection_failure(ConnectionError("connection reset by peer"))[1]
    assert str(caught.value).endswith(f"cut at byte 2000 and could not be resumed ({words})")
