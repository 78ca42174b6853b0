"""BlobReader (``blobs.open``) through Registry with a requests-mock adapter: hashing, the
check at the last byte, resuming a cut -- by the flows every other blob read follows."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from typing import Any

import pytest
import requests_mock
import urllib3

from registry_client import Registry, _digest
from registry_client._http import connection_failure
from registry_client.errors import DigestMismatchError, RegistryUnavailableError
from registry_client.services._blob_reader import BlobReader

BASE = "https://registry.example"
DATA = os.urandom(10_000)
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
URL = f"{BASE}/v2/app/blobs/{DIGEST}"
MockedRegistry = Callable[..., tuple[Registry, requests_mock.Adapter]]


class Body(io.RawIOBase):
    """A body on the wire: at most 1000 bytes a read; the connection breaks once ``cut_at``
    bytes went out (None: never)."""

    def __init__(self, data: bytes, cut_at: int | None = None) -> None:
        self._data = data if cut_at is None else data[:cut_at]
        self._cut = cut_at is not None

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if not self._data and self._cut:
            raise urllib3.exceptions.ProtocolError("Connection broken: connection reset")
        k = min(len(b), len(self._data), 1000)
        b[:k] = self._data[:k]
        self._data = self._data[k:]
        return k


def answer(offset: int = 0, *, cut: int | None = None, honour_range: bool = True,
           length: int | None = None) -> dict[str, Any]:
    """The registry's answer to a GET from ``offset``, cut after ``cut`` bytes of the blob."""
    total = len(DATA) if length is None else length
    if offset and honour_range:
        body = Body(DATA[offset:], None if cut is None else cut - offset)
        headers = {"Content-Range": f"bytes {offset}-{len(DATA) - 1}/{total}"}
        status = 206
    else:
        body, headers, status = Body(DATA, cut), {"Content-Length": str(total)}, 200
    return {"raw": urllib3.HTTPResponse(body=body, preload_content=False, status=status,
                                        headers=headers)}


def ranges(adapter: requests_mock.Adapter) -> list[str | None]:
    return [r.headers.get("Range") for r in adapter.request_history]


def test_a_whole_blob_is_read_hashed_and_counted(mocked_registry: MockedRegistry) -> None:
    reg, adapter = mocked_registry()
    adapter.register_uri("GET", URL, [answer()])
    reader = reg.repository("app").blobs.open(DIGEST)
    assert isinstance(reader, BlobReader)
    assert reader.expected_size == len(DATA)
    assert reader.read() == DATA
    assert reader.tell() == len(DATA)
    assert reg.requester.stats["bytes_received"] == len(DATA)
    assert reader.read(100) == b""  # a verified end
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader.tell()


def test_wrong_content_raises_before_its_last_byte_is_handed_over(
    mocked_registry: MockedRegistry,
) -> None:
    reg, adapter = mocked_registry()
    bad = DATA[:-1] + bytes([DATA[-1] ^ 1])
    adapter.register_uri("GET", URL, content=bad, headers={"Content-Length": str(len(bad))})
    reader = reg.repository("app").blobs.open(DIGEST)
    got = b""
    while len(got) < len(DATA) - 1000:
        got += reader.read(len(DATA) - 1000 - len(got))
    assert got == bad[:-1000]
    with pytest.raises(DigestMismatchError, match=f"content is sha256:.*{DIGEST}"):
        reader.read(1000)
    with pytest.raises(DigestMismatchError):  # and it stays failed
        reader.read(1000)


def test_a_cut_is_resumed_with_range_from_where_it_got_to(
    mocked_registry: MockedRegistry,
) -> None:
    reg, adapter = mocked_registry(retries=3)
    adapter.register_uri("GET", URL, [answer(cut=3500), answer(3500, cut=7200), answer(7200)])
    with reg.repository("app").blobs.open(DIGEST) as reader:
        assert reader.read() == DATA
        assert not reader.restarted  # type: ignore[attr-defined]
    assert ranges(adapter) == [None, "bytes=3500-", "bytes=7200-"]


def test_a_server_ignoring_range_is_skipped_to_where_the_cut_was(
    mocked_registry: MockedRegistry,
) -> None:
    reg, adapter = mocked_registry()
    adapter.register_uri("GET", URL, [answer(cut=4000), answer(4000, honour_range=False)])
    with reg.repository("app").blobs.open(DIGEST) as reader:
        assert reader.read() == DATA  # each byte once
        assert reader.restarted  # type: ignore[attr-defined]
    assert ranges(adapter) == [None, "bytes=4000-"]


def test_small_reads_across_a_server_ignoring_range_skip_what_was_delivered(
    mocked_registry: MockedRegistry,
) -> None:
    """A read whose blocks are all bytes already delivered reads on: it never returns an
    early b"" (an end) before the blob's."""
    reg, adapter = mocked_registry()
    adapter.register_uri("GET", URL, [answer(cut=4000), answer(4000, honour_range=False)])
    with reg.repository("app").blobs.open(DIGEST) as reader:
        got = b""
        while block := reader.read(700):
            assert len(block) <= 700
            got += block
    assert got == DATA


