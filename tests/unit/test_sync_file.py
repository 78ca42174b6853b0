"""load_sync_file's flat YAML reader (used when PyYAML is not installed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from registry_client.sync import SyncEntry, load_sync_file

NO_YAML = importlib.util.find_spec("yaml") is None


def test_document_markers_are_yaml_too(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("---\n# mirror\nlocalhost:5000/app: mirror.example.com/app\n...\n")
    assert load_sync_file(path) == [SyncEntry("localhost:5000/app", "mirror.example.com/app")]


@pytest.mark.skipif(not NO_YAML, reason="PyYAML words its own errors")
def test_a_bad_line_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("localhost:5000/app: mirror.example.com/app\njust some words\n")
    with pytest.raises(ValueError, match=r"m\.yaml, line 2: want 'source: target'"):
        load_sync_file(path)
