"""The transfer scheduler: largest first, with one slot kept for small blobs."""

from __future__ import annotations

import threading
import time

import pytest

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
