"""AsyncTransport: httpx answers as the library's Response, failures worded as the
blocking transport words them."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # (tests/: _sockets)

from _sockets import read_head

from registry_client import NullAuthenticator, Registry
from registry_client._http import connection_failure
from registry_client._request import Relay
from registry_client._response import Response
from registry_client._transport import Transport, tls_reason
from registry_client.aio import AsyncRegistry
from registry_client.aio import _network as network
from registry_client.aio import _transport as transport_module
from registry_client.aio._network import Stopped
from registry_client.aio._transport import (
    AsyncTransport,
    CAOnFirstUse,
    _DirectBody,
    _ThreadBody,
    failure,
    failure_cause,
    is_tls_failure,
)
from registry_client.errors import RegistrySSLError
from registry_client.testing import self_signed_certificate, tcp_server

TIMEOUT = (1.0, 0.3)


def _blocking_failure(url: str) -> tuple[str, str]:
    """``(kind, words)`` of the blocking transport's failure for a GET of ``url``."""
    transport = Transport(None, timeout=TIMEOUT, verify=True, proxy=None, user_agent=None,
                          pool_size=2)
    try:
        transport.send(transport.prepare("GET", url, params=None, headers=None, data=None),
                       allow_redirects=True, timeout=None)
    except requests.RequestException as exc:
        return connection_failure(exc)
    finally:
        transport.close()
    raise AssertionError("the blocking request did not fail")


async def _async_failure(url: str) -> tuple[str, str]:
    base = url.split("/v2", 1)[0]
    transport = AsyncTransport(base, timeout=TIMEOUT, verify=True, proxy=None, user_agent=None,
                               pool_size=2)
    try:
        await transport.send("GET", url)
    except httpx.HTTPError as exc:
        assert not is_tls_failure(exc)
        return failure(exc)
    finally:
        await transport.aclose()
    raise AssertionError("the asyncio request did not fail")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hang_up(conn: socket.socket) -> None:
    conn.recv(65536)


def _reset(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _never_answer(conn: socket.socket) -> None:
    conn.recv(65536)
    time.sleep(TIMEOUT[1] * 3)


@pytest.fixture
def refused_url() -> Iterator[str]:
    yield f"http://127.0.0.1:{_closed_port()}/v2/"


@pytest.mark.anyio
@pytest.mark.parametrize(("handle", "kind", "words"), [
    (_hang_up, "closed", "the server closed the connection without answering"),
    (_reset, "reset", "connection reset by peer"),
    (_never_answer, "read-timeout", "read timed out"),
], ids=["closed", "reset", "read-timeout"])
async def test_a_failure_is_the_kind_the_blocking_transport_says_it_is(
    handle: Callable[[socket.socket], None], kind: str, words: str,
) -> None:
    with tcp_server(handle) as port:
        url = f"http://127.0.0.1:{port}/v2/?n=1"
        blocking = await asyncio.to_thread(_blocking_failure, url)
        said = await _async_failure(url)
    assert said == blocking == (kind, words)


@pytest.mark.anyio
async def test_a_refused_connection_is_the_kind_the_blocking_transport_says_it_is(
    refused_url: str,
) -> None:
    said = await _async_failure(refused_url)
    assert said == _blocking_failure(refused_url) == ("refused", "connection refused")


@pytest.mark.anyio
async def test_a_name_that_does_not_resolve_is_the_kind_the_blocking_transport_says_it_is(
) -> None:
    url = "http://registry.invalid/v2/"
    said = await _async_failure(url)
    assert said == _blocking_failure(url)
    assert said[0] == "dns"


@pytest.mark.parametrize(("raised", "expected"), [
    (httpx.ConnectTimeout("timed out"), ("connect-timeout", "connect timed out")),
    (httpx.ReadTimeout("timed out"), ("read-timeout", "read timed out")),
    (httpx.ProxyError("no"), ("proxy", "the proxy could not be reached or failed")),
    (httpx.RemoteProtocolError("peer closed connection without sending complete message "
                               "body"), ("broken", "the connection broke in the middle of the "
                                                   "answer")),
], ids=["connect-timeout", "read-timeout", "proxy", "broken"])
def test_httpx_failures_have_the_kinds_of_the_blocking_ones(
    raised: httpx.HTTPError, expected: tuple[str, str],
) -> None:
    assert failure(raised) == expected


def test_the_cause_to_chain_is_never_httpx_s_own_exception_with_its_request() -> None:
    request = httpx.Request("GET", "https://registry.example/v2/?token=SECRET")
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as low:
            raise httpx.ConnectError("All connection attempts failed", request=request) from low
    except httpx.ConnectError as exc:
        cause = failure_cause(exc)
    assert isinstance(cause, ConnectionRefusedError)


# -- answers --------------------------------------------------------------------------------

def _transport(handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> AsyncTransport:
    options: dict[str, object] = {"timeout": (2, 5), "verify": True, "proxy": None,
                                  "user_agent": None, "pool_size": 4}
    options.update(kw)
    return AsyncTransport("https://registry.example", transport=httpx.MockTransport(handler),
                          **options)  # type: ignore[arg-type]


async def _read_all(resp: Response) -> bytes:
    parts = []
    while block := await resp.aread1(1 << 20):
        parts.append(block)
    return b"".join(parts)


@pytest.mark.anyio
async def test_an_answer_is_the_library_s_response_with_its_body_on_the_wire() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"Docker-Content-Digest": "sha256:ab",
                                            "Content-Encoding": "gzip"},
                              stream=httpx.ByteStream(b"as stored"))

    transport = _transport(handler)
    resp = await transport.send("GET", "https://registry.example/v2/app/blobs/sha256:ab",
                                headers={"Authorization": "Bearer T0KEN"})
    assert isinstance(resp, Response)
    assert (resp.status_code, resp.headers["docker-content-digest"]) == (200, "sha256:ab")
    assert resp.sent_auth_scheme == "bearer"
    assert await _read_all(resp) == b"as stored"  # as served: never decoded
    assert seen[0].headers["User-Agent"] == "registry-client/0.1 (+python-httpx)"
    await transport.aclose()


