"""Helpers of the CLI tests: run ``python -m registry_client`` as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import registry_client.sync as sync_module
from registry_client import parse_image_name

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def docker_config_dir(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """An empty ``$DOCKER_CONFIG`` (also set for in-process ``main()`` calls), and empty
    directories where podman's and skopeo's auth.json would be, so that no credentials
    of the machine running the tests are found."""
    directory = tmp_path / "docker-config"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    for name in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"):  # not in tmp_path: tests list it
        monkeypatch.setenv(name, str(tmp_path_factory.mktemp(name.lower())))
    for name in ("REGISTRY_USERNAME", "REGISTRY_PASSWORD", "REGISTRY_AUTH_FILE"):
        monkeypatch.delenv(name, raising=False)
    return directory


@pytest.fixture
def cli(docker_config_dir: Path, tmp_path: Path) -> CliRunner:
    """``cli(*args, input=None, env=None)``: run the CLI in a subprocess, return the result.

    The child sees an empty docker config, no podman auth.json and no ``REGISTRY_*``
    variables unless ``env`` adds them; stdout and stderr are captured as bytes.
    """

    def run(
        *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        child_env["DOCKER_CONFIG"] = str(docker_config_dir)  # and the fixture's XDG_*
        child_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "registry_client", *args],
            input=input if input is not None else b"", capture_output=True,
            env=child_env, cwd=tmp_path, timeout=60, check=False,
        )

    return run


@pytest.fixture
def sync_users(monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """A CLI ``sync`` that copies nothing: it opens each entry's source and target
    repository as the command would and records, by ``domain/path``, the user its
    Registry's authenticator holds (None: none)."""
    users: dict[str, str | None] = {}

    def fake_sync(entries: Any, registry_for: Any, **kwargs: Any) -> Any:
        for entry in entries:
            for text in (entry.source, entry.target):
                ref = parse_image_name(text)
                auth = registry_for(ref).requester.authenticator
                users[f"{ref.domain}/{ref.path}"] = getattr(auth, "username", None)
        return sync_module.SyncResult((), ())

    monkeypatch.setattr(sync_module, "sync", fake_sync)
    return users
