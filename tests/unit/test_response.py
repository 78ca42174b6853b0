"""The library's own answer: a body read whole, or streamed as served."""

from __future__ import annotations

import io
from collections.abc import Iterator

from registry_client._response import Response


class Wire:
    """A body on the wire: ``read``/``read1`` as served, ``iter_body`` decoded."""

    def __init__(self, served: bytes, decoded: bytes | None = None) -> None:
        self._served = io.BytesIO(served)
        self._decoded = decoded if decoded is not None else served
        self.closed = False

    def read(self, amt: int) -> bytes:
        return self._served.read(amt)

    def read1(self, amt: int) -> bytes:
        return self._served.read1(min(amt, 3))  # what "arrived": 3 bytes at a time

    def iter_body(self, size: int, limit: int | None = None) -> Iterator[bytes]:
        yield self._decoded

    def close(self) -> None:
        self.closed = True


def test_a_body_read_whole_is_its_content_and_nothing_streams() -> None:
    resp = Response(200, {"Content-Type": "application/json"}, "https://r/v2/", b"{}")
    assert resp.content == b"{}" and list(resp.iter_body(10)) == [b"{}"]
    assert resp.read() == b"" and resp.read1(10) == b""
    resp.close()  # nothing to release


def test_a_streamed_body_hands_over_what_arrived() -> None:
    wire = Wire(b"0123456789")
    resp = Response(200, {}, "https://r/v2/x", stream=wire)
    assert resp.read1(100) == b"012"  # no more than arrived, never waits for 100
    buffer = bytearray(4)
    assert resp.readinto(buffer) == 4 and buffer == b"3456"
    assert resp.read() == b"789"  # -1: to the end
    resp.close()
    assert wire.closed


def test_content_of_a_streamed_body_is_decoded_and_kept() -> None:
    wire = Wire(b"\x1f\x8b...", decoded=b'{"tags": []}')
    resp = Response(200, {}, "https://r/v2/x", stream=wire)
    assert resp.content == b'{"tags": []}'
    assert resp.content == b'{"tags": []}'  # read once, kept



class _Sent:
    def __init__(self, headers: dict[str, str] | None) -> None:
        self.request = None if headers is None else type("R", (), {"headers": headers})()


def test_auth_scheme_sent_names_the_scheme_of_the_credentials_never_them() -> None:
    from registry_client._response import auth_scheme_sent

    assert auth_scheme_sent(_Sent({"Authorization": "Basic YWRtaW46cHc="})) == "basic"
    assert auth_scheme_sent(_Sent({"Authorization": "Bearer abc.def"})) == "bearer"
    assert auth_scheme_sent(_Sent({"Authorization": "garbage"})) == ""
    assert auth_scheme_sent(_Sent({})) == ""
    assert auth_scheme_sent(_Sent(None)) == ""
    # an answer that knows it (the library's own) is taken at its word
    assert auth_scheme_sent(Response(401, {}, "", b"", sent_auth_scheme="bearer")) == "bearer"
