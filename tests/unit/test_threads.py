"""Worker threads used again for short jobs: started once, ended when idle."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from registry_client import _threads


def _workers() -> set[int]:
    return _threads.alive()


def _wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.fixture
def short_idle(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(_threads, "IDLE_SECONDS", 0.2)
    _wait_for(lambda: not _workers())  # workers of earlier tests have ended
    return 0.2


def test_a_job_runs_on_a_worker_thread(short_idle: float) -> None:
    ran: list[int] = []
    done = threading.Event()

    def job() -> None:
        ran.append(threading.get_ident())
        done.set()

    _threads.submit(job)
    assert done.wait(5)
    assert ran[0] != threading.get_ident()
    assert ran[0] in _workers()


def test_a_waiting_thread_takes_the_next_job(short_idle: float) -> None:
    idents: list[int] = []
    done = threading.Semaphore(0)

    def job() -> None:
        idents.append(threading.get_ident())
        done.release()

    _threads.submit(job)
    assert done.acquire(timeout=5)
    _wait_for(lambda: len(_threads._idle) == 1)  # back, waiting for work
    _threads.submit(job)
    assert done.acquire(timeout=5)
    assert idents[0] == idents[1]
    assert _workers() == {idents[0]}


def test_jobs_side_by_side_get_threads_of_their_own(short_idle: float) -> None:
    gate = threading.Event()
    started = threading.Semaphore(0)

    def job() -> None:
        started.release()
        gate.wait(5)

    for _ in range(3):
        _threads.submit(job)
    for _ in range(3):
        assert started.acquire(timeout=5)
    assert len(_workers()) == 3
    gate.set()
    _wait_for(lambda: not _workers(), timeout=short_idle + 5)


def test_idle_threads_end_by_themselves(short_idle: float) -> None:
    done = threading.Event()
    _threads.submit(done.set)
    assert done.wait(5)
    assert _workers()
    _wait_for(lambda: not _workers(), timeout=short_idle + 5)
    assert not _threads._idle


def test_a_failing_job_leaves_its_thread_working(short_idle: float) -> None:
    def boom() -> None:
        raise RuntimeError("the job's own error")

    _threads.submit(boom)
    _wait_for(lambda: len(_threads._idle) == 1)
    done = threading.Event()
    _threads.submit(done.set)
    assert done.wait(5)
    assert len(_workers()) == 1


def test_a_thread_that_logged_leaves_no_entry_in_threading_enumerate(
    short_idle: float,
) -> None:
    """A log record (urllib3's "pool is full", a debug line) on a worker makes threading
    register a _DummyThread for it, which Python never removes: an application or test
    suite that looks for leaked threads would see one per worker that ever logged."""
    seen: list[int] = []
    done = threading.Event()

    def job() -> None:
        threading.current_thread()  # what logging does for every record
        seen.append(threading.get_ident())
        done.set()

    _threads.submit(job)
    assert done.wait(5)
    _wait_for(lambda: not _workers(), timeout=short_idle + 5)
    assert seen[0] not in {t.ident for t in threading.enumerate()}
