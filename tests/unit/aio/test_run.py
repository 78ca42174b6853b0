"""The asyncio runner of flows (``registry_client.aio._run``): a cancel that comes while
a step runs on a worker thread."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from registry_client._flow import Flow, Gather, Offload, Sleep
from registry_client.aio._run import arun
from registry_client.aio._shell import AsyncShell


def _slow(value: Any) -> Any:
    time.sleep(0.2)  # the step runs on to its end on its thread, whatever the cancel
    return value


def _takes_then_works(events: list[Any]) -> Flow[None]:
    lock = yield Offload(lambda: _slow("lock"))  # (a .partial file's lock: a cancel here)
    try:
        yield Sleep(10)  # (a request)
    finally:
        events.append(("released", lock))
        yield Offload(lambda: events.append("cleaned"), cleanup=True)


def _works_then_cleans(events: list[Any]) -> Flow[None]:
    folder = yield Offload(lambda: "folder")
    try:
        yield Offload(lambda: _slow(None))  # (writing the archive: a cancel here)
        yield Offload(lambda: events.append("not cancelled"))  # (file work: cancelled)
    finally:
        yield Offload(lambda: events.append(("removed", folder)), cleanup=True)


def _gathered(events: list[Any]) -> Flow[None]:
    yield Gather([lambda: _takes_then_works(events)], workers=1)


@pytest.mark.anyio
@pytest.mark.parametrize(("make", "expected"), [
    (_takes_then_works, [("released", "lock"), "cleaned"]),
    (_works_then_cleans, [("removed", "folder")]),
    (_gathered, [("released", "lock"), "cleaned"]),
], ids=["what-the-step-took-is-released", "the-clean-up-after-it-is-done", "in-a-gather"])
async def test_a_cancel_during_a_threads_step_hands_its_result_to_the_flow_first(
    make: Any, expected: list[Any],
) -> None:
    """The step's thread ran to its end and its result (a lock taken, a folder made)
    was dropped with the cancel: the flow never had it to release -- a cancelled
    download's lock stayed held and the next download of that path waited for ever."""
    events: list[Any] = []
    task = asyncio.ensure_future(arun(make(events), AsyncShell(None)))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events == expected
