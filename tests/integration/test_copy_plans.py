"""Copy plans (dry runs), copy of every tag and sync files, against real registries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry_client import (
    AuthorizationError,
    CopyPlan,
    Image,
    InvalidReferenceError,
    NotFoundError,
    RawManifest,
    Registry,
    TokenAuthenticator,
)
from registry_client.sync import SyncEntry, SyncResult, copy_all_tags, load_sync_file, sync
from registry_client.testing import (
    FaultProxy,
    LocalRegistry,
    LocalRegistryFactory,
    seed_image,
    sha256_digest,
)


@pytest.fixture()
def pair(local_registry_factory: LocalRegistryFactory) -> tuple[LocalRegistry, LocalRegistry]:
    return local_registry_factory("anonymous"), local_registry_factory("anonymous")


def client(reg: LocalRegistry) -> Registry:
    return Registry(reg.host, protocol="http")


def test_dry_run_within_a_registry_plans_mounts_then_skips(
    pair: tuple[LocalRegistry, LocalRegistry],
) -> None:
    src, _ = pair
    image = seed_image(src, "plan/src", "1.0", platforms=["linux/amd64", "linux/arm64/v8"])
    with client(src) as reg:
        repo, target = reg.repository("plan/src"), reg.repository("plan/dst")
        before = reg.requester.stats
        plan = repo.images.copy("1.0", target, dry_run=True)
        after = reg.requester.stats
        assert isinstance(plan, CopyPlan)
        assert {b.action for b in plan.blobs} == {"mount"}
        assert {b.digest for b in plan.blobs} == set(image.blobs)
        assert plan.bytes_to_transfer == 0
        assert plan.manifests[-1] == image.digest and len(plan.manifests) == 3
        assert after["bytes_sent"] == before["bytes_sent"]  # a plan moves nothing
        assert set(after["by_method"]) <= {"GET", "HEAD"}
        assert src.request_count("POST") == 0 and src.request_count("PUT") == 0
        with pytest.raises(Exception):  # noqa: B017 - nothing was written
            target.manifests.head("1.0")
        copied = repo.images.copy("1.0", target)
        assert copied.digest == image.digest
        again = repo.images.copy("1.0", target, dry_run=True)
        assert {b.action for b in again.blobs} == {"skip"}


def test_dry_run_across_registries_plans_transfers_then_skips(
    pair: tuple[LocalRegistry, LocalRegistry],
) -> None:
    src, dst = pair
    image = seed_image(src, "plan/x", "2.0", layers=(3000, 5000))
    with client(src) as a, client(dst) as b:
        target = b.repository("plan/x")
        plan = a.repository("plan/x").images.copy("2.0", target, dry_run=True)
        assert {p.action for p in plan.blobs} == {"transfer"}
        assert plan.bytes_to_transfer == sum(len(v) for v in image.blobs.values())
        assert [p.size for p in plan.blobs] == sorted((p.size for p in plan.blobs), reverse=True)
        assert b.requester.stats["bytes_sent"] == 0
        assert dst.request_count("HEAD") == len(image.blobs) and dst.request_count("PUT") == 0
        a.repository("plan/x").images.copy("2.0", target)
        again = a.repository("plan/x").images.copy("2.0", target, dry_run=True)
        assert {p.action for p in again.blobs} == {"skip"} and again.bytes_to_transfer == 0


def test_copy_all_tags_and_its_dry_run(pair: tuple[LocalRegistry, LocalRegistry]) -> None:
    src, dst = pair
    digests = {tag: seed_image(src, "all/app", tag, seed=i).digest
               for i, tag in enumerate(["1", "2", "3"])}
    with client(src) as a, client(dst) as b:
        plans = copy_all_tags(a.repository("all/app"), b.repository("all/app"), dry_run=True)
        assert all(isinstance(p, CopyPlan) for p in plans) and len(plans) == 3
        assert b.requester.stats["bytes_sent"] == 0
        images = copy_all_tags(a.repository("all/app"), b.repository("all/app"), max_workers=3)
        assert {i.tag: i.digest for i in images if isinstance(i, Image)} == digests
        assert b.repository("all/app").tags.get_all(with_digests=True) == digests


@pytest.mark.parametrize("within", [True, False], ids=["mounts", "across"])
def test_copy_all_tags_copies_an_image_of_many_tags_once(
    pair: tuple[LocalRegistry, LocalRegistry], within: bool,
) -> None:
    """``latest``, ``1.2``, ``1.2.3`` on one image: each tag's copy moved (or mounted)
    every blob again, 7 requests a tag, and within one registry four copies re-mounting
    the same blobs while a sibling's manifest PUT was checked made Distribution refuse
    that PUT (400 MANIFEST_BLOB_UNKNOWN) -- 1 in 6 runs of 400 tags. The image is copied
    once; its other tags get its manifest (a GET and a PUT each)."""
    src, dst = pair
    target_reg = src if within else dst
    seeded = seed_image(src, "many/app", "t0", layers=(2048, 4096))
    with client(src) as a:
        tags = [f"t{i}" for i in range(40)]
        for tag in tags[1:]:
            a.repository("many/app").images.retag("t0", tag)
    with client(src) as a, client(target_reg) as b:
        a.repository("many/app").images.copy("t0", b.repository("many/one"))
        one_copy = target_reg.request_count(path_contains="many/one/blobs/")
        target_reg.clear_access_log()
        images = copy_all_tags(a.repository("many/app"), b.repository("many/copy"),
                               max_workers=4)
        assert sorted(i.tag for i in images if isinstance(i, Image)) == sorted(tags)
        assert {i.digest for i in images if isinstance(i, Image)} == {seeded.digest}
        assert b.repository("many/copy").tags.get_all(with_digests=True) == dict.fromkeys(
            tags, seeded.digest)
    # the blobs moved (or mounted) once, as for the image's one tag; a PUT a tag
    assert target_reg.request_count(path_contains="many/copy/blobs/") == one_copy
    assert target_reg.request_count("PUT", "many/copy/manifests/") == len(tags)


def test_the_dry_run_of_an_image_of_many_tags_asks_about_its_blobs_once(
    pair: tuple[LocalRegistry, LocalRegistry],
) -> None:
    """The dry run planned each tag's copy as if alone: a HEAD of every blob a tag --
    25,551 HEADs for 51 tags of a 500-layer image, where the copy itself sends one
    request a blob. Its other tags get the image's plan under their own tag."""
    src, dst = pair
    seed_image(src, "many/app", "t0", layers=(2048, 4096))
    tags = [f"t{i}" for i in range(12)]
    with client(src) as a, client(dst) as b:
        for tag in tags[1:]:
            a.repository("many/app").images.retag("t0", tag)
        dst.clear_access_log()
        plans = copy_all_tags(a.repository("many/app"), b.repository("many/plan"),
                              dry_run=True, max_workers=4)
    assert sorted(p.tag for p in plans if isinstance(p, CopyPlan)) == sorted(tags)
    assert {len(p.blobs) for p in plans if isinstance(p, CopyPlan)} == {3}
    assert {b.action for p in plans if isinstance(p, CopyPlan) for b in p.blobs} == {
        "transfer"}
    assert dst.request_count("HEAD", "many/plan/blobs/") == 3  # config and two layers


