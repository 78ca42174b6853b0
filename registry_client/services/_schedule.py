"""Running work on a bounded number of threads: plain fan-out, and blob transfers.

Blob transfers keep a slot for small requests: ``workers - 1`` threads take the
largest blobs first (they dominate the wall time), and one thread takes the
smallest first, so a config blob or a small layer never waits behind four big
layers. When the small ones are done, that thread helps with the large ones.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def parallel(fn: Callable[[_T], _R], items: Sequence[_T], workers: int) -> list[_R]:
    """``fn`` over ``items``, results in order, at most ``workers`` at once (inline for one)."""
    if len(items) <= 1 or workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def transfer(fn: Callable[[_T], object], largest_first: Sequence[_T], workers: int) -> None:
    """Run ``fn`` over ``largest_first`` (sorted by size, largest first) on ``workers`` threads.

    One thread works from the small end, the others from the large end. After a
    failure no new item is started; the first exception is raised once the running
    ones have finished.
    """
    items = list(largest_first)
    if len(items) <= 1 or workers <= 1:
        for item in items:
            fn(item)
        return
    queue = deque(items)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(small_end: bool) -> None:
        while True:
            with lock:
                if errors or not queue:
                    return
                item = queue.pop() if small_end else queue.popleft()
            try:
                fn(item)
            except BaseException as exc:  # re-raised in the caller's thread
                with lock:
                    errors.append(exc)
                return

    threads = min(workers, len(items))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for i in range(threads):
            pool.submit(worker, i == 0)
    if errors:
        raise errors[0]
