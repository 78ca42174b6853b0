"""Where a file the library writes for the user goes: one rule for downloads, archives
and exports.

What is at the user's path decides (as ``curl -o`` and ``cp`` do):

* ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``: the open descriptor is written as it
  is (``>> log`` keeps appending);
* a FIFO or a device (``/dev/null``), after symlinks: the bytes are streamed into it,
  nothing created, truncated or renamed;
* anything else: the bytes go to a temp file beside the file the path leads to (a
  symlink's target, in its own directory: the link stays a link), renamed over it only
  once complete, with the mode of the file it replaces (else 0666 less the umask).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .._fdwrite import whole_writer
from ..layout import _named as named
from ..layout import _refuse_loop, _temp_file_beside, _umask

__all__ = ["descriptor_of", "is_special", "make_parent", "named", "open_stream", "prepare",
           "written_to"]

_FD_PATH = re.compile(r"/(?:dev/fd|proc/self/fd)/([0-9]+)")
_STD_PATHS = {"/dev/stdout": 1, "/dev/stderr": 2}


def descriptor_of(dest: Path) -> int | None:
    """The open descriptor ``dest`` names (``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``,
    ``/proc/self/fd/N``), or None. Writing to it keeps a ``>> log`` appending; opening
    the path anew (or renaming over the file it resolves to) would not."""
    name = str(dest)
    if name in _STD_PATHS:
        return _STD_PATHS[name]
    match = _FD_PATH.fullmatch(name)
    return int(match.group(1)) if match else None


def is_special(path: Path) -> bool:
    """True for what is streamed into: an existing FIFO, device or other non-file (after
    symlinks); False for a regular file, a directory or nothing."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def open_stream(dest: Path, descriptor: int | None) -> BinaryIO:
    """``dest`` (a FIFO or device), or the open ``descriptor``, for writing as it is.

    No O_CREAT, no O_TRUNC: what is there is written to, never replaced; an open
    descriptor (/dev/stdout) is written as it is (appending stays appending), each
    write whole even when it is non-blocking.
    """
    fd = descriptor if descriptor is not None else os.open(
        dest, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    # written whole: a non-blocking stdout (a CI runner's pipe) takes part of a write
    return whole_writer(fd, closefd=descriptor is None)


def _missing_parents(real: Path, dest: Path) -> list[Path]:
    """The directories ``real`` (``dest`` after symlinks) needs made to be written,
    deepest first. A file in the way is a NotADirectoryError naming the user's ``dest``
    -- in ``dest`` as written too: ``dd/FILE/../x`` is no path when FILE is a file, as
    for cp and open(), though ``dd/x`` would be."""
    if ".." in dest.parts:  # (else real's folders are dest's, after symlinks: below)
        for ancestor in dest.parents:
            if ancestor.exists() and not ancestor.is_dir():
                raise NotADirectoryError(
                    errno.ENOTDIR, f"{ancestor} is not a directory", str(dest))
    parent = real.parent
    missing: list[Path] = []
    for ancestor in (parent, *parent.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise NotADirectoryError(
                    errno.ENOTDIR, f"{ancestor} is not a directory", str(dest))
            break
        missing.append(ancestor)
    return missing


def make_parent(real: Path, dest: Path) -> list[Path]:
    """Create the directory ``real`` goes in (as ``pull`` does); the directories made,
    deepest first. A file in the way is a NotADirectoryError naming the user's ``dest``."""
    missing = _missing_parents(real, dest)
    real.parent.mkdir(parents=True, exist_ok=True)
    return missing


def prepare(dest: Path, *, make_parents: bool) -> None:
    """Before anything is downloaded for ``dest``: see that its bytes can be written where
    they go (after symlinks: a link whose target's directory is missing, too). With
    ``make_parents`` that directory is created (as a pull creates its layout's); else it
    must exist. A temp file is made there and removed, so a read-only file system or a
    file in the way fails now, naming ``dest``, not after the whole download. A FIFO,
    a device or an open descriptor is left alone. (The directories made stay, as with
    ``mkdir -p`` or ``curl --create-dirs``, even if the operation then fails: another
    one may have found them there meanwhile.)

    Raises:
        FileNotFoundError: the directory is missing (without ``make_parents``).
        NotADirectoryError: a file is where a directory should be.
        OSError: no file can be made there (read-only, no permission), naming ``dest``.
    """
    if descriptor_of(dest) is not None or is_special(dest):
        return
    _refuse_loop(dest)
    real = Path(os.path.realpath(dest))
    if make_parents:
        make_parent(real, dest)
    elif _missing_parents(real, dest):
        raise FileNotFoundError(errno.ENOENT, "no such directory to write in",
                                str(real.parent))
    try:
        fd, tmp = _temp_file_beside(real)
    except OSError as exc:
        raise named(exc, dest) from None
    os.unlink(tmp)
    os.close(fd)


@contextmanager
def written_to(dest: Path) -> Iterator[BinaryIO]:
    """A file object whose bytes end up at ``dest`` by the module's rule: streamed into
    a descriptor, FIFO or device; else a temp file renamed over what ``dest`` leads to
    when the block ends without error (removed when it raises)."""
    try:
        with _written_to(dest) as out:
            yield out
    except OSError as exc:  # (a full disk names no file: the user's path, then)
        raise named(exc, dest) from exc.__cause__


@contextmanager
def _written_to(dest: Path) -> Iterator[BinaryIO]:
    descriptor = descriptor_of(dest)
    if descriptor is not None or is_special(dest):
        out = open_stream(dest, descriptor)
        try:
            yield out
            out.flush()
        finally:
            out.close()
        return
    _refuse_loop(dest)
    real = Path(os.path.realpath(dest))
    try:
        mode = stat.S_IMODE(os.stat(real).st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = _temp_file_beside(real)
    try:
        with os.fdopen(fd, "wb") as f:  # (open, so locked, until renamed)
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), mode)
            os.replace(tmp, real)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
