"""The servers a benchmark talks to: real registries with request/connection counters, and
the tag-paging proxy (Distribution 2.8 ignores ``n``/``last`` on ``tags/list``).

Request counts come from the registry's access log (the testing plugin's parser; requests
sent by the harness carry an internal User-Agent and are never counted).  Connection counts
come from the registry's application log, which names the client's ``ip:port`` of every
request: distinct ports during one run = TCP connections the client opened.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import requests

from registry_client.testing import LocalRegistry
from registry_client.testing._accesslog import LogCapture, parse_access_log_line

from ._data import INTERNAL_UA

_REMOTE_RE = re.compile(r'http\.request\.remoteaddr="?([^"\s]+)"?')
_UA_RE = re.compile(r'http\.request\.useragent=(?:"((?:[^"\\]|\\.)*)"|(\S+))')


class _CountingCapture(LogCapture):
    """The plugin's log capture, plus the client address of every application log line."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.remote: list[tuple[str, str]] = []  # (remoteaddr, user agent), in order
        self.seen_markers: set[str] = set()
        self.seen_access_markers: set[str] = set()

    def feed(self, line: str) -> None:
        if "http.request.remoteaddr" in line:
            m, u = _REMOTE_RE.search(line), _UA_RE.search(line)
            ua = (u.group(1) or u.group(2) or "") if u else ""
            with self._lock:
                if ua.startswith(f"{INTERNAL_UA}/sync-"):
                    self.seen_markers.add(ua)
                elif m:
                    self.remote.append((m.group(1), ua))
        else:
            entry = parse_access_log_line(line)
            if entry is not None and entry.user_agent.startswith(f"{INTERNAL_UA}/sync-"):
                with self._lock:
                    self.seen_access_markers.add(entry.user_agent)
        super().feed(line)

    def remote_len(self) -> int:
        with self._lock:
            return len(self.remote)

    def remote_since(self, start: int) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.remote[start:])


@dataclasses.dataclass
class Mark:
    access: int
    remote: int
    token: int


class BenchRegistry:
    """A started :class:`LocalRegistry` whose requests and connections can be counted."""

    def __init__(self, name: str, auth: str, **kwargs: Any) -> None:
        self.name = name
        self.reg = LocalRegistry(auth, **kwargs)  # type: ignore[arg-type]
        self._capture = _CountingCapture()
        self.reg._log = self._capture  # count connections too (before start: the drains use it)
        self.reg.start()

    @property
    def host(self) -> str:
        return self.reg.host

    @property
    def url(self) -> str:
        return self.reg.url

    def stop(self) -> None:
        self.reg.stop()

    def cpu_s(self) -> float | None:
        """CPU time (user + system) the registry process has used so far, or None.

        On 2 cores the registry's CPU and the client's share the machine: a workload the
        registry's CPU bounds (many small requests, a copy's target hashing) shows it here.
        """
        pid = self.reg.pid
        if pid is None:
            return None
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def sync(self, timeout: float = 5.0) -> None:
        """Wait until every log line (access and application log) of answered requests is read."""
        marker = f"{INTERNAL_UA}/sync-{uuid.uuid4().hex}"
        requests.get(f"{self.url}/v2/", headers={"User-Agent": marker}, timeout=timeout)
        deadline = time.monotonic() + timeout
        cap = self._capture
        while time.monotonic() < deadline:
            with cap._lock:
                if marker in cap.seen_markers and marker in cap.seen_access_markers:
                    return
            time.sleep(0.005)
        raise TimeoutError(f"{self.name}: log lines of the sync request did not show up")

    def mark(self) -> Mark:
        self.sync()
        token = self.reg.token_server.count if self.reg.token_server is not None else 0
        return Mark(len(self.reg.access_log_entries(include_internal=True)),
                    self._capture.remote_len(), token)

    def since(self, mark: Mark) -> dict[str, Any]:
        """Requests, token requests and connections since ``mark`` (client traffic only)."""
        self.sync()
        entries = [e for e in self.reg.access_log_entries(include_internal=True)[mark.access:]
                   if not e.internal]
        remotes = {addr for addr, ua in self._capture.remote_since(mark.remote)
                   if not ua.startswith("registry-client-testing")}
        by_kind: dict[str, int] = {}
        for e in entries:
            key = f"{e.method} {_kind(e.path)} {e.status}"
            by_kind[key] = by_kind.get(key, 0) + 1
        token = (self.reg.token_server.count - mark.token
                 if self.reg.token_server is not None else 0)
        return {"requests": len(entries), "token_requests": token,
                "connections": len(remotes), "by_kind": by_kind,
                "bytes_sent_by_registry": sum(e.size for e in entries)}


