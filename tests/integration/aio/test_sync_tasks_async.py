"""``registry_client.aio.sync.plan`` and ``run_task`` against real registries: the same
tasks as the blocking module's (plan id included), a vanished tag reported the same
way, and a task already at the target costs one HEAD."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from registry_client import Image, Registry
from registry_client import sync as blocking
from registry_client.aio import AsyncRegistry, sync
from registry_client.sync import RegistryFactory, SyncEntry
from registry_client.testing import (
    FaultProxy,
    LocalRegistry,
    LocalRegistryFactory,
    SeededImage,
    seed_image,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TAGS = ["a", "gone", "b"]


@pytest.fixture
def seeded(anon_registry: LocalRegistry, unique_repository: str) -> dict[str, SeededImage]:
    return {tag: seed_image(anon_registry, unique_repository, tag, seed=90 + i, layers=(64,))
            for i, tag in enumerate(TAGS)}


@pytest.fixture
def proxy(anon_registry: LocalRegistry, unique_repository: str) -> Iterator[FaultProxy]:
    """The source, where the tag ``gone`` answers as a tag deleted after the list."""
    with FaultProxy(anon_registry, timeout=5) as p:
        path = rf"^/v2/{unique_repository}/manifests/gone$"
        p.add_rule("HEAD", path, action="status", status=404, body=b"", times=None)
        p.add_rule("GET", path, action="status", status=404, headers={
            "Content-Type": "application/json"}, times=None, body=json.dumps(
            {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}).encode())
        yield p


async def test_plan_and_run_task_are_the_blocking_ones(
    seeded: dict[str, SeededImage], proxy: FaultProxy, unique_repository: str,
    local_registry_factory: LocalRegistryFactory,
) -> None:
    dst = local_registry_factory("anonymous")
    entries = [SyncEntry(f"{proxy.host}/{unique_repository}", f"{dst.host}/m/app")]
    async with AsyncRegistry(proxy.host, protocol="http") as a, \
            AsyncRegistry(dst.host, protocol="http") as b:
        aregs = {proxy.host: a, dst.host: b}
        tasks = await sync.plan(entries, lambda r: aregs[r.domain])
        with Registry(proxy.host, protocol="http") as sa, \
                Registry(dst.host, protocol="http") as sb:
            regs = {proxy.host: sa, dst.host: sb}
            same = blocking.plan(entries, lambda r: regs[r.domain])
        assert list(tasks) == list(same) and tasks.plan_id == same.plan_id
        assert tasks.vanished == same.vanished == [f"{proxy.host}/{unique_repository}:gone"]
        assert {t.digest for t in tasks} == {seeded["a"].digest, seeded["b"].digest}
        results = [await sync.run_task(t, lambda r: aregs[r.domain]) for t in tasks]
        assert [r.outcome for r in results] == ["copied", "copied"]
        assert {(r.image.tag, r.image.digest) for r in results if isinstance(r.image, Image)
                } == {("a", seeded["a"].digest), ("b", seeded["b"].digest)}
        dst.clear_access_log()
        again = await sync.run_task(tasks[0], lambda r: aregs[r.domain])
    assert again.outcome == "present"
    assert dst.access_log() == [f"HEAD /v2/m/app/manifests/{tasks[0].target.split(':')[-1]}"]


async def test_sync_takes_the_blocking_sync_s_journal_shard_and_host_limit(
    seeded: dict[str, SeededImage], anon_registry: LocalRegistry, unique_repository: str,
    local_registry_factory: LocalRegistryFactory, tmp_path: Path,
) -> None:
    """The same arguments as the blocking ``sync``: two shards copy every image once, a
    re-run with a shard's journal sends nothing for what it lists, a host limit holds."""
    dst = local_registry_factory("anonymous")
    entries = [SyncEntry(f"{anon_registry.host}/{unique_repository}", f"{dst.host}/m/app")]
    async with AsyncRegistry(anon_registry.host, protocol="http") as a, \
            AsyncRegistry(dst.host, protocol="http") as b:
        aregs = {anon_registry.host: a, dst.host: b}
        copied: list[list[str]] = []
        for index in range(2):
            journal = tmp_path / f"shard-{index}.jsonl"
            result = await sync.sync(entries, lambda r: aregs[r.domain], shard=(index, 2),
                                     journal=journal, max_per_registry=1)
            assert result.ok, result.failed
            copied.append([i.tag or "" for i in result.copied if isinstance(i, Image)])
            assert len(journal.read_text().splitlines()) == 1 + len(result.copied)
        assert sorted(copied[0] + copied[1]) == sorted(TAGS)
        dst.clear_access_log()
        again = await sync.sync(entries, lambda r: aregs[r.domain], shard=(0, 2),
                                journal=tmp_path / "shard-0.jsonl")
        assert again.copied == () and len(again.journaled) == len(copied[0])
    assert dst.request_count() == 0


async def test_sync_with_an_executor_runs_the_tasks_there_as_the_blocking_sync(
    seeded: dict[str, SeededImage], anon_registry: LocalRegistry, unique_repository: str,
    local_registry_factory: LocalRegistryFactory,
) -> None:
    dst = local_registry_factory("anonymous")
    entries = [SyncEntry(f"{anon_registry.host}/{unique_repository}", f"{dst.host}/m/app")]
    with ThreadPoolExecutor(2) as pool:
        result = await sync.sync(entries, RegistryFactory(plain_http=["*"]), executor=pool)
    assert result.ok, result.failed
    assert sorted(i.tag or "" for i in result.copied if isinstance(i, Image)) == sorted(TAGS)
