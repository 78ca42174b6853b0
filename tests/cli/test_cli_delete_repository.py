"""``registry-client delete REPOSITORY --all`` against a real registry (subprocess)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from registry_client import Registry
from registry_client.testing import FaultProxy, LocalRegistry, seed_image, seed_tags

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]
pytestmark = pytest.mark.integration

PLATFORMS = ["linux/amd64", "linux/arm64/v8"]


def lines(out: bytes) -> list[str]:
    return out.decode().splitlines()


def ok(result: subprocess.CompletedProcess[bytes]) -> subprocess.CompletedProcess[bytes]:
    assert result.returncode == 0, result.stderr.decode()
    return result


def test_dry_run_lists_every_manifest_then_all_deletes_them(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    single = seed_tags(anon_registry, unique_repository, ["1.0", "latest"], seed=5)
    multi = seed_image(anon_registry, unique_repository, "multi", platforms=PLATFORMS, seed=6)
    everything = sorted([single.digest, multi.digest, *(c.digest for c in multi.children)])
    repo = f"{anon_registry.host}/{unique_repository}"

    dry = ok(cli("--plain-http", "delete", repo, "--all", "--dry-run"))
    assert sorted(lines(dry.stdout)) == everything
    assert "nothing deleted" in dry.stderr.decode()
    assert sorted(lines(ok(cli("--plain-http", "ls", repo)).stdout)) == ["1.0", "latest", "multi"]

    dry_json = ok(cli("--plain-http", "--json", "delete", repo, "--all", "--dry-run"))
    assert sorted(json.loads(dry_json.stdout)) == everything

    done = ok(cli("--plain-http", "--json", "delete", repo, "--all"))
    deleted = json.loads(done.stdout)
    assert sorted(deleted) == everything
    assert deleted.index(multi.digest) < min(deleted.index(c.digest) for c in multi.children)
    assert lines(ok(cli("--plain-http", "ls", repo)).stdout) == []
    again = ok(cli("--plain-http", "delete", repo, "--all"))
    assert lines(again.stdout) == []


def test_all_prints_each_digest_as_it_goes(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0", seed=7)
    repo = f"{anon_registry.host}/{unique_repository}"
    done = ok(cli("--plain-http", "delete", repo, "--all"))
    assert lines(done.stdout) == [image.digest]
    assert "deleted 1 manifest" in done.stderr.decode()
    assert "garbage-collect" in done.stderr.decode()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["delete", "localhost:5000/app:1.0", "--all"], "without a tag or digest"),
        (["delete", "localhost:5000/app@sha256:" + "a" * 64, "--all"], "without a tag or digest"),
        (["delete", "localhost:5000/app:1.0", "--dry-run"], "--all"),
        (["delete", "localhost:5000/app"], "--all"),
    ],
)
def test_usage_errors(cli: CliRunner, args: list[str], needle: str) -> None:
    result = cli("--plain-http", *args)
    assert result.returncode == 2
    assert needle in result.stderr.decode()


def test_a_refused_delete_exits_1_and_leaves_every_tag(cli: CliRunner) -> None:
    with LocalRegistry(delete_enabled=False) as reg:        # Distribution's default
        image = seed_tags(reg, "rmrepo/refused", ["a", "b"])
        repo = f"{reg.host}/rmrepo/refused"
        result = cli("--plain-http", "--json", "delete", repo, "--all")
        assert result.returncode == 1
        assert json.loads(result.stdout) == []
        assert b"deleted 0 manifests before the error" in result.stderr
        assert b"405" in result.stderr or b"UNSUPPORTED" in result.stderr
        assert b"storage.delete.enabled" in result.stderr  # why, and what to change
        after = lines(ok(cli("--plain-http", "ls", repo, "--digests")).stdout)
        assert sorted(after) == [f"{t}\t{image.digest}" for t in "ab"]


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["all", "dry-run"])
def test_a_missing_repository_says_delete_repository(
    cli: CliRunner, anon_registry: LocalRegistry, dry_run: list[str],
) -> None:
    result = cli("--plain-http", "delete", f"{anon_registry.host}/rmrepo/nosuch", "--all",
                 *dry_run)
    assert result.returncode == 1
    error = [line for line in lines(result.stderr) if "error:" in line]
    assert len(error) == 1
    assert "error: delete repository rmrepo/nosuch: " in error[0] and "404" in error[0]


def test_a_closed_stdout_stops_the_deletes_and_says_how_far_they_got(
    docker_config_dir: Path, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    """`delete --all | head -1`: the rest is kept, stderr says how many went, exit 141.

    Each DELETE takes 0.3 s (a proxy's delay): on a busy machine the eight went before
    the reader closed its end, and the run ended 0."""
    for i in range(8):
        seed_image(anon_registry, unique_repository, f"v{i}", seed=100 + i)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["DOCKER_CONFIG"] = str(docker_config_dir)
    with FaultProxy(anon_registry, timeout=10) as proxy:
        proxy.add_rule("DELETE", "/manifests/", action="delay", delay=0.3, times=None)
        child = subprocess.Popen(
            [sys.executable, "-m", "registry_client", "--plain-http", "delete",
             f"{proxy.host}/{unique_repository}", "--all"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        assert child.stdout is not None and child.stderr is not None
        first = child.stdout.readline()
        child.stdout.close()  # as `head -1` does
        stderr = child.stderr.read().decode()
        assert child.wait(timeout=60) == 141
    assert first.startswith(b"sha256:")
    match = re.search(r"stopped after (\d+) deletions?\b.*standard output was closed", stderr)
    assert match, stderr
    done = int(match.group(1))
    assert 1 <= done < 8
    with Registry(anon_registry.host, protocol="http") as client:
        left = client.repository(unique_repository).tags.get_all()
    assert len(left) == 8 - done


def test_messages_count_manifests_in_the_singular_too(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    seed_image(anon_registry, unique_repository, "v0", seed=8)
    repo = f"{anon_registry.host}/{unique_repository}"
    dry = ok(cli("--plain-http", "delete", repo, "--all", "--dry-run")).stderr.decode()
    assert "dry run: 1 manifest would go" in dry
    seed_image(anon_registry, unique_repository, "v1", seed=9)
    with FaultProxy(anon_registry, timeout=5) as proxy:  # the second DELETE is refused
        proxy.add_rule("DELETE", "/manifests/", action="status", status=403, times=None,
                       every=2)
        refused = cli("--plain-http", "delete", f"{proxy.host}/{unique_repository}", "--all")
    assert refused.returncode == 1
    assert "deleted 1 manifest before the error" in refused.stderr.decode()
