"""RegistryFactory (picklable, credentials found where it runs), slots per registry,
and `import registry_client.sync` without dask."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from registry_client import AuthenticationError, BasicAuthenticator, _calloff, parse_image_name
from registry_client._executors import RegistryFactory, is_dask, registry_slots, run_tasks
from registry_client._synctask import SyncTask, TaskResult
from registry_client.sync import register_credential_source


def test_importing_sync_does_not_import_dask() -> None:
    code = ("import sys, registry_client.sync\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_the_factory_pickles_and_opens_one_registry_per_host() -> None:
    factory = RegistryFactory(plain_http=["127.0.0.1:5000"], timeout=(1, 2), retries=1)
    assert pickle.loads(pickle.dumps(factory)) == factory
    local = factory(parse_image_name("127.0.0.1:5000/app:1"))
    assert local.requester.protocol == "http"
    assert factory(parse_image_name("127.0.0.1:5000/other")) is local
    remote = factory(parse_image_name("registry.example/app"))
    assert remote.requester.protocol == "https" and remote is not local


def test_a_named_credential_source_is_asked_where_the_factory_runs() -> None:
    factory = RegistryFactory(credentials="unit-test-source")
    with pytest.raises(AuthenticationError, match="no credential source named"):
        factory(parse_image_name("creds.example/app"))
    asked: list[str] = []

    def source(host: str) -> BasicAuthenticator:
        asked.append(host)
        return BasicAuthenticator("u", "p")

    register_credential_source("unit-test-source", source)
    registry = factory(parse_image_name("Creds.Example/app"))
    assert asked == ["creds.example"]
    assert isinstance(registry.requester.authenticator, BasicAuthenticator)
    assert pickle.loads(pickle.dumps(factory)) == factory  # the name travels, not the source


def test_slots_limit_the_tasks_per_registry_at_once() -> None:
    running = {"a": 0, "b": 0, "all": 0}
    most = dict(running)
    lock = threading.Lock()

    def one(host: str) -> None:
        with registry_slots([host, "shared.example"], 2, dask=False):
            with lock:
                for key in (host, "all"):
                    running[key] += 1
                    most[key] = max(most[key], running[key])
            time.sleep(0.02)
            with lock:
                running[host] -= 1
                running["all"] -= 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, ["a", "b"] * 8))
    assert most["all"] == 2  # every task holds a slot of shared.example too: 2 at once


def test_only_a_dask_executor_is_taken_for_one() -> None:
    with ThreadPoolExecutor(1) as pool:
        assert not is_dask(pool)


def _dies_on_t1(task: SyncTask) -> TaskResult:
    if task.target.endswith(":t1"):
        os._exit(3)  # a worker process killed (OOM, preemption) mid-task
    return TaskResult(task, "present")


def test_a_broken_process_pool_fails_the_rest_with_a_clear_message() -> None:
    """A dead worker breaks a ProcessPoolExecutor: it runs nothing more. Every task not
    finished is a failure that says so, and how to go on (run again)."""
    tasks = [SyncTask(f"s.example/a:t{n}@sha256:{'ab' * 32}", f"d.example/a:t{n}")
             for n in range(4)]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        results = run_tasks(pool, _dies_on_t1, tasks, None)  # type: ignore[arg-type]
    assert set(results) == {t.key for t in tasks}
    failed = [r for r in results.values() if r.outcome == "failed"]
    assert {r.task.target for r in failed} >= {"d.example/a:t1", "d.example/a:t2",
                                               "d.example/a:t3"}
    for r in failed:
        assert "a worker process died" in (r.error or "")
        assert "run the sync again" in (r.error or "")


class _Interrupting:
    """A journal where Ctrl-C arrives while the first result is recorded."""

    def record(self, result: TaskResult) -> None:
        raise KeyboardInterrupt


def test_ctrl_c_calls_off_the_running_tasks_and_starts_no_queued_one() -> None:
    """sync(journal=...) (or shard=, max_per_registry=) on its own thread pool: a Ctrl-C
    waited until every queued image was copied and tagged (pool.shutdown() runs them
    all), a second one did not help; the one-pass sync stops within a block."""
    started: list[str] = []
    stopped: list[str] = []

    def runner(task: SyncTask) -> TaskResult:
        started.append(task.target)
        if task.target.endswith("t0"):
            return TaskResult(task, "copied")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # a copy: its blob loop asks each block
            try:
                _calloff.check_cancelled()
            except _calloff.Interrupted:
                stopped.append(task.target)
                raise
            time.sleep(0.01)
        return TaskResult(task, "copied")

    tasks = [SyncTask(f"s.example/a:t{n}@sha256:{'ab' * 32}", f"d.example/a:t{n}")
             for n in range(6)]
    began = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        with pytest.raises(KeyboardInterrupt):
            run_tasks(pool, runner, tasks, _Interrupting())  # type: ignore[arg-type]
    assert time.monotonic() - began < 5
    # (the worker done with t0 may have taken t2 before the Ctrl-C)
    assert {"d.example/a:t0", "d.example/a:t1"} <= set(started) <= {
        "d.example/a:t0", "d.example/a:t1", "d.example/a:t2"}
    assert sorted(stopped) == sorted(set(started) - {"d.example/a:t0"})


def test_a_caller_s_call_off_stops_the_tasks_as_ctrl_c_does() -> None:
    """The asyncio sync(executor=...) runs the blocking sync in a worker thread; a
    cancelled task sets that thread's call-off flag, which the running copies stopped
    at, but the queued ones were all started and copied (18 s after the cancel)."""
    started: list[str] = []

    def runner(task: SyncTask) -> TaskResult:
        started.append(task.target)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            _calloff.check_cancelled()
            time.sleep(0.01)
        return TaskResult(task, "copied")  # pragma: no cover - called off before

    tasks = [SyncTask(f"s.example/a:t{n}@sha256:{'ab' * 32}", f"d.example/a:t{n}")
             for n in range(6)]
    caller = _calloff.CallOff()
    caller.interrupted = True
    outcome: list[BaseException] = []

    def thread() -> None:
        _calloff.enter(caller)
        try:
            with ThreadPoolExecutor(2) as pool:
                run_tasks(pool, runner, tasks, None)  # type: ignore[arg-type]
        except BaseException as exc:
            outcome.append(exc)
        finally:
            _calloff.enter(None)

    worker = threading.Thread(target=thread)
    worker.start()
    time.sleep(0.2)
    caller.set()
    worker.join(5)
    assert not worker.is_alive()
    assert [type(e) for e in outcome] == [_calloff.Interrupted]
    assert sorted(started) == ["d.example/a:t0", "d.example/a:t1"]  # the two running
