"""The integration scenarios, each written once and run against both flavours of the API.

``flavour`` (tests/integration/conftest.py) is the blocking ``Registry``, then
``AsyncRegistry`` behind a blocking view; ``reg`` is the anonymous registry, then the token
one. Images are put in place with the blocking API (``rc``), so a flavour is only ever
judged by what it does itself, and what it did is checked on the registry (its access
log) or with the blocking API -- never by the flavour under test alone.
"""

from __future__ import annotations

import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _flavours import Flavour, admin_authenticator
from _write_helpers import (
    OCI_MANIFEST,
    BuiltImage,
    LogWindow,
    build_image,
    layout_blobs,
    layout_entry,
    sha256,
    two_platform_index,
    upload_image,
)

from registry_client import (
    BlobAdvanced,
    BlobFinished,
    BlobMounted,
    BlobSkipped,
    BlobStarted,
    CopyPlan,
    Descriptor,
    DigestMismatchError,
    InvalidReferenceError,
    NotFoundError,
    OCIManifest,
    PlatformNotFoundError,
    ProgressEvent,
    RawManifest,
    Registry,
    RegistryUnavailableError,
)
from registry_client.testing import (
    FaultProxy,
    LocalRegistry,
    LocalRegistryFactory,
    seed_image,
    seed_tags,
)

pytestmark = pytest.mark.integration

SBOM = "application/spdx+json"


def fresh(reg: LocalRegistry, what: str) -> str:
    return f"flavours-{reg.auth}/{what}-{uuid.uuid4().hex[:8]}"


@dataclass
class Seeded:
    repository: str
    image: BuiltImage
    index: BuiltImage


@pytest.fixture(scope="module")
def seeded(reg: LocalRegistry, rc: Registry) -> Seeded:
    """One OCI image tagged 1.0 and 1.1, and a two-platform index tagged multi."""
    name = fresh(reg, "source")
    repo = rc.repository(name)
    image = build_image((300_000, 5_000), media="oci", label="flavours")
    upload_image(repo, image, "1.0")
    repo.manifests.put("1.1", image.raw())
    index = two_platform_index(media="docker", layer_size=40_000)
    upload_image(repo, index, "multi")
    return Seeded(name, image, index)


