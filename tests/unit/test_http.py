"""The HTTP helpers (_http): capped body reads, status to typed error, the registry's
error list, Retry-After; on hand-built responses."""

from __future__ import annotations

import email.utils
import gzip
import io
import json
import socket
import time
import tracemalloc
from typing import Any

import pytest
import requests
import urllib3

from registry_client import Registry
from registry_client._http import (
    content_length,
    error_list,
    read_capped,
    registry_warnings,
    retry_after,
    same_origin,
    status_error,
)
from registry_client.errors import (
    AuthenticationError,
    AuthorizationError,
    InsufficientScopeError,
    NotFoundError,
    RegistryError,
    RegistryResponseError,
    RegistryUnavailableError,
)
from registry_client.testing import tcp_server

MANIFEST_URL = "https://registry.example/v2/app/manifests/latest"
ERRORS_BODY = json.dumps(
    {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown",
                 "detail": {"Tag": "latest"}}]}
).encode()


def raw_response(
    status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None,
    url: str = MANIFEST_URL,
) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.raw = urllib3.HTTPResponse(body=io.BytesIO(body), preload_content=False)
    r.headers.update(headers or {})
    r.url = url
    return r


def test_read_capped() -> None:
    assert read_capped(raw_response(body=b"hello"), 5) == b"hello"
    with pytest.raises(RegistryResponseError):
        read_capped(raw_response(body=b"hello!"), 5)
    with pytest.raises(RegistryResponseError) as info:
        read_capped(raw_response(body=b"x", headers={"Content-Length": "6"}), 5)
    assert info.value.status_code == 200
    for bad in ("abc", "-1", "1e3"):
        with pytest.raises(RegistryResponseError):
            read_capped(raw_response(body=b"x", headers={"Content-Length": bad}), 5)


@pytest.mark.parametrize(("value", "length"), [
    ("415", 415), (" 415\t", 415), ("415, 415", 415), ("415,415 ,415", 415), ("0", 0),
    ("415, 416", None), ("-1", None), ("+415", None), ("4e2", None), ("", None),
    ("\u00b2", None), (None, None),
])
def test_content_length_reads_what_rfc_9110_allows(value: str | None,
                                                    length: int | None) -> None:
    """Whitespace around it, and the header sent twice with one value (clients join
    repeated headers with a comma): the blocking flavour refused both ("no usable
    Content-Length"), where the asyncio one and requests took them."""
    headers = {} if value is None else {"Content-Length": value}
    assert content_length(headers) == length
    assert content_length({**headers, "Content-Encoding": "gzip"}) is None  # encoded bytes
    assert content_length({**headers, "Content-Encoding": "gzip"}, decoded=False) == length


@pytest.mark.parametrize("status", [204, 304])
def test_an_answer_that_has_no_body_ignores_its_content_length(status: int) -> None:
    """A 204 with a Content-Length (a DELETE's answer): the registry had deleted the
    blob, and the call failed "shorter than its Content-Length"."""
    assert read_capped(raw_response(status, b"", {"Content-Length": "98"}), 100) == b""


def test_a_duplicated_content_length_is_read_by_a_capped_read() -> None:
    assert read_capped(raw_response(body=b"hello", headers={"Content-Length": "5, 5"}),
                       10) == b"hello"
    with pytest.raises(RegistryResponseError, match="invalid Content-Length"):
        read_capped(raw_response(body=b"hello", headers={"Content-Length": "5, 6"}), 10)


