"""A tiny threaded TCP proxy that cuts one request body in the middle (for resume tests).

``CutProxy(("127.0.0.1", registry_port), method="PATCH", nth=1, cut_after=1 << 20)``
listens on ``127.0.0.1:<free port>`` and forwards every connection to the upstream
registry byte for byte.  It parses the HTTP/1.1 requests going upstream (request line,
headers, ``Content-Length`` body) so it knows where each body starts.  The ``nth``
request with ``method`` whose body is longer than ``cut_after`` is cut once after exactly
``cut_after`` body bytes were forwarded:

1. nothing more from the upstream reaches the client (its answer is swallowed),
2. the upstream side is half-closed, so the registry sees the body end early and finishes
   handling the broken request (it has done so before the client learns anything),
3. the client connection is reset (``SO_LINGER`` 0), so the client sees a connection error
   while sending the body or waiting for the answer.

Everything after that one cut is forwarded normally.  The proxy is bounded (at most
``max_connections`` live connections, socket timeouts) and :meth:`stop` closes every socket
and joins every thread.
"""

from __future__ import annotations

import socket
import struct
import threading
from types import TracebackType

_HEADER_LIMIT = 64 * 1024
_BLOCK = 256 * 1024


class CutProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream``; cut one request body once (see module)."""

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        method: str = "PATCH",
        nth: int = 1,
        cut_after: int = 1 << 20,
        max_connections: int = 32,
        timeout: float = 30.0,
    ) -> None:
        self.upstream = upstream
        self.method = method.upper().encode("ascii")
        self.nth = nth
        self.cut_after = cut_after
        self.max_connections = max_connections
        self.timeout = timeout
        self.cuts = 0
        """How many request bodies were cut (0 or 1)."""
        self.matching_requests = 0
        """How many requests with ``method`` went through (including the cut one)."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._slots = threading.BoundedSemaphore(max_connections)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> CutProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.2)
        self._listener = listener
        self._spawn(self._accept_loop, "cut-proxy-accept")
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock, socket.SHUT_RDWR)  # wakes the threads blocked in recv
            _close(sock)
        for thread in list(self._threads):
            thread.join(timeout=5)

    def __enter__(self) -> CutProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._listener is not None, "proxy not started"
        port: int = self._listener.getsockname()[1]
        return port

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` - use it as the Registry domain."""
        return f"127.0.0.1:{self.port}"

    # -- internals -----------------------------------------------------------------------
    def _spawn(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._slots.acquire(timeout=self.timeout):
                _close(client)
                continue
            self._spawn(self._serve, "cut-proxy-conn", client)

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            client.settimeout(self.timeout)
            self._track(client)
            upstream = socket.create_connection(self.upstream, timeout=self.timeout)
            self._track(upstream)
            muted = threading.Event()
            back = threading.Thread(
                target=self._pump_back, args=(upstream, client, muted), daemon=True,
                name="cut-proxy-back",
            )
            back.start()
            cut = self._pump_requests(client, upstream)
            if cut:
                muted.set()
                _shutdown(upstream, socket.SHUT_WR)  # the registry sees the body end early
                back.join(timeout=5)  # ... and has finished with the request
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                _close(client)  # RST: the client sees a connection error
            else:
                _shutdown(upstream, socket.SHUT_WR)
                back.join(timeout=self.timeout)
        except OSError:
            pass
        finally:
            _close(client)
            if upstream is not None:
                _close(upstream)
            with self._lock:
                self._sockets.discard(client)
                if upstream is not None:
                    self._sockets.discard(upstream)
            self._slots.release()

    def _pump_back(self, upstream: socket.socket, client: socket.socket,
                   muted: threading.Event) -> None:
        try:
            while block := upstream.recv(_BLOCK):
                if not muted.is_set():
                    client.sendall(block)
        except OSError:
            pass
        if not muted.is_set():
            _shutdown(client, socket.SHUT_WR)

    def _pump_requests(self, client: socket.socket, upstream: socket.socket) -> bool:
        """Forward requests upstream; return True when a body was cut (stop there)."""
        buffer = b""
        while True:
            # -- headers of the next request
            while b"\r\n\r\n" not in buffer:
                if len(buffer) > _HEADER_LIMIT:
                    return self._passthrough(client, upstream, buffer)
                block = client.recv(_BLOCK)
                if not block:
                    if buffer:
                        upstream.sendall(buffer)
                    return False
                buffer += block
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            head += b"\r\n\r\n"
            lines = head.split(b"\r\n")
            request_line = lines[0]
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(b":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                return self._passthrough(client, upstream, head + buffer)
            length = int(headers.get(b"content-length", b"0") or b"0")
            cut_at = None
            if request_line.split(b" ", 1)[0] == self.method:
                with self._lock:
                    self.matching_requests += 1
                    if (self.cuts == 0 and self.matching_requests >= self.nth
                            and length > self.cut_after):
                        self.cuts = 1
                        cut_at = self.cut_after
            upstream.sendall(head)
            # -- its body
            limit = length if cut_at is None else cut_at
            sent = 0
            while sent < limit:
                if not buffer:
                    buffer = client.recv(_BLOCK)
                    if not buffer:
                        return False
                part, buffer = buffer[: limit - sent], buffer[limit - sent:]
                upstream.sendall(part)
                sent += len(part)
            if cut_at is not None:
                return True

    def _passthrough(self, client: socket.socket, upstream: socket.socket, pending: bytes) -> bool:
        upstream.sendall(pending)
        while block := client.recv(_BLOCK):
            upstream.sendall(block)
        return False


def _shutdown(sock: socket.socket, how: int) -> None:
    try:
        sock.shutdown(how)
    except OSError:
        pass


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
