"""Helpers of the CLI tests: run ``python -m registry_client`` as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def docker_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``$DOCKER_CONFIG`` (also set for in-process ``main()`` calls)."""
    directory = tmp_path / "docker-config"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    return directory


@pytest.fixture
def cli(docker_config_dir: Path, tmp_path: Path) -> CliRunner:
    """``cli(*args, input=None, env=None)``: run the CLI in a subprocess, return the result.

    The child sees an empty docker config and no ``REGISTRY_*`` variables unless
    ``env`` adds them; stdout and stderr are captured as bytes.
    """

    def run(
        *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        child_env["DOCKER_CONFIG"] = str(docker_config_dir)
        child_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "registry_client", *args],
            input=input if input is not None else b"", capture_output=True,
            env=child_env, cwd=tmp_path, timeout=60, check=False,
        )

    return run
