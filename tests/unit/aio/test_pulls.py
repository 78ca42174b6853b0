"""PinnedPulls: a request body's blocks pulled on one pooled thread of the body's own."""

from __future__ import annotations

import asyncio
import io
import queue
import threading
import time

import pytest

from registry_client import _threads
from registry_client.aio import _pulls
from registry_client.aio._pulls import PinnedPulls, stoppable
from registry_client.aio._transport import _file_blocks


def test_every_pull_of_a_body_runs_on_the_same_thread_in_order() -> None:
    """Blocks spread over a pool's threads cost a push 10 % more CPU (malloc arenas):
    each body keeps one thread, and the loop's own thread never reads."""
    seen: list[tuple[int, int]] = []
    numbers = iter(range(20))

    def pull() -> int:
        n = next(numbers)
        seen.append((n, threading.get_ident()))
        return n

    async def main() -> tuple[list[int], int]:
        pulls = PinnedPulls(pull)
        got = [await pulls.next() for _ in range(20)]
        pulls.close()
        return got, threading.get_ident()

    got, loop_thread = asyncio.run(main())
    assert got == list(range(20))
    assert [n for n, _ in seen] == got
    threads = {ident for _, ident in seen}
    assert len(threads) == 1 and loop_thread not in threads


def test_two_bodies_have_a_thread_each_and_give_it_back() -> None:
    async def body(name: str) -> set[int]:
        pulls = PinnedPulls(threading.get_ident)
        idents = set()
        for _ in range(10):
            idents.add(await pulls.next())
            await asyncio.sleep(0)
        pulls.close()
        return idents

    async def main() -> list[set[int]]:
        return list(await asyncio.gather(body("a"), body("b")))

    a, b = asyncio.run(main())
    assert len(a) == len(b) == 1 and a != b
    # closed, each thread went back to the pool: the pool's next job runs on one of them
    time.sleep(0.1)
    ran: queue.SimpleQueue[int] = queue.SimpleQueue()
    _threads.submit(lambda: ran.put(threading.get_ident()))
    assert ran.get(timeout=5) in a | b


def test_a_pull_error_is_raised_where_the_loop_awaits_it() -> None:
    def pull() -> bytes:
        raise OSError(5, "Input/output error")

    async def main() -> None:
        pulls = PinnedPulls(pull)
        try:
            with pytest.raises(OSError, match="Input/output error"):
                await pulls.next()
        finally:
            pulls.close()

    asyncio.run(main())


def test_a_cancelled_pull_ends_before_the_cancellation_goes_on() -> None:
    """A retry seeks the file back and reads it again: no read of the cancelled body
    may still be running then."""
    started, release = threading.Event(), threading.Event()
    ended: list[float] = []

    def pull() -> bytes:
        started.set()
        release.wait(5)
        time.sleep(0.05)
        ended.append(time.monotonic())
        return b"x"

    async def main() -> float:
        pulls = PinnedPulls(pull)
        task = asyncio.ensure_future(pulls.next())
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        await asyncio.sleep(0.05)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        pulls.close()
        return time.monotonic()

    after = asyncio.run(main())
    assert ended and ended[0] <= after


def test_a_body_pulled_again_after_the_idle_wait_gets_a_thread_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A body sent slowly (a slow link) lets its thread go between blocks, and gets one
    back at its next pull instead of waiting forever."""
    monkeypatch.setattr(_pulls, "IDLE_SECONDS", 0.05)

    async def main() -> list[int]:
        pulls = PinnedPulls(lambda: 7)
        first = await pulls.next()
        await asyncio.sleep(0.3)  # the thread gave up waiting meanwhile
        second = await asyncio.wait_for(pulls.next(), 5)
        pulls.close()
        return [first, second]

    assert asyncio.run(main()) == [7, 7]


def test_a_file_body_is_read_whole_in_blocks_off_the_loop() -> None:
    data = bytes(range(256)) * 9000  # 2.2 MiB: three blocks

    async def main() -> list[bytes]:
        return [block async for block in _file_blocks(io.BytesIO(data))]

    blocks = asyncio.run(main())
    assert b"".join(blocks) == data and len(blocks) == 3


@pytest.mark.anyio
async def test_a_second_cancel_still_waits_for_the_thread() -> None:
    """stoppable promises nothing the work touches is used once the caller moves on; a
    second cancel cut the wait short, and the work ran on (a cancelled-twice sync kept
    its journal locked, and the re-run was refused)."""
    ended: list[str] = []

    def work(stop: threading.Event) -> None:
        stop.wait(5)
        time.sleep(0.3)  # (what it still does once told to stop)
        ended.append("ended")

    task = asyncio.ensure_future(stoppable(work))
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ended == ["ended"]
