"""load_sync_file: JSON or YAML (read by PyYAML), and errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry_client.sync import SyncEntry, load_sync_file

APP = SyncEntry("localhost:5000/app", "mirror.example.com/app")
TOOLS = SyncEntry("localhost:5000/tools:1.2", "mirror.example.com/tools")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_flat_yaml_with_comments_quotes_and_document_markers(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "---\n# mirror\nlocalhost:5000/app: mirror.example.com/app\n"
                 "'localhost:5000/tools:1.2': \"mirror.example.com/tools\"  # one image\n...\n")
    assert load_sync_file(path) == [APP, TOOLS]


def test_yaml_a_line_reader_could_not_read(tmp_path: Path) -> None:
    # a flow mapping over several lines, an anchor and its alias: a real YAML parser
    path = write(tmp_path, "m.yml", "{\n  localhost:5000/app: &m mirror.example.com/app,\n"
                 "  localhost:5000/app2: *m\n}\n")
    assert load_sync_file(path) == [
        APP, SyncEntry("localhost:5000/app2", "mirror.example.com/app")]


def test_json_and_the_same_mapping_in_yaml_agree(tmp_path: Path) -> None:
    doc = {APP.source: APP.target, TOOLS.source: TOOLS.target}
    as_json = write(tmp_path, "m.json", json.dumps(doc, indent=2))
    as_yaml = write(tmp_path, "m.yaml", "".join(f"{k}: {v}\n" for k, v in doc.items()))
    assert load_sync_file(as_json) == load_sync_file(as_yaml) == [APP, TOOLS]


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("m.yaml", "localhost:5000/app: mirror/app\n  nested: value\n", 2),
        ("m.yaml", "localhost:5000/app: mirror/app\nother: [unclosed\n", 3),
        ("m.yaml", "a: b\nc: d\n\t e: f\n", 3),
        ("m.json", '{\n  "localhost:5000/app": "mirror/app",\n}\n', 3),
        ("m.yaml", "a: b\nc: \x07bell\n", 2),
    ],
    ids=["bad-indent", "unclosed-flow", "tab", "json-trailing-comma", "control-character"],
)
def test_a_malformed_file_is_a_value_error_naming_file_and_line(
    tmp_path: Path, name: str, text: str, line: int,
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ValueError) as info:
        load_sync_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line {line}")
    assert "\n" not in message


@pytest.mark.parametrize(
    "text",
    ["- localhost:5000/app\n- mirror/app\n", "", "app:\n  nested: mapping\n", "app: 1.5\n"],
    ids=["list", "empty", "nested", "number"],
)
def test_anything_but_a_flat_mapping_of_strings_is_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "m.yaml", text)
    with pytest.raises(ValueError, match=r"m\.yaml: want a mapping of source reference"):
        load_sync_file(path)


def test_a_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"localhost:5000/app: mirror/\xff\n")
    with pytest.raises(ValueError, match=r"m\.yaml: not UTF-8 text"):
        load_sync_file(path)
