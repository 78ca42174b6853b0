"""A fault-injecting HTTP/1.1 proxy to put between a client and a real registry in tests.

::

    from registry_client.testing import FaultProxy

    with FaultProxy(local_registry.host) as proxy:
        proxy.add_rule(method="GET", path=r"/blobs/", action="cut", after_bytes=1_000_000)
        reg = Registry(proxy.host, protocol="http")
        ...
        assert proxy.count("GET", r"/blobs/") == 2        # the cut, then the Range resume
        assert proxy.requests[-1].headers["range"] == "bytes=1000000-"

The proxy listens on ``127.0.0.1:0`` and forwards every request to the upstream registry
(keep-alive on both sides, ``Content-Length`` and chunked bodies, streamed in blocks so
memory stays bounded).  The ``Host`` header is forwarded unchanged, so the registry's
``Location`` headers point back at the proxy.  Rules added at runtime with
:meth:`FaultProxy.add_rule` are matched in order against each request (method and a
regular expression searched in the request target); the first matching rule with budget
left (``times``) decides the fault:

``"cut"``
    ``on="response"`` (default): forward, send the status line, headers and ``after_bytes``
    bytes of the body, then break the connection (the bytes sent are delivered first, then
    it is reset).  ``on="request"``: forward the headers and ``after_bytes`` bytes of the
    request body upstream, then reset both connections.  A body no longer than
    ``after_bytes`` is passed through whole: nothing is cut and the rule's budget is kept
    (a response cut takes a use of ``times`` at the cut itself, so concurrent requests
    with short bodies never let a long one through uncut).
``"short"``
    Send ``after_bytes`` bytes of a body whose ``Content-Length`` promises more, then close
    the connection cleanly (FIN, not RST); a body no longer than that is not touched.
``"status"``
    Answer ``status`` (500, 502, 503, 429, 401 ...) without forwarding; ``retry_after`` adds
    a ``Retry-After`` header, ``headers`` / ``body`` replace the defaults.
``"delay"``
    Sleep ``delay`` seconds, then forward normally.
``"throttle"``
    Forward, writing the response body at ``rate`` bytes per second.
``"corrupt"``
    Forward, flipping the byte at ``offset`` of the response body.
``"reset"``
    Reset the connection without forwarding (the registry never sees the request).
``"drop"``
    Forward and let the registry act, then reset the connection without answering
    (the "response lost" case).
``"ignore_range"``
    Forward without the ``Range`` header (a server that ignores ``Range``).
``"headers"``
    Forward, with the response headers named in ``headers`` replaced by the values given
    there (or added); e.g. ``{"Content-Type": "binary/octet-stream"}`` for a registry
    whose storage serves manifests with a generic type.
``"redirect"``
    Forward; when the registry answers with a success, answer ``307`` instead, to a URL on
    the proxy's *storage host* (another loopback port); other answers (401...) go back as
    they are.  The storage host serves the same content, fetched from the upstream with
    the credentials of the redirected request (as a pre-signed URL would), and records the
    headers it got in :attr:`FaultProxy.storage_requests`, so tests can prove no
    ``Authorization`` reached it.  Rules with ``server="storage"`` apply faults there.

Every request is recorded (:attr:`FaultProxy.requests`): method, target, headers (names
lower-cased), time, the fault applied, the status sent and body byte counts.  Threads are
daemons, every socket operation has a timeout, the number of connections is bounded, and
:meth:`FaultProxy.stop` (or leaving the ``with`` block) shuts everything down.
"""

from __future__ import annotations

import dataclasses
import http.client
import itertools
import json
import re
import secrets
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator, Mapping
from typing import BinaryIO, Literal, cast
from urllib.parse import urlsplit

from ._util import LOCALHOST, StartStop

__all__ = ["FaultAction", "FaultProxy", "FaultRule", "ProxiedRequest"]

FaultAction = Literal[
    "cut", "short", "status", "delay", "throttle", "corrupt", "reset", "drop",
    "ignore_range", "redirect", "headers",
]
_ACTIONS: frozenset[str] = frozenset(
    {"cut", "short", "status", "delay", "throttle", "corrupt", "reset", "drop",
     "ignore_range", "redirect", "headers"}
)
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate",
    "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding", "upgrade",
    "expect",
})
_BLOCK = 64 * 1024
_MAX_HEAD = 64 * 1024
_MAX_HEADERS = 200
_STORAGE_PREFIX = "/storage/"
_REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
    307: "Temporary Redirect", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


