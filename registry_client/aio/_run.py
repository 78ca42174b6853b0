"""The asyncio runner of flows: :func:`arun`, the awaitable twin of ``_flow.run``."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any, Protocol, TypeVar

from .._flow import Exclusive, Offload
from ._pulls import Interrupted

__all__ = ["AsyncPerformer", "arun", "arun_exclusive"]

T = TypeVar("T")


class AsyncPerformer(Protocol):
    """An asyncio shell: performs one effect and returns its result."""

    async def perform(self, effect: Any) -> Any:
        """Do what ``effect`` asks (an :data:`~registry_client._flow.Effect`, or the
        exchange flow's); return its result or raise its error."""


async def arun(flow: Generator[Any, Any, T], performer: AsyncPerformer) -> T:
    """Run ``flow`` to its end, awaiting each effect; its return value.

    As in the blocking runner, an effect's exception (a task's cancellation
    included) is thrown into the flow at its ``yield``, so the flow's clean-up runs.
    A cancel that came while a step on a worker thread ran to its end
    (:class:`~registry_client.aio._pulls.Interrupted`) hands the flow that step's
    result first -- a lock it took, a folder it made: the flow's to release -- and is
    thrown in at the flow's next step, unless that step is a clean-up
    (``Offload(cleanup=True)``: the removal of that folder, in a ``finally``), which is
    done first, not skipped.
    """
    value: Any = None
    error: BaseException | None = None
    deferred: BaseException | None = None
    while True:
        try:
            effect = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            if deferred is not None:  # (ended with the result: the caller was cancelled)
                raise deferred from None
            result: T = stop.value
            return result
        finally:
            error = None
        if deferred is not None and not (isinstance(effect, Offload) and effect.cleanup):
            value, error, deferred = None, deferred, None  # the cancel, at this step
            continue
        try:
            value = await performer.perform(effect)
        except Interrupted as exc:
            value, deferred = exc.value, exc.error
        except BaseException as exc:  # thrown into the flow, which decides what it means
            value, error = None, exc


async def arun_exclusive(effect: Exclusive, performer: AsyncPerformer) -> Any:
    """Perform ``effect`` in an asyncio shell: its sub-flow, holding the running loop's
    lock of its key (an asyncio.Lock serves one loop: one AsyncRegistry may serve one
    loop after another, or several at once)."""
    async with effect.locks.lock(effect.key, asyncio.Lock, loop=asyncio.get_running_loop()):
        return await arun(effect.flow, performer)
