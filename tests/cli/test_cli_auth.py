"""Credentials on the command line: flags, environment, docker config, helpers, redaction."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from registry_client.testing import LocalRegistry, seed_image

pytestmark = pytest.mark.integration

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]
JWT_RE = re.compile(rb"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

HELPER = """#!/bin/sh
# A docker credential helper speaking the `docker-credential-<name> get` protocol.
read -r server
echo "$1 $server" >> "{log}"
if [ "$1" = get ] && [ "$server" = "{host}" ]; then
  printf '{{"ServerURL":"%s","Username":"{user}","Secret":"{secret}"}}\\n' "$server"
else
  echo "credentials not found in native keychain"
  exit 1
fi
"""


def write_config(directory: Path, doc: dict[str, object]) -> None:
    (directory / "config.json").write_text(json.dumps(doc))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def fake_helper(tmp_path: Path, basic_registry: LocalRegistry) -> tuple[dict[str, str], Path]:
    """``docker-credential-fake`` (alice's password for the basic registry) on a PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "helper.log"
    script = bin_dir / "docker-credential-fake"
    script.write_text(HELPER.format(
        log=log, host=basic_registry.host, user="alice",
        secret=basic_registry.users["alice"],
    ))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}, log


@pytest.fixture(scope="module")
def basic_image(basic_registry: LocalRegistry) -> str:
    """A reference to an image on the basic-auth registry."""
    seed_image(basic_registry, "cli/auth", "1.0")
    return f"{basic_registry.host}/cli/auth"


def test_verbose_trace_of_token_auth_shows_no_secret(
    cli: CliRunner, token_registry: LocalRegistry, unique_repository: str
) -> None:
    image = seed_image(token_registry, unique_repository, "1.0")
    password = token_registry.users["alice"]
    ref = f"{token_registry.host}/{unique_repository}:1.0"
    result = cli("-v", "--plain-http", "tag", ref, "copy", "--username", "alice",
                 "--password-stdin", input=password.encode() + b"\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip().endswith(image.digest)
    trace = result.stderr
    assert b"HTTP exchange" in trace and b"> PUT " in trace
    assert b"Authorization: ***" in trace
    assert password.encode() not in trace
    assert JWT_RE.search(trace) is None
    assert token_registry.token_server is not None
    assert any(r.user == "alice" for r in token_registry.token_server.requests)


def test_wrong_password_is_one_line_exit_1(
    cli: CliRunner, token_registry: LocalRegistry, unique_repository: str
) -> None:
    seed_image(token_registry, unique_repository, "1.0")
    ref = f"{token_registry.host}/{unique_repository}:1.0"
    result = cli("digest", ref, "--plain-http", "--username", "alice", "--password", "nope")
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert "alice" in line and "nope" not in line


def test_wrong_password_on_a_basic_registry_names_the_user(
    cli: CliRunner, basic_image: str
) -> None:
    result = cli("digest", f"{basic_image}:1.0", "--plain-http", "--username", "alice",
                 "--password", "nope")
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert "the registry refused the credentials of alice" in line, line
    assert "nope" not in line


def test_identity_token_from_docker_config_is_a_refresh_token(
    cli: CliRunner, token_registry: LocalRegistry, docker_config_dir: Path,
    unique_repository: str,
) -> None:
    server = token_registry.token_server
    assert server is not None
    seed_image(token_registry, unique_repository, "1.0")
    answer = requests.get(
        server.realm, params={"service": server.service, "offline_token": "true"},
        auth=("alice", token_registry.users["alice"]), timeout=10,
    ).json()
    refresh = answer["refresh_token"]
    write_config(docker_config_dir, {"auths": {
        token_registry.host: {"auth": b64("alice:"), "identitytoken": refresh},
    }})
    server.reset()
    result = cli("-v", "--plain-http", "ls", f"{token_registry.host}/{unique_repository}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"1.0\n"
    assert refresh.encode() not in result.stderr
    assert JWT_RE.search(result.stderr) is None
    assert [r.method for r in server.requests] == ["POST"]
    assert server.requests[0].query["grant_type"] == ["refresh_token"]


@pytest.mark.parametrize("kind", ["credHelpers", "credsStore"])
def test_credential_helper_from_docker_config(
    cli: CliRunner, basic_registry: LocalRegistry, basic_image: str, docker_config_dir: Path,
    fake_helper: tuple[dict[str, str], Path], kind: str,
) -> None:
    env, log = fake_helper
    anonymous = cli("ls", basic_image, "--plain-http", env=env)
    assert anonymous.returncode == 1  # no credentials anywhere: the registry refuses
    doc: dict[str, object] = (
        {"credHelpers": {basic_registry.host: "fake"}} if kind == "credHelpers"
        else {"credsStore": "fake", "auths": {basic_registry.host: {}}}
    )
    write_config(docker_config_dir, doc)
    result = cli("ls", basic_image, "--plain-http", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"1.0\n"
    assert log.read_text().splitlines() == [f"get {basic_registry.host}"]


def test_docker_config_auths_entry(
    cli: CliRunner, basic_registry: LocalRegistry, basic_image: str, docker_config_dir: Path
) -> None:
    password = basic_registry.users["alice"]
    write_config(docker_config_dir, {"auths": {
        f"http://{basic_registry.host}": {"auth": b64(f"alice:{password}")},
    }})
    result = cli("--plain-http", "ls", basic_image)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"1.0\n"


def test_precedence_flags_then_env_then_docker_config(
    cli: CliRunner, basic_registry: LocalRegistry, basic_image: str, docker_config_dir: Path,
    fake_helper: tuple[dict[str, str], Path],
) -> None:
    env, log = fake_helper
    write_config(docker_config_dir, {"credHelpers": {basic_registry.host: "fake"}})
    good = basic_registry.users["alice"]
    env_good = {**env, "REGISTRY_USERNAME": "alice", "REGISTRY_PASSWORD": good}
    env_bad = {**env, "REGISTRY_USERNAME": "alice", "REGISTRY_PASSWORD": "wrong"}

    assert cli("--plain-http", "ls", basic_image, env=env_bad).returncode == 1  # env > config
    assert not log.exists()  # the helper was not even asked
    assert cli("--plain-http", "ls", basic_image, env=env_good).returncode == 0
    flags_good = cli("--plain-http", "ls", basic_image, "--username", "alice",
                     "--password-stdin", input=good.encode(), env=env_bad)
    assert flags_good.returncode == 0, flags_good.stderr  # flags > env
    flags_bad = cli("--plain-http", "ls", basic_image, "--username", "alice",
                    "--password-stdin", input=b"wrong", env=env_good)
    assert flags_bad.returncode == 1
    assert cli("--plain-http", "ls", basic_image, env=env).returncode == 0  # docker config
    assert log.read_text().splitlines() == [f"get {basic_registry.host}"]
