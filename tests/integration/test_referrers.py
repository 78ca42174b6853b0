"""OCI 1.1 referrers against a real Distribution 2.8, which has no referrers API.

Attaching an artifact there must fall back to the referrers tag schema: the image's
``sha256-<hex>`` tag holds an OCI index whose entries carry ``artifactType`` and
annotations. Listing, filtering, a second artifact, and ``copy(..., referrers=True)``
to another registry are checked on the real thing; the registry *with* the API is
covered by ``tests/unit/services/test_referrers.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from registry_client import NotFoundError, Registry, RegistryResponseError
from registry_client.sync import copy_all_tags
from registry_client.testing import LocalRegistry, LocalRegistryFactory, seed_image

pytestmark = pytest.mark.integration

ClientFactory = Callable[..., Registry]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
SBOM = "application/spdx+json"
SIG = "application/vnd.example.signature.v1"
TITLE = "org.opencontainers.image.title"
PLATFORMS = ["linux/amd64", "linux/arm64/v8"]


def fallback_tag(digest: str) -> str:
    return digest.replace(":", "-")


@pytest.fixture(scope="module")
def second_registry(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """Another anonymous registry, the target of copies with referrers."""
    return local_registry_factory("anonymous")


@pytest.fixture
def sbom_file(tmp_path: Path) -> Path:
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "app"}))
    return path


def test_attach_lists_through_the_referrers_tag_schema(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
    sbom_file: Path,
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0")
    repo = client_for(anon_registry).repository(unique_repository)
    assert repo.manifests.referrers(image.digest) == []

    sbom = repo.images.attach(image.digest, SBOM, [sbom_file], {"org.example.tool": "syft"})
    [listed] = repo.manifests.referrers(image.digest)
    assert listed.digest == sbom.digest
    assert listed.artifact_type == SBOM
    assert listed.annotations == {"org.example.tool": "syft"}

    # The fallback: the tag exists and holds an OCI index with artifactType + annotations.
    tag = fallback_tag(image.digest)
    assert tag in repo.tags.get_all()
    raw = repo.manifests.get_raw(tag)
    assert raw.media_type == OCI_INDEX
    doc = json.loads(raw.data)
    assert doc["manifests"] == [{
        "mediaType": OCI_MANIFEST, "digest": sbom.digest, "size": sbom.size,
        "annotations": {"org.example.tool": "syft"}, "artifactType": SBOM,
    }]

    # The artifact itself: empty config, the file as a titled layer, the image as subject.
    artifact = json.loads(repo.manifests.get_raw(sbom.digest).data)
    assert artifact["artifactType"] == SBOM
    assert artifact["config"]["digest"] == EMPTY_DIGEST
    assert artifact["subject"]["digest"] == image.digest
    assert artifact["subject"]["mediaType"] == image.media_type
    [layer] = artifact["layers"]
    assert layer["annotations"] == {TITLE: "sbom.spdx.json"}
    assert repo.blobs.get(layer["digest"]) == sbom_file.read_bytes()


def test_second_artifact_and_filters(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
    sbom_file: Path,
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0")
    repo = client_for(anon_registry).repository(unique_repository)
    sbom = repo.images.attach("1.0", SBOM, [sbom_file])
    sig = repo.images.attach("1.0", SIG, [(b"signature bytes", SIG)], {"signer": "ci"})
    assert sbom.digest != sig.digest

    both = repo.manifests.referrers(image.digest)
    assert {(d.digest, d.artifact_type) for d in both} == {
        (sbom.digest, SBOM), (sig.digest, SIG),
    }
    assert [d.digest for d in repo.manifests.referrers(image.digest, SBOM)] == [sbom.digest]
    [only_sig] = repo.manifests.referrers(image.digest, artifact_type=SIG)
    assert (only_sig.digest, only_sig.annotations) == (sig.digest, {"signer": "ci"})
    assert repo.manifests.referrers(image.digest, "application/nothing") == []
    index = json.loads(repo.manifests.get_raw(fallback_tag(image.digest)).data)
    assert [m["artifactType"] for m in index["manifests"]] == [SBOM, SIG]

    # Attaching the same artifact again does not list it twice.
    repo.images.attach("1.0", SBOM, [sbom_file])
    assert len(repo.manifests.referrers(image.digest)) == 2


def test_missing_api_costs_one_round_trip_per_registry(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0")
    client = client_for(anon_registry)
    repo = client.repository(unique_repository)
    repo.images.attach("1.0", SIG, [b"one"])
    for _ in range(3):
        assert len(client.repository(unique_repository).manifests.referrers(image.digest)) == 1
    assert client.requester.capabilities["referrers_api"] is False
    path = f"/v2/{unique_repository}/referrers/"
    assert anon_registry.request_count("GET", path) == 1
    assert anon_registry.request_count("GET", path, status=404) == 1


def test_copy_with_referrers_to_another_registry(
    anon_registry: LocalRegistry, second_registry: LocalRegistry, unique_repository: str,
    client_for: ClientFactory, sbom_file: Path,
) -> None:
    index = seed_image(anon_registry, unique_repository, "2.0", platforms=PLATFORMS,
                       media="oci")
    source = client_for(anon_registry).repository(unique_repository)
    sbom = source.images.attach("2.0", SBOM, [sbom_file], {"scope": "index"})
    child = index.children[1].digest
    sig = source.images.attach(child, SIG, [(b"arm64 signature", SIG)])

    target_client = client_for(second_registry)
    target = target_client.repository(unique_repository)
    plan = source.images.copy("2.0", target, referrers=True, dry_run=True)
    assert {r.manifests[-1] for r in plan.referrers} == {sbom.digest, sig.digest}
    # every blob moves once: the empty config both artifacts share is sent by the first
    moving = [b for b in plan.blobs] + [b for r in plan.referrers for b in r.blobs]
    transfers = [b.digest for b in moving if b.action == "transfer"]
    assert sorted(transfers) == sorted({b.digest for b in moving})
    assert EMPTY_DIGEST in transfers
    assert plan.bytes_to_transfer == sum({b.digest: b.size for b in moving}.values())
    assert [r["manifests"] for r in plan.to_dict()["referrers"]]  # type: ignore[index]
    with pytest.raises(NotFoundError):  # a plan writes nothing: no such repository yet
        target.tags.get_all()
    copied = source.images.copy("2.0", target, referrers=True)
    assert copied.digest == index.digest
    assert copied.domain == second_registry.host

    [there] = target.manifests.referrers(index.digest)
    assert (there.digest, there.artifact_type, there.annotations) == (
        sbom.digest, SBOM, {"scope": "index"},
    )
    [child_sig] = target.manifests.referrers(child, SIG)
    assert child_sig.digest == sig.digest
    assert target.manifests.referrers(index.children[0].digest) == []
    # The artifacts arrived whole, with their blobs, and their fallback indexes were written.
    layer = json.loads(target.manifests.get_raw(sbom.digest).data)["layers"][0]
    assert target.blobs.get(layer["digest"]) == sbom_file.read_bytes()
    assert set(target.tags.get_all()) == {
        "2.0", fallback_tag(index.digest), fallback_tag(child),
    }
    assert target_client.requester.capabilities["referrers_api"] is False


def test_copy_without_referrers_leaves_them_behind(
    anon_registry: LocalRegistry, second_registry: LocalRegistry, unique_repository: str,
    client_for: ClientFactory,
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0")
    source = client_for(anon_registry).repository(unique_repository)
    source.images.attach("1.0", SIG, [b"sig"])
    target = client_for(second_registry).repository(unique_repository)
    source.images.copy("1.0", target)
    assert target.manifests.referrers(image.digest) == []
    assert target.tags.get_all() == ["1.0"]


def test_copy_with_referrers_within_one_registry_mounts(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0")
    client = client_for(anon_registry)
    source = client.repository(unique_repository)
    sig = source.images.attach("1.0", SIG, [b"mounted signature"])
    target = client.repository(f"{unique_repository}-mirror")
    source.images.copy("1.0", target, "mirrored", referrers=True)
    assert [d.digest for d in target.manifests.referrers(image.digest)] == [sig.digest]
    assert anon_registry.request_count(
        "PUT", f"/v2/{unique_repository}-mirror/blobs/uploads/") == 0


def test_attach_and_list_with_token_auth(
    token_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    image = seed_image(token_registry, unique_repository, "1.0")
    repo = client_for(token_registry).repository(unique_repository)
    sig = repo.images.attach("1.0", SIG, [b"token-mode signature"])
    assert [d.digest for d in repo.manifests.referrers(image.digest, SIG)] == [sig.digest]
    reader = client_for(token_registry, "reader").repository(unique_repository)
    assert [d.artifact_type for d in reader.manifests.referrers(image.digest)] == [SIG]


def test_copy_with_referrers_of_a_nested_index_copies_what_its_plan_lists(
    anon_registry: LocalRegistry, second_registry: LocalRegistry, unique_repository: str,
    client_for: ClientFactory,
) -> None:
    """Referrers of manifests inside a nested index are copied, as the dry run plans."""
    from registry_client import RawManifest

    inner = seed_image(anon_registry, unique_repository, "inner", platforms=PLATFORMS,
                       media="oci")
    source = client_for(anon_registry).repository(unique_repository)
    inner_raw = source.manifests.get_raw("inner")
    top = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_INDEX, "digest": inner_raw.digest, "size": len(inner_raw.data)},
    ]}).encode()
    from registry_client._digest import compute_digest

    source.manifests.put("top", RawManifest(top, OCI_INDEX, compute_digest(top)))
    arm = inner.children[1].digest
    sig = source.images.attach(arm, SIG, [(b"arm64 signature", SIG)])
    target = client_for(second_registry).repository(unique_repository + "-nested")
    plan = source.images.copy("top", target, referrers=True, dry_run=True)
    assert [r.manifests[-1] for r in plan.referrers] == [sig.digest]
    source.images.copy("top", target, referrers=True)
    assert [d.digest for d in target.manifests.referrers(arm, SIG)] == [sig.digest]


# -- the referrers tag schema is every write's duty (dist-spec "Unavailable Referrers API") --
def test_deleting_an_artifact_takes_it_out_of_the_referrers_tag(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    """dist-spec "Deleting Manifests": without the API, a client deleting a manifest with a
    subject SHOULD remove it from the referrers tag's index -- and a later attach works."""
    image = seed_image(anon_registry, unique_repository, "1.0")
    repo = client_for(anon_registry).repository(unique_repository)
    sbom = repo.images.attach("1.0", SBOM, [(b"sbom", SBOM)])
    sig = repo.images.attach("1.0", SIG, [(b"sig", SIG)])
    repo.manifests.delete(sbom.digest)
    assert [d.digest for d in repo.manifests.referrers(image.digest)] == [sig.digest]
    repo.images.delete_by_digest(sig.digest)
    assert repo.manifests.referrers(image.digest) == []
    again = repo.images.attach("1.0", SIG, [(b"sig 2", SIG)])
    assert [d.digest for d in repo.manifests.referrers(image.digest)] == [again.digest]


