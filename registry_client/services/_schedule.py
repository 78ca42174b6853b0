"""Running work on a bounded number of threads: plain fan-out, and blob transfers.

Blob transfers keep a slot for small requests: ``workers - 1`` threads take the
largest blobs first (they dominate the wall time), and one thread takes the
smallest first, so a config blob or a small layer never waits behind four big
layers. When the small ones are done, that thread helps with the large ones.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from .. import _threads
from .._calloff import CallOff, Cancelled, current, enter

_T = TypeVar("_T")
_R = TypeVar("_R")


def parallel(fn: Callable[[_T], _R], items: Sequence[_T], workers: int) -> list[_R]:
    """``fn`` over ``items``, results in order, at most ``workers`` at once (inline for one).

    The items start in order on the threads of :func:`_on_threads`: after a failure
    (or an interrupt of the caller) no new item starts, a transfer running inside an
    item is called off, and the first exception is raised once every thread stopped.
    """
    if len(items) <= 1 or workers <= 1:
        return [fn(item) for item in items]
    results: list[_R | None] = [None] * len(items)

    def one(numbered: tuple[int, _T]) -> None:
        index, item = numbered
        results[index] = fn(item)

    _on_threads(one, TransferQueue(list(enumerate(items))),
                [False] * min(workers, len(items)))
    return results  # type: ignore[return-value]  # every item ran: none is left None


class TransferQueue(Generic[_T]):
    """The order blob transfers take their items in, for threads and asyncio tasks alike
    (and a plain fan-out, whose slots all take from the front: its items in order).

    ``largest_first`` is sorted by size, largest first. :func:`transfer_slots` says
    which end each slot takes from: one from the small end, the others from the large.
    """

    def __init__(self, largest_first: Sequence[_T]) -> None:
        self._items = deque(largest_first)

    def __bool__(self) -> bool:
        return bool(self._items)

    def take(self, small_end: bool) -> _T:
        """The next item for a slot (``small_end``: the smallest left, else the largest).

        Raises:
            IndexError: nothing is left.
        """
        return self._items.pop() if small_end else self._items.popleft()


SIGNAL_SLICE = 0.1
"""Seconds a caller waiting for its workers sleeps at most before it looks for a Ctrl-C."""


def transfer_slots(items: int, workers: int) -> list[bool]:
    """The slots a transfer of ``items`` runs on with ``workers``: for each, whether it
    takes from the small end. One item or one worker: a single slot, largest first."""
    if items <= 1 or workers <= 1:
        return [False]
    return [i == 0 for i in range(min(workers, items))]


def transfer(fn: Callable[[_T], object], largest_first: Sequence[_T], workers: int) -> None:
    """Run ``fn`` over ``largest_first`` (sorted by size, largest first) on ``workers`` threads.

    One thread works from the small end, the others from the large end (see
    :func:`_on_threads` for starting, failures and interrupts).
    """
    items = list(largest_first)
    slots = transfer_slots(len(items), workers)
    if len(slots) == 1:
        for item in items:
            fn(item)
        return
    _on_threads(fn, TransferQueue(items), slots)


def _on_threads(fn: Callable[[_T], object], queue: TransferQueue[_T],
                slots: Sequence[bool]) -> None:
    """Run ``fn`` over what ``queue`` holds on one thread per slot (each slot's bool: it
    takes from the small end).

    The threads are the library's reusable ones (``_threads``), handed their jobs
    without waiting for them to start, and they begin together once every slot has its
    thread: no blob's request goes out while the threads of the others are still being
    started. After a failure (or an interrupt of the caller, or when the fan-out this
    one runs in is called off) no new item starts and the running ones stop at their
    next block; the caller returns only when every worker has stopped, and the first
    exception is then raised.
    """
    lock = threading.Lock()
    errors: list[BaseException] = []
    cancel = CallOff(current())  # inside another fan-out's item?
    go = threading.Event()
    stopped = threading.Condition(lock)
    running = 0  # the workers handed a job and not yet stopped

    # a slot is claimed once: by its thread when it picks up its job, or by the caller
    # when the submit failed before that (then counted out: the thread, if it ever runs,
    # returns at once)
    claimed: set[int] = set()

    def worker(slot: int, small_end: bool) -> None:
        nonlocal running
        with lock:
            if slot in claimed:
                return
            claimed.add(slot)
        enter(cancel)
        try:
            go.wait()
            while True:
                with lock:
                    if errors or cancel.reason() is not None or not queue:
                        return
                    item = queue.take(small_end)
                try:
                    fn(item)
                except Cancelled:
                    return
                except BaseException as exc:  # re-raised in the caller's thread
                    with lock:
                        errors.append(exc)
                    cancel.set()
                    return
        finally:
            enter(None)
            with stopped:
                running -= 1
                stopped.notify_all()

    def all_stopped() -> bool:
        return not running

    try:
        for slot, small_end in enumerate(slots):
            with lock:
                running += 1
            try:
                _threads.submit(functools.partial(worker, slot, small_end))
            except BaseException:
                with lock:
                    if slot not in claimed:
                        claimed.add(slot)
                        running -= 1
                raise
        go.set()
        with stopped:
            # in slices: a Ctrl-C whose signal lands just before the caller blocks
            # interrupts no system call, and is raised only when the caller wakes
            while not stopped.wait_for(all_stopped, timeout=SIGNAL_SLICE):
                pass
    except BaseException:
        # Ctrl-C (or a thread that could not start): the workers stop at their next
        # block, keeping what they received (an interrupted pull resumes from its
        # .partial files), and none is left writing when the caller gets the error
        cancel.interrupted = True
        cancel.set()
        go.set()
        with stopped:
            stopped.wait_for(all_stopped)
        raise
    if errors:
        raise errors[0]
    cancel.raise_if_called_off()  # by the fan-out this one runs in: its items stop too
