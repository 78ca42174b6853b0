"""Habits crane and skopeo users bring: copy --platform, --json everywhere, ls -O, inspect."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def test_platform_all_is_every_platform_as_in_crane(
    cli: CliRunner, anon_registry: LocalRegistry, target_registry: LocalRegistry,
    unique_repository: str,
) -> None:
    index = seed_image(anon_registry, unique_repository, "1.0",
                       platforms=["linux/amd64", "linux/arm64"])
    copied = cli("copy", f"{anon_registry.host}/{unique_repository}:1.0",
                 f"{target_registry.host}/{unique_repository}:all", "--platform", "all")
    assert copied.returncode == 0, copied.stderr
    assert _has(target_registry, unique_repository, "all") == index.digest


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


# -- --json on every verb that prints a result --------------------------------------------------
def test_every_verb_that_prints_a_result_prints_json_with_json(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0")
    repo = f"{anon_registry.host}/{unique_repository}"
    (tmp_path / "sync.yaml").write_text(f"{repo}:1.0: {repo}-synced\n")
    commands = [
        ["ls", repo], ["catalog", anon_registry.host], ["parse", f"{repo}:1.0"],
        ["manifest", f"{repo}:1.0"], ["digest", f"{repo}:1.0"], ["config", f"{repo}:1.0"],
        ["inspect", f"{repo}:1.0"], ["tag", f"{repo}:1.0", "2.0"],
        ["copy", f"{repo}:1.0", f"{repo}-copy:1.0"], ["copy", f"{repo}:1.0", f"{repo}-dry",
                                                      "--dry-run"],
        ["pull", f"{repo}:1.0", str(tmp_path / "layout")],
        ["push", str(tmp_path / "layout"), f"{repo}-pushed:1.0"],
        ["referrers", f"{repo}@{image.digest}"], ["ratelimit", f"{repo}:1.0"],
        ["sync", str(tmp_path / "sync.yaml")], ["auth", "logout", anon_registry.host],
        ["auth", "get", anon_registry.host],  # (nothing stored: the helper's words, exit 1)
        ["delete", f"{repo}-copy", "--all"],
    ]
    for command in commands:
        result = cli(*command, "--json")
        if command[:2] == ["auth", "get"]:
            assert result.returncode == 1
            continue
        assert result.returncode == 0, (command, result.stderr)
        json.loads(result.stdout)  # one JSON document, nothing else on stdout


@pytest.mark.parametrize(("args", "message"), [
    (["blob", f"localhost:1/app@sha256:{'a' * 64}"], b"--json does not apply to blob"),
    (["blob", f"localhost:1/app@sha256:{'a' * 64}", "-o", "x"], b"--json does not apply"),
    (["delete", f"localhost:1/app@sha256:{'a' * 64}"], b"--json goes with --all"),
    (["delete", "localhost:1/app:1.0"], b"--json goes with --all"),
])
def test_json_is_refused_where_no_result_is_printed(
    cli: CliRunner, args: list[str], message: bytes,
) -> None:
    result = cli(*args, "--json")
    assert result.returncode == 2
    assert result.stdout == b""
    assert message in result.stderr


# -- ls --omit-digest-tags ----------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--omit-digest-tags", "-O"])
def test_ls_omit_digest_tags_hides_sha256_tags_as_crane_does(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str, flag: str,
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0")
    digest_tag = image.digest.replace(":", "-")
    for tag in (digest_tag, f"{digest_tag}.sig", "sha256"):
        assert cli("tag", f"{anon_registry.host}/{unique_repository}:1.0", tag).returncode == 0
    repo = f"{anon_registry.host}/{unique_repository}"
    everything = cli("ls", repo).stdout.decode().split()
    assert sorted(everything) == sorted(["1.0", digest_tag, f"{digest_tag}.sig", "sha256"])
    omitted = cli("ls", repo, flag)
    assert omitted.returncode == 0
    assert sorted(omitted.stdout.decode().split()) == ["1.0", "sha256"]
    as_json = json.loads(cli("ls", repo, flag, "--json", "--digests").stdout)
    assert sorted(as_json["tags"]) == ["1.0", "sha256"]
    assert set(as_json["digests"]) == {"1.0", "sha256"}


def test_full_ref_prints_whole_references_as_crane_does(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    # crane ls / digest / catalog --full-ref: lines a script can hand to the next command
    image = seed_image(anon_registry, unique_repository, "1.0")
    repo = f"{anon_registry.host}/{unique_repository}"
    assert cli("ls", repo, "--full-ref").stdout.decode().split() == [f"{repo}:1.0"]
    assert cli("ls", repo, "--full-ref", "--digests").stdout.decode().splitlines() == [
        f"{repo}:1.0\t{image.digest}"]
    digest = cli("digest", f"{repo}:1.0", "--full-ref").stdout.decode().strip()
    assert digest == f"{repo}@{image.digest}"
    names = cli("catalog", anon_registry.host, "--full-ref").stdout.decode().split()
    assert repo in names and all(n.startswith(f"{anon_registry.host}/") for n in names)


def test_copy_a_is_all_tags_as_in_crane(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0")
    repo = f"{anon_registry.host}/{unique_repository}"
    assert cli("tag", f"{repo}:1.0", "2.0").returncode == 0
    copied = cli("copy", "-a", repo, f"{repo}-all")
    assert copied.returncode == 0, copied.stderr.decode()
    assert sorted(cli("ls", f"{repo}-all").stdout.decode().split()) == ["1.0", "2.0"]
    assert _has(anon_registry, f"{unique_repository}-all", "2.0") == image.digest


# -- inspect --json carries skopeo inspect's keys -----------------------------------------------
SKOPEO_KEYS = ("Name", "Digest", "RepoTags", "Created", "DockerVersion", "Labels",
               "Architecture", "Os", "Layers", "Env")


def _skopeo_inspect(host: str, reference: str, *extra: str) -> dict[str, Any]:
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo (Debian package) is part of the test setup"
    out = subprocess.run(
        [skopeo, "--insecure-policy", *extra, "inspect", "--tls-verify=false",
         f"docker://{host}/{reference}"],
        capture_output=True, text=True, timeout=120, check=True)
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


@pytest.mark.parametrize("flags", [["--raw"], ["--config"], ["--raw", "--config"]],
                         ids=["raw", "config", "raw-config"])
def test_inspect_raw_and_config_print_the_bytes_skopeo_inspect_raw_prints(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str, flags: list[str],
) -> None:
    # skopeo inspect --raw: the manifest as served (an index as it is); --config --raw:
    # the config blob of the image for this platform (linux/amd64)
    seed_image(anon_registry, unique_repository, "1.0", media="oci",
               platforms=["linux/amd64", "linux/arm64"])
    ours = cli("inspect", *flags, f"{anon_registry.host}/{unique_repository}:1.0")
    assert ours.returncode == 0, ours.stderr
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo (Debian package) is part of the test setup"
    theirs = subprocess.run(
        [skopeo, "--insecure-policy", "--override-os", "linux", "--override-arch", "amd64",
         "inspect", "--tls-verify=false", "--raw", *(["--config"] if "--config" in flags
                                                     else []),
         f"docker://{anon_registry.host}/{unique_repository}:1.0"],
        capture_output=True, timeout=120, check=True)
    assert ours.stdout.rstrip(b"\n") == theirs.stdout.rstrip(b"\n")


@pytest.mark.parametrize(("platforms", "platform", "skopeo_flags"), [
    (None, None, []),
    (["linux/amd64", "linux/arm64"], None, []),
    (["linux/amd64", "linux/arm64"], "linux/arm64", ["--override-arch", "arm64"]),
], ids=["single", "index", "index-arm64"])
def test_inspect_json_has_skopeo_inspects_keys_and_values(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str,
    platforms: list[str] | None, platform: str | None, skopeo_flags: list[str],
) -> None:
    created = datetime.datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=datetime.timezone.utc)
    seed_image(anon_registry, unique_repository, "1.0", platforms=platforms, media="oci",
               labels={"org.example.team": "conv"}, created=created, layers=(300, 400))
    seed_image(anon_registry, unique_repository, "sha256-0123", seed=7)
    ours = cli("inspect", f"{anon_registry.host}/{unique_repository}:1.0", "--json",
               *(["--platform", platform] if platform else []))
    assert ours.returncode == 0, ours.stderr
    doc = json.loads(ours.stdout)
    theirs = _skopeo_inspect(anon_registry.host, f"{unique_repository}:1.0", *skopeo_flags)
    assert {key: doc[key] for key in SKOPEO_KEYS} == {key: theirs[key] for key in SKOPEO_KEYS}
    assert doc["Created"] == "2024-05-06T07:08:09.12Z"
    assert doc["digest"] == doc["Digest"] and "platforms" in doc  # our own keys stay
    assert [d["Digest"] for d in doc["LayersData"]] == doc["Layers"]


def test_go_time_prints_created_as_skopeo_does() -> None:
    from registry_client.cli._show import go_time

    assert go_time("2024-01-02T03:04:05Z") == "2024-01-02T03:04:05Z"
    assert go_time("2024-01-02T03:04:05.500000000Z") == "2024-01-02T03:04:05.5Z"
    assert go_time("2024-01-02T03:04:05.000+00:00") == "2024-01-02T03:04:05Z"
    assert (go_time("2024-01-02T03:04:05.123456789123-07:00")
            == "2024-01-02T03:04:05.123456789-07:00")
    assert go_time("yesterday") == "yesterday"
    assert go_time(None) is None


# -- copy --no-clobber ----------------------------------------------------------------------
def test_copy_no_clobber_refuses_a_tag_the_destination_has(
    cli: CliRunner, anon_registry: LocalRegistry, target_registry: LocalRegistry,
    unique_repository: str,
) -> None:
    src = seed_image(anon_registry, unique_repository, "1.0", seed=1)
    there = seed_image(target_registry, unique_repository, "1.0", seed=2)
    source = f"{anon_registry.host}/{unique_repository}:1.0"
    dest = f"{target_registry.host}/{unique_repository}"
    for destination in (dest, f"{dest}:1.0"):  # the source's tag, or the one written
        refused = cli("copy", "-n", source, destination)
        assert refused.returncode == 1
        assert refused.stdout == b""
        err = refused.stderr.decode()
        assert err == ("registry-client: error: refusing to clobber existing tag "
                       f"{dest}:1.0@{there.digest} (--no-clobber)\n")
        assert _has(target_registry, unique_repository, "1.0") == there.digest
    # a tag the destination does not have is copied as without the flag
    copied = cli("copy", "--no-clobber", source, f"{dest}:2.0")
    assert copied.returncode == 0, copied.stderr
    assert _has(target_registry, unique_repository, "2.0") == src.digest


def test_copy_all_tags_no_clobber_copies_only_the_tags_the_destination_lacks(
    cli: CliRunner, anon_registry: LocalRegistry, target_registry: LocalRegistry,
    unique_repository: str,
) -> None:
    seed_image(anon_registry, unique_repository, "1.0", seed=1)
    new = seed_image(anon_registry, unique_repository, "2.0", seed=3)
    there = seed_image(target_registry, unique_repository, "1.0", seed=2)
    dest = f"{target_registry.host}/{unique_repository}"
    done = cli("copy", "-a", "-n", f"{anon_registry.host}/{unique_repository}", dest)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == [f"{dest}:2.0@{new.digest}"]
    assert done.stderr.decode() == f"kept (--no-clobber): {dest}:1.0\n"
    assert _has(target_registry, unique_repository, "1.0") == there.digest
    assert _has(target_registry, unique_repository, "2.0") == new.digest
    # an empty destination repository (a 404 for its tag list) keeps nothing back
    fresh = cli("copy", "-a", "-n", f"{anon_registry.host}/{unique_repository}",
                f"{dest}-fresh")
    assert fresh.returncode == 0, fresh.stderr
    assert len(fresh.stdout.decode().splitlines()) == 2 and fresh.stderr == b""
    # --json names the kept tags too: "nothing to do" and "kept back" differ
    again = cli("copy", "-a", "-n", f"{anon_registry.host}/{unique_repository}", dest,
                "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["kept"] == [f"{dest}:1.0", f"{dest}:2.0"]


# -- skopeo's docker:// transport ------------------------------------------------------------
def test_copy_takes_skopeo_s_docker_transport_on_both_sides(
    cli: CliRunner, anon_registry: LocalRegistry, target_registry: LocalRegistry,
    unique_repository: str,
) -> None:
    src = seed_image(anon_registry, unique_repository, "1.0")
    copied = cli("copy", f"docker://{anon_registry.host}/{unique_repository}:1.0",
                 f"docker://{target_registry.host}/{unique_repository}:1.0")
    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.decode().strip() == (
        f"{target_registry.host}/{unique_repository}:1.0@{src.digest}")
    assert _has(target_registry, unique_repository, "1.0") == src.digest


# -- skopeo list-tags ----------------------------------------------------------------------------
def test_list_tags_prints_what_skopeo_list_tags_prints(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    for tag in ("1.0", "2.0", "latest"):
        seed_image(anon_registry, unique_repository, tag)
    ours = cli("list-tags", f"docker://{anon_registry.host}/{unique_repository}")
    assert ours.returncode == 0, ours.stderr
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo (Debian package) is part of the test setup"
    theirs = subprocess.run(
        [skopeo, "list-tags", "--tls-verify=false",
         f"docker://{anon_registry.host}/{unique_repository}"],
        capture_output=True, timeout=120, check=True)
    assert json.loads(ours.stdout) == json.loads(theirs.stdout)
    assert ours.stdout == theirs.stdout  # the same 4-space indent too


def test_inspect_json_of_an_image_without_labels_says_null_as_skopeo(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    """A config without Labels (what `append` from scratch writes): skopeo prints null
    (Go's nil map), not {}; so do Env and Created."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "hello").write_text("hi\n")
    ref = f"{anon_registry.host}/{unique_repository}:bare"
    built = cli("append", "-f", str(tree), "-t", ref)
    assert built.returncode == 0, built.stderr
    ours = json.loads(cli("inspect", ref, "--json").stdout)
    theirs = _skopeo_inspect(anon_registry.host, f"{unique_repository}:bare")
    assert theirs["Labels"] is None
    assert {key: ours[key] for key in SKOPEO_KEYS} == {key: theirs[key] for key in SKOPEO_KEYS}
