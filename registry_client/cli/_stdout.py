"""The process's standard output, written whole.

A pipe may take only part of a write: one left non-blocking (CI runners and Node
parents may hand a child such a stdout) refuses more while its reader is slow, and
under ``PYTHONUNBUFFERED`` (Python container images set it) each write goes straight
to the descriptor. Python's own ``sys.stdout`` then drops the rest silently (exit 0,
output cut at 64 KiB), or raises ``BlockingIOError`` from its last flush (a traceback,
exit 120). The command writes through :func:`whole_stdout` instead (see
:mod:`registry_client._fdwrite`); a reader that went away is still a broken pipe (exit
141).
"""

from __future__ import annotations

import io
import sys
from typing import TextIO

from .._fdwrite import whole_writer

__all__ = ["STDOUT", "whole_stdout"]

STDOUT = "standard output"
"""What an error writing to the command's standard output (a full disk) names."""


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
    return io.TextIOWrapper(whole_writer(fd, name=STDOUT), encoding=real.encoding,
                            errors=real.errors, line_buffering=real.line_buffering)
