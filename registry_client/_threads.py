"""Short jobs on threads that are started once and used again: hashing a blob beside its
download, draining a body for the asyncio API.

``threading.Thread.start`` waits until the new thread has run: from milliseconds to
over 100 ms on a busy machine, the asyncio API's event loop stalled all along, for
every blob of a pull. A job here goes to a thread waiting for work, or to a new one
started with ``_thread.start_new_thread``, which does not wait. A thread whose job is
done waits :data:`IDLE_SECONDS` for the next one, then ends: none outlives its last job
by more than that, and none holds up the interpreter's exit (as daemon threads).
:func:`alive` counts them (``threading.enumerate()`` does not list them).
"""

from __future__ import annotations

import _thread
import os
import queue
import threading
from collections.abc import Callable

__all__ = ["IDLE_SECONDS", "alive", "submit"]

IDLE_SECONDS = 1.0
"""How long a thread whose job is done waits for another before it ends."""

_lock = threading.Lock()
_idle: list[_Worker] = []
_alive: set[int] = set()  # the idents of the threads running or waiting


class _Worker:
    """One thread: runs its first job, then the jobs handed to it while it waits."""

    __slots__ = ("_jobs",)

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def hand(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def run(self, job: Callable[[], None]) -> None:
        ident = threading.get_ident()
        with _lock:
            _alive.add(ident)
        try:
            self._loop(job)
        finally:
            with _lock:
                _alive.discard(ident)
            _forget_dummy(ident)

    def _loop(self, job: Callable[[], None]) -> None:
        while True:
            try:
                job()
            except BaseException:
                pass
            del job  # nothing of a finished job is kept alive while waiting
            with _lock:
                _idle.append(self)
            try:
                job = self._jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with _lock:
                    if self in _idle:  # nobody took it meanwhile: end
                        _idle.remove(self)
                        return
                job = self._jobs.get()  # taken just now: its job is on the way


def _forget_dummy(ident: int) -> None:
    """Drop the ``threading._DummyThread`` that a call of ``threading.current_thread()``
    on this thread (every log record makes one) registered for it: Python does not
    remove it when the thread ends (3.10 to 3.12 at least), so ``threading.enumerate()``
    would list the ended thread as alive for ever. Private to ``threading``, hence
    looked up with care."""
    active = getattr(threading, "_active", None)
    lock = getattr(threading, "_active_limbo_lock", None)
    dummy = getattr(threading, "_DummyThread", None)
    if not isinstance(active, dict) or lock is None or dummy is None:
        return
    with lock:
        if isinstance(active.get(ident), dummy):
            del active[ident]


def submit(job: Callable[[], None]) -> None:
    """Run ``job()`` on a waiting thread, or on a new one when none waits.

    ``job`` must catch and hand over its own errors (one raised is dropped) and must
    end by itself: nothing stops it from outside.
    """
    with _lock:
        worker = _idle.pop() if _idle else None
    if worker is not None:
        worker.hand(job)
        return
    worker = _Worker()
    _thread.start_new_thread(worker.run, (job,))


def alive() -> set[int]:
    """The idents of the worker threads running a job or waiting for one."""
    with _lock:
        return set(_alive)


def _forget_after_fork() -> None:
    """A forked child has none of its parent's threads: none of them waits there."""
    global _lock
    _lock = threading.Lock()
    _idle.clear()
    _alive.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
