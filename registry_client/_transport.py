"""The transport seam: the only module that sends with ``requests`` and reads its answers.

:class:`Transport` owns the pooled ``requests.Session`` (proxies, TLS settings,
User-Agent) and turns its answers into the library's own
:class:`~registry_client._response.Response`. Nothing above it (the Requester's
shell aside, which maps ``requests``' exceptions to the exchange flow's words) touches
``requests.Response`` or urllib3.
"""

from __future__ import annotations

import http.client
import io
import os
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.exceptions
import urllib3.util.ssl_
from requests.auth import _basic_auth_str
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar, merge_cookies
from requests.structures import CaseInsensitiveDict
from requests.utils import (
    DEFAULT_CA_BUNDLE_PATH,
    get_auth_from_url,
    get_encoding_from_headers,
    select_proxy,
)

from ._calloff import current, watching
from ._http import HTTPS_PORT_HINT, UNASKED_SWITCH, body_blocks
from ._log import log
from ._redact import done_sending, redact_url, sending, watch_foreign_logs
from ._request import Relay
from ._response import Response, auth_scheme_sent
from .errors import RegistrySSLError
from .reference._grammar import is_loopback

__all__ = ["HTTPS_PORT_HINT", "TLS_HINT", "EnvSettings", "Transport", "ca_locations",
           "is_url_error", "new_session", "prepared_bodyless", "tls_reason", "usual_cas",
           "with_scheme"]

_DEFAULT_UA = "registry-client/0.1 (+python-requests)"

_URLLIB3_LOGGERS = ("urllib3", "urllib3.connection", "urllib3.connectionpool",
                    "urllib3.poolmanager", "urllib3.response", "urllib3.util.retry")
"""The loggers urllib3 logs a request to (a signed storage URL's too): its URL at DEBUG
(connectionpool, a retry), at WARNING an answer whose headers it cannot parse."""

VERIFY_HINT = "verify= names a CA bundle to trust, verify=False skips the check"
"""The advice a proxy's TLS failure ends with (the CLI swaps in its flags)."""
TLS_HINT = f"{VERIFY_HINT}; protocol='http' is for a plain-HTTP registry"
"""The advice a registry's TLS failure ends with (the CLI swaps in its flags)."""


_URL_ERRORS = ("Invalid IPv6 URL", "Port out of range", "Port could not be cast",
               "does not appear to be an IPv4 or IPv6 address")

Timeout = float | tuple[float, float]


def is_url_error(exc: ValueError) -> bool:
    """True for the ValueErrors urllib.parse / ipaddress raise for a URL they can't read."""
    return type(exc) is ValueError and any(m in str(exc) for m in _URL_ERRORS)


CLIENT_CERT_HINT = ("the registry asks for a client certificate (mutual TLS), or refused "
                    "the one sent")
"""Why a registry's TLS alert about the client's certificate failed the handshake."""

_CLIENT_CERT_ALERTS = frozenset({
    "SSLV3_ALERT_BAD_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
})
"""OpenSSL's names of the alerts a server sends about the client's certificate (none
sent, or one it does not trust): the client's own check of the server passed."""

_HANDSHAKE_FAILURE = "SSLV3_ALERT_HANDSHAKE_FAILURE"
HANDSHAKE_FAILURE_HINT = ("the registry refused the handshake: it may ask for a client "
                          "certificate (mutual TLS; OpenSSL servers say so on TLS 1.2), or "
                          "share no TLS version or cipher with this client")
"""The server's generic refusal alert: no check of ours failed, verify= cannot help."""


def tls_reason(exc: BaseException, *, proxy: bool = False) -> str:
    """What went wrong in a TLS handshake, in words, with the hint that fits it (the
    handshake with an https:// ``proxy``: the hints of a proxy, whose URL the user gave,
    not of the registry)."""
    hint = VERIFY_HINT if proxy else TLS_HINT
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen or not isinstance(e, BaseException):
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError):
            why = e.verify_message or e.reason or "certificate verify failed"
            return f"certificate not trusted ({why}); {hint}"
        if isinstance(e, ssl.SSLError):
            why = str(e.reason or e)
            if e.reason in ("WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST"):
                return (f"{why}: is it a plain-HTTP proxy? give its URL with http://"
                        if proxy else f"{why}: is it a plain-HTTP registry? use protocol='http'")
            refusal = (CLIENT_CERT_HINT if e.reason in _CLIENT_CERT_ALERTS
                       else HANDSHAKE_FAILURE_HINT if e.reason == _HANDSHAKE_FAILURE else None)
            if refusal is not None:  # the server's alert: no verify= helps
                return f"{why}: " + (refusal.replace("the registry", "the proxy")
                                     if proxy else refusal)
            return f"{why}; {hint}"
        todo.extend(a for a in e.args if isinstance(a, BaseException))
        todo.extend(x for x in (e.__cause__, e.__context__, getattr(e, "reason", None))
                    if x is not None)
    return hint


