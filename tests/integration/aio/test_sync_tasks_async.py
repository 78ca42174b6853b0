"""``registry_client.aio.sync.plan`` and ``run_task`` against real registries: the same
tasks as the blocking module's (plan id included), a vanished tag reported the same
way, and a task already at the target costs one HEAD."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from registry_client import Image, Registry
from registry_client import sync as blocking
from registry_client.aio import AsyncRegistry, sync
from registry_client.sync import SyncEntry
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
