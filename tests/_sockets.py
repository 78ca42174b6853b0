"""Test servers' side of a raw connection: read what a client sent."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable


def read_head(conn: socket.socket) -> bytes:
    """What the client sent up to the end of a request's head (``\\r\\n\\r\\n``), or up to
    its hang-up when the head never ended."""
    data = b""
    while b"\r\n\r\n" not in data:
        part = conn.recv(65536)
        if not part:
            break
        data += part
    return data


def tls_absolute_proxy(context: ssl.SSLContext, seen: list[bytes],
                       ) -> Callable[[socket.socket], None]:
    """A ``tcp_server`` handler: an https:// proxy for plain-HTTP URLs (absolute-URI
    requests) behind ``context``'s certificate, answering each connection's first
    request with a registry's 200 ``{}``; what it received goes to ``seen``."""

    def handle(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            tls = context.wrap_socket(conn, server_side=True)
            seen.append(tls.recv(65536))
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n"
                        b"Docker-Distribution-API-Version: registry/2.0\r\n\r\n{}")

    return handle
