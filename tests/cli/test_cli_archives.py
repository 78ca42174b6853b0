"""``pull --format``, ``push FILE.tar``, ``validate``, ``index create`` and ``artifact get``
through ``python -m registry_client`` against a real registry (and skopeo for the archives)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from _tar_images import TarImage
from _write_helpers import find_skopeo, run_skopeo

from registry_client import RawManifest, Registry
from registry_client.testing import FaultProxy, LocalRegistry

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]
pytestmark = pytest.mark.integration
SBOM = "application/spdx+json"


def ok(result: subprocess.CompletedProcess[bytes]) -> subprocess.CompletedProcess[bytes]:
    assert result.returncode == 0, result.stderr.decode()
    return result


@pytest.fixture
def pushed(anon_registry: LocalRegistry, unique_repository: str) -> tuple[str, TarImage]:
    """An amd64 and an arm64 image, tagged amd64 / arm64; (repository reference, amd64)."""
    with Registry(anon_registry.host, protocol="http") as reg:
        repo = reg.repository(unique_repository)
        amd = TarImage(platform="linux/amd64")
        amd.push(repo, "amd64")
        TarImage(platform="linux/arm64").push(repo, "arm64")
    return f"{anon_registry.host}/{unique_repository}", amd


def test_pull_format_and_push_archives(
    cli: CliRunner, pushed: tuple[str, TarImage], tmp_path: Path
) -> None:
    where, amd = pushed
    skopeo = find_skopeo()
    for fmt in ("docker-archive", "oci-archive"):
        archive = tmp_path / f"{fmt}.tar"
        out = ok(cli("pull", f"{where}:amd64", str(archive), "--format", fmt, "--plain-http"))
        assert out.stdout.decode().strip() == f"{where}:amd64@{amd.digest}"
        assert tarfile.is_tarfile(archive)
        info = json.loads(run_skopeo(skopeo, "inspect", f"{fmt}:{archive}"))
        assert info["Architecture"] == "amd64"
        pushed_back = ok(cli("--json", "push", str(archive), f"{where}:from-{fmt}",
                             "--plain-http"))
        doc = json.loads(pushed_back.stdout)
        assert doc["tag"] == f"from-{fmt}"
        if fmt == "oci-archive":
            assert doc["digest"] == amd.digest


def test_one_image_of_an_index_is_linux_amd64_without_platform_as_crane_reads_it(
    cli: CliRunner, pushed: tuple[str, TarImage], tmp_path: Path
) -> None:
    """A docker-archive and an export hold one image: crane's pull and export read an
    index for linux/amd64 (its default platform), as our inspect and config do; they
    exited 1 ("choose one with --platform") for every multi-platform image."""
    where, amd = pushed  # a bare digest, a full reference: both name images of the index's repo
    ok(cli("index", "create", f"{where}:multi", amd.digest, f"{where}:arm64", "--plain-http"))
    archive = tmp_path / "multi.tar"
    ok(cli("pull", f"{where}:multi", str(archive), "--plain-http"))
    info = json.loads(run_skopeo(find_skopeo(), "inspect", f"docker-archive:{archive}"))
    assert info["Architecture"] == "amd64"
    exported = ok(cli("export", f"{where}:multi", "-", "--plain-http")).stdout
    assert exported == ok(cli("export", f"{where}:amd64", "-", "--plain-http")).stdout
    ok(cli("pull", f"{where}:multi", str(archive), "--format", "docker-archive",
           "--platform", "linux/arm64", "--plain-http"))
    info = json.loads(run_skopeo(find_skopeo(), "inspect", f"docker-archive:{archive}"))
    assert info["Architecture"] == "arm64"
    # no linux/amd64 in it: the choice stays the user's
    with Registry(where.split("/", 1)[0], protocol="http") as reg:
        TarImage(platform="linux/s390x").push(reg.repository(where.split("/", 1)[1]), "s390x")
    ok(cli("index", "create", f"{where}:other", f"{where}:s390x", f"{where}:arm64",
           "--plain-http"))
    for verb in (("pull", f"{where}:other", str(tmp_path / "o.tar")),
                 ("export", f"{where}:other", str(tmp_path / "o-fs.tar"))):
        refused = cli(*verb, "--plain-http")
        assert refused.returncode == 1
        assert b"choose" in refused.stderr and b"--platform" in refused.stderr  # not platform=
        assert b"linux/s390x" in refused.stderr and b"amd64" not in refused.stderr



def test_an_index_whose_one_entry_is_an_index_is_read_for_linux_amd64_too(
    cli: CliRunner, pushed: tuple[str, TarImage], tmp_path: Path
) -> None:
    """An index of one entry that names no platform is that entry -- unless the entry is
    an index itself: then it is a multi-platform image like any other (export refused
    it even with --platform, and the CLI default did not apply)."""
    where, amd = pushed
    ok(cli("index", "create", f"{where}:inner", amd.digest, f"{where}:arm64", "--plain-http"))
    host, name = where.split("/", 1)
    with Registry(host, protocol="http") as reg:
        repo = reg.repository(name)
        inner = repo.manifests.head("inner")
        outer = json.dumps({"schemaVersion": 2, "mediaType": inner.media_type, "manifests": [
            {"mediaType": inner.media_type, "digest": inner.digest, "size": inner.size}]})
        repo.manifests.put("outer", RawManifest(outer.encode(), inner.media_type, ""))
    ok(cli("pull", f"{where}:outer", str(tmp_path / "o.tar"), "--plain-http"))
    info = json.loads(run_skopeo(find_skopeo(), "inspect", f"docker-archive:{tmp_path / 'o.tar'}"))
    assert info["Architecture"] == "amd64"
    exported = ok(cli("export", f"{where}:outer", "-", "--plain-http")).stdout
    assert exported == ok(cli("export", f"{where}:amd64", "-", "--plain-http")).stdout
    arm = ok(cli("export", f"{where}:outer", "-", "--platform", "linux/arm64",
                 "--plain-http")).stdout
    assert arm == ok(cli("export", f"{where}:arm64", "-", "--plain-http")).stdout


def test_pull_to_a_tar_name_writes_a_docker_archive_as_crane_pull_does(
    cli: CliRunner, pushed: tuple[str, TarImage], tmp_path: Path
) -> None:
    where, amd = pushed
    archive = tmp_path / "app.tar"
    out = ok(cli("pull", f"{where}:amd64", str(archive), "--plain-http"))
    assert out.stdout.decode().strip() == f"{where}:amd64@{amd.digest}"
    assert archive.is_file() and tarfile.is_tarfile(archive)  # not a directory named app.tar
    info = json.loads(run_skopeo(find_skopeo(), "inspect", f"docker-archive:{archive}"))
    assert info["Architecture"] == "amd64"
    # crane's name for that format; an explicit --format wins over the name
    ok(cli("pull", f"{where}:amd64", str(tmp_path / "b.tar"), "--format", "tarball",
           "--plain-http"))
    assert tarfile.is_tarfile(tmp_path / "b.tar")
    ok(cli("pull", f"{where}:amd64", str(tmp_path / "c.tar"), "--format", "oci",
           "--plain-http"))
    assert (tmp_path / "c.tar" / "index.json").is_file()
    # a directory that exists keeps being a layout, whatever its name
    (tmp_path / "d.tar").mkdir()
    ok(cli("pull", f"{where}:amd64", str(tmp_path / "d.tar"), "--plain-http"))
    assert (tmp_path / "d.tar" / "index.json").is_file()

def test_index_create_brings_images_of_other_repositories(
    cli: CliRunner, pushed: tuple[str, TarImage], anon_registry: LocalRegistry,
    unique_repository: str,
) -> None:
    where, amd = pushed
    multi = f"{anon_registry.host}/{unique_repository}-multi"
    created = json.loads(ok(cli("--json", "index", "create", f"{multi}:1", f"{where}:amd64",
                                f"{where}:arm64")).stdout)
    assert [p["architecture"] for p in created["platforms"]] == ["amd64", "arm64"]
    ok(cli("validate", f"{multi}:1"))
    assert ok(cli("digest", f"{multi}@{amd.digest}")).stdout.decode().strip() == amd.digest
    refused = cli("index", "create", f"{multi}:2", "ghcr.io/org/app:1")
    assert refused.returncode == 2
    assert b"one registry" in refused.stderr


def test_index_create_then_validate(
    cli: CliRunner, pushed: tuple[str, TarImage], anon_registry: LocalRegistry,
) -> None:
    where, amd = pushed
    created = json.loads(ok(cli("--json", "index", "create", f"{where}:multi", "amd64",
                                "arm64", "--annotation", "k=v", "--plain-http")).stdout)
    assert [p["architecture"] for p in created["platforms"]] == ["amd64", "arm64"]
    good = ok(cli("validate", f"{where}:multi", "--plain-http"))
    assert good.stdout.decode().startswith(f"ok: {created['digest']} (2 image(s), 6 blobs)")
    report = json.loads(ok(cli("validate", f"{where}:multi", "--json", "--plain-http",
                               "--platform", "linux/amd64")).stdout)
    assert report["ok"] is True and report["manifests"] == [amd.digest]
    assert report["reference"] == f"{where}:multi"  # the image checked, as digest --json says
    other = cli("validate", f"{where}:amd64", "--platform", "linux/arm64", "--plain-http")
    assert other.returncode == 1 and not other.stdout
    assert "a single linux/amd64 image, not linux/arm64" in other.stderr.decode()

    with FaultProxy(anon_registry, timeout=5) as proxy:
        proxy.add_rule("GET", f"/blobs/{amd.layer_digests[1]}", action="corrupt", offset=50,
                       times=None)
        via = where.replace(anon_registry.host, proxy.host)
        bad = cli("validate", f"{via}:amd64", "--plain-http")
        assert bad.returncode == 1
        assert f"problem: {amd.layer_digests[1]}" in bad.stdout.decode()
        doc = json.loads(cli("validate", f"{via}:amd64", "--json", "--plain-http").stdout)
        assert doc["ok"] is False and doc["problems"][0]["digest"] == amd.layer_digests[1]



def test_validate_takes_crane_s_remote_flag(
    cli: CliRunner, pushed: tuple[str, TarImage],
) -> None:
    where, amd = pushed
    # crane validate --remote IMAGE: the same check as the positional REFERENCE
    crane = ok(cli("validate", "--remote", f"{where}:amd64", "--plain-http"))
    assert crane.stdout == ok(cli("validate", f"{where}:amd64", "--plain-http")).stdout
    assert crane.stdout.decode().startswith(f"ok: {amd.digest}")
    for wrong in ([], ["--remote", f"{where}:amd64", f"{where}:arm64"]):
        refused = cli("validate", *wrong, "--plain-http")
        assert refused.returncode == 2 and b"--remote" in refused.stderr

def test_artifact_get_by_type_and_by_digest(
    cli: CliRunner, pushed: tuple[str, TarImage], tmp_path: Path
) -> None:
    where, _ = pushed
    sbom = tmp_path / "sbom.json"
    sbom.write_text('{"spdxVersion": "SPDX-2.3"}')
    digest = ok(cli("attach", f"{where}:amd64", "--artifact-type", SBOM, str(sbom),
                    "--plain-http")).stdout.decode().strip()
    out = tmp_path / "out"
    got = ok(cli("artifact", "get", f"{where}:amd64", "-o", str(out), "--artifact-type", SBOM,
                 "--plain-http"))
    assert got.stdout.decode().splitlines() == [str(out / "sbom.json")]
    assert (out / "sbom.json").read_text() == sbom.read_text()
    again = json.loads(ok(cli("--json", "artifact", "get", f"{where}@{digest}", "-o",
                              str(tmp_path / "again"), "--plain-http")).stdout)
    assert again["files"] == [str(tmp_path / "again" / "sbom.json")]
    none = cli("artifact", "get", f"{where}:amd64", "-o", str(tmp_path / "none"),
               "--artifact-type", "application/x-none", "--plain-http")
    assert none.returncode == 1 and b"no referrer of type" in none.stderr
    assert not (tmp_path / "none").exists()


def test_pull_of_an_archive_to_standard_output_keeps_stdout_for_the_archive(
    cli: CliRunner, pushed: tuple[str, TarImage], tmp_path: Path,
) -> None:
    """The summary line (REF@DIGEST) followed the tar on stdout, into the archive: it
    goes to stderr when the archive is standard output."""
    where, _ = pushed
    ok(cli("pull", f"{where}:amd64", str(tmp_path / "file.tar"), "--format", "docker-archive",
           "--plain-http"))
    piped = ok(cli("pull", f"{where}:amd64", "/dev/stdout", "--format", "docker-archive",
                   "--plain-http"))
    assert piped.stdout == (tmp_path / "file.tar").read_bytes()
    assert f"{where}:amd64@sha256:".encode() in piped.stderr


def test_pull_to_dash_writes_the_tar_to_standard_output(
    cli: CliRunner, pushed: tuple[str, TarImage], tmp_path: Path,
) -> None:
    """`-` is standard output, as for export and `blob -o -` (a docker-archive unless
    --format says oci-archive): it made a layout folder named "-"."""
    where, _ = pushed
    ok(cli("pull", f"{where}:amd64", str(tmp_path / "file.tar"), "--format", "docker-archive",
           "--plain-http"))
    piped = ok(cli("pull", f"{where}:amd64", "-", "--plain-http"))
    assert piped.stdout == (tmp_path / "file.tar").read_bytes()
    oci = ok(cli("pull", f"{where}:amd64", "-", "--format", "oci-archive", "--plain-http"))
    with tarfile.open(fileobj=io.BytesIO(oci.stdout)) as tar:
        assert "index.json" in tar.getnames()
    layout = cli("pull", f"{where}:amd64", "-", "--format", "oci", "--plain-http")
    assert layout.returncode == 2 and b"OCI layout is a folder" in layout.stderr
    assert not (tmp_path / "-").exists()  # (the CLI runs in tmp_path)
