"""ManifestService reads (get, get_raw, head) against a real Distribution 2.8."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest

from registry_client import (
    DigestMismatchError,
    ManifestList,
    ManifestV2,
    NotFoundError,
    OCIIndex,
    OCIManifest,
    RawManifest,
    Registry,
)
from registry_client.testing import LocalRegistry, SeededImage, seed_image

pytestmark = pytest.mark.integration

ClientFactory = Callable[..., Registry]
ALL_MANIFEST_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]
UNKNOWN_DIGEST = "sha256:" + "ab" * 32

KINDS: dict[str, tuple[Literal["docker", "oci"], list[str] | None, type]] = {
    "docker-manifest": ("docker", None, ManifestV2),
    "oci-manifest": ("oci", None, OCIManifest),
    "docker-list": ("docker", ["linux/amd64", "linux/arm64/v8"], ManifestList),
    "oci-index": ("oci", ["linux/amd64", "linux/arm/v7"], OCIIndex),
}


def seed_kind(reg: LocalRegistry, repository: str, kind: str, tag: str = "1") -> SeededImage:
    media, platforms, _ = KINDS[kind]
    return seed_image(reg, repository, tag, media=media, platforms=platforms, layers=(300, 200))


def check_model(manifest: Any, image: SeededImage) -> None:
    """The typed model carries what the seeded JSON says."""
    doc = image.manifest_json
    assert manifest.schema_version == 2
    assert manifest.media_type == image.media_type
    if image.children:
        assert [d.digest for d in manifest.manifests] == [c.digest for c in image.children]
        assert [d.size for d in manifest.manifests] == [c.size for c in image.children]
        assert [d.media_type for d in manifest.manifests] == [
            c.media_type for c in image.children
        ]
        for descriptor, entry in zip(manifest.manifests, doc["manifests"], strict=True):
            assert descriptor.platform.os == entry["platform"]["os"]
            assert descriptor.platform.architecture == entry["platform"]["architecture"]
            assert descriptor.platform.variant == entry["platform"].get("variant")
    else:
        assert manifest.config.digest == image.config_digest
        assert manifest.config.media_type == doc["config"]["mediaType"]
        assert manifest.config.size == len(image.blobs[image.config_digest or ""])
        assert [layer.digest for layer in manifest.layers] == image.layers
        assert [layer.size for layer in manifest.layers] == [300, 200]


# -- get / get_raw / head in every mode ---------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_get_by_tag_returns_the_typed_model(
    any_registry: LocalRegistry, client: Registry, unique_repository: str, kind: str
) -> None:
    image = seed_kind(any_registry, unique_repository, kind)
    manifest = client.repository(unique_repository).manifests.get("1")
    assert type(manifest) is KINDS[kind][2]
    check_model(manifest, image)


@pytest.mark.parametrize("kind", list(KINDS))
def test_get_by_digest_returns_the_typed_model(
    any_registry: LocalRegistry, client: Registry, unique_repository: str, kind: str
) -> None:
    image = seed_kind(any_registry, unique_repository, kind, tag="t")
    manifest = client.repository(unique_repository).manifests.get(image.digest)
    assert type(manifest) is KINDS[kind][2]
    check_model(manifest, image)


@pytest.mark.parametrize("kind", list(KINDS))
def test_get_raw_keeps_the_exact_bytes(
    any_registry: LocalRegistry, client: Registry, unique_repository: str, kind: str
) -> None:
    image = seed_kind(any_registry, unique_repository, kind)
    manifests = client.repository(unique_repository).manifests
    for reference in ("1", image.digest):
        raw = manifests.get_raw(reference)
        assert isinstance(raw, RawManifest)
        assert raw.data == image.manifest  # byte for byte: indentation and key order kept
        assert raw.media_type == image.media_type
        assert raw.digest == image.digest
        assert raw.digest == "sha256:" + hashlib.sha256(raw.data).hexdigest()
        assert raw.size == image.size


def test_get_raw_of_index_children_by_digest(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    image = seed_kind(any_registry, unique_repository, "oci-index")
    manifests = client.repository(unique_repository).manifests
    for child in image.children:
        raw = manifests.get_raw(child.digest)
        assert raw == RawManifest(data=child.manifest, media_type=child.media_type,
                                  digest=child.digest)
        model = manifests.get(child.digest)
        assert isinstance(model, OCIManifest)
        assert model.config.digest == child.config_digest


@pytest.mark.parametrize("kind", list(KINDS))
def test_head_matches_the_seeded_manifest(
    any_registry: LocalRegistry, client: Registry, unique_repository: str, kind: str
) -> None:
    image = seed_kind(any_registry, unique_repository, kind)
    manifests = client.repository(unique_repository).manifests
    any_registry.clear_access_log()
    for reference in ("1", image.digest):
        descriptor = manifests.head(reference)
        assert descriptor.digest == image.digest
        assert descriptor.size == image.size
        assert descriptor.media_type == image.media_type
    # HEAD only: no manifest body was fetched
    assert any_registry.request_count("GET", f"/v2/{unique_repository}/") == 0
    assert any_registry.request_count("HEAD", f"/v2/{unique_repository}/manifests/",
                                      status=200) == 2


def test_unknown_manifest_is_not_found(client: Registry, unique_repository: str,
                                       any_registry: LocalRegistry) -> None:
    seed_image(any_registry, unique_repository, "exists")
    manifests = client.repository(unique_repository).manifests
    for reference in ("missing", UNKNOWN_DIGEST):
        with pytest.raises(NotFoundError) as info:
            manifests.get(reference)
        assert info.value.status_code == 404
        assert "MANIFEST_UNKNOWN" in info.value.codes
        with pytest.raises(NotFoundError):
            manifests.get_raw(reference)
        with pytest.raises(NotFoundError):
            manifests.head(reference)


def test_manifest_of_unknown_repository_is_not_found(
    client: Registry, unique_repository: str
) -> None:
    manifests = client.repository(unique_repository).manifests
    with pytest.raises(NotFoundError):
        manifests.get("latest")
    with pytest.raises(NotFoundError):
        manifests.head("latest")


# -- verification -------------------------------------------------------------------------


def corrupt_manifest(
    reg: LocalRegistry, image: SeededImage, blob_data_path: Callable[[LocalRegistry, str], Path]
) -> None:
    """Change one hex digit inside the stored manifest (it stays valid JSON, same length)."""
    path = blob_data_path(reg, image.digest)
    data = path.read_bytes()
    assert data == image.manifest
    at = data.index(b'"sha256:') + 12
    flipped = b"0" if data[at : at + 1] != b"0" else b"1"
    path.write_bytes(data[:at] + flipped + data[at + 1 :])


@pytest.mark.parametrize("reference", ["tag", "digest"])
def test_corrupted_manifest_raises_digest_mismatch(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    blob_data_path: Callable[[LocalRegistry, str], Path],
    reference: str,
) -> None:
    # unique labels: the manifest blob is this test's alone (storage is content-addressed)
    image = seed_image(anon_registry, unique_repository, "1", labels={"t": unique_repository})
    corrupt_manifest(anon_registry, image, blob_data_path)
    ref = "1" if reference == "tag" else image.digest
    manifests = client_for(anon_registry).repository(unique_repository).manifests
    # by tag: checked against Docker-Content-Digest; by digest: against the reference too
    with pytest.raises(DigestMismatchError) as info:
        manifests.get_raw(ref)
    assert image.digest in str(info.value)
    with pytest.raises(DigestMismatchError):
        manifests.get(ref)


# -- what is sent ---------------------------------------------------------------------------


def test_accept_lists_all_four_manifest_types(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    tag_paging_proxy: Any,
    unique_repository: str,
) -> None:
    image = seed_kind(anon_registry, unique_repository, "oci-index")
    client = client_for(anon_registry, host=tag_paging_proxy.host)
    manifests = client.repository(unique_repository).manifests
    assert manifests.get_raw("1").digest == image.digest
    assert isinstance(manifests.get("1"), OCIIndex)
    assert manifests.head("1").digest == image.digest
    sent = [r for r in tag_paging_proxy.received if "/manifests/" in r.path]
    assert [r.method for r in sent] == ["GET", "GET", "HEAD"]
    for request in sent:
        accepted = [t.split(";")[0].strip() for t in request.headers["Accept"].split(",")]
        assert set(ALL_MANIFEST_TYPES) <= set(accepted)
