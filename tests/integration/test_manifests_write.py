"""Manifest and tag writes against a real Distribution 2.8: put, retag, delete.

Anonymous registry and token registry (as its admin, so deletes are allowed).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _write_helpers import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    LogWindow,
    build_image,
    build_index,
    sha256,
    two_platform_index,
    upload_image,
)

from registry_client import (
    DigestMismatchError,
    ManifestV2,
    NotFoundError,
    OCIIndex,
    Platform,
    RawManifest,
    Registry,
    RegistryError,
    RegistryResponseError,
)
from registry_client.testing import LocalRegistry

pytestmark = pytest.mark.integration


# -- put --------------------------------------------------------------------------------------


def test_put_raw_manifest_keeps_its_bytes_and_digest(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    image = build_image((1000, 2000), media="docker")
    assert b"\n   " in image.manifest  # indented: any re-serialisation would change the digest
    for digest, data in image.blobs.items():
        repo.blobs.upload(data)
        assert repo.blobs.exists(digest)
    assert repo.manifests.put("v1", image.raw()) == image.digest
    raw = repo.manifests.get_raw("v1")
    assert (raw.data, raw.digest, raw.media_type) == (image.manifest, image.digest,
                                                      DOCKER_MANIFEST)
    head = repo.manifests.head("v1")
    assert (head.digest, head.size, head.media_type) == (image.digest, len(image.manifest),
                                                         DOCKER_MANIFEST)
    # by digest too: same bytes, no tag
    assert repo.manifests.put(image.digest, image.raw()) == image.digest
    assert repo.manifests.get_raw(image.digest).data == image.manifest
    assert repo.tags.get_all() == ["v1"]


def test_put_raw_manifest_labelled_with_another_type_is_stored_as_its_bytes_say(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    # Distribution refuses a Content-Type that is not the body's mediaType (400
    # MANIFEST_INVALID); a source registry's wrong label must not fail a copy
    repo = rc.repository(unique_repository)
    image = build_image((1000,), media="docker")
    for data in image.blobs.values():
        repo.blobs.upload(data)
    mislabelled = RawManifest(data=image.manifest, media_type=OCI_MANIFEST,
                              digest=image.digest)
    assert repo.manifests.put("v1", mislabelled) == image.digest
    assert repo.manifests.head("v1").media_type == DOCKER_MANIFEST


def test_put_index_by_tag_after_its_children_by_digest(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    index = two_platform_index(media="oci", layer_size=3000)
    assert upload_image(repo, index, "multi") == index.digest
    model = repo.manifests.get("multi")
    assert isinstance(model, OCIIndex)
    assert [m.digest for m in model.manifests] == [c.digest for c in index.children]
    assert repo.manifests.get_raw("multi").data == index.manifest
    for child in index.children:
        assert repo.manifests.get_raw(child.digest).data == child.manifest
    image = repo.images.get_by_tag("multi")
    assert image.media_type == OCI_INDEX
    assert [str(p) for p in image.platforms] == ["linux/amd64", "linux/arm64/v8"]


def test_put_model_returns_the_digest_the_registry_stores(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    image = build_image((1500,), media="docker")
    upload_image(repo, image, "orig")
    model = repo.manifests.get("orig")
    assert isinstance(model, ManifestV2)
    digest = repo.manifests.put("from-model", model)
    raw = repo.manifests.get_raw("from-model")
    assert raw.digest == digest == sha256(raw.data)
    assert repo.manifests.get("from-model") == model
    assert json.loads(raw.data) == json.loads(image.manifest)


def test_put_manifest_with_missing_blob_is_refused(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    image = build_image((1000,), media="oci")
    repo.blobs.upload(image.blobs[image.config_digest or ""])  # config only, no layer
    with pytest.raises(RegistryResponseError) as excinfo:
        repo.manifests.put("v1", image.raw())
    assert excinfo.value.status_code == 400
    assert any(e.get("code") == "MANIFEST_BLOB_UNKNOWN" for e in excinfo.value.errors)
    with pytest.raises(NotFoundError):
        repo.manifests.get_raw("v1")


# -- retag ------------------------------------------------------------------------------------


def test_retag_puts_the_same_bytes_under_a_new_tag(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    image = build_image((2000, 3000), media="oci")
    upload_image(repo, image, "v1")
    log = LogWindow(reg, unique_repository)
    result = repo.images.retag("v1", "v2")
    assert (result.digest, result.tag) == (image.digest, "v2")
    assert (result.domain, result.repository) == (reg.host, unique_repository)
    assert [str(p) for p in result.platforms] == ["linux/amd64"]
    assert repo.manifests.get_raw("v2").data == image.manifest
    assert sorted(repo.tags.get_all()) == ["v1", "v2"]
    # manifest only: no blob is uploaded or mounted, and no layer is read (the config is
    # read once: the returned Image takes its platform from it)
    assert log.upload_writes() == []
    reads = [e.path.rsplit("/", 1)[1] for e in log.blob_reads() if e.status != 401]
    assert reads == [image.config_digest]
    assert log.count("PUT", "/manifests/v2") >= 1


def test_retag_of_an_index_sends_no_blob_request(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    index = two_platform_index(media="docker", layer_size=2000)
    upload_image(repo, index, "multi")
    log = LogWindow(reg, unique_repository)
    result = repo.images.retag(index.digest, "again")
    assert (result.digest, result.tag, result.repository) == (index.digest, "again",
                                                              unique_repository)
    assert [p.digest for p in result.platforms] == [c.digest for c in index.children]
    assert repo.manifests.head("again").digest == index.digest
    assert [e for e in log.entries() if "/blobs/" in e.path] == []


# -- tags.delete and deletes by digest -----------------------------------------------------------


def test_tags_delete_leaves_other_tags_on_the_same_manifest(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    image = build_image((1234,), media="docker")
    upload_image(repo, image, "a")
    repo.manifests.put("b", image.raw())
    log = LogWindow(reg, unique_repository)
    repo.tags.delete("a")
    with pytest.raises(NotFoundError):
        repo.manifests.get_raw("a")
    assert repo.manifests.head("b").digest == image.digest
    assert repo.manifests.get_raw("b").data == image.manifest
    assert repo.manifests.get_raw(image.digest).data == image.manifest
    assert repo.tags.get_all() == ["b"]
    # Distribution 2.8 refuses DELETE by tag: a throw-away manifest took the tag and was
    # deleted by digest; the image itself was never deleted
    deletes = [e for e in log.entries() if e.method == "DELETE" and e.status != 401]
    by_digest = [e for e in deletes if "/manifests/sha256:" in e.path]
    assert len(by_digest) == 1 and by_digest[0].status == 202
    assert image.digest not in by_digest[0].path
    assert all(e.status == 400 for e in deletes if e.path.endswith("/manifests/a"))


def test_tags_delete_of_the_only_tag_keeps_the_manifest(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    index = two_platform_index(media="oci", layer_size=1000)
    upload_image(repo, index, "only")
    repo.tags.delete("only")
    with pytest.raises(NotFoundError):
        repo.images.get_by_tag("only")
    assert "only" not in repo.tags.get_all()
    assert repo.images.get_by_digest(index.digest).digest == index.digest


def test_tags_delete_of_a_missing_tag_raises_not_found(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    upload_image(repo, build_image((100,)), "present")
    with pytest.raises(NotFoundError):
        repo.tags.delete("absent")
    assert repo.tags.get_all() == ["present"]
    with pytest.raises(NotFoundError):
        rc.repository(f"{unique_repository}/nothing-here").tags.delete("latest")


def test_a_refused_tag_delete_writes_nothing_and_leaves_the_tag() -> None:
    # Distribution's default: deletes disabled, a tag DELETE answered 405 (400 with
    # deletes on). The tombstone fallback moved the tag to a throw-away manifest, was
    # refused its delete, and put the tag back: a pull meanwhile got an empty image, and
    # the throw-away manifest stayed for good. A DELETE of a digest the repository does
    # not hold tells first, writing nothing: 405 deletes off, 404 on.
    with LocalRegistry(delete_enabled=False) as no_deletes:
        with Registry(no_deletes.host, protocol="http") as client:
            repo = client.repository("keep/tags")
            image = build_image((321,), media="docker")
            upload_image(repo, image, "v1")
            repo.manifests.put("v2", image.raw())
            before = dict(client.requester.stats["by_method"])
            with pytest.raises(RegistryError) as caught:
                repo.tags.delete("v1")
            assert caught.value.status_code == 405
            assert "storage.delete.enabled" in str(caught.value)
            assert "the tag is left as it was" in str(caught.value)
            assert dict(client.requester.stats["by_method"]) == {  # the tag read, no write
                **before, "DELETE": before.get("DELETE", 0) + 2, "GET": before.get("GET", 0) + 1}
            assert repo.manifests.get_raw("v1").data == image.manifest
            assert repo.manifests.head("v2").digest == image.digest
            assert sorted(repo.tags.get_all()) == ["v1", "v2"]


def test_delete_by_digest_removes_the_manifest_and_every_tag(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    image = build_image((2222,), media="oci")
    upload_image(repo, image, "x")
    repo.images.retag("x", "y")
    keep = build_image((3333,), media="oci")
    upload_image(repo, keep, "other")
    repo.images.delete_by_digest(image.digest)
    for reference in ("x", "y", image.digest):
        with pytest.raises(NotFoundError):
            repo.manifests.get_raw(reference)
    with pytest.raises(NotFoundError):
        repo.images.get_by_digest(image.digest)
    assert repo.tags.get_all() == ["other"]
    assert repo.manifests.head("other").digest == keep.digest
    with pytest.raises(NotFoundError):
        repo.images.delete_by_digest(image.digest)


def test_manifests_delete_and_deleting_what_does_not_exist(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    image = build_image((999,), media="docker")
    upload_image(repo, image, None)  # by digest only
    assert repo.manifests.head(image.digest).digest == image.digest
    repo.manifests.delete(image.digest)
    with pytest.raises(NotFoundError):
        repo.manifests.head(image.digest)
    with pytest.raises(NotFoundError):
        repo.manifests.delete(image.digest)
    with pytest.raises(NotFoundError):
        repo.manifests.delete(sha256(os.urandom(8)))
    # the blobs stay: deleting a manifest does not delete its layers
    for digest in image.blobs:
        assert repo.blobs.exists(digest)


def test_put_index_then_delete_child_leaves_index_pointing_nowhere(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    """Deletes by digest are exact: deleting one child does not touch the index."""
    repo = rc.repository(unique_repository)
    children = [build_image((500,), platform=p, media="oci")
                for p in ("linux/amd64", "linux/arm64/v8")]
    index = build_index(children, media="oci")
    upload_image(repo, index, "idx")
    repo.manifests.delete(children[1].digest)
    assert repo.manifests.head("idx").digest == index.digest
    with pytest.raises(NotFoundError):
        repo.manifests.get_raw(children[1].digest)
    pulled = repo.images.get_by_tag("idx")
    assert pulled.platforms[1] == Platform("arm64", "linux", "v8", digest=children[1].digest,
                                           media_type=children[1].media_type,
                                           size=len(children[1].manifest))


def test_put_raw_manifest_with_wrong_digest_reference_is_refused_locally(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    image = build_image((100,))
    upload_image(repo, image, "v")
    log = LogWindow(reg, unique_repository)
    wrong = RawManifest(data=image.manifest, media_type=image.media_type,
                        digest=image.digest)
    with pytest.raises(DigestMismatchError):
        repo.manifests.put(sha256(b"not it"), wrong)
    assert log.count("PUT") == 0