@pytest.mark.anyio
async def test_a_redirect_is_followed_with_its_history_and_without_credentials() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "registry.example":
            return httpx.Response(307, headers={"Location": "https://storage.example/b?sig=1"})
        return httpx.Response(200, stream=httpx.ByteStream(b"blob"))

    transport = _transport(handler)
    resp = await transport.send("GET", "https://registry.example/v2/app/blobs/sha256:ab",
                                headers={"Authorization": "Bearer T0KEN"})
    assert resp.url == "https://storage.example/b?sig=1"
    assert resp.history == ("https://registry.example/v2/app/blobs/sha256:ab",)
    assert "Authorization" not in seen[1].headers
    assert await _read_all(resp) == b"blob"
    await transport.aclose()


@pytest.mark.anyio
async def test_the_sent_credentials_are_those_of_the_request_that_got_the_answer() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "registry.example":
            return httpx.Response(307, headers={"Location": "https://storage.example/b"})
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="storage"'})

    transport = _transport(handler)
    resp = await transport.send("GET", "https://registry.example/v2/app/blobs/sha256:ab",
                                headers={"Authorization": "Basic YWRtaW46cHc="})
    # the storage host answered, and no credentials went there (the blocking transport's
    # answer says the same: the last hop's request)
    assert resp.sent_auth_scheme == ""
    await transport.aclose()


