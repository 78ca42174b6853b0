"""Helpers for the read-side integration tests.

* ``client_for(reg, user=None, password=None, *, anonymous=False, **kw) -> Registry``:
  a :class:`~registry_client.Registry` for a :class:`LocalRegistry`, closed at teardown.
  Without ``user`` it authenticates as the registry's admin (nothing in anonymous mode);
  ``anonymous=True`` sends no credentials (``NullAuthenticator`` for the anonymous and
  basic registries, an anonymous ``TokenAuthenticator`` - as ``docker pull`` - in token
  mode).
* ``client``: ``client_for(any_registry)``.
* ``tag_paging_proxy``: a small threaded HTTP proxy in front of the anonymous registry
  that pages ``tags/list`` itself, ECR-style, with an opaque cursor (Distribution 2.8
  ignores ``n`` and ``last`` there). Every other request is forwarded unchanged.
* ``authenticator_for(reg, user=None, password=None, *, anonymous=False)``: the
  authenticator ``client_for`` would use.
* ``blob_data_path(reg, digest)``: where Distribution's filesystem driver keeps a blob's
  bytes (to corrupt them on purpose).
* ``flavour``: parametrised over the blocking API and ``AsyncRegistry`` (ids ``blocking``,
  ``asyncio``); ``flavour.connect(reg, **kw)`` is a client of that flavour with the
  blocking API's face, so one scenario body runs against both (see ``_flavours.py``).
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import requests.adapters

from registry_client import (
    Authenticator,
    BasicAuthenticator,
    NullAuthenticator,
    Registry,
    TokenAuthenticator,
)
from registry_client.testing import LocalRegistry

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _flavours import FLAVOURS, Flavour, open_flavour

ClientFactory = Callable[..., Registry]

# Response headers that describe the hop, not the content: never copied by the proxy.
_HOP_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-encoding",
    "content-length",
    "date",
    "server",
}
_TAGS_LIST_RE = re.compile(r"^/v2/(?P<name>.+)/tags/list$")


def _blob_data_path(reg: LocalRegistry, digest: str) -> Path:
    """The file in which Distribution's filesystem driver stores the bytes of ``digest``."""
    algo, hexd = digest.split(":", 1)
    return reg.storage_dir / "docker/registry/v2/blobs" / algo / hexd[:2] / hexd / "data"


def _make_authenticator(
    reg: LocalRegistry, user: str | None = None, password: str | None = None,
    *, anonymous: bool = False,
) -> Authenticator | None:
    """The authenticator a user of ``reg`` would pick (see the module docstring)."""
    if anonymous or reg.auth == "anonymous":
        return None if reg.auth == "token" else NullAuthenticator()
    assert reg.admin is not None
    name = user if user is not None else reg.admin[0]
    secret = password if password is not None else reg.users[name]
    if reg.auth == "basic":
        return BasicAuthenticator(name, secret)
    return TokenAuthenticator(name, secret)


@pytest.fixture(scope="module", params=("anonymous", "token"))
def reg(request: pytest.FixtureRequest) -> LocalRegistry:
    """The write-side tests' registry: the anonymous one, then the token one."""
    name = {"anonymous": "anon_registry", "token": "token_registry"}[request.param]
    registry: LocalRegistry = request.getfixturevalue(name)
    return registry


@pytest.fixture(scope="module")
def rc(reg: LocalRegistry) -> Iterator[Registry]:
    """A client of ``reg`` as its admin (token mode), so deletes are allowed."""
    auth = TokenAuthenticator(*reg.admin) if reg.admin is not None else None
    with Registry(reg.host, protocol="http", authenticator=auth) as client:
        yield client


@pytest.fixture
def blob_data_path() -> Callable[[LocalRegistry, str], Path]:
    """``blob_data_path(reg, digest) -> Path`` of the blob's ``data`` file in storage."""
    return _blob_data_path


@pytest.fixture
def authenticator_for() -> Callable[..., Authenticator | None]:
    """``authenticator_for(reg, user=None, password=None, *, anonymous=False)``."""
    return _make_authenticator


@pytest.fixture
def client_for() -> Iterator[ClientFactory]:
    """``client_for(reg, user=None, password=None, *, anonymous=False, **kw) -> Registry``."""
    made: list[Registry] = []

    def make(
        reg: LocalRegistry, user: str | None = None, password: str | None = None,
        *, anonymous: bool = False, host: str | None = None, **kw: Any,
    ) -> Registry:
        kw.setdefault(
            "authenticator", _make_authenticator(reg, user, password, anonymous=anonymous)
        )
        client = Registry(host or reg.host, protocol="http", **kw)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> Iterator[Flavour]:
    """The blocking API, then the asyncio one behind a blocking view (issue #14)."""
    with open_flavour(request.param) as chosen:
        yield chosen


