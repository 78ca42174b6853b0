"""The asyncio shell: performs a flow's effects with httpx and tasks.

The twin of the blocking ``services._shell.BlockingShell``: the same effects, the
same results and errors, with awaits instead of threads. Plain blocking work (a
flow's :class:`~registry_client._flow.Offload`, a large block's sink) runs in worker
threads so the event loop keeps running.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import httpx

from .._flow import Call, Drain, Effect, Gather, Offload
from .._http import body_broken
from .._request import Request
from .._response import Response
from ..services._schedule import Cancelled, TransferQueue, transfer_slots
from ._run import arun
from ._transport import failure, failure_cause

__all__ = ["AsyncSender", "AsyncShell"]

T = TypeVar("T")

THREAD_SINK_MIN = 256 * 1024
"""Blocks this large are handed to their sink in a worker thread (hashing 1 MiB takes
milliseconds; a slow disk far longer), smaller ones in the loop (a thread costs more)."""


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
        except asyncio.CancelledError:
            gather = _GATHER.get()
            if gather is not None and gather.called_off:
                raise Cancelled("transfer called off") from None
            raise

    async def _perform(self, effect: Effect) -> Any:
        if isinstance(effect, Call):
            return await self._requester.send_request(effect.request)
        if isinstance(effect, Drain):
            return await self._drain(effect)
        if isinstance(effect, Offload):
            # a thread cannot be stopped: a cancel waits for it, so the flow's clean-up
            # never runs beside the file work it started
            return await _in_thread(effect.fn)
        if isinstance(effect, Gather):
            return await self._gather(effect)
        raise TypeError(f"not an effect: {effect!r}")

    # -- Drain --------------------------------------------------------------------------

    async def _drain(self, effect: Drain) -> int:
        """Read the body block by block; each block goes to the sink (in a worker thread
        when large, overlapping the next read), in order, one at a time."""
        resp, sink, limit = effect.response, effect.sink, effect.limit
        total = 0
        sinking: asyncio.Future[None] | None = None
        parts: list[bytes] = []  # received, not yet handed over (joined: one copy)
        held = 0

        async def hand_over() -> None:
            nonlocal sinking, held
            if sinking is not None:
                await _finish(sinking)
                sinking = None
            if not parts:
                return
            block = parts[0] if len(parts) == 1 else b"".join(parts)
            parts.clear()
            held = 0
            self._requester.count_received(len(block))
            if len(block) >= THREAD_SINK_MIN:
                sinking = asyncio.ensure_future(asyncio.to_thread(sink, block))
            else:
                sink(block)

        try:
            while limit is None or total < limit:
                room = effect.block_size - held
                if limit is not None:
                    room = min(room, limit - total)
                try:
                    part = await resp.aread1(room)
                except httpx.HTTPError as exc:
                    await hand_over()  # the sink has every byte received before the cut
                    if sinking is not None:
                        await _finish(sinking)
                        sinking = None
                    raise body_broken(total, failure(exc)[1]) from failure_cause(exc)
                if not part:
                    break
                total += len(part)
                held += len(part)
                parts.append(part)
                if held >= effect.block_size:
                    await hand_over()
            await hand_over()
            if sinking is not None:
                await _finish(sinking)
                sinking = None
        finally:
            if sinking is not None:
                # a cancel or a failure: the sink in its thread ends before the flow's
                # clean-up (closing the file it writes) runs
                await _finish(sinking, quiet=True)
        return total

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
    """``fn()`` in a worker thread; cancelled, it is waited for before the cancel goes on."""
    running = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        await asyncio.wait([running])
        raise


async def _finish(sinking: asyncio.Future[None], *, quiet: bool = False) -> None:
    """Wait for a sink running in a thread (it cannot be stopped halfway)."""
    try:
        await asyncio.shield(sinking)
    except asyncio.CancelledError:
        await asyncio.wait([sinking])  # the thread still runs: wait for it, then go on
        raise
    except Exception:
        if not quiet:
            raise


async def _settle(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Wait until every task has ended, whatever the caller's cancellation says."""
    gathered = asyncio.gather(*tasks, return_exceptions=True)
    try:
        await asyncio.shield(gathered)
    except asyncio.CancelledError:
        await asyncio.wait([gathered])
        raise