@pytest.mark.anyio
async def test_bodies_become_async_content(tmp_path: Path) -> None:
    got: list[tuple[bytes, str | None]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        got.append((await request.aread(), request.headers.get("Content-Length")))
        return httpx.Response(201)

    transport = _transport(handler)
    path = tmp_path / "layer"
    path.write_bytes(b"0123456789")
    with path.open("rb") as f:
        f.seek(4)
        await transport.send("PUT", "https://registry.example/v2/x", body=f)
    threads: list[int] = []

    def blocks() -> Iterator[bytes]:
        threads.append(threading.get_ident())
        yield b"ab"
        threads.append(threading.get_ident())
        yield b"cd"

    await transport.send("PATCH", "https://registry.example/v2/x", body=blocks())
    await transport.send("PUT", "https://registry.example/v2/x", body=b"bytes")
    answer = httpx.Response(200, stream=httpx.ByteStream(b"relayed"))
    source = await _transport(lambda r: answer).send("GET", "https://registry.example/v2/y")
    relayed: list[bytes] = []
    await transport.send("PUT", "https://registry.example/v2/x",
                         body=Relay(source, relayed.append, block_size=3))
    assert got[0] == (b"456789", "6")  # a file from where it stands, not chunked
    assert got[1][0] == b"abcd"
    assert threading.get_ident() not in threads  # the generator ran in worker threads
    assert got[2] == (b"bytes", "5")
    assert got[3][0] == b"relayed"
    assert b"".join(relayed) == b"relayed"
    await transport.aclose()


@pytest.mark.anyio
async def test_a_file_body_follows_a_307_whole_as_requests_rewinds_it(
    tmp_path: Path, recording_server: Any,
) -> None:
    """An upload PATCH answered 307 (the method and the body kept): the file is sent
    again from where it started. An async generator is sent once, and httpx raised
    StreamConsumed -- an untyped error where the blocking API follows the redirect."""
    base = f"http://{recording_server.host}"
    transport = AsyncTransport(base, timeout=(2, 5), verify=True, proxy=None,
                               user_agent=None, pool_size=4)
    path = tmp_path / "chunk"
    path.write_bytes(b"0123456789")
    with path.open("rb") as f:
        f.seek(3)
        resp = await transport.send("PATCH", f"{base}/moved", body=f)
    assert resp.status_code == 200
    assert [(m, p) for m, p, _ in recording_server.seen] == [("PATCH", "/moved"),
                                                              ("PATCH", "/there")]
    assert recording_server.bodies == [b"3456789", b"3456789"]
    await resp.aclose()
    await transport.aclose()


def test_io_bodies_other_than_files_are_sent_too() -> None:
    async def main() -> bytes:
        got: list[bytes] = []

        async def handler(request: httpx.Request) -> httpx.Response:
            got.append(await request.aread())
            return httpx.Response(201)

        transport = _transport(handler)
        await transport.send("PUT", "https://registry.example/v2/x", body=io.BytesIO(b"mem"))
        await transport.aclose()
        return got[0]

    assert asyncio.run(main()) == b"mem"


# -- TLS settings -----------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_ca_bundle_that_does_not_exist_is_a_typed_error(tmp_path: Path) -> None:
    transport = AsyncTransport("https://registry.example", timeout=(2, 5),
                               verify=str(tmp_path / "missing.pem"), proxy=None,
                               user_agent=None, pool_size=1)
    with pytest.raises(RegistrySSLError, match=r"missing\.pem.*does not exist"):
        await transport.send("GET", "https://registry.example/v2/")


@pytest.mark.anyio
async def test_requests_ca_bundle_is_honoured_as_by_the_blocking_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "env.pem"))
    transport = AsyncTransport("https://registry.example", timeout=(2, 5), verify=True,
                               proxy=None, user_agent=None, pool_size=1)
    with pytest.raises(RegistrySSLError, match=r"env\.pem.*REQUESTS_CA_BUNDLE"):
        await transport.send("GET", "https://registry.example/v2/")


