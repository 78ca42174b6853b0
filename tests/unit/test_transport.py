"""The transport seam: the Requester answers with the library's own Response."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import logging
import os
import pathlib
import re
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import requests_mock

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # (tests/: _sockets)

from _sockets import read_head, tls_absolute_proxy

import registry_client
from registry_client import BasicAuthenticator, NullAuthenticator, Registry
from registry_client._response import Response
from registry_client._transport import to_response
from registry_client.errors import RegistryUnavailableError
from registry_client.testing import tcp_server

BASE = "https://registry.example"


def make(**kw: Any) -> tuple[Registry, requests_mock.Adapter]:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry("registry.example", session=session, authenticator=NullAuthenticator(),
                   backoff=0.0, **kw)
    return reg, adapter


def test_send_answers_with_the_librarys_response() -> None:
    reg, adapter = make()
    adapter.register_uri("GET", f"{BASE}/v2/r/tags/list", content=b'{"tags":[]}',
                         headers={"Docker-Content-Digest": "sha256:abc"})
    resp = reg.requester.send("GET", "r/tags/list")
    assert type(resp) is Response
    assert (resp.status_code, resp.content, resp.url) == (200, b'{"tags":[]}',
                                                          f"{BASE}/v2/r/tags/list")
    assert resp.headers["docker-content-digest"] == "sha256:abc"  # case-insensitive
    assert resp.read(10) == b""  # read whole: nothing left on the wire


def test_a_streamed_body_is_read_as_served_and_a_small_one_decoded() -> None:
    blob = b"layer bytes " * 1000
    packed = gzip.compress(blob)
    reg, adapter = make()
    for path in ("blobs/sha256:x", "manifests/v1"):
        adapter.register_uri("GET", f"{BASE}/v2/r/{path}", body=io.BytesIO(packed),
                             headers={"Content-Encoding": "gzip"})
    streamed = reg.requester.send("GET", "r/blobs/sha256:x", stream=True)
    got = bytearray()
    while block := streamed.read1(4096):
        assert len(block) <= 4096
        got += block
    streamed.close()
    assert bytes(got) == packed  # never decoded: a blob's digest is of the stored bytes
    assert reg.requester.send("GET", "r/manifests/v1").content == blob


def test_history_names_the_redirects_followed() -> None:
    reg, adapter = make()
    adapter.register_uri("GET", f"{BASE}/v2/r/blobs/sha256:x", status_code=307,
                         headers={"Location": "https://storage.example/b?sig=1"})
    adapter.register_uri("GET", "https://storage.example/b?sig=1", content=b"blob")
    resp = reg.requester.send("GET", "r/blobs/sha256:x")
    assert resp.url == "https://storage.example/b?sig=1"
    assert resp.history == (f"{BASE}/v2/r/blobs/sha256:x",)
    assert resp.content == b"blob"


def test_services_and_readers_never_touch_the_http_librarys_internals() -> None:
    package = pathlib.Path(registry_client.__file__).parent
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"_content\b|raw\._fp", text), path
        if "services" in path.parts:
            assert not re.search(r"^\s*(import|from) requests\b", text, re.M), path


def test_without_read1_a_stream_is_read_with_read() -> None:
    """urllib3 before 2.3 (the declared floor is 2.0) has no ``read1``."""

    class OldRaw:
        def __init__(self) -> None:
            self.data = io.BytesIO(b"abcdef")
            self.asked: list[tuple[int, bool]] = []

        def read(self, amt: int, decode: bool) -> bytes:
            self.asked.append((amt, decode))
            return self.data.read(amt)

    old = requests.Response()
    old.status_code = 200
    old.raw = OldRaw()
    resp = to_response(old, None)
    assert resp.read1(4) == b"abcd" and resp.read1(4) == b"ef" and resp.read1(4) == b""
    assert old.raw.asked == [(4, False)] * 3  # never decoded


def test_readinto_fills_a_buffer_from_the_stream() -> None:
    reg, adapter = make()
    adapter.register_uri("GET", f"{BASE}/v2/r/blobs/sha256:x", body=io.BytesIO(b"0123456789"))
    resp = reg.requester.send("GET", "r/blobs/sha256:x", stream=True)
    buffer = bytearray(4)
    assert resp.readinto(buffer) == 4 and buffer == b"0123"
    assert resp.read() == b"456789"
    resp.close()


def test_an_answer_names_the_scheme_of_the_credentials_sent_never_them() -> None:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry("registry.example", session=session, backoff=0.0,
                   authenticator=BasicAuthenticator("user", "s3cret"))
    adapter.register_uri("GET", f"{BASE}/v2/", status_code=401,
                         headers={"WWW-Authenticate": 'Basic realm="r"'})
    resp = reg.requester.send("GET", "", expected=(401,))
    assert resp.sent_auth_scheme == "basic"  # the re-send carried Basic credentials
    values = [getattr(resp, name) for name in Response.__slots__ if name != "_stream"]
    assert not any("s3cret" in str(v) or "dXNlcjpzM2NyZXQ" in str(v) for v in values)
    anonymous, anon_adapter = make()
    anon_adapter.register_uri("GET", f"{BASE}/v2/", status_code=401)
    assert anonymous.requester.send("GET", "", expected=(401,)).sent_auth_scheme == ""


def test_a_relayed_body_of_a_given_length_is_not_also_chunked() -> None:
    """A Relay streams another answer's body; with the Content-Length the caller gives,
    requests must not add ``Transfer-Encoding: chunked`` as well (the server would hang
    up: a request may frame its body one way only)."""
    from registry_client._request import Relay

    reg, adapter = make()
    adapter.register_uri("GET", f"{BASE}/v2/src/blobs/b", content=b"0123456789")
    adapter.register_uri("PUT", f"{BASE}/v2/dst/up", status_code=201)
    source = reg.requester.send("GET", "src/blobs/b", stream=True)
    seen: list[bytes] = []
    reg.requester.send("PUT", "dst/up", expected=(201,), headers={"Content-Length": "10"},
                       data=Relay(source, seen.append))
    sent = adapter.request_history[-1]
    assert sent.headers["Content-Length"] == "10"
    assert "Transfer-Encoding" not in sent.headers


# -- the transport's own steps for its own session (no Session.prepare_request / send) ------

def _exchange_all(transport: Any, host: str) -> None:
    """The requests a caller of the transport sends, one of each kind."""
    answers = []
    for method, path, params, headers in (
        ("GET", "/v2/r/manifests/1.0", None, {"Accept": "application/json"}),
        ("HEAD", "/v2/r/blobs/sha256:ab", None, None),
        ("GET", "/v2/r/tags/list", {"n": "10", "last": "a b"}, None),
        ("GET", "/set", None, None),
        ("GET", "/v2/after-the-cookie", None, None),
        ("DELETE", "/v2/r/manifests/sha256:ab", None, None),
        ("POST", "/v2/r/blobs/uploads/", [("mount", "sha256:ab"), ("from", "o/r")], None),
    ):
        prepared = transport.prepare(method, f"http://{host}{path}", params=params,
                                     headers=headers, data=None)
        resp = transport.send(prepared, allow_redirects=True, timeout=5)
        answers.append(resp.status_code)
        resp.close()
    assert answers == [200] * 7


def test_a_bodyless_request_is_sent_exactly_as_requests_sends_it(
    tmp_path: pathlib.Path, monkeypatch: Any, recording_server: Any,
) -> None:
    """The transport prepares and sends a request without a body through the adapter
    itself (Session.prepare_request and Session.send cost a fifth of a manifest GET's
    CPU); what reaches the server is what requests' own path sends -- headers, query,
    Content-Length: 0 of a bodyless DELETE/POST, a cookie the server set, and no
    ~/.netrc login (a Registry's authenticator gives its credentials) -- and the session
    keeps the cookie."""
    from registry_client._transport import Transport

    server = recording_server
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login nina password n3trc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    seen = []
    for own_steps in (True, False):
        transport = Transport(None, timeout=5, verify=True, proxy=None,
                              user_agent=None, pool_size=2)
        if not own_steps:  # a response hook: requests' own path, as for any hook
            transport.session.hooks["response"].append(lambda r, *a, **k: r)
        assert transport._sends_alone() is own_steps
        server.seen.clear()
        _exchange_all(transport, server.host)
        seen.append(list(server.seen))
        assert transport.session.cookies.get("lb") == "backend-2"
        transport.close()
    fast, slow = seen
    assert fast == slow
    by_path = {path: headers for _, path, headers in fast}
    assert by_path["/v2/r/tags/list?n=10&last=a+b"]["user-agent"].startswith("registry-client/")
    assert by_path["/v2/r/manifests/1.0"]["accept"] == "application/json"
    assert "authorization" not in by_path["/v2/r/manifests/1.0"]  # (not netrc's)
    assert by_path["/v2/after-the-cookie"]["cookie"] == "lb=backend-2"
    assert "cookie" not in by_path["/set"]
    assert by_path["/v2/r/blobs/uploads/?mount=sha256%3Aab&from=o%2Fr"]["content-length"] == "0"
    assert "content-length" not in by_path["/v2/r/blobs/sha256:ab"]


def test_the_transport_follows_a_redirect_on_its_own_path_with_history(
    recording_server: Any,
) -> None:
    from registry_client._transport import Transport

    server = recording_server
    transport = Transport(None, timeout=5, verify=True, proxy=None, user_agent="t/1",
                          pool_size=2)
    assert transport._sends_alone()
    url = f"http://{server.host}/moved"
    prepared = transport.prepare("GET", url, params=None, headers=None, data=None)
    resp = transport.send(prepared, allow_redirects=True, timeout=5)
    assert (resp.status_code, resp.url) == (200, f"http://{server.host}/there")
    assert [hop.url for hop in resp.history] == [url]
    resp.close()
    prepared = transport.prepare("GET", url, params=None, headers=None, data=None)
    resp = transport.send(prepared, allow_redirects=False, timeout=5)
    assert resp.status_code == 307 and resp.history == []
    resp.close()
    transport.close()
    assert [(m, p) for m, p, _ in server.seen] == [("GET", "/moved"), ("GET", "/there"),
                                                   ("GET", "/moved")]


def test_requests_mock_still_routes_the_transports_requests() -> None:
    """requests-mock replaces Session.send (the class's, or one session's) to route
    requests to its adapter: the transport then leaves the sending to it."""
    reg = Registry("registry.example", authenticator=NullAuthenticator())
    assert reg.requester.transport._sends_alone()
    with requests_mock.Mocker() as mock:
        mock.get(f"{BASE}/v2/r/tags/list", json={"name": "r", "tags": ["a"]})
        assert not reg.requester.transport._sends_alone()
        assert reg.repository("r").tags.list().tags == ["a"]
    with requests_mock.Mocker(session=reg.requester.session) as mock:
        mock.get(f"{BASE}/v2/r/tags/list", json={"name": "r", "tags": ["b"]})
        assert not reg.requester.transport._sends_alone()
        assert reg.repository("r").tags.list().tags == ["b"]
    assert reg.requester.transport._sends_alone()
    reg.close()


def _dead_proxy_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP(S)_PROXY set to a port nobody listens on, NO_PROXY unset: a request sent to
    the proxy fails."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = int(s.getsockname()[1])
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{dead}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def _registry_answer(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nDocker-Distribution-API-Version: registry/2.0\r\n"
                 b"Content-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_registry_is_never_sent_to_the_environment_s_proxy(
    monkeypatch: pytest.MonkeyPatch, host: str,
) -> None:
    """As docker, crane and skopeo (Go's ProxyFromEnvironment): HTTP(S)_PROXY is for
    other hosts; a registry on this machine is reached directly, NO_PROXY or not."""
    _dead_proxy_in_the_environment(monkeypatch)
    with tcp_server(_registry_answer) as port:
        Registry(f"{host}:{port}", protocol="http", authenticator=NullAuthenticator(),
                 retries=0).ping()
    with pytest.raises(RegistryUnavailableError, match="proxy"):  # other hosts: proxied
        Registry("registry.example.test", protocol="http", authenticator=NullAuthenticator(),
                 retries=0).ping()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork: POSIX only")
def test_a_forked_child_opens_connections_of_its_own(recording_server: Any) -> None:
    """A Registry used before os.fork() (gunicorn --preload, celery prefork) and in both
    processes after it: both read answers off the one inherited keep-alive socket, and
    a manifest GET by tag got another tag's manifest -- no error, nothing to check it
    against. The child drops the inherited connections (the parent keeps its own)."""
    from registry_client._transport import Transport

    server = recording_server
    transport = Transport(None, timeout=5, verify=True, proxy=None, user_agent=None,
                          pool_size=2)

    def get(path: str) -> None:
        prepared = transport.prepare("GET", f"http://{server.host}{path}", params=None,
                                     headers=None, data=None)
        resp = transport.send(prepared, allow_redirects=True, timeout=5)
        resp.content  # noqa: B018 -- read to the end: the connection goes back to the pool
        resp.close()

    get("/parent")
    pid = os.fork()
    if pid == 0:  # the child: its request, then out at once (no pytest teardown here)
        code = 1
        try:
            get("/child")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    get("/parent-again")
    port = {path: peer for (_, path, _), peer in zip(server.seen, server.peers, strict=True)}
    assert port["/child"] != port["/parent"]
    assert port["/parent-again"] == port["/parent"]  # the parent's connection stays its own
    transport.close()


def test_close_closes_the_pooled_sockets_even_while_a_pool_is_referenced(
    recording_server: Any,
) -> None:
    """urllib3 2's PoolManager.clear() (what Session.close() calls) drops its pools
    without closing them: their sockets closed only when the garbage collector freed
    the pool, which an answer kept by an exception's traceback holds -- after a wrong
    password, Registry.close() left a connection to the registry open."""
    from registry_client._transport import Transport

    transport = Transport(None, timeout=5, verify=True, proxy=None, user_agent=None,
                          pool_size=2)
    prepared = transport.prepare("GET", f"http://{recording_server.host}/one", params=None,
                                 headers=None, data=None)
    resp = transport.send(prepared, allow_redirects=True, timeout=5)
    resp.content  # noqa: B018 -- read to the end: the connection goes back to its pool
    kept = resp.raw._pool  # as a traceback keeps it (the answer, its pool)
    sockets = [c.sock for c in kept.pool.queue if c is not None]
    assert len(sockets) == 1 and sockets[0] is not None
    transport.close()
    assert sockets[0]._closed  # type: ignore[attr-defined]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork: POSIX only")
def test_a_forked_child_does_not_wait_on_a_pool_lock_another_thread_held(
    recording_server: Any,
) -> None:
    """A thread of the parent inside urllib3's pool code at the fork (its pools' lock, a
    pool's queue lock held): the child inherits those locks held by nobody, and the hook
    that drops the inherited connections waited on them for ever."""
    import threading

    from registry_client._transport import Transport

    transport = Transport(None, timeout=5, verify=True, proxy=None, user_agent=None,
                          pool_size=2)
    prepared = transport.prepare("GET", f"http://{recording_server.host}/one", params=None,
                                 headers=None, data=None)
    resp = transport.send(prepared, allow_redirects=True, timeout=5)
    resp.content  # noqa: B018 -- the connection goes back to its pool
    pool = resp.raw._pool
    manager = transport.session.get_adapter(prepared.url or "").poolmanager  # type: ignore[attr-defined]
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with manager.pools.lock, pool.pool.mutex:
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    try:
        pid = os.fork()
        if pid == 0:
            os._exit(0)  # (the after-fork hook has run by now)
        deadline = time.monotonic() + 10
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        if done[0] == 0:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        assert done[0] == pid, "the child hung in the after-fork hook"
    finally:
        release.set()
        holder.join(10)
        transport.close()


def test_a_redirect_of_a_body_read_once_is_a_typed_error_not_a_hang(
    recording_server: Any,
) -> None:
    """A 307 to a PUT whose body is read once (a blob relayed from another registry):
    requests followed it with the spent body, announced its length, sent nothing, and
    waited out the read timeout (20 s) for an answer. It is not followed: the same error
    as the asyncio API's, at once."""
    from registry_client import Registry, RegistryError
    from registry_client._request import Request

    reg = Registry(recording_server.host, protocol="http", retries=0, timeout=(2, 5))

    def body() -> Iterator[bytes]:
        yield b"abc"
        yield b"def"

    started = time.monotonic()
    with pytest.raises(RegistryError, match="cannot be sent again"):
        reg.requester.send_request(Request(
            "PUT", f"http://{recording_server.host}/moved", body=body(),
            headers={"Content-Length": "6"}, expected=frozenset({201}), operation="x"))
    assert time.monotonic() - started < 2
    assert [path for _, path, _ in recording_server.seen] == ["/moved"]
    reg.close()


def test_a_redirect_to_a_get_is_followed_for_a_body_read_once_as_requests_does(
    recording_server: Any,
) -> None:
    """A 302 (or 303) turns the request into a GET without a body: nothing is sent again,
    so it is followed as requests (and httpx) follow it."""
    from registry_client._transport import Transport

    transport = Transport(None, timeout=5, verify=True, proxy=None, user_agent=None,
                          pool_size=2)

    def body() -> Iterator[bytes]:
        yield b"abcdef"

    prepared = transport.prepare("PUT", f"http://{recording_server.host}/found", params=None,
                                 headers={"Content-Length": "6"}, data=body())
    resp = transport.send(prepared, allow_redirects=True, timeout=5)
    assert resp.status_code == 200
    assert [(m, p) for m, p, _ in recording_server.seen] == [("PUT", "/found"),
                                                              ("GET", "/there")]
    resp.close()
    transport.close()


@pytest.mark.parametrize("interim", [
    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
    b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n",
])
def test_interim_answers_before_the_final_one_are_skipped(interim: bytes) -> None:
    """RFC 9110 15.2: a client must parse 1xx answers before the final one, expected or
    not. http.client skips 100 only: a 103 Early Hints (a CDN in front of a registry)
    was taken for the answer ("GET ... -> 103"), its real answer left on the wire."""
    def answer(conn: socket.socket) -> None:
        for _ in range(2):
            conn.recv(65536)
            conn.sendall(interim + b"HTTP/1.1 200 OK\r\n"
                         b"Docker-Distribution-API-Version: registry/2.0\r\n"
                         b"Content-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")

    with tcp_server(answer) as port:
        reg = Registry(f"127.0.0.1:{port}", protocol="http", authenticator=NullAuthenticator(),
                       retries=0)
        reg.ping()
        reg.ping()  # (the same connection: nothing was left on it)


def test_a_signed_url_urllib3_warns_about_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    """urllib3 logs the URL whole, at WARNING, of an answer whose headers it cannot
    parse: the signature of a storage URL a blob was redirected to went to any app's
    default logging."""
    data = b"blob"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    def handle(conn: socket.socket) -> None:
        conn.settimeout(2)
        with contextlib.suppress(OSError):
            while head := read_head(conn):
                if b"/storage/" in head.split(b"\r\n", 1)[0]:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n"
                                 b"X-Weird header without a colon\r\n\r\n" + data)
                else:
                    conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /storage/b"
                                 b"?X-Amz-Signature=SIGSECRET\r\nContent-Length: 0\r\n\r\n")

    caplog.set_level(logging.WARNING)
    with tcp_server(handle) as port, Registry(f"127.0.0.1:{port}", protocol="http") as reg:
        assert reg.repository("app").blobs.get(digest) == data
    assert "Failed to parse headers" in caplog.text  # (the record is there, masked)
    assert "SIGSECRET" not in caplog.text


