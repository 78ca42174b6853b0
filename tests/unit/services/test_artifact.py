"""images.fetch_artifact through a requests-mock registry: every file or none is placed."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import requests_mock

from registry_client import ArtifactNameError, Registry
from registry_client.services import _artifact
from registry_client.services._artifact import safe_file_name

BASE = "https://registry.example"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MockedRegistry = tuple[Registry, requests_mock.Adapter]
FILES = {"a.txt": b"new a", "b.txt": b"new b"}


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def env(mocked_registry: Callable[..., MockedRegistry]) -> MockedRegistry:
    """``app@art``: an artifact of the files FILES."""
    reg, adapter = mocked_registry()
    stub_artifact(adapter, FILES)
    return reg, adapter


def stub_artifact(adapter: requests_mock.Adapter, files: dict[str, bytes]) -> None:
    for data in files.values():
        adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{sha(data)}", content=data)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
        "mediaType": "application/vnd.oci.empty.v1+json", "digest": sha(b"{}"), "size": 2},
        "layers": [{"mediaType": "text/plain", "digest": sha(data), "size": len(data),
                    "annotations": {"org.opencontainers.image.title": name}}
                   for name, data in files.items()]}).encode()
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/art", content=manifest,
                         headers={"Content-Type": OCI_MANIFEST,
                                  "Docker-Content-Digest": sha(manifest)})


def blob_gets(adapter: requests_mock.Adapter) -> int:
    return sum("/blobs/" in r.url for r in adapter.request_history)


def contents(folder: Path) -> dict[str, bytes | None]:
    return {p.name: None if p.is_dir() else p.read_bytes() for p in folder.iterdir()}


def test_the_files_replace_older_ones_of_the_same_name(env: MockedRegistry,
                                                       tmp_path: Path) -> None:
    reg, _ = env
    (tmp_path / "a.txt").write_bytes(b"old a")
    paths = reg.repository("app").images.fetch_artifact("art", tmp_path)
    assert paths == [tmp_path / "a.txt", tmp_path / "b.txt"]
    assert contents(tmp_path) == FILES


def test_a_directory_where_a_file_goes_is_refused_before_anything_is_written(
    env: MockedRegistry, tmp_path: Path
) -> None:
    reg, adapter = env
    (tmp_path / "b.txt").mkdir()
    with pytest.raises(ArtifactNameError, match=r"b\.txt.*is a directory"):
        reg.repository("app").images.fetch_artifact("art", tmp_path)
    assert contents(tmp_path) == {"b.txt": None}
    assert blob_gets(adapter) == 0


def test_a_failed_move_puts_back_what_was_there(
    env: MockedRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg, _ = env
    (tmp_path / "a.txt").write_bytes(b"old a")
    real = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == tmp_path / "b.txt":
            raise PermissionError(13, "Permission denied", str(dst))
        real(src, dst)

    monkeypatch.setattr(_artifact.os, "replace", replace)
    with pytest.raises(PermissionError):
        reg.repository("app").images.fetch_artifact("art", tmp_path)
    assert contents(tmp_path) == {"a.txt": b"old a"}


def test_a_title_longer_than_a_file_name_is_refused_before_downloading(
    mocked_registry: Callable[..., MockedRegistry], tmp_path: Path
) -> None:
    reg, adapter = mocked_registry()
    stub_artifact(adapter, {"ok.txt": b"ok", "x" * 300: b"long"})
    with pytest.raises(ArtifactNameError, match="255 bytes"):
        reg.repository("app").images.fetch_artifact("art", tmp_path / "out")
    assert blob_gets(adapter) == 0
    assert not (tmp_path / "out").exists()


def test_file_names_are_limited_to_255_bytes_of_utf8() -> None:
    assert safe_file_name("x" * 255) == "x" * 255
    for title in ("x" * 256, "é" * 128, "\ud800"):
        with pytest.raises(ArtifactNameError):
            safe_file_name(title)
