"""AsyncImageService against real registries: the same results as the blocking API.

Pull, push and copy (within a registry, across registries, with referrers, as a dry
run) run the flows ImageService runs, on the asyncio shell; each result is checked
against what the blocking API gives for the same call (digests, layouts, plans),
and what was written is read back with the blocking API.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _write_helpers import client_of, layout_blobs, layout_index

from registry_client import (
    BasicAuthenticator,
    BlobAdvanced,
    BlobMounted,
    CopyPlan,
    Image,
    NotFoundError,
    ProgressEvent,
    TokenAuthenticator,
)
from registry_client.testing import (
    FaultProxy,
    LocalRegistry,
    LocalRegistryFactory,
    SeededImage,
    seed_image,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SBOM = "application/spdx+json"


# ``reg`` (the anonymous registry, then the token one) comes from tests/integration/conftest.py


@pytest.fixture(scope="module")
def other_reg(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """A second registry: the target of copies across registries."""
    return local_registry_factory("anonymous")


def aclient(reg: LocalRegistry, **kw: Any) -> Any:
    """An ``AsyncRegistry`` of ``reg`` as its admin (enter it with ``async with``)."""
    from registry_client.aio import AsyncRegistry

    if reg.admin is not None:
        user, password = reg.admin
        kw.setdefault("authenticator", TokenAuthenticator(user, password)
                      if reg.auth == "token" else BasicAuthenticator(user, password))
    return AsyncRegistry(reg.host, protocol="http", **kw)


def fresh(what: str) -> str:
    return f"aio-images/{what}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def index(reg: LocalRegistry) -> SeededImage:
    """A two-platform OCI index of three layers each."""
    return seed_image(reg, fresh("index"), "v1", layers=(300_000, 2_000_000, 5000),
                      platforms=["linux/amd64", "linux/arm64/v8"], media="oci", seed=14)


def same_layout(a: Path, b: Path) -> None:
    """Two OCI layouts hold the same index entries and the same blob files."""
    assert layout_index(a)["manifests"] == layout_index(b)["manifests"]
    blobs_a, blobs_b = layout_blobs(a), layout_blobs(b)
    assert set(blobs_a) == set(blobs_b)
    assert all(blobs_a[d].read_bytes() == blobs_b[d].read_bytes() for d in blobs_a)


async def test_pull_writes_the_layout_the_blocking_pull_writes(
    reg: LocalRegistry, index: SeededImage, tmp_path: Path,
) -> None:
    events: list[ProgressEvent] = []
    async with aclient(reg) as areg:
        pulled = await areg.repository(index.repository).images.pull(
            "v1", tmp_path / "async", progress=events.append)
    with client_of(reg) as blocking:
        expected = blocking.repository(index.repository).images.pull("v1", tmp_path / "sync")
    assert isinstance(pulled, Image) and pulled == expected
    assert pulled.digest == index.digest
    same_layout(tmp_path / "async", tmp_path / "sync")
    assert sum(e.advanced for e in events if isinstance(e, BlobAdvanced)) == sum(
        len(data) for data in index.blobs.values())


async def test_pull_of_one_platform_and_a_platform_not_there(
    reg: LocalRegistry, index: SeededImage, tmp_path: Path,
) -> None:
    async with aclient(reg) as areg:
        images = areg.repository(index.repository).images
        one = await images.pull("v1", tmp_path / "arm", platform="linux/arm64")
        with pytest.raises(NotFoundError):  # PlatformNotFoundError, as in the blocking API
            await images.pull("v1", tmp_path / "none", platform="linux/s390x")
    assert one.digest == index.children[1].digest
    assert not (tmp_path / "none").exists()  # refused before anything was written


async def test_push_gives_the_digest_the_blocking_push_gives(
    reg: LocalRegistry, index: SeededImage, tmp_path: Path,
) -> None:
    with client_of(reg) as blocking:
        blocking.repository(index.repository).images.pull("v1", tmp_path / "oci")
        name = fresh("pushed")
        async with aclient(reg) as areg:
            pushed = await areg.repository(name).images.push(tmp_path / "oci", "v1")
            again = await areg.repository(name).images.push(tmp_path / "oci", "v2")
        expected = blocking.repository(fresh("pushed-sync")).images.push(tmp_path / "oci", "v1")
        assert pushed.digest == again.digest == expected.digest == index.digest
        repo = blocking.repository(name)
        assert repo.manifests.get_raw("v2").data == index.manifest
        for digest, data in index.blobs.items():
            assert repo.blobs.get(digest) == data


async def test_copy_within_the_registry_mounts(reg: LocalRegistry, index: SeededImage) -> None:
    events: list[ProgressEvent] = []
    target_name = fresh("mounted")
    async with aclient(reg) as areg:
        copied = await areg.repository(index.repository).images.copy(
            "v1", areg.repository(target_name), "copied", progress=events.append)
    assert (copied.digest, copied.tag, copied.repository) == (index.digest, "copied",
                                                                target_name)
    assert {e.digest for e in events if isinstance(e, BlobMounted)} == set(index.blobs)
    with client_of(reg) as blocking:
        assert blocking.repository(target_name).manifests.get_raw("copied").data \
            == index.manifest


async def test_create_index_brings_images_of_another_repository_as_blocking_does(
    reg: LocalRegistry, index: SeededImage,
) -> None:
    children = [f"{index.repository}@{m['digest']}"
                for m in json.loads(index.manifest)["manifests"]]
    with client_of(reg) as blocking:
        want = blocking.repository(fresh("index-blocking")).images.create_index("v1", children)
    target_name = fresh("index-async")
    async with aclient(reg) as areg:
        got = await areg.repository(target_name).images.create_index("v1", children)
    assert got.digest == want.digest and got.repository == target_name
    with client_of(reg) as blocking:  # the children are in the index's repository now
        target = blocking.repository(target_name)
        for child in children:
            digest = child.split("@")[1]
            assert target.manifests.get_raw(digest).digest == digest


async def test_copy_across_registries_keeps_every_digest(
    reg: LocalRegistry, other_reg: LocalRegistry, index: SeededImage,
) -> None:
    target_name = fresh("across")
    async with aclient(reg) as src, aclient(other_reg) as dst:
        copied = await src.repository(index.repository).images.copy(
            "v1", dst.repository(target_name))
    assert (copied.digest, copied.domain) == (index.digest, other_reg.host)
    with client_of(other_reg) as blocking:
        repo = blocking.repository(target_name)
        assert repo.manifests.get_raw("v1").data == index.manifest
        for child in index.children:
            assert repo.manifests.get_raw(child.digest).data == child.manifest
        for digest, data in index.blobs.items():
            assert repo.blobs.get(digest) == data


async def test_dry_run_plans_what_the_blocking_dry_run_plans(
    reg: LocalRegistry, other_reg: LocalRegistry, index: SeededImage,
) -> None:
    target_name = fresh("planned")
    with client_of(reg) as a, client_of(other_reg) as b:
        expected = a.repository(index.repository).images.copy(
            "v1", b.repository(target_name), dry_run=True, referrers=True)
    async with aclient(reg) as src, aclient(other_reg) as dst:
        plan = await src.repository(index.repository).images.copy(
            "v1", dst.repository(target_name), dry_run=True, referrers=True)
    assert isinstance(plan, CopyPlan) and plan == expected
    assert {p.action for p in plan.blobs} == {"transfer"}
    assert other_reg.request_count("PUT", target_name) == 0  # a plan writes nothing
    assert other_reg.request_count("POST", target_name) == 0


async def test_copy_with_referrers_brings_the_sbom_along(
    reg: LocalRegistry, other_reg: LocalRegistry,
) -> None:
    image = seed_image(reg, fresh("signed"), "v1", layers=(4000,), seed=15)
    async with aclient(reg) as src, aclient(other_reg) as dst:
        sbom = await src.repository(image.repository).images.attach(
            image.digest, SBOM, [(b'{"spdxVersion": "SPDX-2.3"}', SBOM)])
        target = dst.repository(fresh("signed-copy"))
        plan = await src.repository(image.repository).images.copy(
            "v1", target, referrers=True, dry_run=True)
        assert [r.manifests[-1] for r in plan.referrers] == [sbom.digest]
        copied = await src.repository(image.repository).images.copy(
            "v1", target, referrers=True)
        found = await target.manifests.referrers(image.digest)
    assert copied.digest == image.digest
    assert [(d.digest, d.artifact_type) for d in found] == [(sbom.digest, SBOM)]
    with client_of(other_reg) as blocking:  # the blocking API reads what was written
        assert [d.digest for d in blocking.repository(target.name).manifests.referrers(
            image.digest)] == [sbom.digest]


async def test_reads_and_retag_as_the_blocking_api(
    reg: LocalRegistry, index: SeededImage,
) -> None:
    with client_of(reg) as blocking:
        images = blocking.repository(index.repository).images
        expected = (images.get_by_tag("v1"), images.get_by_digest(index.digest),
                    images.details("v1"))
    async with aclient(reg) as areg:
        images_a = areg.repository(index.repository).images
        got = (await images_a.get_by_tag("v1"), await images_a.get_by_digest(index.digest),
               await images_a.details("v1"))
        retagged = await images_a.retag("v1", "v1-again")
    assert got == expected
    assert (retagged.digest, retagged.tag) == (index.digest, "v1-again")


_COPY_ON_THE_LOOP = """
import asyncio, sys, time
from registry_client import Registry
from registry_client.aio import AsyncRegistry
src, dst = sys.argv[1], sys.argv[2]