def test_tls_settings_keep_urllib3_s_key_log(tmp_path: pathlib.Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """SSLKEYLOGFILE (Wireshark's key log): urllib3 writes the blocking flavour's keys
    there; the https proxy's context (and the asyncio flavour's) lost it to
    tls_settings, which copied every other setting of urllib3's."""
    import ssl

    from registry_client._transport import tls_settings

    log = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(log))
    assert tls_settings(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)).keylog_filename == str(log)
    monkeypatch.delenv("SSLKEYLOGFILE")
    assert tls_settings(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)).keylog_filename is None


def test_usual_cas_are_the_bundle_a_registry_given_no_verify_trusts(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, then SSL_CERT_FILE / SSL_CERT_DIR, else
    requests' own bundle: what the CLI adds certs.d's CAs to."""
    from requests.utils import DEFAULT_CA_BUNDLE_PATH

    from registry_client._transport import usual_cas

    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert usual_cas("https://reg.example/") == DEFAULT_CA_BUNDLE_PATH
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    assert usual_cas("https://reg.example/") == str(tmp_path)
    (tmp_path / "ca.pem").write_text("x")
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "ca.pem"))
    assert usual_cas("https://reg.example/") == str(tmp_path / "ca.pem")


def test_a_token_request_checks_the_certificate_with_the_registry_s_ca_bundle(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SSL_CERT_FILE / SSL_CERT_DIR (Go's tools' and httpx's variables) named the CA
    bundle for the registry's requests, but the token server's were sent with requests'
    own lookup (REQUESTS_CA_BUNDLE or certifi): a realm the bundle vouches for was not
    trusted by the blocking flavour, where the asyncio one trusted it."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    realm = "https://auth.example/token"
    adapter.register_uri("GET", realm, json={"token": "t0k3n"})
    adapter.register_uri("GET", "https://registry.example/v2/app/tags/list", [
        {"status_code": 401, "headers": {
            "WWW-Authenticate": f'Bearer realm="{realm}",service="reg"'}},
        {"json": {"name": "app", "tags": ["1"]}}])
    from registry_client import TokenAuthenticator

    reg = Registry("registry.example", session=session, authenticator=TokenAuthenticator(),
                   retries=0)
    assert reg.repository("app").tags.get_all() == ["1"]
    verified = [(r.url.split("?")[0], r.verify) for r in adapter.request_history]
    assert verified == [("https://registry.example/v2/app/tags/list", str(bundle)),
                        (realm, str(bundle)),
                        ("https://registry.example/v2/app/tags/list", str(bundle))]


def test_a_handshake_failure_alert_suggests_what_may_cause_it_not_verify() -> None:
    """An OpenSSL-based server (HAProxy, a Python front) on TLS 1.2 that wants a client
    certificate and got none sends SSLV3_ALERT_HANDSHAKE_FAILURE: the advice was
    verify= / verify=False, which cannot help -- no check of ours failed."""
    import ssl

    from registry_client._transport import tls_reason

    alert = ssl.SSLError(1, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure")
    alert.reason = "SSLV3_ALERT_HANDSHAKE_FAILURE"
    said = tls_reason(alert)
    assert "client certificate" in said and "verify=" not in said, said
    assert "proxy" in tls_reason(alert, proxy=True)


def test_an_https_proxy_in_front_of_a_plain_http_registry_is_checked(
    tmp_path: pathlib.Path,
) -> None:
    """With every urllib3 the dependencies allow: urllib3 before 2.8 left an https://
    proxy in front of a plain-HTTP registry unchecked -- the proxy_ssl_context given to
    its ProxyManager did not reach that connection -- and sent the untrusted proxy the
    proxy password. (The asyncio flavour's own test is among the aio tests, which the
    lowest-dependency run leaves out: this one runs there.)"""
    import ssl

    from registry_client.errors import RegistrySSLError
    from registry_client.testing import self_signed_certificate

    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen: list[bytes] = []
    with tcp_server(tls_absolute_proxy(context, seen)) as port:
        proxy = f"https://user:pw-SECRET@127.0.0.1:{port}"
        with Registry("registry.example:5000", protocol="http", proxy=proxy,
                      timeout=(2, 2), retries=0) as reg, pytest.raises(RegistrySSLError):
            reg.ping()
        assert seen == []  # nothing (no password) went to the untrusted proxy
        with Registry("registry.example:5000", protocol="http", proxy=proxy, retries=0,
                      timeout=(2, 2), verify=str(cert)) as reg:
            reg.ping()  # trusted through verify=
        assert b"Proxy-Authorization: Basic " in seen[0]


@pytest.mark.parametrize("setting", ["localhost:3128", "user:pw@proxy.example:3128"])
def test_a_proxy_setting_without_a_scheme_is_an_http_proxy(
    monkeypatch: pytest.MonkeyPatch, setting: str,
) -> None:
    """HTTP_PROXY=localhost:3128 (cntlm, px): requests read it as the scheme "localhost"
    ('localhost:///3128') and the request failed as "an unusable URL" of the registry's
    answer; the asyncio flavour reads it as http://, as httpx and Go do. So does this."""
    from registry_client._transport import Transport

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, setting)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    url = "http://registry.example.test:5000/v2/"
    from_env = Transport(None, timeout=5, verify=True, proxy=None, user_agent=None, pool_size=1)
    given = Transport(None, timeout=5, verify=True, proxy=setting, user_agent=None,
                      pool_size=1)
    for transport in (from_env, given):
        proxies = transport.settings_for(url)[0]
        assert proxies["http"] == f"http://{setting}"
        assert proxies["https"] == f"http://{setting}"