def _tls_server(cert: Path, key: Path) -> Callable[[socket.socket], None]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def handle(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            tls = context.wrap_socket(conn, server_side=True)
            tls.recv(65536)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            tls.close()

    return handle


@pytest.mark.anyio
async def test_an_untrusted_certificate_reads_as_the_blocking_transport_says_it(
    tmp_path: Path,
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    with tcp_server(_tls_server(cert, key)) as port:
        url = f"https://127.0.0.1:{port}/v2/"
        transport = AsyncTransport(f"https://127.0.0.1:{port}", timeout=TIMEOUT, verify=True,
                                   proxy=None, user_agent=None, pool_size=1)
        with pytest.raises(httpx.HTTPError) as caught:
            await transport.send("GET", url)
        await transport.aclose()
        with pytest.raises(requests.exceptions.SSLError) as blocking:
            await asyncio.to_thread(requests.get, url, timeout=TIMEOUT)
    assert is_tls_failure(caught.value)
    said = tls_reason(caught.value)
    assert said == tls_reason(blocking.value)
    assert said.startswith("certificate not trusted (")


@pytest.mark.anyio
async def test_a_ca_bundle_given_is_trusted(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    with tcp_server(_tls_server(cert, key)) as port:
        transport = AsyncTransport(f"https://127.0.0.1:{port}", timeout=TIMEOUT,
                                   verify=str(cert), proxy=None, user_agent=None, pool_size=1)
        resp = await transport.send("GET", f"https://127.0.0.1:{port}/v2/")
        assert (resp.status_code, await resp.aread1(10)) == (200, b"ok")
        await resp.aclose()
        await transport.aclose()


@pytest.mark.anyio
async def test_params_join_the_query_a_location_carries() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201)

    transport = _transport(handler)
    await transport.send("PUT", "https://registry.example/v2/app/blobs/uploads/u?_state=a%3D%3D",
                         params={"digest": "sha256:ab"})
    blocking = requests.PreparedRequest()
    blocking.prepare_url("https://registry.example/v2/app/blobs/uploads/u?_state=a%3D%3D",
                         {"digest": "sha256:ab"})
    assert str(seen[0].url) == blocking.url
    assert seen[0].url.params["_state"] == "a=="
    await transport.aclose()


@pytest.mark.anyio
async def test_a_streamed_answer_closed_from_plain_code_is_released_on_the_loop() -> None:
    closed: list[bool] = []

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for _ in range(3):
                yield b"x" * 10

        async def aclose(self) -> None:
            closed.append(True)

    transport = _transport(lambda r: httpx.Response(200, stream=Body()))
    for close_in_thread in (False, True):
        resp = await transport.send("GET", "https://registry.example/v2/app/blobs/sha256:ab")
        assert await resp.aread1(5) == b"xxxxx"
        if close_in_thread:  # a flow's clean-up in an Offload
            await asyncio.to_thread(resp.close)
        else:
            resp.close()
        for _ in range(20):
            await asyncio.sleep(0.005)
        assert len(closed) == 1 + close_in_thread
    await transport.aclose()


@pytest.mark.anyio
async def test_a_cancel_while_an_answer_closes_still_closes_it() -> None:
    """httpcore releases a connection to its pool at the end of an answer's close, past
    awaits its shield does not guard from an asyncio cancel: a pull cancelled there
    (asyncio.wait_for) left its connection busy for good -- 26 sockets after 200
    cancelled pulls, which aclose() did not close."""
    closed: list[bool] = []

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"{}"

        async def aclose(self) -> None:
            await asyncio.sleep(0)  # (httpcore: a lock's checkpoint, the pool's release)
            closed.append(True)

    transport = _transport(lambda r: httpx.Response(200, stream=Body()))
    answer = await transport.transmit("GET", "https://registry.example/v2/app/tags/list")
    closing = asyncio.ensure_future(answer.aclose())
    await asyncio.sleep(0)  # (in the body's close)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    for _ in range(5):
        await asyncio.sleep(0)
    assert closed == [True]
    await transport.aclose()


@pytest.mark.anyio
async def test_a_cancel_held_back_by_a_close_that_then_fails_still_goes_on() -> None:
    """The close's error came out and the cancel held back for it was lost (the task's
    cancel count left at 1)."""
    loop = asyncio.get_running_loop()
    release: asyncio.Future[None] = loop.create_future()

    async def failing_close() -> None:
        await release
        raise OSError("reset while closing")

    causes: list[BaseException | None] = []

    async def run() -> None:
        try:
            await transport_module._to_the_end(failing_close())
        except asyncio.CancelledError as exc:  # (read in the task: 3.10's await makes a new one)
            causes.append(exc.__cause__)
            raise

    closing = asyncio.ensure_future(run())
    await asyncio.sleep(0)
    closing.cancel()
    await asyncio.sleep(0)
    release.set_result(None)
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert len(causes) == 1 and isinstance(causes[0], OSError)


def test_a_close_whose_task_is_destroyed_is_closed_too() -> None:
    """GeneratorExit (the task destroyed while the close waits) was taken for the awaited
    future's error: swallowed, and the coroutine's close() said "await wasn't used with
    future"."""
    loop = asyncio.new_event_loop()
    ended: list[str] = []

    async def close() -> None:
        try:
            await loop.create_future()
        finally:
            ended.append("closed")

    try:
        closing = transport_module._to_the_end(close())
        closing.send(None)  # (it waits)
        closing.close()
    finally:
        loop.close()
    assert ended == ["closed"]


def test_the_default_ca_bundle_is_loaded_at_the_first_handshake_only() -> None:
    """A plain-HTTP registry never loads it (tens of ms of the loop); TLS still checks."""
    context = CAOnFirstUse()
    assert not context.loaded and context.cert_store_stats()["x509_ca"] == 0
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="registry.example")
    assert context.loaded and context.cert_store_stats()["x509_ca"] > 0


def test_certificates_are_checked_as_the_blocking_flavour_checks_them() -> None:
    """The blocking flavour's connections use urllib3's TLS settings; the asyncio
    flavour's context had Python's bare defaults -- on Python 3.13, without the strict
    X.509 checks and partial chains urllib3 (and ssl.create_default_context) turn on
    there, so each flavour refused a registry certificate the other accepted."""
    from urllib3.util.ssl_ import create_urllib3_context

    blocking = create_urllib3_context()
    for context in (CAOnFirstUse(), CAOnFirstUse(cafile=certifi.where())):
        assert context.verify_flags == blocking.verify_flags
        assert context.options == blocking.options
        assert context.minimum_version == blocking.minimum_version
        assert context.hostname_checks_common_name is False


@pytest.mark.anyio
async def test_a_plain_http_client_loads_no_ca_bundle() -> None:
    def handle(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    with tcp_server(handle) as port:
        transport = AsyncTransport(f"http://127.0.0.1:{port}", timeout=2, verify=True,
                                   proxy=None, user_agent=None, pool_size=1)
        resp = await transport.send("GET", f"http://127.0.0.1:{port}/v2/")
        assert resp.status_code == 200
        await resp.aclose()
        routes = transport.client._transport.inner  # type: ignore[attr-defined]
        direct = routes._direct
        mounted = [t.inner for t in transport.client._mounts.values()]  # type: ignore[union-attr]
        contexts = [t._pool._ssl_context for t in [direct, *mounted] if t]
        await transport.aclose()
    assert contexts and all(isinstance(c, CAOnFirstUse) and not c.loaded for c in contexts)


def test_the_async_extra_brings_sniffio_for_httpcore() -> None:
    """httpcore asks sniffio which async library runs for every lock it makes; without
    it each ask is a failed import searching all of sys.path, so the extra declares it
    (instead of the library marking it missing in sys.modules behind the app's back)."""
    import importlib.metadata
    import importlib.util

    requires = importlib.metadata.requires("registry-client") or []
    assert any(r.startswith("sniffio") and 'extra == "async"' in r for r in requires)
    assert importlib.util.find_spec("sniffio") is not None


# -- a GET or HEAD to the registry itself, straight to the transport ------------------------

def _through_client_send(transport: AsyncTransport) -> list[str]:
    """The URLs ``client.send`` is called with, from now on."""
    sent: list[str] = []
    client = transport.client
    real = client.send

    async def send(request: httpx.Request, **kw: object) -> httpx.Response:
        sent.append(request.url.path)
        return await real(request, **kw)  # type: ignore[arg-type]

    client.send = send  # type: ignore[method-assign]
    return sent


def test_a_get_to_the_registry_skips_the_clients_steps_and_sends_the_same(
    recording_server: object,
) -> None:
    """A GET or HEAD to the registry itself goes to the transport under httpx's client
    (its auth and redirect loops, cookie parse and stream wrapper are a fifth of a
    manifest GET's CPU); the server receives what ``client.send`` sends, and a cookie
    the server sets is kept and sent back. Blobs (a registry may redirect them to its
    storage) and bodies still go through ``client.send``."""
    server: object = recording_server

    async def exchange(transport: AsyncTransport) -> list[int]:
        host = server.host  # type: ignore[attr-defined]
        statuses = []
        for method, path in (("GET", "/v2/r/manifests/1.0"), ("HEAD", "/v2/r/manifests/1.0"),
                             ("GET", "/set"), ("GET", "/v2/after-the-cookie"),
                             ("GET", "/v2/r/blobs/sha256:ab")):
            resp = await transport.send(method, f"http://{host}{path}",
                                        headers={"Accept": "application/json"})
            statuses.append(resp.status_code)
            await resp.aclose()
        return statuses

    async def main() -> tuple[list[object], list[str], list[object], list[str]]:
        host = server.host  # type: ignore[attr-defined]
        seen = server.seen  # type: ignore[attr-defined]
        results = []
        for alone in (True, False):
            transport = AsyncTransport(f"http://{host}", timeout=TIMEOUT, verify=True,
                                       proxy=None, user_agent="t/1", pool_size=2)
            via_send = _through_client_send(transport)
            if not alone:  # an event hook: every request through client.send
                transport.client.event_hooks["request"].append(_no_hook)
            seen.clear()
            assert await exchange(transport) == [200] * 5
            assert transport.client.cookies.get("lb") == "backend-2"
            results += [list(seen), via_send]
            await transport.aclose()
        return results[0], results[1], results[2], results[3]

    alone_seen, alone_sent, send_seen, send_sent = asyncio.run(main())
    assert alone_seen == send_seen
    assert alone_sent == ["/v2/r/blobs/sha256:ab"]
    assert len(send_sent) == 5
    by_path = {path: headers for _, path, headers in alone_seen}  # type: ignore[misc]
    assert by_path["/v2/after-the-cookie"]["cookie"] == "lb=backend-2"
    assert by_path["/v2/r/manifests/1.0"]["user-agent"] == "t/1"


async def _no_hook(request: httpx.Request) -> None:
    return None


def test_a_registry_get_that_redirects_after_all_is_followed_by_the_client(
    recording_server: object,
) -> None:
    async def main() -> tuple[int, str, list[str]]:
        host = server.host  # type: ignore[attr-defined]
        transport = AsyncTransport(f"http://{host}", timeout=TIMEOUT, verify=True,
                                   proxy=None, user_agent=None, pool_size=2)
        resp = await transport.send("GET", f"http://{host}/moved")
        await resp.aclose()
        kept = await transport.send("GET", f"http://{host}/moved", allow_redirects=False)
        await kept.aclose()
        await transport.aclose()
        return resp.status_code, resp.url, [kept.url]

    server = recording_server
    status, url, kept = asyncio.run(main())
    host = server.host  # type: ignore[attr-defined]
    assert (status, url) == (200, f"http://{host}/there")
    assert kept == [f"http://{host}/moved"]
    # sent alone, redirected: closed and sent again by the client, which follows it
    assert [p for _, p, _ in server.seen] == [  # type: ignore[attr-defined]
        "/moved", "/moved", "/there", "/moved"]


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_loopback_registry_and_token_server_skip_the_environment_s_proxy(
    monkeypatch: pytest.MonkeyPatch, host: str,
) -> None:
    """As the blocking flavour (and Go's ProxyFromEnvironment): this machine's hosts,
    the registry's and any other port's (a token server), are reached directly."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = int(s.getsockname()[1])
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{dead}")
    for name in ("NO_PROXY", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    def answer(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nDocker-Distribution-API-Version: registry/2.0\r\n"
                     b"Content-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")

    elsewhere = socket.socket()  # a token server on another address of 127.0.0.0/8
    elsewhere.bind(("127.0.0.2", 0))
    elsewhere.listen(4)

    def serve_elsewhere() -> None:
        with contextlib.suppress(OSError):
            conn, _ = elsewhere.accept()
            with conn:
                answer(conn)

    serving = threading.Thread(target=serve_elsewhere, daemon=True)
    serving.start()
    with tcp_server(answer) as port, tcp_server(answer) as other, elsewhere:
        async with AsyncRegistry(f"{host}:{port}", protocol="http",
                                 authenticator=NullAuthenticator(), retries=0) as reg:
            await reg.ping()
            answered = await reg.requester.transport.send(
                "GET", f"http://{host}:{other}/token")
            assert answered.status_code == 200
            far = f"http://127.0.0.2:{elsewhere.getsockname()[1]}/token"
            assert not reg.requester.transport.proxied(far)
            answered = await reg.requester.transport.send("GET", far)
            assert answered.status_code == 200
    serving.join(timeout=5)


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["http://", ""])
async def test_another_host_goes_through_the_environment_s_proxy(
    monkeypatch: pytest.MonkeyPatch, scheme: str,
) -> None:
    """HTTP_PROXY applies to a registry that is not this machine's, as for requests --
    written without a scheme too (``proxy.corp:3128``: requests and httpx read it as
    http://, the router passed it on raw and httpx refused it with a ValueError)."""
    lines: list[bytes] = []

    def proxy(conn: socket.socket) -> None:
        lines.append(conn.recv(65536).split(b"\r\n", 1)[0])
        conn.sendall(b"HTTP/1.1 200 OK\r\nDocker-Distribution-API-Version: registry/2.0\r\n"
                     b"Content-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")

    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with tcp_server(proxy) as port:
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, f"{scheme}127.0.0.1:{port}")
        async with AsyncRegistry("registry.example", protocol="http",
                                 authenticator=NullAuthenticator(), retries=0) as reg:
            assert reg.requester.transport.proxied("http://registry.example/v2/")
            await reg.ping()
    assert lines == [b"GET http://registry.example/v2/ HTTP/1.1"]


def test_a_thread_read_stopped_midway_returns_the_bytes_it_has_first() -> None:
    """A cancelled task stops its body's thread between two receives: the bytes already
    received into the block are handed on (the sink keeps them, as Ctrl-C keeps what
    the blocking API read), and the next read says it stopped."""
    class Receiving:
        calls = 0

        def readinto(self, view: memoryview, stop: threading.Event) -> int:
            self.calls += 1
            if stop.is_set():
                raise Stopped("read called off")
            view[:100] = b"x" * 100
            stop.set()  # the task is cancelled while the next bytes are awaited
            return 100

        def close(self) -> None:
            pass

    body = _DirectBody.__new__(_DirectBody)
    body._left = body._length = 10_000
    thread_body = _ThreadBody(body, Receiving())  # type: ignore[arg-type]
    stop = threading.Event()
    view = memoryview(bytearray(1000))
    assert thread_body.readinto(view, stop) == 100 and bytes(view[:100]) == b"x" * 100
    with pytest.raises(Stopped):
        thread_body.readinto(view, stop)


@pytest.mark.parametrize(("tls", "length", "direct"), [
    (False, 1 << 20, True), (False, (1 << 20) - 1, False),
    (True, (4 << 20) - 1, False), (True, 4 << 20, True),
])
def test_a_body_is_read_past_h11_from_1_mib_on_plain_tcp_and_4_mib_over_tls(
    tls: bool, length: int, direct: bool,
) -> None:
    """Through h11 a 1 MiB blob cost 5.2 ms of CPU against 3.3 ms read past it, on a new
    connection each (plain TCP: a new connection costs ~0.6 ms; over TLS a handshake,
    more than the copies of a body under 4 MiB)."""
    class Transport:
        def get_extra_info(self, name: str) -> Any:
            return object() if tls and name == "ssl_object" else None

    reader = network._Reader(1 << 20)
    reader.at_body = True
    stream = network.BlockStream(Transport(), reader, 1 << 20)  # type: ignore[arg-type]
    request = httpx.Request("GET", "http://registry.example/v2/app/blobs/sha256:ab")
    resp = httpx.Response(200, headers={"Content-Length": str(length)}, request=request,
                          extensions={"network_stream": stream})
    assert (_DirectBody.of(resp) is not None) is direct


@pytest.mark.anyio
async def test_a_relay_cancelled_before_its_source_is_handed_over_closes_its_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A copy between registries cancelled while the source answer was being handed to
    the worker thread left the duplicate of the upload socket open until the garbage
    collector found it (a ResourceWarning, a descriptor held meanwhile)."""
    closed: list[bool] = []

    class Writer:
        def close(self) -> None:
            closed.append(True)

    class Source:
        async def thread_reader(self) -> Any:
            raise asyncio.CancelledError

    monkeypatch.setattr(transport_module, "_thread_writer",
                        lambda length: transport_module._Target(None, Writer(), length))
    relay = Relay(Source(), lambda block: None)  # type: ignore[arg-type]
    with pytest.raises(asyncio.CancelledError):
        async for _ in transport_module._relayed(relay, 8 << 20):
            pass  # pragma: no cover - nothing is sent
    assert closed


@pytest.mark.anyio
async def test_a_signed_storage_url_is_in_no_log_record_of_either_flavour(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The library's own records mask a presigned URL's signature, but httpx logs every
    request's URL whole at INFO (and urllib3 at DEBUG): an app at
    ``logging.basicConfig(level=INFO)`` logged the signature of every blob GET."""
    data = b"blob"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    signed = "/storage/blob?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=SIGSECRET"

    def handle(conn: socket.socket) -> None:
        conn.settimeout(2)
        with contextlib.suppress(OSError):
            while head := read_head(conn):
                if b"/storage/" in head.split(b"\r\n", 1)[0]:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n" + data)
                else:
                    conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\n"
                                 b"Content-Length: 0\r\n\r\n" % signed.encode())

    caplog.set_level(logging.DEBUG)  # (every logger: the app's root at DEBUG)
    with tcp_server(handle) as port:
        async with AsyncRegistry(f"127.0.0.1:{port}", protocol="http") as areg:
            assert await areg.repository("app").blobs.get(digest) == data
        with Registry(f"127.0.0.1:{port}", protocol="http") as reg:
            assert reg.repository("app").blobs.get(digest) == data
    logged = caplog.text
    assert "/storage/blob" in logged  # (the records are there, the signature is not)
    assert "SIGSECRET" not in logged and "AKIAEXAMPLE" not in logged
