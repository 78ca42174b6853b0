"""ImageService.details: per-platform digest, created, labels and size, on Distribution 2.8."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Literal

import pytest

from registry_client import (
    ImageDetails,
    Platform,
    PlatformNotFoundError,
    RawManifest,
    Registry,
    mediatypes,
)
from registry_client.testing import LocalRegistry, SeededImage, seed_blob, seed_image

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc


def content_size(image: SeededImage) -> int:
    """Config blob + layer bytes of a seeded image manifest."""
    assert image.config_digest is not None
    return len(image.blobs[image.config_digest]) + sum(len(image.blobs[d]) for d in image.layers)


def put_index(client: Registry, repository: str, tag: str,
              entries: list[dict[str, object]]) -> str:
    data = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                       "manifests": entries}).encode()
    raw = RawManifest(data=data, media_type=mediatypes.OCI_INDEX,
                      digest="sha256:" + hashlib.sha256(data).hexdigest())
    return client.repository(repository).manifests.put(tag, raw)


def entry(image: SeededImage, platform: dict[str, str] | None,
          **extra: object) -> dict[str, object]:
    e: dict[str, object] = {"mediaType": image.media_type, "digest": image.digest,
                            "size": image.size, **extra}
    if platform is not None:
        e["platform"] = platform
    return e


@pytest.mark.parametrize("media", ["docker", "oci"])
def test_details_of_a_two_platform_index(
    any_registry: LocalRegistry, client: Registry, unique_repository: str,
    media: Literal["docker", "oci"],
) -> None:
    created = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    index = seed_image(any_registry, unique_repository, "1.0", media=media,
                       platforms=["linux/amd64", "linux/arm64"], layers=(1000, 3000),
                       labels={"org.opencontainers.image.title": "demo", "team": "a"},
                       created=created)
    details = client.repository(unique_repository).images.details("1.0")
    assert [str(d.platform) for d in details] == ["linux/amd64", "linux/arm64"]
    for found, child in zip(details, index.children, strict=True):
        assert isinstance(found, ImageDetails)
        assert found.digest == child.digest
        assert found.platform.digest == child.digest
        assert found.size == content_size(child) > 4000
        assert found.created == created
        assert found.created is not None and found.created.tzinfo is not None
        assert found.labels == {"org.opencontainers.image.title": "demo", "team": "a"}


def test_each_platform_is_read_from_its_own_config(
    anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    amd = seed_image(anon_registry, unique_repository, None, media="oci",
                     platforms=["linux/amd64"], labels={"arch": "amd"}, layers=(100,),
                     created="2024-05-06T07:08:09.123456789+02:00").children[0]
    arm = seed_image(anon_registry, unique_repository, None, media="oci",
                     platforms=["linux/arm64/v8"], layers=(200, 300), labels={},
                     created=dt.datetime(2023, 1, 1, tzinfo=UTC)).children[0]
    with Registry(anon_registry.host, protocol="http") as client:
        digest = put_index(client, unique_repository, "mixed", [
            entry(amd, {"os": "linux", "architecture": "amd64"}),
            entry(arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        ])
        images = client.repository(unique_repository).images
        first, second = images.details("mixed")
        assert (first.digest, first.labels, first.size) == (amd.digest, {"arch": "amd"},
                                                            content_size(amd))
        assert first.created == dt.datetime(2024, 5, 6, 7, 8, 9, 123456,
                                            tzinfo=dt.timezone(dt.timedelta(hours=2)))
        assert (second.digest, second.labels, second.size) == (arm.digest, {},
                                                               content_size(arm))
        assert second.created == dt.datetime(2023, 1, 1, tzinfo=UTC)
        # by digest too, and filtered by platform (a string or a Platform)
        [only] = images.details(digest, platform="linux/arm64")
        assert only == second
        assert images.details("mixed", platform=Platform(architecture="amd64",
                                                          os="linux")) == [first]
        with pytest.raises(PlatformNotFoundError, match="linux/arm64"):
            images.details("mixed", platform="windows/amd64")


def test_attestations_and_entries_without_platform_are_left_out(
    anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    index = seed_image(anon_registry, unique_repository, None, media="oci",
                       platforms=["linux/amd64", "linux/arm64"])
    # a buildx-style attestation manifest: an image manifest of in-toto layers
    statement = b'{"_type": "https://in-toto.io/Statement/v0.1"}'
    config = b"{}"
    layer_digest = seed_blob(anon_registry, unique_repository, statement)
    config_digest = seed_blob(anon_registry, unique_repository, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
        "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": layer_digest,
                    "size": len(statement)}],
    }).encode()
    with Registry(anon_registry.host, protocol="http") as client:
        repo = client.repository(unique_repository)
        att = "sha256:" + hashlib.sha256(manifest).hexdigest()
        repo.manifests.put(att, RawManifest(data=manifest, media_type=mediatypes.OCI_MANIFEST,
                                            digest=att))
        amd, arm = index.children
        attestation = {"mediaType": mediatypes.OCI_MANIFEST, "digest": att,
                       "size": len(manifest)}
        put_index(client, unique_repository, "with-attestation", [
            entry(amd, {"os": "linux", "architecture": "amd64"}),
            entry(arm, {"os": "linux", "architecture": "arm64"}),
            {**attestation, "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                             "vnd.docker.reference.digest": amd.digest}},
            attestation,  # no platform at all (an artifact)
        ])
        details = repo.images.details("with-attestation")
    assert [(str(d.platform), d.digest) for d in details] == [
        ("linux/amd64", amd.digest), ("linux/arm64", arm.digest)]


def test_details_of_a_single_image(
    anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0", labels={"a": "b"},
                       layers=(10, 20, 30))
    with Registry(anon_registry.host, protocol="http") as client:
        images = client.repository(unique_repository).images
        [found] = images.details("1.0")
        assert str(found.platform) == "linux/amd64"
        assert (found.digest, found.size, found.labels) == (image.digest,
                                                            content_size(image), {"a": "b"})
        assert found.created == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)  # seed default
        assert images.details("1.0", platform="linux/amd64") == [found]
        with pytest.raises(PlatformNotFoundError):
            images.details("1.0", platform="linux/arm64")


def test_platform_manifest_finds_a_platform_in_an_index_an_inner_index_or_an_image(
    any_registry: LocalRegistry, client: Registry, unique_repository: str,
) -> None:
    """The manifest of one platform's image, found the way pull finds it: its entry, an
    entry of an inner index (named by no platform), or the single image itself."""
    amd, arm = seed_image(any_registry, unique_repository, "both",
                          platforms=["linux/amd64", "linux/arm64"]).children
    client.repository(unique_repository).manifests.put("amd", RawManifest(
        data=amd.manifest, media_type=amd.media_type, digest=amd.digest))
    inner = put_index(client, unique_repository, "inner",
                      [entry(amd, {"os": "linux", "architecture": "amd64"})])
    inner_size = len(client.repository(unique_repository).manifests.get_raw(inner).data)
    put_index(client, unique_repository, "nested", [
        {"mediaType": mediatypes.OCI_INDEX, "digest": inner, "size": inner_size},
        entry(arm, {"os": "linux", "architecture": "arm64"})])
    images = client.repository(unique_repository).images
    assert images.platform_manifest("nested", "linux/amd64").digest == amd.digest
    assert images.platform_manifest("nested", Platform.parse("linux/arm64")).digest == arm.digest
    assert images.platform_manifest("amd", "linux/amd64").digest == amd.digest
    with pytest.raises(PlatformNotFoundError, match="no platform linux/s390x"):
        images.platform_manifest("nested", "linux/s390x")
    with pytest.raises(PlatformNotFoundError, match="is a single linux/amd64 image, not"):
        images.platform_manifest("amd", "linux/arm64")
