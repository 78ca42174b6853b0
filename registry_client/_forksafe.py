"""Locks of objects that outlive ``os.fork()``, made anew in the child.

A forked child has one thread, this one; a lock another thread of the parent held at
the fork is held there by nobody, for ever. A Registry made before the fork (gunicorn
``--preload``, celery's prefork pool, multiprocessing's ``fork``) and used in the child
would wait on it at its first request. Objects whose locks matter register here, and
their ``renew_locks()`` runs in every child right after the fork. Only the standard
library is imported: every layer may use it.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["Renewable", "renew_after_fork"]


class Renewable(Protocol):
    """An object with locks to make anew after a fork."""

    def renew_locks(self) -> None:
        """Replace every lock (in a child just forked: nobody holds any)."""


_RENEWED: dict[int, weakref.ref[Renewable]] = {}
"""Every registered object while it lives, by identity: a user's subclass may compare
by value (and so be unhashable, or equal to another)."""


def renew_after_fork(obj: Renewable) -> None:
    """Have ``obj.renew_locks()`` run in every child forked from now on (while ``obj``
    lives)."""
    key = id(obj)
    # (the callback runs as obj is freed, before its id can be another object's)
    _RENEWED[key] = weakref.ref(obj, lambda _: _RENEWED.pop(key, None))


def _renew_all() -> None:
    for ref in list(_RENEWED.values()):
        obj = ref()
        if obj is not None:
            obj.renew_locks()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_all)
