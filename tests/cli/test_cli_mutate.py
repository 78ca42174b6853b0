"""The image-building verbs on a real registry: append, mutate, flatten, rebase, export."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from registry_client.cli import main
from registry_client.testing import LocalRegistry, seed_image

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]

pytestmark = pytest.mark.integration


def tar_files(data: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for info in tar:
            if info.isreg():
                f = tar.extractfile(info)
                assert f is not None
                files[info.name] = f.read()
    return files


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def ok(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


@pytest.fixture
def base(anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
         cli: CliRunner) -> str:
    """``host/repo:base``: an empty image with two real layers appended by the CLI, the
    second deleting a file of the first with a whiteout."""
    seed_image(anon_registry, unique_repository, "empty", layers=(), media="oci")
    first = tree(tmp_path / "base-1", {"etc/os-release": "NAME=base\n", "etc/gone": "x\n"})
    second = tmp_path / "base-2.tar"
    with tarfile.open(second, "w") as tar:
        tar.addfile(tarfile.TarInfo("etc/.wh.gone"))
    host = f"{anon_registry.host}/{unique_repository}"
    ok(cli("append", "-b", f"{host}:empty", "-f", str(first), str(second), "-t", f"{host}:base",
           "--plain-http"))
    return f"{host}:base"


def test_append_prints_the_same_digest_for_the_same_directory(
    cli: CliRunner, base: str, tmp_path: Path,
) -> None:
    app = tree(tmp_path / "app", {"srv/app.py": "print('hi')\n"})
    repo = base.rsplit(":", 1)[0]
    first = ok(cli("append", "-b", base, "-f", str(app), "-t", f"{repo}:app", "--plain-http"))
    second = json.loads(ok(cli("append", "-b", base, "-f", str(app), "-t", f"{repo}:app2",
                               "--plain-http", "--json")))
    assert first.strip() == f"{repo}:app@{second['digest']}"
    assert second["tag"] == "app2" and second["platforms"][0]["platform"] == "linux/amd64"
    files = tar_files(cli("export", f"{repo}:app", "-", "--plain-http").stdout)
    assert files == {"etc/os-release": b"NAME=base\n", "srv/app.py": b"print('hi')\n"}


@pytest.mark.parametrize("base", [[], ["-b", "scratch"]], ids=["no-base", "scratch"])
def test_append_without_a_base_builds_from_scratch_as_crane_does(
    cli: CliRunner, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
    base: list[str],
) -> None:
    app = tree(tmp_path / "app", {"srv/app.py": "print('hi')\n"})
    repo = f"{anon_registry.host}/{unique_repository}"
    made = json.loads(ok(cli("append", *base, "-f", str(app), "-t", f"{repo}:app",
                             "--platform", "linux/arm64", "--json")))
    assert [p["platform"] for p in made["platforms"]] == ["linux/arm64"]
    files = tar_files(cli("export", f"{repo}:app", "-").stdout)
    assert files == {"srv/app.py": b"print('hi')\n"}


def test_mutate_sets_labels_and_entrypoint_seen_by_inspect_and_config(
    cli: CliRunner, base: str,
) -> None:
    repo = base.rsplit(":", 1)[0]
    out = ok(cli("mutate", base, "--label", "org.example.team=web", "-l", "tier=front",
                 "--entrypoint", "/bin/app,--serve", "--env", "MODE=prod", "--user", "1000",
                 "--workdir", "/srv", "--exposed-ports", "8080", "-a", "note=mutated",
                 "-t", f"{repo}:configured", "--plain-http"))
    assert out.startswith(f"{repo}:configured@sha256:")
    inspect = json.loads(ok(cli("inspect", f"{repo}:configured", "--plain-http", "--json")))
    assert inspect["labels"] == {"org.example.team": "web", "tier": "front"}
    assert inspect["entrypoint"] == ["/bin/app", "--serve"]
    human = ok(cli("inspect", f"{repo}:configured", "--plain-http"))
    assert "tier=front" in human and '["/bin/app", "--serve"]' in human
    config = json.loads(ok(cli("config", f"{repo}:configured", "--plain-http")))
    assert config["config"]["Entrypoint"] == ["/bin/app", "--serve"]
    assert config["config"]["User"] == "1000" and config["config"]["WorkingDir"] == "/srv"
    assert "MODE=prod" in config["config"]["Env"]
    assert "8080/tcp" in config["config"]["ExposedPorts"]
    manifest = json.loads(ok(cli("manifest", f"{repo}:configured", "--plain-http")))
    assert manifest["annotations"] == {"note": "mutated"}


def test_flatten_then_export_to_a_file_equals_the_original_s_export(
    cli: CliRunner, base: str, tmp_path: Path,
) -> None:
    repo = base.rsplit(":", 1)[0]
    flat = json.loads(ok(cli("flatten", base, "-t", f"{repo}:flat", "--plain-http", "--json")))
    manifest = json.loads(ok(cli("manifest", f"{repo}@{flat['digest']}", "--plain-http")))
    assert len(manifest["layers"]) == 1
    written = json.loads(ok(cli("export", f"{repo}:flat", str(tmp_path / "flat.tar"),
                                "--plain-http", "--json")))
    assert written["path"] == str(tmp_path / "flat.tar")
    original = cli("export", base, "-", "--plain-http").stdout
    assert (tmp_path / "flat.tar").read_bytes() == original
    assert "etc/gone" not in tar_files(original)


@pytest.fixture
def app_on_base(cli: CliRunner, base: str, tmp_path: Path) -> tuple[str, str, str]:
    """``(host/repo, host/repo:app, host/repo:base-2)``: the repository, an image built on
    ``base`` there, and another version of that base to rebase it onto."""
    repo = base.rsplit(":", 1)[0]
    new_base = tree(tmp_path / "new-base", {"etc/os-release": "NAME=patched\n"})
    ok(cli("append", "-b", f"{repo}:empty", "-f", str(new_base), "-t", f"{repo}:base-2",
           "--plain-http"))
    app = tree(tmp_path / "app", {"srv/app.py": "x\n"})
    ok(cli("append", "-b", base, "-f", str(app), "-t", f"{repo}:app", "--plain-http"))
    return repo, f"{repo}:app", f"{repo}:base-2"


def test_rebase_swaps_the_base_and_refuses_a_base_the_image_is_not_on(
    cli: CliRunner, base: str, app_on_base: tuple[str, str, str],
) -> None:
    repo, app, base_2 = app_on_base
    out = ok(cli("rebase", app, "--old-base", base, "--new-base", base_2,
                 "-t", f"{repo}:rebased", "--plain-http"))
    assert out.startswith(f"{repo}:rebased@")
    files = tar_files(cli("export", f"{repo}:rebased", "-", "--plain-http").stdout)
    assert files == {"etc/os-release": b"NAME=patched\n", "srv/app.py": b"x\n"}
    refused = cli("rebase", app, "--old-base", base_2, "--new-base", base,
                  "-t", f"{repo}:no", "--plain-http")
    assert refused.returncode == 1
    assert b"is not built on" in refused.stderr


def test_rebase_takes_crane_s_flag_spellings(
    cli: CliRunner, base: str, app_on_base: tuple[str, str, str],
) -> None:
    repo, app, base_2 = app_on_base
    ours = ok(cli("rebase", app, "--old-base", base, "--new-base", base_2,
                  "-t", f"{repo}:ours", "--plain-http"))
    # crane rebase IMAGE --old_base OLD --new_base NEW --rebased TAG (or -t)
    crane = ok(cli("rebase", app, "--old_base", base, "--new_base", base_2,
                   "--rebased", f"{repo}:crane", "--plain-http"))
    assert crane.split("@")[1] == ours.split("@")[1]
    # crane's --original names the image to rebase: it is never taken as the old base
    wrong = cli("rebase", app, "--original", base, "--new_base", base_2,
                "-t", f"{repo}:wrong", "--plain-http")
    assert wrong.returncode == 2


def test_a_base_on_another_registry_is_a_usage_error(cli: CliRunner, base: str,
                                                      tmp_path: Path) -> None:
    result = cli("append", "-b", "ghcr.io/org/base:1", "-f", str(tmp_path), "-t", base,
                 "--plain-http")
    assert result.returncode == 2
    assert b"both must be on one registry" in result.stderr


def test_a_layer_that_is_no_tar_fails_before_anything_is_pushed(
    cli: CliRunner, base: str, tmp_path: Path,
) -> None:
    bogus = tmp_path / "layer.tar"
    bogus.write_text("not a tar" * 100)
    repo = base.rsplit(":", 1)[0]
    result = cli("append", "-b", base, "-f", str(bogus), "-t", f"{repo}:bad", "--plain-http")
    assert result.returncode == 1
    assert b"not a readable tar" in result.stderr
    tags = json.loads(ok(cli("ls", repo, "--plain-http", "--json")))
    assert "bad" not in json.dumps(tags)


@pytest.mark.parametrize(("flags", "named"), [
    (["--label", "k=v\udce9"], "--label"), (["--env", "K=v\udce9"], "--env"),
    (["--annotation", "k=\udce9"], "--annotation"), (["--cmd", "a,\udce9"], "--cmd"),
    (["--entrypoint", "\udce9"], "--entrypoint"), (["--workdir", "/\udce9"], "--workdir"),
    (["--user", "\udce9"], "--user"),
])
def test_bytes_that_are_no_utf8_in_a_flag_are_a_usage_error_naming_it(
    capsys: pytest.CaptureFixture[str], flags: list[str], named: str,
) -> None:
    """A shell passes such bytes (Python keeps them as surrogates); no config JSON can
    hold them: exit 2 naming the flag, not a codec error, before any request."""
    assert main(["mutate", "127.0.0.1:9/app:1", *flags, "-t", "127.0.0.1:9/app:2",
                 "--retry-times", "0", "--timeout", "0.5"]) == 2
    err = capsys.readouterr().err
    assert f"{named}: not valid UTF-8 text" in err and "codec" not in err


def test_a_username_or_password_that_is_no_utf8_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["ls", "127.0.0.1:9/app", "-u", "al\udce9", "--password", "x"]) == 2
    assert "--username: not valid UTF-8 text" in capsys.readouterr().err
    assert main(["ls", "127.0.0.1:9/app", "-u", "alice", "--password", "p\udce9"]) == 2
    assert "--password: not valid UTF-8 text" in capsys.readouterr().err


class Terminal(io.StringIO):
    """A stdout that claims to be a terminal."""

    def isatty(self) -> bool:
        return True



def test_export_without_a_file_writes_standard_output_as_crane_export(
    cli: CliRunner, base: str,
) -> None:
    # crane export IMAGE [TARBALL]: the tarball defaults to -
    piped = cli("export", base, "--plain-http")
    assert piped.returncode == 0, piped.stderr.decode()
    files = tar_files(piped.stdout)
    assert files and files == tar_files(cli("export", base, "-", "--plain-http").stdout)

def test_export_to_a_terminal_is_refused(
    base: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["export", base, "-", "--plain-http"]) == 2
    assert terminal.getvalue() == ""
    assert "standard output is a terminal" in capsys.readouterr().err


def test_a_created_time_that_is_no_rfc3339_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # refused before any request: nothing listens on port 9
    assert main(["mutate", "127.0.0.1:9/app:1", "--created", "yesterday",
                 "-t", "127.0.0.1:9/app:2", "--plain-http"]) == 2
    assert "--created: created: 'yesterday' is not an RFC 3339 time" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["0", "8080/foo", "70000"])
def test_an_exposed_port_that_is_no_port_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], port: str,
) -> None:
    # refused before any request, as --created, --label and --env are: exit status 2
    assert main(["mutate", "127.0.0.1:9/app:1", "--exposed-ports", f"80,{port}",
                 "-t", "127.0.0.1:9/app:2", "--plain-http"]) == 2
    assert f"--exposed-ports: {port!r} is no port" in capsys.readouterr().err


def test_export_into_a_missing_directory_fails_and_creates_none(
    cli: CliRunner, base: str, tmp_path: Path,
) -> None:
    result = cli("export", base, str(tmp_path / "nonexistent-dir" / "x.tar"), "--plain-http")
    assert result.returncode == 1
    assert b"nonexistent-dir" in result.stderr
    assert not (tmp_path / "nonexistent-dir").exists()


def test_mutate_help_says_user_is_long_only_and_u_is_the_login(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["mutate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "-u is the global --username" in text
    assert "A new --entrypoint clears the Cmd unless --cmd is given too" in text
