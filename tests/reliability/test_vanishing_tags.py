"""A tag deleted between the tag list and its HEAD/GET, on a real registry (a busy registry).

The FaultProxy answers 404 ``MANIFEST_UNKNOWN`` for one tag's manifest URL (HEAD and
GET), as Distribution does for a tag deleted after the list was read. Every "for each
tag" path leaves that tag out, reports it and handles every other tag.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator

import pytest
import requests

from registry_client import CopyPlan, Image, NotFoundError, Registry, retention
from registry_client.sync import SyncEntry, copy_all_tags, sync
from registry_client.testing import (
    FaultProxy,
    LocalRegistry,
    LocalRegistryFactory,
    SeededImage,
    seed_image,
)

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
TAGS = ["v1.0.0", "v1.1.0", "gone", "v1.2.0", "v1.3.0"]
GONE = "gone"
MANIFEST_UNKNOWN = json.dumps({"errors": [{
    "code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {"Tag": GONE},
}]}).encode()


@pytest.fixture
def seeded(anon_registry: LocalRegistry, unique_repository: str) -> dict[str, SeededImage]:
    return {
        tag: seed_image(anon_registry, unique_repository, tag, seed=40 + i, layers=(256,),
                        created=NOW - dt.timedelta(days=10 * i))
        for i, tag in enumerate(TAGS)
    }


def vanish(proxy: FaultProxy, repository: str, reference: str = GONE) -> None:
    """From now on ``repository``'s ``reference`` answers as a deleted tag does."""
    path = rf"^/v2/{repository}/manifests/{reference}$"
    proxy.add_rule("HEAD", path, action="status", status=404, body=b"", times=None)
    proxy.add_rule("GET", path, action="status", status=404, body=MANIFEST_UNKNOWN,
                   headers={"Content-Type": "application/json"}, times=None)


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        yield p


@pytest.fixture
def through(proxy: FaultProxy) -> Iterator[Registry]:
    with Registry(proxy.host, protocol="http", retries=1, backoff=0.0) as reg:
        yield reg


def digests(seeded: dict[str, SeededImage], *, without: str = GONE) -> dict[str, str]:
    return {tag: image.digest for tag, image in seeded.items() if tag != without}


def test_get_all_with_digests_returns_every_other_tag_and_logs_the_gone_one(
    seeded: dict[str, SeededImage], proxy: FaultProxy, through: Registry,
    unique_repository: str, caplog: pytest.LogCaptureFixture,
) -> None:
    vanish(proxy, unique_repository)
    repo = through.repository(unique_repository)
    with caplog.at_level(logging.WARNING, logger="registry_client"):
        assert repo.tags.get_all(with_digests=True) == digests(seeded)
    assert sorted(repo.tags.get_all()) == sorted(TAGS)  # the list itself still names it
    [record] = [r for r in caplog.records if f"{unique_repository}:{GONE}" in r.getMessage()]
    assert "vanished" in record.getMessage()
    # the HEAD's 404 has no body: one GET told a gone tag from a gone repository
    assert proxy.count("GET", rf"/manifests/{GONE}$") == 1


def test_get_all_with_digests_still_raises_for_a_gone_repository(
    seeded: dict[str, SeededImage], proxy: FaultProxy, through: Registry,
    unique_repository: str,
) -> None:
    body = json.dumps({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not "
                                   "known to registry"}]}).encode()
    proxy.add_rule("HEAD", "/manifests/", action="status", status=404, body=b"", times=None)
    proxy.add_rule("GET", "/manifests/", action="status", status=404, body=body,
                   headers={"Content-Type": "application/json"}, times=None)
    with pytest.raises(NotFoundError) as info:
        through.repository(unique_repository).tags.get_all(with_digests=True)
    assert "NAME_UNKNOWN" in info.value.codes


def test_retention_plan_plans_every_other_tag_and_names_the_gone_one(
    seeded: dict[str, SeededImage], proxy: FaultProxy, through: Registry,
    unique_repository: str,
) -> None:
    vanish(proxy, unique_repository)
    plan = retention.plan(through.repository(unique_repository), keep=1, now=NOW)
    assert plan.vanished == [GONE]
    assert [d.tag for d in plan.keep] == ["v1.0.0"]
    assert [d.tag for d in plan.delete] == ["v1.1.0", "v1.2.0", "v1.3.0"]
    for d in [*plan.keep, *plan.delete]:
        assert d.digest == seeded[d.tag].digest
    assert plan.to_dict()["vanished"] == [GONE]


def test_retention_plan_names_a_tag_whose_manifest_went_after_its_head(
    seeded: dict[str, SeededImage], proxy: FaultProxy, through: Registry,
    unique_repository: str,
) -> None:
    # the HEAD saw the tag, then the image was deleted by digest before its GET
    vanish(proxy, unique_repository, seeded["v1.2.0"].digest)
    plan = retention.plan(through.repository(unique_repository), older_than="15d", now=NOW)
    assert plan.vanished == ["v1.2.0"]
    assert [d.tag for d in plan.keep] == ["v1.0.0", "v1.1.0"]
    assert [d.tag for d in plan.delete] == ["gone", "v1.3.0"]


