"""End-to-end tests of every verb: ``python -m registry_client`` against a real registry."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry_client.testing import LocalRegistry, LocalRegistryFactory, seed_image, seed_tags

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]
pytestmark = pytest.mark.integration

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PLATFORMS = ["linux/amd64", "linux/arm64/v8"]


def lines(out: bytes) -> list[str]:
    return out.decode().splitlines()


@pytest.fixture(scope="module")
def second_registry(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """Another anonymous registry, for copies between two registries."""
    return local_registry_factory("anonymous")


# -- ls / tags --------------------------------------------------------------------------------
def test_ls_global_flags_before_or_after_the_verb(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    seed_tags(anon_registry, unique_repository, ["1.0", "2.0", "latest"])
    repo = f"{anon_registry.host}/{unique_repository}"
    after = cli("ls", repo, "--plain-http")
    before = cli("--plain-http", "ls", repo)
    alias = cli("tags", "--insecure", repo)
    for result in (after, before, alias):
        assert result.returncode == 0, result.stderr
        assert result.stderr == b""
        assert sorted(lines(result.stdout)) == ["1.0", "2.0", "latest"]


def test_ls_digests_json_and_page_size(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    image = seed_tags(anon_registry, unique_repository, ["a", "b", "c"])
    repo = f"{anon_registry.host}/{unique_repository}"
    text = cli("--plain-http", "ls", repo, "--digests", "--page-size", "1")
    assert text.returncode == 0, text.stderr
    assert sorted(lines(text.stdout)) == [f"{t}\t{image.digest}" for t in "abc"]
    machine = cli("--plain-http", "--json", "ls", repo, "--digests")
    doc = json.loads(machine.stdout)
    assert doc["name"] == repo
    assert sorted(doc["tags"]) == ["a", "b", "c"]
    assert doc["digests"] == {t: image.digest for t in "abc"}


# -- catalog ----------------------------------------------------------------------------------
def test_catalog_filter_and_json(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    seed_image(anon_registry, unique_repository, "1.0")
    seed_image(anon_registry, f"{unique_repository}-other", "1.0")
    result = cli("catalog", anon_registry.host, "--plain-http", "--filter", unique_repository)
    assert result.returncode == 0, result.stderr
    assert lines(result.stdout) == [unique_repository, f"{unique_repository}-other"]
    doc = json.loads(cli("catalog", anon_registry.host, "--plain-http", "--json").stdout)
    assert unique_repository in doc["repositories"]


# -- manifest / digest / config / inspect -------------------------------------------------------
def test_manifest_is_byte_exact_and_platform_picks_a_child(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    index = seed_image(anon_registry, unique_repository, "1.0", platforms=PLATFORMS)
    ref = f"{anon_registry.host}/{unique_repository}:1.0"
    whole = cli("manifest", ref, "--plain-http")
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout == index.manifest
    arm = cli("manifest", ref, "--plain-http", "--platform", "linux/arm64")
    assert arm.stdout == index.children[1].manifest
    missing = cli("manifest", ref, "--plain-http", "--platform", "linux/s390x")
    assert missing.returncode == 1
    assert b"linux/s390x" in missing.stderr


def test_digest_plain_platform_and_json(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    index = seed_image(anon_registry, unique_repository, "1.0", platforms=PLATFORMS)
    ref = f"{anon_registry.host}/{unique_repository}:1.0"
    assert lines(cli("--plain-http", "digest", ref).stdout) == [index.digest]
    arm = cli("--plain-http", "digest", ref, "--platform", "linux/arm64/v8")
    assert lines(arm.stdout) == [index.children[1].digest]
    doc = json.loads(cli("--plain-http", "--json", "digest", ref).stdout)
    assert doc["digest"] == index.digest
    assert doc["size"] == index.size


def test_config_prints_the_blob_of_the_chosen_platform(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    index = seed_image(anon_registry, unique_repository, "1.0", platforms=PLATFORMS)
    amd, arm = index.children
    ref = f"{anon_registry.host}/{unique_repository}:1.0"
    default = cli("--plain-http", "config", ref)
    assert default.returncode == 0, default.stderr
    assert amd.config_digest is not None and arm.config_digest is not None
    assert default.stdout == amd.blobs[amd.config_digest]
    chosen = cli("--plain-http", "config", ref, "--platform", "linux/arm64")
    assert json.loads(chosen.stdout)["architecture"] == "arm64"
    assert chosen.stdout == arm.blobs[arm.config_digest]


def test_config_and_inspect_choose_an_index_s_image_as_export_does(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    """Without --platform, config and inspect chose by "the only entry, else linux/amd64":
    a buildkit-style index (one platform and its unknown/unknown attestation) failed
    with "several platforms (linux/arm64)", and an index whose entry is an index with
    "an index inside an index is not supported", where export and pull read them."""
    import hashlib

    from registry_client import RawManifest, Registry

    def put(repo: Any, tag: str, entries: list[dict[str, Any]]) -> None:
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                           "manifests": entries}).encode()
        repo.manifests.put(tag, RawManifest(body, OCI_INDEX, ""))

    arm = seed_image(anon_registry, unique_repository, "arm", platforms=["linux/arm64"],
                     media="oci").children[0]
    both = seed_image(anon_registry, unique_repository, "both",
                      platforms=["linux/arm64", "linux/amd64"], media="oci")
    amd = both.children[1]
    with Registry(anon_registry.host, protocol="http") as reg:
        repo = reg.repository(unique_repository)
        config = b'{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers"}}'
        config_digest = repo.blobs.upload(config).digest
        attestation = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest, "size": len(config)}, "layers": []}).encode()
        att_digest = "sha256:" + hashlib.sha256(attestation).hexdigest()
        repo.manifests.put(att_digest, RawManifest(attestation, OCI_MANIFEST, att_digest))
        put(repo, "attested", [
            {"mediaType": OCI_MANIFEST, "digest": arm.digest, "size": len(arm.manifest),
             "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": OCI_MANIFEST, "digest": att_digest, "size": len(attestation),
             "platform": {"os": "unknown", "architecture": "unknown"}}])
        put(repo, "nested", [{"mediaType": OCI_INDEX, "digest": both.digest,
                              "size": len(both.manifest)}])
        # its linux/amd64 entry an index (which holds the image)
        put(repo, "amd-is-an-index", [
            {"mediaType": OCI_INDEX, "digest": both.digest, "size": len(both.manifest),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": OCI_MANIFEST, "digest": arm.digest, "size": len(arm.manifest),
             "platform": {"os": "linux", "architecture": "arm64"}}])
    where = f"{anon_registry.host}/{unique_repository}"
    for tag, image in (("attested", arm), ("nested", amd), ("amd-is-an-index", amd)):
        config_out = cli("--plain-http", "config", f"{where}:{tag}")
        assert config_out.returncode == 0, config_out.stderr
        assert image.config_digest is not None
        assert config_out.stdout == image.blobs[image.config_digest]
        shown = cli("--plain-http", "--json", "inspect", f"{where}:{tag}")
        assert shown.returncode == 0, shown.stderr
        arch = json.loads(image.blobs[image.config_digest])["architecture"]
        assert json.loads(shown.stdout)["Architecture"] == arch


def test_inspect_human_and_json(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    index = seed_image(
        anon_registry, unique_repository, "1.0", platforms=PLATFORMS, layers=(100, 200),
        labels={"org.example.team": "core"},
    )
    ref = f"{anon_registry.host}/{unique_repository}:1.0"
    human = cli("inspect", ref, "--plain-http")
    assert human.returncode == 0, human.stderr
    text = human.stdout.decode()
    assert index.digest in text
    assert "linux/amd64, linux/arm64/v8" in text
    assert "org.example.team=core" in text
    assert "2024-01-02T03:04:05Z" in text
    machine = cli("inspect", ref, "--plain-http", "--json", "--platform", "linux/arm64")
    doc = json.loads(machine.stdout)
    assert doc["digest"] == index.digest
    assert [p["platform"] for p in doc["platforms"]] == PLATFORMS
    assert doc["selected_platform"] == "linux/arm64/v8"
    assert doc["selected_digest"] == index.children[1].digest
    assert doc["labels"] == {"org.example.team": "core"}
    assert (doc["layers"], doc["layers_size"]) == (2, 300)
    arm = index.children[1]
    assert arm.config_digest is not None
    assert doc["platform_details"] == [{
        "platform": "linux/arm64/v8", "digest": arm.digest, "created": "2024-01-02T03:04:05Z",
        "labels": {"org.example.team": "core"},
        "size": len(arm.blobs[arm.config_digest]) + 300,
    }]


def test_inspect_of_a_single_image_reads_its_manifest_and_config_no_more_than_needed(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    """platform_details of a single image come from what inspect already read."""
    image = seed_image(anon_registry, unique_repository, "1.0", layers=(100, 200),
                       labels={"a": "b"})
    ref = f"{anon_registry.host}/{unique_repository}:1.0"
    before = anon_registry.request_count("GET", f"/{unique_repository}/blobs/")
    doc = json.loads(cli("inspect", ref, "--plain-http", "--json").stdout)
    assert image.config_digest is not None
    assert doc["platform_details"] == [{
        "platform": "linux/amd64", "digest": image.digest, "created": "2024-01-02T03:04:05Z",
        "labels": {"a": "b"}, "size": len(image.blobs[image.config_digest]) + 300,
    }]
    config_gets = anon_registry.request_count("GET", f"/{unique_repository}/blobs/") - before
    assert config_gets <= 2  # get_by_tag's platform read, and the config shown


def test_inspect_shows_a_row_per_platform_of_an_index(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    index = seed_image(anon_registry, unique_repository, "1.0", platforms=PLATFORMS,
                       layers=(2048,), labels={"a": "1", "b": "2"})
    ref = f"{anon_registry.host}/{unique_repository}:1.0"
    human = cli("inspect", ref, "--plain-http")
    assert human.returncode == 0, human.stderr
    text = human.stdout.decode()
    for child in index.children:
        [row] = [line for line in text.splitlines() if child.digest in line
                 and "Showing" not in line]
        assert child.config_digest is not None
        size = len(child.blobs[child.config_digest]) + 2048  # config + layer bytes
        assert row.split()[-7:] == [child.platform, child.digest, "2024-01-02T03:04:05Z",
                                    f"{size / 1024:.1f}", "KiB", "2", "labels"]
    doc = json.loads(cli("inspect", ref, "--plain-http", "--json").stdout)
    assert [(d["platform"], d["digest"]) for d in doc["platform_details"]] == [
        (p, c.digest) for p, c in zip(PLATFORMS, index.children, strict=True)]
    assert all(d["labels"] == {"a": "1", "b": "2"} for d in doc["platform_details"])


def test_inspect_of_a_config_whose_created_is_a_number_shows_the_image(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    # The spec wants an RFC 3339 string; some builders write a Unix time.
    # details() reads it as unknown, and so does inspect.
    from registry_client import RawManifest, Registry
    from registry_client._digest import compute_digest

    layer = b"L" * 5
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": 1700000000,
        "config": {"Labels": {"a": "1"}},
        "rootfs": {"type": "layers", "diff_ids": [compute_digest(layer)]},
    }).encode()
    oci = "application/vnd.oci.image.manifest.v1+json"
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": oci,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": compute_digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": compute_digest(layer), "size": len(layer)}],
    }).encode()
    with Registry(anon_registry.host, protocol="http") as reg:
        repo = reg.repository(unique_repository)
        repo.blobs.upload(layer)
        repo.blobs.upload(config)
        repo.manifests.put("n", RawManifest(manifest, oci, compute_digest(manifest)))
        [details] = repo.images.details("n")
    assert details.created is None
    ref = f"{anon_registry.host}/{unique_repository}:n"
    human = cli("inspect", ref, "--plain-http")
    assert human.returncode == 0, human.stderr
    rows = lines(human.stdout)
    assert "Created:       unknown" in rows and "Labels:        a=1" in rows
    machine = cli("inspect", ref, "--plain-http", "--json")
    assert machine.returncode == 0, machine.stderr
    doc = json.loads(machine.stdout)
    assert doc["created"] is None and doc["labels"] == {"a": "1"}
    assert doc["platform_details"][0]["created"] is None


# -- blob ---------------------------------------------------------------------------------------
def test_blob_to_stdout_is_byte_exact_and_to_a_file(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0", layers=(300_000,))
    layer = image.layers[0]
    ref = f"{anon_registry.host}/{unique_repository}@{layer}"
    streamed = cli("blob", ref, "--plain-http")
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout == image.blobs[layer]
    out = tmp_path / "layer.bin"
    saved = cli("--plain-http", "blob", ref, "-o", str(out))
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout == b""
    assert out.read_bytes() == image.blobs[layer]


# -- pull / push / copy -------------------------------------------------------------------------
def test_pull_then_push_keeps_the_digest(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path
) -> None:
    index = seed_image(anon_registry, unique_repository, "1.0", platforms=PLATFORMS)
    host = anon_registry.host
    layout = tmp_path / "layout"
    pulled = cli("pull", f"{host}/{unique_repository}:1.0", str(layout), "--plain-http")
    assert pulled.returncode == 0, pulled.stderr
    assert lines(pulled.stdout) == [f"{host}/{unique_repository}:1.0@{index.digest}"]
    assert (layout / "oci-layout").is_file()
    target = f"{host}/{unique_repository}-copy:1.0"
    pushed = cli("--plain-http", "--json", "push", str(layout), target)
    assert pushed.returncode == 0, pushed.stderr
    doc = json.loads(pushed.stdout)
    assert doc["digest"] == index.digest
    assert doc["tag"] == "1.0"
    check = cli("--plain-http", "digest", f"{host}/{unique_repository}-copy:1.0")
    assert lines(check.stdout) == [index.digest]


def test_pull_one_platform(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path
) -> None:
    index = seed_image(anon_registry, unique_repository, "1.0", platforms=PLATFORMS)
    ref = f"{anon_registry.host}/{unique_repository}:1.0"
    result = cli("--plain-http", "--json", "pull", ref, str(tmp_path / "arm"),
                 "--platform", "linux/arm64")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["digest"] == index.children[1].digest


def test_copy_between_two_registries(
    cli: CliRunner, anon_registry: LocalRegistry, second_registry: LocalRegistry,
    unique_repository: str,
) -> None:
    index = seed_image(anon_registry, unique_repository, "1.0", platforms=PLATFORMS)
    src = f"{anon_registry.host}/{unique_repository}:1.0"
    dst = f"{second_registry.host}/mirror/{unique_repository}"
    copied = cli("copy", src, dst, "--plain-http")
    assert copied.returncode == 0, copied.stderr
    assert lines(copied.stdout) == [f"{dst}:1.0@{index.digest}"]
    assert lines(cli("--plain-http", "digest", f"{dst}:1.0").stdout) == [index.digest]
    renamed = cli("--plain-http", "--json", "copy", src, f"{dst}:stable")
    assert json.loads(renamed.stdout)["tag"] == "stable"


# -- tag / delete -------------------------------------------------------------------------------
def test_tag_then_delete_a_tag_then_a_digest(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0")
    repo = f"{anon_registry.host}/{unique_repository}"
    tagged = cli("--plain-http", "tag", f"{repo}:1.0", "stable")
    assert tagged.returncode == 0, tagged.stderr
    assert lines(tagged.stdout) == [f"{repo}:stable@{image.digest}"]
    assert sorted(lines(cli("--plain-http", "ls", repo).stdout)) == ["1.0", "stable"]

    deleted = cli("--plain-http", "delete", f"{repo}:1.0")
    assert deleted.returncode == 0, deleted.stderr
    assert lines(cli("--plain-http", "ls", repo).stdout) == ["stable"]  # the other tag stays

    by_digest = cli("--plain-http", "delete", f"{repo}@{image.digest}")
    assert by_digest.returncode == 0, by_digest.stderr
    gone = cli("--plain-http", "digest", f"{repo}:stable")
    assert gone.returncode == 1


# -- parse / errors / version -------------------------------------------------------------------
def test_parse_prints_json(cli: CliRunner) -> None:
    result = cli("parse", "golang:1.12.0")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {
        "domain": "docker.io",
        "path": "library/golang",
        "tag": "1.12.0",
        "digest": None,
        "name": "docker.io/library/golang",
        "familiar_name": "golang",
        "reference": "1.12.0",
    }


@pytest.mark.parametrize(
    "args",
    [
        ["ls", "Not/A/Valid/Ref"],
        ["ls", "localhost:5000/app", "--no-such-flag"],
        [],
        ["parse", "a" * 64],
    ],
    ids=["invalid-reference", "unknown-flag", "no-verb", "hex-name"],
)
def test_usage_errors_exit_2_with_one_line(cli: CliRunner, args: list[str]) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert result.stdout == b""
    assert len(lines(result.stderr)) == 1
    assert lines(result.stderr)[0].startswith("registry-client")
    assert b"Traceback" not in result.stderr


def test_not_found_exits_1_with_one_line_and_traceback_only_with_v(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    seed_image(anon_registry, unique_repository, "1.0")
    ref = f"{anon_registry.host}/{unique_repository}:9.9"
    result = cli("--plain-http", "manifest", ref)
    assert result.returncode == 1
    assert result.stdout == b""
    [line] = lines(result.stderr)
    assert line.startswith("registry-client: error: ")
    assert "404" in line and unique_repository in line
    verbose = cli("--plain-http", "-v", "manifest", ref)
    assert verbose.returncode == 1
    assert b"Traceback" in verbose.stderr and b"NotFoundError" in verbose.stderr


def test_unreachable_registry_exits_1(cli: CliRunner) -> None:
    result = cli("--plain-http", "digest", "127.0.0.1:9/app:1.0")
    assert result.returncode == 1
    assert len(lines(result.stderr)) == 1


def test_version_and_help(cli: CliRunner) -> None:
    version = cli("--version")
    assert version.returncode == 0
    assert version.stdout.decode().startswith("registry-client ")
    helped = cli("ls", "--help")
    assert helped.returncode == 0
    assert b"--plain-http" in helped.stdout and b"--digests" in helped.stdout
