"""File locks (``flock``) that keep concurrent writers of one path apart.

They work between threads and between processes: each call opens its own file
description, and ``flock`` excludes descriptions, not processes. Where
``fcntl`` is missing (Windows) the locks are no-ops.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
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


def can_lock() -> bool:
    """Whether locks work here (not on Windows): only then does a lock tell a folder in
    use from one left behind."""
    return fcntl is not None


def lock_now(fd: int) -> bool:
    """Lock the open file ``fd`` exclusively if no one else holds it: False when another
    file description (another process, or another open of it here) does. The lock
    lasts until ``fd`` is closed."""
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def locked_file(path: Path, *, wait: bool = True) -> Iterator[BinaryIO]:
    """Open the temp file ``path`` for reading and writing (created when missing), locked
    exclusively. ``wait=False``: BlockingIOError at once when another holds the lock.

    ``path`` is a name the caller owns (a download's ``.partial``), so it is only ever a
    regular file: it is opened without following a symlink, and a symlink, FIFO, device
    or socket found there is removed and a file made in its place, never written through.
    A directory there is an IsADirectoryError (whatever it holds is left alone).

    The lock is on the file itself, so whoever held it before may have renamed or
    removed it meanwhile (a finished download renames its ``.partial``): the lock
    only counts when ``path`` still names the file that was locked, otherwise it
    is taken again on whatever ``path`` is now.
    """
    flags = (os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    for attempt in itertools.count():
        _clear_special(path)
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            # swapped for a link, socket or directory meanwhile: look again (not forever:
            # an ELOOP may come from a looping parent directory, not from ``path``)
            if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR) and attempt < 5:
                continue
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for a FIFO or device
            os.close(fd)
            continue
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        f = os.fdopen(fd, "r+b")
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            mine = os.fstat(fd)
            try:
                now = os.lstat(path)
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


def _clear_special(path: Path) -> None:
    """Remove what is at the temp name ``path`` unless it is a regular file or nothing."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(
            errno.EISDIR, f"{path} is a directory, in the way of the temporary file "
            "a download writes first (remove it)", str(path))
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
