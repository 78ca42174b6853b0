"""The process's standard output, written whole.

A pipe may take only part of a write: one left non-blocking (CI runners and Node
parents may hand a child such a stdout) refuses more while its reader is slow, and
under ``PYTHONUNBUFFERED`` (Python container images set it) each write goes straight
to the descriptor. Python's own ``sys.stdout`` then drops the rest silently (exit 0,
output cut at 64 KiB), or raises ``BlockingIOError`` from its last flush (a traceback,
exit 120). The command writes through :func:`whole_stdout` instead: the rest is
written once the pipe takes it, as Go's and C's tools do; a reader that went away is
still a broken pipe (exit 141).
"""

from __future__ import annotations

import io
import os
import select
import sys
from typing import Any, TextIO

__all__ = ["whole_stdout"]


class _WholeWrites(io.RawIOBase):
    """A descriptor every write goes to whole: what a write leaves is written next,
    after waiting for the descriptor to take more when it is non-blocking."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: Any) -> int:
        """Write all of ``data`` (bytes-like); its length."""
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            try:
                view = view[os.write(self._fd, view):]
            except BlockingIOError:
                select.select([], [self._fd], [])
        return total


def whole_stdout(stream: TextIO | None) -> TextIO | None:
    """``stream`` when it is not the process's own standard output (a caller's capture,
    None for a closed descriptor); else a text stream like it over the same descriptor
    whose writes go whole."""
    real = sys.__stdout__
    if real is None or stream is not real:
        return stream
    try:
        fd = real.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation included
        return stream
    real.flush()
    buffered = io.BufferedWriter(_WholeWrites(fd), 1 << 16)
    return io.TextIOWrapper(buffered, encoding=real.encoding, errors=real.errors,
                            line_buffering=real.line_buffering)
