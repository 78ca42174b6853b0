"""``registry_client.aio.sync`` against real registries: ``copy_all_tags`` and ``sync``
give the blocking module's results on the same data -- plans, images, failures
collected, a vanished tag and a repository gone mid-sync reported the same way.

A FaultProxy in front of the source answers as Distribution does for a tag deleted
after the tag list was read (404 ``MANIFEST_UNKNOWN``), or for a deleted repository
(404 ``NAME_UNKNOWN``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from registry_client import CopyPlan, Image, InvalidReferenceError, NotFoundError, Registry
from registry_client import sync as blocking
from registry_client.aio import AsyncRegistry, sync
from registry_client.testing import (
    FaultProxy,
    LocalRegistry,
    LocalRegistryFactory,
    SeededImage,
    seed_image,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TAGS = ["v1", "v2", "gone", "v3"]
GONE = "gone"
MANIFEST_UNKNOWN = json.dumps({"errors": [{
    "code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {"Tag": GONE},
}]}).encode()


@pytest.fixture
def seeded(anon_registry: LocalRegistry, unique_repository: str) -> dict[str, SeededImage]:
    return {tag: seed_image(anon_registry, unique_repository, tag, seed=70 + i,
                            layers=(300, 2000),
                            platforms=["linux/amd64", "linux/arm64/v8"] if tag == "v2" else None)
            for i, tag in enumerate(TAGS)}


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        yield p


@pytest.fixture
def dst(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    return local_registry_factory("anonymous")


@pytest.fixture
async def clients(
    proxy: FaultProxy, dst: LocalRegistry,
) -> AsyncIterator[tuple[dict[str, AsyncRegistry], dict[str, Registry]]]:
    """Each flavour's clients of the source (through the proxy) and of the target."""
    async with AsyncRegistry(proxy.host, protocol="http", retries=1, backoff=0.0) as a, \
            AsyncRegistry(dst.host, protocol="http") as b:
        with Registry(proxy.host, protocol="http", retries=1, backoff=0.0) as sa, \
                Registry(dst.host, protocol="http") as sb:
            yield {proxy.host: a, dst.host: b}, {proxy.host: sa, dst.host: sb}


def vanish(proxy: FaultProxy, repository: str) -> None:
    """From now on ``repository``'s tag GONE answers as a deleted tag does."""
    path = rf"^/v2/{repository}/manifests/{GONE}$"
    proxy.add_rule("HEAD", path, action="status", status=404, body=b"", times=None)
    proxy.add_rule("GET", path, action="status", status=404, body=MANIFEST_UNKNOWN,
                   headers={"Content-Type": "application/json"}, times=None)


def digests(seeded: dict[str, SeededImage]) -> dict[str, str]:
    return {tag: image.digest for tag, image in seeded.items() if tag != GONE}


async def test_copy_all_tags_is_the_blocking_one(
    seeded: dict[str, SeededImage], proxy: FaultProxy, dst: LocalRegistry,
    clients: tuple[dict[str, AsyncRegistry], dict[str, Registry]], unique_repository: str,
) -> None:
    (aregs, regs) = clients
    vanish(proxy, unique_repository)
    source = aregs[proxy.host].repository(unique_repository)
    target = aregs[dst.host].repository("mirror/app")
    plans = await sync.copy_all_tags(source, target, dry_run=True)
    same = blocking.copy_all_tags(regs[proxy.host].repository(unique_repository),
                                  regs[dst.host].repository("mirror/app"), dry_run=True)
    assert list(plans) == list(same) and len(plans) == 3
    assert all(isinstance(p, CopyPlan) for p in plans)
    assert plans.vanished == same.vanished == [GONE]
    assert dst.request_count("PUT") == 0

    images = await sync.copy_all_tags(source, target, max_workers=2)
    assert images.vanished == [GONE]
    assert {i.tag: i.digest for i in images if isinstance(i, Image)} == digests(seeded)
    assert await target.tags.get_all(with_digests=True) == digests(seeded)


async def test_copy_all_tags_copies_the_rest_then_raises_the_first_failure(
    seeded: dict[str, SeededImage], proxy: FaultProxy, dst: LocalRegistry,
    clients: tuple[dict[str, AsyncRegistry], dict[str, Registry]], unique_repository: str,
) -> None:
    (aregs, regs) = clients
    proxy.add_rule("GET", f"/blobs/{seeded['v3'].layers[0]}", action="status", status=404,
                   body=b'{"errors":[{"code":"BLOB_UNKNOWN"}]}', times=None)
    source = aregs[proxy.host].repository(unique_repository)
    with pytest.raises(NotFoundError) as async_error:
        await sync.copy_all_tags(source, aregs[dst.host].repository("a/app"))
    with pytest.raises(NotFoundError) as sync_error:
        blocking.copy_all_tags(regs[proxy.host].repository(unique_repository),
                               regs[dst.host].repository("s/app"))
    assert str(async_error.value) == str(sync_error.value).replace("s/app", "a/app")
    assert f"{unique_repository}:v3" in str(async_error.value)
    left = await aregs[dst.host].repository("a/app").tags.get_all()
    assert sorted(left) == sorted(set(TAGS) - {"v3"})