def _kind(path: str) -> str:
    if path.rstrip("/") == "/v2":
        return "/v2/"
    for part in ("/manifests/", "/blobs/uploads/", "/blobs/", "/tags/list"):
        if part in path:
            return part.strip("/")
    return "other"


# -- the paging proxy -------------------------------------------------------------------

_TAGS_RE = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    proxy: PagingProxy

    def process_request(self, request: Any, client_address: Any) -> None:
        self.proxy._count("connections")
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Count clients that reset the connection (closing it with unread data) quietly."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
            self.proxy._count("client_resets")
        else:
            super().handle_error(request, client_address)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK stall
    # every keep-alive response by ~40 ms
    disable_nagle_algorithm = True
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.server.proxy._handle(self, "GET")

    def do_HEAD(self) -> None:
        self.server.proxy._handle(self, "HEAD")

    def reply(self, status: int, headers: Mapping[str, str], body: bytes, head: bool) -> None:
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in _HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


class PagingProxy:
    """A loopback proxy in front of one registry that pages ``tags/list`` like Distribution 3.

    ``GET /v2/<name>/tags/list?n=N&last=T`` answers at most N tags (default ``page_size``)
    after T, with ``Link: </v2/<name>/tags/list?n=N&last=LAST>; rel="next"`` while more
    follow.  Every other GET/HEAD is passed through unchanged (challenges included).
    """

    def __init__(self, upstream: str, page_size: int) -> None:
        self.upstream = upstream.rstrip("/")
        self.page_size = page_size
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._local = threading.local()
        self._server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1

    def _session(self) -> requests.Session:
        s: requests.Session | None = getattr(self._local, "s", None)
        if s is None:
            s = self._local.s = requests.Session()
        return s

    def _handle(self, h: _ProxyHandler, method: str) -> None:
        parts = urlsplit(h.path)
        fwd = {k: v for k, v in h.headers.items()
               if k.lower() in ("authorization", "accept", "user-agent")}
        m = _TAGS_RE.match(parts.path)
        if m is None:
            self._count("passthrough")
            r = self._session().request(method, self.upstream + h.path, headers=fwd,
                                        timeout=30, allow_redirects=False)
            h.reply(r.status_code, r.headers, r.content, method == "HEAD")
            return
        r = self._session().get(f"{self.upstream}{parts.path}", headers=fwd, timeout=30)
        if r.status_code != 200:
            self._count(f"tags_{r.status_code}")
            h.reply(r.status_code, r.headers, r.content, method == "HEAD")
            return
        self._count("pages")
        q = parse_qs(parts.query)
        n = int(q.get("n", [str(self.page_size)])[0] or self.page_size)
        n = max(1, min(n, 10_000))
        last = q.get("last", [""])[0]
        doc = r.json()
        tags = sorted(doc.get("tags") or [])
        if last:
            tags = [t for t in tags if t > last]
        page, more = tags[:n], len(tags) > n
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Docker-Distribution-Api-Version": "registry/2.0"}
        if more and page:
            name = m.group("name")
            headers["Link"] = (f'</v2/{name}/tags/list?n={n}&last={quote(page[-1])}>; '
                               'rel="next"')
        body = json.dumps({"name": doc.get("name"), "tags": page}).encode()
        h.reply(200, headers, body, method == "HEAD")
