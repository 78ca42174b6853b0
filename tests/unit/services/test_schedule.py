"""The transfer scheduler: largest first, with one slot kept for small blobs."""

from __future__ import annotations

import _thread
import signal
import threading
import time
from collections.abc import Callable

import pytest

from registry_client import _threads
from registry_client._calloff import Cancelled, Interrupted, check_cancelled
from registry_client.services._schedule import parallel, transfer


def test_parallel_keeps_order_and_runs_inline_for_one_worker() -> None:
    assert parallel(lambda x: x * 2, [3, 1, 2], 4) == [6, 2, 4]
    seen: list[str] = []
    parallel(lambda _: seen.append(threading.current_thread().name), [1, 2, 3], 1)
    assert set(seen) == {threading.current_thread().name}


def test_a_small_blob_does_not_wait_behind_large_ones() -> None:
    # Every large item blocks until the small one has run. With all workers taking
    # the largest first (no slot kept) this would time out with small_done unset.
    small_done = threading.Event()
    waited: list[bool] = []

    def fn(size: int) -> None:
        if size == 1:
            small_done.set()
        else:
            waited.append(small_done.wait(timeout=5))

    transfer(fn, [100, 90, 80, 1], workers=3)
    assert waited == [True, True, True]


def test_the_small_end_thread_then_helps_with_large_ones() -> None:
    # Two workers, four large items that each need a partner running at the same time:
    # both threads must end up on large items (the small-end one included).
    barrier = threading.Barrier(2, timeout=5)
    ran: list[int] = []

    def fn(size: int) -> None:
        barrier.wait()
        ran.append(size)

    transfer(fn, [100, 90, 80, 70], workers=2)
    assert sorted(ran) == [70, 80, 90, 100]


def test_every_item_runs_once_in_largest_first_order_when_inline() -> None:
    ran: list[int] = []
    transfer(ran.append, [5, 4, 3, 2, 1], workers=1)
    assert ran == [5, 4, 3, 2, 1]
    ran.clear()
    transfer(ran.append, list(range(50, 0, -1)), workers=4)
    assert sorted(ran) == list(range(1, 51))


def test_after_a_failure_no_new_item_starts_and_the_error_is_raised() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def fn(size: int) -> None:
        with lock:
            started.append(size)
        if size == 100:
            raise ValueError("boom")
        time.sleep(0.01)  # the other thread fails long before these are all done

    with pytest.raises(ValueError, match="boom"):
        transfer(fn, [100, *range(10, 0, -1)], workers=1)
    assert started == [100]
    started.clear()
    with pytest.raises(ValueError, match="boom"):
        transfer(fn, [100, *range(60, 0, -1)], workers=2)
    assert 100 in started and len(started) < 61


def test_transfers_run_on_the_library_s_reusable_threads() -> None:
    # Not threads started for the transfer and waited for: in a fresh process each
    # ``Thread.start`` waited for the new thread while the earlier ones were already
    # receiving, and a second pull started them all again.
    ran_on: list[bool] = []

    def fn(_size: int) -> None:
        ran_on.append(threading.get_ident() in _threads.alive())

    transfer(fn, [100, 90, 80, 1], workers=4)
    assert ran_on == [True] * 4


def test_no_item_starts_before_every_slot_has_its_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The slots start together: a blob's request does not go out while the threads of
    # the others are still being handed their jobs.
    submitted: list[object] = []
    real_submit = _threads.submit

    def spy(job: Callable[[], None]) -> None:
        submitted.append(job)
        real_submit(job)
        time.sleep(0.02)  # a slow start: a job that did not wait would run meanwhile

    monkeypatch.setattr(_threads, "submit", spy)
    seen: list[int] = []
    lock = threading.Lock()

    def fn(_size: int) -> None:
        with lock:
            seen.append(len(submitted))

    transfer(fn, [100, 90, 80, 1], workers=4)
    assert seen == [4, 4, 4, 4]


class _Interruptible:
    """Transfer items that run ``ticks`` x 5 ms, stopping at a ``check_cancelled`` each
    tick, and record their interruption; an interrupt of the main thread once two run."""

    def __init__(self, ticks: int) -> None:
        self.ticks = ticks  # bounded: a lost interrupt fails the test, never hangs it
        self.running = threading.Semaphore(0)
        self.stopped: list[str] = []
        self._lock = threading.Lock()

    def item(self, _size: int) -> None:
        self.running.release()
        try:
            for _ in range(self.ticks):
                check_cancelled()
                time.sleep(0.005)
        except Interrupted:
            with self._lock:
                self.stopped.append("interrupted")
            raise

    def interrupt_once_two_run(self, interrupt: Callable[[], None], delay: float = 0.0) -> None:
        def soon() -> None:
            for _ in range(2):
                self.running.acquire(timeout=5)
            time.sleep(delay)
            interrupt()

        threading.Thread(target=soon, daemon=True).start()