def test_a_dry_run_plan_names_its_own_source(
    pair: tuple[LocalRegistry, LocalRegistry],
) -> None:
    """One image from two sources (two registries) to one target: each plan is made
    from its own source -- the second was given the first's, naming the other
    registry (and its mount or transfer decisions)."""
    src, dst = pair
    seeded = seed_image(src, "a/app", "1", layers=(2048,))
    with client(src) as a, client(dst) as b:
        a.repository("a/app").images.copy("1", b.repository("b/app"))
        entries = [SyncEntry(f"{src.host}/a/app:1", f"{dst.host}/t/app:one"),
                   SyncEntry(f"{dst.host}/b/app:1", f"{dst.host}/t/app:two")]
        result = sync(entries, lambda ref: a if ref.domain == src.host else b, dry_run=True,
                      max_workers=1)
    sources = {p.tag: p.source for p in result.copied if isinstance(p, CopyPlan)}
    assert sources == {"one": f"{src.host}/a/app@{seeded.digest}",
                       "two": f"{dst.host}/b/app@{seeded.digest}"}


def test_sync_of_an_image_of_many_tags_still_finds_a_tag_present(
    pair: tuple[LocalRegistry, LocalRegistry],
) -> None:
    """The image copied once for its first tag: a later tag the target held already (the
    same image) was put again and reported copied -- a re-sync after one new tag wrote
    every tag again. It is present: one HEAD, nothing written."""
    src, dst = pair
    seeded = seed_image(src, "re/app", "t0", layers=(64,))
    with client(src) as a, client(dst) as b:
        for tag in ("t1", "t2", "t3"):
            a.repository("re/app").images.retag("t0", tag)
        a.repository("re/app").images.copy("t2", b.repository("re/app"))
        dst.clear_access_log()
        by_domain = {src.host: a, dst.host: b}
        result = sync([SyncEntry(f"{src.host}/re/app", f"{dst.host}/re/app")],
                      lambda r: by_domain[r.domain], max_workers=1)
    assert [p.split("@")[0] for p in result.present] == [f"{dst.host}/re/app:t2"]
    assert sorted(i.tag or "" for i in result.copied if isinstance(i, Image)) == [
        "t0", "t1", "t3"]
    assert dst.request_count("PUT", "re/app/manifests/t2") == 0
    assert {i.digest for i in result.copied if isinstance(i, Image)} == {seeded.digest}