def test_read_capped_cut_body_is_unavailable() -> None:
    class Cut(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            raise urllib3.exceptions.ProtocolError("connection broken")

    r = raw_response()
    r.raw = urllib3.HTTPResponse(body=Cut(), preload_content=False)
    with pytest.raises(RegistryUnavailableError):
        read_capped(r, 100)


@pytest.mark.parametrize(
    ("status", "headers", "cls"),
    [
        (401, {}, AuthenticationError),
        (401, {"WWW-Authenticate": 'Bearer realm="r",error="insufficient_scope"'},
         InsufficientScopeError),
        (401, {"WWW-Authenticate": 'Bearer realm="r'}, AuthenticationError),
        (403, {}, AuthorizationError),
        (404, {}, NotFoundError),
        (429, {}, RegistryUnavailableError),
        (500, {}, RegistryUnavailableError),
        (502, {}, RegistryUnavailableError),
        (503, {}, RegistryUnavailableError),
        (504, {}, RegistryUnavailableError),
        (400, {}, RegistryResponseError),
        (409, {}, RegistryResponseError),
        (201, {}, RegistryResponseError),
    ],
)
def test_status_error(status: int, headers: dict[str, str], cls: type[RegistryError]) -> None:
    resp = raw_response(status, ERRORS_BODY, headers)
    with pytest.raises(cls) as info:
        raise status_error(resp, ERRORS_BODY, context="get manifest latest (registry.example/app)",
                           method="GET")
    assert type(info.value) is cls
    assert info.value.status_code == status
    assert info.value.codes == ["MANIFEST_UNKNOWN"]
    assert "get manifest latest" in str(info.value)
    assert "manifest unknown" in str(info.value)


def test_control_characters_the_registry_sends_are_quoted_escaped() -> None:
    """A registry's text reaches terminals and log files through the message: an escape
    sequence in it (retitle the terminal, clear the screen) is shown, never acted on."""
    body = json.dumps({"errors": [{"code": "DENIED",
                                   "message": "no \x1b]0;PWNED\x07\x1b[2J here\r\n"}]})
    with pytest.raises(AuthorizationError) as info:
        raise status_error(raw_response(403), body.encode(), context="c", method="GET")
    message = str(info.value)
    assert message.endswith("(DENIED: no \\x1b]0;PWNED\\x07\\x1b[2J here\\r\\n)")
    assert message.isprintable()


def test_credentials_a_registry_quotes_back_are_masked_in_every_part_of_errors() -> None:
    """The message was masked, an error's ``detail`` (any JSON) kept the credentials --
    and ``.errors`` is in the exception's pickle (Dask) and in what apps log."""
    import pickle

    basic, bearer = "Basic YWxpY2U6czNjcmV0", "Bearer TOKEN-SECRET-XYZ"
    body = json.dumps({"errors": [{
        "code": "DENIED", "message": f"bad Authorization: {basic}",
        "detail": {"authorization": basic, "seen": [bearer, {"deep": "s3cret"}], "n": 1}}]})
    with pytest.raises(RegistryError) as info:
        raise status_error(raw_response(400), body.encode(), context="c", method="GET",
                           secrets=["s3cret"])
    dumped = pickle.dumps(info.value) + repr(info.value.errors).encode()
    for secret in (b"YWxpY2U6czNjcmV0", b"TOKEN-SECRET-XYZ", b"s3cret"):
        assert secret not in dumped
    assert info.value.errors[0]["detail"]["n"] == 1  # what is no secret stays


def test_a_407_says_a_proxy_wants_credentials() -> None:
    """A plain-HTTP registry's request goes to the proxy whole, and a proxy that wants
    credentials answers it 407: "GET http://... -> 407" read as the registry's answer."""
    with pytest.raises(RegistryResponseError) as info:
        raise status_error(raw_response(407), b"", context="ping", method="GET")
    assert "a proxy between here and the registry wants credentials" in str(info.value)
    assert info.value.status_code == 407


def test_a_401_insufficient_scope_is_both_a_refusal_of_rights_and_a_401() -> None:
    """The contract's hierarchy: a 401 after authenticating is an AuthenticationError;
    insufficient_scope says the credentials are fine but may not do this, an
    AuthorizationError: it is both, so `except` of either catches it."""
    resp = raw_response(401, ERRORS_BODY, {
        "WWW-Authenticate": 'Bearer realm="r",error="insufficient_scope"'})
    with pytest.raises(InsufficientScopeError) as info:
        raise status_error(resp, ERRORS_BODY, context="push", method="PUT")
    assert isinstance(info.value, AuthenticationError)
    assert isinstance(info.value, AuthorizationError)
    assert info.value.status_code == 401


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (ERRORS_BODY, [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown",
                        "detail": {"Tag": "latest"}}]),
        (b'{"errors":[{"code":"DENIED","extra":1},"junk",3]}', [{"code": "DENIED"}]),
        (b'{"errors":null}', []),
        (b'{"errors":{"code":"X"}}', []),
        (b"[]", []),
        (b"", []),
        (b"not json", []),
        (b"[" * 100000, []),
    ],
)
def test_error_list(body: bytes, expected: list[dict[str, Any]]) -> None:
    assert error_list(body) == expected


def test_retry_after_values() -> None:
    assert retry_after(raw_response(headers={}), 30) is None
    assert retry_after(raw_response(headers={"Retry-After": "5"}), 30) == 5.0
    assert retry_after(raw_response(headers={"Retry-After": " 5 "}), 30) == 5.0
    assert retry_after(raw_response(headers={"Retry-After": "500"}), 30) == 30.0
    assert retry_after(raw_response(headers={"Retry-After": "0"}), 30) == 0.0
    assert retry_after(raw_response(headers={"Retry-After": "soon"}), 30) is None
    assert retry_after(raw_response(headers={"Retry-After": "-3"}), 30) is None
    past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert retry_after(raw_response(headers={"Retry-After": past}), 30) == 0.0
    future = email.utils.formatdate(time.time() + 20, usegmt=True)
    value = retry_after(raw_response(headers={"Retry-After": future}), 30)
    assert value is not None and 18.0 < value <= 20.0
    far = email.utils.formatdate(time.time() + 3600, usegmt=True)
    assert retry_after(raw_response(headers={"Retry-After": far}), 30) == 30.0


