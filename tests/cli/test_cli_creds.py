"""Per-side credentials for copy and sync: each registry gets its own, never the other's."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from registry_client import Registry, TokenAuthenticator
from registry_client.auth import NO_CREDENTIALS_HINT
from registry_client.cli import main
from registry_client.testing import LocalRegistry, seed_image

pytestmark = pytest.mark.integration

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def digest_on(reg: LocalRegistry, repository: str, tag: str) -> str:
    user, password = reg.admin or ("", "")
    with Registry(reg.host, protocol="http",
                  authenticator=TokenAuthenticator(user, password)) as client:
        return client.repository(repository).manifests.head(tag).digest


# -- the acceptance: anonymous source, credentials for the destination only ---------------------
@pytest.mark.parametrize("password_on", ["flag", "stdin"])
def test_copy_with_dest_creds_sends_the_source_no_user(
    cli: CliRunner, token_registry: LocalRegistry, basic_registry: LocalRegistry,
    unique_repository: str, password_on: str,
) -> None:
    server = token_registry.token_server
    assert server is not None
    image = seed_image(token_registry, unique_repository, "1.0")
    password = basic_registry.users["alice"]
    server.reset()
    creds = f"alice:{password}" if password_on == "flag" else "alice"
    result = cli(
        "copy", f"{token_registry.host}/{unique_repository}:1.0",
        f"{basic_registry.host}/{unique_repository}:1.0", "--plain-http", "--dest-creds", creds,
        input=f"{password}\n".encode() if password_on == "stdin" else None,
    )
    assert result.returncode == 0, result.stderr
    assert server.requests, "the source's token server was asked for anonymous tokens"
    assert {r.user for r in server.requests} == {None}
    assert digest_on(basic_registry, unique_repository, "1.0") == image.digest
    assert password.encode() not in result.stdout + result.stderr


@pytest.mark.parametrize("how", ["environment", "flags"])
def test_one_set_of_credentials_for_two_registries_is_refused(
    cli: CliRunner, token_registry: LocalRegistry, basic_registry: LocalRegistry,
    unique_repository: str, how: str,
) -> None:
    server = token_registry.token_server
    assert server is not None
    seed_image(token_registry, unique_repository, "1.0")
    server.reset()
    password = basic_registry.users["alice"]
    args = ["copy", f"{token_registry.host}/{unique_repository}:1.0",
            f"{basic_registry.host}/{unique_repository}:1.0", "--plain-http"]
    if how == "flags":
        result = cli(*args, "-u", "alice", "--password-stdin", input=password.encode())
    else:
        result = cli(*args, env={"REGISTRY_USERNAME": "alice", "REGISTRY_PASSWORD": password})
    assert result.returncode == 2
    [line] = result.stderr.decode().splitlines()
    assert "--src-creds" in line and "--dest-creds" in line
    assert password not in line
    assert server.requests == []  # nothing reached the source's token server


def test_sync_between_two_registries_refuses_environment_credentials(
    cli: CliRunner, token_registry: LocalRegistry, basic_registry: LocalRegistry,
    tmp_path: Path, unique_repository: str,
) -> None:
    server = token_registry.token_server
    assert server is not None
    seed_image(token_registry, unique_repository, "1.0")
    mapping = tmp_path / "sync.json"
    mapping.write_text(json.dumps({
        f"{token_registry.host}/{unique_repository}:1.0": f"{basic_registry.host}/mirror/x",
    }))
    server.reset()
    env = {"REGISTRY_USERNAME": "alice", "REGISTRY_PASSWORD": basic_registry.users["alice"]}
    refused = cli("sync", str(mapping), "--plain-http", env=env)
    assert refused.returncode == 2, refused.stderr
    assert b"--dest-creds" in refused.stderr
    assert server.requests == []
    server.reset()
    ok = cli("sync", str(mapping), "--plain-http",
             "--dest-creds", f"alice:{basic_registry.users['alice']}")
    assert ok.returncode == 0, ok.stderr
    assert {r.user for r in server.requests} == {None}


def test_each_side_gets_its_own_credentials(
    cli: CliRunner, token_registry: LocalRegistry, basic_registry: LocalRegistry,
    unique_repository: str,
) -> None:
    server = token_registry.token_server
    assert server is not None
    assert token_registry.admin is not None
    admin, admin_pw = token_registry.admin
    assert admin != "alice"
    image = seed_image(basic_registry, unique_repository, "2.0")
    server.reset()
    result = cli(
        "copy", f"{basic_registry.host}/{unique_repository}:2.0",
        f"{token_registry.host}/{unique_repository}:2.0", "--plain-http",
        "--src-creds", f"alice:{basic_registry.users['alice']}",
        "--dest-creds", f"{admin}:{admin_pw}",
        env={"REGISTRY_USERNAME": "bob", "REGISTRY_PASSWORD": "unused"},  # both sides covered
    )
    assert result.returncode == 0, result.stderr
    assert {r.user for r in server.requests} == {admin}  # the source's user never came here
    assert digest_on(token_registry, unique_repository, "2.0") == image.digest


def test_one_registry_copy_still_takes_the_global_credentials(
    cli: CliRunner, token_registry: LocalRegistry, unique_repository: str,
) -> None:
    server = token_registry.token_server
    assert server is not None
    image = seed_image(token_registry, unique_repository, "1.0")
    server.reset()
    result = cli(
        "copy", f"{token_registry.host}/{unique_repository}:1.0",
        f"{token_registry.host}/{unique_repository}-copy:1.0", "--plain-http",
        env={"REGISTRY_USERNAME": "alice", "REGISTRY_PASSWORD": token_registry.users["alice"]},
    )
    assert result.returncode == 0, result.stderr
    assert {r.user for r in server.requests} == {"alice"}
    assert digest_on(token_registry, f"{unique_repository}-copy", "1.0") == image.digest


# -- anonymous refusals name the CLI's flags ----------------------------------------------------
def test_anonymous_refusal_names_the_cli_flags(
    cli: CliRunner, token_registry: LocalRegistry, basic_registry: LocalRegistry,
    unique_repository: str,
) -> None:
    seed_image(basic_registry, unique_repository, "1.0")
    listed = cli("ls", f"{basic_registry.host}/{unique_repository}", "--plain-http")
    assert listed.returncode == 1
    [line] = listed.stderr.decode().splitlines()
    assert "no credentials were given" in line and "--username" in line
    assert "TokenAuthenticator" not in line
    seed_image(token_registry, unique_repository, "1.0")
    copied = cli("copy", f"{token_registry.host}/{unique_repository}:1.0",
                 f"{token_registry.host}/{unique_repository}-anon:1.0", "--plain-http")
    assert copied.returncode == 1  # anonymous may pull, not push
    [line] = copied.stderr.decode().splitlines()
    assert "no credentials were given" in line and "--dest-creds" in line
    assert NO_CREDENTIALS_HINT not in line


# -- usage errors (no registry is contacted) ----------------------------------------------------
@pytest.mark.parametrize(
    ("args", "stdin", "needle"),
    [
        (["--src-creds", ":pw"], "", "user name"),
        (["--dest-creds", "alice:"], "", "empty password"),
        (["--src-creds", "alice", "--dest-creds", "bob"], "pw\n", "one password"),
        (["--src-creds", "alice", "-u", "x", "--password-stdin"], "pw\n", "one password"),
        (["--src-creds", "alice"], "", "nothing was read"),
        (["--src-creds", "alice"], None, "standard input"),
        (["--src-creds", "a:1", "--dest-creds", "b:2", "-u", "c", "--password", "3"], "",
         "--username"),
    ],
    ids=["no-user", "empty-password", "two-from-stdin", "stdin-shared", "empty-stdin",
         "terminal", "flags-with-both-sides"],
)
def test_per_side_credential_usage_errors(
    args: list[str], stdin: str | None, needle: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    monkeypatch.setattr(sys, "stdin", FakeTerminal() if stdin is None else io.StringIO(stdin))
    code = main(["copy", "127.0.0.1:9/a:1", "127.0.0.2:9/b:1", *args])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == "" and len(err.splitlines()) == 1
    assert needle in err
    for secret in ("pw", "3"):
        assert f":{secret}" not in err.replace("--src-creds", "")


@pytest.mark.parametrize("args", [
    ["ls", "127.0.0.1:9/a", "-u", "alice", "--password-stdin"],
    ["copy", "127.0.0.1:9/a:1", "127.0.0.2:9/b:1", "--src-creds", "alice"],
], ids=["password-stdin", "side-creds"])
def test_a_password_on_stdin_longer_than_any_is_a_usage_error(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    docker_config_dir: Path,
) -> None:
    """``</dev/zero``: the whole of stdin was read for the password until memory ran out
    (MemoryError, exit 1); what is read is bounded now."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("\0" * (2 << 20)))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "not a password or token" in err and len(err.splitlines()) == 1