@pytest.fixture(scope="module")
def other_reg(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """A second anonymous registry: the target of copies across registries."""
    return local_registry_factory("anonymous")


def error_of(call: Any) -> BaseException:
    """The exception ``call()`` raises (the test fails when it raises none)."""
    try:
        call()
    except BaseException as exc:  # every kind is compared
        return exc
    raise AssertionError("no exception raised")


# -- manifests ---------------------------------------------------------------------------------


def test_manifests_read(flavour: Flavour, reg: LocalRegistry, seeded: Seeded) -> None:
    repo = flavour.connect(reg).repository(seeded.repository)
    raw = repo.manifests.get_raw("1.0")
    assert isinstance(raw, RawManifest)
    assert (raw.data, raw.digest, raw.media_type) == (
        seeded.image.manifest, seeded.image.digest, OCI_MANIFEST)
    manifest = repo.manifests.get("1.0")
    assert isinstance(manifest, OCIManifest)
    assert [layer.digest for layer in manifest.layers] == seeded.image.layers
    head = repo.manifests.head("1.1")
    assert isinstance(head, Descriptor)
    assert (head.digest, head.size) == (seeded.image.digest, len(seeded.image.manifest))
    child = seeded.index.children[1]
    assert repo.manifests.get_raw(child.digest).data == child.manifest


def test_manifests_write(
    flavour: Flavour, reg: LocalRegistry, rc: Registry, seeded: Seeded
) -> None:
    name = fresh(reg, "manifests")
    upload_image(rc.repository(name), seeded.image, None)  # blobs and the manifest by digest
    repo = flavour.connect(reg).repository(name)
    assert repo.manifests.put("v1", seeded.image.raw()) == seeded.image.digest  # bytes kept
    check = rc.repository(name)
    assert check.manifests.get_raw("v1").data == seeded.image.manifest
    model = check.manifests.get("v1")
    digest = repo.manifests.put("v2", model)  # a typed model: compact JSON, its own digest
    assert digest == check.manifests.head("v2").digest
    assert check.manifests.get("v2") == model
    repo.manifests.delete(digest)
    with pytest.raises(NotFoundError):
        check.manifests.get_raw(digest)


# -- tags --------------------------------------------------------------------------------------


def test_tags(flavour: Flavour, reg: LocalRegistry, rc: Registry, seeded: Seeded) -> None:
    name = fresh(reg, "tags")
    upload_image(rc.repository(name), seeded.image, "a")
    for tag in ("b", "c"):
        rc.repository(name).manifests.put(tag, seeded.image.raw())
    repo = flavour.connect(reg).repository(name)
    assert sorted(repo.tags.get_all()) == ["a", "b", "c"]
    assert repo.tags.get_all(with_digests=True) == dict.fromkeys("abc", seeded.image.digest)
    assert sorted(repo.tags.iter()) == ["a", "b", "c"]
    page = repo.tags.list()
    assert (page.name, sorted(page.tags), page.last) == (name, ["a", "b", "c"], None)
    found = repo.tags.find("b")
    assert found is not None and found.digest == seeded.image.digest
    assert repo.tags.find("nope") is None
    repo.tags.delete("b")  # this tag only
    assert sorted(rc.repository(name).tags.get_all()) == ["a", "c"]
    with pytest.raises(NotFoundError):
        repo.tags.delete("b")


# -- blobs -------------------------------------------------------------------------------------


def test_blobs_read_and_download(
    flavour: Flavour, reg: LocalRegistry, seeded: Seeded, tmp_path: Path
) -> None:
    repo = flavour.connect(reg).repository(seeded.repository)
    big, small = seeded.image.layers
    data = seeded.image.blobs[big]
    assert repo.blobs.exists(big) is True
    assert repo.blobs.exists(sha256(b"never pushed")) is False
    assert repo.blobs.size(big) == len(data)
    assert repo.blobs.head(small).size == len(seeded.image.blobs[small])
    assert repo.blobs.get(small) == seeded.image.blobs[small]
    events: list[ProgressEvent] = []
    path = repo.blobs.download(big, tmp_path / "layer", progress=events.append)
    assert Path(path) == tmp_path / "layer"
    assert (tmp_path / "layer").read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer"]  # no .partial left
    assert isinstance(events[0], BlobStarted) and events[0].total == len(data)
    assert sum(e.advanced for e in events if isinstance(e, BlobAdvanced)) == len(data)
    assert events[-1] == BlobFinished(big, len(data))


def test_blobs_upload_mount_and_delete(
    flavour: Flavour, reg: LocalRegistry, rc: Registry, seeded: Seeded, tmp_path: Path
) -> None:
    name = fresh(reg, "blobs")
    repo = flavour.connect(reg).repository(name)
    data = b"flavour blob " * 10_000
    desc = repo.blobs.upload(data)
    assert (desc.digest, desc.size) == (sha256(data), len(data))
    source = tmp_path / "chunked"
    source.write_bytes(bytes(range(256)) * 4096)  # 1 MiB in 256 KiB chunks
    log = LogWindow(reg, name)
    chunked = repo.blobs.upload(source, chunk_size=256 * 1024)
    assert chunked.digest == sha256(source.read_bytes())
    assert log.count("PATCH") == 4
    events: list[ProgressEvent] = []
    again = repo.blobs.upload(data, digest=desc.digest, progress=events.append)
    assert again.digest == desc.digest and events == [BlobSkipped(desc.digest, len(data))]
    with pytest.raises(DigestMismatchError):
        repo.blobs.upload(b"other bytes", digest=sha256(b"something else"))
    layer = seeded.image.layers[1]
    assert repo.blobs.mount(layer, seeded.repository) is True
    assert rc.repository(name).blobs.get(layer) == seeded.image.blobs[layer]
    repo.blobs.delete(desc.digest)
    assert rc.repository(name).blobs.exists(desc.digest) is False


# -- images ------------------------------------------------------------------------------------


def test_images_read(flavour: Flavour, reg: LocalRegistry, seeded: Seeded) -> None:
    repo = flavour.connect(reg).repository(seeded.repository)
    image = repo.images.get_by_tag("multi")
    assert (image.digest, image.tag, image.repository) == (
        seeded.index.digest, "multi", seeded.repository)
    assert [str(p) for p in image.platforms] == ["linux/amd64", "linux/arm64/v8"]
    by_digest = repo.images.get_by_digest(seeded.image.digest)
    assert by_digest.tag is None and [str(p) for p in by_digest.platforms] == ["linux/amd64"]
    [details] = repo.images.details("1.0")
    assert details.digest == seeded.image.digest
    assert details.size == sum(len(b) for b in seeded.image.blobs.values())
    assert details.labels == {"test": "flavours"}


def test_pull_then_push(
    flavour: Flavour, reg: LocalRegistry, rc: Registry, seeded: Seeded, tmp_path: Path
) -> None:
    client = flavour.connect(reg)
    source = client.repository(seeded.repository)
    events: list[ProgressEvent] = []
    pulled = source.images.pull("multi", tmp_path, progress=events.append)
    assert (pulled.digest, pulled.tag) == (seeded.index.digest, "multi")
    assert layout_entry(tmp_path, "multi")["digest"] == seeded.index.digest
    assert set(layout_blobs(tmp_path)) == {*seeded.index.manifests(), *seeded.index.blobs}
    assert {e.digest for e in events if isinstance(e, BlobFinished)} == set(seeded.index.blobs)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith((".partial", ".tmp"))]

    log = LogWindow(reg, seeded.repository)
    events.clear()
    again = source.images.pull("multi", tmp_path, progress=events.append)
    assert again.digest == seeded.index.digest
    assert log.blob_reads() == []  # every blob was there and valid
    assert {e.digest for e in events if isinstance(e, BlobSkipped)} == set(seeded.index.blobs)

    arm = seeded.index.child("linux/arm64/v8")
    one = source.images.pull("multi", tmp_path / "arm", platform="linux/arm64/v8")
    assert one.digest == arm.digest
    assert set(layout_blobs(tmp_path / "arm")) == {arm.digest, *arm.blobs}

    target = client.repository(fresh(reg, "pushed"))
    pushed = target.images.push(tmp_path, "multi")
    assert (pushed.digest, pushed.tag, pushed.domain) == (seeded.index.digest, "multi", reg.host)
    check = rc.repository(pushed.repository)
    assert check.manifests.get_raw("multi").data == seeded.index.manifest
    for digest, data in seeded.index.blobs.items():
        assert check.blobs.get(digest) == data


