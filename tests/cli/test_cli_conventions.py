"""Habits crane and skopeo users bring: copy --platform, --json everywhere, ls -O, inspect."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest

from registry_client import NotFoundError, Registry
from registry_client.testing import LocalRegistry, LocalRegistryFactory, seed_image

pytestmark = pytest.mark.integration

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture(scope="module")
def target_registry(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """An anonymous registry the copies go to."""
    return local_registry_factory("anonymous")


def _has(reg: LocalRegistry, repository: str, reference: str) -> str | None:
    """The digest ``reference`` names on ``reg``, or None when it is not there."""
    with Registry(reg.host, protocol="http") as client:
        try:
            return client.repository(repository).manifests.head(reference).digest
        except NotFoundError:
            return None


# -- copy --platform ------------------------------------------------------------------------
def test_copy_platform_puts_only_that_platforms_manifest_on_the_target(
    cli: CliRunner, anon_registry: LocalRegistry, target_registry: LocalRegistry,
    unique_repository: str,
) -> None:
    index = seed_image(anon_registry, unique_repository, "1.0",
                       platforms=["linux/amd64", "linux/arm64"])
    arm64, amd64 = index.child("linux/arm64"), index.child("linux/amd64")
    copied = cli("copy", f"{anon_registry.host}/{unique_repository}:1.0",
                 f"{target_registry.host}/{unique_repository}:arm", "--platform", "linux/arm64",
                 "--json")
    assert copied.returncode == 0, copied.stderr
    doc = json.loads(copied.stdout)
    assert doc["digest"] == arm64.digest and doc["tag"] == "arm"
    assert [p["platform"] for p in doc["platforms"]] == ["linux/arm64"]
    assert _has(target_registry, unique_repository, "arm") == arm64.digest
    assert _has(target_registry, unique_repository, arm64.digest) == arm64.digest
    assert _has(target_registry, unique_repository, index.digest) is None  # no index
    assert _has(target_registry, unique_repository, amd64.digest) is None  # no other platform
    # without a destination tag, the source's tag names the one platform's image
    kept = cli("copy", f"{anon_registry.host}/{unique_repository}:1.0",
               f"{target_registry.host}/{unique_repository}-kept", "--platform", "linux/amd64")
    assert kept.returncode == 0, kept.stderr
    assert _has(target_registry, f"{unique_repository}-kept", "1.0") == amd64.digest
    assert _has(target_registry, f"{unique_repository}-kept", index.digest) is None


def test_copy_platform_refusals(
    cli: CliRunner, anon_registry: LocalRegistry, target_registry: LocalRegistry,
    unique_repository: str,
) -> None:
    seed_image(anon_registry, unique_repository, "single")  # linux/amd64
    seed_image(anon_registry, unique_repository, "multi", platforms=["linux/amd64"])
    source = f"{anon_registry.host}/{unique_repository}"
    target = f"{target_registry.host}/{unique_repository}"
    other = cli("copy", f"{source}:single", target, "--platform", "linux/arm64")
    assert other.returncode == 1
    assert b"is a single linux/amd64 image, not linux/arm64" in other.stderr
    missing = cli("copy", f"{source}:multi", target, "--platform", "linux/s390x")
    assert missing.returncode == 1 and b"no platform linux/s390x" in missing.stderr
    all_tags = cli("copy", source, target, "--all-tags", "--platform", "linux/amd64")
    assert all_tags.returncode == 2 and b"--all-tags" in all_tags.stderr
    assert _has(target_registry, unique_repository, "single") is None
    same = cli("copy", f"{source}:single", target, "--platform", "linux/amd64")
    assert same.returncode == 0, same.stderr
    assert _has(target_registry, unique_repository, "single") is not None


def test_copy_platform_help_says_the_index_is_not_copied(cli: CliRunner) -> None:
    text = cli("copy", "--help").stdout.decode()
    assert "--platform" in text and "index (manifest list) is NOT copied" in text