def test_copy_all_tags_copies_the_rest_then_raises_the_first_failure(
    pair: tuple[LocalRegistry, LocalRegistry],
) -> None:
    src, dst = pair
    seeded = {tag: seed_image(src, "broken/app", tag, seed=10 + i)
              for i, tag in enumerate(["1", "2", "3"])}
    with client(src) as a, client(dst) as b:
        a.repository("broken/app").blobs.delete(seeded["2"].layers[0])  # tag 2 can't be copied
        with pytest.raises(NotFoundError, match=r"broken/app:2"):
            copy_all_tags(a.repository("broken/app"), b.repository("broken/app"))
        assert b.repository("broken/app").tags.get_all(with_digests=True) == {
            "1": seeded["1"].digest, "3": seeded["3"].digest}


SyncRun = Callable[..., SyncResult]


@pytest.fixture()
def synced(pair: tuple[LocalRegistry, LocalRegistry]) -> Iterator[tuple[Registry, SyncRun]]:
    """(target client, ``run((source, target), ...)``): sync between the pair's registries."""
    src, dst = pair
    with client(src) as a, client(dst) as b:
        by_domain = {src.host: a, dst.host: b}

        def run(*entries: tuple[str, str]) -> SyncResult:
            return sync([SyncEntry(s, t) for s, t in entries], lambda r: by_domain[r.domain])

        yield b, run


def test_sync_reports_a_missing_repository_and_copies_the_rest(
    pair: tuple[LocalRegistry, LocalRegistry], synced: tuple[Registry, SyncRun],
) -> None:
    (src, dst), (b, run) = pair, synced
    one = seed_image(src, "sync/here", "1.0")
    result = run((f"{src.host}/sync/not-there", f"{dst.host}/m/gone"),
                 (f"{src.host}/sync/here", f"{dst.host}/m/here"))
    assert [name for name, _ in result.failed] == [f"{src.host}/sync/not-there"]
    assert [i.digest for i in result.copied if isinstance(i, Image)] == [one.digest]
    assert b.repository("m/here").manifests.head("1.0").digest == one.digest


