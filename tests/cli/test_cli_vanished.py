"""The CLI on a busy registry: a tag deleted between the tag list and its HEAD/GET.

The FaultProxy answers 404 ``MANIFEST_UNKNOWN`` for one tag's manifest URL; ``ls
--digests``, ``prune``, ``copy --all-tags`` and ``sync`` handle every other tag, exit 0
and name the vanished one (text: on stderr; ``--json``: a ``vanished`` list).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry_client.testing import (
    FaultProxy,
    LocalRegistry,
    LocalRegistryFactory,
    SeededImage,
    seed_image,
)

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]
pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.timezone.utc)
TAGS = ["a", "gone", "b", "c"]
GONE = "gone"
MANIFEST_UNKNOWN = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN",
                                           "message": "manifest unknown"}]}).encode()


def ok(result: subprocess.CompletedProcess[bytes]) -> subprocess.CompletedProcess[bytes]:
    assert result.returncode == 0, result.stderr.decode()
    return result


@pytest.fixture
def seeded(anon_registry: LocalRegistry, unique_repository: str) -> dict[str, SeededImage]:
    return {tag: seed_image(anon_registry, unique_repository, tag, seed=70 + i,
                            layers=(128,), created=NOW - dt.timedelta(days=i))
            for i, tag in enumerate(TAGS)}


@pytest.fixture
def proxy(anon_registry: LocalRegistry, unique_repository: str) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        path = rf"^/v2/{unique_repository}/manifests/{GONE}$"
        p.add_rule("HEAD", path, action="status", status=404, body=b"", times=None)
        p.add_rule("GET", path, action="status", status=404, body=MANIFEST_UNKNOWN,
                   headers={"Content-Type": "application/json"}, times=None)
        yield p


def test_ls_digests_lists_every_other_tag(
    cli: CliRunner, seeded: dict[str, SeededImage], proxy: FaultProxy, unique_repository: str,
) -> None:
    repo = f"{proxy.host}/{unique_repository}"
    text = ok(cli("ls", repo, "--plain-http", "--digests"))
    assert sorted(text.stdout.decode().splitlines()) == [
        f"{t}\t{seeded[t].digest}" for t in ("a", "b", "c")]
    assert f"{GONE}" in text.stderr.decode() and "vanished" in text.stderr.decode()
    doc = json.loads(ok(cli("--json", "ls", repo, "--plain-http", "--digests")).stdout)
    assert doc["digests"] == {t: seeded[t].digest for t in ("a", "b", "c")}
    assert doc["vanished"] == [GONE] and GONE not in doc["tags"]
    plain = ok(cli("ls", repo, "--plain-http"))  # no HEADs: the list as the registry has it
    assert sorted(plain.stdout.decode().split()) == sorted(TAGS)


def test_prune_plans_every_other_tag_and_names_the_gone_one(
    cli: CliRunner, seeded: dict[str, SeededImage], proxy: FaultProxy, unique_repository: str,
) -> None:
    repo = f"{proxy.host}/{unique_repository}"
    text = ok(cli("prune", repo, "--plain-http", "--keep", "1", "--dry-run"))
    rows = [line.split()[:2] for line in text.stdout.decode().splitlines()[1:-2]]
    assert sorted(rows) == [["delete", "b"], ["delete", "c"], ["keep", "a"]]
    assert f"vanished while planning (deleted meanwhile): {GONE}" in text.stderr.decode()
    doc = json.loads(ok(cli("--json", "prune", repo, "--plain-http", "--keep", "1")).stdout)
    assert doc["vanished"] == [GONE] and sorted(doc["deleted"]) == ["b", "c"]


def test_copy_all_tags_and_sync_copy_every_other_tag_and_name_the_gone_one(
    cli: CliRunner, seeded: dict[str, SeededImage], proxy: FaultProxy, unique_repository: str,
    local_registry_factory: LocalRegistryFactory, tmp_path: Path,
) -> None:
    dst = local_registry_factory("anonymous")
    source = f"{proxy.host}/{unique_repository}"
    copied = ok(cli("copy", "--all-tags", source, f"{dst.host}/m/all", "--plain-http"))
    assert len(copied.stdout.decode().splitlines()) == 3
    assert f"{source}:{GONE}" in copied.stderr.decode()
    assert "vanished" in copied.stderr.decode() and "error" not in copied.stderr.decode()
    (tmp_path / "m.json").write_text(json.dumps({source: f"{dst.host}/m/sync"}))
    doc = json.loads(ok(cli("--json", "sync", str(tmp_path / "m.json"), "--plain-http")).stdout)
    assert doc["vanished"] == [f"{source}:{GONE}"] and doc["failed"] == []
    assert sorted(i["tag"] for i in doc["copied"]) == ["a", "b", "c"]
    left = ok(cli("ls", f"{dst.host}/m/sync", "--plain-http")).stdout.decode().split()
    assert sorted(left) == ["a", "b", "c"]


def test_copy_all_tags_json_names_the_gone_tag_as_sync_does(
    cli: CliRunner, seeded: dict[str, SeededImage], proxy: FaultProxy, unique_repository: str,
    local_registry_factory: LocalRegistryFactory,
) -> None:
    dst = local_registry_factory("anonymous")
    source = f"{proxy.host}/{unique_repository}"
    for extra in ([], ["--dry-run"]):
        result = ok(cli("--json", "copy", "--all-tags", *extra, source, f"{dst.host}/m/js",
                        "--plain-http"))
        doc = json.loads(result.stdout)
        assert doc["vanished"] == [f"{source}:{GONE}"] and doc["failed"] == []
        done, planned = (doc["planned"], doc["copied"]) if extra else (
            doc["copied"], doc["planned"])
        assert planned == [] and len(done) == 3
        assert sorted(x["tag"] for x in done) == ["a", "b", "c"]


@pytest.mark.parametrize("verb", ["copy", "sync", "ls"])
def test_each_vanished_tag_is_named_once_on_stderr(
    cli: CliRunner, seeded: dict[str, SeededImage], proxy: FaultProxy, unique_repository: str,
    local_registry_factory: LocalRegistryFactory, tmp_path: Path, verb: str,
) -> None:
    dst = local_registry_factory("anonymous")
    source = f"{proxy.host}/{unique_repository}"
    (tmp_path / "m.json").write_text(json.dumps({source: f"{dst.host}/m/once"}))
    args = {"copy": ["copy", "--all-tags", source, f"{dst.host}/m/once"],
            "sync": ["sync", str(tmp_path / "m.json")],
            "ls": ["ls", source, "--digests"]}[verb]
    err = ok(cli(*args, "--plain-http")).stderr.decode()
    [line] = [x for x in err.splitlines() if GONE in x]
    assert "vanished" in line


def test_a_404_of_the_targets_manifest_put_fails_the_copy(
    cli: CliRunner, seeded: dict[str, SeededImage], anon_registry: LocalRegistry,
    unique_repository: str, local_registry_factory: LocalRegistryFactory, tmp_path: Path,
) -> None:
    # a mirror: the target refuses one tag's PUT with a 404 on the source's very path
    not_found = b'{"errors":[{"code":"NOT_FOUND","message":"project not found"}]}'
    with FaultProxy(local_registry_factory("anonymous"), timeout=5) as target:
        target.add_rule("PUT", rf"^/v2/{unique_repository}/manifests/{GONE}$",
                        action="status", status=404, body=not_found,
                        headers={"Content-Type": "application/json"}, times=None)
        source = f"{anon_registry.host}/{unique_repository}"
        mirror = f"{target.host}/{unique_repository}"
        (tmp_path / "m.json").write_text(json.dumps({source: mirror}))
        for args in (["copy", "--all-tags", source, mirror], ["sync", str(tmp_path / "m.json")]):
            result = cli(*args, "--plain-http")
            err = result.stderr.decode()
            assert result.returncode == 1, err
            assert f"{source}:{GONE}" in err and "error" in err and "vanished" not in err
        doc = json.loads(cli("--json", "sync", str(tmp_path / "m.json"), "--plain-http").stdout)
        assert doc["vanished"] == [] and [f["image"] for f in doc["failed"]] == [
            f"{source}:{GONE}"]


def test_delete_all_names_the_tags_it_skipped_as_vanished(
    cli: CliRunner, seeded: dict[str, SeededImage], proxy: FaultProxy, unique_repository: str,
) -> None:
    repo = f"{proxy.host}/{unique_repository}"
    result = ok(cli("--plain-http", "delete", repo, "--all"))
    [line] = [x for x in result.stderr.decode().splitlines() if GONE in x]
    assert "vanished" in line and "skipped" in line


def test_prune_counts_one_tag_in_the_singular(
    cli: CliRunner, seeded: dict[str, SeededImage], proxy: FaultProxy, unique_repository: str,
) -> None:
    repo = f"{proxy.host}/{unique_repository}"
    out = ok(cli("prune", repo, "--plain-http", "--keep", "2")).stdout.decode().splitlines()
    assert out[-2] == "3 tags: 1 to delete" + out[-2][len("3 tags: 1 to delete"):]
    assert out[-1] == "deleted 1 tag"
