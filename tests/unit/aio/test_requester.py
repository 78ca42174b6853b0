"""AsyncRequester: the exchange flow on the event loop (httpx.MockTransport answers)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import http.client
import json
import select
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import requests.adapters
import requests_mock
import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # (tests/: _sockets)

from _sockets import read_head, tls_absolute_proxy

from registry_client import NullAuthenticator, Registry, TokenAuthenticator
from registry_client._exchange import TransmitError
from registry_client._flow import back_off
from registry_client._http import connection_failure, through_proxy
from registry_client._request import Relay, Request
from registry_client.aio import AsyncRegistry
from registry_client.aio._requester import AsyncRequester
from registry_client.aio._run import arun
from registry_client.aio._shell import AsyncShell
from registry_client.errors import (
    AuthenticationError,
    RegistryError,
    RegistryResponseError,
    RegistrySSLError,
    RegistryUnavailableError,
)
from registry_client.requester import Requester
from registry_client.testing import self_signed_certificate, tcp_server

DOMAIN = "registry.example"
BASE = f"https://{DOMAIN}"


def _requester(handler: Callable[[httpx.Request], Any], **kw: Any) -> AsyncRequester:
    kw.setdefault("authenticator", NullAuthenticator())
    return AsyncRequester(DOMAIN, transport=httpx.MockTransport(handler), **kw)


@pytest.mark.anyio
async def test_a_429_pauses_every_task_of_the_registry_together() -> None:
    """The first task's 429 (Retry-After: 1) holds back the requests other tasks send
    afterwards until the same deadline: nobody rediscovers the limit on its own."""
    sent: list[float] = []
    limited = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        if len(sent) == 1:
            limited.set()
            return httpx.Response(429, headers={"Retry-After": "1"})
        return httpx.Response(200, content=b"{}")

    requester = _requester(handler, retries=2, backoff=0.01, max_backoff=5)
    first = asyncio.ensure_future(requester.send_request(Request("GET", "app/tags/list")))
    await limited.wait()
    t429 = sent[0]
    others = await asyncio.gather(*(requester.send_request(Request("GET", f"app{i}/tags/list"))
                                    for i in range(5)))
    assert (await first).status_code == 200
    assert {o.status_code for o in others} == {200}
    assert len(sent) == 7
    assert min(sent[1:]) >= t429 + 0.95  # every later request waited out the same pause
    assert max(sent[1:]) - min(sent[1:]) < 0.5  # ...and then all went together
    await requester.aclose()


@pytest.mark.anyio
async def test_a_shared_back_off_in_a_flow_holds_the_other_tasks_back() -> None:
    """A 429 a flow retries (an upload chunk's) pauses every request to the registry;
    the wait itself is awaited on the loop (a cancel stops it)."""
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return httpx.Response(200, content=b"{}")

    requester = _requester(handler, max_backoff=5)
    t0 = time.monotonic()
    waiting = asyncio.ensure_future(arun(
        back_off(requester.policy, 0, 0.5, pause=requester.pause_all), AsyncShell(requester)))
    await asyncio.sleep(0.05)
    await requester.send_request(Request("GET", "app/tags/list"))
    await waiting
    assert sent[0] - t0 >= 0.45


@pytest.mark.anyio
async def test_a_503_is_retried_and_counted() -> None:
    statuses = iter([503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses), content=b'{"name":"app","tags":["1"]}')

    requester = _requester(handler, backoff=0.0)
    resp = await requester.send_request(Request("GET", "app/tags/list"))
    assert resp.content == b'{"name":"app","tags":["1"]}'
    assert requester.stats["requests"] == 2
    assert requester.stats["bytes_received"] == len(resp.content)
    await requester.aclose()


@pytest.mark.anyio
async def test_a_redirect_of_a_body_read_once_is_a_typed_error(recording_server: Any) -> None:
    """A 307 to a request whose body cannot be rewound (an iterable; a blob relayed from
    another registry): httpx raised its own StreamConsumed, no RegistryError."""
    requester = AsyncRequester(recording_server.host, protocol="http",
                               authenticator=NullAuthenticator(), retries=0)
    with pytest.raises(RegistryError, match="cannot be sent again"):
        await requester.send_request(Request(
            "PATCH", f"http://{recording_server.host}/moved", body=iter([b"abc", b"def"]),
            expected=frozenset({202}), operation="upload a chunk"))
    await requester.aclose()


@pytest.mark.anyio
async def test_a_streamed_answer_is_read_with_aread1() -> None:
    requester = _requester(lambda r: httpx.Response(200, stream=httpx.ByteStream(b"layer")))
    resp = await requester.send_request(Request("GET", "app/blobs/sha256:ab", stream=True))
    assert await resp.aread1(100) == b"layer"
    await resp.aclose()
    await requester.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(("raised", "blocking_raised"), [
    (httpx.ConnectTimeout("timed out"), requests.exceptions.ConnectTimeout("timed out")),
    (httpx.ReadTimeout("timed out"), requests.exceptions.ReadTimeout("timed out")),
], ids=["connect-timeout", "read-timeout"])
async def test_a_timeout_fails_with_the_blocking_api_s_message(
    raised: httpx.HTTPError, blocking_raised: requests.RequestException,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    requester = _requester(handler, retries=1, backoff=0.0)
    request = Request("GET", "app/manifests/1.0", operation="get manifest 1.0 of app")
    with pytest.raises(RegistryUnavailableError) as got:
        await requester.send_request(request)
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/1.0", exc=blocking_raised)
    blocking = Requester(DOMAIN, NullAuthenticator(), session=session, retries=1, backoff=0.0)
    with pytest.raises(RegistryUnavailableError) as want:
        blocking.send_request(request)
    assert str(got.value) == str(want.value)
    assert "2 attempt(s)" in str(got.value)
    await requester.aclose()


def test_options_are_checked_as_the_blocking_requester_checks_them() -> None:
    for bad in ({"protocol": "ftp"}, {"timeout": 0}):
        with pytest.raises(ValueError) as got:
            AsyncRequester(DOMAIN, **bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError) as want:
            Requester(DOMAIN, **bad)  # type: ignore[arg-type]
        assert str(got.value) == str(want.value)


@pytest.mark.anyio
async def test_requests_redirects_and_the_rate_limit_are_counted_by_the_flow() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == DOMAIN and request.method == "GET":
            return httpx.Response(307, headers={"Location": "https://storage.example/b?sig=1"})
        return httpx.Response(200, headers={"ratelimit-limit": "100;w=21600",
                                            "ratelimit-remaining": "76;w=21600"},
                              stream=httpx.ByteStream(b"blob"))

    requester = _requester(handler)
    resp = await requester.send_request(Request("GET", "app/blobs/sha256:ab", stream=True))
    assert resp.history == (f"{BASE}/v2/app/blobs/sha256:ab",)
    await resp.aclose()
    await requester.send_request(Request("PUT", "app/x", body=b"12345",
                                         expected=frozenset({200})))
    stats = requester.stats
    assert (stats["requests"], stats["by_method"], stats["bytes_sent"]) == (
        3, {"GET": 2, "PUT": 1}, 5)
    assert requester.rate_limit is not None
    assert (requester.rate_limit.limit, requester.rate_limit.remaining) == (100, 76)
    await requester.aclose()


def _tls_server(cert: Path, key: Path) -> Callable[[socket.socket], None]:
    context = _server_context(cert, key)

    def handle(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            tls = context.wrap_socket(conn, server_side=True)
            tls.recv(65536)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            tls.close()

    return handle


_PING = Request("GET", "", operation="ping")


@contextlib.asynccontextmanager
async def _both(domain: str, **kw: Any) -> AsyncIterator[tuple[Requester, AsyncRequester]]:
    """A blocking and an asyncio requester of ``domain`` with the same options (no retry
    unless ``retries`` says), closed after."""
    kw.setdefault("retries", 0)
    blocking = Requester(domain, NullAuthenticator(), **kw)
    aio = AsyncRequester(domain, NullAuthenticator(), **kw)
    try:
        yield blocking, aio
    finally:
        blocking.close()
        await aio.aclose()


async def _messages(domain: str, **kw: Any) -> tuple[RegistryError, RegistryError]:
    """The errors of a ping in the blocking and the asyncio flavour."""
    async with _both(domain, **kw) as (blocking, aio):
        with pytest.raises(RegistryError) as want:
            await asyncio.to_thread(blocking.send_request, _PING)
        with pytest.raises(RegistryError) as got:
            await aio.send_request(_PING)
    return want.value, got.value


async def _statuses(domain: str, **kw: Any) -> tuple[int, int]:
    """The statuses a ping answers in the blocking and the asyncio flavour."""
    async with _both(domain, **kw) as (blocking, aio):
        return ((await asyncio.to_thread(blocking.send_request, _PING)).status_code,
                (await aio.send_request(_PING)).status_code)


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.anyio
@pytest.mark.parametrize("protocol", ["https", "http"])
async def test_tls_failures_read_as_the_blocking_api_says_them(
    tmp_path: Path, protocol: str,
) -> None:
    """An untrusted certificate, and plain HTTP sent to a TLS port."""
    cert, key = self_signed_certificate(tmp_path)
    with tcp_server(_tls_server(cert, key)) as port:
        want, got = await _messages(f"127.0.0.1:{port}", protocol=protocol, timeout=(1, 1))
    assert (type(got), str(got)) == (type(want), str(want))
    if protocol == "https":
        assert isinstance(got, RegistrySSLError)
        assert "certificate not trusted" in str(got)


@pytest.mark.anyio
async def test_a_registry_asking_for_a_client_certificate_reads_the_same_in_both(
    tmp_path: Path,
) -> None:
    """Mutual TLS, no client certificate sent: TLS 1.3 says so in an alert after the
    handshake, which httpx does not wrap -- the asyncio flavour let a bare ssl.SSLError
    out. Both flavours: RegistrySSLError, and no "verify=False skips the check" (no
    check of ours failed: the registry wants a certificate)."""
    cert, key = self_signed_certificate(tmp_path)
    context = _server_context(cert, key)
    context.load_verify_locations(cert)
    context.verify_mode = ssl.CERT_REQUIRED

    def handle(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            tls = context.wrap_socket(conn, server_side=True)
            tls.recv(65536)
        time.sleep(0.5)  # (a reset of a socket closed with bytes unread may beat the alert)

    with tcp_server(handle) as port, tcp_server(_connect_proxy) as proxy_port:
        for via in ({}, {"proxy": f"http://127.0.0.1:{proxy_port}"}):  # (httpx's own pool)
            want, got = await _messages(f"127.0.0.1:{port}", protocol="https",
                                        verify=str(cert), timeout=(2, 2), **via)
            assert type(got) is type(want) is RegistrySSLError, via
            # (the alert races the server's close: now and then a client reads the end of
            # the connection first, "EOF occurred in violation of protocol")
            for error in (want, got):
                if "ALERT" in str(error):
                    assert "client certificate" in str(error), error
                    assert "verify=False" not in str(error), error
            assert "ALERT" in str(want) or "ALERT" in str(got)


def _connect_proxy(conn: socket.socket) -> None:
    """An HTTP proxy's CONNECT: the tunnel, then the bytes both ways until one side ends."""
    head = read_head(conn)
    if b"\r\n\r\n" not in head:
        return
    host, _, port = head.split(b" ", 2)[1].decode().rpartition(":")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=5) as upstream:
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if isinstance(conn, ssl.SSLSocket):
            _pipe_in_one_thread(conn, upstream)
            return

        def pipe(a: socket.socket, b: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while data := a.recv(65536):
                    b.sendall(data)
            with contextlib.suppress(OSError):
                b.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=pipe, args=(upstream, conn), daemon=True)
        back.start()
        pipe(conn, upstream)
        back.join(5)