def test_sync_targets_with_a_tag_and_bad_targets(
    pair: tuple[LocalRegistry, LocalRegistry], synced: tuple[Registry, SyncRun],
) -> None:
    (src, dst), (b, run) = pair, synced
    one = seed_image(src, "sync/tagged", "v1")
    assert run((f"{src.host}/sync/tagged:v1", f"{dst.host}/m/t:renamed")).ok
    assert b.repository("m/t").tags.get_all() == ["renamed"]
    assert run((f"{src.host}/sync/tagged@{one.digest}", f"{dst.host}/m/d:pinned")).ok
    assert b.repository("m/d").manifests.head("pinned").digest == one.digest
    before = dst.request_count("PUT")
    with pytest.raises(InvalidReferenceError, match="must be a repository"):
        run((f"{src.host}/sync/tagged", f"{dst.host}/m/all:latest"))
    with pytest.raises(InvalidReferenceError, match="not a digest"):
        run((f"{src.host}/sync/tagged:v1", f"{dst.host}/m/x@{one.digest}"))
    assert dst.request_count("PUT") == before  # refused before anything was copied
    missing = "sha256:" + "0" * 64
    failed = run((f"{src.host}/sync/tagged@{missing}", f"{dst.host}/m/y"))
    assert [name for name, _ in failed.failed] == [f"{src.host}/sync/tagged@{missing}"]


def test_sync_file_json_and_yaml(pair: tuple[LocalRegistry, LocalRegistry], tmp_path: Path) -> None:
    src, dst = pair
    one = seed_image(src, "sync/one", "1.0")
    two = seed_image(src, "sync/two", "a", seed=2)
    seed_image(src, "sync/two", "b", seed=3)
    (tmp_path / "m.json").write_text(json.dumps({
        f"{src.host}/sync/one:1.0": f"{dst.host}/mirror/one",
        f"{src.host}/sync/two": f"{dst.host}/mirror/two",
    }))
    (tmp_path / "m.yaml").write_text(
        f"# mirror\n{src.host}/sync/one:1.0: {dst.host}/mirror/one\n"
        f'"{src.host}/sync/two": {dst.host}/mirror/two  # every tag\n'
    )
    assert load_sync_file(tmp_path / "m.json") == load_sync_file(tmp_path / "m.yaml")
    regs: dict[str, Registry] = {}

    def registry_for(ref: object) -> Registry:
        domain = ref.domain  # type: ignore[attr-defined]
        return regs.setdefault(domain, Registry(domain, protocol="http"))

    result = sync(load_sync_file(tmp_path / "m.json"), registry_for)
    assert result.ok and len(result.copied) == 3
    with client(dst) as b:
        assert b.repository("mirror/one").manifests.head("1.0").digest == one.digest
        assert b.repository("mirror/two").manifests.head("a").digest == two.digest
        assert sorted(b.repository("mirror/two").tags.get_all()) == ["a", "b"]
    bad = sync([SyncEntry(f"{src.host}/sync/missing:1", f"{dst.host}/x")], registry_for)
    assert not bad.ok and "missing" in bad.failed[0][0]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "registry_client", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_cli_copy_dry_run_and_sync(
    pair: tuple[LocalRegistry, LocalRegistry], tmp_path: Path
) -> None:
    src, dst = pair
    image = seed_image(src, "cli/app", "1.0", layers=(1000,))
    out = cli("copy", f"{src.host}/cli/app:1.0", f"{src.host}/cli/other", "--dry-run",
              "--plain-http")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("mount ") == len(image.blobs) and "0 bytes to transfer" in out.stdout
    out = cli("copy", f"{src.host}/cli/app:1.0", f"{dst.host}/cli/app", "--dry-run", "--json",
              "--plain-http")
    plans = json.loads(out.stdout)
    assert {b["action"] for b in plans[0]["blobs"]} == {"transfer"}
    out = cli("copy", f"{src.host}/cli/app", f"{dst.host}/cli/app", "--all-tags", "--plain-http")
    assert out.returncode == 0 and image.digest in out.stdout
    (tmp_path / "s.json").write_text(json.dumps({f"{src.host}/cli/app": f"{dst.host}/cli/m"}))
    out = cli("sync", str(tmp_path / "s.json"), "--plain-http")
    assert out.returncode == 0, out.stderr
    assert f"{dst.host}/cli/m:1.0@{image.digest}" in out.stdout
    (tmp_path / "bad.json").write_text(json.dumps({f"{src.host}/cli/nope:1": f"{dst.host}/x"}))
    out = cli("sync", str(tmp_path / "bad.json"), "--plain-http")
    assert out.returncode == 1 and "nope" in out.stderr
    # --json has one shape, dry run or not, and always lists the failures
    (tmp_path / "mixed.json").write_text(json.dumps({
        f"{src.host}/cli/app": f"{dst.host}/cli/mixed", f"{src.host}/cli/nope": f"{dst.host}/y"}))
    for extra in ([], ["--dry-run"]):
        out = cli("--json", "sync", str(tmp_path / "mixed.json"), "--plain-http", *extra)
        assert out.returncode == 1
        doc = json.loads(out.stdout)
        assert set(doc) == {"copied", "planned", "failed", "vanished", "present", "journaled"}
        assert doc["vanished"] == []
        assert [f["image"] for f in doc["failed"]] == [f"{src.host}/cli/nope"]
        assert len(doc["planned" if extra else "copied"]) == 1


