"""``auth login`` / ``logout`` / ``get`` against real registries, as docker stores credentials."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from registry_client.testing import LocalRegistry, seed_image

pytestmark = pytest.mark.integration

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]
FAKE_HELPER = Path(__file__).resolve().parents[1] / "data" / "docker-credential-fake"


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("mode", ["token", "basic"])
def test_a_wrong_password_fails_and_writes_nothing(
    cli: CliRunner, docker_config_dir: Path, token_registry: LocalRegistry,
    basic_registry: LocalRegistry, mode: str,
) -> None:
    reg = token_registry if mode == "token" else basic_registry
    user = "admin"
    result = cli("auth", "login", reg.host, "-u", user, "--password-stdin",
                 input=b"not-the-password\n")
    assert result.returncode == 1
    assert result.stdout == b""
    assert b"refused" in result.stderr or b"401" in result.stderr
    assert b"not-the-password" not in result.stderr
    assert _files(docker_config_dir) == []
    if mode == "token":  # the token server was asked with these credentials, and said no
        server = reg.token_server
        assert server is not None
        assert any(r.user == user and r.status == 401 for r in server.requests)


def test_login_then_ls_and_catalog_without_a_flag_then_logout(
    cli: CliRunner, docker_config_dir: Path, token_registry: LocalRegistry,
    unique_repository: str,
) -> None:
    server = token_registry.token_server
    assert server is not None and token_registry.admin is not None
    user, password = token_registry.admin
    seed_image(token_registry, unique_repository, "1.0")
    host = token_registry.host
    assert cli("catalog", host).returncode == 1  # anonymous: no catalog
    login = cli("auth", "login", host, "-u", user, "--password-stdin",
                input=f"{password}\n".encode())
    assert login.returncode == 0, login.stderr
    assert login.stdout.startswith(b"Login Succeeded")
    assert b"stored unencrypted" in login.stderr and password.encode() not in login.stderr
    config = docker_config_dir / "config.json"
    assert json.loads(config.read_text()) == {
        "auths": {host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    server.reset()
    listed = cli("ls", f"{host}/{unique_repository}")
    assert (listed.returncode, listed.stdout) == (0, b"1.0\n"), listed.stderr
    catalog = cli("catalog", host)
    assert catalog.returncode == 0, catalog.stderr
    assert unique_repository in catalog.stdout.decode().split()
    assert server.requests and {r.user for r in server.requests} == {user}
    got = cli("auth", "get", host)
    assert got.returncode == 0
    assert got.stdout == f'{{"Username":"{user}","Secret":"{password}"}}\n'.encode()
    from_stdin = cli("auth", "get", input=f"{host}\n".encode())  # a credential helper's get
    assert from_stdin.stdout == got.stdout
    logout = cli("auth", "logout", host)
    assert (logout.returncode, logout.stdout) == (0, f"Removed login credentials for {host}\n"
                                                  .encode())
    assert json.loads(config.read_text()) == {"auths": {}}
    assert cli("catalog", host).returncode == 1
    missing = cli("auth", "get", host)
    assert (missing.returncode, missing.stdout) == (
        1, b"credentials not found in native keychain\n")
    again = cli("auth", "logout", host, "--json")
    assert json.loads(again.stdout) == {"host": host, "server": host, "removed": False}


def test_with_a_creds_store_the_helper_stores_and_the_file_holds_no_secret(
    cli: CliRunner, docker_config_dir: Path, token_registry: LocalRegistry, tmp_path: Path,
    unique_repository: str,
) -> None:
    assert token_registry.admin is not None
    user, password = token_registry.admin
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker-credential-fake").write_bytes(FAKE_HELPER.read_bytes())
    (bin_dir / "docker-credential-fake").chmod(0o755)
    state = tmp_path / "helper.json"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "FAKE_CREDENTIAL_STORE": str(state)}
    config = docker_config_dir / "config.json"
    config.write_text(json.dumps({"credsStore": "fake", "psFormat": "table {{.ID}}"}))
    seed_image(token_registry, unique_repository, "1.0")
    host = token_registry.host
    login = cli("auth", "login", host, "-u", user, "--password-stdin", "--json",
                input=password.encode(), env=env)
    assert login.returncode == 0, login.stderr
    assert json.loads(login.stdout) == {"host": host, "server": host, "username": user,
                                        "stored_in": "docker-credential-fake"}
    helper = json.loads(state.read_text())
    assert helper["log"] == [["store", host]]
    assert helper["store"] == {host: {"Username": user, "Secret": password}}
    text = config.read_text()
    assert password not in text and '"auth"' not in text
    assert json.loads(text) == {"credsStore": "fake", "psFormat": "table {{.ID}}",
                                "auths": {host: {}}}
    catalog = cli("catalog", host, env=env)  # the helper's get gives the credentials
    assert catalog.returncode == 0, catalog.stderr
    assert ["get", host] in json.loads(state.read_text())["log"]
    logout = cli("auth", "logout", host, env=env)
    assert logout.returncode == 0, logout.stderr
    helper = json.loads(state.read_text())
    assert helper["log"][-1] == ["erase", host] and helper["store"] == {}
    assert json.loads(config.read_text()) == {"credsStore": "fake",
                                              "psFormat": "table {{.ID}}", "auths": {}}


def test_login_with_p_on_a_basic_registry(
    cli: CliRunner, docker_config_dir: Path, basic_registry: LocalRegistry,
) -> None:
    password = basic_registry.users["alice"]
    login = cli("auth", "login", basic_registry.host, "-u", "alice", "-p", password)
    assert login.returncode == 0, login.stderr
    auth = json.loads((docker_config_dir / "config.json").read_text())["auths"]
    assert base64.b64decode(auth[basic_registry.host]["auth"]) == f"alice:{password}".encode()



def test_login_and_logout_as_docker_and_skopeo_spell_them(
    cli: CliRunner, docker_config_dir: Path, basic_registry: LocalRegistry,
) -> None:
    # `docker login HOST -u USER --password-stdin`, `skopeo login`, `podman logout`:
    # the same as auth login / auth logout
    password = basic_registry.users["alice"]
    host = basic_registry.host
    login = cli("login", host, "-u", "alice", "--password-stdin",
                input=f"{password}\n".encode())
    assert login.returncode == 0, login.stderr
    assert login.stdout.startswith(b"Login Succeeded")
    auth = json.loads((docker_config_dir / "config.json").read_text())["auths"]
    assert base64.b64decode(auth[host]["auth"]) == f"alice:{password}".encode()
    logout = cli("logout", host)
    assert (logout.returncode, logout.stdout) == (
        0, f"Removed login credentials for {host}\n".encode())
    assert json.loads((docker_config_dir / "config.json").read_text()) == {"auths": {}}
    refused = cli("login", host, "-p", password)
    assert refused.returncode == 2 and b"--username" in refused.stderr

def test_with_registry_auth_file_login_logout_and_get_use_what_the_others_read(
    cli: CliRunner, docker_config_dir: Path, basic_registry: LocalRegistry, tmp_path: Path,
) -> None:
    """Every verb reads $REGISTRY_AUTH_FILE first (podman's and skopeo's file): login
    stores there, as `skopeo login` does, auth get reads it, and logout removes what any
    verb would find -- else an old password there wins over a new login."""
    password = basic_registry.users["alice"]
    host = basic_registry.host
    auth_file = tmp_path / "auth.json"
    stale = base64.b64encode(b"alice:an-old-password").decode()
    auth_file.write_text(json.dumps({"auths": {host: {"auth": stale}}}))
    env = {"REGISTRY_AUTH_FILE": str(auth_file)}
    login = cli("login", host, "-u", "alice", "--password-stdin",
                input=f"{password}\n".encode(), env=env)
    assert login.returncode == 0, login.stderr
    assert str(auth_file).encode() in login.stdout
    stored = json.loads(auth_file.read_text())["auths"][host]["auth"]
    assert base64.b64decode(stored) == f"alice:{password}".encode()
    assert _files(docker_config_dir) == []
    assert cli("catalog", host, env=env).returncode == 0
    got = cli("auth", "get", host, env=env)
    assert json.loads(got.stdout) == {"Username": "alice", "Secret": password}
    # credentials in docker's config too (docker login): logout removes both
    docker_login = cli("login", host, "-u", "alice", "-p", password)
    assert docker_login.returncode == 0, docker_login.stderr
    logout = cli("logout", host, env=env)
    assert logout.returncode == 0 and logout.stdout.startswith(b"Removed")
    assert json.loads(auth_file.read_text())["auths"] == {}
    assert json.loads((docker_config_dir / "config.json").read_text())["auths"] == {}
    assert cli("catalog", host, env=env).returncode == 1  # no credentials left


def test_a_registry_that_never_asks_for_credentials_gets_none_stored(
    cli: CliRunner, docker_config_dir: Path, anon_registry: LocalRegistry,
) -> None:
    login = cli("auth", "login", anon_registry.host, "-u", "alice", "--password-stdin",
                input=b"anything\n")
    assert login.returncode == 1
    assert b"cannot check them" in login.stderr
    assert _files(docker_config_dir) == []


@pytest.mark.parametrize(("args", "message"), [
    (["auth", "login", "localhost:5000", "-p", "pw"], b"--username"),
    (["auth", "login", "localhost:5000", "-u", "alice"], b"--password-stdin"),
    (["auth", "login", "localhost:5000/app", "-u", "a", "-p", "b"], b"registry host"),
    (["auth", "logout", "not a host"], b"host"),
    (["auth", "get"], b"give HOST"),
    (["auth"], b"ACTION"),
])
def test_usage_errors(cli: CliRunner, docker_config_dir: Path, args: list[str],
                      message: bytes) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert _files(docker_config_dir) == []


@pytest.mark.parametrize("host", ["docker.io", "index.docker.io", "https://index.docker.io/v1/"])
def test_auth_get_reads_docker_hubs_key_and_identity_tokens(
    cli: CliRunner, docker_config_dir: Path, host: str,
) -> None:
    (docker_config_dir / "config.json").write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"me:").decode(),
                                        "identitytoken": "refresh-123"}}}))
    got = cli("auth", "get", host)
    assert (got.returncode, got.stdout) == (0, b'{"Username":"<token>","Secret":"refresh-123"}\n')


def test_a_failing_helper_is_reported_by_auth_get_and_a_warning_for_ls(
    cli: CliRunner, docker_config_dir: Path, anon_registry: LocalRegistry, tmp_path: Path,
    unique_repository: str,
) -> None:
    """A helper that fails (exit 3, not "credentials not found") is no "not found": auth
    get reports it (exit 1), ls warns and goes on anonymously."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-bad"
    helper.write_text("#!/bin/sh\ncat >/dev/null\necho 'helper exploded' >&2\n"
                      "echo 'stdout-junk'\nexit 3\n")
    helper.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    (docker_config_dir / "config.json").write_text(json.dumps({"credsStore": "bad"}))
    seed_image(anon_registry, unique_repository, "1.0")
    got = cli("auth", "get", anon_registry.host, env=env)
    assert got.returncode == 1
    assert got.stdout == b""
    assert b"docker-credential-bad" in got.stderr and b"helper exploded" in got.stderr
    assert b"exit status 3" in got.stderr
    listed = cli("ls", f"{anon_registry.host}/{unique_repository}", env=env)
    assert (listed.returncode, listed.stdout) == (0, b"1.0\n"), listed.stderr
    assert b"docker-credential-bad" in listed.stderr and b"helper exploded" in listed.stderr