async def test_sync_collects_failures_and_vanished_tags_as_the_blocking_one(
    seeded: dict[str, SeededImage], proxy: FaultProxy, dst: LocalRegistry,
    clients: tuple[dict[str, AsyncRegistry], dict[str, Registry]], unique_repository: str,
) -> None:
    (aregs, regs) = clients
    vanish(proxy, unique_repository)
    src = f"{proxy.host}/{unique_repository}"
    entries = [
        blocking.SyncEntry(src, f"{dst.host}/m/app"),
        blocking.SyncEntry(f"{src}:{GONE}", f"{dst.host}/m/named"),  # named: a failure
        blocking.SyncEntry(f"{proxy.host}/not/there", f"{dst.host}/m/none"),
        blocking.SyncEntry(f"{src}@{seeded['v2'].digest}", f"{dst.host}/m/pinned:stable"),
    ]
    planned = await sync.sync(entries, lambda r: aregs[r.domain], dry_run=True)
    assert planned == blocking.sync(entries, lambda r: regs[r.domain], dry_run=True)
    assert planned.vanished == (f"{src}:{GONE}",)
    # a source that cannot be listed first, then the images that failed
    assert [name for name, _ in planned.failed] == [f"{proxy.host}/not/there",
                                                    f"{src}:{GONE}"]
    assert dst.request_count("PUT") == 0

    result = await sync.sync(entries, lambda r: aregs[r.domain], max_workers=3)
    assert not result.ok
    assert result.vanished == planned.vanished and result.failed == planned.failed
    copied = [i for i in result.copied if isinstance(i, Image)]
    assert len(copied) == len(result.copied) == 4
    target = aregs[dst.host]
    assert await target.repository("m/app").tags.get_all(with_digests=True) == digests(seeded)
    pinned = await target.repository("m/pinned").manifests.head("stable")
    assert pinned.digest == seeded["v2"].digest


async def test_a_repository_gone_after_its_tag_list_is_one_failure(
    seeded: dict[str, SeededImage], proxy: FaultProxy, dst: LocalRegistry,
    clients: tuple[dict[str, AsyncRegistry], dict[str, Registry]], unique_repository: str,
) -> None:
    (aregs, regs) = clients
    name_unknown = json.dumps({"errors": [{"code": "NAME_UNKNOWN", "message": "repository "
                                           "name not known to registry"}]}).encode()
    for method in ("HEAD", "GET"):
        proxy.add_rule(method, rf"^/v2/{unique_repository}/(manifests|blobs)/",
                       action="status", status=404,
                       body=name_unknown if method == "GET" else b"",
                       headers={"Content-Type": "application/json"}, times=None)
    entries = [blocking.SyncEntry(f"{proxy.host}/{unique_repository}", f"{dst.host}/m/gone")]
    result = await sync.sync(entries, lambda r: aregs[r.domain], max_workers=2)
    assert result == blocking.sync(entries, lambda r: regs[r.domain], max_workers=2)
    [(name, error)] = result.failed
    assert name == f"{proxy.host}/{unique_repository}"
    assert "deleted after its tag list was read: 4 tags not copied" in error
    assert "not known" in error
    # the error of the first tag listed, whichever copy found the repository gone first
    first = (await aregs[proxy.host].repository(unique_repository).tags.get_all())[0]
    assert f"/manifests/{first} " in error
    assert result.copied == () and result.vanished == ()


async def test_bad_entries_are_refused_before_anything_is_copied(
    seeded: dict[str, SeededImage], proxy: FaultProxy, dst: LocalRegistry,
    clients: tuple[dict[str, AsyncRegistry], dict[str, Registry]], unique_repository: str,
) -> None:
    (aregs, _) = clients
    src = f"{proxy.host}/{unique_repository}"
    good = blocking.SyncEntry(f"{src}:v1", f"{dst.host}/m/ok")
    with pytest.raises(InvalidReferenceError, match="must be a repository"):
        await sync.sync([good, blocking.SyncEntry(src, f"{dst.host}/m/all:latest")],
                        lambda r: aregs[r.domain])
    with pytest.raises(InvalidReferenceError, match="not a digest"):
        await sync.sync([good, blocking.SyncEntry(
            f"{src}:v1", f"{dst.host}/m/x@{seeded['v1'].digest}")], lambda r: aregs[r.domain])
    assert dst.request_count("PUT") == 0
    assert await sync.sync([], lambda r: aregs[r.domain]) == blocking.SyncResult((), ())


async def test_a_cancelled_sync_stops_the_blobs_of_the_images_being_copied(
    local_registry_factory: LocalRegistryFactory, dst: LocalRegistry,
) -> None:
    """What a Ctrl-C does to the blocking sync(): cancelling the task reaches the blobs
    in flight at once, not when the images being copied are complete (8 MiB each at
    2 MiB/s: 4 s more). Nothing is tagged."""
    big = local_registry_factory("anonymous")
    for n, name in enumerate(("a", "b")):
        seed_image(big, f"big/{name}", "v1", layers=(8 << 20,), seed=40 + n)
    with FaultProxy(big, timeout=10) as slow:
        slow.add_rule("GET", "/blobs/sha256:", action="throttle", rate=2 << 20, times=None)
        async with AsyncRegistry(slow.host, protocol="http") as a, \
                AsyncRegistry(dst.host, protocol="http") as b:
            regs = {slow.host: a, dst.host: b}
            entries = [blocking.SyncEntry(f"{slow.host}/big/{name}:v1", f"{dst.host}/stop/{name}")
                       for name in ("a", "b")]
            task = asyncio.ensure_future(sync.sync(entries, lambda r: regs[r.domain],
                                                   max_workers=2))
            deadline = time.monotonic() + 10
            while slow.count("GET", "/blobs/") < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)  # both images: their config and their layer
            await asyncio.sleep(0.3)
            cancelled = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - cancelled < 1.5
    assert not [e for e in dst.access_log_entries()
                if e.method == "PUT" and "/manifests/" in e.path]
