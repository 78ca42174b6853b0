"""Async forms of :mod:`registry_client.retention`: plan which tags to delete, and delete them.

The rules, results, logging and errors are the blocking module's (the same
:class:`~registry_client.retention.RetentionFlows`), run by the asyncio shell::

    from registry_client.aio import retention

    p = await retention.plan(repo, keep=10, older_than="30d", keep_patterns=["release-*"])
    await retention.apply(repo, p)
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable

from ..retention import RetentionFlows, RetentionPlan, TagDecision
from ._repository import AsyncRepository
from ._run import arun

__all__ = ["RetentionPlan", "TagDecision", "apply", "plan"]


async def plan(
    repo: AsyncRepository, *, keep: int | None = None, keep_semver: int | None = None,
    keep_patterns: Iterable[str] = (), older_than: str | _dt.timedelta | None = None,
    now: _dt.datetime | None = None,
) -> RetentionPlan:
    """Async form of :func:`registry_client.retention.plan`: which tags of ``repo`` to
    delete (nothing is deleted), their manifests and configs read ``max_workers`` at once."""
    return await arun(RetentionFlows.of(repo).plan(
        keep=keep, keep_semver=keep_semver, keep_patterns=keep_patterns,
        older_than=older_than, now=now), repo._shell)


async def apply(
    repo: AsyncRepository, plan: RetentionPlan, *,
    on_deleted: Callable[[str], None] | None = None,
) -> list[str]:
    """Async form of :func:`registry_client.retention.apply`: delete the planned tags one
    by one (each still pointing to its planned digest); the tags deleted."""
    return await arun(RetentionFlows.of(repo).apply(plan, on_deleted=on_deleted), repo._shell)
