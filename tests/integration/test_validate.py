"""``images.validate`` on the real registry (a corrupted blob served by a FaultProxy, a layer
that is no tar, a config whose diff_ids lie) and ``validate_layout`` on a layout on disk."""

from __future__ import annotations

import gzip
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tar_images import OCI, TarImage, sha256

from registry_client import (
    PlatformNotFoundError,
    RawManifest,
    Registry,
    ValidationReport,
    validate_layout,
)
from registry_client.aio import AsyncRegistry
from registry_client.testing import FaultProxy, LocalRegistry

pytestmark = pytest.mark.integration


@pytest.fixture
def repo_name() -> str:
    return f"validate/app-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def direct(anon_registry: LocalRegistry) -> Iterator[Registry]:
    with Registry(anon_registry.host, protocol="http") as reg:
        yield reg


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        yield p


def test_a_good_image_and_index_pass(direct: Registry, repo_name: str) -> None:
    repo = direct.repository(repo_name)
    amd, arm = TarImage(), TarImage(platform="linux/arm64/v8", media="docker", plain=True)
    amd.push(repo, "amd")
    arm.push(repo, "arm")
    index = repo.images.create_index("multi", ["amd", "arm"])
    report = repo.images.validate("multi")
    assert isinstance(report, ValidationReport)
    assert report.ok and report.problems == ()
    assert report.digest == index.digest
    assert report.manifests == (amd.digest, arm.digest)
    assert report.blobs == 6
    one = repo.images.validate("multi", platform="linux/arm64")
    assert one.ok and one.manifests == (arm.digest,)
    with pytest.raises(PlatformNotFoundError):
        repo.images.validate("multi", platform="linux/s390x")


def test_a_corrupted_blob_served_by_a_fault_proxy_is_reported(
    direct: Registry, proxy: FaultProxy, repo_name: str
) -> None:
    image = TarImage(layers=[{"a.txt": b"a" * 5000}, {"b.bin": os.urandom(20_000)}])
    image.push(direct.repository(repo_name), "1.0")
    assert direct.repository(repo_name).images.validate("1.0").ok
    layer = image.layer_digests[1]
    proxy.add_rule("GET", f"/blobs/{layer}", action="corrupt", offset=100, times=None)
    with Registry(proxy.host, protocol="http") as via:
        report = via.repository(repo_name).images.validate("1.0")
    assert not report.ok
    [problem] = report.problems
    assert (problem.manifest, problem.digest) == (image.digest, layer)
    assert "corrupt" in problem.message
    assert layer in str(problem)
    assert report.to_dict()["ok"] is False


def test_a_layer_that_is_no_tar_and_lying_diff_ids_are_reported(
    direct: Registry, repo_name: str
) -> None:
    repo = direct.repository(repo_name)
    good = TarImage()
    not_tar = gzip.compress(os.urandom(3000), mtime=0)  # gzip, but no tar inside
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [good.diff_ids[1], sha256(b"x")]}}).encode()
    for blob in (config, good.blobs_of_layers[0], not_tar):
        repo.blobs.upload(blob)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI[0],
        "config": {"mediaType": OCI[1], "size": len(config), "digest": sha256(config)},
        "layers": [{"mediaType": OCI[2], "size": len(b), "digest": sha256(b)}
                   for b in (good.blobs_of_layers[0], not_tar)],
    }).encode()
    repo.manifests.put("bad", RawManifest(manifest, OCI[0], sha256(manifest)))
    report = repo.images.validate("bad")
    messages = {p.digest: p.message for p in report.problems}
    assert "not a readable tar" in messages[sha256(not_tar)]
    assert "diff_id" in messages[sha256(good.blobs_of_layers[0])]
    assert len(report.problems) == 2


def test_the_asyncio_flavour_validates_too(
    anon_registry: LocalRegistry, direct: Registry, repo_name: str
) -> None:
    import asyncio

    image = TarImage()
    image.push(direct.repository(repo_name), "1.0")

    async def main() -> ValidationReport:
        async with AsyncRegistry(anon_registry.host, protocol="http") as reg:
            return await reg.repository(repo_name).images.validate("1.0")

    report = asyncio.run(main())
    assert report.ok and report.manifests == (image.digest,)


def test_validate_layout_on_disk(direct: Registry, repo_name: str, tmp_path: Path) -> None:
    repo = direct.repository(repo_name)
    image = TarImage()
    image.push(repo, "1.0")
    layout = tmp_path / "layout"
    repo.images.pull("1.0", layout)
    report = validate_layout(layout)
    assert report.ok and report.digest == image.digest
    assert validate_layout(layout, "1.0").ok
    blob = layout / "blobs" / "sha256" / image.layer_digests[0].split(":")[1]
    data = bytearray(blob.read_bytes())
    data[20] ^= 0xFF
    blob.write_bytes(bytes(data))
    broken = validate_layout(layout, "1.0")
    assert [p.digest for p in broken.problems] == [image.layer_digests[0]]
    assert "corrupt" in broken.problems[0].message
    blob.unlink()
    assert "missing" in validate_layout(layout).problems[0].message
