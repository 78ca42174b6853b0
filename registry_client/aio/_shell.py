"""The asyncio shell: performs a flow's effects with httpx and tasks.

The twin of the blocking ``services._shell.BlockingShell``: the same effects, the
same results and errors, with awaits instead of threads. Plain blocking work (a
flow's :class:`~registry_client._flow.Offload`, a large block's sink) runs in worker
threads so the event loop keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import httpx

from .. import _threads
from .._calloff import Cancelled
from .._flow import Call, Drain, Effect, Exclusive, Gather, Offload, Sleep
from .._http import BodyReading
from .._request import Request
from .._response import Response
from ..services._schedule import TransferQueue, transfer_slots
from ._pulls import Interrupted, stoppable
from ._run import arun, arun_exclusive
from ._transport import failure, failure_cause

__all__ = ["AsyncSender", "AsyncShell", "SinkThread"]

T = TypeVar("T")

THREAD_SINK_MIN = 256 * 1024
"""Blocks this large are handed to their sink in a thread of their own (hashing 1 MiB
takes milliseconds; a slow disk far longer), smaller ones in the loop (a thread costs
more)."""

SINK_AHEAD = 4
"""Blocks a :class:`SinkThread` may hold not yet sunk: how far reading runs ahead."""


class SinkThread:
    """A Drain's sink in a thread of its own, fed its blocks in order through a queue.

    The loop reads the next blocks while the thread hashes and writes the earlier ones,
    and the thread never waits for the loop to hand it its next block (a hop to a
    worker thread and back for each block costs more than the block's hashing on a
    busy machine). The loop waits only when ``ahead`` blocks are not yet sunk, so
    memory stays bounded. The first error of the sink stops it: later blocks are
    dropped and the error is raised by :meth:`put` or :meth:`finish`.
    """

    def __init__(self, sink: Callable[[bytes], None], ahead: int = SINK_AHEAD) -> None:
        self._sink = sink
        self._ahead = ahead
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending = 0  # blocks put, not yet sunk (or dropped)
        self._space: asyncio.Future[None] | None = None
        self._ended: asyncio.Future[None] = self._loop.create_future()
        self._drop = False
        self._closed = False
        self.error: BaseException | None = None
        _threads.submit(self._run)

    def _run(self) -> None:
        try:
            while (block := self._queue.get()) is not None:
                if self.error is None and not self._drop:
                    try:
                        self._sink(block)
                    except BaseException as exc:  # raised in the loop, by put or finish
                        self.error = exc
                with self._lock:
                    self._pending -= 1
                    waiter, self._space = self._space, None
                if waiter is not None:
                    self._wake(waiter)
        finally:
            self._wake(self._ended)

    def _wake(self, future: asyncio.Future[None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self._loop.call_soon_threadsafe(_set_done, future)

    async def put(self, block: bytes) -> None:
        """Queue ``block`` for the sink; wait while ``ahead`` blocks are not yet sunk."""
        self._raise()
        with self._lock:
            self._pending += 1
        self._queue.put(block)
        while True:
            with self._lock:
                if self._pending < self._ahead or self.error is not None:
                    break
                self._space = space = self._loop.create_future()
            await space
        self._raise()

    async def finish(self, *, drop: bool = False, quiet: bool = False) -> None:
        """Wait until the thread has sunk every block put (``drop``: the one it sinks
        only) and ended; raise the sink's error unless ``quiet``."""
        if drop:
            self._drop = True
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        try:
            await asyncio.shield(self._ended)
        except asyncio.CancelledError:
            self._drop = True  # a thread cannot be stopped: wait for it, then go on
            await asyncio.wait([self._ended])
            raise
        if not quiet:
            self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class AsyncSender(Protocol):
    """What the shell sends requests through: the asyncio Requester."""

    async def send_request(self, request: Request) -> Response:
        """Send ``request``: the answer when its status is expected, else a typed error."""

    def count_received(self, n: int) -> None:
        """Add ``n`` bytes to the received counter."""


class _CallOff:
    """A Gather's state: called off because one of its flows failed."""

    called_off = False


_GATHER: contextvars.ContextVar[_CallOff | None] = contextvars.ContextVar(
    "registry_client_gather", default=None)