def test_cuts_beyond_the_retries_are_an_unavailable_registry_in_the_drain_s_words(
    mocked_registry: MockedRegistry,
) -> None:
    reg, adapter = mocked_registry(retries=2)
    adapter.register_uri("GET", URL, [answer(cut=1000), answer(1000, cut=2000),
                                      answer(2000, cut=3000)])
    reader = reg.repository("app").blobs.open(DIGEST)
    with pytest.raises(RegistryUnavailableError) as caught:
        reader.read()
    words = connection_failure(urllib3.exceptions.ProtocolError("Connection broken"))[1]
    assert str(caught.value).endswith(f"cut at byte 3000 and could not be resumed ({words})")
    assert caught.value.__cause__ is not None
    with pytest.raises(RegistryUnavailableError):  # the answer is gone: reading on fails
        reader.read()


def test_an_announced_size_other_than_the_expected_one_is_refused_at_open(
    mocked_registry: MockedRegistry,
) -> None:
    reg, adapter = mocked_registry()
    adapter.register_uri("GET", URL, [answer()])
    with pytest.raises(DigestMismatchError, match="announced 10000 bytes, expected 9999"):
        reg.repository("app").blobs.open(DIGEST, expected_size=9999)


def test_more_bytes_than_announced_are_refused(mocked_registry: MockedRegistry) -> None:
    reg, adapter = mocked_registry()
    adapter.register_uri("GET", URL, [answer(length=9500)])
    reader = reg.repository("app").blobs.open(DIGEST)
    with pytest.raises(DigestMismatchError, match="more than the 9500 bytes announced"):
        reader.read()


def test_an_answer_without_a_size_is_bounded_by_a_head(
    mocked_registry: MockedRegistry,
) -> None:
    reg, adapter = mocked_registry()
    adapter.register_uri("GET", URL, content=DATA, headers={"Content-Length": ""})
    adapter.register_uri("HEAD", URL, headers={"Content-Length": str(len(DATA))})
    with reg.repository("app").blobs.open(DIGEST) as reader:
        assert reader.expected_size == len(DATA)  # type: ignore[attr-defined]
        assert reader.read() == DATA
    assert [r.method for r in adapter.request_history] == ["GET", "HEAD"]


def test_verify_after_the_last_byte_and_readinto(mocked_registry: MockedRegistry) -> None:
    reg, adapter = mocked_registry()
    adapter.register_uri("GET", URL, [answer()])
    with reg.repository("app").blobs.open(DIGEST) as reader:
        buffer = bytearray(len(DATA))
        got = 0
        while got < len(DATA):
            got += reader.readinto(memoryview(buffer)[got:])
        assert bytes(buffer) == DATA
        reader.verify()  # type: ignore[attr-defined]  # nothing follows, digest right
        assert reader.readinto(bytearray(10)) == 0


def test_a_read_interrupted_leaves_the_reader_closed_not_at_a_clean_end(
    mocked_registry: MockedRegistry,
) -> None:
    """Ctrl-C in the middle of a read: the answer is gone, and every later read returned
    b"" -- a clean end of a blob cut short, its digest never checked."""
    reg, adapter = mocked_registry()

    class Interrupting(Body):
        def readinto(self, b: Any) -> int:
            if not self._data or len(self._data) < len(DATA) // 2:
                raise KeyboardInterrupt
            return super().readinto(b)

    adapter.register_uri("GET", URL, [{"raw": urllib3.HTTPResponse(
        body=Interrupting(DATA), preload_content=False, status=200,
        headers={"Content-Length": str(len(DATA))})}])
    reader = reg.repository("app").blobs.open(DIGEST)
    with pytest.raises(KeyboardInterrupt):
        reader.read()
    with pytest.raises(ValueError, match="closed"):
        reader.read(100)


def test_a_reader_closed_by_another_thread_mid_read_keeps_no_answer(
    mocked_registry: MockedRegistry,
) -> None:
    reg, adapter = mocked_registry()
    reader: Any = None

    class ClosingMidway(Body):
        def readinto(self, b: Any) -> int:
            if len(self._data) < len(DATA) // 2 and not reader.closed:
                reader.close()  # as another thread would, while this read goes on
            return super().readinto(b)

    answer = urllib3.HTTPResponse(body=ClosingMidway(DATA), preload_content=False,
                                  status=200, headers={"Content-Length": str(len(DATA))})
    adapter.register_uri("GET", URL, [{"raw": answer}])
    reader = reg.repository("app").blobs.open(DIGEST)
    reader.read(len(DATA) - 1)
    assert reader.closed and reader._resp is None


def test_a_reader_closed_half_way_gives_back_its_hashing_slot(
    mocked_registry: MockedRegistry,
) -> None:
    """A blobs.open reader read in large blocks counts as a blob being read; closed before
    its end (and kept), it counted until the garbage collector freed it: every later
    download of the process hashed inline meanwhile."""
    big = os.urandom(3 << 20)
    digest = "sha256:" + hashlib.sha256(big).hexdigest()
    reg, adapter = mocked_registry()
    adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{digest}", content=big,
                         headers={"Content-Length": str(len(big))})
    before = _digest._overlap.streams
    reader = reg.repository("app").blobs.open(digest)
    assert len(reader.read(2 << 20)) == 2 << 20
    assert _digest._overlap.streams == before + 1
    reader.close()
    assert _digest._overlap.streams == before
