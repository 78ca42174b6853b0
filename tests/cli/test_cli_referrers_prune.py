"""``referrers``, ``attach`` and ``prune`` through ``python -m registry_client``, real registry."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from registry_client import Registry
from registry_client.models import RawManifest
from registry_client.testing import (
    FaultProxy,
    LocalRegistry,
    SeededImage,
    seed_image,
    seed_tags,
    sha256_digest,
)

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]
pytestmark = pytest.mark.integration

SBOM = "application/spdx+json"
SIG = "application/vnd.example.signature.v1"
BUNDLE = "application/vnd.example.bundle"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def lines(out: bytes) -> list[str]:
    return out.decode().splitlines()


def ok(result: subprocess.CompletedProcess[bytes]) -> subprocess.CompletedProcess[bytes]:
    assert result.returncode == 0, result.stderr.decode()
    return result


# -- attach / referrers ---------------------------------------------------------------------
def image_and_sbom(registry: LocalRegistry, repository: str,
                   tmp_path: Path) -> tuple[SeededImage, str, Path]:
    """An image ``repository:1.0``, its reference, and an SBOM file to attach to it."""
    image = seed_image(registry, repository, "1.0")
    sbom = tmp_path / "sbom.json"
    sbom.write_text('{"spdxVersion": "SPDX-2.3"}')
    return image, f"{registry.host}/{repository}:1.0", sbom


def test_attach_then_list_referrers(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    image, ref, sbom = image_and_sbom(anon_registry, unique_repository, tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("built by ci")

    attached = ok(cli("attach", ref, "--plain-http", "--artifact-type", SBOM, str(sbom),
                      str(notes), "--annotation", "org.example.tool=syft",
                      "--annotation", "empty="))
    [sbom_digest] = lines(attached.stdout)
    assert sbom_digest.startswith("sha256:")
    sig = ok(cli("--plain-http", "--json", "attach", f"{anon_registry.host}/"
                 f"{unique_repository}@{image.digest}", "--artifact-type", SIG, str(notes)))
    sig_doc = json.loads(sig.stdout)
    assert sig_doc["subject"] == image.digest
    assert sig_doc["artifact_type"] == SIG

    listed = ok(cli("referrers", ref, "--plain-http"))
    rows = {d: (t, size) for d, t, size in (line.split("\t") for line in lines(listed.stdout))}
    assert rows.keys() == {sbom_digest, sig_doc["digest"]}
    assert rows[sbom_digest][0] == SBOM
    assert rows[sig_doc["digest"]] == (SIG, str(sig_doc["size"]))
    filtered = ok(cli("referrers", ref, "--plain-http", "--artifact-type", SIG))
    assert [line.split("\t")[0] for line in lines(filtered.stdout)] == [sig_doc["digest"]]

    doc = json.loads(ok(cli("referrers", ref, "--plain-http", "--json",
                            "--artifact-type", SBOM)).stdout)
    assert doc["subject"] == image.digest
    [entry] = doc["referrers"]
    assert entry["digest"] == sbom_digest
    assert entry["annotations"] == {"org.example.tool": "syft", "empty": ""}
    # the fallback tag of the referrers tag schema is there
    tags = lines(ok(cli("ls", f"{anon_registry.host}/{unique_repository}", "--plain-http")).stdout)
    assert sorted(tags) == sorted(["1.0", image.digest.replace(":", "-")])

    # inspect summarises an artifact too: no image config, so no platform or labels
    artifact = f"{anon_registry.host}/{unique_repository}@{sbom_digest}"
    text = ok(cli("inspect", artifact, "--plain-http")).stdout.decode()
    assert sbom_digest in text and f"Artifact type: {SBOM}" in " ".join(text.split())
    assert "Platforms: none (not an image)" in " ".join(text.split())
    art = json.loads(ok(cli("inspect", artifact, "--plain-http", "--json")).stdout)
    assert (art["digest"], art["artifact_type"], art["layers"]) == (sbom_digest, SBOM, 2)
    assert [p["platform"] for p in art["platforms"]] == [None]
    assert "labels" not in art and "selected_platform" not in art


def test_inspect_of_an_artifact_index_shows_its_own_type_and_which_child(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    """An index that is an artifact itself (OCI 1.1: its own ``artifactType``), of one
    child artifact: inspect printed the child's type and layers as the index's."""
    client = Registry(anon_registry.host, protocol="http")
    repo = client.repository(unique_repository)
    for blob in (b"{}", b'{"spdx":1}'):
        repo.blobs.upload(blob)
    child = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SBOM,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": sha256_digest(b"{}"), "size": 2},
        "layers": [{"mediaType": SBOM, "digest": sha256_digest(b'{"spdx":1}'),
                    "size": 10}]}).encode()
    child_digest = repo.manifests.put(
        sha256_digest(child), RawManifest(child, OCI_MANIFEST, sha256_digest(child)))
    index = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "artifactType": BUNDLE,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": child_digest,
                       "size": len(child)}]}).encode()
    repo.manifests.put("bundle", RawManifest(index, OCI_INDEX, sha256_digest(index)))
    client.close()
    ref = f"{anon_registry.host}/{unique_repository}:bundle"

    text = " ".join(ok(cli("inspect", ref, "--plain-http")).stdout.decode().split())
    assert f"Artifact type: {BUNDLE}" in text
    assert f"Showing: {SBOM} ({child_digest})" in text
    doc = json.loads(ok(cli("inspect", ref, "--plain-http", "--json")).stdout)
    assert (doc["artifact_type"], doc["selected_artifact_type"]) == (BUNDLE, SBOM)
    assert (doc["selected_digest"], doc["layers"]) == (child_digest, 1)

    # two children of their own platforms: the index's type, with --platform or without
    entries = [{"mediaType": OCI_MANIFEST, "digest": child_digest, "size": len(child),
                "platform": {"os": "linux", "architecture": arch}} for arch in ("arm64", "s390x")]
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "artifactType": BUNDLE,
                        "manifests": entries}).encode()
    with Registry(anon_registry.host, protocol="http") as client:
        client.repository(unique_repository).manifests.put(
            "two", RawManifest(index, OCI_INDEX, sha256_digest(index)))
    two = f"{anon_registry.host}/{unique_repository}:two"
    text = " ".join(ok(cli("inspect", two, "--plain-http")).stdout.decode().split())
    assert f"Artifact type: {BUNDLE}" in text
    assert json.loads(ok(cli("inspect", two, "--plain-http", "--json")).stdout)[
        "artifact_type"] == BUNDLE
    doc = json.loads(ok(cli("inspect", two, "--plain-http", "--json",
                            "--platform", "linux/arm64")).stdout)
    assert (doc["artifact_type"], doc["selected_artifact_type"]) == (BUNDLE, SBOM)


def test_copy_with_referrers_brings_the_sbom_along(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    # regctl's `image copy --referrers`, oras's `cp -r`: the artifacts that refer to the
    # image go with it (a plain copy leaves them behind, as crane's does)
    image, src, sbom = image_and_sbom(anon_registry, unique_repository, tmp_path)
    [sbom_digest] = lines(ok(cli("attach", src, "--artifact-type", SBOM, str(sbom))).stdout)
    plain, along = (f"{anon_registry.host}/{unique_repository}-{n}:1.0" for n in ("a", "b"))
    ok(cli("copy", src, plain))
    assert lines(ok(cli("referrers", plain)).stdout) == []

    planned = json.loads(ok(cli("copy", "--referrers", "--dry-run", "--json", src,
                                along)).stdout)
    assert [r["manifests"] for r in planned[0]["referrers"]] == [[sbom_digest]]
    text = lines(ok(cli("copy", "-r", "--dry-run", src, along)).stdout)
    assert any(line.startswith(f"  referrer {sbom_digest}") for line in text)
    copied = lines(ok(cli("copy", "--referrers", src, along)).stdout)
    assert copied == [f"{along}@{image.digest}"]
    rows = [line.split("\t") for line in lines(ok(cli("referrers", along)).stdout)]
    assert [(d, t) for d, t, _ in rows] == [(sbom_digest, SBOM)]
    refused = cli("copy", "--referrers", "--all-tags",
                  f"{anon_registry.host}/{unique_repository}",
                  f"{anon_registry.host}/{unique_repository}-c")
    assert refused.returncode == 2 and b"--all-tags" in refused.stderr


def test_referrers_of_an_image_without_any(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    seed_image(anon_registry, unique_repository, "1.0")
    result = ok(cli("referrers", f"{anon_registry.host}/{unique_repository}:1.0",
                    "--plain-http"))
    assert result.stdout == b""


def test_attach_usage_errors(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    seed_image(anon_registry, unique_repository, "1.0")
    ref = f"{anon_registry.host}/{unique_repository}:1.0"
    f = tmp_path / "f"
    f.write_text("x")
    bad = cli("attach", ref, "--plain-http", "--artifact-type", SIG, str(f),
              "--annotation", "novalue")
    assert bad.returncode == 2
    assert b"KEY=VALUE" in bad.stderr
    missing = cli("attach", ref, "--plain-http", "--artifact-type", SIG, str(tmp_path / "nope"))
    assert missing.returncode == 1  # (a file that is not there: as every missing file)
    folder = cli("attach", ref, "--plain-http", "--artifact-type", SIG, str(tmp_path))
    assert folder.returncode == 2 and b"is not a file" in folder.stderr
    no_type = cli("attach", ref, "--plain-http", str(f))
    assert no_type.returncode == 2


# -- prune ----------------------------------------------------------------------------------
def name(i: int) -> str:
    return f"v1.{i}.0" if i % 2 == 0 else f"build-{i}"


@pytest.fixture
def aged_repository(anon_registry: LocalRegistry, unique_repository: str) -> str:
    """30 tags, ages 3*i days + 12 h (i = 0..29), distinct digests; alias shares v1.20.0."""
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(29):
        seed_image(anon_registry, unique_repository, name(i), seed=i,
                   created=now - dt.timedelta(days=3 * i, hours=12))
    seed_tags(anon_registry, unique_repository, ["alias-20"], seed=20,
              created=now - dt.timedelta(days=60, hours=12))
    return f"{anon_registry.host}/{unique_repository}"


def expected_gone() -> set[str]:
    # --keep 4 --keep-semver 2 --keep-pattern 'v1.2*' --older-than 30d
    gone = {
        name(i) for i in range(29)
        if 3 * i + 0.5 > 30 and i >= 4 and name(i) not in {"v1.28.0", "v1.26.0"}
        and not name(i).startswith("v1.2")
    }
    return gone | {"alias-20"}


def test_prune_dry_run_shows_the_plan_and_deletes_nothing(
    cli: CliRunner, aged_repository: str,
) -> None:
    args = ["prune", aged_repository, "--plain-http", "--keep", "4", "--keep-semver", "2",
            "--keep-pattern", "v1.2*", "--older-than", "30d", "--dry-run"]
    text = ok(cli(*args))
    out = lines(text.stdout)
    assert out[0].split() == ["ACTION", "TAG", "DIGEST", "CREATED", "FREES", "REASON"]
    rows = [line.split() for line in out[1:-2]]
    assert {r[1] for r in rows if r[0] == "delete"} == expected_gone()
    assert {r[1] for r in rows if r[0] == "keep"} == (
        {name(i) for i in range(29)} | {"alias-20"}
    ) - expected_gone()
    assert len(rows) == 30
    alias = next(line for line in out if line.split()[1:2] == ["alias-20"])
    assert "frees nothing" in alias and "0 B" in alias
    assert out[-2].startswith(f"30 tags: {len(expected_gone())} to delete (frees ")
    assert out[-1] == "dry run: nothing deleted"
    left = lines(ok(cli("ls", aged_repository, "--plain-http")).stdout)
    assert len(left) == 30

    doc = json.loads(ok(cli(*args, "--json")).stdout)
    assert doc["dry_run"] is True and doc["deleted"] == []
    assert {d["tag"] for d in doc["delete"]} == expected_gone()
    assert doc["frees"] == sum(d["frees"] for d in doc["delete"]) > 0
    assert all(d["created"] and d["reason"] for d in doc["delete"] + doc["keep"])


def test_prune_deletes_what_the_dry_run_showed(cli: CliRunner, aged_repository: str) -> None:
    digests_before = dict(
        line.split("\t") for line in lines(ok(cli("ls", aged_repository, "--plain-http",
                                                   "--digests")).stdout)
    )
    result = ok(cli("--json", "prune", aged_repository, "--plain-http", "--keep", "4",
                    "--keep-semver", "2", "--keep-pattern", "v1.2*", "--older-than", "30d"))
    doc = json.loads(result.stdout)
    assert doc["dry_run"] is False
    assert set(doc["deleted"]) == expected_gone()
    after = dict(
        line.split("\t") for line in lines(ok(cli("ls", aged_repository, "--plain-http",
                                                   "--digests")).stdout)
    )
    assert set(after) == set(digests_before) - expected_gone()
    assert all(after[tag] == digests_before[tag] for tag in after)
    assert after["v1.20.0"] == digests_before["alias-20"]  # shared digest survived


def test_a_refused_prune_shows_its_plan_and_leaves_every_tag(cli: CliRunner) -> None:
    # deletes disabled (Distribution's default): the plan is printed before the first
    # delete fails, and the tag the delete was refused for still names its image
    with LocalRegistry(delete_enabled=False) as reg:
        image = seed_tags(reg, "prune/refused", ["a", "b", "c"])
        repo = f"{reg.host}/prune/refused"
        result = cli("prune", repo, "--plain-http", "--keep", "1")
        assert result.returncode == 1
        out = lines(result.stdout)
        assert out[0].split()[:2] == ["ACTION", "TAG"]
        assert sum(1 for line in out[1:] if line.split()[:1] == ["delete"]) == 2
        assert out[-2].startswith("3 tags: 2 to delete")
        assert out[-1] == "deleted 0 tags before the error"
        assert b"405" in result.stderr or b"UNSUPPORTED" in result.stderr
        assert b"delete tag " in result.stderr and b"left as it was" in result.stderr
        after = lines(ok(cli("ls", repo, "--plain-http", "--digests")).stdout)
        assert sorted(after) == [f"{t}\t{image.digest}" for t in "abc"]


def test_prune_usage_errors(cli: CliRunner, aged_repository: str) -> None:
    nothing = cli("prune", aged_repository, "--plain-http", "--keep-pattern", "v*")
    assert nothing.returncode == 2
    assert b"--older-than" in nothing.stderr
    bad_age = cli("prune", aged_repository, "--plain-http", "--older-than", "a month")
    assert bad_age.returncode == 2
    with_tag = cli("prune", f"{aged_repository}:v1.0.0", "--plain-http", "--keep", "1")
    assert with_tag.returncode == 2


def test_a_prune_that_fails_part_way_says_what_it_deleted(cli: CliRunner) -> None:
    # the first delete goes through, the second is refused (403)
    with LocalRegistry() as reg, FaultProxy(reg, timeout=5) as proxy:
        seed_tags(reg, "prune/partial", ["a", "b", "c"])
        proxy.add_rule("DELETE", "/manifests/sha256:", action="status", status=403,
                       times=None, every=2)
        repo = f"{proxy.host}/prune/partial"
        result = cli("--json", "prune", repo, "--plain-http", "--keep", "1")
        assert result.returncode == 1
        doc = json.loads(result.stdout)
        assert doc["complete"] is False and len(doc["deleted"]) == 1
        left = lines(ok(cli("ls", repo, "--plain-http")).stdout)
        assert sorted(left + doc["deleted"]) == ["a", "b", "c"]


def test_prune_shows_year_one_times_with_four_digit_years(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    # Go's zero time (0001-01-01T00:00:00Z) is what some builders write; with an
    # offset, that time has no UTC form at all in Python (year 0).
    seed_image(anon_registry, unique_repository, "zero", seed=1, created="0001-01-01T00:00:00Z")
    seed_image(anon_registry, unique_repository, "east", seed=2,
               created="0001-01-01T01:00:00+05:00")
    result = ok(cli("prune", f"{anon_registry.host}/{unique_repository}", "--plain-http",
                    "--keep", "1", "--dry-run"))
    rows = {line.split()[1]: line.split()[3] for line in lines(result.stdout)[1:-2]}
    assert rows == {"zero": "0001-01-01T00:00Z", "east": "0001-01-01T01:00+05:00"}