class AsyncShell:
    """Runs effects for the asyncio API: requests through the asyncio Requester, blocks
    read from the answer's async stream, :class:`~registry_client._flow.Gather` as tasks.

    Args:
        requester: sends the requests of :class:`~registry_client._flow.Call`.
    """

    __slots__ = ("_requester",)

    def __init__(self, requester: AsyncSender) -> None:
        self._requester = requester

    async def perform(self, effect: Effect) -> Any:
        """Do what ``effect`` asks (see :mod:`registry_client._flow`).

        A flow cancelled because another flow of its Gather failed gets
        ``services._schedule.Cancelled`` thrown in (as in the blocking API: what it
        received is not kept); a cancelled caller's flows get ``CancelledError``
        (an interrupt: what they received is kept for a resume).
        """
        try:
            return await self._perform(effect)
        except asyncio.CancelledError as exc:
            gather = _GATHER.get()
            if gather is not None and gather.called_off:
                called_off = Cancelled("transfer called off")
                if isinstance(exc, Interrupted):  # (its step's result still handed over)
                    raise Interrupted(exc.value, called_off) from None
                raise called_off from None
            raise

    async def _perform(self, effect: Effect) -> Any:
        if isinstance(effect, Call):
            return await self._sender(effect).send_request(effect.request)
        if isinstance(effect, Drain):
            return await self._drain(effect)
        if isinstance(effect, Offload):
            # a thread cannot be stopped: a cancel waits for it, so the flow's clean-up
            # never runs beside the file work it started
            return await _in_thread(effect.fn)
        if isinstance(effect, Sleep):
            await asyncio.sleep(effect.seconds)  # a cancel stops it
            return None
        if isinstance(effect, Gather):
            return await self._gather(effect)
        if isinstance(effect, Exclusive):
            return await arun_exclusive(effect, self)
        raise TypeError(f"not an effect: {effect!r}")

    def _sender(self, effect: Call) -> AsyncSender:
        """The requester ``effect`` goes through: its endpoint's (a copy's target), else
        this shell's."""
        endpoint: Any = effect.endpoint
        if endpoint is None:
            return self._requester
        if not inspect.iscoroutinefunction(getattr(endpoint, "send_request", None)):
            raise TypeError("an asyncio call to a blocking registry: copy between "
                            "repositories of the same flavour of the API")
        sender: AsyncSender = endpoint
        return sender

    # -- Drain --------------------------------------------------------------------------

    async def _drain(self, effect: Drain) -> int:
        """Read the body block by block; each block goes to the sink, in order, one at a
        time -- large ones through a :class:`SinkThread`, which hashes and writes them
        while the next ones are read."""
        resp, sink, limit = effect.response, effect.sink, effect.limit
        # A thread drain takes the connection for good (and closes it): only a drain to
        # the end may. A drain to a limit leaves the rest to read (a reader's read(n)).
        body = await resp.thread_reader() if limit is None else None
        if body is not None:
            return await self._drain_in_thread(effect, body)
        reading = BodyReading(effect.block_size, limit)
        pipe: SinkThread | None = None
        parts: list[bytes] = []  # received, not yet handed over (joined: one copy)
        held = 0

        async def hand_over() -> None:
            nonlocal pipe, held
            if not parts:
                return
            block = parts[0] if len(parts) == 1 else b"".join(parts)
            parts.clear()
            held = 0
            self._requester.count_received(len(block))
            if pipe is None and len(block) >= THREAD_SINK_MIN:
                pipe = SinkThread(sink)
            if pipe is not None:  # once a thread has blocks, it has all (the order)
                await pipe.put(block)
            else:
                sink(block)

        try:
            while room := reading.want(held):
                try:
                    part = await resp.aread1(room)
                except httpx.HTTPError as exc:
                    await hand_over()  # the sink has every byte received before the cut
                    if pipe is not None:
                        await pipe.finish()
                    raise reading.broken(failure(exc)[1]) from failure_cause(exc)
                if not part:
                    break
                reading.took(len(part))
                held += len(part)
                parts.append(part)
                if held >= effect.block_size:
                    await hand_over()
            await hand_over()
            if pipe is not None:
                await pipe.finish()
        except asyncio.CancelledError:
            # a cancelled task is Ctrl-C for the blocking API, which keeps every block
            # it read: the bytes received (queued, or not yet a whole block) are sunk
            # too, so that a resume asks only for the rest
            with contextlib.suppress(Exception):
                await hand_over()
                if pipe is not None:
                    await pipe.finish(quiet=True)
            raise
        finally:
            if pipe is not None:
                # a second cancel or a failure: the block the thread sinks is finished,
                # the rest dropped, before the flow's clean-up (closing the file it
                # writes) runs
                await pipe.finish(drop=True, quiet=True)
        return reading.total

    async def _drain_in_thread(self, effect: Drain, body: Any) -> int:
        """Drain a long body in one thread of its own that reads the socket, hashes and
        writes, as the blocking API does (no hop to the loop per block; the loop stays
        free). A cancel stops it within 0.1 s, after the block in hand is sunk."""
        sink, count, lend = effect.sink, self._requester.count_received, effect.lend

        def work(stop: threading.Event) -> int:
            reading = BodyReading(effect.block_size, effect.limit)
            try:
                while want := reading.want():
                    block: bytes | memoryview
                    try:
                        if lend is None:
                            block = body.read1(want, stop)
                        else:  # straight into the hasher's buffer (see Drain)
                            view = memoryview(lend(want))[:want]
                            block = view[:body.readinto(view, stop)]
                    except httpx.HTTPError as exc:
                        raise reading.broken(failure(exc)[1]) from failure_cause(exc)
                    if not block:
                        break
                    reading.took(len(block))
                    count(len(block))
                    sink(block)  # type: ignore[arg-type]  # a memoryview reads as bytes do
            finally:
                body.close()
            return reading.total

        return await stoppable(work)

    # -- Gather -------------------------------------------------------------------------

    async def _gather(self, effect: Gather) -> list[Any]:
        """Run the flows as tasks, at most ``effect.workers`` at once.

        The first failure cancels the others (they get ``Cancelled`` at their next
        await) and is raised once they have stopped; a cancelled caller cancels them all
        and waits for their clean-up.
        """
        factories = list(effect.flows)
        results: list[Any] = [None] * len(factories)
        state = _CallOff()
        outer = _GATHER.get()
        queue = TransferQueue(list(enumerate(factories)))
        if effect.transfer:
            slots = transfer_slots(len(factories), effect.workers)
        else:  # plain fan-out: in order, from the front
            slots = [False] * max(1, min(effect.workers, len(factories)))

        async def worker(small_end: bool) -> None:
            _GATHER.set(state)
            while queue and not state.called_off:
                index, factory = queue.take(small_end)
                results[index] = await arun(factory(), self)

        tasks = [asyncio.ensure_future(worker(small_end)) for small_end in slots]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        except asyncio.CancelledError:
            # the caller was cancelled -- or this Gather runs in a flow whose own Gather
            # was called off, which these flows are then too
            state.called_off = outer is not None and outer.called_off
            for task in tasks:
                task.cancel()
            await _settle(tasks)
            raise
        failed = [t for t in tasks if t in done and not t.cancelled() and t.exception()]
        if failed:
            state.called_off = True
            for task in tasks:
                task.cancel()
            await _settle(tasks)
            error = failed[0].exception()
            assert error is not None
            raise error
        # as the blocking shell: a transfer's flows are run for what they do
        return [None] * len(factories) if effect.transfer else results


async def _in_thread(fn: Callable[[], T]) -> T:
    """``fn()`` in a worker thread, in a copy of the task's context (as
    ``asyncio.to_thread``); cancelled, it is waited for before the cancel goes on.

    On one of the threads that outlive their job (``registry_client._threads``), not the
    loop's default executor, whose first jobs each start a thread and wait until it
    runs: 5-20 ms inside a pull's first file work, between its manifest and its blobs.
    """
    context = contextvars.copy_context()
    return await stoppable(lambda stop: context.run(fn), keep_result=True)


async def _settle(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Wait until every task has ended, whatever the caller's cancellation says."""
    gathered = asyncio.gather(*tasks, return_exceptions=True)
    try:
        await asyncio.shield(gathered)
    except asyncio.CancelledError:
        await asyncio.wait([gathered])
        raise