def _ssl_cert_env() -> str | None:
    """The CA bundle OpenSSL's variables name: SSL_CERT_FILE when that file exists, else
    SSL_CERT_DIR when that directory does (one of them: requests takes one path); None
    for neither. A stale variable is passed over, as Go passes over what it cannot read."""
    cert_file = os.environ.get("SSL_CERT_FILE")
    if cert_file and os.path.isfile(cert_file):
        return cert_file
    cert_dir = os.environ.get("SSL_CERT_DIR")
    if cert_dir and os.path.isdir(cert_dir):
        return cert_dir
    return None


def with_scheme(proxy: str) -> str:
    """``proxy`` as a URL: ``proxy.corp:3128`` is ``http://proxy.corp:3128``, as httpx and
    Go read a proxy setting without a scheme (requests read ``localhost:3128`` as the
    scheme "localhost")."""
    return proxy if "://" in proxy else f"http://{proxy}"


class EnvSettings:
    """Proxies and TLS verification per URL, as ``requests.request`` would use them.

    ``proxies`` and ``verify`` (the caller's) win; otherwise, when ``session`` trusts
    the environment (requests' default), HTTP(S)_PROXY / NO_PROXY and
    REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE apply, exactly as for a plain ``requests.get``
    -- then SSL_CERT_FILE / SSL_CERT_DIR, as Go's tools and httpx read them.
    """

    def __init__(self, session: requests.Session, proxies: Mapping[str, str],
                 verify: bool | str) -> None:
        self._session = session
        self._proxies = dict(proxies)
        self._verify = verify
        self._found: dict[tuple[str, str], tuple[dict[str, str], bool | str]] = {}

    def settings_for(self, url: str) -> tuple[dict[str, str], bool | str]:
        """``(proxies, verify)`` for ``url``; worked out once per scheme and host.

        Raises:
            RegistrySSLError: the CA bundle to use does not exist.
        """
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._found.get(key)
        if found is None:
            merged = self._session.merge_environment_settings(
                url, dict(self._proxies), True, self._verify, None)
            verify = merged["verify"]
            if isinstance(verify, os.PathLike):
                verify = os.fspath(verify)
            if verify in (True, None) and self._session.trust_env:
                # after requests' REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, OpenSSL's own
                # variables, which Go (docker, crane, skopeo) and httpx read too
                verify = _ssl_cert_env() or verify
            proxies = {key: with_scheme(value) if value and key not in ("no", "no_proxy")
                       else value for key, value in merged["proxies"].items()}
            if not self._proxies and is_loopback(parts.netloc):
                # as Go's ProxyFromEnvironment (docker, crane, skopeo): HTTP(S)_PROXY is
                # never used for this machine's own hosts
                proxies = {}
            found = (proxies, True if verify is None else verify)
            if parts.scheme == "https" and isinstance(verify, str) and not os.path.exists(verify):
                # requests would raise a bare OSError for this, deep inside the send
                raise RegistrySSLError(
                    f"the CA bundle {verify!r} for {parts.netloc} does not exist "
                    "(from verify=, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE or SSL_CERT_FILE / "
                    "SSL_CERT_DIR)"
                )
            self._found[key] = found
        return found


def usual_cas(url: str) -> str:
    """The CAs (a bundle file, or a folder of them) a Registry given no ``verify`` checks
    ``url``'s certificate with: REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, then SSL_CERT_FILE /
    SSL_CERT_DIR, else requests' own bundle (certifi's).

    Raises:
        RegistrySSLError: the bundle a variable names does not exist.
    """
    with requests.Session() as session:
        verify = EnvSettings(session, {}, True).settings_for(url)[1]
    return verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH


class _Answer(http.client.HTTPResponse):
    """http.client's answer, interim (1xx) answers before it skipped: RFC 9110 15.2 wants
    a client to parse them, expected or not, and http.client skips 100 only -- a 103
    Early Hints from a CDN in front of a registry was taken for the final answer, which
    was left on the wire. A 101 switches protocols, and this client never asks to (no
    ``Upgrade`` header): it is refused as an answer that is not HTTP, as h11 refuses it
    in the asyncio flavour, not taken for a final answer without a body."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self._sock = sock  # watched while it is waited on (``_calloff.watching``)

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if status == 101:
                raise http.client.HTTPException(UNASKED_SWITCH)
            if not 100 < status < 200:
                return version, status, reason
            http.client._read_headers(self.fp)  # type: ignore[attr-defined]  # dropped

    # Where a transfer's worker blocks on the registry -- its head, its body -- a
    # call-off (Ctrl-C, another blob failed) cuts the connection: the worker stops now.
    # (Outside a transfer -- a manifest GET of the caller's own -- nothing is watched.)
    def begin(self) -> None:
        if current() is None:
            return super().begin()
        with watching(self._sock):
            return super().begin()

    def read(self, amt: int | None = None) -> bytes:
        if current() is None:
            return super().read(amt)
        with watching(self._sock):
            return super().read(amt)

    def read1(self, n: int = -1) -> bytes:
        if current() is None:
            return super().read1(n)
        with watching(self._sock):
            return super().read1(n)

    def readinto(self, b: Any) -> int:
        if current() is None:
            return super().readinto(b)
        with watching(self._sock):
            return super().readinto(b)


class _WatchedSends:
    """A connection whose sends (a request's body: an upload) a call-off cuts too."""

    sock: socket.socket | None

    def send(self, data: Any) -> None:
        if current() is None:
            return super().send(data)  # type: ignore[misc,no-any-return]
        with watching(self.sock):
            return super().send(data)  # type: ignore[misc,no-any-return]


class _HTTPConnection(_WatchedSends, urllib3.connection.HTTPConnection):
    response_class = _Answer


class _HTTPSConnection(_WatchedSends, urllib3.connection.HTTPSConnection):
    response_class = _Answer


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection

    def _validate_conn(self, conn: Any) -> None:
        """urllib3's: connect now, then warn (InsecureRequestWarning) when the certificate
        went unchecked -- not where the caller turned checking off (``verify=False``,
        logged once per host): the library never prints, and a process-wide warnings
        filter was lost as soon as the caller's filters were restored (pytest does it
        around every test), bringing the warning back on stderr, or raised under ``-W
        error`` where a RegistryError belongs."""
        if self.cert_reqs not in ("CERT_NONE", ssl.CERT_NONE):
            super()._validate_conn(conn)
        elif conn.is_closed:
            conn.connect()


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


def ca_locations(verify: bool | str) -> tuple[str | None, str | None] | None:
    """Where ``verify`` (requests' meaning) finds the CAs to trust, as ``(cafile,
    capath)``: ``(None, None)`` for the default bundle (certifi's, as requests trusts),
    None when nothing is checked. Both flavours read ``verify`` so."""
    if verify is False:
        return None
    if verify is True:
        return None, None
    return (None, verify) if os.path.isdir(verify) else (verify, None)


def tls_settings(context: ssl.SSLContext) -> ssl.SSLContext:
    """``context`` with the TLS settings urllib3 gives every connection of the blocking
    flavour: TLS 1.2 at least, no compression or session tickets, no host name checked
    against a certificate's common name, the key log SSLKEYLOGFILE names, and on Python
    3.13+ the stricter X.509 checks (and partial chains) ``ssl.create_default_context``
    has there. The asyncio
    flavour's contexts and the blocking https proxy's get them too, so one certificate
    is accepted or refused alike everywhere."""
    model = urllib3.util.ssl_.create_urllib3_context()
    context.minimum_version = model.minimum_version
    context.options |= model.options
    context.verify_flags |= model.verify_flags
    if model.post_handshake_auth is not None:
        context.post_handshake_auth = model.post_handshake_auth
    context.hostname_checks_common_name = False
    if model.keylog_filename:  # (SSLKEYLOGFILE: Wireshark's key log, as urllib3 writes it)
        context.keylog_filename = model.keylog_filename
    return context


def _context(verify: bool | str) -> ssl.SSLContext:
    """The TLS context that checks a certificate as requests' ``verify`` says."""
    context = tls_settings(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    where = ca_locations(verify)
    if where is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    cafile, capath = where
    if cafile is None and capath is None:
        cafile = DEFAULT_CA_BUNDLE_PATH
    context.load_verify_locations(cafile=cafile, capath=capath)
    return context


class _Adapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter whose connections send request bodies in 1 MiB writes (not 16 KiB),
    skip interim answers (:class:`_Answer`), and whose answers skip the cookie parse when
    the server set no cookie."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blocksize", 1 << 20)
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    proxy_verify: Any = None
    """``url -> verify`` (True, False or a CA path), for an https:// proxy's own
    certificate; None: urllib3's choice (for a plain-HTTP registry: not checked)."""

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        if (proxy.lower().startswith("https://") and proxy not in self.proxy_manager
                and self.proxy_verify is not None):
            # As for the registry, whatever it speaks: without this, urllib3 leaves an
            # https proxy in front of a plain-HTTP registry unchecked -- and sends it the
            # proxy password (and before 2.8, the pyproject floor, it ignores this here).
            proxy_kwargs.setdefault("proxy_ssl_context", _context(self.proxy_verify(proxy)))
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # (SOCKS has pools of its own)
            manager.pool_classes_by_scheme = _POOLS
        return manager

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        """requests' answer for urllib3's ``resp``, as requests builds it.

        requests parses the answer's cookies into a new jar for every answer, which is
        a tenth of the client's CPU for a small manifest GET; an answer without
        ``Set-Cookie`` (every registry answer we have seen) has none to parse.
        """
        if "set-cookie" in resp.headers:
            return super().build_response(req, resp)
        response = requests.Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        url = req.url or ""
        response.url = url.decode("utf-8") if isinstance(url, bytes) else url
        response.request = req
        response.connection = self
        return response


class _StreamedBody:
    """A body still on the wire, read through urllib3's public ``HTTPResponse`` API.

    ``read``/``read1``/``readinto`` hand over the bytes as served (the Content-Encoding
    is never undone: a blob's digest is of the stored bytes); ``iter_body`` undoes it,
    as a JSON or manifest body needs.
    """

    __slots__ = ("_direct", "_read1", "_resp")

    def __init__(self, resp: requests.Response) -> None:
        self._resp = resp
        self._read1 = True
        self._direct: http.client.HTTPResponse | None = None

    def readinto(self, buffer: Any) -> int:
        """Read the next bytes into ``buffer``: as many as fit, except at the end; 0 there.

        The bytes go from the socket straight into ``buffer`` when urllib3's response
        wraps a standard ``http.client`` one (it always does over a real connection):
        http.client's own ``readinto``, the bytes as served, chunked framing undone. No
        block is allocated and copied on the way, which a 1 GiB download pays for with
        ~0.15 CPU-s. Anything else (a test double's body) is read and copied.

        A cut loses the part of the block received so far: the caller asks again with
        Range from the last byte it took.
        """
        fp = self._direct
        if fp is None:
            raw = self._resp.raw
            got = getattr(raw, "_fp", None)  # urllib3 1.x and 2.x: the http.client answer
            if not isinstance(got, http.client.HTTPResponse) or raw.tell():
                # not a real connection, or urllib3 has read some of the body already
                data = self.read1(len(buffer))
                buffer[: len(data)] = data
                return len(data)
            self._direct = fp = got
        try:
            n = fp.readinto(buffer)
        except http.client.HTTPException as exc:  # as urllib3 words it (a broken body)
            raise urllib3.exceptions.ProtocolError(f"Connection broken: {exc!r}", exc) from exc
        if not n and fp.length:
            # the connection ended before the Content-Length: as urllib3 reports it (a
            # broken body, not a short one -- the asyncio flavour says the same)
            raise urllib3.exceptions.ProtocolError(
                "Connection broken: the body ended short of its Content-Length",
                http.client.IncompleteRead(b"", fp.length))
        if not n and fp.isclosed():
            # the body ended below urllib3, which would otherwise only see it at its own
            # next read: give the connection back to the pool now
            raw = self._resp.raw
            if raw is not None:
                raw.release_conn()
        return n

    def read(self, amt: int) -> bytes:
        raw = self._resp.raw
        data = raw.read(amt, False) if raw is not None else b""  # False: as served
        return data if isinstance(data, bytes) else bytes(data or b"")

    def read1(self, amt: int) -> bytes:
        raw = self._resp.raw
        if raw is None:
            return b""
        if self._read1:
            try:
                data = raw.read1(amt, False)  # False: as served, never decoded
            except (AttributeError, NotImplementedError, io.UnsupportedOperation):
                self._read1 = False  # urllib3 before 2.3 has no read1: read() then
            else:
                return data if isinstance(data, bytes) else bytes(data or b"")
        return self.read(amt)

    def iter_body(self, size: int, limit: int | None = None) -> Iterator[bytes]:
        return body_blocks(self._resp, size, limit)

    def close(self) -> None:
        self._resp.close()


def _as_prepared(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


def no_netrc(session: requests.Session) -> Callable[[requests.PreparedRequest],
                                                    requests.PreparedRequest] | None:
    """The ``auth=`` that keeps requests from adding a ``~/.netrc`` login (it does when a
    request has no auth): a Registry's credentials are its authenticator's alone --
    a netrc entry for the registry's host (pip's, git's) was sent in their place, and
    the asyncio flavour reads none. None when ``session.auth`` is set (the caller's
    session: its auth, as requests gives it)."""
    return _as_prepared if session.auth is None else None


class _Session(requests.Session):
    """The session a Transport makes: requests' own, but for a redirect hop: no
    ``~/.netrc`` login (its ``rebuild_auth`` still drops credentials for another host),
    and the proxy the registry's rules choose for the hop's URL (``proxies_for``: Go's
    loopback bypass, NO_PROXY), not requests' -- which took the environment's proxy
    for a hop to this machine, and kept a former hop's."""

    proxies_for: Callable[[str], dict[str, str]] | None = None

    def rebuild_proxies(self, prepared_request: requests.PreparedRequest,
                        proxies: dict[str, str] | None) -> dict[str, str]:
        if self.proxies_for is None:
            return super().rebuild_proxies(  # type: ignore[no-any-return,no-untyped-call]
                prepared_request, proxies)
        url = prepared_request.url or ""
        chosen = dict(self.proxies_for(url))
        headers = prepared_request.headers
        headers.pop("Proxy-Authorization", None)
        proxy = select_proxy(url, chosen)
        username, password = get_auth_from_url(proxy) if proxy else (None, None)
        if not url.startswith("https") and username and password:  # (as requests does)
            headers["Proxy-Authorization"] = _basic_auth_str(username, password)
        return chosen

    def rebuild_auth(self, prepared_request: requests.PreparedRequest,
                     response: requests.Response) -> None:
        headers = prepared_request.headers
        if "Authorization" in headers and response.request is not None \
                and self.should_strip_auth(  # type: ignore[no-untyped-call]
                    response.request.url, prepared_request.url):
            del headers["Authorization"]


def new_session() -> requests.Session:
    """A session with the registry's rules on redirect hops too (``_Session``): for a
    caller that brings a session of its own (the CLI's, with a trace hook or a client
    certificate), not a plain ``requests.Session``, which reads ``~/.netrc`` and picks
    proxies its own way on a hop."""
    return _Session()


def prepared_bodyless(
    method: str, url: str, params: Any, headers: Mapping[str, str | bytes],
    auth: tuple[str, str] | None = None,
) -> requests.PreparedRequest:
    """``requests.Request(method, url, params=params, headers=headers,
    auth=auth).prepare()`` for a request without a body, without the steps that cost
    and do nothing here (a new cookie jar turned into no ``Cookie`` header, hooks): the
    same method, URL, headers, ``Content-Length: 0`` where requests adds it (a bodyless
    POST or DELETE) and the credentials of ``auth`` or of the URL's user info."""
    prepared = requests.PreparedRequest()
    prepared.prepare_method(method)
    prepared.prepare_url(url, params)
    prepared.prepare_headers(headers)
    prepared._cookies = RequestsCookieJar()  # type: ignore[attr-defined]  # a redirect's go here
    prepared.prepare_body(None, None)
    prepared.prepare_auth(auth, url)
    return prepared


def to_response(resp: requests.Response, body: bytes | None) -> Response:
    """The library's answer for ``resp``: its body ``body`` when read, else streamed."""
    return Response(
        resp.status_code, resp.headers, resp.url or "", body,
        stream=_StreamedBody(resp) if body is None else None,
        history=tuple(hop.url for hop in resp.history),
        sent_auth_scheme=auth_scheme_sent(resp),
    )


def _relayed(relay: Relay) -> Iterator[bytes]:
    """A :class:`~registry_client._request.Relay` body as blocks: each read from the
    source answer as it arrives and shown to the relay's sink on its way."""
    while block := relay.response.read1(relay.block_size):
        relay.sink(block)
        yield block


_SESSIONS: weakref.WeakSet[requests.Session] = weakref.WeakSet()
"""The sessions of every live Transport: a forked child must not use their sockets."""


def _pool_managers(session: requests.Session) -> Iterator[Any]:
    """The urllib3 pool managers of ``session``'s adapters (their proxies' too)."""
    for adapter in {id(a): a for a in session.adapters.values()}.values():
        yield getattr(adapter, "poolmanager", None)
        yield from getattr(adapter, "proxy_manager", {}).values()


def close_pools(session: requests.Session, *, forked: bool = False) -> None:
    """Close every pooled connection of ``session`` now, then the session.

    ``Session.close()`` alone does not: urllib3 2's ``PoolManager.clear()`` drops its
    pools and leaves their sockets to the garbage collector -- which never frees a pool
    an answer still refers to (one kept by an exception's traceback). The session opens
    new connections when next used.

    ``forked``: in a child just forked, whose only thread is this one: the pools' locks
    are made anew first -- a thread of the parent may have held one at the fork, and the
    child would wait on it for ever.
    """
    for manager in _pool_managers(session):
        pools: Any = getattr(manager, "pools", None)
        if pools is None:
            continue
        if forked:
            pools.lock = threading.RLock()
        for key in list(pools.keys()):
            pool = pools.get(key)
            queue = getattr(pool, "pool", None)  # (None: the pool is closed)
            if forked and queue is not None:
                queue.mutex = threading.Lock()
                queue.not_empty = threading.Condition(queue.mutex)
                queue.not_full = threading.Condition(queue.mutex)
                queue.all_tasks_done = threading.Condition(queue.mutex)
            if pool is not None:
                pool.close()
    session.close()


def _forget_inherited_connections() -> None:
    """In a forked child (gunicorn --preload, celery prefork, multiprocessing's "fork"):
    drop the pooled connections inherited from the parent, which the parent goes on
    using -- two processes reading one socket take each other's answers (a manifest
    GET by tag got another tag's manifest). Closing them here closes the child's copy
    of each socket only; the sessions open new connections when next used."""
    for session in list(_SESSIONS):
        try:
            close_pools(session, forked=True)
        except Exception:  # (a pool that cannot close is dropped anyway)
            log.debug("fork: a session's connections could not be closed", exc_info=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_connections)


class Transport:
    """The pooled HTTP session of one Requester, with its proxies, TLS and User-Agent.

    What went over it (requests, bytes, the last rate limit reported) is counted by
    the exchange flow, on the Requester (``_endpoint.RegistryEndpoint``).

    Args:
        session: a ``requests.Session`` to send through (default: a new pooled one,
            closed by :meth:`close`).
        timeout: ``(connect, read)`` seconds, or one number for both.
        verify: TLS verification: True, False or a CA bundle path.
        proxy: one proxy URL for http and https.
        user_agent: the User-Agent header value.
        pool_size: connections kept per host.
    """

    def __init__(
        self,
        session: requests.Session | None,
        *,
        timeout: Timeout,
        verify: bool | str | os.PathLike[str],
        proxy: str | None,
        user_agent: str | None,
        pool_size: int,
    ) -> None:
        self._own_session = session is None
        self.session = session if session is not None else new_session()
        _SESSIONS.add(self.session)
        if self._own_session:
            adapter = _Adapter(pool_connections=4, pool_maxsize=pool_size)
            adapter.proxy_verify = lambda url: self.settings_for(url)[1]
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
        # Sent with each request, not set on the session: a session the caller handed
        # in keeps its own headers (and its own User-Agent unless ``user_agent`` is given).
        keeps_own = self.session.headers.get("User-Agent") not in (
            None, requests.utils.default_user_agent())
        self.user_agent = user_agent or (None if keeps_own else _DEFAULT_UA)
        self.timeout = timeout
        if session is not None and verify is True and session.verify is not True and isinstance(
                session.verify, bool | str | os.PathLike):
            verify = session.verify  # a caller's session keeps its own TLS setting
        self.verify: bool | str = os.fspath(verify) if isinstance(verify, os.PathLike) else verify
        self.proxies = {"http": with_scheme(proxy), "https": with_scheme(proxy)} if proxy else {}
        self._env = EnvSettings(self.session, self.proxies, self.verify)
        if isinstance(self.session, _Session):
            self.session.proxies_for = lambda url: self.settings_for(url)[0]
        watch_foreign_logs(*_URLLIB3_LOGGERS)

    # -- sending ------------------------------------------------------------------------
    def prepare(
        self, method: str, url: str, *, params: Any, headers: Mapping[str, str] | None,
        data: Any,
    ) -> requests.PreparedRequest:
        """A request ready to send: the session's defaults and the User-Agent merged in."""
        merged = dict(headers or {})
        if isinstance(data, Relay):
            data = _relayed(data)
        if self.user_agent is not None:
            merged.setdefault("User-Agent", self.user_agent)
        if data is None and self._untouched():
            return self._prepare_bodyless(method, url, params, merged)
        req = requests.Request(method, url, params=params, headers=merged, data=data,
                               auth=no_netrc(self.session))
        prepared = self.session.prepare_request(req)
        if "Content-Length" in merged:  # the caller knows the length of a streamed body
            prepared.headers.pop("Transfer-Encoding", None)
        return prepared

    def _untouched(self) -> bool:
        """Whether the session is this transport's own, with nothing added that
        ``Session.prepare_request`` would merge in (params, auth, hooks)."""
        session = self.session
        return (self._own_session and not session.params and session.auth is None
                and not any(session.hooks.values()))

    def _prepare_bodyless(
        self, method: str, url: str, params: Any, headers: dict[str, str],
    ) -> requests.PreparedRequest:
        """``Session.prepare_request`` for a request without a body, minus its per-request
        costs: the session's cookie jar is copied only when it has cookies; ``~/.netrc``
        is not read (see :func:`no_netrc`). The same request."""
        session = self.session
        merged = CaseInsensitiveDict(session.headers)
        merged.update(headers)
        prepared = prepared_bodyless(method, url, params,
                                     {k: v for k, v in merged.items() if v is not None})
        if session.cookies:
            jar = merge_cookies(RequestsCookieJar(), session.cookies)  # type: ignore[no-untyped-call]
            prepared.prepare_cookies(jar)
        return prepared

    def _sends_alone(self) -> bool:
        """Whether :meth:`send` may hand the request to the session's adapter itself.

        ``Session.send`` adds, per request: the adapter lookup, hooks, a cookie parse
        of every answer, the redirect machinery even when there is no redirect --
        about a fifth of the client's CPU for a manifest GET. The transport does the
        same steps only where they apply, on its own session (hooks none) and while
        ``Session.send`` is requests' own (a test double such as requests-mock
        replaces it to route requests: then it must run).
        """
        send = getattr(self.session.send, "__func__", None)  # the instance's, or its class's
        return (getattr(send, "__qualname__", None) == "Session.send"
                and getattr(send, "__module__", None) == "requests.sessions"
                and self._untouched())

    def _send_alone(
        self, prepared: requests.PreparedRequest, *, allow_redirects: bool,
        timeout: Timeout, verify: bool | str, proxies: dict[str, str],
    ) -> requests.Response:
        """What ``Session.send(prepared, stream=True, ...)`` does, step for step."""
        session = self.session
        adapter = session.get_adapter(prepared.url or "")
        resp = adapter.send(prepared, stream=True, timeout=timeout, verify=verify,
                            cert=session.cert, proxies=proxies)
        if "set-cookie" in resp.headers:
            extract_cookies_to_jar(session.cookies, prepared, resp.raw)  # type: ignore[no-untyped-call]
        if allow_redirects and resp.is_redirect:
            resp = self._follow(resp, prepared, timeout=timeout, verify=verify,
                                proxies=proxies)
        return resp

    def _follow(
        self, resp: requests.Response, prepared: requests.PreparedRequest, *,
        timeout: Timeout, verify: bool | str, proxies: dict[str, str],
    ) -> requests.Response:
        """The answer at the end of the redirects from ``resp``, as requests follows them
        (the hops in its ``history``)."""
        session = self.session
        history = [resp, *session.resolve_redirects(
            resp, prepared, stream=True, timeout=timeout,
            verify=verify,  # type: ignore[arg-type]  # requests takes a CA path too
            cert=session.cert, proxies=proxies)]
        resp = history.pop()
        resp.history = history
        return resp

    def send(
        self, prepared: requests.PreparedRequest, *, allow_redirects: bool,
        timeout: Timeout | None,
    ) -> requests.Response:
        """Send ``prepared``; the answer's body is left on the wire (read it, or close it)."""
        t0 = time.monotonic()
        body = prepared.body
        sent = len(body) if isinstance(body, bytes | str) else 0
        proxies, verify = self.settings_for(prepared.url or "")
        wait = timeout if timeout is not None else self.timeout
        # A body read once (a generator: a blob relayed from another registry) cannot go
        # with a redirect: requests would send the spent body's length and no bytes.
        one_pass = body is not None and not isinstance(body, bytes | str) and not callable(
            getattr(body, "seek", None))
        follow = allow_redirects and not one_pass
        token = sending()  # (urllib3's records of it masked)
        try:
            if self._sends_alone():
                resp = self._send_alone(prepared, allow_redirects=follow, timeout=wait,
                                        verify=verify, proxies=proxies)
            else:
                resp = self.session.send(prepared, stream=True, timeout=wait, verify=verify,
                                         proxies=proxies, allow_redirects=follow)
            if allow_redirects and one_pass and resp.is_redirect:
                # A redirect that keeps the method keeps the body, which is spent; one to
                # a GET (302, 303; 301 of a POST) drops it, and is followed as requests does.
                status = resp.status_code
                if status in (307, 308) or (status == 301 and prepared.method != "POST"):
                    resp.close()
                    raise requests.exceptions.UnrewindableBodyError(
                        "a redirect of a body read once", request=prepared, response=resp)
                resp = self._follow(resp, prepared, timeout=wait, verify=verify,
                                    proxies=proxies)
        finally:
            done_sending(token)
        log.debug(
            "%s %s -> %s in %.3fs (sent %d bytes, length %s)",
            prepared.method, redact_url(prepared.url), resp.status_code,
            time.monotonic() - t0, sent, resp.headers.get("Content-Length", "?"),
        )
        return resp

    def request(
        self, method: str, url: str, *, params: Any = None, headers: Any = None,
        data: Any = None, allow_redirects: bool = True,
    ) -> requests.Response:
        """Send a request outside the registry API (a token server's), body left on the wire."""
        # the registry's rules for its proxies and CA bundle (verify=, the environment's
        # variables, SSL_CERT_FILE / SSL_CERT_DIR too); a bundle that does not exist: typed
        proxies, verify = self.settings_for(url)
        if self.user_agent is not None:
            headers = {"User-Agent": self.user_agent, **(headers or {})}
        # Prepared and sent, not Session.request: that reads HTTP(S)_PROXY again from the
        # environment, unless told proxies={"no_proxy": "*"} -- which requests applies by
        # writing os.environ for the call (set_environ): no lock, threads see it, and
        # overlapping calls may leave it set. These proxies are the ones (none: none).
        prepared = self.session.prepare_request(requests.Request(
            method, url, params=params, headers=headers, data=data,
            auth=no_netrc(self.session)))
        token = sending()
        try:
            return self.session.send(prepared, timeout=self.timeout, verify=verify,
                                     proxies=proxies, stream=True, cert=self.session.cert,
                                     allow_redirects=allow_redirects)
        finally:
            done_sending(token)

    def settings_for(self, url: str) -> tuple[dict[str, str], bool | str]:
        """Proxies and TLS verification for ``url``, as ``requests.request`` would use them.

        ``proxy=`` and ``verify=`` win; otherwise, when the session trusts the
        environment (requests' default), HTTP(S)_PROXY / NO_PROXY and
        REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE apply, exactly as for a plain
        ``requests.get``. Worked out once per scheme and host.

        Raises:
            RegistrySSLError: the CA bundle to use does not exist.
        """
        return self._env.settings_for(url)

    def close(self) -> None:
        """Close the session's pooled connections (when this transport created the session)."""
        if self._own_session:
            close_pools(self.session)