def _pipe_in_one_thread(conn: ssl.SSLSocket, upstream: socket.socket) -> None:
    """The bytes both ways between an https:// proxy's TLS socket and the registry, in one
    thread: read in one thread and written in another (two pipe threads), a TLS socket
    now and then garbled its records under load -- the registry behind it saw
    TLSV1_ALERT_DECODE_ERROR."""
    with contextlib.suppress(OSError):
        while True:
            ready = [conn] if conn.pending() else select.select(
                [conn, upstream], [], [], 5)[0]
            if not ready:
                return
            for end in ready:
                data = end.recv(65536)
                if not data:
                    return
                (upstream if end is conn else conn).sendall(data)


@pytest.mark.anyio
async def test_a_ca_bundle_given_is_trusted_as_by_the_blocking_api(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    with tcp_server(_tls_server(cert, key)) as port:
        requester = AsyncRequester(f"127.0.0.1:{port}", NullAuthenticator(), verify=str(cert))
        resp = await requester.send_request(Request("GET", ""))
        await requester.aclose()
    assert (resp.status_code, resp.content) == (200, b"{}")


@pytest.mark.anyio
async def test_bodies_go_out_with_the_length_the_blocking_api_sends(tmp_path: Path) -> None:
    got: list[tuple[bytes, str | None, str | None]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        got.append((await request.aread(), request.headers.get("Content-Length"),
                    request.headers.get("Transfer-Encoding")))
        return httpx.Response(201, stream=httpx.ByteStream(b"source bytes"))

    requester = _requester(handler)
    path = tmp_path / "layer"
    path.write_bytes(b"0123456789")

    def put(body: Any, headers: dict[str, str] | None = None) -> Request:
        return Request("PUT", "app/blobs/uploads/u", body=body, headers=headers,
                       expected=frozenset({201}))

    with path.open("rb") as f:
        f.seek(3)
        await requester.send_request(put(f))
    await requester.send_request(put(iter([b"ab", b"cd"])))
    source = await requester.send_request(Request("PUT", "x", stream=True,
                                                  expected=frozenset({201})))
    seen: list[bytes] = []
    await requester.send_request(put(Relay(source, seen.append),
                                     headers={"Content-Length": "12"}))
    assert got[0] == (b"3456789", "7", None)
    assert got[1] == (b"abcd", None, "chunked")
    assert got[3] == (b"source bytes", "12", None)
    assert b"".join(seen) == b"source bytes"
    await requester.aclose()


@pytest.mark.parametrize(("blocking", "asyncio_", "kind", "retried"), [
    (requests.ConnectionError(ConnectionRefusedError(111, "refused")),
     httpx.ConnectError("refused"), None, True),
    (requests.exceptions.ChunkedEncodingError("cut"), httpx.RemoteProtocolError("cut"),
     "broken", True),
    (requests.ReadTimeout("slow"), httpx.ReadTimeout("slow"), "read-timeout", True),
    (requests.TooManyRedirects("loop"), httpx.TooManyRedirects("loop"), "client", False),
    (requests.exceptions.ContentDecodingError("gz"), httpx.DecodingError("gz"), "client",
     False),
])
def test_both_shells_retry_the_same_failures(
    blocking: Exception, asyncio_: Exception, kind: str | None, retried: bool,
) -> None:
    """One rule decides what is worth another try, from the shared (kind, words)."""
    from registry_client.aio._requester import _transmit_error
    from registry_client.requester import transmit_error

    sync_error = transmit_error(blocking)  # type: ignore[arg-type]
    async_error = _transmit_error(asyncio_)  # type: ignore[arg-type]
    assert (sync_error.connection, async_error.connection) == (retried, retried)
    if kind is not None:
        assert (sync_error.kind, async_error.kind) == (kind, kind)


@pytest.mark.anyio
async def test_gathered_requests_answered_whole_run_at_most_pool_size_at_once() -> None:
    """200 gathered manifests.get share a pool of connections: no more than pool_size of
    them are in flight together, and every one is answered."""
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return httpx.Response(200, content=b"{}")

    requester = _requester(handler, pool_size=3)
    answers = await asyncio.gather(*(requester.send_request(Request("GET", f"app/tags/{i}"))
                                     for i in range(30)))
    assert [a.status_code for a in answers] == [200] * 30
    assert peak == 3
    await requester.aclose()


def _token_registry(
    on_token: Callable[[httpx.Request], Awaitable[None]],
) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
    """A registry asking for a Bearer token (auth.example) and its token server, which
    awaits ``on_token(request)`` before each answer."""
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            await on_token(request)
            return httpx.Response(200, json={"token": "t", "expires_in": 300})
        if not request.headers.get("Authorization"):
            return httpx.Response(401, headers={"WWW-Authenticate": (
                'Bearer realm="https://auth.example/token",service="registry.example"')})
        return httpx.Response(200, content=b"{}")

    return handler


@pytest.mark.anyio
async def test_requests_waiting_for_a_token_take_no_slot_from_other_scopes() -> None:
    """Ten tasks waiting for one scope's token (a slow token server) held every slot of
    the bound, and a request of another scope, whose token comes at once, waited for
    them -- the blocking flavour's does not. A slot is taken to send, not to wait."""
    slow_scope = "repository:slow:pull"

    async def token(request: httpx.Request) -> None:
        if slow_scope in request.url.params.get_list("scope"):
            await asyncio.sleep(1.0)

    requester = _requester(_token_registry(token), pool_size=2,
                           authenticator=TokenAuthenticator())
    warm = Request("GET", "warm/tags/list", scopes=("repository:warm:pull",))
    assert (await requester.send_request(warm)).status_code == 200  # the challenge known

    async def fast() -> float:
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await requester.send_request(
            Request("GET", "fast/tags/list", scopes=("repository:fast:pull",)))
        return time.monotonic() - started

    *_, took = await asyncio.gather(
        *(requester.send_request(Request("GET", "slow/tags/list", scopes=(slow_scope,)))
          for _ in range(4)), fast())
    assert took < 0.5, took
    await requester.aclose()


@pytest.mark.anyio
async def test_token_requests_of_many_scopes_run_at_most_pool_size_at_once() -> None:
    """Their slot is not a request's: 30 gathered requests of 30 repositories do not
    send 30 token requests at once either."""
    in_flight = peak = 0

    async def token(request: httpx.Request) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1

    requester = _requester(_token_registry(token), pool_size=3,
                           authenticator=TokenAuthenticator())
    await requester.send_request(Request("GET", "r/tags/list", scopes=("repository:r:pull",)))
    answers = await asyncio.gather(*(
        requester.send_request(Request("GET", f"r{i}/tags/list",
                                       scopes=(f"repository:r{i}:pull",)))
        for i in range(30)))
    assert [a.status_code for a in answers] == [200] * 30
    assert peak == 3
    await requester.aclose()


@pytest.mark.anyio
async def test_streamed_answers_are_not_bound_so_their_holders_never_wait_on_each_other(
) -> None:
    """Streamed requests (blobs) take no slot: with every slot's worth of them still in
    flight, a request answered whole goes out -- a bound on them could deadlock a flow
    that holds one open while it sends another request."""
    release = asyncio.Event()
    streamed = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal streamed
        if "blobs" in request.url.path:
            streamed += 1
            await release.wait()  # held until the plain request got through
            return httpx.Response(200, content=b"blob")
        if streamed == 3:
            release.set()
        return httpx.Response(200, content=b"{}")

    requester = _requester(handler, pool_size=2)
    # the registry's first request goes alone (auth unknown): send it first
    assert (await requester.send_request(Request("GET", "app/tags/list"))).status_code == 200
    blobs = [asyncio.ensure_future(requester.send_request(
        Request("GET", f"app/blobs/sha256:{i}", stream=True))) for i in range(3)]
    async def all_sent() -> None:
        while streamed < 3:
            await asyncio.sleep(0.001)

    await asyncio.wait_for(all_sent(), 5)
    plain = await asyncio.wait_for(requester.send_request(Request("GET", "app/tags/list")), 5)
    assert plain.status_code == 200
    for answer in await asyncio.gather(*blobs):
        assert answer.status_code == 200
        await answer.aclose()
    await requester.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_a_refused_proxy_is_named_as_the_proxy_as_the_blocking_api_names_it(
    scheme: str,
) -> None:
    """httpx says only ConnectError when the proxy refuses: the registry was never
    reached, so the words are the blocking flavour's ("the proxy ... refused")."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proxy = f"http://user:pa55@127.0.0.1:{port}"
    messages = []
    blocking = Requester("registry.example.test:5000", NullAuthenticator(), protocol=scheme,
                         retries=0, proxy=proxy)
    flavour = AsyncRequester("registry.example.test:5000", NullAuthenticator(),
                             protocol=scheme, retries=0, proxy=proxy)
    with pytest.raises(RegistryUnavailableError) as caught:
        blocking.send_request(Request("GET", "", operation="ping"))
    messages.append(str(caught.value))
    try:
        with pytest.raises(RegistryUnavailableError) as caught:
            await flavour.send_request(Request("GET", "", operation="ping"))
        messages.append(str(caught.value))
    finally:
        await flavour.aclose()
    assert messages[0] == messages[1]
    assert "proxy" in messages[1] and "is a registry listening" not in messages[1]


async def _both_flavours_fail(
    port: int, **kw: Any,
) -> tuple[RegistryError, RegistryError, float]:
    """``(asyncio's error, the blocking flavour's, seconds asyncio took)`` for one GET
    to the loopback ``port`` with the requesters' options ``kw``."""
    requester = AsyncRequester(f"127.0.0.1:{port}", NullAuthenticator(), **kw)
    started = time.monotonic()
    try:
        with pytest.raises(RegistryError) as failed:
            await requester.send_request(Request("GET", "app/tags/list"))
    finally:
        await requester.aclose()
    elapsed = time.monotonic() - started
    blocking = Requester(f"127.0.0.1:{port}", NullAuthenticator(), **kw)
    with pytest.raises(RegistryError) as caught:
        blocking.send_request(Request("GET", "app/tags/list"))
    return failed.value, caught.value, elapsed


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "close"), [
    (b"HELLO THERE\r\n\r\n", True),
    (b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n", True),  # an SSH port: a line, no head
    (b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n", False),  # ... waiting for the client
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5000000\r\n\r\n{}", True),
    (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
     True),  # a protocol switch nobody asked for: no HTTP answer follows
], ids=["status-line", "ssh-closes", "ssh-waits", "two-lengths", "unasked-switch"])
async def test_an_answer_that_is_not_http_is_the_blocking_flavours_error_at_once(
    answer: bytes, close: bool,
) -> None:
    """A malformed answer, not retried, and the same message in both flavours -- also
    from a server that sends one line that is no status line and then waits."""
    connections: list[int] = []

    def handle(conn: socket.socket) -> None:
        connections.append(1)
        conn.recv(65536)
        conn.sendall(answer)
        if not close:  # waiting for the client (a while: the next client waits meanwhile)
            conn.settimeout(0.3)
            with contextlib.suppress(OSError):
                conn.recv(65536)

    with tcp_server(handle) as port:
        failed, caught, elapsed = await _both_flavours_fail(
            port, protocol="http", retries=2, backoff=0.0, timeout=(2, 2))
    assert type(failed) is type(caught) is RegistryResponseError
    assert elapsed < 1  # not a read timeout
    assert str(failed) == str(caught)
    assert "not valid HTTP" in str(caught)
    assert len(connections) == 2  # one each


def _greets(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.6p1\r\n")  # speaks first, as SSH and SMTP do
    conn.settimeout(1)
    with contextlib.suppress(OSError):
        conn.recv(65536)


def _hangs_up(conn: socket.socket) -> None:
    conn.shutdown(socket.SHUT_WR)  # a FIN at once, before the client's hello...
    conn.settimeout(1)
    with contextlib.suppress(OSError):
        while conn.recv(65536):  # ...still reading: a close now would be a reset (RST)
            pass


def _hangs_up_after_the_hello(conn: socket.socket) -> None:
    conn.settimeout(1)
    with contextlib.suppress(OSError):
        conn.recv(65536)
    conn.shutdown(socket.SHUT_RDWR)  # a FIN: a TLS passthrough with no backend


@pytest.mark.anyio
@pytest.mark.parametrize("handle", [_greets, _hangs_up, _hangs_up_after_the_hello],
                         ids=["greets-first", "hangs-up", "hangs-up-after-hello"])
async def test_https_to_a_server_that_is_no_tls_fails_at_once_as_in_the_blocking_flavour(
    handle: Callable[[socket.socket], None],
) -> None:
    """What the server sent (or its hang-up) before the TLS handshake began was lost to
    the handshake, which then waited for the whole connect timeout; a FIN during the
    handshake read as "connection reset". Both now fail as the blocking flavour does."""
    with tcp_server(handle) as port:
        failed, caught, elapsed = await _both_flavours_fail(
            port, verify=False, retries=0, timeout=(3, 3))
    assert elapsed < 2  # not the connect timeout
    assert type(failed) is type(caught) is RegistrySSLError
    assert str(failed) == str(caught)


@pytest.mark.anyio
async def test_a_tls_handshake_never_answered_is_a_connect_timeout_in_both_flavours() -> None:
    """The handshake runs under the connect timeout; urllib3 reports it as a read
    timeout, and the blocking message named the read timeout (3 s) for a 1 s wait."""
    def silent(conn: socket.socket) -> None:
        conn.settimeout(2)
        with contextlib.suppress(OSError):
            while conn.recv(65536):  # the hello, never answered; then the client's hang-up
                pass

    with tcp_server(silent) as port:
        failed, caught, _ = await _both_flavours_fail(
            port, verify=False, retries=0, timeout=(0.5, 3))
    assert type(failed) is type(caught) is RegistryUnavailableError
    assert str(failed) == str(caught)
    assert "connect timed out" in str(caught) and "0.5 s" in str(caught)


def _redirects_to(location: bytes) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        conn.settimeout(0.5)
        with contextlib.suppress(OSError):
            while conn.recv(65536):
                conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: " + location
                             + b"\r\nContent-Length: 0\r\n\r\n")
    return handle


@pytest.mark.anyio
@pytest.mark.parametrize("location", [
    b"ftp://storage.example/blob", b"file:///etc/passwd", b"http://127.0.0.1:99999/x",
    b"http://[::1/x",
], ids=["ftp", "file", "port-out-of-range", "bad-ipv6"])
async def test_a_redirect_to_a_url_no_client_can_follow_is_one_error_in_both_flavours(
    location: bytes,
) -> None:
    """A Location the client cannot follow is the registry's answer we cannot use: the
    same typed error and words in both flavours, at once (asyncio said httpx's words,
    raised an untyped ExceptionGroup for a port out of range, or retried a bad IPv6
    URL as a broken connection)."""
    with tcp_server(_redirects_to(location)) as port:
        failed, caught, elapsed = await _both_flavours_fail(
            port, protocol="http", retries=3, backoff=0.0, timeout=(2, 2))
    assert type(failed) is type(caught) is RegistryResponseError
    assert str(failed) == str(caught)
    scheme = location.split(b":", 1)[0].decode()
    if scheme not in ("http", "https"):
        assert f"a URL of the scheme {scheme!r} cannot be followed" in str(caught)
    assert elapsed < 1


@pytest.mark.anyio
async def test_a_long_blob_cut_at_once_is_the_typed_error_of_a_cut() -> None:
    """A body of 4 MiB or more goes to a worker thread reading a copy of the socket; a
    hang-up that closed the socket first made that copy an untyped EBADF OSError."""
    big = bytes(range(256)) * (8 << 12)
    digest = "sha256:" + hashlib.sha256(big).hexdigest()

    def cut(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(big) + big[:100])

    with tcp_server(cut) as port:
        for _ in range(3):  # (a race: the hang-up must land before the hand-over)
            async with AsyncRegistry(f"127.0.0.1:{port}", protocol="http", retries=1,
                                     backoff=0.0) as reg:
                with pytest.raises(RegistryUnavailableError):
                    await reg.repository("app").blobs.get(digest)


@pytest.mark.anyio
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "gzip, gzip", "identity, gzip"])
async def test_a_compressed_bomb_costs_no_more_memory_than_the_cap_it_breaks(
    encoding: str,
) -> None:
    """httpx inflates each received block whole: a 64 KiB block of a gzip bomb became
    ~64 MiB before the 4 MiB cap could refuse it (130 MiB per request, measured), and
    a header of two codings went to httpx whole (1 GiB for a 1 KB body). The body is
    inflated in steps that stop at the cap."""
    import tracemalloc
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 15 if encoding == "deflate" else 31)
    zeros = bytes(1 << 20)
    bomb = b"".join(packer.compress(zeros) for _ in range(256)) + packer.flush()  # 256 MiB
    if encoding == "gzip, gzip":
        bomb = gzip.compress(bomb)

    class Sent(httpx.AsyncByteStream):  # as a network answer comes: 64 KiB blocks
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for at in range(0, len(bomb), 1 << 16):
                yield bomb[at:at + (1 << 16)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Sent(), headers={
            "Content-Encoding": encoding, "Content-Type": "application/json"})

    requester = _requester(handler, retries=0)
    tracemalloc.start()
    try:
        with pytest.raises(RegistryResponseError, match="limit"):
            await requester.send_request(Request("GET", "app/manifests/1.0"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await requester.aclose()
    assert peak < 24 << 20, peak


@pytest.mark.anyio
async def test_a_socks_proxy_without_socks_support_is_said_plainly_in_both_flavours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """requests without PySocks said "could not use the registry's answer (an unusable
    URL)"; httpx without socksio raised a bare ImportError. (Neither extra is made
    available here, installed or not: requests' stand-in without PySocks, and no
    socksio for httpx to import.)"""
    def no_pysocks(*args: Any, **kwargs: Any) -> None:
        raise requests.exceptions.InvalidSchema("Missing dependencies for SOCKS support.")

    monkeypatch.setattr(requests.adapters, "SOCKSProxyManager", no_pysocks)
    monkeypatch.setitem(sys.modules, "socksio", None)
    with tcp_server(lambda conn: None) as port:
        failed, caught, _ = await _both_flavours_fail(
            port, proxy="socks5h://127.0.0.1:9", retries=0)
    assert type(failed) is type(caught) is RegistryUnavailableError
    assert str(failed) == str(caught)
    assert "SOCKS" in str(caught) and "requests[socks]" in str(caught)


@pytest.mark.anyio
async def test_a_plain_authenticator_gets_a_requests_response_in_the_asyncio_api_too() -> None:
    """The docs promise a custom authenticator's plain hooks get a requests.Response in
    both flavours; the asyncio API handed handle_response its own answer object, and a
    hook reading .reason, .json() or .text failed with an untyped AttributeError."""
    seen: list[Any] = []

    class Custom:
        def handle_request(self, request: requests.PreparedRequest) -> None:
            if seen:
                request.headers["Authorization"] = "Bearer custom"

        def handle_response(self, response: requests.Response) -> bool:
            seen.append((type(response), response.reason, response.json(), response.text,
                         response.headers["WWW-Authenticate"], response.request))
            return True

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") == "Bearer custom":
            return httpx.Response(200, content=b'{"name":"app","tags":["1"]}')
        return httpx.Response(401, headers={"WWW-Authenticate": 'Custom realm="r"'},
                              json={"errors": [{"code": "UNAUTHORIZED"}]})

    requester = _requester(handler, authenticator=Custom())
    resp = await requester.send_request(Request("GET", "app/tags/list"))
    assert resp.status_code == 200
    kind, reason, doc, text, challenge, sent = seen[0]
    assert kind is requests.Response and reason == "Unauthorized"
    assert doc == {"errors": [{"code": "UNAUTHORIZED"}]} and "UNAUTHORIZED" in text
    assert challenge == 'Custom realm="r"' and isinstance(sent, requests.PreparedRequest)
    await requester.aclose()


@pytest.mark.anyio
async def test_a_plain_authenticator_declining_a_401_gives_the_401_as_its_error() -> None:
    """Its 401 was read for the hook's requests.Response; reading it again for the
    error raised httpx.StreamConsumed -- no AuthenticationError."""

    class Declining:
        def handle_request(self, request: requests.PreparedRequest) -> None:
            pass

        def handle_response(self, response: requests.Response) -> bool:
            return False

    body = b'{"errors": [{"code": "UNAUTHORIZED", "message": "no"}]}'
    answer = (b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Custom realm=\"r\"\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
              % (len(body), body))

    def handle(conn: socket.socket) -> None:  # a real connection: its body is read once
        conn.recv(65536)
        conn.sendall(answer)
        with contextlib.suppress(OSError):  # (a client that keeps the connection: let go)
            conn.recv(65536)

    with tcp_server(handle) as port:
        requester = AsyncRequester(f"127.0.0.1:{port}", Declining(), protocol="http",
                                   retries=0)
        with pytest.raises(AuthenticationError, match="UNAUTHORIZED: no"):
            await requester.send_request(Request("GET", "app/tags/list"))
        await requester.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "retried"), [
    (b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n", False),
    (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", False),
    (b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", True),
    (b"HTTP/1.1 407\r\nContent-Length: 0\r\n\r\n", False),  # (no reason phrase)
])
async def test_a_proxy_refusing_the_tunnel_says_so_in_both_flavours(
    answer: bytes, retried: bool,
) -> None:
    """A proxy answering CONNECT with 407 was "the proxy could not be reached or failed"
    (its answer only in a -v traceback), tried four times with backoff: what it said,
    now, and a 4xx -- the same credentials get the same answer -- not tried again."""
    connects: list[int] = []

    def proxy(conn: socket.socket) -> None:
        connects.append(1)
        with contextlib.suppress(OSError):
            conn.recv(65536)
            conn.sendall(answer)

    with tcp_server(proxy) as port:
        want, got = await _messages("registry.example:443", protocol="https",
                                    proxy=f"http://127.0.0.1:{port}", retries=2,
                                    backoff=0.0, timeout=(2, 2))
    assert (type(got), str(got)) == (type(want), str(want))
    assert isinstance(got, RegistryUnavailableError)
    status = answer.split(b"\r\n")[0][9:].decode().strip()
    assert f"the proxy refused the tunnel ({status})" in str(got)
    assert len(connects) == (6 if retried else 2)  # (both flavours: 3 tries each, or 1)


@pytest.mark.anyio
async def test_an_https_proxy_s_certificate_is_checked_with_verify_in_both(
    tmp_path: Path,
) -> None:
    """An https:// proxy whose certificate a private CA signed, trusted by verify= (or
    REQUESTS_CA_BUNDLE): the blocking flavour trusted it, the asyncio one checked it
    against httpx's defaults -- "certificate not trusted", naming the registry."""
    cert, key = self_signed_certificate(tmp_path)
    proxy_context = _server_context(cert, key)

    def tls_proxy(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            _connect_proxy(proxy_context.wrap_socket(conn, server_side=True))

    with tcp_server(_tls_server(cert, key)) as port, tcp_server(tls_proxy) as proxy_port:
        assert await _statuses(f"127.0.0.1:{port}", protocol="https", verify=str(cert),
                               proxy=f"https://127.0.0.1:{proxy_port}",
                               timeout=(2, 2)) == (200, 200)


@pytest.mark.anyio
@pytest.mark.parametrize(("protocol", "trusted", "blamed"), [
    ("http", "none", "proxy"), ("https", "none", "proxy"),
    ("https", "proxy", "registry"),
], ids=["proxy-before-http", "proxy-before-https", "registry-behind-proxy"])
async def test_a_certificate_refused_names_the_proxy_or_the_registry_alike(
    tmp_path: Path, protocol: str, trusted: str, blamed: str,
) -> None:
    """An https:// proxy whose certificate is not trusted: the blocking flavour said
    "the proxy could not be reached or failed" (unavailable, the TLS cause dropped), the
    asyncio one a TLS error of the registry's certificate. Both say now whose
    certificate it was, in one error type."""
    (tmp_path / "proxy").mkdir()
    (tmp_path / "registry").mkdir()
    proxy_cert, proxy_key = self_signed_certificate(tmp_path / "proxy")
    registry_cert, registry_key = self_signed_certificate(tmp_path / "registry")
    proxy_context = _server_context(proxy_cert, proxy_key)

    def tls_proxy(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            tls = proxy_context.wrap_socket(conn, server_side=True)
            if protocol == "https":
                _connect_proxy(tls)
            else:
                tls.recv(65536)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    with tcp_server(_tls_server(registry_cert, registry_key)) as port, \
            tcp_server(tls_proxy) as proxy_port:
        want, got = await _messages(
            f"127.0.0.1:{port}", protocol=protocol, timeout=(2, 2),
            verify=str(proxy_cert) if trusted == "proxy" else True,
            proxy=f"https://127.0.0.1:{proxy_port}")
    assert (type(got), str(got)) == (type(want), str(want))
    assert isinstance(got, RegistrySSLError)
    assert "certificate not trusted" in str(got)
    assert ("the proxy" in str(got)) is (blamed == "proxy"), str(got)
    # a proxy's hints are a proxy's: no protocol= (the registry's) for its certificate
    assert ("protocol='http'" in str(got)) is (blamed == "registry"), str(got)


@pytest.mark.anyio
async def test_a_plain_http_proxy_given_as_https_is_told_so_in_both() -> None:
    """Its TLS hello answered in plain HTTP: the advice was the registry's ("use
    protocol='http'"), which the user had given already."""
    def plain_proxy(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with tcp_server(plain_proxy) as proxy_port:
        want, got = await _messages("registry.example:5000", protocol="http", timeout=(2, 2),
                                    proxy=f"https://127.0.0.1:{proxy_port}")
    assert (type(got), str(got)) == (type(want), str(want))
    assert "is it a plain-HTTP proxy? give its URL with http://" in str(got), str(got)


@pytest.mark.anyio
@pytest.mark.parametrize("through", ["https-proxy", "direct"])
async def test_a_handshake_cut_by_a_reset_reads_alike(through: str) -> None:
    """A peer that resets (or never answers) the TLS handshake: the blocking flavour
    says the proxy (or the registry) could not be reached -- a connection failure,
    retried -- where the asyncio one said a TLS error of the registry's certificate,
    never retried: an SSLWantReadError, anyio's word for "more to read", lay in the
    chain of the reset and was taken for a TLS failure."""
    def reset(conn: socket.socket) -> None:
        conn.recv(1024)  # the ClientHello
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    def registry(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    with tcp_server(reset) as cut_port, tcp_server(registry) as port:
        if through == "https-proxy":
            kw: dict[str, Any] = {"protocol": "http", "proxy": f"https://127.0.0.1:{cut_port}"}
            domain = f"127.0.0.1:{port}"
        else:
            kw, domain = {"protocol": "https"}, f"127.0.0.1:{cut_port}"
        want, got = await _messages(domain, timeout=(1, 1), **kw)
    assert (type(got), str(got)) == (type(want), str(want))
    assert not isinstance(got, RegistrySSLError)


@pytest.mark.anyio
async def test_a_proxy_that_closes_without_answering_reads_alike() -> None:
    """urllib3 calls it the proxy's failure; the asyncio flavour said the server closed
    without answering, "is it an HTTPS port? use protocol='https'" -- the registry's
    advice, for the proxy's hang-up."""
    def closing_proxy(conn: socket.socket) -> None:
        read_head(conn)  # the request, then nothing

    with tcp_server(closing_proxy) as proxy_port:
        want, got = await _messages("registry.example:5000", protocol="http",
                                    timeout=(2, 2), proxy=f"http://127.0.0.1:{proxy_port}")
    assert (type(got), str(got)) == (type(want), str(want))
    assert "the proxy closed the connection without answering" in str(got), str(got)


def test_a_proxy_s_hang_up_after_the_request_may_have_passed_it_on() -> None:
    """Both flavours called it "the proxy could not be reached" (never sent): a DELETE
    the proxy passed on and the registry did (202), its answer lost, was sent again and
    its 404 raised NotFoundError. A hang-up after the request is one that may have been
    acted on, as any server's."""
    lost = requests.exceptions.ProxyError(urllib3.exceptions.ProxyError(
        "Unable to connect to proxy", http.client.RemoteDisconnected("no answer")))
    kinds = {connection_failure(lost)[0],
             through_proxy("closed", "the server closed the connection without answering")[0]}
    assert kinds == {"proxy-closed"}
    assert TransmitError("proxy-closed", "").sent and TransmitError("proxy-closed", "").connection


@pytest.mark.anyio
async def test_an_https_proxy_in_front_of_a_plain_http_registry_is_checked_too(
    tmp_path: Path,
) -> None:
    """urllib3 left an https:// proxy unchecked when the registry behind it speaks plain
    HTTP -- and sent it the proxy's password -- where the asyncio flavour refused it:
    both check it now, and trust it when verify= names its CA."""
    cert, key = self_signed_certificate(tmp_path)
    seen: list[bytes] = []
    with tcp_server(tls_absolute_proxy(_server_context(cert, key), seen)) as proxy_port:
        kw: dict[str, Any] = {"protocol": "http", "timeout": (2, 2),
                              "proxy": f"https://user:pw-SECRET@127.0.0.1:{proxy_port}"}
        await _messages("registry.example:5000", verify=True, **kw)  # (both refuse it)
        assert seen == []  # nothing (no password) went to the untrusted one
        assert await _statuses("registry.example:5000", verify=str(cert), **kw) == (200, 200)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["app/tags/list", "app/blobs/sha256:" + "a" * 64])
async def test_a_redirect_to_an_empty_location_is_the_final_answer_in_both_flavours(
    path: str,
) -> None:
    """requests reads a 3xx whose Location is empty as the final answer; httpx followed
    it back to the same URL 20 times, then failed with another error."""
    requests_seen: list[int] = []

    def handle(conn: socket.socket) -> None:
        conn.settimeout(0.5)  # (a client that keeps its connection: let it go)
        with contextlib.suppress(OSError):
            while conn.recv(65536):
                requests_seen.append(1)
                conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: \r\n"
                             b"Content-Length: 0\r\n\r\n")

    errors = []
    with tcp_server(handle) as port:
        requester = AsyncRequester(f"127.0.0.1:{port}", NullAuthenticator(), protocol="http",
                                   retries=0)
        try:
            with pytest.raises(RegistryError) as failed:
                await requester.send_request(Request("GET", path))
        finally:
            await requester.aclose()
        errors.append(failed.value)
        seen_async = len(requests_seen)
        with pytest.raises(RegistryError) as caught:
            Requester(f"127.0.0.1:{port}", NullAuthenticator(), protocol="http",
                      retries=0).send_request(Request("GET", path))
        errors.append(caught.value)
    assert type(errors[0]) is type(errors[1]) is RegistryResponseError
    assert str(errors[0]) == str(errors[1])
    assert seen_async == 1 and len(requests_seen) == 2


def _serving(body: bytes, encoding: str, seen: list[int],
             chunked: bool) -> Callable[[socket.socket], None]:
    """A server answering every request with ``body`` as JSON of ``encoding`` (with its
    length, or ``chunked`` in one chunk), counting the requests in ``seen``."""
    framed = (b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
              if chunked else b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def handle(conn: socket.socket) -> None:
        conn.settimeout(0.5)
        with contextlib.suppress(OSError):
            while conn.recv(65536):
                seen.append(1)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Encoding: %s\r\n" % encoding.encode() + framed)
    return handle


@pytest.mark.anyio
@pytest.mark.parametrize(("encoding", "body", "chunked", "said"), [
    ("gzip, gzip, gzip", gzip.compress(gzip.compress(gzip.compress(b'{"tags": []}'))), False,
     "the body does not decode (a body of 3 content codings is refused)"),
    ("gzip", gzip.compress(b"") * 250_000 + gzip.compress(b'{"tags": []}'), True,
     "response body exceeds the 4194304-byte limit"),
], ids=["3-codings", "over-the-cap-compressed"])
async def test_a_body_that_does_not_decode_is_the_same_error_once_in_both_flavours(
    encoding: str, body: bytes, chunked: bool, said: str,
) -> None:
    """The registry sends such an answer every time: a RegistryResponseError, not retried
    (it was "unavailable" after 4 tries). A body over the cap encoded is over it as one
    plain (5 MB of empty gzip members read, all for nothing)."""
    seen: list[int] = []
    with tcp_server(_serving(body, encoding, seen, chunked)) as port:
        failed, caught, _ = await _both_flavours_fail(port, protocol="http", retries=3,
                                                      backoff=0.0)
    assert type(failed) is type(caught) is RegistryResponseError
    assert str(failed) == str(caught)  # (one said ContentDecodingError, one DecodingError)
    assert said in str(caught)
    assert len(seen) == 2  # one GET each


@pytest.mark.anyio
@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
async def test_a_compressed_body_cut_short_is_a_cut_body_in_both_flavours(framing: str) -> None:
    """A gzip stream that stops before its end is a body cut short, whatever its framing
    says -- one a connection's close delimits cannot tell a cut from an end: retried
    (and read whole the second time), as any cut body is."""
    tags = [f"t{i}" for i in range(100)]
    whole = gzip.compress(json.dumps({"name": "app", "tags": tags}).encode(), mtime=0)
    seen: list[int] = []
    always_cut = [False]

    def handle(conn: socket.socket) -> None:  # (one answer a connection)
        conn.settimeout(2)
        with contextlib.suppress(OSError):
            if not read_head(conn):
                return
            seen.append(1)
            cut = always_cut[0] or len(seen) % 2  # (cut, then whole)
            body = whole[:-6] if cut else whole
            framed = {"close": b"\r\n%s",
                      "chunked": b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n",
                      "length": b"Content-Length: %d\r\n\r\n%s"}[framing]
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Encoding: gzip\r\nConnection: close\r\n"
                         + (framed % body if framing == "close" else framed % (len(body), body)))

    with tcp_server(handle) as port:
        async with AsyncRegistry(f"127.0.0.1:{port}", protocol="http", retries=2,
                                 backoff=0.0) as areg:
            assert (await areg.repository("app").tags.list()).tags == tags
        with Registry(f"127.0.0.1:{port}", protocol="http", retries=2, backoff=0.0) as reg:
            assert reg.repository("app").tags.list().tags == tags
        assert len(seen) == 4  # (a cut, then whole, in each flavour)
        always_cut[0] = True
        failed, caught, _ = await _both_flavours_fail(port, protocol="http", retries=0)
    assert type(failed) is type(caught) is RegistryUnavailableError
    assert str(failed) == str(caught)
    assert "broke in the middle of the answer" in str(caught)


@pytest.mark.anyio
async def test_a_registrys_warnings_are_logged_once_in_both_flavours(
    mock_registries: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    """distribution-spec, "Warnings": a client SHOULD report a registry's ``Warning:
    299 - "..."`` headers to the user unobtrusively, once for repeated answers, and
    take no action on them. They were dropped; now each distinct one is logged once per
    registry (the CLI shows warnings on stderr). Other codes (a cache's) are not the
    registry's."""
    areg, reg, router = mock_registries()
    warned = {"Warning": '299 - "this image is deprecated", 110 - "Response is Stale", '
                         '299 - "use \\"app2\\" instead"', "Content-Type": "application/json"}
    router.add("GET", "/v2/app/tags/list", body=b'{"name": "app", "tags": ["1"]}',
               headers=warned)
    for flavour in ("asyncio", "blocking"):
        caplog.clear()
        with caplog.at_level("WARNING", logger="registry_client"):
            for _ in range(3):
                if flavour == "asyncio":
                    assert await areg.repository("app").tags.get_all() == ["1"]
                else:
                    assert reg.repository("app").tags.get_all() == ["1"]
        said = [r.getMessage() for r in caplog.records if r.name.startswith("registry_client")]
        assert said == ["registry.example: the registry warns: this image is deprecated",
                        'registry.example: the registry warns: use "app2" instead'], flavour