_CloseMode = Literal["reset", "fin", "cut"]


class _Cut(Exception):
    """Abort the connection: ``reset`` (RST now), ``fin`` (clean close) or ``cut``.

    ``cut`` closes our side cleanly so every byte already sent is delivered, waits
    (briefly) for the client to notice, then resets the connection.
    """

    def __init__(self, mode: _CloseMode = "reset") -> None:
        super().__init__(f"connection {mode}")
        self.mode: _CloseMode = mode


@dataclasses.dataclass
class FaultRule:
    """One fault rule (see the module docs); ``applied`` counts the requests it hit."""

    action: FaultAction
    method: str | None = None
    path: re.Pattern[str] | None = None
    times: int | None = 1
    after_bytes: int = 0
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    rate: float = 0.0
    offset: int = 0
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes | None = None
    on: Literal["request", "response"] = "response"
    every: int = 1
    server: Literal["proxy", "storage"] = "proxy"
    matched: int = 0
    applied: int = 0

    def exhausted(self) -> bool:
        """True when the rule has used up its ``times`` budget."""
        return self.times is not None and self.applied >= self.times

    def claims_late(self) -> bool:
        """True for a response cut (``cut``/``short``): its budget is taken at the cut,
        so a matched body that ends before ``after_bytes`` never holds it."""
        return self.action in ("cut", "short") and self.on == "response"

    def matches(self, server: str, method: str, target: str) -> bool:
        """True when the request fits the rule's server, method and path pattern."""
        if server != self.server:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or self.path.search(target) is not None


@dataclasses.dataclass
class ProxiedRequest:
    """A request the proxy (or its storage host) received."""

    server: Literal["proxy", "storage"]
    method: str
    path: str
    """The request target as sent: path and query string."""
    headers: dict[str, str]
    """Request headers, names lower-cased (repeated headers joined by ``", "``)."""
    time: float
    fault: str | None = None
    """The action of the rule applied to this request, or None."""
    status: int | None = None
    """The status the client was sent (None when the connection was cut before it)."""
    request_bytes: int = 0
    """Request body bytes read from the client."""
    response_bytes: int = 0
    """Response body bytes written to the client."""
    connection: int = 0
    """Which client connection carried it (numbered from 1 in accept order)."""


@dataclasses.dataclass
class _Head:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        name = name.lower()
        values = [v for k, v in self.headers if k.lower() == name]
        return ", ".join(values) if values else None

    def without(self, *names: str) -> list[tuple[str, str]]:
        drop = {n.lower() for n in names}
        return [(k, v) for k, v in self.headers if k.lower() not in drop]


@dataclasses.dataclass
class _Grant:
    """What a storage-host URL stands for: an upstream target and the credentials to use."""

    target: str
    headers: list[tuple[str, str]]


class _Conn:
    """One client connection: the socket, a buffered reader, and its upstream connection."""

    def __init__(self, sock: socket.socket, timeout: float, number: int = 0) -> None:
        self.number = number
        self.sock = sock
        self.rfile = cast(BinaryIO, sock.makefile("rb", buffering=_BLOCK))
        self.upstream: http.client.HTTPConnection | None = None
        self.timeout = timeout

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            raise _Cut() from None

    def close(self, mode: _CloseMode | None = None) -> None:
        self.close_upstream()
        try:
            if mode in ("fin", "cut"):
                self.sock.shutdown(socket.SHUT_WR)
            if mode == "cut":
                self.sock.settimeout(0.2)
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline and self.sock.recv(_BLOCK):
                    pass  # until the client closes its side too (bounded)
            if mode in ("reset", "cut"):
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.rfile.close()
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def close_upstream(self) -> None:
        if self.upstream is not None:
            try:
                self.upstream.close()
            except OSError:
                pass
            self.upstream = None


