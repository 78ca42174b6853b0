"""What every repository service shares (``services._base``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests_mock

from registry_client import LayoutError, Registry
from registry_client.errors import RegistryResponseError, SchemaV1NotSupportedError
from registry_client.services._base import in_repository

SCHEMA1 = json.dumps({"schemaVersion": 1, "name": "app", "tag": "old", "fsLayers": []})


def test_an_error_about_an_answer_says_which_registry_and_repository(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]], tmp_path: Path,
) -> None:
    # a pull, copy or image read of a schema1 manifest said only "the registry sent a
    # Docker schema1 manifest"; API.md: every message names the registry and repository
    reg, adapter = mocked_registry()
    adapter.register_uri("GET", "https://registry.example/v2/app/manifests/old", text=SCHEMA1,
                         headers={"Content-Type": "application/vnd.docker.distribution"
                                                  ".manifest.v1+prettyjws"})
    for call in (lambda: reg.repository("app").images.pull("old", tmp_path / "out"),
                 lambda: reg.repository("app").images.get_by_tag("old")):
        with pytest.raises(SchemaV1NotSupportedError,
                           match=r"^registry.example/app: the registry sent a Docker schema1"):
            call()


def test_only_errors_about_answers_that_do_not_say_where_are_reworded() -> None:
    plain = RegistryResponseError("manifest is not valid JSON")
    in_repository(plain, "r.example", "app")
    assert str(plain) == "r.example/app: manifest is not valid JSON"
    said = RegistryResponseError("GET https://r.example/v2/app/tags/list -> 500")
    in_repository(said, "r.example", "app")
    assert str(said) == "GET https://r.example/v2/app/tags/list -> 500"
    local = LayoutError("/tmp/x: blob is corrupt")  # (the user's files: not the registry)
    in_repository(local, "r.example", "app")
    assert str(local) == "/tmp/x: blob is corrupt"


def test_an_empty_path_is_refused_before_anything_is_written(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``Path("")`` is the current directory: a pull to "" (an unset "$OUT") wrote a
    layout among the user's own files, a download a sha256_<hex> file there. Refused,
    as ``open("")``, cp and crane refuse it, before any request."""
    reg, adapter = mocked_registry()
    monkeypatch.chdir(tmp_path)
    repo = reg.repository("app")
    digest = "sha256:" + "a" * 64
    for call in (lambda: repo.images.pull("1.0", ""),
                 lambda: repo.images.pull("1.0", "", format="docker-archive"),
                 lambda: repo.images.export("1.0", ""),
                 lambda: repo.images.push("", "1.0"),
                 lambda: repo.images.fetch_artifact("1.0", ""),
                 lambda: repo.blobs.download(digest, "")):
        with pytest.raises(FileNotFoundError, match="empty path") as caught:
            call()
        assert caught.value.filename == ""
    assert list(tmp_path.iterdir()) == []
    assert adapter.request_history == []
