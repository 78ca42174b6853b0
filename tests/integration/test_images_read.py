"""ImageService reads (get_by_tag, get_by_digest) and delete_by_digest on Distribution 2.8."""

from __future__ import annotations

import json
from typing import Literal

import pytest

from registry_client import Image, NotFoundError, Platform, Registry
from registry_client.testing import LocalRegistry, SeededImage, seed_image, seed_tags

pytestmark = pytest.mark.integration

UNKNOWN_DIGEST = "sha256:" + "ef" * 32


def config_of(image: SeededImage) -> dict[str, str]:
    """The os/architecture/variant seed_image wrote into the image's config blob."""
    config = json.loads(image.blobs[image.config_digest or ""])
    return {k: config[k] for k in ("os", "architecture", "variant") if k in config}


def platform_fields(platform: Platform) -> dict[str, str]:
    fields = {"os": platform.os, "architecture": platform.architecture}
    if platform.variant is not None:
        fields["variant"] = platform.variant
    return fields


def test_get_by_tag_of_a_single_manifest_reads_the_config(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    image = seed_image(any_registry, unique_repository, "1.0")
    any_registry.clear_access_log()
    result = client.repository(unique_repository).images.get_by_tag("1.0")
    assert isinstance(result, Image)
    assert result.digest == image.digest
    assert result.tag == "1.0"
    assert result.domain == any_registry.host
    assert result.repository == unique_repository
    assert result.media_type == image.media_type
    assert result.size == image.size
    assert len(result.platforms) == 1
    platform = result.platforms[0]
    assert platform_fields(platform) == config_of(image) == {"os": "linux",
                                                             "architecture": "amd64"}
    assert (platform.digest, platform.media_type, platform.size) == (
        image.digest, image.media_type, image.size)
    # the platform came from the config blob, which was really fetched
    config_path = f"/v2/{unique_repository}/blobs/{image.config_digest}"
    assert any_registry.request_count("GET", config_path, status=200) == 1


@pytest.mark.parametrize("platform", ["linux/arm/v7", "linux/arm64/v8", "windows/amd64"])
def test_get_by_digest_of_a_single_manifest_takes_os_arch_variant_from_config(
    any_registry: LocalRegistry, client: Registry, unique_repository: str, platform: str
) -> None:
    index = seed_image(any_registry, unique_repository, "multi", media="oci",
                       platforms=["linux/amd64", platform])
    child = index.child(platform)
    result = client.repository(unique_repository).images.get_by_digest(child.digest)
    assert result.tag is None
    assert result.digest == child.digest
    assert result.media_type == child.media_type
    assert result.size == child.size
    [found] = result.platforms
    assert platform_fields(found) == config_of(child)
    assert "/".join(config_of(child).values()) == platform  # what seed_image put there
    assert (found.digest, found.media_type, found.size) == (
        child.digest, child.media_type, child.size)


@pytest.mark.parametrize("media", ["docker", "oci"])
def test_get_by_tag_of_an_index_lists_every_platform(
    any_registry: LocalRegistry,
    client: Registry,
    unique_repository: str,
    media: Literal["docker", "oci"],
) -> None:
    platforms = ["linux/amd64", "linux/arm64/v8"]
    index = seed_image(any_registry, unique_repository, "latest", media=media,
                       platforms=platforms)
    result = client.repository(unique_repository).images.get_by_tag("latest")
    assert result.digest == index.digest
    assert result.tag == "latest"
    assert result.media_type == index.media_type
    assert result.size == index.size
    assert len(result.platforms) == 2
    for found, child in zip(result.platforms, index.children, strict=True):
        assert found.digest == child.digest
        assert found.size == child.size
        assert found.media_type == child.media_type
        assert platform_fields(found) == config_of(child)
    assert [str(p.os) + "/" + p.architecture for p in result.platforms] == [
        "linux/amd64", "linux/arm64"]
    assert [p.variant for p in result.platforms] == [None, "v8"]


def test_get_by_digest_of_an_index(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    index = seed_image(any_registry, unique_repository, "x", platforms=["linux/amd64",
                                                                          "linux/386"])
    result = client.repository(unique_repository).images.get_by_digest(index.digest)
    assert result.tag is None
    assert result.digest == index.digest
    assert [p.digest for p in result.platforms] == [c.digest for c in index.children]


def test_unknown_image_is_not_found(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    seed_image(any_registry, unique_repository, "exists")
    images = client.repository(unique_repository).images
    with pytest.raises(NotFoundError):
        images.get_by_tag("missing")
    with pytest.raises(NotFoundError):
        images.get_by_digest(UNKNOWN_DIGEST)
    with pytest.raises(NotFoundError):
        images.delete_by_digest(UNKNOWN_DIGEST)
    with pytest.raises(NotFoundError):
        client.repository(f"{unique_repository}-none").images.get_by_tag("latest")


def test_delete_by_digest_removes_the_manifest_and_all_its_tags(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    doomed = seed_tags(any_registry, unique_repository, ["a", "b", "c"], seed=1)
    kept = seed_image(any_registry, unique_repository, "keep", seed=2)
    repo = client.repository(unique_repository)
    assert repo.images.get_by_tag("b").digest == doomed.digest

    repo.images.delete_by_digest(doomed.digest)

    with pytest.raises(NotFoundError):
        repo.images.get_by_digest(doomed.digest)
    for tag in ("a", "b", "c"):
        with pytest.raises(NotFoundError):
            repo.images.get_by_tag(tag)
        with pytest.raises(NotFoundError):
            repo.manifests.head(tag)
    assert repo.tags.get_all() == ["keep"]
    assert repo.images.get_by_tag("keep").digest == kept.digest
    # the layers are still there: deleting a manifest does not delete blobs
    assert repo.blobs.exists(doomed.layers[0])
    with pytest.raises(NotFoundError):  # and it is gone for good
        repo.images.delete_by_digest(doomed.digest)


def test_delete_by_digest_of_an_index_keeps_its_children(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    index = seed_image(any_registry, unique_repository, "multi",
                       platforms=["linux/amd64", "linux/arm64/v8"], seed=3)
    repo = client.repository(unique_repository)
    repo.images.delete_by_digest(index.digest)
    with pytest.raises(NotFoundError):
        repo.images.get_by_tag("multi")
    for child in index.children:
        assert repo.images.get_by_digest(child.digest).digest == child.digest


def test_a_large_image_config_is_read_whole(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    # Real configs are often tens of KiB: a read returns what has arrived so far, so the
    # config must be read to its end (and verified there), not with one read call.
    labels = {f"org.example.label-{i}": "x" * 200 for i in range(2000)}  # ~450 KB
    seeded = seed_image(any_registry, unique_repository, "big", labels=labels)
    repo = client.repository(unique_repository)
    for _ in range(3):
        image = repo.images.get_by_tag("big")
        assert image.digest == seeded.digest
        assert [str(p) for p in image.platforms] == ["linux/amd64"]
        manifest = repo.manifests.get("big")
        assert repo.images.config(manifest).labels == labels  # type: ignore[arg-type]