def test_copy_within_a_registry_mounts(
    flavour: Flavour, reg: LocalRegistry, rc: Registry, seeded: Seeded
) -> None:
    client = flavour.connect(reg)
    target = client.repository(fresh(reg, "copy"))
    log = LogWindow(reg, target.name)
    events: list[ProgressEvent] = []
    image = client.repository(seeded.repository).images.copy(
        "1.0", target, progress=events.append)
    assert (image.digest, image.tag, image.repository) == (
        seeded.image.digest, "1.0", target.name)
    writes = [e for e in log.upload_writes() if e.status != 401]
    assert writes and all(e.method == "POST" and "mount=" in e.query for e in writes)
    assert {e.digest for e in events if isinstance(e, BlobMounted)} == set(seeded.image.blobs)
    assert rc.repository(target.name).manifests.get_raw("1.0").data == seeded.image.manifest
    retagged = target.images.retag("1.0", "stable")
    assert (retagged.digest, retagged.tag) == (seeded.image.digest, "stable")


def test_copy_across_registries_with_referrers_and_dry_run(
    flavour: Flavour, reg: LocalRegistry, rc: Registry, other_reg: LocalRegistry,
    seeded: Seeded,
) -> None:
    name = fresh(reg, "referred")
    source_repo = rc.repository(name)
    upload_image(source_repo, seeded.image, "1.0")
    sbom = source_repo.images.attach(seeded.image.digest, SBOM, [b'{"spdxVersion":"2.3"}'])
    client, other = flavour.connect(reg), flavour.connect(other_reg)
    source = client.repository(name)
    target = other.repository(fresh(reg, "across"))

    plan = source.images.copy("1.0", target, referrers=True, dry_run=True)
    assert isinstance(plan, CopyPlan)
    assert {b.digest for b in plan.blobs} == set(seeded.image.blobs)
    assert {b.action for b in plan.blobs} == {"transfer"}
    assert [r.manifests[-1] for r in plan.referrers] == [sbom.digest]
    assert plan.bytes_to_transfer >= sum(len(b) for b in seeded.image.blobs.values())
    with Registry(other_reg.host, protocol="http") as check:
        with pytest.raises(NotFoundError):  # a dry run writes nothing
            check.repository(target.name).manifests.head("1.0")

        image = source.images.copy("1.0", target, referrers=True)
        assert (image.digest, image.domain) == (seeded.image.digest, other_reg.host)
        copied = check.repository(target.name)
        assert copied.manifests.get_raw("1.0").data == seeded.image.manifest
        assert [d.digest for d in copied.manifests.referrers(seeded.image.digest)] == [
            sbom.digest]


