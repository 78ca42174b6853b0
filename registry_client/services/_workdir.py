"""Work folders of one operation, held while it runs; those a killed process left behind
are removed by the next operation of the same kind in the same place.

A folder is made with a name of its kind (``<prefix>XXXXXXXX<suffix>``) and locked -- a
``flock`` on the folder itself -- for as long as the operation uses it. A SIGKILL, an
out-of-memory kill or a power cut leaves it behind, unlocked: the next :func:`make` of
the same kind in that place removes it first. Where locks do not work (Windows) a folder
in use and one left behind look alike, and none is removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .._locks import claim_fresh, remove_unheld, unlock

__all__ = ["make", "remove"]


def make(parent: Path, prefix: str, suffix: str, *,
         before_removal: Callable[[Path], None] | None = None) -> tuple[Path, int]:
    """A fresh folder ``parent/<prefix>...<suffix>`` (``parent`` made when missing), and
    an open descriptor holding its lock while it is used (give both to :func:`remove`).

    Folders of the same kind in ``parent`` that nobody holds are removed first, each
    after ``before_removal(folder)`` (what it must save of it: files a move had taken
    out of the user's way).
    """
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(parent, prefix, suffix, before_removal)
    while True:
        work = Path(tempfile.mkdtemp(dir=parent, prefix=prefix, suffix=suffix))
        try:
            fd = os.open(work, os.O_RDONLY)
        except FileNotFoundError:  # another's sweep took it before this lock: another
            continue
        if claim_fresh(fd):
            return work, fd
        unlock(fd)  # removed by another sweep before the lock: make another


def remove(work: Path, held: int) -> None:
    """Remove the work folder ``work`` and let go of its lock."""
    try:
        shutil.rmtree(work, ignore_errors=True)
    finally:
        unlock(held)


def _remove_stale(parent: Path, prefix: str, suffix: str,
                  before_removal: Callable[[Path], None] | None) -> None:
    """Remove ``parent/<prefix>*<suffix>`` folders no running operation holds locked."""
    def remove_saved(path: str) -> None:
        try:
            if before_removal is not None:
                before_removal(Path(path))
        except OSError:
            return  # what it holds could not be saved: it stays
        shutil.rmtree(path, ignore_errors=True)

    remove_unheld(parent, lambda e: e.name.startswith(prefix) and e.name.endswith(suffix)
                  and e.is_dir(follow_symlinks=False), remove_saved)