def test_cli_copy_all_tags_reports_a_tag_that_fails(
    pair: tuple[LocalRegistry, LocalRegistry],
) -> None:
    src, dst = pair
    good = seed_image(src, "cli/some", "good", seed=21)
    bad = seed_image(src, "cli/some", "bad", seed=22)
    with client(src) as a:
        a.repository("cli/some").blobs.delete(bad.layers[0])
    out = cli("copy", f"{src.host}/cli/some", f"{dst.host}/cli/some", "--all-tags",
              "--plain-http")
    assert out.returncode == 1
    assert out.stdout.splitlines() == [f"{dst.host}/cli/some:good@{good.digest}"]
    assert f"{src.host}/cli/some:bad" in out.stderr and out.stderr.count("error") == 1


def test_a_copy_the_target_refuses_reads_no_source_blob(
    pair: tuple[LocalRegistry, LocalRegistry],
) -> None:
    # "reader" may pull but not push on the target: its upload session is refused, and
    # no blob was fetched from the source for nothing
    src, _ = pair
    seed_image(src, "refuse/src", "1.0", layers=(50_000, 60_000))
    with LocalRegistry("token", users={"reader": "pw"},
                       grants={"reader": {"*": "pull"}}) as target_reg, \
            client(src) as a, \
            Registry(target_reg.host, protocol="http",
                     authenticator=TokenAuthenticator("reader", "pw")) as b:
        with pytest.raises(AuthorizationError):
            a.repository("refuse/src").images.copy("1.0", b.repository("refuse/dst"))
        assert src.request_count("GET", "/blobs/") == 0


def _images_sharing_a_base(reg: LocalRegistry, repository: str, tags: list[str]) -> str:
    """One image per tag, each its own config and top layer on one shared base layer
    (512 KiB); the base layer's digest."""
    docker = "application/vnd.docker.distribution.manifest.v2+json"
    layer = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    with client(reg) as c:
        repo = c.repository(repository)
        base = repo.blobs.upload(os.urandom(512 * 1024))
        for i, tag in enumerate(tags):
            top = repo.blobs.upload(os.urandom(1000))
            config = json.dumps({"architecture": "amd64", "os": "linux", "config": {
                "Env": [f"I={i}"]}, "rootfs": {"type": "layers", "diff_ids": [
                    base.digest, top.digest]}}).encode()
            cfg = repo.blobs.upload(config)
            manifest = json.dumps({"schemaVersion": 2, "mediaType": docker, "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": cfg.digest, "size": cfg.size}, "layers": [
                {"mediaType": layer, "digest": d.digest, "size": d.size} for d in (base, top)]})
            data = manifest.encode()
            repo.manifests.put(tag, RawManifest(data=data, media_type=docker,
                                                digest=sha256_digest(data)))
    return base.digest


