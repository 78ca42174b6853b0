"""Retention plans and their application against a real Distribution 2.8.

One repository of 30 tags: 29 images with distinct digests, ages 0, 3, 6 ... 84 days
(``created`` in their configs), one of them a 2-platform manifest list, plus an alias
tag that shares the digest of an image kept by a pattern. The policy keeps the 5
newest, the 3 highest semantic versions and ``release-*``, and deletes what is older
than 30 days among the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from registry_client import NotFoundError, Registry, Repository, retention
from registry_client.testing import LocalRegistry, SeededImage, seed_image, seed_tags

pytestmark = pytest.mark.integration

ClientFactory = Callable[..., Registry]
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
INDEX_AT = 13
ALIAS, ALIASED = "nightly-14", "release-14"


def tag_name(i: int) -> str:
    if i % 3 == 0:
        return f"v1.{i}.0"  # semver: v1.0.0 ... v1.27.0
    if i % 3 == 1:
        return f"build-{i}"
    return f"release-{i}" if i % 6 == 2 else f"feature-{i}"


def expected_deleted() -> set[str]:
    """Written out from the rules, independently of the implementation."""
    gone = set()
    for i in range(29):
        name = tag_name(i)
        older = 3 * i > 30
        newest_five = i < 5
        top_semver = name in {"v1.27.0", "v1.24.0", "v1.21.0"}
        if older and not newest_five and not top_semver and not name.startswith("release-"):
            gone.add(name)
    return gone | {ALIAS}


@dataclass
class Seeded:
    repository: str
    images: dict[str, SeededImage]

    def blob_bytes(self, tag: str) -> int:
        return sum(len(b) for b in self.images[tag].blobs.values())


@pytest.fixture
def seeded(anon_registry: LocalRegistry, unique_repository: str) -> Seeded:
    images: dict[str, SeededImage] = {}
    for i in range(29):
        images[tag_name(i)] = seed_image(
            anon_registry, unique_repository, tag_name(i), seed=i,
            created=NOW - dt.timedelta(days=3 * i),
            platforms=["linux/amd64", "linux/arm64/v8"] if i == INDEX_AT else None,
        )
    images[ALIAS] = seed_tags(
        anon_registry, unique_repository, [ALIAS], seed=14,
        created=NOW - dt.timedelta(days=42),
    )
    assert images[ALIAS].digest == images[ALIASED].digest
    return Seeded(unique_repository, images)


def make_plan(repo: Repository) -> retention.RetentionPlan:
    return retention.plan(
        repo, keep=5, keep_semver=3, keep_patterns=["release-*"], older_than="30d", now=NOW,
    )


def test_plan_selects_exactly_what_the_policy_says(
    anon_registry: LocalRegistry, seeded: Seeded, client_for: ClientFactory,
) -> None:
    repo = client_for(anon_registry).repository(seeded.repository)
    plan = make_plan(repo)
    assert plan.repository == seeded.repository
    assert {d.tag for d in plan.delete} == expected_deleted()
    assert {d.tag for d in plan.keep} == set(seeded.images) - expected_deleted()
    assert len(plan.delete) + len(plan.keep) == 30
    for d in [*plan.delete, *plan.keep]:
        assert d.digest == seeded.images[d.tag].digest
    # created comes from the config blobs (an index: its first platform's config)
    by_tag = {d.tag: d for d in [*plan.delete, *plan.keep]}
    assert by_tag["v1.0.0"].created == NOW
    assert by_tag[f"build-{INDEX_AT}"].created == NOW - dt.timedelta(days=3 * INDEX_AT)
    assert by_tag["feature-23"].reason == "older than 30d (69 days old)"
    assert by_tag["build-4"].reason.startswith("newest 5 (#5)")
    assert "top 3 semver (#1)" in by_tag["v1.27.0"].reason
    assert by_tag["release-26"].reason == "matches 'release-*'"
    assert by_tag["build-10"].reason == "newer than 30d"  # exactly 30 days: not older
    # newest first in both lists
    kept_times = [d.created for d in plan.keep if d.created is not None]
    assert len(kept_times) == len(plan.keep)
    assert kept_times == sorted(kept_times, reverse=True)


def test_bytes_freed_count_only_blobs_no_kept_manifest_uses(
    anon_registry: LocalRegistry, seeded: Seeded, client_for: ClientFactory,
) -> None:
    plan = make_plan(client_for(anon_registry).repository(seeded.repository))
    frees = {d.tag: d.frees for d in plan.delete}
    assert frees["feature-23"] == seeded.blob_bytes("feature-23")
    # the manifest list: configs and layers of both platforms
    index = seeded.images[f"build-{INDEX_AT}"]
    assert frees[f"build-{INDEX_AT}"] == seeded.blob_bytes(f"build-{INDEX_AT}")
    assert frees[f"build-{INDEX_AT}"] == sum(
        len(b) for child in index.children for b in child.blobs.values()
    )
    # the alias shares its digest with a kept tag: deleting it frees nothing
    alias = next(d for d in plan.delete if d.tag == ALIAS)
    assert alias.frees == 0
    assert f"also tagged {ALIASED}" in alias.reason
    assert plan.frees == sum(seeded.blob_bytes(t) for t in expected_deleted() - {ALIAS})


def test_apply_deletes_only_the_planned_tags(
    anon_registry: LocalRegistry, seeded: Seeded, client_for: ClientFactory,
) -> None:
    repo = client_for(anon_registry).repository(seeded.repository)
    plan = make_plan(repo)
    deleted = retention.apply(repo, plan)
    assert set(deleted) == expected_deleted()
    left = repo.tags.get_all(with_digests=True)
    assert set(left) == set(seeded.images) - expected_deleted()
    for tag, digest in left.items():  # every kept tag still resolves, to the same image
        assert digest == seeded.images[tag].digest
        assert repo.manifests.head(tag).digest == digest
    # the alias went, the tag sharing its digest stayed
    with pytest.raises(NotFoundError):
        repo.manifests.head(ALIAS)
    assert repo.images.get_by_tag(ALIASED).digest == seeded.images[ALIAS].digest


def test_apply_skips_a_tag_pushed_again_since_the_plan(
    anon_registry: LocalRegistry, seeded: Seeded, client_for: ClientFactory,
) -> None:
    repo = client_for(anon_registry).repository(seeded.repository)
    plan = make_plan(repo)
    moved = seed_image(anon_registry, seeded.repository, "feature-23", seed=999,
                       created=NOW - dt.timedelta(days=100))
    repo.tags.delete("build-28")  # someone else was faster
    deleted = retention.apply(repo, plan)
    assert "feature-23" not in deleted and "build-28" not in deleted
    assert set(deleted) == expected_deleted() - {"feature-23", "build-28"}
    assert repo.manifests.head("feature-23").digest == moved.digest


def test_apply_skips_a_tag_pushed_again_between_its_check_and_its_delete(
    anon_registry: LocalRegistry, seeded: Seeded, client_for: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CI pushes the tag again right before its delete: the delete itself reads the tag
    (Distribution's tombstone delete does; apply reads it no other way there) and must
    leave the new image alone."""
    repo = client_for(anon_registry).repository(seeded.repository)
    plan = make_plan(repo)
    flows = repo.tags.flows
    delete_at = flows.delete_at
    pushed: list[str] = []

    def push_then_delete(tag: str, digest: str) -> Any:
        if tag == "feature-23":
            pushed.append(seed_image(anon_registry, seeded.repository, "feature-23",
                                     seed=998).digest)
        return (yield from delete_at(tag, digest))

    monkeypatch.setattr(flows, "delete_at", push_then_delete)
    deleted = retention.apply(repo, plan)
    assert pushed and "feature-23" not in deleted
    assert set(deleted) == expected_deleted() - {"feature-23"}
    assert repo.manifests.head("feature-23").digest == pushed[0]


