"""File locks (``flock``) that keep concurrent writers of one path apart.

They work between threads and between processes: each call opens its own file
description, and ``flock`` excludes descriptions, not processes. Where
``fcntl`` is missing (Windows) the locks are no-ops.

A child forked while a lock is held would share its file description, and so the
lock, for as long as it lives: a process pool forked during a sync (multiprocessing's
default on Linux) kept the journal locked after the sync ended, or after its parent
was killed. Right after a fork, the child lets go of every lock taken here (its copy
of each descriptor then reads ``/dev/null``); the parent keeps them.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from . import _forksafe

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]


class _HeldLocks:
    """The descriptors whose locks this process holds, each with the file it names
    (a descriptor closed without :func:`unlock` and opened again for another file is
    left alone)."""

    def __init__(self) -> None:
        self._fds: dict[int, tuple[int, int]] = {}

    def add(self, fd: int) -> None:
        st = os.fstat(fd)
        self._fds[fd] = (st.st_dev, st.st_ino)

    def discard(self, fd: int) -> None:
        self._fds.pop(fd, None)

    def renew_locks(self) -> None:
        """In a child just forked: point each descriptor at ``/dev/null``, dropping the
        child's share of the parent's locked file descriptions (the numbers stay
        valid, so whatever closes them later closes ``/dev/null``)."""
        fds, self._fds = self._fds, {}
        if not fds:
            return
        null = os.open(os.devnull, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
        try:
            for fd, (dev, ino) in fds.items():
                try:
                    st = os.fstat(fd)
                    if (st.st_dev, st.st_ino) == (dev, ino):
                        os.dup2(null, fd, inheritable=False)
                except OSError:
                    pass
        finally:
            os.close(null)


_HELD = _HeldLocks()
_forksafe.renew_after_fork(_HELD)


_NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", -1)})
"""What ``flock`` says on a file system that has no locks (NFS without a lock daemon)."""


def no_locks(exc: OSError) -> bool:
    """Whether ``exc`` says the file system takes no locks at all (not that another
    holds one): then none is taken, and what the locks keep apart -- two writers of one
    path at once -- is not kept apart there, as where ``fcntl`` is missing (Windows)."""
    return exc.errno in _NO_LOCKS


def _flock(fd: int, operation: int) -> bool:
    """``flock(fd, operation)``; False, no lock taken, where the file system has none."""
    try:
        fcntl.flock(fd, operation)
    except OSError as exc:
        if not no_locks(exc):
            raise
        return False
    _HELD.add(fd)
    return True


@contextmanager
def locked_directory(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the directory ``path`` (e.g. around ``index.json`` updates)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        _flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        unlock(fd)


def can_lock() -> bool:
    """Whether locks work here (not on Windows): only then does a lock tell a folder in
    use from one left behind."""
    return fcntl is not None


def lock_now(fd: int) -> bool:
    """Lock the open file ``fd`` exclusively if no one else holds it: False when another
    file description (another process, or another open of it here) does. The lock
    lasts until ``fd`` is closed.

    Raises:
        OSError: the file system takes no locks (:func:`no_locks`): the caller decides
            (a sweep of what killed writers left must not take it for "nobody's").
    """
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    _HELD.add(fd)
    return True


def unlock(fd: int) -> None:
    """Close ``fd``, releasing the lock :func:`lock_now` took on it."""
    _HELD.discard(fd)
    os.close(fd)


def claim_fresh(fd: int) -> bool:
    """Lock ``fd``, a file or folder just made under a name of a kind a sweep looks at
    (:func:`remove_unheld`): only such a sweep can hold it, briefly, so this waits for
    it. False when the sweep removed it meanwhile (make another; ``fd`` stays open);
    True with the lock held -- or none, where the file system takes no locks."""
    try:
        while not lock_now(fd):
            time.sleep(0.01)
    except OSError:  # no locks on this file system (NFS without lockd: ENOLCK)
        return True
    return os.fstat(fd).st_nlink > 0


def remove_unheld(folder: Path, wanted: Callable[[os.DirEntry[str]], bool],
                  remove: Callable[[str], None]) -> None:
    """``remove(path)`` each entry of ``folder`` that ``wanted`` picks and no one holds
    locked: what a killed writer left (a writer holds its own, see :func:`claim_fresh`).
    Where locks do not work, one in use and one left behind look alike: none is removed.
    ``remove`` handles its own failures."""
    if not can_lock():
        return
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not wanted(entry):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError:  # (another user's, in a shared temp directory)
            continue
        try:
            try:
                held = lock_now(fd)
            except OSError:  # no locks on this file system
                return
            if held:
                remove(entry.path)
        finally:
            unlock(fd)


def forget(fd: int) -> None:
    """``fd``, locked by :func:`lock_now`, is about to be closed by its file object."""
    _HELD.discard(fd)


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
                _flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            mine = os.fstat(fd)
            try:
                now = os.lstat(path)
            except FileNotFoundError:
                now = None
        except BaseException:
            forget(fd)
            f.close()
            raise
        if now is not None and (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev):
            break
        forget(fd)
        f.close()
    try:
        yield f
    finally:
        forget(fd)
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