class FaultProxy(StartStop):
    """A threaded HTTP/1.1 proxy on 127.0.0.1 that injects faults (see the module docs).

    Args:
        upstream: the real registry, as ``"127.0.0.1:5000"`` or ``"http://127.0.0.1:5000"``
            (anything with a ``host`` attribute such as a LocalRegistry works too).
        timeout: seconds for every socket operation, both sides (default 10).
        max_connections: client connections served at once; more are refused (default 64).
    """

    def __init__(
        self,
        upstream: object,
        *,
        timeout: float = 10.0,
        max_connections: int = 64,
    ) -> None:
        text = str(getattr(upstream, "host", upstream))
        parts = urlsplit(text if "://" in text else f"http://{text}")
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be a plain-HTTP host:port, not {text!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.timeout = timeout
        self.max_connections = max_connections
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._records: list[ProxiedRequest] = []
        self._grants: dict[str, _Grant] = {}
        self._stopping = threading.Event()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._listeners: dict[str, socket.socket] = {}
        self._threads: set[threading.Thread] = set()
        self._conns: set[_Conn] = set()
        self._accept_threads: list[threading.Thread] = []
        self._numbers = itertools.count(1)
        self.bytes_from_client = 0
        """Request body bytes received from clients (both servers), for transfer accounting."""
        self.bytes_to_client = 0
        """Response body bytes sent to clients (both servers)."""

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FaultProxy:
        """Bind both listeners and start accepting; returns self."""
        if self._listeners:
            raise RuntimeError("proxy already started")
        self._stopping.clear()
        for server in ("proxy", "storage"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LOCALHOST, 0))
            sock.listen(128)
            sock.settimeout(0.2)
            self._listeners[server] = sock
            thread = threading.Thread(
                target=self._accept_loop, args=(server, sock), daemon=True,
                name=f"fault-proxy-{server}-{sock.getsockname()[1]}",
            )
            self._accept_threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut every open connection and wait (bounded) for the threads."""
        self._stopping.set()
        for sock in self._listeners.values():
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept() on Linux
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass
        with self._lock:
            conns = list(self._conns)
            threads = list(self._threads)
        for conn in conns:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + 5.0
        for thread in [*self._accept_threads, *threads]:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._accept_threads = []
        self._listeners = {}

    def __repr__(self) -> str:
        where = self.host if self._listeners else "stopped"
        return f"<FaultProxy {where} -> {self.upstream_host}:{self.upstream_port}>"

    # -- addresses -----------------------------------------------------------------------
    def _port(self, server: str) -> int:
        sock = self._listeners.get(server)
        if sock is None:
            raise RuntimeError("proxy is not started")
        port: int = sock.getsockname()[1]
        return port

    @property
    def port(self) -> int:
        """The proxy's port on 127.0.0.1."""
        return self._port("proxy")

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` -- use as ``Registry(proxy.host, protocol="http")``."""
        return f"{LOCALHOST}:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}"

    @property
    def storage_port(self) -> int:
        """The storage host's port on 127.0.0.1 (the target of ``"redirect"``)."""
        return self._port("storage")

    @property
    def storage_host(self) -> str:
        """``127.0.0.1:PORT`` of the storage host."""
        return f"{LOCALHOST}:{self.storage_port}"

    @property
    def storage_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the storage host."""
        return f"http://{self.storage_host}"

    # -- rules and records ---------------------------------------------------------------
    def add_rule(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        action: FaultAction,
        times: int | None = 1,
        after_bytes: int = 0,
        status: int = 503,
        retry_after: int | str | None = None,
        delay: float = 0.0,
        rate: float = 0.0,
        offset: int = 0,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        on: Literal["request", "response"] = "response",
        every: int = 1,
        server: Literal["proxy", "storage"] = "proxy",
    ) -> FaultRule:
        """Add a rule at the end of the list and return it.

        ``method`` (None: any) and ``path`` (a regex searched in the request target; None:
        any) select requests; ``times`` is how many requests the rule hits (None:
        unlimited); ``every=n`` hits only every n-th matching request.  See the module
        docs for ``action`` and its parameters.
        """
        if action not in _ACTIONS:
            raise ValueError(f"unknown action {action!r}; want one of {sorted(_ACTIONS)}")
        if on not in ("request", "response"):
            raise ValueError("on must be 'request' or 'response'")
        if server not in ("proxy", "storage"):
            raise ValueError("server must be 'proxy' or 'storage'")
        if after_bytes < 0 or every < 1 or (times is not None and times < 0):
            raise ValueError("after_bytes and times must be >= 0, every >= 1")
        if action == "throttle" and rate <= 0:
            raise ValueError("throttle needs rate > 0 (bytes per second)")
        rule = FaultRule(
            action=action, method=method, path=re.compile(path) if path is not None else None,
            times=times, after_bytes=after_bytes, status=status,
            retry_after=str(retry_after) if retry_after is not None else None,
            delay=delay, rate=rate, offset=offset, headers=dict(headers or {}), body=body,
            on=on, every=every, server=server,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove_rule(self, rule: FaultRule) -> None:
        """Remove one rule (no error when it is already gone)."""
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def clear_rules(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        """A snapshot of the rules, in matching order."""
        with self._lock:
            return list(self._rules)

    @property
    def requests(self) -> list[ProxiedRequest]:
        """Requests the proxy received (oldest first; storage host excluded)."""
        with self._lock:
            return [r for r in self._records if r.server == "proxy"]

    @property
    def storage_requests(self) -> list[ProxiedRequest]:
        """Requests the storage host received (oldest first)."""
        with self._lock:
            return [r for r in self._records if r.server == "storage"]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Number of proxy requests with ``method`` whose target matches the regex ``path``."""
        pattern = re.compile(path) if path is not None else None
        return sum(
            1 for r in self.requests
            if (method is None or r.method == method.upper())
            and (pattern is None or pattern.search(r.path))
        )

    def reset(self) -> None:
        """Forget rules, recorded requests, redirect grants and byte counters."""
        with self._lock:
            self._rules.clear()
            self._records.clear()
            self._grants.clear()
            self.bytes_from_client = 0
            self.bytes_to_client = 0

    def _match(self, server: str, method: str, target: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.exhausted() or not rule.matches(server, method, target):
                    continue
                rule.matched += 1
                if rule.matched % rule.every:  # only every n-th match
                    continue
                if not rule.claims_late():
                    rule.applied += 1
                return rule
        return None

    def _claim(self, rule: FaultRule, record: ProxiedRequest) -> bool:
        """Take one use of a late-claiming rule at its cut; False when others took them."""
        with self._lock:
            if rule.exhausted():
                return False
            rule.applied += 1
            record.fault = rule.action
            return True

    def _unapply(self, rule: FaultRule | None, record: ProxiedRequest) -> None:
        """The fault turned out to have nothing to act on: give its budget back."""
        if rule is None:
            return
        with self._lock:
            rule.applied -= 1
            record.fault = None

    def _count(self, record: ProxiedRequest, *, sent: int = 0, received: int = 0) -> None:
        with self._lock:
            record.response_bytes += sent
            record.request_bytes += received
            self.bytes_to_client += sent
            self.bytes_from_client += received

    # -- serving -------------------------------------------------------------------------
    def _accept_loop(self, server: str, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                sock.close()  # over max_connections: refuse
                continue
            sock.settimeout(self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock, self.timeout, next(self._numbers))
            thread = threading.Thread(
                target=self._serve, args=(server, conn), daemon=True, name=f"fault-{server}-conn"
            )
            with self._lock:
                self._conns.add(conn)
                self._threads.add(thread)
            thread.start()

    def _serve(self, server: str, conn: _Conn) -> None:
        mode: _CloseMode | None = None
        try:
            while not self._stopping.is_set():
                head = _read_head(conn.rfile)
                if head is None:
                    break
                if not self._exchange(server, conn, head):
                    break
        except _Cut as cut:
            mode = cut.mode
        except (OSError, ValueError, http.client.HTTPException):
            mode = "reset"
        finally:
            conn.close(mode)
            with self._lock:
                self._conns.discard(conn)
                self._threads.discard(threading.current_thread())
            self._slots.release()

    def _exchange(self, server: str, conn: _Conn, head: _Head) -> bool:
        """Handle one request; return True to keep the connection open."""
        record = ProxiedRequest(
            server="proxy" if server == "proxy" else "storage",
            method=head.method, path=head.target,
            headers=_header_dict(head.headers), time=time.time(), connection=conn.number,
        )
        with self._lock:
            self._records.append(record)
        rule = self._match(server, head.method, head.target)
        record.fault = rule.action if rule is not None and not rule.claims_late() else None
        keep_alive = (head.get("connection") or "").lower() != "close"
        body = _body_reader(head, conn.rfile)

        upstream_target = head.target
        upstream_headers = head.headers
        if server == "storage":
            grant = self._grant_for(head.target)
            if grant is None:
                self._drain(body, record)
                self._answer(conn, record, 404, {}, b'{"errors":[{"code":"NOT_FOUND"}]}')
                return keep_alive
            upstream_target = grant.target
            upstream_headers = [*grant.headers, *[
                (k, v) for k, v in head.headers if k.lower() in ("range", "user-agent")
            ]]

        action = rule.action if rule is not None else None
        if rule is not None and action == "reset":
            raise _Cut()
        if rule is not None and action == "status":
            self._drain(body, record)
            self._answer_status(conn, record, rule)
            return keep_alive
        if action == "redirect":
            # Like a registry with a storage redirect: it authenticates the request first
            # (a 401 or 404 goes back as it is), and only then sends a success elsewhere.
            resp = self._forward(conn, record, head.method, upstream_target, upstream_headers,
                                 body, None)
            if not 200 <= resp.status < 300:
                self._relay(conn, record, head.method, resp, None)
                if resp.will_close:
                    conn.close_upstream()
                return keep_alive
            conn.close_upstream()  # do not read the body we are not going to send
            token = secrets.token_urlsafe(16)
            keep = [(k, v) for k, v in head.headers
                    if k.lower() in ("authorization", "accept", "host")]
            with self._lock:
                self._grants[token] = _Grant(target=head.target, headers=keep)
            location = f"{self.storage_url}{_STORAGE_PREFIX}{token}{head.target}"
            self._answer(conn, record, 307, {"Location": location}, b"")
            return keep_alive
        if rule is not None and action == "delay":
            time.sleep(rule.delay)
        if action == "ignore_range":
            upstream_headers = [(k, v) for k, v in upstream_headers if k.lower() != "range"]

        resp = self._forward(conn, record, head.method, upstream_target, upstream_headers,
                             body, rule)
        if rule is not None and action == "drop":
            _drain_response(resp)
            raise _Cut()
        self._relay(conn, record, head.method, resp, rule)
        if resp.will_close:
            conn.close_upstream()  # the next request opens a new upstream connection
        return keep_alive

    def _grant_for(self, target: str) -> _Grant | None:
        if not target.startswith(_STORAGE_PREFIX):
            return None
        token = target[len(_STORAGE_PREFIX):].split("/", 1)[0]
        with self._lock:
            return self._grants.get(token)

    def _drain(self, body: Iterator[bytes], record: ProxiedRequest) -> None:
        for block in body:
            self._count(record, received=len(block))

    # -- answering -----------------------------------------------------------------------
    def _answer(
        self, conn: _Conn, record: ProxiedRequest, status: int, headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        names = {k.lower() for k in headers}
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if "content-length" not in names:
            lines.append(f"Content-Length: {len(body)}")
        if record.method == "HEAD":  # the headers of the GET's answer, never a body
            body = b""
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        record.status = status
        conn.send(payload)
        self._count(record, sent=len(body))

    def _answer_status(self, conn: _Conn, record: ProxiedRequest, rule: FaultRule) -> None:
        headers: dict[str, str] = {}
        body = rule.body
        if body is None:
            code = {429: "TOOMANYREQUESTS", 401: "UNAUTHORIZED"}.get(rule.status, "UNAVAILABLE")
            body = json.dumps(
                {"errors": [{"code": code, "message": "injected by FaultProxy"}]}
            ).encode()
            headers["Content-Type"] = "application/json"
        if rule.retry_after is not None:
            headers["Retry-After"] = rule.retry_after
        headers.update(rule.headers)
        self._answer(conn, record, rule.status, headers, body)

    # -- forwarding ----------------------------------------------------------------------
    def _upstream(self, conn: _Conn) -> http.client.HTTPConnection:
        sock = conn.upstream.sock if conn.upstream is not None else None
        if sock is not None:
            try:  # an idle kept-alive connection is readable only when the peer closed it
                readable, _, _ = select.select([sock], [], [], 0)
            except (OSError, ValueError):
                readable = [sock]
            if readable:
                conn.close_upstream()
        if conn.upstream is None:
            conn.upstream = http.client.HTTPConnection(
                self.upstream_host, self.upstream_port, timeout=self.timeout
            )
        return conn.upstream

    def _forward(
        self, conn: _Conn, record: ProxiedRequest, method: str, target: str,
        headers: list[tuple[str, str]], body: Iterator[bytes], rule: FaultRule | None,
    ) -> http.client.HTTPResponse:
        """Send the request upstream (streaming its body) and return the response."""
        chunked = any(k.lower() == "transfer-encoding" and "chunked" in v.lower()
                      for k, v in headers)
        cut_at = rule.after_bytes if rule is not None and rule.action == "cut" \
            and rule.on == "request" else None
        for attempt in range(2):
            upstream = self._upstream(conn)
            try:
                upstream.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    if k.lower() not in _HOP_BY_HOP:
                        upstream.putheader(k, v)
                if chunked:
                    upstream.putheader("Transfer-Encoding", "chunked")
                upstream.endheaders()
                break
            except (OSError, http.client.HTTPException):
                # a kept-alive upstream connection that the registry closed: reconnect once
                conn.close_upstream()
                if attempt:
                    raise _Cut() from None
        sent = 0
        blocks = iter(body)
        try:
            for block in blocks:
                if cut_at is not None and sent + len(block) >= cut_at:
                    part = block[: cut_at - sent]
                    self._count(record, received=len(part))
                    if part:
                        upstream.send(part)
                    raise _Cut()
                self._count(record, received=len(block))
                upstream.send(block)
                sent += len(block)
            if chunked:
                upstream.send(b"0\r\n\r\n")
        except OSError:
            # The registry answered early and stopped reading (e.g. a 404 for an unknown
            # upload): read the rest of the client's body so it can read that answer.
            self._drain(blocks, record)
        if cut_at is not None:  # the body ended before the cut point: nothing to cut
            self._unapply(rule, record)
        try:
            return upstream.getresponse()
        except (OSError, http.client.HTTPException):
            conn.close_upstream()
            raise _Cut() from None

    def _relay(
        self, conn: _Conn, record: ProxiedRequest, method: str, resp: http.client.HTTPResponse,
        rule: FaultRule | None,
    ) -> None:
        """Write the upstream response to the client, applying a response fault."""
        action = rule.action if rule is not None else None
        no_body = method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        length = resp.getheader("Content-Length")
        chunked = not no_body and length is None and resp.chunked
        until_close = not no_body and length is None and not resp.chunked
        lines = [f"HTTP/1.1 {resp.status} {resp.reason}"]
        replace = {k.lower(): (k, v) for k, v in rule.headers.items()} \
            if rule is not None and action == "headers" else {}
        for k, v in resp.getheaders():
            if k.lower() not in _HOP_BY_HOP and k.lower() not in replace:
                lines.append(f"{k}: {v}")
        lines.extend(f"{k}: {v}" for k, v in replace.values())
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        if until_close:
            lines.append("Connection: close")
        record.status = resp.status
        conn.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if no_body:
            resp.read()  # a complete answer: no body to cut, and no use of a cut taken
            return

        limit = rule.after_bytes if action in ("cut", "short") and rule is not None \
            and rule.on == "response" else None
        position = 0
        started = time.monotonic()
        cut_next = False
        while True:
            if cut_next:
                conn.close_upstream()
                raise _Cut("fin" if action == "short" else "cut")
            if limit is not None and position >= limit:
                assert rule is not None
                try:  # is anything left to hold back?
                    extra = b"" if resp.isclosed() else resp.read(1)
                    more = bool(extra)
                except (OSError, http.client.HTTPException):
                    extra, more = b"", True
                if more and self._claim(rule, record):
                    conn.close_upstream()
                    raise _Cut("fin" if action == "short" else "cut")
                # The whole body was sent (cutting now would only close a connection the
                # client rightly keeps), or the rule's uses went to other requests: no
                # fault here; the byte read to find out goes on to the client.
                limit = None
                if extra:
                    conn.send(b"1\r\n" + extra + b"\r\n" if chunked else extra)
                    position += 1
                    self._count(record, sent=1)
                continue
            want = _BLOCK if limit is None else min(_BLOCK, limit - position)
            if action == "throttle" and rule is not None:
                want = max(1, min(want, int(rule.rate / 20)))
            try:
                block = resp.read(want)
            except (OSError, http.client.HTTPException):
                conn.close_upstream()
                raise _Cut() from None
            if not block:
                break
            if limit is not None and position + len(block) >= limit:
                # This block reaches the cut point: find out whether anything follows
                # before the client gets it, so a body that ends exactly here is passed
                # through as no fault at all (the rule keeps its budget).
                assert rule is not None
                try:
                    extra = b"" if resp.isclosed() else resp.read(1)
                    more = bool(extra)
                except (OSError, http.client.HTTPException):
                    extra, more = b"", True
                if more and self._claim(rule, record):
                    cut_next = True  # a byte of what follows was read: cut after this block
                else:
                    limit = None
                    block += extra  # not cut after all: the byte read goes on too
            if action == "corrupt" and rule is not None \
                    and position <= rule.offset < position + len(block):
                i = rule.offset - position
                block = block[:i] + bytes([block[i] ^ 0xFF]) + block[i + 1:]
            if chunked:
                conn.send(f"{len(block):x}\r\n".encode() + block + b"\r\n")
            else:
                conn.send(block)
            position += len(block)
            self._count(record, sent=len(block))
            if action == "throttle" and rule is not None:
                ahead = position / rule.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        if chunked:
            conn.send(b"0\r\n\r\n")
        if until_close:
            raise _Cut("fin")


# -- HTTP parsing helpers -------------------------------------------------------------------
def _read_line(rfile: BinaryIO, budget: int) -> bytes:
    line = rfile.readline(budget + 1)
    if len(line) > budget:
        raise ValueError("header section too large")
    return line


def _read_head(rfile: BinaryIO) -> _Head | None:
    """Read a request line and headers; None on a clean end of the connection."""
    budget = _MAX_HEAD
    try:
        line = _read_line(rfile, budget)
    except (TimeoutError, OSError):
        return None
    while line in (b"\r\n", b"\n"):  # tolerate stray blank lines between requests
        line = _read_line(rfile, budget)
    if not line:
        return None
    budget -= len(line)
    parts = line.decode("latin-1").strip().split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError(f"malformed request line {line[:100]!r}")
    headers: list[tuple[str, str]] = []
    while True:
        raw = _read_line(rfile, budget)
        budget -= len(raw)
        if raw in (b"\r\n", b"\n"):
            break
        if not raw:
            raise ValueError("connection closed inside the headers")
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep or not name.strip():
            raise ValueError(f"malformed header line {raw[:100]!r}")
        headers.append((name.strip(), value.strip()))
        if len(headers) > _MAX_HEADERS:
            raise ValueError("too many headers")
    return _Head(method=parts[0].upper(), target=parts[1], version=parts[2], headers=headers)


def _body_reader(head: _Head, rfile: BinaryIO) -> Iterator[bytes]:
    """The request body as blocks: raw chunked framing, or Content-Length bytes, or nothing."""
    if "chunked" in (head.get("transfer-encoding") or "").lower():
        return _chunked_raw(rfile)
    length = head.get("content-length")
    if length is None:
        return iter(())
    if not length.strip().isdigit():
        raise ValueError(f"bad Content-Length {length[:40]!r}")
    return _exact(rfile, int(length))


def _exact(rfile: BinaryIO, length: int) -> Iterator[bytes]:
    left = length
    while left > 0:
        block = rfile.read(min(_BLOCK, left))
        if not block:
            raise _Cut()  # the client went away mid-body
        left -= len(block)
        yield block


def _chunked_raw(rfile: BinaryIO) -> Iterator[bytes]:
    """Yield a chunked body with its framing (to forward as is), minus the last chunk."""
    while True:
        size_line = _read_line(rfile, 1024)
        if not size_line:
            raise _Cut()
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while _read_line(rfile, 8192) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return
        yield size_line
        yield from _exact(rfile, size)
        crlf = rfile.read(2)
        if crlf != b"\r\n":
            raise ValueError("malformed chunk")
        yield crlf


def _drain_response(resp: http.client.HTTPResponse) -> None:
    try:
        while resp.read(_BLOCK):
            pass
    except (OSError, http.client.HTTPException):
        pass


def _header_dict(headers: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in headers:
        key = k.lower()
        out[key] = f"{out[key]}, {v}" if key in out else v
    return out
