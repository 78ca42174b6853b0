"""Small helpers shared by the testing modules (no third-party imports)."""

from __future__ import annotations

import abc
import base64
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

_S = TypeVar("_S", bound="StartStop")

#: Every request the testing helpers themselves send to a registry carries a
#: User-Agent starting with this prefix, so they can be left out of request counts.
INTERNAL_USER_AGENT = "registry-client-testing"

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def tcp_server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A loopback TCP server for connection faults no registry makes: it hands each
    accepted connection to ``handle`` (read the request, answer nothing, hang up, speak
    TLS...) and yields its port; the server stops when the ``with`` block ends.

    Example::

        with tcp_server(lambda conn: conn.recv(65536)) as port:  # a server that never answers
            Registry(f"127.0.0.1:{port}", protocol="http", timeout=(1, 1)).ping()
    """
    listener = socket.socket()
    listener.bind((LOCALHOST, 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                handle(conn)

    thread = threading.Thread(target=serve, daemon=True, name="tcp-server")
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated recursively by ``extra`` (neither is modified)."""
    merged: dict[str, Any] = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def b64url(data: bytes) -> str:
    """Base64url without padding, as used by JWS."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_actions(actions: str) -> list[str]:
    """Split an action list such as ``"pull,push"`` into its (deduplicated) items."""
    result: list[str] = []
    for action in actions.split(","):
        action = action.strip()
        if action and action not in result:
            result.append(action)
    return result


class StartStop(abc.ABC):
    """Base of the test servers: ``with X(...) as x`` calls ``start()`` and ``stop()``."""

    @abc.abstractmethod
    def start(self: _S) -> _S:
        """Start serving; return self."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop serving (idempotent)."""

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