def test_shared_digest_deleted_twice_is_counted_once(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    old = seed_tags(anon_registry, unique_repository, ["old-a", "old-b"],
                    created=NOW - dt.timedelta(days=90), seed=1)
    seed_image(anon_registry, unique_repository, "fresh", seed=2, created=NOW)
    repo = client_for(anon_registry).repository(unique_repository)
    plan = retention.plan(repo, older_than=dt.timedelta(weeks=2), now=NOW)
    assert {d.tag for d in plan.delete} == {"old-a", "old-b"}
    assert sorted(d.frees for d in plan.delete) == [0, sum(len(b) for b in old.blobs.values())]
    assert retention.apply(repo, plan) == [d.tag for d in plan.delete]
    assert repo.tags.get_all() == ["fresh"]


def test_keep_n_alone_and_semver_alone(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    for i, tag in enumerate(["v2.0.0", "2.1.0-rc.1", "2.1.0", "v10.0.0", "latest", "1.9"]):
        seed_image(anon_registry, unique_repository, tag, seed=i,
                   created=NOW - dt.timedelta(hours=i))
    repo = client_for(anon_registry).repository(unique_repository)
    newest = retention.plan(repo, keep=2, now=NOW)
    assert [d.tag for d in newest.keep] == ["v2.0.0", "2.1.0-rc.1"]
    semver = retention.plan(repo, keep_semver=2, keep_patterns=["latest"], now=NOW)
    assert {d.tag for d in semver.keep} == {"v10.0.0", "2.1.0", "latest"}
    # "1.9" is not semver: not ranked by keep_semver, so it goes
    assert {d.tag for d in semver.delete} == {"v2.0.0", "2.1.0-rc.1", "1.9"}


def test_referrers_tags_and_unknown_ages_are_kept(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    image = seed_image(anon_registry, unique_repository, "old", seed=3,
                       created=NOW - dt.timedelta(days=400))
    repo = client_for(anon_registry).repository(unique_repository)
    repo.images.attach("old", "application/vnd.example.sig", [b"sig"])
    plan = retention.plan(repo, keep=0, older_than="1d", now=NOW)
    assert [d.tag for d in plan.delete] == ["old"]
    [kept] = plan.keep
    assert kept.tag == image.digest.replace(":", "-")
    assert kept.created is None
    assert "referrers tag schema index" in kept.reason
    # cosign's tags named after a digest are kept too, and said to be cosign's
    repo.images.retag("old", f"{image.digest.replace(':', '-')}.sig")
    plan = retention.plan(repo, keep=0, older_than="1d", now=NOW)
    [cosign] = [d for d in plan.keep if d.tag.endswith(".sig")]
    assert cosign.reason.startswith("cosign signature tag")


def test_a_cosign_tag_takes_none_of_the_newest_n_slots(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    """A cosign attestation with its creation time recorded (cosign attest
    --record-creation-timestamp) was ranked with the images: it took one of keep=2's
    newest slots and image "mid" was deleted, though the .att tag is kept by a rule of
    its own anyway."""
    for i, (tag, days) in enumerate([("old", 300), ("mid", 200), ("new", 100)]):
        seed_image(anon_registry, unique_repository, tag, seed=40 + i,
                   created=NOW - dt.timedelta(days=days))
    repo = client_for(anon_registry).repository(unique_repository)
    old = repo.manifests.head("old").digest
    seed_image(anon_registry, unique_repository, f"{old.replace(':', '-')}.att", seed=50,
               created=NOW - dt.timedelta(days=1))
    plan = retention.plan(repo, keep=2, now=NOW)
    assert [d.tag for d in plan.delete] == ["old"]
    reasons = {d.tag: d.reason for d in plan.keep}
    assert reasons["new"] == "newest 2 (#1)" and reasons["mid"] == "newest 2 (#2)"
    assert reasons[f"{old.replace(':', '-')}.att"] == "cosign attestation tag"


def test_plan_needs_a_deletion_rule(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    repo = client_for(anon_registry).repository(unique_repository)
    with pytest.raises(ValueError, match="keep"):
        retention.plan(repo, keep_patterns=["v*"])
    with pytest.raises(ValueError, match="duration"):
        retention.plan(repo, older_than="30 days")


def test_apply_checks_the_throw_away_manifests_config_blob_once(
    anon_registry: LocalRegistry, seeded: Seeded, client_for: ClientFactory,
) -> None:
    """Distribution deletes a tag by a throw-away manifest (an empty config): its blob
    was HEADed again for every tag deleted (20 tags: 20 HEADs of one blob)."""
    repo = client_for(anon_registry).repository(seeded.repository)
    plan = make_plan(repo)
    anon_registry.clear_access_log()
    deleted = retention.apply(repo, plan)
    assert len(deleted) > 2
    empty = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    checks = [e for e in anon_registry.access_log_entries() if f"/blobs/{empty}" in e.path]
    assert len(checks) == 1


def test_a_tag_delete_after_the_throw_away_config_blob_was_removed(
    anon_registry: LocalRegistry, unique_repository: str, client_for: ClientFactory,
) -> None:
    """The throw-away manifests' config blob is uploaded once per repository; nothing
    refers to it once they are deleted, so a blob DELETE or a garbage collection may
    remove it: the next tag delete put a manifest naming it (400 MANIFEST_BLOB_UNKNOWN)
    and failed. It is uploaded again then."""
    for i, tag in enumerate(["a", "b"]):
        seed_image(anon_registry, unique_repository, tag, seed=300 + i)
    repo = client_for(anon_registry).repository(unique_repository)
    repo.tags.delete("a")
    empty = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    with Registry(anon_registry.host, protocol="http") as other:
        other.repository(unique_repository).blobs.delete(empty)
    repo.tags.delete("b")
    assert repo.tags.get_all() == []


def _leave_on_a_throw_away_manifest(repo: Repository, tag: str) -> str:
    """What a tag delete stopped (Ctrl-C, a cancelled task) between moving ``tag`` to its
    throw-away manifest and deleting that leaves: the tag naming an empty manifest."""
    from registry_client.services._attach import EMPTY_JSON  # (the test's own setup)
    from registry_client.services._tag_delete import _tombstone

    repo.blobs.upload(EMPTY_JSON)
    return repo.manifests.put(tag, _tombstone(tag))


def test_a_tag_left_by_an_interrupted_delete_is_always_planned_to_go(
    anon_registry: LocalRegistry, seeded: Seeded, client_for: ClientFactory,
) -> None:
    """Its throw-away manifest has no created time: the plan kept it for good ("created
    time unknown"), serving an empty image. A tag on one is a delete half done."""
    repo = client_for(anon_registry).repository(seeded.repository)
    left = _leave_on_a_throw_away_manifest(repo, "release-2")  # a pattern would keep it
    plan = make_plan(repo)
    going = {d.tag: d.reason for d in plan.delete}
    assert "interrupted delete" in going["release-2"]
    assert "release-2" not in {d.tag for d in plan.keep}
    assert set(going) == expected_deleted() | {"release-2"}
    retention.apply(repo, plan)
    assert "release-2" not in repo.tags.get_all()
    with pytest.raises(NotFoundError):  # deleted as it was: no second one left behind
        repo.manifests.head(left)


def test_applying_a_plan_again_finishes_a_delete_that_was_interrupted(
    anon_registry: LocalRegistry, seeded: Seeded, client_for: ClientFactory,
) -> None:
    """The plan's digest is the image's; the tag now names the throw-away manifest. It
    was skipped as "pushed again", and stayed on an empty image for good."""
    repo = client_for(anon_registry).repository(seeded.repository)
    plan = make_plan(repo)
    victim = sorted(expected_deleted())[0]
    left = _leave_on_a_throw_away_manifest(repo, victim)
    deleted = retention.apply(repo, plan)
    assert victim in deleted
    assert set(deleted) == expected_deleted()
    assert victim not in repo.tags.get_all()
    with pytest.raises(NotFoundError):
        repo.manifests.head(left)


def test_apply_on_distribution_reads_each_tag_once(
    anon_registry: LocalRegistry, seeded: Seeded, client_for: ClientFactory,
) -> None:
    """Distribution has no tag DELETE: each tag goes by the throw-away manifest dance,
    which reads the tag (a GET) and checks its digest itself. A HEAD before it read the
    same tag again: 4 requests a tag, not 3 (1,810 tags took 125 s)."""
    repo = client_for(anon_registry).repository(seeded.repository)
    plan = make_plan(repo)
    anon_registry.clear_access_log()
    deleted = retention.apply(repo, plan)
    assert set(deleted) == expected_deleted()
    heads = [e for e in anon_registry.access_log_entries()
             if e.method == "HEAD" and "/manifests/" in e.uri]
    assert len(heads) == 1  # the first tag's: its delete tells what the registry has
