"""Test servers' side of a raw connection: read what a client sent."""

from __future__ import annotations

import socket


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