def test_copy_all_tags_copies_every_other_tag_and_reports_the_gone_one(
    seeded: dict[str, SeededImage], proxy: FaultProxy, through: Registry,
    unique_repository: str, local_registry_factory: LocalRegistryFactory,
) -> None:
    vanish(proxy, unique_repository)
    source = through.repository(unique_repository)
    with Registry(local_registry_factory("anonymous").host, protocol="http") as b:
        target = b.repository("mirror/app")
        plans = copy_all_tags(source, target, dry_run=True)
        assert all(isinstance(p, CopyPlan) for p in plans) and len(plans) == 4
        assert plans.vanished == [GONE]
        images = copy_all_tags(source, target, max_workers=2)
        assert images.vanished == [GONE]
        assert {i.tag: i.digest for i in images if isinstance(i, Image)} == digests(seeded)
        assert target.tags.get_all(with_digests=True) == digests(seeded)


def test_copy_all_tags_still_raises_when_a_blob_of_a_listed_tag_is_missing(
    seeded: dict[str, SeededImage], proxy: FaultProxy, through: Registry,
    unique_repository: str, local_registry_factory: LocalRegistryFactory,
) -> None:
    # a 404 that is not the tag's own manifest is a failure, not a vanished tag
    proxy.add_rule("GET", f"/blobs/{seeded['v1.1.0'].layers[0]}", action="status",
                   status=404, body=b'{"errors":[{"code":"BLOB_UNKNOWN"}]}', times=None)
    with Registry(local_registry_factory("anonymous").host, protocol="http") as b:
        with pytest.raises(NotFoundError, match=r":v1\.1\.0"):
            copy_all_tags(through.repository(unique_repository), b.repository("m/app"))
        assert sorted(b.repository("m/app").tags.get_all()) == sorted(
            set(TAGS) - {"v1.1.0"})


def test_sync_reports_the_gone_tag_apart_from_failures(
    seeded: dict[str, SeededImage], proxy: FaultProxy, through: Registry,
    unique_repository: str, local_registry_factory: LocalRegistryFactory,
) -> None:
    vanish(proxy, unique_repository)
    dst = local_registry_factory("anonymous")
    with Registry(dst.host, protocol="http") as b:
        by_domain = {proxy.host: through, dst.host: b}
        result = sync([SyncEntry(f"{proxy.host}/{unique_repository}", f"{dst.host}/m/app"),
                       SyncEntry(f"{proxy.host}/{unique_repository}:{GONE}",
                                 f"{dst.host}/m/named")],
                      lambda r: by_domain[r.domain])
        assert result.vanished == (f"{proxy.host}/{unique_repository}:{GONE}",)
        # a source naming the gone tag itself is a failure: nothing was listed
        assert [name for name, _ in result.failed] == [
            f"{proxy.host}/{unique_repository}:{GONE}"]
        assert sorted(i.tag or "" for i in result.copied if isinstance(i, Image)) == sorted(
            digests(seeded))
        assert b.repository("m/app").tags.get_all(with_digests=True) == digests(seeded)


@pytest.mark.parametrize("path", ["get_all", "retention", "copy_all_tags"])
def test_a_tag_really_deleted_right_after_the_tag_list(
    seeded: dict[str, SeededImage], anon_registry: LocalRegistry, unique_repository: str,
    local_registry_factory: LocalRegistryFactory, path: str,
) -> None:
    # no proxy: a response hook deletes the image of GONE for real, on the registry,
    # as soon as the tag list has been read and before any HEAD or GET of a tag
    gone_url = f"{anon_registry.url}/v2/{unique_repository}/manifests/{seeded[GONE].digest}"
    deleted: list[int] = []

    def delete_after_listing(resp: requests.Response, *args: object, **kwargs: object) -> None:
        if resp.request.method == "GET" and "/tags/list" in resp.url and not deleted:
            deleted.append(requests.delete(gone_url, timeout=5).status_code)

    session = requests.Session()
    session.hooks["response"].append(delete_after_listing)
    with Registry(anon_registry.host, protocol="http", session=session) as reg:
        repo = reg.repository(unique_repository)
        if path == "get_all":
            assert repo.tags.get_all(with_digests=True) == digests(seeded)
        elif path == "retention":
            plan = retention.plan(repo, keep=2, now=NOW)
            assert plan.vanished == [GONE]
            assert sorted(d.tag for d in [*plan.keep, *plan.delete]) == sorted(digests(seeded))
        else:
            with Registry(local_registry_factory("anonymous").host, protocol="http") as b:
                images = copy_all_tags(repo, b.repository("m/app"))
                assert images.vanished == [GONE]
                assert b.repository("m/app").tags.get_all(with_digests=True) == digests(seeded)
    assert deleted == [202]