def test_a_token_request_never_writes_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A token request to a host no proxy is for went through requests with
    proxies={"no_proxy": "*"}, which sets os.environ["no_proxy"] for the call and deletes
    it after (requests' set_environ): threads sharing a Registry raised KeyError, others
    saw no_proxy=*, and two overlapping calls could leave it set for good."""
    from registry_client._transport import Transport

    writes: list[str] = []

    class Environment(dict[str, str]):
        def __setitem__(self, key: str, value: str) -> None:
            writes.append(key)
            super().__setitem__(key, value)

        def __delitem__(self, key: str) -> None:
            writes.append(key)
            super().__delitem__(key)

    monkeypatch.setattr(os, "environ", Environment(os.environ))
    transport = Transport(None, timeout=5, verify=True, proxy=None, user_agent=None,
                          pool_size=1)
    adapter = requests_mock.Adapter()
    transport.session.mount("http://", adapter)
    adapter.register_uri("GET", "http://127.0.0.1:9/token", json={"token": "t"})
    answer = transport.request("GET", "http://127.0.0.1:9/token", params={"scope": "s"},
                               headers={"X": "1"}, data=None, allow_redirects=True)
    assert answer.json() == {"token": "t"}
    assert adapter.last_request.qs == {"scope": ["s"]}
    assert writes == []


def test_no_request_carries_a_netrc_login(
    tmp_path: pathlib.Path, monkeypatch: Any, recording_server: Any,
) -> None:
    """A ~/.netrc entry for the registry's host (pip's, git's: an Artifactory) was sent
    in place of the Registry's own credentials -- the registry's refusal then named the
    Registry's user -- by the blocking flavour only: on registry requests, token
    requests, bodies and redirect hops. The authenticator is the one source."""
    from registry_client._transport import Transport

    server = recording_server
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login nina password n3trc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    transport = Transport(None, timeout=5, verify=True, proxy=None, user_agent=None,
                          pool_size=2)
    base = f"http://{server.host}"
    for method, path, data in (("GET", "/v2/", None), ("PUT", "/v2/r/blobs/u", b"x"),
                               ("GET", "/moved", None)):
        prepared = transport.prepare(method, base + path, params=None, headers=None,
                                     data=data)
        transport.send(prepared, allow_redirects=True, timeout=5).close()
    transport.request("GET", base + "/token", headers={"Authorization": "Basic b3duOm93bg=="}
                      ).close()
    transport.request("GET", base + "/moved").close()
    transport.close()
    sent = {path: headers.get("authorization") for _, path, headers in server.seen}
    assert sent["/token"] == "Basic b3duOm93bg=="
    assert [p for p, a in sent.items() if a is not None] == ["/token"], sent


def test_a_redirect_hop_to_this_machine_goes_direct_whatever_the_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each hop's proxy is chosen by the registry's rules (Go's loopback bypass, NO_PROXY),
    as the asyncio flavour chooses it: requests' redirect machinery took the environment's
    proxy for a hop to localhost (and kept a former hop's), so a token realm or a
    registry redirecting on this machine went to HTTP_PROXY."""
    from registry_client._transport import Transport

    _dead_proxy_in_the_environment(monkeypatch)
    where: list[int] = []  # the server's port, once it listens

    def answer(conn: socket.socket) -> None:
        head = conn.recv(65536)
        if head.startswith(b"GET /moved"):
            conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nContent-Length: 0\r\n"
                         b"Location: http://localhost:%d/there\r\n\r\n" % where[0])
        else:
            _registry_answer_rest(conn)

    with tcp_server(answer) as port:
        where.append(port)
        transport = Transport(None, timeout=5, verify=True, proxy=None, user_agent=None,
                              pool_size=2)
        url = f"http://127.0.0.1:{port}/moved"
        prepared = transport.prepare("GET", url, params=None, headers=None, data=None)
        assert transport.send(prepared, allow_redirects=True, timeout=5).status_code == 200
        assert transport.request("GET", url).status_code == 200
        transport.close()


def _registry_answer_rest(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json"
                 b"\r\n\r\n{}")
