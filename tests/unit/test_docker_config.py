"""docker config.json credentials: helpers that misbehave degrade to anonymous, never crash."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from registry_client.docker_config import credentials_for


def _helper(bin_dir: Path, name: str, output: str, status: int = 0) -> None:
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}\nEOF\nexit {status}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize(("output", "status"), [
    ("[]", 0), ('"just a string"', 0), ("null", 0), ("42", 0), ("{not json", 0),
    ("[" * 100_000, 0), ('{"Username": "u"}', 0), ("credentials not found", 1),
])
def test_a_helper_that_prints_no_credentials_means_anonymous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str, status: int,
) -> None:
    _helper(tmp_path, "odd", output, status)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {"registry.example": "odd"}}))
    assert credentials_for("registry.example", config) is None


def test_a_helper_with_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _helper(tmp_path, "good", '{"ServerURL": "registry.example", "Username": "u", '
                              '"Secret": "s3cret"}')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {"registry.example": "good"}}))
    found = credentials_for("registry.example", config)
    assert found is not None and (found.username, found.password) == ("u", "s3cret")


@pytest.mark.parametrize("auth", ["!!!!", "bm90LWEtcGFpcg==", "dXNlcjpwYXNz!!", "%%%"])
def test_an_auth_that_is_not_base64_of_user_colon_password_is_ignored_with_a_warning(
    tmp_path: Path, auth: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """As docker: strict base64 of "user:password" (here garbage, "not-a-pair", junk)."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"registry.example": {"auth": auth}}}))
    with caplog.at_level("WARNING", logger="registry_client"):
        assert credentials_for("registry.example", config) is None
    assert "malformed auth entry" in caplog.text


def test_an_auth_with_line_breaks_is_read_as_docker_reads_it(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"registry.example": {"auth": "dXNlcjpw\nYXNz"}}}))
    found = credentials_for("registry.example", config)
    assert found is not None and (found.username, found.password) == ("user", "pass")


@pytest.mark.parametrize("entry", [{"auth": "OnMzY3JldA=="}, {"username": "", "password": "pw"}],
                         ids=["auth-colon-password", "empty-username"])
def test_a_password_without_username_is_ignored_with_a_warning(
    tmp_path: Path, entry: dict[str, str], caplog: pytest.LogCaptureFixture,
) -> None:
    """An authenticator refuses a password without a username: anonymous, not a crash."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"registry.example": entry}}))
    with caplog.at_level("WARNING", logger="registry_client"):
        assert credentials_for("registry.example", config) is None
    assert "without a username" in caplog.text


def test_a_helper_secret_without_username_is_ignored_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    _helper(tmp_path, "nouser", '{"ServerURL": "registry.example", "Secret": "s3cret"}')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {"registry.example": "nouser"}}))
    with caplog.at_level("WARNING", logger="registry_client"):
        assert credentials_for("registry.example", config) is None
    assert "without a username" in caplog.text and "s3cret" not in caplog.text
