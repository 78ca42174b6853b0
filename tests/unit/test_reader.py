"""BlobReceiver, the protocol of reading a blob without the I/O: Range, Content-Range,
sizes, skipping what a server ignoring Range sends again, the digest, resumes."""

from __future__ import annotations

import hashlib
import os

import pytest

from registry_client._http import body_broken
from registry_client._reader import BlobReceiver
from registry_client.errors import DigestMismatchError, RegistryUnavailableError

DATA = os.urandom(10_000)
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


class Answer:
    """The status and headers of an answer: all a receiver reads of it."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status_code, self.headers = status, headers


def _answer(status: int, **headers: str) -> Answer:
    return Answer(status, headers)


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
