"""Flows: the blocking runner sends results in and throws effects' errors in; the
locks of Exclusive."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from typing import Any

import pytest

from registry_client import _calloff
from registry_client._flow import Effect, Exclusive, Flow, LockTable, Offload, run, run_exclusive


class _Performer:
    def __init__(self) -> None:
        self.seen: list[Effect] = []

    def perform(self, effect: Effect) -> Any:
        self.seen.append(effect)
        assert isinstance(effect, Offload)
        return effect.fn()


def _twice() -> Flow[int]:
    a = yield Offload(lambda: 20)
    b = yield Offload(lambda: 22)
    return a + b


def test_run_sends_each_result_back_and_returns_the_flow_value() -> None:
    performer = _Performer()
    assert run(_twice(), performer) == 42
    assert len(performer.seen) == 2


def test_an_effect_error_is_thrown_into_the_flow_which_may_recover() -> None:
    def boom() -> int:
        raise OSError("disk full")

    def flow() -> Flow[str]:
        try:
            yield Offload(boom)
        except OSError as exc:
            return f"recovered from {exc}"
        return "not reached"

    assert run(flow(), _Performer()) == "recovered from disk full"


def test_an_error_the_flow_does_not_catch_reaches_the_caller_after_cleanup() -> None:
    cleaned: list[bool] = []

    def boom() -> int:
        raise KeyboardInterrupt

    def flow() -> Flow[None]:
        try:
            yield Offload(boom)
        finally:
            cleaned.append(True)

    with pytest.raises(KeyboardInterrupt):
        run(flow(), _Performer())
    assert cleaned == [True]


def test_composed_flows_run_as_one() -> None:
    def outer() -> Flow[int]:
        x = yield from _twice()
        y = yield Offload(lambda: 1)
        return x + y

    assert run(outer(), _Performer()) == 43


def test_a_closed_event_loop_s_locks_are_forgotten() -> None:
    """One AsyncRegistry serving one loop after another (asyncio.run in a loop) kept
    every closed loop alive through the locks it had made for it: 50 runs, 50 loops."""
    table = LockTable()
    loops = [asyncio.new_event_loop() for _ in range(3)]
    refs = [weakref.ref(loop) for loop in loops]
    for loop in loops:
        lock = table.lock("key", asyncio.Lock, loop=loop)
        assert table.lock("key", asyncio.Lock, loop=loop) is lock  # one per key and loop
        loop.run_until_complete(lock.acquire())  # (a lock that was used knows its loop)
        lock.release()
        loop.close()
    del loops, lock, loop
    table.lock("key", asyncio.Lock, loop=asyncio.new_event_loop())
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
    assert table.lock("key", threading.Lock) is table.lock("key", threading.Lock)


def test_a_weak_lock_table_keeps_a_key_s_lock_only_while_it_is_used() -> None:
    """One lock per blob copied (a mirror's lifetime: millions of keys) must not stay in
    the table once nobody holds or waits for it; while one does, every caller of the
    key gets that very lock."""
    table = LockTable(weak=True, thread_lock=threading.RLock)
    held = table.lock(("registry", "repo", "sha256:a"), table.thread_lock)
    with held:
        assert table.lock(("registry", "repo", "sha256:a"), table.thread_lock) is held
        with held:  # (an RLock: the thread holding it may take it again)
            pass
    del held
    gc.collect()
    assert len(table._locks) == 0
    loop = asyncio.new_event_loop()
    try:
        lock = table.lock("k", asyncio.Lock, loop=loop)
        assert table.lock("k", asyncio.Lock, loop=loop) is lock
        del lock
        gc.collect()
        assert len(table._of_loop[loop]) == 0
    finally:
        loop.close()


def test_a_worker_waiting_for_an_exclusive_stops_when_its_transfer_is_called_off() -> None:
    """A copy's worker waiting for a blob another copy is sending held a Ctrl-C (or
    its own transfer's failure) until that send ended -- minutes for a large layer."""
    table = LockTable(weak=True, thread_lock=threading.RLock)
    holder = table.lock("blob", table.thread_lock)
    flag = _calloff.CallOff()
    outcome: list[object] = []

    def waiter() -> None:
        _calloff.enter(flag)
        try:
            run_exclusive(Exclusive(table, "blob", _empty_flow()), _Performer())
            outcome.append("ran")
        except _calloff.Cancelled as exc:
            outcome.append(exc)
        finally:
            _calloff.enter(None)

    with holder:  # another copy sends the blob all along
        thread = threading.Thread(target=waiter, daemon=True)
        thread.start()
        time.sleep(0.2)
        assert outcome == []
        started = time.monotonic()
        flag.set()
        thread.join(5)
        assert time.monotonic() - started < 1
    assert len(outcome) == 1 and isinstance(outcome[0], _calloff.Cancelled)


def _empty_flow() -> Flow[None]:
    return None
    yield  # pragma: no cover - a flow


@pytest.mark.parametrize("in_a_transfer", [True, False])
def test_work_started_inside_the_holder_s_own_work_does_not_wait_for_it(
    in_a_transfer: bool,
) -> None:
    """A progress callback, called by the worker sending a blob (holding its lock), that
    copies an image sharing that blob: the nested copy's worker, another thread, waited
    for the lock its own caller held -- forever. It is work of the holder's (its flag
    descends from the holder's) and goes on without the lock; a holder of no transfer
    (a fan-out of one slot runs in its caller's thread) gets a flag for the time."""
    table = LockTable(weak=True, thread_lock=threading.RLock)
    outer = _calloff.CallOff() if in_a_transfer else None
    ran: list[str] = []
    started_from: list[_calloff.CallOff | None] = []

    def nested_worker() -> None:
        # a fan-out started inside the outer work: its flag's parent is the flag current
        # where it was started
        _calloff.enter(_calloff.CallOff(started_from[0]))
        try:
            run_exclusive(Exclusive(table, "blob", _note(ran, "nested")), _Performer())
        finally:
            _calloff.enter(None)

    def outer_flow() -> Flow[None]:
        ran.append("outer")
        started_from.append(_calloff.current())
        thread = threading.Thread(target=nested_worker, daemon=True)
        thread.start()
        thread.join(5)
        assert not thread.is_alive(), "the nested work waited for its own caller"
        return None
        yield  # pragma: no cover - a flow

    _calloff.enter(outer)
    try:
        run_exclusive(Exclusive(table, "blob", outer_flow()), _Performer())
        assert _calloff.current() is outer  # (the flag lent for the time is gone)
    finally:
        _calloff.enter(None)
    assert ran == ["outer", "nested"]
    assert table.holder("blob") is None


def test_sibling_workers_of_one_transfer_wait_for_each_other() -> None:
    """Every worker of a fan-out shares its flag: a worker waiting 50 ms for a token
    its sibling was fetching took that flag for the holder's own and fetched the same
    token itself -- 8 token requests for one push, 8 failed logins for one wrong
    password. Only work started inside the holder's goes on without the lock."""
    table = LockTable(weak=True, thread_lock=threading.RLock)
    flag = _calloff.CallOff()
    inside = 0
    overlapped: list[int] = []
    lock = threading.Lock()

    def slow_fetch() -> Flow[None]:
        nonlocal inside
        with lock:
            inside += 1
            overlapped.append(inside)
        time.sleep(0.2)  # a token server slower than a lock slice
        with lock:
            inside -= 1
        return None
        yield  # pragma: no cover - a flow

    def worker() -> None:
        _calloff.enter(flag)
        try:
            run_exclusive(Exclusive(table, "token", slow_fetch()), _Performer())
        finally:
            _calloff.enter(None)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert max(overlapped) == 1, overlapped


def _note(ran: list[str], what: str) -> Flow[None]:
    ran.append(what)
    return None
    yield  # pragma: no cover - a flow