@pytest.fixture
def client(client_for: ClientFactory, any_registry: LocalRegistry) -> Registry:
    """A client of ``any_registry`` authenticated as its admin (anonymous registry: none)."""
    return client_for(any_registry)


# -- the tag paging proxy ---------------------------------------------------------------


@dataclass
class ProxiedRequest:
    """One request the proxy received."""

    method: str
    target: str
    """Path and query, as sent by the client."""
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)


@dataclass
class TagPagingProxy:
    """State and knobs of the proxy (see :func:`tag_paging_proxy`)."""

    upstream: str
    host: str = ""
    default_page_size: int = 100
    head_delay: float = 0.0
    """Seconds each ``HEAD .../manifests/...`` is held before it is forwarded."""
    received: list[ProxiedRequest] = field(default_factory=list)
    max_concurrent_heads: int = 0
    cursors: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Opaque cursor -> (repository, offset of the next page)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _heads_in_flight: int = 0
    session: requests.Session = field(default_factory=requests.Session)

    def tag_list_requests(self) -> list[ProxiedRequest]:
        return [r for r in self.received if r.method == "GET" and _TAGS_LIST_RE.match(r.path)]

    def enter_head(self) -> None:
        with self.lock:
            self._heads_in_flight += 1
            self.max_concurrent_heads = max(self.max_concurrent_heads, self._heads_in_flight)

    def leave_head(self) -> None:
        with self.lock:
            self._heads_in_flight -= 1


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    proxy: TagPagingProxy


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stalls
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        proxy = self.server.proxy
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        with proxy.lock:
            proxy.received.append(ProxiedRequest(self.command, self.path, headers))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        parts = urlsplit(self.path)
        match = _TAGS_LIST_RE.match(parts.path)
        if self.command == "GET" and match:
            self._tags_page(match.group("name"), parse_qs(parts.query), headers)
            return
        is_manifest_head = self.command == "HEAD" and "/manifests/" in parts.path
        if is_manifest_head:
            proxy.enter_head()
        try:
            if is_manifest_head and proxy.head_delay:
                time.sleep(proxy.head_delay)
            resp = proxy.session.request(
                self.command, proxy.upstream + self.path, headers=headers, data=body,
                allow_redirects=False, timeout=30,
            )
        finally:
            if is_manifest_head:
                proxy.leave_head()
        self._reply(resp.status_code, resp.headers, resp.content)

    def _tags_page(
        self, name: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> None:
        proxy = self.server.proxy
        resp = proxy.session.get(
            f"{proxy.upstream}/v2/{name}/tags/list", headers=headers, timeout=30
        )
        if resp.status_code != 200:
            self._reply(resp.status_code, resp.headers, resp.content)
            return
        # sorted, as Distribution 3 and the paging registries do (2.8 uses directory order)
        tags: list[str] = sorted(resp.json().get("tags") or [])
        size = int(query.get("n", [proxy.default_page_size])[0])
        offset = 0
        if "cursor" in query:
            with proxy.lock:
                known = proxy.cursors.get(query["cursor"][0])
            if known is None or known[0] != name:
                error = {"errors": [{"code": "PAGINATION_TOKEN_INVALID", "message": "bad cursor"}]}
                self._reply(400, {"Content-Type": "application/json"}, json.dumps(error).encode())
                return
            offset = known[1]
        page = tags[offset : offset + size]
        extra: dict[str, str] = {"Content-Type": "application/json"}
        if offset + size < len(tags):
            cursor = secrets.token_urlsafe(24)
            with proxy.lock:
                proxy.cursors[cursor] = (name, offset + size)
            extra["Link"] = f'</v2/{name}/tags/list?n={size}&cursor={cursor}>; rel="next"'
        self._reply(200, extra, json.dumps({"name": name, "tags": page}).encode())

    def _reply(self, status: int, headers: Any, body: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in _HOP_HEADERS:
                self.send_header(key, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", headers.get("Content-Length", "0"))
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@pytest.fixture
def tag_paging_proxy(anon_registry: LocalRegistry) -> Iterator[TagPagingProxy]:
    """A paging proxy on ``127.0.0.1:<free port>`` in front of ``anon_registry``.

    ``GET /v2/<name>/tags/list`` is answered from the registry's full list (sorted), ``n`` tags at a
    time (default 100), with ``Link: </v2/<name>/tags/list?n=N&cursor=OPAQUE>;
    rel="next"`` while more follow; ``last`` is ignored, so a client must follow the
    ``Link`` as given. ``proxy.received`` records what the client sent (with headers).
    """
    proxy = TagPagingProxy(upstream=anon_registry.url)
    proxy.session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))
    server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
    server.proxy = proxy
    proxy.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
        name="tag-paging-proxy",
    )
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        proxy.session.close()
