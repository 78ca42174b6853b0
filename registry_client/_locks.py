"""File locks (``flock``) that keep concurrent writers of one path apart.

They work between threads and between processes: each call opens its own file
description, and ``flock`` excludes descriptions, not processes. Where
``fcntl`` is missing (Windows) the locks are no-ops.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]


@contextmanager
def locked_directory(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the directory ``path`` (e.g. around ``index.json`` updates)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def locked_file(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for reading and writing (created when missing), locked exclusively.

    The lock is on the file itself, so whoever held it before may have renamed or
    removed it meanwhile (a finished download renames its ``.partial``): the lock
    only counts when ``path`` still names the file that was locked, otherwise it
    is taken again on whatever ``path`` is now.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        f = os.fdopen(fd, "r+b")
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            mine = os.fstat(fd)
            try:
                now = os.stat(path)
            except FileNotFoundError:
                now = None
        except BaseException:
            f.close()
            raise
        if now is not None and (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev):
            break
        f.close()
    try:
        yield f
    finally:
        f.close()
