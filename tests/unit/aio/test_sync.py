"""registry_client.aio.sync: what the asyncio sync adds to the blocking one's rules."""

from __future__ import annotations

import asyncio
import time
import types
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from registry_client import _calloff
from registry_client.aio import sync as aio_sync
from registry_client.sync import RegistryFactory


@pytest.mark.anyio
async def test_a_cancelled_sync_on_an_executor_calls_its_thread_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """sync(executor=...) runs the blocking sync in a worker thread: a cancelled task
    returned at once, and the thread copied and tagged every image after it (18 s)."""
    seen: list[str] = []

    def blocking(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # its copies ask at each block
            try:
                _calloff.check_cancelled()
            except _calloff.Interrupted:
                seen.append("interrupted")
                raise
            time.sleep(0.01)
        seen.append("ran to its end")  # pragma: no cover - called off before

    monkeypatch.setattr(aio_sync, "blocking_sync", blocking)
    with ThreadPoolExecutor(1) as pool:
        task = asyncio.ensure_future(aio_sync.sync([], RegistryFactory(), executor=pool))
        await asyncio.sleep(0.2)
        task.cancel()
        began = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - began < 2
    assert seen == ["interrupted"]


@pytest.mark.anyio
async def test_tasks_are_all_stopped_before_a_cancelled_run_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """gather gave up at the first task cancelled: the others ran on, recording into a
    journal the sync had closed already."""
    recorded: list[str] = []
    ended: list[str] = []

    async def run_task(task: str, registry_for: Any, *, dry_run: bool, progress: Any) -> Any:
        if task == "first":
            raise asyncio.CancelledError  # (its own cancel: the first to end)
        try:
            await asyncio.sleep(0.2)
        finally:
            ended.append(task)
        return types.SimpleNamespace(task=types.SimpleNamespace(key=task))

    class Journal:
        def record(self, result: Any) -> None:
            recorded.append(result.task.key)

    monkeypatch.setattr(aio_sync, "run_task", run_task)
    with pytest.raises(asyncio.CancelledError):
        await aio_sync._run_tasks(["first", "second", "third"], lambda ref: None,  # type: ignore[arg-type]
                                  Journal(), max_workers=3, max_per_registry=None,  # type: ignore[arg-type]
                                  dry_run=False, progress=None)
    assert sorted(ended) == ["second", "third"]  # stopped before the run ended
    await asyncio.sleep(0.3)
    assert recorded == []  # (nothing recorded after the run ended)
