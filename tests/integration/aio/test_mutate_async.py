"""``registry_client.aio.mutate`` on Distribution 2.8: the blocking module's digests."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_client import Registry, mutate
from registry_client.aio import AsyncRegistry
from registry_client.aio import mutate as amutate
from registry_client.testing import LocalRegistry, seed_image

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_the_async_forms_push_what_the_blocking_ones_do(
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    seed_image(anon_registry, unique_repository, "empty", layers=(), media="oci")
    (tmp_path / "app" / "srv").mkdir(parents=True)
    (tmp_path / "app" / "srv" / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "other" / "etc").mkdir(parents=True)
    (tmp_path / "other" / "etc" / "release").write_text("2\n")
    with Registry(anon_registry.host, protocol="http") as reg:
        repo = reg.repository(unique_repository)
        want = mutate.append(repo, "empty", [tmp_path / "app"], tag="blocking")
        want_scratch = mutate.append(repo, None, [tmp_path / "app"], tag="scratch")
        mutate.append(repo, "empty", [tmp_path / "other"], tag="base-2")
    async with AsyncRegistry(anon_registry.host, protocol="http") as areg:
        arepo = areg.repository(unique_repository)
        got = await amutate.append(arepo, "empty", [tmp_path / "app"], tag="async")
        assert got.digest == want.digest and got.tag == "async"
        scratch = await amutate.append(arepo, "scratch", [tmp_path / "app"], tag="scratch-2")
        assert scratch.digest == want_scratch.digest
        labelled = await amutate.config(arepo, "async", tag="labelled", labels={"a": "b"})
        assert (await arepo.images.details("labelled"))[0].labels == {"a": "b"}
        flat = await amutate.flatten(arepo, "labelled", tag="flat")
        assert len((await arepo.manifests.get("flat")).layers) == 1  # type: ignore[union-attr]
        rebased = await amutate.rebase(arepo, "labelled", old_base="empty", new_base="base-2",
                                       tag="rebased")
        assert rebased.digest not in (labelled.digest, flat.digest)
        exported = await arepo.images.export("rebased", tmp_path / "rootfs.tar")
    with Registry(anon_registry.host, protocol="http") as reg:
        same = reg.repository(unique_repository).images.export("rebased", tmp_path / "b.tar")
    assert exported.read_bytes() == same.read_bytes()