def test_registry_listings(flavour: Flavour, reg: LocalRegistry, seeded: Seeded) -> None:
    client = flavour.connect(reg)
    client.ping()
    names = [r.name for r in client.repositories()]
    assert seeded.repository in names
    assert seeded.repository in [r.name for r in client.iter_repositories(page_size=5)]
    assert seeded.repository in client.search(seeded.repository.split("/")[1])
    assert client.repository_from_string(f"{reg.host}/{seeded.repository}").name == (
        seeded.repository)


def test_blob_transfers_are_bounded_by_max_workers(
    flavour: Flavour, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path
) -> None:
    """Six layers, max_workers=2: blob GETs arrive two at a time, never more."""
    image = seed_image(anon_registry, unique_repository, "1.0", layers=(1000,) * 6, media="oci")
    with FaultProxy(anon_registry) as proxy:
        proxy.add_rule("GET", r"/blobs/sha256:", action="delay", delay=0.3, times=None)
        client = flavour.connect(anon_registry, host=proxy.host, max_workers=2)
        assert client.repository(unique_repository).images.pull("1.0", tmp_path).digest == (
            image.digest)
        arrivals = sorted(r.time for r in proxy.requests
                          if r.method == "GET" and "/blobs/sha256:" in r.path)
    assert len(arrivals) == len(image.blobs)
    at_once = [sum(1 for u in arrivals if t <= u < t + 0.25) for t in arrivals]
    assert max(at_once) == 2, at_once


