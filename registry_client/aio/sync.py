"""Async forms of :mod:`registry_client.sync`: copy every tag of a repository, or a whole
mapping of source -> target repositories, with asyncio.

The rules are the blocking module's (the same flows): images are copied side by side,
``max_workers`` at once; failures are collected; a tag or a source repository deleted
meanwhile is reported as :func:`registry_client.sync.sync` reports it::

    from registry_client.aio import AsyncRegistry, sync

    result = await sync.sync(sync.load_sync_file("mirror.yaml"), registry_for)

:func:`plan` and :func:`run_task` are the asyncio forms of the blocking module's: the
same tasks (picklable, without secrets), planned and run with an AsyncRegistry.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import TypeVar

from .._calloff import CallOff, enter
from .._executors import RegistryFactory, task_hosts
from .._flow import Flow, run
from .._journal import Journal
from .._synctask import SyncPlan, SyncTask, TaskResult, open_task, plan_flow, task_flow
from ..progress import ProgressCallback
from ..reference import ImageReference
from ..sync import (
    NO_IO,
    CopiedTags,
    OpenedEntry,
    SyncEntry,
    SyncResult,
    copy_all_tags_flow,
    journaled,
    load_sync_file,
    open_entries,
    sync_flow,
    sync_result,
)
from ..sync import sync as blocking_sync
from ._pulls import stoppable
from ._registry import AsyncRegistry
from ._repository import AsyncRepository
from ._run import arun

__all__ = ["CopiedTags", "SyncEntry", "SyncPlan", "SyncResult", "SyncTask", "TaskResult",
           "copy_all_tags", "load_sync_file", "plan", "run_task", "sync"]

T = TypeVar("T")


async def copy_all_tags(
    source: AsyncRepository, target: AsyncRepository, *, max_workers: int = 4,
    dry_run: bool = False, progress: ProgressCallback | None = None,
) -> CopiedTags:
    """Async form of :func:`registry_client.sync.copy_all_tags`: every tag of ``source``
    copied to ``target`` (same tags), ``max_workers`` images at a time; the first
    failure raised once every other tag is copied."""
    return await arun(copy_all_tags_flow(source, target, max_workers=max_workers,
                                         dry_run=dry_run, progress=progress), source._shell)


async def sync(
    entries: Iterable[SyncEntry],
    registry_for: Callable[[ImageReference], AsyncRegistry] | RegistryFactory,
    *, max_workers: int = 4, dry_run: bool = False, progress: ProgressCallback | None = None,
    executor: Executor | None = None, journal: str | os.PathLike[str] | None = None,
    shard: tuple[int, int] | None = None, max_per_registry: int | None = None,
) -> SyncResult:
    """Async form of :func:`registry_client.sync.sync`: ``registry_for(ref)`` returns an
    :class:`AsyncRegistry` (called before any copy, no request sent). Failures are
    collected in the :class:`SyncResult`, not raised; an invalid entry is an
    ``InvalidReferenceError`` before anything is copied.

    ``journal``, ``shard`` and ``max_per_registry`` mean what they mean there: the sync
    is planned (:func:`plan`), and each task runs on the event loop (:func:`run_task`),
    ``max_workers`` at once, at most ``max_per_registry`` per registry host, each
    recorded in the journal as it finishes. With ``executor`` (processes, a Dask
    cluster) the tasks run there, with the blocking API, as the blocking ``sync`` runs
    them: ``registry_for`` is then a :class:`~registry_client.sync.RegistryFactory`,
    and the whole sync runs in a worker thread, the loop free meanwhile (a process
    pool: give it ``mp_context=multiprocessing.get_context("forkserver")``, as a
    ``fork()`` from a process with threads may deadlock the child).

    Raises:
        InvalidReferenceError: as the blocking ``sync``.
        JournalError: as the blocking ``sync``.
        TypeError: ``executor`` without a ``RegistryFactory``.
    """
    if executor is not None:
        if not isinstance(registry_for, RegistryFactory):
            raise TypeError("sync(executor=...) runs the tasks with the blocking API: give "
                            "registry_for=RegistryFactory(...), not a function of "
                            "AsyncRegistry objects")
        # in a worker thread, the loop free; a cancel calls its transfers off (as Ctrl-C
        # does the blocking sync's) and waits for the thread to stop
        call_off = CallOff()
        call_off.interrupted = True

        def run(stop: threading.Event) -> SyncResult:
            enter(call_off)
            try:
                return blocking_sync(
                    entries, registry_for, max_workers=max_workers, dry_run=dry_run,
                    progress=progress, executor=executor, journal=journal, shard=shard,
                    max_per_registry=max_per_registry)
            finally:
                enter(None)

        return await stoppable(run, call_off)
    assert not isinstance(registry_for, RegistryFactory)  # (it opens blocking registries)
    if journal is None and shard is None and max_per_registry is None:
        opened = open_entries(entries, registry_for)
        return await _run_over(
            sync_flow(opened, max_workers=max_workers, dry_run=dry_run, progress=progress),
            opened)
    tasks = await plan(entries, registry_for, shard=shard, max_workers=max_workers)
    with journaled(tasks, journal, dry_run=dry_run) as (j, todo, skipped):
        results = await _run_tasks(todo, registry_for, j, max_workers=max_workers,
                                   max_per_registry=max_per_registry, dry_run=dry_run,
                                   progress=progress)
    return sync_result(tasks, results, skipped)


async def _run_tasks(
    tasks: list[SyncTask], registry_for: Callable[[ImageReference], AsyncRegistry],
    journal: Journal | None, *, max_workers: int, max_per_registry: int | None,
    dry_run: bool, progress: ProgressCallback | None,
) -> dict[str, TaskResult]:
    """Each task's result by its key: ``max_workers`` at once, at most ``max_per_registry``
    per host (slots taken in host name order, as the blocking runner takes them), each
    recorded in ``journal`` as it finishes."""
    workers = asyncio.Semaphore(max(1, max_workers))
    slots: dict[str, asyncio.Semaphore] = {}

    async def one(task: SyncTask) -> TaskResult:
        async with workers, contextlib.AsyncExitStack() as held:
            if max_per_registry is not None:
                for host in task_hosts(task):
                    await held.enter_async_context(
                        slots.setdefault(host, asyncio.Semaphore(max_per_registry)))
            result = await run_task(task, registry_for, dry_run=dry_run, progress=progress)
        if journal is not None:  # (an fsync: off the loop, and waited for when cancelled)
            await stoppable(lambda _: journal.record(result))
        return result

    running = [asyncio.ensure_future(one(t)) for t in tasks]
    try:
        done = await asyncio.gather(*running)
    except BaseException:
        # gather gives up at the first task cancelled or failed: the others are stopped
        # and waited for, before the journal they record into is closed
        for future in running:
            future.cancel()
        while not all(f.done() for f in running):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(running)
        raise
    return {r.task.key: r for r in done}


async def _run_over(flow: Flow[T], opened: list[OpenedEntry]) -> T:
    """Run ``flow`` with the shell of the first repository opened."""
    shell = next((o.source._shell for o in opened if isinstance(o.source, AsyncRepository)),
                 None)
    if shell is None:  # no repository could be opened: a flow without effects
        return run(flow, NO_IO)
    return await arun(flow, shell)


async def plan(
    entries: Iterable[SyncEntry], registry_for: Callable[[ImageReference], AsyncRegistry],
    *, shard: tuple[int, int] | None = None, max_workers: int = 4,
) -> SyncPlan:
    """Async form of :func:`registry_client.sync.plan`: the tasks, one per image, each
    with its source digest; what could not be planned in ``failed``/``vanished``."""
    opened = open_entries(entries, registry_for)
    return await _run_over(plan_flow(opened, shard=shard, max_workers=max_workers), opened)


async def run_task(
    task: SyncTask, registry_for: Callable[[ImageReference], AsyncRegistry], *,
    dry_run: bool = False, progress: ProgressCallback | None = None,
) -> TaskResult:
    """Async form of :func:`registry_client.sync.run_task`: one image mirrored (one HEAD
    when it is at the target already); failures are returned, not raised."""
    found = open_task(task, registry_for)
    if isinstance(found, TaskResult):
        return found
    source, target = found
    assert isinstance(source, AsyncRepository)  # (registry_for gave an AsyncRegistry)
    return await arun(task_flow(task, source, target, dry_run=dry_run, progress=progress),
                      source._shell)