def test_sync_side_credentials_need_one_registry_per_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    mapping = tmp_path / "sync.json"
    mapping.write_text(json.dumps({"127.0.0.1:9/a:1": "127.0.0.3:9/a",
                                   "127.0.0.2:9/b:1": "127.0.0.3:9/b"}))
    assert main(["sync", str(mapping), "--src-creds", "alice:pw"]) == 2
    err = capsys.readouterr().err
    assert "several" in err and "127.0.0.1:9" in err and "127.0.0.2:9" in err


def test_creds_flags_belong_to_copy_and_sync_only(
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    assert main(["ls", "127.0.0.1:9/a", "--src-creds", "alice:pw"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_an_empty_username_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    assert main(["ls", "127.0.0.1:9/a", "-u", "", "--password", "pw"]) == 2
    assert "without --username" in capsys.readouterr().err


def test_sync_on_one_registry_takes_each_side_s_flag_for_its_repositories(
    sync_users: dict[str, str | None], tmp_path: Path, docker_config_dir: Path,
) -> None:
    """skopeo keeps a source context and a destination context apart: a registry on both
    sides reads its sources with --src-creds and is written with --dest-creds (it was
    refused, "both a source and a target: give its credentials once")."""
    mapping = tmp_path / "sync.json"
    mapping.write_text(json.dumps({"127.0.0.1:9/a:1": "127.0.0.1:9/b"}))
    args = ["sync", str(mapping), "--src-creds", "alice:pw", "--dest-creds", "bob:pw2"]
    assert main(args) == 0
    assert sync_users == {"127.0.0.1:9/a": "alice", "127.0.0.1:9/b": "bob"}


def test_a_repository_on_both_sides_with_two_sides_credentials_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    """A repository read and written by one sync (a retag in place, a chain a -> b, b ->
    c) is opened once: with --src-creds and --dest-creds that differ, it was written
    with --src-creds (refused by the registry, or worse). Said before anything moves."""
    mapping = tmp_path / "sync.json"
    mapping.write_text(json.dumps({"127.0.0.1:9/a/app:1": "127.0.0.1:9/a/app:2"}))
    args = ["sync", str(mapping), "--src-creds", "alice:pw", "--dest-creds", "bob:pw2"]
    assert main(args) == 2
    assert "127.0.0.1:9/a/app is both a source and a target" in capsys.readouterr().err


def test_sync_on_one_registry_may_give_both_side_flags_the_same_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    """skopeo takes --src-creds X --dest-creds X for a registry on both sides."""
    mapping = tmp_path / "sync.json"
    mapping.write_text(json.dumps({"127.0.0.1:9/a:1": "127.0.0.1:9/b"}))
    args = ["sync", str(mapping), "--src-creds", "alice:pw", "--dest-creds", "alice:pw",
            "--timeout", "0.5", "--retry-times", "0"]
    assert main(args) == 1  # (nothing listens there) -- not a usage error
    assert "both a source and a target" not in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "user"), [("--src-creds", "alice"), ("--dest-creds", "bob")])
def test_a_repository_on_both_sides_takes_the_one_side_flag_given(
    sync_users: dict[str, str | None], tmp_path: Path, docker_config_dir: Path,
    flag: str, user: str,
) -> None:
    mapping = tmp_path / "sync.json"
    mapping.write_text(json.dumps({"127.0.0.1:9/a/app:1": "127.0.0.1:9/a/app:2"}))
    assert main(["sync", str(mapping), flag, f"{user}:pw"]) == 0
    assert set(sync_users.values()) == {user}


def test_a_sync_file_s_credentials_equal_to_the_destination_s_are_one_set(
    sync_users: dict[str, str | None], tmp_path: Path, docker_config_dir: Path,
) -> None:
    """A repository on both sides, the file's credentials and --dest-creds the same pair:
    refused as differing. A file's credentials with none for the destination still are
    (they are a source's, never used to push)."""
    sync_file = tmp_path / "s.yaml"
    sync_file.write_text("r.example:\n  images:\n    app: ['1']\n"
                         "  credentials: {username: writer, password: wpw}\n")
    base = ["sync", "--src-yaml", str(sync_file), "r.example"]
    assert main([*base, "--dest-creds", "writer:wpw"]) == 0
    assert main(base) == 2