def test_attach_drops_an_entry_whose_manifest_another_client_deleted(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    """crane delete leaves the referrers tag alone: the stale entry would make the
    registry refuse the next index (MANIFEST_BLOB_UNKNOWN); attach drops it instead."""
    image = seed_image(anon_registry, unique_repository, "1.0")
    repo = client_for(anon_registry).repository(unique_repository)
    gone = repo.images.attach("1.0", SIG, [(b"gone", SIG)])
    kept = repo.images.attach("1.0", SIG, [(b"kept", SIG)])
    answer = requests.delete(f"{anon_registry.url}/v2/{unique_repository}/manifests/{gone.digest}",
                             timeout=10)
    assert answer.status_code == 202
    heads = anon_registry.request_count("HEAD", "/manifests/")
    new = repo.images.attach("1.0", SBOM, [(b"new", SBOM)])
    assert [d.digest for d in repo.manifests.referrers(image.digest)] == [kept.digest, new.digest]
    # the registry names the manifest it does not know: no HEAD of every entry to find it
    # (an index of thousands of signatures cost thousands of HEADs) -- one more than an
    # attach with nothing to drop sends: the named one's
    pruning = anon_registry.request_count("HEAD", "/manifests/") - heads
    heads = anon_registry.request_count("HEAD", "/manifests/")
    repo.images.attach("1.0", SBOM, [(b"plain", SBOM)])
    assert pruning == anon_registry.request_count("HEAD", "/manifests/") - heads + 1


def test_every_put_of_a_manifest_with_a_subject_updates_the_referrers_tag(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
    tmp_path: Path,
) -> None:
    """dist-spec: a client pushing a manifest with a subject to a registry without the
    API MUST update the referrers tag -- copy of the artifact, push of a layout holding
    it and a plain manifests.put alike, not only attach and copy(referrers=True)."""
    image = seed_image(anon_registry, unique_repository, "1.0", media="oci")
    client = client_for(anon_registry)
    source = client.repository(unique_repository)
    art = source.images.attach(image.digest, SBOM, [(b"sbom", SBOM)], {"k": "v"})
    raw = source.manifests.get_raw(art.digest)

    copied = client.repository(unique_repository + "-copied")
    source.images.copy("1.0", copied)
    source.images.copy(art.digest, copied)
    source.images.pull(art.digest, tmp_path / "layout")
    pushed = client.repository(unique_repository + "-pushed")
    source.images.copy("1.0", pushed)
    pushed.images.push(tmp_path / "layout", "sbom")
    put = client.repository(unique_repository + "-put")
    source.images.copy("1.0", put)
    for layer in json.loads(raw.data)["layers"] + [json.loads(raw.data)["config"]]:
        put.blobs.mount(layer["digest"], unique_repository)
    put.manifests.put(art.digest, raw)

    for target in (copied, pushed, put):
        [listed] = target.manifests.referrers(image.digest)
        assert (listed.digest, listed.artifact_type, listed.annotations) == (
            art.digest, SBOM, {"k": "v"}), target.name
        index = json.loads(target.manifests.get_raw(fallback_tag(image.digest)).data)
        assert index["manifests"] == [{
            "mediaType": OCI_MANIFEST, "digest": art.digest, "size": len(raw.data),
            "annotations": {"k": "v"}, "artifactType": SBOM}], target.name


def test_a_delete_drops_stale_entries_too_so_its_own_entry_goes(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    """An entry another client left (its manifest deleted by crane) made Distribution
    refuse the index the delete puts back: the deleted referrer stayed listed."""
    image = seed_image(anon_registry, unique_repository, "1.0")
    repo = client_for(anon_registry).repository(unique_repository)
    gone = repo.images.attach("1.0", SIG, [(b"gone", SIG)])
    deleted = repo.images.attach("1.0", SIG, [(b"deleted", SIG)])
    kept = repo.images.attach("1.0", SIG, [(b"kept", SIG)])
    answer = requests.delete(f"{anon_registry.url}/v2/{unique_repository}/manifests/{gone.digest}",
                             timeout=10)
    assert answer.status_code == 202
    repo.manifests.delete(deleted.digest)
    assert [d.digest for d in repo.manifests.referrers(image.digest)] == [kept.digest]


def test_an_image_manifest_with_an_empty_artifact_type_is_listed_by_its_config_type(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    """dist-spec: artifactType "empty or missing" MUST be the config's mediaType."""
    from registry_client import RawManifest
    from registry_client._digest import compute_digest

    image = seed_image(anon_registry, unique_repository, "1.0", media="oci")
    repo = client_for(anon_registry).repository(unique_repository)
    config = b"{}"
    config_desc = repo.blobs.upload(config)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "",
           "config": {"mediaType": "application/vnd.example.cfg+json",
                      "digest": config_desc.digest, "size": len(config)},
           "layers": [{"mediaType": "application/vnd.example.cfg+json",
                       "digest": config_desc.digest, "size": len(config)}],
           "subject": {"mediaType": image.media_type, "digest": image.digest,
                       "size": image.size}}
    data = json.dumps(doc).encode()
    repo.manifests.put(compute_digest(data), RawManifest(data, OCI_MANIFEST, compute_digest(data)))
    [listed] = repo.manifests.referrers(image.digest, "application/vnd.example.cfg+json")
    assert listed.artifact_type == "application/vnd.example.cfg+json"


def test_a_referrers_tag_that_holds_no_index_means_no_referrers(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    """dist-spec: a tag schema tag that is not a valid index: assume no referrers (as
    oras-go does); an attach then reports a failure and leaves the tag as it is
    ("Pushing Manifests with Subject": the client SHOULD report a failure and skip the
    remaining steps) -- the image someone tagged so stays -- and once the tag is gone,
    the next attach makes an index of it."""
    image = seed_image(anon_registry, unique_repository, "1.0")
    other = seed_image(anon_registry, unique_repository, "other", seed=7)
    repo = client_for(anon_registry).repository(unique_repository)
    tag = fallback_tag(image.digest)
    repo.images.retag(other.digest, tag)  # an image under that tag
    assert repo.manifests.referrers(image.digest) == []
    with pytest.raises(RegistryResponseError, match=f"{tag} .*holds a .*left as it is"):
        repo.images.attach("1.0", SIG, [(b"sig", SIG)])
    assert repo.manifests.head(tag).digest == other.digest
    repo.tags.delete(tag)
    sig = repo.images.attach("1.0", SIG, [(b"sig", SIG)])
    assert [d.digest for d in repo.manifests.referrers(image.digest)] == [sig.digest]


def test_copying_many_referrers_of_one_image_at_once_lists_them_all(
    anon_registry: LocalRegistry, second_registry: LocalRegistry, unique_repository: str,
    client_for: ClientFactory,
) -> None:
    """copy_all_tags of a repository whose tagged artifacts refer to one image (as oras
    pushes them to a registry with the referrers API, or one that lost its referrers
    tag): each copy of an artifact updated the target's referrers tag by a read and a
    write, four at once, and the writers overwrote each other -- 3 or 4 of 8 listed."""
    image = seed_image(anon_registry, unique_repository, "1.0")
    source = client_for(anon_registry).repository(unique_repository)
    arts = [source.images.attach(image.digest, SIG, [(b"sig %d" % i, SIG)])
            for i in range(8)]
    for i, art in enumerate(arts):
        source.manifests.put(f"sig-{i}", source.manifests.get_raw(art.digest))
    index = source.manifests.head(fallback_tag(image.digest)).digest
    answer = requests.delete(f"{anon_registry.url}/v2/{unique_repository}/manifests/{index}",
                             timeout=10)
    assert answer.status_code == 202  # the source has no referrers tag any more
    target = client_for(second_registry).repository(unique_repository)
    copy_all_tags(source, target, max_workers=4)
    assert sorted(d.digest for d in target.manifests.referrers(image.digest)) == sorted(
        a.digest for a in arts)
