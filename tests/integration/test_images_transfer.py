"""Whole images against a real Distribution 2.8: push, pull (OCI layout), copy, re-push.

A 3-layer image (1 MiB, 20 MiB with an explicit ``chunk_size``, 70 MiB streamed from
its file in a PATCH) and a 2-platform index are pushed once per auth mode (module-scoped
fixtures) and then pulled, pushed again from the layout, and copied within the registry
(blob mounts) and to a second registry - every blob and manifest digest must survive.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _write_helpers import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_MANIFEST,
    REF_NAME,
    BuiltImage,
    LogWindow,
    MiB,
    Stats,
    build_image,
    build_index,
    client_of,
    layout_blobs,
    layout_entry,
    layout_manifest_closure,
    two_platform_index,
    upload_image,
    write_layout,
)

from registry_client import (
    BlobMounted,
    BlobSkipped,
    Image,
    LayoutNotFoundError,
    NotFoundError,
    Platform,
    PlatformNotFoundError,
    ProgressEvent,
    Registry,
    RegistryResponseError,
    Repository,
)
from registry_client.layout import OCILayout
from registry_client.testing import (
    FaultProxy,
    LocalRegistry,
    LocalRegistryFactory,
    seed_image,
    seed_tags,
)

pytestmark = pytest.mark.integration

MANIFEST_ONLY = 16 * 1024  # bytes a transfer may send when no blob moves (manifests only)


@pytest.fixture(scope="module")
def other_reg(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """A second (anonymous) registry instance: the target of cross-registry copies."""
    return local_registry_factory("anonymous")


@pytest.fixture
def oc(other_reg: LocalRegistry) -> Iterator[Registry]:
    with client_of(other_reg) as client:
        yield client


def fresh_name(reg: LocalRegistry, what: str) -> str:
    return f"transfer-{reg.auth}/{what}-{uuid.uuid4().hex[:8]}"


def assert_same_image(repo: Repository, image: BuiltImage, reference: str) -> None:
    """``repo`` serves every manifest and blob of ``image`` with the original digests."""
    raw = repo.manifests.get_raw(reference)
    assert (raw.digest, raw.data) == (image.digest, image.manifest)
    for child in image.children:
        assert repo.manifests.get_raw(child.digest).data == child.manifest
    for digest, data in image.blobs.items():
        assert repo.blobs.size(digest) == len(data), digest


# -- the 3-layer image ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_image() -> BuiltImage:
    return build_image((1 * MiB, 20 * MiB, 70 * MiB), media="oci", label="big")


@dataclass
class PushedBig:
    repository: str
    digest: str
    patches: dict[str, int] = field(default_factory=dict)
    """Layer digest -> PATCH requests its upload took."""
    final_puts: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def big_source(
    reg: LocalRegistry, rc: Registry, big_image: BuiltImage,
    tmp_path_factory: pytest.TempPathFactory,
) -> PushedBig:
    """The big image pushed blob by blob: bytes, a file object with chunk_size, a path."""
    name = fresh_name(reg, "big")
    repo = rc.repository(name)
    small, medium, large = big_image.layers
    path = tmp_path_factory.mktemp("big-layer") / "layer3"
    path.write_bytes(big_image.blobs[large])
    pushed = PushedBig(repository=name, digest="")
    sources = {
        small: (big_image.blobs[small], None),
        medium: (io.BytesIO(big_image.blobs[medium]), 5 * MiB),
        large: (path, None),  # 70 MiB > 64 MiB: streamed from the file in PATCHes
        big_image.config_digest: (big_image.blobs[big_image.config_digest or ""], None),
    }
    for digest, (source, chunk_size) in sources.items():
        log = LogWindow(reg, name)
        desc = repo.blobs.upload(source, chunk_size=chunk_size)  # type: ignore[arg-type]
        assert desc.digest == digest
        writes = log.upload_writes()
        pushed.patches[str(digest)] = sum(1 for e in writes if e.method == "PATCH")
        pushed.final_puts[str(digest)] = sum(
            1 for e in writes if e.method == "PUT" and e.status == 201
        )
    pushed.digest = repo.manifests.put("v1", big_image.raw())
    return pushed


def test_push_three_layer_image_with_chunked_uploads(
    rc: Registry, big_image: BuiltImage, big_source: PushedBig
) -> None:
    small, medium, large = big_image.layers
    assert big_source.patches == {
        small: 0,  # 1 MiB: one monolithic PUT
        medium: 4,  # 20 MiB / explicit 5 MiB chunks
        # 70 MiB / default 64 MiB chunks, streamed from the file: the 6 MiB tail (under a
        # quarter chunk) goes with the first chunk, not in a PATCH of its own
        large: 1,
        big_image.config_digest: 0,
    }
    assert set(big_source.final_puts.values()) == {1}  # each upload closed by one PUT
    assert big_source.digest == big_image.digest
    repo = rc.repository(big_source.repository)
    assert_same_image(repo, big_image, "v1")
    assert repo.blobs.get(small) == big_image.blobs[small]
    image = repo.images.get_by_tag("v1")
    assert (image.digest, image.media_type) == (big_image.digest, OCI_MANIFEST)
    assert [str(p) for p in image.platforms] == ["linux/amd64"]


@dataclass
class Pulled:
    directory: Path
    image: Image


@pytest.fixture(scope="module")
def big_pulled(
    rc: Registry, big_source: PushedBig, tmp_path_factory: pytest.TempPathFactory
) -> Pulled:
    directory = tmp_path_factory.mktemp("big-pulled")
    image = rc.repository(big_source.repository).images.pull("v1", directory)
    return Pulled(directory, image)


def test_pull_writes_an_oci_layout_with_the_original_digests(
    reg: LocalRegistry, big_image: BuiltImage, big_source: PushedBig, big_pulled: Pulled
) -> None:
    directory = big_pulled.directory
    assert (directory / "oci-layout").read_text().replace(" ", "") == (
        '{"imageLayoutVersion":"1.0.0"}'
    )
    entry = layout_entry(directory, "v1")
    assert entry["digest"] == big_image.digest
    assert entry["mediaType"] == OCI_MANIFEST
    assert entry["size"] == len(big_image.manifest)
    assert entry["annotations"][REF_NAME] == "v1"
    blobs = layout_blobs(directory)  # every file matches its name
    assert set(blobs) == {big_image.digest, *big_image.blobs}
    assert blobs[big_image.digest].read_bytes() == big_image.manifest
    for digest in big_image.blobs:
        assert blobs[digest].stat().st_size == len(big_image.blobs[digest])
    image = big_pulled.image
    assert (image.digest, image.tag) == (big_image.digest, "v1")
    assert (image.domain, image.repository) == (reg.host, big_source.repository)
    assert [(p.os, p.architecture) for p in image.platforms] == [("linux", "amd64")]
    leftovers = [p for p in directory.rglob("*") if p.name.endswith((".partial", ".tmp"))]
    assert leftovers == []


def test_pull_again_skips_blobs_already_present(
    reg: LocalRegistry, rc: Registry, big_image: BuiltImage, big_source: PushedBig,
    big_pulled: Pulled,
) -> None:
    log = LogWindow(reg, big_source.repository)
    stats = Stats(rc)
    events: list[ProgressEvent] = []
    image = rc.repository(big_source.repository).images.pull(
        "v1", big_pulled.directory, progress=events.append
    )
    assert image.digest == big_image.digest
    assert log.blob_reads() == []  # no blob GET at all
    assert stats.delta("bytes_received") < MANIFEST_ONLY
    skipped = {e.digest for e in events if isinstance(e, BlobSkipped)}
    assert skipped == set(big_image.blobs)
    assert set(layout_blobs(big_pulled.directory)) == {big_image.digest, *big_image.blobs}


@dataclass
class PushedCopy:
    repository: str
    image: Image


@pytest.fixture(scope="module")
def big_pushed(reg: LocalRegistry, rc: Registry, big_pulled: Pulled) -> PushedCopy:
    """The pulled layout pushed to another repository with ``images.push``."""
    name = fresh_name(reg, "big-pushed")
    image = rc.repository(name).images.push(big_pulled.directory, "v1")
    return PushedCopy(name, image)


def test_push_pulled_layout_to_another_repository(
    reg: LocalRegistry, rc: Registry, big_image: BuiltImage, big_pushed: PushedCopy
) -> None:
    image = big_pushed.image
    assert (image.digest, image.tag, image.media_type) == (big_image.digest, "v1",
                                                           OCI_MANIFEST)
    assert (image.domain, image.repository) == (reg.host, big_pushed.repository)
    assert [str(p) for p in image.platforms] == ["linux/amd64"]
    assert_same_image(rc.repository(big_pushed.repository), big_image, "v1")


def test_push_of_a_sha512_layout_returns_the_digest_the_registry_serves(
    reg: LocalRegistry, rc: Registry, tmp_path: Path,
) -> None:
    """The image-layout spec allows blobs/sha512/; Distribution stores a manifest put
    by tag under its sha256. The push returned the layout's sha512 digest, which the
    registry does not serve (API.md: the Image describes the destination)."""
    from registry_client.layout import OCILayout

    def sha512(data: bytes) -> str:
        return "sha512:" + hashlib.sha512(data).hexdigest()

    layer = gzip.compress(b"not really a tar, a layer's bytes", mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [sha512(b"x")]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha512(config),
        "size": len(config)}, "layers": [{
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha512(layer),
        "size": len(layer)}]}).encode()
    layout = OCILayout(tmp_path / "l512")
    layout.init()
    for data in (layer, config, manifest):
        layout.write_blob(sha512(data), data)
    layout.add_manifest({"mediaType": OCI_MANIFEST, "digest": sha512(manifest),
                         "size": len(manifest)}, "v1")
    repo = rc.repository(fresh_name(reg, "sha512"))
    image = repo.images.push(tmp_path / "l512", "v1")
    sha256 = "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert image.digest == sha256 == repo.manifests.head("v1").digest
    assert repo.manifests.get_raw(image.digest).data == manifest


def test_pushing_the_same_image_again_sends_no_blob_bytes(
    reg: LocalRegistry, rc: Registry, big_image: BuiltImage, big_pulled: Pulled,
    big_pushed: PushedCopy,
) -> None:
    log = LogWindow(reg, big_pushed.repository)
    stats = Stats(rc)
    image = rc.repository(big_pushed.repository).images.push(big_pulled.directory, "v1")
    assert image.digest == big_image.digest
    assert stats.delta("bytes_sent") < MANIFEST_ONLY
    assert log.upload_writes() == []  # no POST/PATCH/PUT on blobs/uploads
    heads = {e.path.rsplit("/", 1)[1] for e in log.entries() if e.method == "HEAD"}
    assert heads == set(big_image.blobs)
    assert log.count("PUT", "/manifests/v1") >= 1


def test_copy_within_the_registry_mounts_and_sends_no_blob_bytes(
    reg: LocalRegistry, rc: Registry, big_image: BuiltImage, big_source: PushedBig
) -> None:
    target = rc.repository(fresh_name(reg, "big-copy"))
    log = LogWindow(reg, target.name)
    stats = Stats(rc)
    events: list[ProgressEvent] = []
    image = rc.repository(big_source.repository).images.copy(
        "v1", target, progress=events.append
    )
    assert (image.digest, image.tag) == (big_image.digest, "v1")
    assert (image.domain, image.repository) == (reg.host, target.name)
    # the config was mounted, not read on the way: the platform still comes from it
    assert [str(p) for p in image.platforms] == [big_image.platform]
    assert stats.delta("bytes_sent") < MANIFEST_ONLY
    writes = [e for e in log.upload_writes() if e.status != 401]
    assert {e.method for e in writes} == {"POST"}  # mounts only: no PATCH, no blob PUT
    assert all(e.status == 201 and "mount=" in e.query for e in writes)
    assert len(writes) == len(big_image.blobs)
    assert {e.digest for e in events if isinstance(e, BlobMounted)} == set(big_image.blobs)
    assert_same_image(target, big_image, "v1")
    renamed = rc.repository(big_source.repository).images.copy("v1", target, "renamed")
    assert (renamed.tag, renamed.digest) == ("renamed", big_image.digest)
    assert target.manifests.head("renamed").digest == big_image.digest


def test_a_copy_of_an_image_whose_config_is_over_the_body_limit_writes_nothing(
    reg: LocalRegistry, rc: Registry,
) -> None:
    """The config describes the copy's result, so one over ``body_limit`` is refused --
    as pull refuses it: before anything is written. The copy mounted every blob and put
    the manifest, then raised: a script saw a failure where the image was copied."""
    image = build_image((100,), label="x" * 5000)
    source = rc.repository(fresh_name(reg, "big-config"))
    upload_image(source, image, "v1")
    target_name = fresh_name(reg, "big-config-copy")
    log = LogWindow(reg, target_name)
    with client_of(reg, body_limit=3000) as small:
        with pytest.raises(RegistryResponseError, match="exceeds the 3000-byte limit"):
            small.repository(source.name).images.copy("v1", small.repository(target_name))
        with pytest.raises(RegistryResponseError, match="exceeds the 3000-byte limit"):
            # the dry run says so too, not a plan of a copy that will be refused
            small.repository(source.name).images.copy("v1", small.repository(target_name),
                                                      dry_run=True)
    assert [e for e in log.upload_writes() if e.status != 401] == []
    with pytest.raises(NotFoundError):
        rc.repository(target_name).manifests.head("v1")


def test_copy_to_another_registry_keeps_every_digest(
    rc: Registry, oc: Registry, other_reg: LocalRegistry, big_image: BuiltImage,
    big_source: PushedBig, reg: LocalRegistry,
) -> None:
    target = oc.repository(fresh_name(reg, "big-across"))
    stats = Stats(oc)
    reg.clear_access_log()
    image = rc.repository(big_source.repository).images.copy("v1", target)
    # the config is read from the source once: relayed across, and kept for the result
    assert reg.request_count("GET", f"/blobs/{big_image.config_digest}") == 1
    assert (image.digest, image.tag) == (big_image.digest, "v1")
    assert (image.domain, image.repository) == (other_reg.host, target.name)
    assert stats.delta("bytes_sent") >= sum(len(b) for b in big_image.blobs.values())
    assert_same_image(target, big_image, "v1")
    assert target.blobs.get(big_image.layers[0]) == big_image.blobs[big_image.layers[0]]
    # again: the target has every blob, so nothing but the manifest moves
    log = LogWindow(other_reg, target.name)
    stats = Stats(oc)
    again = rc.repository(big_source.repository).images.copy("v1", target, "again")
    assert [str(p) for p in again.platforms] == [big_image.platform]  # config skipped
    assert [str(p) for p in image.platforms] == [big_image.platform]  # config sent
    assert stats.delta("bytes_sent") < MANIFEST_ONLY
    assert log.upload_writes() == []
    assert target.manifests.head("again").digest == big_image.digest


# -- the 2-platform index ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index_image() -> BuiltImage:
    return two_platform_index(media="docker", layer_size=256 * 1024)


@pytest.fixture(scope="module")
def index_source(reg: LocalRegistry, rc: Registry, index_image: BuiltImage) -> str:
    name = fresh_name(reg, "multi")
    assert upload_image(rc.repository(name), index_image, "multi") == index_image.digest
    return name


def test_pull_two_platform_index_writes_every_platform(
    reg: LocalRegistry, rc: Registry, index_image: BuiltImage, index_source: str,
    tmp_path: Path,
) -> None:
    image = rc.repository(index_source).images.pull("multi", tmp_path)
    entry = layout_entry(tmp_path, "multi")
    assert (entry["digest"], entry["mediaType"]) == (index_image.digest, DOCKER_LIST)
    blobs = layout_blobs(tmp_path)
    assert set(blobs) == {*index_image.manifests(), *index_image.blobs}
    for digest, data in {**index_image.manifests(), **index_image.blobs}.items():
        assert blobs[digest].read_bytes() == data
    assert (image.digest, image.tag, image.media_type) == (index_image.digest, "multi",
                                                           DOCKER_LIST)
    assert (image.domain, image.repository) == (reg.host, index_source)
    assert [(str(p), p.digest) for p in image.platforms] == [
        (c.platform, c.digest) for c in index_image.children
    ]


@pytest.mark.parametrize("platform", ["linux/arm64/v8", Platform("arm64", "linux", "v8")],
                         ids=["str", "Platform"])
def test_pull_one_platform_writes_only_that_platform(
    rc: Registry, index_image: BuiltImage, index_source: str, tmp_path: Path,
    platform: str | Platform,
) -> None:
    arm = index_image.child("linux/arm64/v8")
    image = rc.repository(index_source).images.pull("multi", tmp_path, platform=platform)
    entry = layout_entry(tmp_path, "multi")  # index.json points at the child manifest
    assert (entry["digest"], entry["mediaType"], entry["size"]) == (
        arm.digest, DOCKER_MANIFEST, len(arm.manifest)
    )
    assert set(layout_blobs(tmp_path)) == {arm.digest, *arm.blobs}
    assert layout_manifest_closure(tmp_path, arm.digest) == {arm.digest, *arm.blobs}
    assert image.digest == arm.digest
    assert [str(p) for p in image.platforms] == ["linux/arm64/v8"]


def test_pull_with_a_platform_refuses_what_does_not_match_and_writes_nothing(
    reg: LocalRegistry, rc: Registry, index_source: str, tmp_path: Path,
) -> None:
    single = rc.repository(fresh_name(reg, "single"))
    amd = build_image((1000,), platform="linux/amd64", media="oci")
    upload_image(single, amd, "v1")
    with pytest.raises(PlatformNotFoundError, match="linux/amd64") as info:
        single.images.pull("v1", tmp_path / "a", platform="linux/arm64")
    # typed (a RegistryError, as the contract wants) and still what it was before
    assert isinstance(info.value, NotFoundError) and isinstance(info.value, ValueError)
    with pytest.raises(PlatformNotFoundError, match="no platform linux/s390x"):
        rc.repository(index_source).images.pull("multi", tmp_path / "b",
                                                platform="linux/s390x")
    with pytest.raises(TypeError, match="platform must be"):
        rc.repository(index_source).images.pull("multi", tmp_path / "c",
                                                platform=42)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []  # no layout left behind
    image = single.images.pull("v1", tmp_path / "d", platform="linux/amd64")
    assert image.digest == amd.digest
    assert set(layout_blobs(tmp_path / "d")) == {amd.digest, *amd.blobs}


def test_push_pulled_index_layout_and_push_it_again(
    reg: LocalRegistry, rc: Registry, index_image: BuiltImage, index_source: str,
    tmp_path: Path,
) -> None:
    rc.repository(index_source).images.pull("multi", tmp_path)
    target = rc.repository(fresh_name(reg, "multi-pushed"))
    image = target.images.push(tmp_path, "multi")
    assert (image.digest, image.tag, image.repository) == (index_image.digest, "multi",
                                                           target.name)
    assert image.domain == reg.host
    assert_same_image(target, index_image, "multi")
    log = LogWindow(reg, target.name)
    stats = Stats(rc)
    again = target.images.push(tmp_path, "multi")
    assert again.digest == index_image.digest
    assert stats.delta("bytes_sent") < MANIFEST_ONLY
    assert log.upload_writes() == []


def test_push_handwritten_oci_layout_with_an_index(
    reg: LocalRegistry, rc: Registry, tmp_path: Path
) -> None:
    index = two_platform_index(media="oci", layer_size=100 * 1024)
    write_layout(tmp_path / "src", index, "2.0")
    target = rc.repository(fresh_name(reg, "oci-index"))
    image = target.images.push(tmp_path / "src", "2.0")
    assert (image.digest, image.tag, image.repository) == (index.digest, "2.0", target.name)
    assert_same_image(target, index, "2.0")
    back = target.images.pull("2.0", tmp_path / "back")
    assert back.digest == index.digest
    src_blobs, back_blobs = layout_blobs(tmp_path / "src"), layout_blobs(tmp_path / "back")
    assert set(src_blobs) == set(back_blobs)
    for digest, path in src_blobs.items():
        assert back_blobs[digest].read_bytes() == path.read_bytes()


def test_copy_index_within_the_registry_mounts_every_blob(
    reg: LocalRegistry, rc: Registry, index_image: BuiltImage, index_source: str
) -> None:
    target = rc.repository(fresh_name(reg, "multi-copy"))
    log = LogWindow(reg, target.name)
    stats = Stats(rc)
    image = rc.repository(index_source).images.copy("multi", target)
    assert (image.digest, image.tag, image.repository) == (index_image.digest, "multi",
                                                           target.name)
    assert len(image.platforms) == 2
    assert stats.delta("bytes_sent") < MANIFEST_ONLY
    writes = [e for e in log.upload_writes() if e.status != 401]
    assert all(e.method == "POST" and e.status == 201 for e in writes)
    assert len(writes) == len(index_image.blobs)
    assert_same_image(target, index_image, "multi")


def test_copy_index_to_another_registry_keeps_every_digest(
    reg: LocalRegistry, rc: Registry, oc: Registry, other_reg: LocalRegistry,
    index_image: BuiltImage, index_source: str,
) -> None:
    target = oc.repository(fresh_name(reg, "multi-across"))
    image = rc.repository(index_source).images.copy("multi", target, "copied")
    assert (image.digest, image.tag) == (index_image.digest, "copied")
    assert (image.domain, image.repository) == (other_reg.host, target.name)
    assert [p.digest for p in image.platforms] == [c.digest for c in index_image.children]
    assert_same_image(target, index_image, "copied")
    assert target.images.get_by_tag("copied").digest == index_image.digest


def test_copy_by_digest_pushes_without_a_tag(
    reg: LocalRegistry, rc: Registry, oc: Registry, index_image: BuiltImage,
    index_source: str,
) -> None:
    target = oc.repository(fresh_name(reg, "by-digest"))
    image = rc.repository(index_source).images.copy(index_image.digest, target)
    assert (image.digest, image.tag, image.repository) == (index_image.digest, None,
                                                           target.name)
    assert_same_image(target, index_image, index_image.digest)
    with pytest.raises(NotFoundError):
        target.manifests.head("multi")
    with pytest.raises(NotFoundError):  # Distribution: no tag yet, NAME_UNKNOWN
        target.tags.get_all()


# -- concurrent pulls into one layout -------------------------------------------------------------


def test_concurrent_pulls_into_one_layout_keep_every_tag(tmp_path: Path) -> None:
    # Six threads, one shared Registry, one layout directory: three tags of one image
    # (the same blobs, downloaded at the same time) and three other images.
    with LocalRegistry() as registry, Registry(registry.host, protocol="http") as client:
        shared = seed_tags(registry, "conc/app", ["s1", "s2", "s3"])
        others = {t: seed_image(registry, "conc/app", t, seed=40 + i, layers=(300_000,))
                  for i, t in enumerate(["o1", "o2", "o3"])}
        repo = client.repository("conc/app")
        tags = ["s1", "o1", "s2", "o2", "s3", "o3"]
        with ThreadPoolExecutor(6) as pool:
            images = list(pool.map(lambda t: repo.images.pull(t, tmp_path), tags))
        expected = {**{t: shared.digest for t in ["s1", "s2", "s3"]},
                    **{t: img.digest for t, img in others.items()}}
        assert {i.tag: i.digest for i in images} == expected
        index = json.loads((tmp_path / "index.json").read_text())
        names = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
                 for m in index["manifests"]}
        assert names == expected
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert not [p for p in files if p.name.endswith((".partial", ".tmp"))]
        for path in (tmp_path / "blobs" / "sha256").iterdir():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name


# -- a nested index: an index listing an index ----------------------------------------------------


@pytest.fixture(scope="module")
def nested_index() -> BuiltImage:
    inner = two_platform_index(media="oci", layer_size=2000)
    other = build_image((3000,), platform="linux/s390x", media="oci")
    return build_index([inner, other], media="oci")


def _upload_nested(repo: Repository, outer: BuiltImage, tag: str) -> None:
    inner, other = outer.children
    upload_image(repo, inner, None)
    upload_image(repo, other, None)
    repo.manifests.put(tag, outer.raw())


def _assert_nested(repo: Repository, outer: BuiltImage, tag: str) -> None:
    assert repo.manifests.get_raw(tag).data == outer.manifest
    inner, other = outer.children
    for manifest in [inner, other, *inner.children]:
        assert repo.manifests.get_raw(manifest.digest).data == manifest.manifest
    for digest, data in outer.blobs.items():
        assert repo.blobs.get(digest) == data


def test_copy_and_plan_of_a_nested_index(
    reg: LocalRegistry, rc: Registry, oc: Registry, nested_index: BuiltImage,
) -> None:
    source = rc.repository(fresh_name(reg, "nested"))
    _upload_nested(source, nested_index, "v1")
    inner, other = nested_index.children
    for target in (rc.repository(fresh_name(reg, "nested-copy")),
                   oc.repository(fresh_name(reg, "nested-across"))):
        plan = source.images.copy("v1", target, dry_run=True)
        assert set(plan.manifests) == {nested_index.digest, inner.digest, other.digest,
                                       *(c.digest for c in inner.children)}
        assert plan.manifests[-1] == nested_index.digest
        assert plan.manifests.index(inner.digest) > max(
            plan.manifests.index(c.digest) for c in inner.children)
        assert {b.digest for b in plan.blobs} == set(nested_index.blobs)
        copied = source.images.copy("v1", target)
        assert copied.digest == nested_index.digest
        _assert_nested(target, nested_index, "v1")


def test_push_of_a_layout_with_a_nested_index(
    reg: LocalRegistry, rc: Registry, nested_index: BuiltImage, tmp_path: Path,
) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    for digest, data in nested_index.blobs.items():
        layout.write_blob(digest, data)
    inner, other = nested_index.children
    for manifest in [nested_index, inner, other, *inner.children]:
        layout.write_blob(manifest.digest, manifest.manifest)
    layout.add_manifest({"mediaType": nested_index.media_type, "digest": nested_index.digest,
                         "size": len(nested_index.manifest)}, "v1")
    target = rc.repository(fresh_name(reg, "nested-push"))
    assert target.images.push(tmp_path, "v1").digest == nested_index.digest
    _assert_nested(target, nested_index, "v1")


def test_pull_of_a_nested_index_writes_every_manifest_and_blob(
    reg: LocalRegistry, rc: Registry, nested_index: BuiltImage, tmp_path: Path,
) -> None:
    source = rc.repository(fresh_name(reg, "nested-pull"))
    _upload_nested(source, nested_index, "v1")
    inner, other = nested_index.children
    image = source.images.pull("v1", tmp_path / "all")
    assert image.digest == nested_index.digest
    assert layout_entry(tmp_path / "all", "v1")["digest"] == nested_index.digest
    manifests = {nested_index.digest, inner.digest, other.digest,
                 *(c.digest for c in inner.children)}
    assert set(layout_blobs(tmp_path / "all")) == manifests | set(nested_index.blobs)
    # and what was pulled pushes back whole
    again = rc.repository(fresh_name(reg, "nested-again"))
    assert again.images.push(tmp_path / "all", "v1").digest == nested_index.digest
    _assert_nested(again, nested_index, "v1")
    # the entry for the platform is an index itself: the image is found in it
    amd = inner.child("linux/amd64")
    picked = source.images.pull("v1", tmp_path / "amd", platform="linux/amd64")
    assert picked.digest == amd.digest
    assert set(layout_blobs(tmp_path / "amd")) == {amd.digest, *amd.blobs}
    with pytest.raises(PlatformNotFoundError):
        source.images.pull("v1", tmp_path / "none", platform="windows/amd64")
    assert not (tmp_path / "none").exists()


def test_push_of_a_layout_missing_a_blob_sends_nothing(
    reg: LocalRegistry, rc: Registry, index_image: BuiltImage, index_source: str,
    tmp_path: Path,
) -> None:
    rc.repository(index_source).images.pull("multi", tmp_path)
    victim = list(index_image.child("linux/arm64/v8").blobs)[-1]
    OCILayout(tmp_path).blob_path(victim).unlink()
    target = rc.repository(fresh_name(reg, "holed"))
    with pytest.raises(LayoutNotFoundError, match=victim) as info:
        target.images.push(tmp_path, "multi")
    assert isinstance(info.value, FileNotFoundError)
    assert not any(target.blobs.exists(d) for d in index_image.blobs if d != victim)


def test_a_child_shared_by_two_nested_indexes_is_put_before_both(
    reg: LocalRegistry, rc: Registry, oc: Registry, tmp_path: Path,
) -> None:
    """outer -> [inner -> [amd, arm], amd]: amd must be put before inner, and once."""
    inner = two_platform_index(media="oci", layer_size=1500)
    amd = inner.children[0]
    outer = build_index([inner, amd], media="oci")
    source = rc.repository(fresh_name(reg, "shared-child"))
    upload_image(source, inner, None)
    source.manifests.put("v1", outer.raw())
    for target in (rc.repository(fresh_name(reg, "shared-copy")),
                   oc.repository(fresh_name(reg, "shared-across"))):
        plan = source.images.copy("v1", target, dry_run=True)
        assert plan.manifests.index(amd.digest) < plan.manifests.index(inner.digest)
        assert len(plan.manifests) == len(set(plan.manifests)) == 4
        assert source.images.copy("v1", target).digest == outer.digest
        assert target.manifests.get_raw(inner.digest).data == inner.manifest
    source.images.pull("v1", tmp_path)
    pushed = oc.repository(fresh_name(reg, "shared-push"))
    assert pushed.images.push(tmp_path, "v1").digest == outer.digest


def test_a_non_distributable_layer_without_urls_is_pushed_pulled_and_copied(
    reg: LocalRegistry, rc: Registry, oc: Registry, tmp_path: Path,
) -> None:
    """The OCI "nondistributable" media type on a layer that names no ``urls``: the
    registry holds its blob (Distribution accepts the manifest only then), so a push,
    pull or copy moves it like any layer -- as skopeo does. Only a layer that names
    where it lives (Windows base layers) stays behind."""
    layer = os.urandom(3000)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    layout = OCILayout(tmp_path / "src")
    for blob in (layer, config):
        layout.write_blob("sha256:" + hashlib.sha256(blob).hexdigest(), blob)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar",
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                    "size": len(layer)}]}).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    layout.write_blob(digest, manifest)
    layout.add_manifest({"mediaType": OCI_MANIFEST, "digest": digest,
                         "size": len(manifest)}, "1")
    name = fresh_name(reg, "nondist")

    assert rc.repository(name).images.push(tmp_path / "src", "1").digest == digest
    rc.repository(name).images.pull("1", tmp_path / "pulled")
    pulled = tmp_path / "pulled" / "blobs" / "sha256" / hashlib.sha256(layer).hexdigest()
    assert pulled.read_bytes() == layer
    rc.repository(name).images.copy("1", oc.repository(name))
    assert oc.repository(name).manifests.get_raw("1").digest == digest
    assert oc.repository(name).blobs.get("sha256:" + hashlib.sha256(layer).hexdigest()) == layer


def test_a_blob_of_no_bytes_is_copied_to_another_registry(
    reg: LocalRegistry, rc: Registry, oc: Registry, tmp_path: Path,
) -> None:
    """A 0-byte layer (``oras push`` of an empty file): relayed across registries, it
    went through whole and unchecked -- no block ever came to verify -- and the copy
    failed ("the source ended at byte 0 of 0") after the target had taken it."""
    empty_digest = "sha256:" + hashlib.sha256(b"").hexdigest()
    config = b"{}"
    layout = OCILayout(tmp_path / "src")
    for blob in (b"", config):
        layout.write_blob("sha256:" + hashlib.sha256(blob).hexdigest(), blob)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.empty-file",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": empty_digest,
                    "size": 0}]}).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    layout.write_blob(digest, manifest)
    layout.add_manifest({"mediaType": OCI_MANIFEST, "digest": digest,
                         "size": len(manifest)}, "1")
    name = fresh_name(reg, "empty-blob")
    rc.repository(name).images.push(tmp_path / "src", "1")

    assert rc.repository(name).images.copy("1", oc.repository(name)).digest == digest
    assert oc.repository(name).manifests.get_raw("1").digest == digest
    assert oc.repository(name).blobs.get(empty_digest) == b""


# -- a call-off cuts the connections its workers wait on ----------------------------------
def _stalled_pull(reg: LocalRegistry, repo: str, tmp_path: Path,
                  then: Callable[[FaultProxy], None]) -> tuple[BaseException, float]:
    """Pull ``repo``'s two-layer image through a proxy that holds every blob GET for 30 s
    (the client's read timeout: 60 s); ``then(proxy)`` runs once both workers wait.
    The error the pull raised, and the seconds it took after ``then``."""
    seed_image(reg, repo, "1.0", layers=[300_000, 200_000])
    with FaultProxy(reg.host, timeout=90) as proxy:
        proxy.add_rule("GET", r"/blobs/sha256:", action="delay", delay=30, times=None)
        client = Registry(proxy.host, protocol="http", timeout=60, retries=0)
        waited = threading.Event()
        marks: list[float] = []

        def trigger() -> None:
            deadline = time.monotonic() + 10
            while proxy.count("GET", "/blobs/") < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.2)
            marks.append(time.monotonic())
            waited.set()
            then(proxy)

        threading.Thread(target=trigger, daemon=True).start()
        try:
            with pytest.raises(BaseException) as caught:
                client.repository(repo).images.pull("1.0", tmp_path / "out")
        finally:
            client.close()
        assert waited.is_set()
        return caught.value, time.monotonic() - marks[0]


def test_a_ctrl_c_stops_a_pull_whose_blob_gets_are_stalled_at_once(
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    """The workers waited for the registry's answer until it came or the read timeout
    ran out (the CLI's Ctrl-C took the whole --timeout); the call-off cuts their
    connections now."""
    assert threading.current_thread() is threading.main_thread()  # where SIGINT goes
    error, seconds = _stalled_pull(
        anon_registry, unique_repository, tmp_path,
        lambda _: signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT))
    assert isinstance(error, KeyboardInterrupt)
    assert seconds < 5