def test_an_unwanted_body_is_read_to_its_end_or_to_the_limit() -> None:
    """The one rule both shells drain an unwanted body by (to keep its connection)."""
    from registry_client._http import UnwantedBody

    rule = UnwantedBody(limit=40)
    assert rule.BLOCK == 16 * 1024
    assert rule.more(b"x" * 30) and rule.more(b"x" * 10)  # 40: not over the limit yet
    assert not rule.more(b"x")  # over it: stop reading, close
    assert not UnwantedBody(limit=40).more(b"")  # the end of the body


def test_a_body_reading_sizes_each_read_and_words_a_cut() -> None:
    """The accounting of a Drain, the same in both shells: reads of ``block_size`` (less
    what is held, never past the limit), the bytes received, the error of a cut."""
    from registry_client._http import BodyCutError, BodyReading

    reading = BodyReading(block_size=100, limit=250)
    assert reading.want() == 100
    reading.took(100)
    assert reading.want(held=30) == 70  # 30 received, not handed on yet
    reading.took(100)
    assert reading.want() == 50  # never past the limit
    reading.took(50)
    assert (reading.want(), reading.total) == (0, 250)
    cut = reading.broken("connection reset by peer")
    assert isinstance(cut, BodyCutError)
    assert str(cut) == "connection broken after 250 bytes of the body: connection reset by peer"
    unlimited = BodyReading(block_size=100, limit=None)
    unlimited.took(10_000)
    assert unlimited.want() == 100


@pytest.mark.parametrize(("url", "other", "same"), [
    ("https://reg.example/v2/app", "https://REG.example", True),  # host names ignore case
    ("HTTPS://reg.example:443/v2/", "https://reg.example", True),  # the default port
    ("http://reg.example:80/", "http://reg.example:80", True),
    ("http://reg.example/", "https://reg.example/", False),
    ("https://reg.example:8443/", "https://reg.example/", False),
    ("https://evil.example/", "https://reg.example/", False),
    ("https://reg.example:99999/", "https://reg.example/", False),  # no such port
    ("https://reg.example:x/", "https://reg.example:x/", False),
])
def test_same_origin(url: str, other: str, same: bool) -> None:
    assert same_origin(url, other) is same


@pytest.mark.parametrize("encoding", ["gzip", "gzip, gzip"])
def test_a_compressed_bomb_costs_no_more_memory_than_the_cap_it_breaks(encoding: str) -> None:
    """urllib3 before 2.6 (which the library allows) inflates each received block
    whole, and one of several codings on the whole body at once: a 1 KB answer was
    1 GiB in memory before the 4 MiB cap could refuse it. The body is inflated in
    bounded steps, whatever urllib3's version."""
    bomb = gzip.compress(bytes(256 << 20), 9)
    if encoding == "gzip, gzip":
        bomb = gzip.compress(bomb, 9)

    def answer(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
                     % (encoding.encode(), len(bomb)) + bomb)

    with tcp_server(answer) as port, Registry(f"127.0.0.1:{port}", protocol="http",
                                              retries=0) as reg:
        tracemalloc.start()
        try:
            with pytest.raises(RegistryResponseError, match=r"limit|past the size"):
                reg.repository("app").manifests.get("1.0")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 24 << 20, peak


def test_a_refusal_by_the_storage_a_redirect_led_to_says_so_not_credentials() -> None:
    # a blob GET redirected to a signed URL that has expired: no credential of ours
    # goes there, so "pass an authenticator" was the wrong advice
    body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
            b"<Message>Request has expired</Message></Error>")
    resp = raw_response(403, body, {"Content-Type": "application/xml"},
                        url="https://bucket.s3.example/blob?X-Amz-Signature=abc")
    resp.history = [raw_response(307, url="https://registry.example/v2/app/blobs/sha256:1")]
    err = status_error(resp, body, context="get blob", method="GET",
                       hint="no credentials were given: pass authenticator=...")
    assert isinstance(err, AuthorizationError)
    assert "(AccessDenied: Request has expired)" in str(err)
    assert "redirected the request to bucket.s3.example, which refused it" in str(err)
    assert "no credentials were given" not in str(err)
    # the registry's own refusal keeps its hint
    own = status_error(raw_response(403), b"", context="c", method="GET", hint="the hint")
    assert str(own).endswith("-- the hint")


@pytest.mark.parametrize(("value", "texts"), [
    ('299 - "deprecated"', ["deprecated"]),
    ('299 registry.example:443 "a, b" "Sat, 25 Aug 2012 23:34:45 GMT", 299 - "c"',
     ["a, b", "c"]),
    ('299 - "say \\"hi\\" \\\\ now"', ['say "hi" \\ now']),
    ('110 - "Response is Stale", 199 proxy "misc"', []),
    ("garbage", []),
    ('299 - "' + "x" * 1000 + '"', ["x" * 300]),
], ids=["one", "agent-date-and-two", "quoted-pairs", "a-caches-codes", "garbage", "cut"])
def test_registry_warnings_are_the_299_texts_of_a_warning_header(
    value: str, texts: list[str],
) -> None:
    assert registry_warnings(value) == texts
