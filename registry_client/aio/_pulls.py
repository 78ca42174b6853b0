"""A request body's blocks pulled from a blocking source -- a file, a generator reading
one -- on one pooled thread of their own, so the event loop never waits on a disk.

One thread per body, not a hop to whichever thread of a pool is free for each block:
a block is then allocated by the thread that allocated the one before it. Spread over
the default executor's threads, each 1 MiB block came from another thread's malloc
arena and went back to it freed by the loop, and glibc trimmed and faulted those
arenas' memory in again block after block: a 256 MiB push spent 0.05 CPU-s more (0.45
against 0.40 CPU-s, 10 alternating runs) and 5 % more time.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from .. import _threads

__all__ = ["PinnedPulls", "settle_soon", "stoppable"]

T = TypeVar("T")

IDLE_SECONDS = _threads.IDLE_SECONDS
"""How long the thread waits for the next pull before it goes back to the pool (a body
sent slowly gets a thread again at its next pull)."""


class PinnedPulls(Generic[T]):
    """``await pulls.next()`` is ``pull()`` run on this body's own pooled thread.

    Pulls run one at a time, in order. A cancelled ``next()`` waits for its pull to end
    before the cancellation goes on, so no pull is still running once the caller has
    moved on (a retry that seeks the file back must not race a read of the old body).
    :meth:`close` lets the thread go.
    """

    def __init__(self, pull: Callable[[], T]) -> None:
        self._pull = pull
        self._loop = asyncio.get_running_loop()
        self._asks: queue.SimpleQueue[asyncio.Future[T] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._serving = False

    async def next(self) -> T:
        """The next ``pull()``'s result (or its error)."""
        answer: asyncio.Future[T] = self._loop.create_future()
        self._ask(answer)
        try:
            return await asyncio.shield(answer)
        except asyncio.CancelledError:
            await asyncio.wait([answer])
            raise

    def close(self) -> None:
        """No more pulls: the thread goes back to the pool."""
        with self._lock:
            if self._serving:
                self._asks.put(None)

    def _ask(self, answer: asyncio.Future[T]) -> None:
        with self._lock:
            self._asks.put(answer)
            if not self._serving:
                self._serving = True
                _threads.submit(self._serve)

    def _serve(self) -> None:
        while True:
            try:
                answer = self._asks.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._asks.empty():
                        self._serving = False
                        return
                continue
            if answer is None:
                with self._lock:
                    self._serving = False
                return
            result: T | None = None
            error: BaseException | None = None
            try:
                result = self._pull()
            except BaseException as exc:  # raised where the loop awaits it
                error = exc
            settle_soon(answer, result, error)


def settle_soon(future: asyncio.Future[T], result: T | None, error: BaseException | None,
                ) -> None:
    """From a worker thread: ``future`` gets ``error`` (or else ``result``) in its own
    loop, unless it is done by then; nothing happens when that loop is closed (nobody
    waits any more)."""
    def settle() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]  # T when no error

    with contextlib.suppress(RuntimeError):
        future.get_loop().call_soon_threadsafe(settle)


class Interrupted(asyncio.CancelledError):
    """A cancel that came while a step on a worker thread ran to its end anyway: what the
    step gave (``value``: a lock taken, a folder made) is the flow's to release, so the
    runner hands it over first and throws ``error`` -- the cancel, or what it became --
    into the flow at its next step (``aio._run.arun``). Anything else that awaits the
    step sees a cancellation, as before."""

    def __init__(self, value: object, error: BaseException) -> None:
        super().__init__(*getattr(error, "args", ()))
        self.value = value
        self.error = error


async def stoppable(work: Callable[[threading.Event], T],
                    stop: threading.Event | None = None, *, keep_result: bool = False) -> T:
    """``work(stop)`` run on a worker thread (one started once, see
    ``registry_client._threads``): its result, or its error raised here.

    A thread cannot be stopped from outside: a cancelled call sets ``stop`` (a new
    Event, or the one given: a transfer's CallOff), which ``work`` looks at between
    blocks and while it waits on a socket, and waits for it to end before the
    cancellation goes on -- nothing ``work`` touches (a file, a socket) is used by it
    once the caller moved on. What it ended with is dropped then -- or, with
    ``keep_result``, a result is raised with the cancel (:class:`Interrupted`).
    """
    stop = threading.Event() if stop is None else stop
    ended: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    def run() -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = work(stop)
        except BaseException as exc:  # handed to the loop, raised where it awaits
            error = exc
        settle_soon(ended, result, error)

    _threads.submit(run)
    try:
        return await asyncio.shield(ended)
    except asyncio.CancelledError as cancel:
        stop.set()
        while not ended.done():
            try:
                await asyncio.wait([ended])
            except asyncio.CancelledError:
                continue  # cancelled again: the thread is still to end first
        if not ended.cancelled() and ended.exception() is None and keep_result:
            raise Interrupted(ended.result(), cancel) from None
        raise  # (Stopped, or what work raised: the cancel wins)