@pytest.fixture
def target_proxy(local_registry_factory: LocalRegistryFactory) -> Iterator[FaultProxy]:
    """A second registry (a mirror's target) behind its own fault proxy."""
    with FaultProxy(local_registry_factory("anonymous"), timeout=5) as p:
        yield p


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(MANIFEST_UNKNOWN, "application/json"),
     (b'{"errors":[{"code":"NOT_FOUND","message":"project team not found"}]}',
      "application/json"),
     (b"<html><body>404 Not Found</body></html>", "text/html")],
    ids=["manifest-unknown", "harbor-not-found", "html"],
)
def test_a_404_of_the_targets_manifest_put_is_a_failure_not_a_vanished_tag(
    seeded: dict[str, SeededImage], anon_registry: LocalRegistry, unique_repository: str,
    target_proxy: FaultProxy, body: bytes, content_type: str,
) -> None:
    # A mirror: the same repository path on both sides. The target refuses the PUT
    # of one tag with a 404 on the very path the source's tag has.
    target_proxy.add_rule("PUT", rf"^/v2/{unique_repository}/manifests/{GONE}$",
                          action="status", status=404, body=body,
                          headers={"Content-Type": content_type}, times=None)
    with Registry(anon_registry.host, protocol="http") as a, \
            Registry(target_proxy.host, protocol="http", retries=0) as b:
        by_domain = {anon_registry.host: a, target_proxy.host: b}
        result = sync([SyncEntry(f"{anon_registry.host}/{unique_repository}",
                                 f"{target_proxy.host}/{unique_repository}")],
                      lambda r: by_domain[r.domain])
        assert not result.ok and result.vanished == ()
        assert [name for name, _ in result.failed] == [
            f"{anon_registry.host}/{unique_repository}:{GONE}"]
        with pytest.raises(NotFoundError, match=rf":{GONE}"):
            copy_all_tags(a.repository(unique_repository), b.repository(unique_repository))
        assert sorted(b.repository(unique_repository).tags.get_all()) == sorted(
            set(TAGS) - {GONE})


def test_a_repository_gone_after_its_tag_list_is_one_failure(
    seeded: dict[str, SeededImage], proxy: FaultProxy, through: Registry,
    unique_repository: str, local_registry_factory: LocalRegistryFactory,
) -> None:
    name_unknown = json.dumps({"errors": [{"code": "NAME_UNKNOWN", "message": "repository "
                                           "name not known to registry"}]}).encode()
    for method in ("HEAD", "GET"):
        proxy.add_rule(method, rf"^/v2/{unique_repository}/(manifests|blobs)/",
                       action="status", status=404,
                       body=name_unknown if method == "GET" else b"",
                       headers={"Content-Type": "application/json"}, times=None)
    dst = local_registry_factory("anonymous")
    with Registry(dst.host, protocol="http") as b:
        by_domain = {proxy.host: through, dst.host: b}
        result = sync([SyncEntry(f"{proxy.host}/{unique_repository}", f"{dst.host}/m/gone")],
                      lambda r: by_domain[r.domain], max_workers=2)
    [(name, error)] = result.failed
    assert name == f"{proxy.host}/{unique_repository}"
    assert "repository" in error and "not known" in error
    # the error of the first tag listed, whichever copy found the repository gone first
    assert f"/manifests/{through.repository(unique_repository).tags.get_all()[0]} " in error
    assert result.copied == () and result.vanished == ()
    # its remaining tags were not tried once the repository was known gone
    assert proxy.count("GET", rf"^/v2/{unique_repository}/manifests/") < len(TAGS)


def test_a_tag_whose_head_says_404_but_whose_get_serves_it_is_there_for_every_path(
    seeded: dict[str, SeededImage], proxy: FaultProxy, through: Registry,
    unique_repository: str, anon_registry: LocalRegistry,
) -> None:
    # a HEAD's 404 is confirmed by a GET everywhere (get_all, retention, repo delete)
    odd = "v1.3.0"  # the oldest: planned for deletion
    proxy.add_rule("HEAD", rf"^/v2/{unique_repository}/manifests/{odd}$", action="status",
                   status=404, body=b"", times=None)
    repo = through.repository(unique_repository)
    assert repo.tags.get_all(with_digests=True)[odd] == seeded[odd].digest
    assert seeded[odd].digest in repo.delete(dry_run=True)
    plan = retention.plan(repo, keep=3, now=NOW)
    assert plan.vanished == [] and [d.tag for d in plan.delete] == ["v1.2.0", odd]
    deleted = retention.apply(repo, plan)
    assert deleted == ["v1.2.0", odd]
    with Registry(anon_registry.host, protocol="http") as direct:
        assert sorted(direct.repository(unique_repository).tags.get_all()) == sorted(
            ["v1.0.0", "v1.1.0", GONE])