def test_auth_get_json_keeps_stdout_json_when_nothing_is_stored(
    cli: CliRunner, docker_config_dir: Path,
) -> None:
    """With --json, stdout is JSON or nothing: "not found" goes to stderr (exit 1)."""
    got = cli("auth", "get", "nowhere.example", "--json")
    assert (got.returncode, got.stdout) == (1, b"")
    assert b"credentials not found" in got.stderr and b"nowhere.example" in got.stderr
    plain = cli("auth", "get", "nowhere.example")  # the helper protocol's words, on stdout
    assert (plain.returncode, plain.stdout) == (1, b"credentials not found in native keychain\n")


def test_get_of_a_login_that_is_not_utf8_writes_json_that_is(
    cli: CliRunner, docker_config_dir: Path,
) -> None:
    """A docker config entry of Latin-1 bytes (another tool wrote it) is read, bytes kept
    as surrogates: ``auth get`` wrote those bytes raw, which no JSON reader takes."""
    auth = base64.b64encode(b"j\xe9r\xf4me:p\xe4ss").decode()
    (docker_config_dir / "config.json").write_text(
        json.dumps({"auths": {"127.0.0.1:5999": {"auth": auth}}}))
    got = cli("auth", "get", "127.0.0.1:5999")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout.decode("utf-8")) == {  # (the bytes, read back exactly)
        "Username": b"j\xe9r\xf4me".decode("utf-8", "surrogateescape"),
        "Secret": b"p\xe4ss".decode("utf-8", "surrogateescape")}