def test_an_interrupt_of_the_caller_stops_the_workers_before_it_is_raised() -> None:
    # Ctrl-C in the waiting caller: the running items stop at their next block (here:
    # check_cancelled) and the caller returns only when every worker has stopped.
    assert threading.current_thread() is threading.main_thread()  # where SIGINT goes
    items = _Interruptible(ticks=1000)  # 5 s at most
    items.interrupt_once_two_run(
        lambda: signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        transfer(items.item, [100, 90], workers=2)
    assert items.stopped == ["interrupted", "interrupted"]


def test_an_interrupt_that_lands_outside_a_system_call_is_not_lost_while_waiting() -> None:
    # A SIGINT handled just before the waiting caller blocks on its lock interrupts no
    # system call, so nothing wakes the caller to raise KeyboardInterrupt: the Ctrl-C
    # would wait for the whole transfer. _thread.interrupt_main() is exactly that case
    # (the signal's flag set, no system call interrupted), every time.
    assert threading.current_thread() is threading.main_thread()
    items = _Interruptible(ticks=400)  # 2 s at most
    # the caller is blocked in its wait 50 ms after both items started
    items.interrupt_once_two_run(_thread.interrupt_main, delay=0.05)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        transfer(items.item, [100, 90], workers=2)
    assert items.stopped == ["interrupted", "interrupted"]
    assert time.monotonic() - t0 < 1.0


def test_after_a_failure_parallel_starts_no_new_item_and_raises() -> None:
    # A retention plan or get_all(with_digests=True) is thousands of small requests:
    # one failing must not leave the others to run to the end before it is raised.
    started: list[int] = []
    lock = threading.Lock()

    def fn(i: int) -> int:
        with lock:
            started.append(i)
        if i == 0:
            raise ValueError("boom")
        time.sleep(0.005)
        return i

    with pytest.raises(ValueError, match="boom"):
        parallel(fn, list(range(400)), 2)
    assert len(started) < 20


def test_an_interrupt_stops_a_parallel_fan_out_and_its_workers() -> None:
    assert threading.current_thread() is threading.main_thread()  # where SIGINT goes
    started: list[int] = []
    lock = threading.Lock()
    first = threading.Event()

    def fn(i: int) -> int:
        with lock:
            started.append(i)
        first.set()
        time.sleep(0.005)
        return i

    def interrupt_soon() -> None:
        first.wait(5)
        time.sleep(0.05)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    threading.Thread(target=interrupt_soon, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        parallel(fn, list(range(1000)), 2)  # 2.5 s if it ran to the end
    with lock:
        ran = len(started)
    time.sleep(0.05)
    assert len(started) == ran < 200  # and nothing ran after the caller got the error


def test_parallel_keeps_order_on_threads() -> None:
    def fn(i: int) -> int:
        time.sleep(0.001 * (i % 3))
        return i * 10

    assert parallel(fn, list(range(50)), 4) == [i * 10 for i in range(50)]


def _looping(started: threading.Semaphore, ended: list[str], lock: threading.Lock,
             ) -> Callable[[int], None]:
    """An item that runs 5 s unless its transfer is called off, saying how it ended."""
    def fn(_size: int) -> None:
        started.release()
        try:
            for _ in range(1000):
                check_cancelled()
                time.sleep(0.005)
        except Cancelled as exc:
            with lock:
                ended.append(type(exc).__name__)
            raise
        with lock:
            ended.append("finished")
    return fn


def test_an_interrupt_reaches_the_transfers_nested_in_a_fan_out() -> None:
    # sync() copies images side by side, each image a transfer of its blobs: a Ctrl-C
    # must stop the blobs in flight, not wait until the images being copied are done.
    assert threading.current_thread() is threading.main_thread()  # where SIGINT goes
    started = threading.Semaphore(0)
    ended: list[str] = []
    lock = threading.Lock()
    blob = _looping(started, ended, lock)

    def image(_n: int) -> None:
        transfer(blob, [100, 90], workers=2)

    def interrupt_soon() -> None:
        for _ in range(4):
            started.acquire(timeout=5)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    threading.Thread(target=interrupt_soon, daemon=True).start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        parallel(image, [1, 2], 2)
    assert time.monotonic() - t0 < 3
    assert ended == ["Interrupted"] * 4


def test_a_failure_in_a_fan_out_calls_off_the_transfers_nested_in_it() -> None:
    started = threading.Semaphore(0)
    ended: list[str] = []
    lock = threading.Lock()
    blob = _looping(started, ended, lock)

    def image(n: int) -> None:
        if n == 1:
            for _ in range(2):  # both blobs of the other image are moving
                assert started.acquire(timeout=5)
            raise ValueError("image 1 failed")
        transfer(blob, [100, 90], workers=2)

    t0 = time.monotonic()
    with pytest.raises(ValueError, match="image 1 failed"):
        parallel(image, [1, 2], 2)
    assert time.monotonic() - t0 < 3
    assert sorted(ended) == ["Cancelled", "Cancelled"]
