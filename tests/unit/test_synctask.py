"""SyncTask and its plan: stable shards (union = all, no overlap), plan ids, pickling."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys

import pytest
import requests
import requests_mock

from registry_client import InvalidReferenceError, NullAuthenticator, Registry
from registry_client._synctask import (
    SyncPlan,
    SyncTask,
    TaskResult,
    one_source_per_target,
    parse_shard,
    shard_of,
)
from registry_client.sync import SyncEntry, plan, run_task

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def task(n: int, digest: str = DIGEST) -> SyncTask:
    return SyncTask(f"src.example/app:t{n}@{digest}", f"dst.example/mirror/app:t{n}")


@pytest.mark.parametrize("shards", [1, 2, 3, 7])
def test_the_shards_cover_every_task_once(shards: int) -> None:
    tasks = [task(n) for n in range(300)]
    owners = [[i for i in range(shards) if t.shard(shards) == i] for t in tasks]
    assert all(len(o) == 1 for o in owners)
    if shards > 1:  # and spread them (no shard is empty for 300 tasks)
        assert {o[0] for o in owners} == set(range(shards))


def test_the_shard_is_the_same_in_another_python_and_ignores_the_digest() -> None:
    names = [task(n).name for n in range(20)]
    code = ("import sys\nfrom registry_client._synctask import shard_of\n"
            "print([shard_of(n, 5) for n in sys.argv[1:]])")
    out = subprocess.run([sys.executable, "-c", code, *names], capture_output=True,
                         text=True, check=True, timeout=60,
                         env={"PYTHONHASHSEED": "123"}).stdout
    assert out.strip() == str([shard_of(n, 5) for n in names])
    assert task(3).shard(5) == task(3, OTHER).shard(5)  # a tag pushed again: same shard


@pytest.mark.parametrize("text", ["3/3", "-1/3", "1", "a/b", "1/0", "\uff11/3", ""])
def test_a_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="I/N"):
        parse_shard(text)


def test_parse_shard() -> None:
    assert parse_shard("0/3") == (0, 3) and parse_shard(" 2/3 ") == (2, 3)
    with pytest.raises(ValueError):
        shard_of("x", 0)


def test_the_plan_id_names_the_tasks_their_digests_and_the_shard() -> None:
    one = SyncPlan([task(1), task(2)])
    assert one.plan_id == SyncPlan([task(2), task(1)]).plan_id  # order does not matter
    assert one.plan_id != SyncPlan([task(1), task(2, OTHER)]).plan_id
    assert one.plan_id != SyncPlan([task(1), task(2)], shard=(0, 2)).plan_id
    assert one.plan_id == SyncPlan([task(1), task(2)], shard=(0, 1)).plan_id  # = all
    assert all(t.plan_id == one.plan_id for t in one)
    assert len({t.key for t in one}) == 2
    twice = SyncPlan([task(1), task(2), task(1)])  # e.g. a repository and one of its tags
    assert [t.source for t in twice] == [task(1).source, task(2).source]
    assert twice.plan_id == one.plan_id


def test_tasks_and_results_pickle_to_equal_values() -> None:
    t = task(1)
    result = TaskResult(t, "present")
    assert pickle.loads(pickle.dumps(t)) == t
    assert pickle.loads(pickle.dumps(result)) == result
    assert result.target_reference == f"dst.example/mirror/app:t1@{DIGEST}"
    assert t.name == "src.example/app:t1" and t.digest == DIGEST


@pytest.fixture
def mock() -> requests_mock.Adapter:
    return requests_mock.Adapter()


def registries(adapter: requests_mock.Adapter) -> dict[str, Registry]:
    session = requests.Session()
    session.mount("https://", adapter)
    return {h: Registry(h, session=session, authenticator=NullAuthenticator(), retries=0)
            for h in ("src.example", "dst.example")}


def test_plan_lists_then_reads_each_digest_once(mock: requests_mock.Adapter) -> None:
    regs = registries(mock)
    mock.register_uri("GET", "https://src.example/v2/app/tags/list",
                      json={"name": "app", "tags": ["a", "b"]})
    for tag, digest in (("a", DIGEST), ("b", OTHER)):
        mock.register_uri("HEAD", f"https://src.example/v2/app/manifests/{tag}", headers={
            "Docker-Content-Digest": digest, "Content-Length": "10",
            "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    tasks = plan([SyncEntry("src.example/app", "dst.example/m/app"),
                  SyncEntry(f"src.example/pinned@{DIGEST}", "dst.example/p:v1")],
                 lambda r: regs[r.domain])
    assert [(t.source, t.target, t.listed) for t in tasks] == [
        (f"src.example/app:a@{DIGEST}", "dst.example/m/app:a", True),
        (f"src.example/app:b@{OTHER}", "dst.example/m/app:b", True),
        (f"src.example/pinned@{DIGEST}", "dst.example/p:v1", False),
    ]
    assert [r.method for r in mock.request_history] == ["GET", "HEAD", "HEAD"]
    assert tasks.failed == [] and tasks.vanished == []
    half = plan([SyncEntry("src.example/app", "dst.example/m/app")], lambda r: regs[r.domain],
                shard=(tasks[0].shard(2), 2))
    assert tasks[0].target in {t.target for t in half}


def test_a_task_already_at_the_target_is_one_head(mock: requests_mock.Adapter) -> None:
    regs = registries(mock)
    mock.register_uri("HEAD", "https://dst.example/v2/m/app/manifests/a", headers={
        "Docker-Content-Digest": DIGEST, "Content-Length": "10",
        "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    t = SyncTask(f"src.example/app:a@{DIGEST}", "dst.example/m/app:a")
    result = run_task(t, lambda r: regs[r.domain])
    assert result.outcome == "present" and result.ok
    assert [(r.method, r.url) for r in mock.request_history] == [
        ("HEAD", "https://dst.example/v2/m/app/manifests/a")]


def test_a_failed_task_is_a_result_naming_the_error(mock: requests_mock.Adapter) -> None:
    regs = registries(mock)
    # the target's "is it there?" HEAD refused tells nothing (the copy goes on); the
    # source refusing the image's manifest fails the task
    mock.register_uri("HEAD", "https://dst.example/v2/m/app/manifests/a", status_code=403)
    mock.register_uri("GET", f"https://src.example/v2/app/manifests/{DIGEST}",
                      status_code=403)
    result = run_task(SyncTask(f"src.example/app:a@{DIGEST}", "dst.example/m/app:a"),
                      lambda r: regs[r.domain])
    assert result.outcome == "failed" and not result.ok and "403" in (result.error or "")
    assert f"/v2/app/manifests/{DIGEST}" in (result.error or "")


def test_a_task_is_in_the_shard_its_plan_put_it_in(mock: requests_mock.Adapter) -> None:
    regs = registries(mock)
    entries = [SyncEntry(f"src.example/pinned:v1@{DIGEST}", "dst.example/p"),
               SyncEntry(f"src.example/bare@{OTHER}", "dst.example/b")]
    every = plan(entries, lambda r: regs[r.domain])
    assert [t.name for t in every] == ["src.example/pinned:v1", f"src.example/bare@{OTHER}"]
    assert [t.target for t in every] == ["dst.example/p:v1", "dst.example/b"]
    for shards in (2, 3, 5):
        parts = [plan(entries, lambda r: regs[r.domain], shard=(i, shards))
                 for i in range(shards)]
        for i, part in enumerate(parts):
            assert all(t.shard(shards) == i for t in part)
        assert sorted(t.source for p in parts for t in p) == sorted(t.source for t in every)
    assert mock.request_history == []  # sources given by digest: nothing to read


def test_the_shard_is_the_documented_formula() -> None:
    """docs/distributed-sync.md gives the formula; shards planned by other versions
    must agree, so it may not change."""
    for n in range(50):
        name = f"registry.example/team/app{n}:v{n}"
        first64 = int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:16], 16)
        for shards in (1, 2, 3, 7, 1000):
            assert shard_of(name, shards) == first64 % shards


def test_a_tag_pattern_keeps_only_the_tags_it_matches(mock: requests_mock.Adapter) -> None:
    """``tags`` is a regular expression searched in each listed tag (as skopeo's
    images-by-tag-regex): only those tags are planned, and their digests read."""
    regs = registries(mock)
    mock.register_uri("GET", "https://src.example/v2/app/tags/list",
                      json={"name": "app", "tags": ["1.0", "1.1", "2.0", "latest", "v1.9"]})
    for tag in ("1.0", "1.1", "2.0"):
        mock.register_uri("HEAD", f"https://src.example/v2/app/manifests/{tag}", headers={
            "Docker-Content-Digest": DIGEST, "Content-Length": "10",
            "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    entry = SyncEntry("src.example/app", "dst.example/m/app", tags=r"^1\.")
    tasks = plan([entry], lambda r: regs[r.domain])
    assert [t.target for t in tasks] == ["dst.example/m/app:1.0", "dst.example/m/app:1.1"]
    assert [r.method for r in mock.request_history] == ["GET", "HEAD", "HEAD"]
    assert tasks.input_id != plan([SyncEntry("src.example/app", "dst.example/m/app",
                                             tags=r"^2\.")], lambda r: regs[r.domain]).input_id


def test_a_tag_pattern_needs_a_repository_and_a_regular_expression() -> None:
    for entry, what in ((SyncEntry("src.example/app:1.0", "dst.example/a", tags="x"),
                         "without tag"),
                        (SyncEntry("src.example/app", "dst.example/a", tags="("),
                         "regular expression")):
        with pytest.raises(InvalidReferenceError, match=what):
            plan([entry], lambda r: Registry(r.domain))


def test_two_sources_for_one_target_tag_keep_the_same_one_in_any_order() -> None:
    """Shards read from sync files whose lines are in another order (the same input:
    each accepts the other's journal) kept a different "first" source each, and both
    images were copied to the one tag: the last to finish won."""
    items = [("reg.example/b:1", "mirror/app:1"), ("reg.example/a:1", "mirror/app:1"),
             ("reg.example/c:2", "mirror/app:2"), ("reg.example/d", None)]
    outcomes = set()
    for order in (items, items[::-1], items[1:] + items[:1]):
        kept, refused = one_source_per_target(order, lambda i: i[0], lambda i: i[1])
        assert [i for i in order if i in kept] == kept  # in their order
        outcomes.add((frozenset(kept), frozenset(i for i, _ in refused)))
        [(_, why)] = refused
        assert "mirror/app:1 is the target of reg.example/a:1 too" in why
    assert outcomes == {(frozenset(items) - {items[0]}, frozenset({items[0]}))}


@pytest.mark.parametrize(("shard", "error"), [
    ((3, 3), ValueError), ((-1, 3), ValueError), ((0, 0), ValueError),
    ((1.5, 3), TypeError), ((True, 2), TypeError), ((0, 1, 2), ValueError),
    ("0/3", TypeError),
])
def test_a_shard_that_is_no_shard_is_refused_before_anything_is_read(
    mock: requests_mock.Adapter, shard: object, error: type[Exception],
) -> None:
    """(3, 3) -- a 1-based Job index -- planned nothing and the sync said it succeeded:
    one shard of the mirror was never copied. The CLI refused --shard 3/3 already."""
    regs = registries(mock)
    entries = [SyncEntry(f"src.example/pinned:v1@{DIGEST}", "dst.example/p")]
    with pytest.raises(error, match="shard"):
        plan(entries, lambda r: regs[r.domain], shard=shard)  # type: ignore[arg-type]
    with pytest.raises(error, match="shard"):
        SyncPlan([], shard=shard)  # type: ignore[arg-type]
    assert mock.request_history == []


@pytest.mark.parametrize("source", ["src.example/app:1.0", "src.example/app"])
def test_a_task_whose_source_has_no_digest_is_refused_when_made(source: str) -> None:
    """run_task raised a bare AssertionError for it (python -O: "invalid tag 'None'"),
    and its name said "src.example/app:None"."""
    with pytest.raises(ValueError, match="digest"):
        SyncTask(source, "dst.example/m/app:1.0")
    with pytest.raises(InvalidReferenceError):
        SyncTask("src.example/App:1.0@" + DIGEST, "dst.example/m/app:1.0")