async def main():
    async with AsyncRegistry(src, protocol="http") as s, AsyncRegistry(dst, protocol="http") as d:
        task = asyncio.create_task(
            s.repository("shared/app").images.copy("1.0", d.repository("m/app"), "a"))
        await asyncio.sleep(1.0)  # (its upload, held by the proxy, is under way)
        with Registry(src, protocol="http") as bs, Registry(dst, protocol="http") as bd:
            image = bs.repository("shared/app").images.copy("1.0", bd.repository("m/app"), "b")
        assert image.tag == "b"
        assert (await task).digest == image.digest
        print("ok")

asyncio.run(main())
"""


def test_a_blocking_copy_on_the_loop_s_thread_never_waits_for_a_task_of_it(
    local_registry_factory: LocalRegistryFactory,
) -> None:
    """Copies of images sharing a blob to one repository send it once: the others wait
    for it. A blocking copy made on the event loop's thread (a notebook cell) while a
    task of that loop sends the blob waited for the task -- which the blocked loop
    could not run: a hang (here: a child process, given a minute). The two flavours
    wait on locks of their own."""
    src, dst = local_registry_factory("anonymous"), local_registry_factory("anonymous")
    seed_image(src, "shared/app", "1.0", layers=(2_000_000,))
    with FaultProxy(dst.host) as proxy:
        for method in ("PUT", "PATCH"):  # the task's upload takes a while
            proxy.add_rule(method, r"/blobs/uploads/", action="delay", delay=2, times=1)
        done = subprocess.run([sys.executable, "-c", _COPY_ON_THE_LOOP, src.host, proxy.host],
                              capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