@pytest.mark.parametrize("how", ["copy_all_tags", "sync"])
def test_a_layer_the_tags_share_crosses_once_when_they_are_copied_together(
    pair: tuple[LocalRegistry, LocalRegistry], how: str,
) -> None:
    """Each image's copy planned the shared base layer as missing (HEADs before any
    upload) and sent it: once per tag copied at the same time (4 tags, 4 workers: 4
    downloads and 4 uploads of one layer)."""
    src, dst = pair
    base = _images_sharing_a_base(src, "shared/app", ["a", "b", "c", "d"])
    src.clear_access_log()
    with client(src) as a, client(dst) as b:
        if how == "copy_all_tags":
            copied = copy_all_tags(a.repository("shared/app"), b.repository("shared/app"),
                                   max_workers=4)
        else:
            entry = SyncEntry(f"{src.host}/shared/app", f"{dst.host}/shared/app")
            copied = list(sync([entry], lambda ref: a if ref.domain == src.host else b,
                               max_workers=4).copied)
        assert len(copied) == 4
        assert len(b.repository("shared/app").tags.get_all()) == 4
    uploads = [e for e in dst.access_log_entries()
               if e.method == "PUT" and "/blobs/uploads/" in e.uri and base[7:] in e.uri]
    downloads = [e for e in src.access_log_entries()
                 if e.method == "GET" and e.uri.endswith(f"/blobs/{base}")]
    assert (len(uploads), len(downloads)) == (1, 1)


def test_a_second_sync_finds_every_image_present_and_moves_nothing(
    pair: tuple[LocalRegistry, LocalRegistry],
) -> None:
    """The one-pass sync copied every image again on a second run -- blob HEADs and a
    manifest PUT each, all reported "copied" -- where the task-based sync (and skopeo
    sync: "image already present") checks the target's manifest first. Both do now."""
    src, dst = pair
    for i, tag in enumerate(["1", "2", "3"]):
        seed_image(src, "again/app", tag, seed=40 + i)
    entry = SyncEntry(f"{src.host}/again/app", f"{dst.host}/again/app")
    with client(src) as a, client(dst) as b:
        def registry_for(ref: object) -> Registry:
            return a if getattr(ref, "domain", None) == src.host else b

        first = sync([entry], registry_for)
        assert len(first.copied) == 3 and first.present == ()
        dst.clear_access_log()
        again = sync([entry], registry_for)
    assert again.copied == () and again.ok
    assert sorted(again.present) == sorted(
        f"{dst.host}/again/app:{i.tag}@{i.digest}" for i in first.copied
        if isinstance(i, Image))
    sent = [(e.method, e.path) for e in dst.access_log_entries()]
    assert [m for m, _ in sent if m not in ("HEAD", "GET")] == []  # no upload, no PUT
    assert sum(1 for m, p in sent if m == "HEAD" and "/manifests/" in p) == 3
    assert not any("/blobs/" in p for _, p in sent)


@pytest.mark.parametrize("status", [403, 405])
@pytest.mark.parametrize("tasks", [False, True], ids=["one-pass", "tasks"])
def test_a_target_refusing_manifest_heads_is_still_synced(
    pair: tuple[LocalRegistry, LocalRegistry], status: int, tasks: bool,
) -> None:
    """The sync's "is it there already?" HEAD refused (403 in a repository not made yet
    on some registries, 405 from a proxy) failed the image; it tells nothing, and the
    image is copied."""
    src, dst = pair
    image = seed_image(src, "refused/app", "1.0", seed=61)
    with FaultProxy(dst.host) as proxy, client(src) as a:
        proxy.add_rule("HEAD", r"/manifests/", action="status", status=status, times=None,
                       body=b"")
        with Registry(proxy.host, protocol="http") as b:
            def registry_for(ref: object) -> Registry:
                return a if getattr(ref, "domain", None) == src.host else b

            result = sync([SyncEntry(f"{src.host}/refused/app:1.0",
                                     f"{proxy.host}/refused/app")], registry_for,
                          **({"executor": None, "journal": None, "shard": (0, 1)}
                             if tasks else {}))
        assert result.ok, result.failed
        assert [i.digest for i in result.copied if isinstance(i, Image)] == [image.digest]
