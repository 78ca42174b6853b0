"""A file descriptor written whole, whatever it is.

A pipe may take only part of a write: one left non-blocking (CI runners and Node
parents may hand a child such a stdout) refuses more while its reader is slow, and an
unbuffered stream hands each write straight to the descriptor. Python's file objects
then drop the rest (a short count nobody reads) or raise ``BlockingIOError``. What
writes to a descriptor it did not open -- standard output, a FIFO, a device -- goes
through :func:`whole_writer`: the rest is written once the descriptor takes it, as
Go's and C's tools do; a reader that went away is still a broken pipe.
"""

from __future__ import annotations

import io
import os
import select
from typing import Any, BinaryIO

__all__ = ["WholeWrites", "whole_writer"]


class WholeWrites(io.RawIOBase):
    """A descriptor every write goes to whole: what a write leaves is written next,
    after waiting for the descriptor to take more when it is non-blocking. ``closefd``:
    closing this closes the descriptor too. ``name``: what a failed write (a full disk
    under it) names as its file; a reader that went away stays a bare broken pipe."""

    def __init__(self, fd: int, *, closefd: bool = False, name: str | None = None) -> None:
        super().__init__()
        self._fd = fd
        self._closefd = closefd
        self._name = name

    def writable(self) -> bool:
        """True."""
        return True

    def fileno(self) -> int:
        """The descriptor written."""
        return self._fd

    def isatty(self) -> bool:
        """Whether the descriptor is a terminal."""
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
            except BrokenPipeError:
                raise
            except OSError as exc:
                if self._name is None or exc.filename is not None:
                    raise
                raise OSError(exc.errno, exc.strerror, self._name) from None
        return total

    def close(self) -> None:
        """Close this (and the descriptor, with ``closefd``)."""
        if self.closed:
            return
        try:
            super().close()
        finally:
            if self._closefd:
                os.close(self._fd)


def whole_writer(fd: int, *, closefd: bool = False, name: str | None = None) -> BinaryIO:
    """A buffered binary file over ``fd`` whose writes go whole (see the module); its
    errors name ``name`` (see :class:`WholeWrites`)."""
    return io.BufferedWriter(WholeWrites(fd, closefd=closefd, name=name))