def test_a_429_pauses_every_caller_together(
    flavour: Flavour, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    """Eight callers (threads here: with the asyncio view, each call is a task on the loop)
    read manifests; the 10th GET of one tag is a 429 with Retry-After: 1. Nothing reaches
    the registry during that second (but what was already on its way), then all go on."""
    tags = [f"t{i}" for i in range(8)]
    image = seed_tags(anon_registry, unique_repository, tags)
    with FaultProxy(anon_registry) as proxy:
        proxy.add_rule("GET", r"/manifests/t3$", action="status", status=429, retry_after=1,
                       every=10, times=1)
        proxy.add_rule("GET", r"/manifests/", action="delay", delay=0.01, times=None)
        repo = flavour.connect(anon_registry, host=proxy.host, backoff=0.01).repository(
            unique_repository)
        with ThreadPoolExecutor(len(tags)) as pool:
            results = list(pool.map(
                lambda t: [repo.manifests.get_raw(t).digest for _ in range(30)], tags))
        gets = [r for r in proxy.requests if r.method == "GET" and "/manifests/" in r.path]
    assert results == [[image.digest] * 30] * len(tags)
    [limited] = [r for r in gets if r.status == 429]
    later = [r for r in gets if r.time > limited.time + 0.05]
    assert [r.path for r in later if r.time < limited.time + 0.95] == []
    for tag in tags:
        assert any(r.path.endswith(f"/manifests/{tag}") for r in later), tag


# -- errors: the same types with the same messages as the blocking API --------------------------


ERROR_CASES = {
    "missing tag": lambda repo, d: repo.manifests.get("no-such-tag"),
    "missing digest": lambda repo, d: repo.manifests.get_raw(sha256(b"nothing")),
    "missing blob": lambda repo, d: repo.blobs.get(sha256(b"nothing")),
    "missing blob download": lambda repo, d: repo.blobs.download(sha256(b"no"), d / "x"),
    "missing tag delete": lambda repo, d: repo.tags.delete("no-such-tag"),
    "missing platform": lambda repo, d: repo.images.pull("multi", d / "p",
                                                         platform="linux/s390x"),
    "invalid tag": lambda repo, d: repo.manifests.get("Not A Tag!"),
    "invalid digest": lambda repo, d: repo.blobs.get("sha256:short"),
    "missing image pull": lambda repo, d: repo.images.pull("no-such-tag", d / "q"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES), ids=list(ERROR_CASES))
def test_errors_match_the_blocking_api(
    flavour: Flavour, reg: LocalRegistry, rc: Registry, seeded: Seeded, tmp_path: Path,
    case: str,
) -> None:
    call = ERROR_CASES[case]
    expected = error_of(lambda: call(rc.repository(seeded.repository), tmp_path / "sync"))
    assert isinstance(expected, NotFoundError | InvalidReferenceError | PlatformNotFoundError
                      | ValueError)
    repo = flavour.connect(reg).repository(seeded.repository)
    got = error_of(lambda: call(repo, tmp_path / "flavour"))
    assert (type(got), str(got)) == (type(expected), str(expected).replace(
        str(tmp_path / "sync"), str(tmp_path / "flavour")))


def test_missing_repository_is_the_same_not_found(
    flavour: Flavour, reg: LocalRegistry, rc: Registry
) -> None:
    name = fresh(reg, "never-pushed")
    expected = error_of(lambda: rc.repository(name).tags.get_all())
    repo = flavour.connect(reg).repository(name)
    got = error_of(lambda: repo.tags.get_all())
    assert isinstance(expected, NotFoundError)
    assert (type(got), str(got)) == (type(expected), str(expected))


def test_a_download_cut_too_often_fails_as_in_the_blocking_api(
    flavour: Flavour, reg: LocalRegistry, seeded: Seeded, tmp_path: Path,
) -> None:
    layer = seeded.image.layers[0]
    with FaultProxy(reg, timeout=5) as proxy:
        proxy.add_rule("GET", "/blobs/sha256:", action="cut", after_bytes=100, times=None)
        blocking = Registry(proxy.host, protocol="http",
                            authenticator=admin_authenticator(reg), backoff=0.01)
        with blocking:
            expected = error_of(lambda: blocking.repository(seeded.repository).blobs.download(
                layer, tmp_path / "sync"))
        repo = flavour.connect(reg, host=proxy.host, backoff=0.01).repository(seeded.repository)
        got = error_of(lambda: repo.blobs.download(layer, tmp_path / "flavour"))
    assert isinstance(expected, RegistryUnavailableError)
    assert "could not be resumed (the connection broke" in str(expected)
    assert (type(got), str(got)) == (type(expected), str(expected))
