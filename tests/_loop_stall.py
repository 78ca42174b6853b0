"""How long the library keeps the event loop from running, told apart from how long the
machine keeps the whole process from running (issue #14's heartbeat tests).

A heartbeat coroutine sleeps ``BEAT`` at a time and stamps each wake-up: the gap between
two stamps is how long the loop could not run. On a busy machine (a load of 10-28 on two
cores) the whole process is not run for a few hundred milliseconds now and then, and the
loop's gaps grow with it though the library did nothing wrong. So a plain thread beats
beside the loop over the same window, and is held up as long whenever the machine (or
whatever else holds every thread of the process) holds the whole process up.

Each gap of the loop is judged on its own, and of it only what the machine explains is
excused, the larger of:

- the longest stretch within the gap during which the plain thread was held up too (the
  lateness beyond ``BEAT`` of one of its beats, as far as it falls inside the gap);
- the time the loop's own thread waited on the kernel's run queue within the gap
  (Linux's per-thread schedstat): ready to run, but the CPUs went to other threads. The
  plain thread alone misses this: it hardly computes, so the scheduler wakes it first
  while the loop's thread waits its turn (measured at a load of 15: 67 ms waited in a
  72 ms gap while the plain thread was late by 6 ms).

The rest of the gap is the library's, so a stall of the machine excuses only the loop
gap it falls in, never another one elsewhere in the run. What the loop thread computed
within a gap (its CPU time) is the library's whatever the rest says: C code that keeps the
GIL on the loop holds up the plain thread too.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

BEAT = 0.005
"""How long each heartbeat sleeps between two stamps."""


@dataclass
class Stall:
    """The largest part of one loop gap that the machine does not explain (``ours``),
    the gap it is part of, and for the reader of a failure the raw longest gaps of the
    loop's heartbeat and of the plain thread's over the same window."""

    ours: float
    gap: float
    held: float
    waited: float
    cpu: float
    loop: float
    thread: float
    beats: int

    def __str__(self) -> str:
        return (f"the library held the loop up {self.ours * 1000:.0f} ms: a gap of "
                f"{self.gap * 1000:.0f} ms, during which a plain thread's heartbeat was "
                f"held up {self.held * 1000:.0f} ms, the loop thread waited "
                f"{self.waited * 1000:.0f} ms for a CPU and computed "
                f"{self.cpu * 1000:.0f} ms (longest gaps: the loop's "
                f"{self.loop * 1000:.0f} ms, the plain thread's {self.thread * 1000:.0f} "
                f"ms; {self.beats} beats)")


def held_up(start: float, end: float, stamps: list[float]) -> float:
    """How long at a stretch a heartbeat stamped at ``stamps`` was held up within
    ``[start, end]``: the longest part of one of its gaps inside the window, less the
    ``BEAT`` it meant to sleep. One stretch, not the sum of every beat's lateness: a
    plain thread is late by a few ms at each beat while the library's threads keep the
    GIL busy, and those few ms, added up over a long gap, would excuse a blocked loop."""
    held = 0.0
    i = max(bisect.bisect_right(stamps, start) - 1, 0)
    while i + 1 < len(stamps) and stamps[i] < end:
        inside = min(end, stamps[i + 1]) - max(start, stamps[i])
        held = max(held, inside - BEAT)
        i += 1
    return held


def run_queue_wait() -> float:
    """How long the calling thread has waited, all told, on the kernel's run queue (ready
    to run, no CPU for it); 0 where Linux does not tell (nothing is excused then)."""
    with contextlib.suppress(OSError):
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    return 0.0


def judge(loop_stamps: list[tuple[float, float, float]],
          thread_stamps: list[float]) -> Stall:
    """The loop gap with the largest part the machine does not explain. ``loop_stamps``:
    (monotonic time, the loop thread's CPU time, its run-queue wait) at each loop beat;
    ``thread_stamps``: the plain thread's beats, over a window covering the loop's."""
    worst = Stall(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, len(loop_stamps) - 1)
    for (start, cpu_start, rq_start), (end, cpu_end, rq_end) in pairwise(loop_stamps):
        gap, cpu, waited = end - start, cpu_end - cpu_start, rq_end - rq_start
        held = held_up(start, end, thread_stamps)
        ours = max(cpu, gap - max(held, waited))
        if ours > worst.ours:
            worst.ours, worst.gap, worst.held, worst.waited, worst.cpu = (
                ours, gap, held, waited, cpu)
    worst.loop = max((b[0] - a[0] for a, b in pairwise(loop_stamps)),
                     default=0.0)
    worst.thread = max((b - a for a, b in pairwise(thread_stamps)),
                       default=0.0)
    return worst


async def longest_stall(work: Callable[[], Awaitable[Any]]) -> tuple[Any, Stall]:
    """Run ``work()`` beside a heartbeat coroutine and a heartbeat thread; its result,
    and how long at most the library kept the loop from running."""
    loop_stamps: list[tuple[float, float, float]] = []
    thread_stamps = [time.monotonic()]  # the thread's window starts before the loop's
    done = asyncio.Event()
    stop = threading.Event()

    async def heartbeat() -> None:
        while True:
            loop_stamps.append((time.monotonic(), time.thread_time(), run_queue_wait()))
            if done.is_set():
                return
            await asyncio.sleep(BEAT)

    def thread_heartbeat() -> None:
        while not stop.wait(BEAT):
            thread_stamps.append(time.monotonic())
        thread_stamps.append(time.monotonic())  # and ends after it

    control = threading.Thread(target=thread_heartbeat, daemon=True)
    control.start()
    beating = asyncio.create_task(heartbeat())
    await asyncio.sleep(0)  # its first beat before the work starts: all of it is watched
    try:
        result = await work()
    finally:
        done.set()
        await beating
        stop.set()
        control.join()
    return result, judge(loop_stamps, thread_stamps)
