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

from collections.abc import Callable, Iterable
from typing import TypeVar

from .._flow import Flow, run
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
    load_sync_file,
    open_entries,
    sync_flow,
)
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
    registry_for: Callable[[ImageReference], AsyncRegistry],
    *, max_workers: int = 4, dry_run: bool = False, progress: ProgressCallback | None = None,
) -> SyncResult:
    """Async form of :func:`registry_client.sync.sync`: ``registry_for(ref)`` returns an
    :class:`AsyncRegistry` (called before any copy, no request sent). Failures are
    collected in the :class:`SyncResult`, not raised; an invalid entry is an
    ``InvalidReferenceError`` before anything is copied."""
    opened = open_entries(entries, registry_for)
    return await _run_over(
        sync_flow(opened, max_workers=max_workers, dry_run=dry_run, progress=progress), opened)


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
