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
