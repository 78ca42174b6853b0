"""Short jobs on threads that are started once and used again: hashing a blob beside its
download, draining a body for the asyncio API.

Starting a thread costs a few milliseconds on a busy machine (``Thread.start`` waits
until the new thread has run under the GIL); a pull starts such a job per blob. A
thread whose job is done waits :data:`IDLE_SECONDS` for the next one, then ends: no
thread outlives its last job by more than that, and none is ever joined by hand (they
are daemon threads, so they never hold up the interpreter's exit).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

__all__ = ["IDLE_SECONDS", "THREAD_NAME", "submit"]

IDLE_SECONDS = 1.0
"""How long a thread whose job is done waits for another before it ends."""

THREAD_NAME = "registry_client-worker"
"""The name of these threads (``threading.enumerate()`` shows them)."""

_lock = threading.Lock()
_idle: list[_Worker] = []


class _Worker:
    """One thread: runs its first job, then the jobs handed to it while it waits."""

    __slots__ = ("_jobs",)

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def hand(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def run(self, job: Callable[[], None]) -> None:
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
    threading.Thread(target=worker.run, args=(job,), name=THREAD_NAME, daemon=True).start()


def _forget_after_fork() -> None:
    """A forked child has none of its parent's threads: none of them waits there."""
    global _lock
    _lock = threading.Lock()
    _idle.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
