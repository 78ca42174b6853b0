"""``sync --src-yaml FILE DEST`` copies what skopeo 1.9 copies, to the names skopeo gives."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from registry_client import NotFoundError, Registry, TokenAuthenticator
from registry_client.testing import LocalRegistry, LocalRegistryFactory, seed_image

pytestmark = pytest.mark.integration

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]


def inventory(reg: LocalRegistry) -> dict[str, str]:
    """Every ``repository:tag`` on ``reg`` -> its digest."""
    found: dict[str, str] = {}
    with Registry(reg.host, protocol="http") as client:
        for repo in client.iter_repositories():
            for tag, digest in repo.tags.get_all(with_digests=True).items():
                found[f"{repo.name}:{tag}"] = digest
    return found


def has_digest(reg: LocalRegistry, repository: str, digest: str) -> bool:
    with Registry(reg.host, protocol="http") as client:
        try:
            return client.repository(repository).manifests.head(digest).digest == digest
        except NotFoundError:
            return False


@pytest.fixture
def three_repositories(anon_registry: LocalRegistry, unique_repository: str) -> dict[str, str]:
    """A tag list, an empty list (every tag) and a tag regex, as skopeo's sync YAML.

    Returns ``{"yaml": text, "digest": the 3.0 image's digest, names -> digests}``.
    """
    u = unique_repository
    seeded: dict[str, str] = {}
    for n, (repo, tag) in enumerate([
        ("conv/a", "1.0"), ("conv/a", "2.0"), ("conv/a", "3.0"), ("conv/a", "1.10"),
        ("conv/b", "x"), ("conv/b", "y"),
        ("other/c", "v1.0"), ("other/c", "v1.1"), ("other/c", "v2.0"), ("other/c", "xv1.9"),
    ]):
        seeded[f"{repo}:{tag}"] = seed_image(anon_registry, f"{u}/{repo}", tag, seed=n).digest
    text = (
        f"{anon_registry.host}:\n"
        "  tls-verify: false\n"
        "  images:\n"
        f"    {u}/conv/a:\n"
        "      - 1.0\n"
        "      - \"2.0\"\n"
        "      - 1.10\n"
        f"      - {seeded['conv/a:3.0']}\n"
        f"    {u}/conv/b: []\n"
        "  images-by-tag-regex:\n"
        f"    {u}/other/c: ^v1\\.\n"
    )
    return {"yaml": text, **seeded}



@pytest.fixture
def side_by_side(
    local_registry_factory: LocalRegistryFactory, tmp_path: Path,
    three_repositories: dict[str, str],
) -> tuple[str, LocalRegistry, LocalRegistry, Path]:
    """``(skopeo, by_skopeo, by_us, sync_file)``: the skopeo binary, two empty registries
    that skopeo and we sync into, and the three repositories' skopeo sync file."""
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo (Debian package) is part of the test setup"
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text(three_repositories["yaml"])
    return (skopeo, local_registry_factory("anonymous"), local_registry_factory("anonymous"),
            sync_file)

def test_src_yaml_copies_exactly_what_skopeo_copies_to_the_same_names(
    cli: CliRunner, three_repositories: dict[str, str],
    side_by_side: tuple[str, LocalRegistry, LocalRegistry, Path],
) -> None:
    skopeo, by_skopeo, by_us, sync_file = side_by_side
    subprocess.run(
        # --preserve-digests: the seeded layers are random bytes, which skopeo would
        # otherwise gzip on the way (new digests); --all: every platform, as we copy
        [skopeo, "--insecure-policy", "sync", "--src", "yaml", "--dest", "docker",
         "--dest-tls-verify=false", "--preserve-digests", "--all", str(sync_file),
         f"{by_skopeo.host}/mirror"],
        check=True, capture_output=True, timeout=300)
    ours = cli("sync", "--src-yaml", str(sync_file), f"{by_us.host}/mirror", "--json")
    assert ours.returncode == 0, ours.stderr
    seeded = three_repositories
    expected = {
        "mirror/a:1.0": seeded["conv/a:1.0"], "mirror/a:2.0": seeded["conv/a:2.0"],
        "mirror/a:1.10": seeded["conv/a:1.10"],
        "mirror/b:x": seeded["conv/b:x"], "mirror/b:y": seeded["conv/b:y"],
        "mirror/c:v1.0": seeded["other/c:v1.0"], "mirror/c:v1.1": seeded["other/c:v1.1"],
    }
    assert inventory(by_skopeo) == expected  # what skopeo 1.9 does, spelled out
    assert inventory(by_us) == inventory(by_skopeo)
    # the digest in the list: copied by digest, under no tag, by both
    assert has_digest(by_skopeo, "mirror/a", seeded["conv/a:3.0"])
    assert has_digest(by_us, "mirror/a", seeded["conv/a:3.0"])
    assert len(json.loads(ours.stdout)["copied"]) == 8


def test_src_yaml_credentials_and_dry_run(
    cli: CliRunner, basic_registry: LocalRegistry, local_registry_factory: LocalRegistryFactory,
    unique_repository: str, tmp_path: Path,
) -> None:
    """The file's credentials go to its registry (and are never printed)."""
    password = basic_registry.users["alice"]
    image = seed_image(basic_registry, f"{unique_repository}/team/app", "1.0")
    target = local_registry_factory("anonymous")
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text(
        f"{basic_registry.host}:\n  tls-verify: false\n"  # plain HTTP, as skopeo needs
        f"  images:\n    {unique_repository}/team/app: ['1.0']\n"
        f"  credentials:\n    username: alice\n    password: {password}\n")
    dry = cli("sync", "--src-yaml", str(sync_file), f"{target.host}/m", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert [p["target"] for p in json.loads(dry.stdout)["planned"]] == [
        f"{target.host}/m/app"]
    assert inventory(target) == {}
    done = cli("sync", "--src-yaml", str(sync_file), f"{target.host}/m", "-v")
    assert done.returncode == 0, done.stderr
    assert inventory(target) == {"m/app:1.0": image.digest}
    assert password.encode() not in done.stdout + done.stderr


def test_src_yaml_a_key_with_a_namespace_keeps_its_credentials_and_tls(
    cli: CliRunner, basic_registry: LocalRegistry, local_registry_factory: LocalRegistryFactory,
    unique_repository: str, tmp_path: Path,
) -> None:
    """skopeo 1.9 reads a key ``HOST/namespace`` (its images are HOST/namespace/REPO) and
    gives that entry's credentials and tls-verify to HOST; two keys of one host that set
    them differently cannot both be had, and are refused."""
    password = basic_registry.users["alice"]
    image = seed_image(basic_registry, f"{unique_repository}/team/app", "1.0")
    target = local_registry_factory("anonymous")
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text(
        f"{basic_registry.host}/{unique_repository}:\n  tls-verify: false\n"
        f"  images:\n    team/app: ['1.0']\n"
        f"  credentials:\n    username: alice\n    password: {password}\n")
    done = cli("sync", "--src-yaml", str(sync_file), f"{target.host}/m")
    assert done.returncode == 0, done.stderr
    assert inventory(target) == {"m/app:1.0": image.digest}

    sync_file.write_text(
        sync_file.read_text()
        + f"{basic_registry.host}/other:\n  tls-verify: false\n  images:\n    x: []\n"
        "  credentials:\n    username: bob\n    password: another\n")
    refused = cli("sync", "--src-yaml", str(sync_file), f"{target.host}/m")
    assert refused.returncode == 2
    assert b"credentials" in refused.stderr and b"another" not in refused.stderr


def test_src_yaml_credentials_are_the_source_s_not_a_destination_s_on_that_registry(
    cli: CliRunner, docker_config_dir: Path, unique_repository: str, tmp_path: Path,
) -> None:
    """A file's credentials are for its registry as a source (skopeo puts them in that
    entry's source context alone). A DEST on the same registry was pushed to with them
    too -- a pull-only account's: denied -- not with the credentials stored for it."""
    grants = {None: {}, "admin": {"*": "*"}, "reader": {f"{unique_repository}/*": "pull"},
              "writer": {"*": "pull,push"}}
    with LocalRegistry(auth="token", users={"reader": "rpw", "writer": "wpw"},
                       grants=grants) as reg:
        image = seed_image(reg, f"{unique_repository}/app", "1.0")
        (docker_config_dir / "config.json").write_text(json.dumps(
            {"auths": {reg.host: {"auth": base64.b64encode(b"writer:wpw").decode()}}}))
        sync_file = tmp_path / "sync.yaml"
        sync_file.write_text(
            f"{reg.host}:\n  tls-verify: false\n"
            "  credentials: {username: reader, password: rpw}\n"
            f"  images:\n    {unique_repository}/app: ['1.0']\n")
        done = cli("sync", "--src-yaml", str(sync_file), f"{reg.host}/mirror",
                   "--dest-tls-verify=false")
        assert done.returncode == 0, done.stderr
        with Registry(reg.host, protocol="http",
                      authenticator=TokenAuthenticator("writer", "wpw")) as check:
            assert check.repository("mirror/app").manifests.head("1.0").digest == image.digest


@pytest.mark.parametrize(("text", "message"), [
    ("r.example:\n  images-by-semver:\n    a: '>=1'\n", "images-by-semver is not read here"),
    ("r.example:\n  images:\n    a: 1.0\n", "want a list of tags"),
    ("r.example:\n  tls-verify: maybe\n", "tls-verify: want true or false"),
    ("r.example:\n  cert-dir: /etc/certs\n", "cert-dir is not supported"),
    ("r.example:\n  images: {a: []}\nr.example:\n  images: {b: []}\n", "listed twice"),
    ("- just a list\n", "want a mapping of registry"),
])
def test_src_yaml_refuses_what_it_cannot_read(
    cli: CliRunner, tmp_path: Path, text: str, message: str,
) -> None:
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text(text)
    result = cli("sync", "--src-yaml", str(sync_file), "localhost:1/mirror")
    assert result.returncode == 2
    assert message.encode() in result.stderr


@pytest.mark.parametrize(("dest", "path"), [("", "b"), ("/", "b"), ("/x/y/", "x/y/b")])
def test_src_yaml_dest_may_be_a_bare_registry_or_end_in_a_slash_as_in_skopeo(
    cli: CliRunner, local_registry_factory: LocalRegistryFactory,
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
    dest: str, path: str,
) -> None:
    """skopeo 1.9.3 path.Joins DEST and the last path component: HOST -> HOST/b:1.0."""
    image = seed_image(anon_registry, f"{unique_repository}/conv/b", "1.0")
    target = local_registry_factory("anonymous")
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text(f"{anon_registry.host}:\n  tls-verify: false\n"
                         f"  images:\n    {unique_repository}/conv/b: ['1.0']\n")
    done = cli("sync", "--src-yaml", str(sync_file), f"{target.host}{dest}")
    assert done.returncode == 0, done.stderr
    assert inventory(target) == {f"{path}:1.0": image.digest}
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo (Debian package) is part of the test setup"
    by_skopeo = local_registry_factory("anonymous")
    subprocess.run(
        [skopeo, "--insecure-policy", "sync", "--src", "yaml", "--dest", "docker",
         "--dest-tls-verify=false", "--preserve-digests", "--all", str(sync_file),
         f"{by_skopeo.host}{dest}"], check=True, capture_output=True, timeout=300)
    assert inventory(by_skopeo) == inventory(target)


@pytest.mark.parametrize("flags", [[], ["--src-tls-verify=false"]])
def test_src_yaml_without_tls_verify_is_https_verified_as_in_skopeo(
    cli: CliRunner, local_registry_factory: LocalRegistryFactory,
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path, flags: list[str],
) -> None:
    """skopeo 1.9.3 sets each source registry's TLS from the file alone: no tls-verify
    is true (HTTPS, checked), and --src-tls-verify does not change it. A plain-HTTP
    loopback source without ``tls-verify: false`` fails, for skopeo and for us."""
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo (Debian package) is part of the test setup"
    seed_image(anon_registry, f"{unique_repository}/conv/b", "1.0")
    target = local_registry_factory("anonymous")
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text(f"{anon_registry.host}:\n"
                         f"  images:\n    {unique_repository}/conv/b: ['1.0']\n")
    theirs = subprocess.run(
        [skopeo, "--insecure-policy", "sync", "--src", "yaml", "--dest", "docker",
         "--dest-tls-verify=false", *flags, str(sync_file), f"{target.host}/skopeo"],
        capture_output=True, timeout=300, check=False)
    assert theirs.returncode != 0
    ours = cli("sync", "--src-yaml", str(sync_file), f"{target.host}/m", *flags)
    assert ours.returncode == 1, ours.stderr
    assert inventory(target) == {}
    assert b"tls-verify: false" in ours.stderr
    assert b"protocol=" not in ours.stderr


@pytest.mark.parametrize("expression", ["^v(?!2)", "(["])
def test_src_yaml_skips_a_repository_whose_regex_re2_refuses_as_skopeo(
    cli: CliRunner, local_registry_factory: LocalRegistryFactory,
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path, expression: str,
) -> None:
    """skopeo 1.9.3 logs an expression Go's regexp refuses, skips that repository and
    syncs the rest (exit 0); Python's re reads lookarounds that RE2 has not."""
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo (Debian package) is part of the test setup"
    u = unique_repository
    seeded = {f"{repo}:{tag}": seed_image(anon_registry, f"{u}/{repo}", tag, seed=n).digest
              for n, (repo, tag) in enumerate([("conv/a", "v1"), ("conv/b", "v1")])}
    by_skopeo, by_us = local_registry_factory("anonymous"), local_registry_factory("anonymous")
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text(f"{anon_registry.host}:\n  tls-verify: false\n"
                         f"  images:\n    {u}/conv/a: ['v1']\n"
                         f"  images-by-tag-regex:\n    {u}/conv/b: '{expression}'\n")
    theirs = subprocess.run(
        [skopeo, "--insecure-policy", "sync", "--src", "yaml", "--dest", "docker",
         "--dest-tls-verify=false", "--preserve-digests", "--all", str(sync_file),
         f"{by_skopeo.host}/m"], capture_output=True, timeout=300, check=False)
    ours = cli("sync", "--src-yaml", str(sync_file), f"{by_us.host}/m")
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr
    assert inventory(by_us) == inventory(by_skopeo) == {"m/a:v1": seeded["conv/a:v1"]}
    assert f"{u}/conv/b".encode() in ours.stderr
    assert b"skipped" in ours.stderr


def test_src_yaml_reads_a_regex_in_go_s_syntax_as_skopeo(
    cli: CliRunner, local_registry_factory: LocalRegistryFactory,
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    """POSIX and Unicode classes, \\Q...\\E and \\z: Python's re reads them otherwise
    (``[[:digit:]]`` matches nothing there), skopeo reads them as Go does."""
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo (Debian package) is part of the test setup"
    u = unique_repository
    regexes = {"a": r"^v[[:digit:]]+$", "b": r"^\Qv1.0\E\z", "c": r"^v\pN"}
    seeded = {f"{repo}:{tag}": seed_image(anon_registry, f"{u}/{repo}", tag, seed=n).digest
              for n, (repo, tag) in enumerate(
                  (repo, tag) for repo in regexes for tag in ("v1", "v1.0", "v2", "vx"))}
    by_skopeo, by_us = local_registry_factory("anonymous"), local_registry_factory("anonymous")
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text(f"{anon_registry.host}:\n  tls-verify: false\n"
                         "  images-by-tag-regex:\n" + "".join(
                             f"    {u}/{repo}: '{expression}'\n"
                             for repo, expression in regexes.items()))
    subprocess.run(
        [skopeo, "--insecure-policy", "sync", "--src", "yaml", "--dest", "docker",
         "--dest-tls-verify=false", "--preserve-digests", "--all", str(sync_file),
         f"{by_skopeo.host}/m"], check=True, capture_output=True, timeout=300)
    ours = cli("sync", "--src-yaml", str(sync_file), f"{by_us.host}/m")
    assert ours.returncode == 0, ours.stderr
    expected = {f"m/{name}": seeded[name] for name in (
        "a:v1", "a:v2", "b:v1.0", "c:v1", "c:v1.0", "c:v2")}
    assert inventory(by_skopeo) == expected  # what skopeo 1.9 does, spelled out
    assert inventory(by_us) == expected


def test_src_yaml_regex_tags_are_listed_by_the_sync_so_a_journal_sees_new_ones(
    cli: CliRunner, local_registry_factory: LocalRegistryFactory,
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    """A journal belongs to the sync file, not to the tags a regex found at one run: a
    mirror run again after a new matching tag is pushed copies that tag."""
    u = unique_repository
    for n, tag in enumerate(("1.0", "1.1")):
        seed_image(anon_registry, f"{u}/app", tag, seed=n)
    target = local_registry_factory("anonymous")
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text(f"{anon_registry.host}:\n  tls-verify: false\n"
                         f"  images-by-tag-regex:\n    {u}/app: ^1\\.\n")
    journal = tmp_path / "journal.jsonl"
    run = ("sync", "--src-yaml", str(sync_file), f"{target.host}/m", "--journal", str(journal),
           "--json")
    first = cli(*run)
    assert first.returncode == 0, first.stderr
    new = seed_image(anon_registry, f"{u}/app", "1.2", seed=2).digest
    second = cli(*run)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert [i["tag"] for i in report["copied"]] == ["1.2"]
    assert len(report["journaled"]) == 2
    assert inventory(target)["m/app:1.2"] == new


def test_src_yaml_a_regex_repository_that_cannot_be_listed_fails_alone(
    cli: CliRunner, local_registry_factory: LocalRegistryFactory,
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    """As for a repository of every tag: that repository is a failure (exit 1), and the
    rest of the file is copied (skopeo 1.9 logs it and goes on)."""
    u = unique_repository
    seeded = {tag: seed_image(anon_registry, f"{u}/{repo}", tag, seed=n).digest
              for n, (repo, tag) in enumerate([("app", "1.0"), ("other", "v1")])}
    target = local_registry_factory("anonymous")
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text(f"{anon_registry.host}:\n  tls-verify: false\n"
                         f"  images:\n    {u}/app: ['1.0']\n"
                         f"  images-by-tag-regex:\n    {u}/nope: ^v\n    {u}/other: ^v\n")
    ours = cli("sync", "--src-yaml", str(sync_file), f"{target.host}/m")
    assert ours.returncode == 1, ours.stderr
    assert f"{u}/nope".encode() in ours.stderr
    assert inventory(target) == {"m/app:1.0": seeded["1.0"], "m/other:v1": seeded["v1"]}


def test_src_yaml_that_does_not_exist_is_said_plainly(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("sync", "--src-yaml", str(tmp_path / "nonexist.yml"), "localhost:1/m")
    assert result.returncode == 2
    assert b"nonexist.yml: no such file" in result.stderr
    assert b"Errno" not in result.stderr


def test_skopeo_s_own_sync_syntax_copies_what_skopeo_copies(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str,
    side_by_side: tuple[str, LocalRegistry, LocalRegistry, Path],
) -> None:
    # `skopeo sync --src docker|yaml --dest docker SOURCE DEST`, flags and all
    skopeo, by_skopeo, by_us, sync_file = side_by_side
    u, src = unique_repository, anon_registry.host
    runs: list[list[str]] = [
        ["--src", "docker", "--dest", "docker", f"{src}/{u}/conv/a"],            # every tag
        ["--src", "docker", "--dest", "docker", f"docker://{src}/{u}/other/c:v2.0"],  # one
        ["--src", "yaml", "--dest", "docker", str(sync_file)],
    ]
    for run in runs:
        subprocess.run(
            [skopeo, "--insecure-policy", "sync", *run[:4], "--src-tls-verify=false",
             "--dest-tls-verify=false", "--preserve-digests", "--all",
             run[4].removeprefix("docker://"), f"{by_skopeo.host}/mirror"],
            check=True, capture_output=True, timeout=300)
        # skopeo's --all, --preserve-digests and --keep-going are what sync does anyway
        ours = cli("sync", *run, f"{by_us.host}/mirror", "--src-tls-verify=false",
                   "--preserve-digests", "--all", "--keep-going")
        assert ours.returncode == 0, ours.stderr
    assert "mirror/a:1.0" in inventory(by_skopeo) and "mirror/c:v2.0" in inventory(by_skopeo)
    assert inventory(by_us) == inventory(by_skopeo)
    for wrong in (["--src", "docker", f"{src}/{u}/conv/a"],                   # no DEST
                  ["--src", "yaml", "--src-yaml", str(sync_file), "x", "y"],  # both forms
                  [str(sync_file), f"{by_us.host}/mirror"]):                   # DEST, no --src
        refused = cli("sync", *wrong)
        assert refused.returncode == 2, refused.stderr
