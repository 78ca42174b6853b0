"""Shared fixtures: one real Distribution registry per auth mode (session-scoped).

The ``registry_client.testing`` pytest plugin (loaded through its entry point) provides
``local_registry``, ``local_registry_factory`` and ``unique_repository``; the fixtures
here build on it:

* ``anon_registry`` - no auth;
* ``basic_registry`` - htpasswd auth, users ``admin`` / ``alice``;
* ``token_registry`` - token auth, users ``admin`` (everything, incl. the catalog),
  ``alice`` (pull+push everywhere), ``reader`` (pull only); anonymous may pull;
* ``any_registry`` - parametrized over the three (ids ``anonymous``, ``basic``, ``token``).

Passwords are available as ``reg.users[name]``; ``reg.admin`` is ``(name, password)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from registry_client.testing import LocalRegistry, LocalRegistryFactory

BASIC_USERS = {"alice": "alice-secret"}
TOKEN_USERS = {"alice": "alice-secret", "reader": "reader-secret"}
TOKEN_GRANTS = {"reader": {"*": "pull"}}


@pytest.fixture(scope="session")
def anon_registry(local_registry: LocalRegistry) -> LocalRegistry:
    """The plugin's session-scoped anonymous registry."""
    return local_registry


@pytest.fixture(scope="session")
def basic_registry(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """A session-scoped registry with htpasswd (Basic) auth."""
    return local_registry_factory("basic", users=BASIC_USERS)


@pytest.fixture(scope="session")
def token_registry(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """A session-scoped registry with token auth and its own token server."""
    return local_registry_factory("token", users=TOKEN_USERS, grants=TOKEN_GRANTS)


@pytest.fixture(
    scope="session",
    params=["anonymous", "basic", "token"],
    ids=["anonymous", "basic", "token"],
)
def any_registry(request: pytest.FixtureRequest) -> LocalRegistry:
    """Each of ``anon_registry``, ``basic_registry`` and ``token_registry`` in turn."""
    name = {"anonymous": "anon_registry", "basic": "basic_registry", "token": "token_registry"}
    registry: LocalRegistry = request.getfixturevalue(name[request.param])
    return registry


class RecordingServer:
    """A loopback HTTP/1.1 server that records each request's line and headers; ``/set``
    sets a cookie, ``/moved`` redirects to ``/there``; everything else answers 200."""

    def __init__(self) -> None:
        import http.server
        import threading

        owner = self
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.bodies: list[bytes] = []
        self.peers: list[int] = []  # the client's port of each request: its connection

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                owner.seen.append((self.command, self.path,
                                   {k.lower(): v for k, v in self.headers.items()}))
                length = int(self.headers.get("Content-Length") or 0)
                owner.bodies.append(self.rfile.read(length))
                owner.peers.append(self.client_address[1])
                if self.path.startswith("/moved"):
                    self.send_response(307)
                    self.send_header("Location", "/there")
                elif self.path.startswith("/found"):  # (a 302: the method becomes GET)
                    self.send_response(302)
                    self.send_header("Location", "/there")
                else:
                    self.send_response(200)
                if self.path.startswith("/set"):
                    self.send_header("Set-Cookie", "lb=backend-2; Path=/")
                self.send_header("Content-Length", "2")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(b"{}")

            do_GET = do_HEAD = do_DELETE = do_POST = do_PUT = do_PATCH = _answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> RecordingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    """A loopback HTTP/1.1 server that records what it receives (see RecordingServer)."""
    with RecordingServer() as server:
        yield server


@pytest.fixture
def thread_sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bytes each block the asyncio API sent from a worker thread straight to a socket
    (``aio._network.ThreadWriter.send``) held: proof that path ran."""
    # reason: the asyncio extra (httpx) is not installed in the lowest-versions run
    from registry_client.aio import _network as network

    sizes: list[int] = []
    original = network.ThreadWriter.send

    def spy(self: network.ThreadWriter, data: bytes, stop: Any) -> None:
        sizes.append(len(data))
        original(self, data, stop)

    monkeypatch.setattr(network.ThreadWriter, "send", spy)
    return sizes
