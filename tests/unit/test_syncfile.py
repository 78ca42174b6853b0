"""load_sync_file: JSON or YAML (read by PyYAML), and errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from registry_client import _syncfile
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
        ("m.json", '{\n  "localhost:5000/app": "mirror/app",\n}\n', 0),  # json's line
        ("m.yaml", "a: b\nc: \x07bell\n", 2),
    ],
    ids=["bad-indent", "unclosed-flow", "tab", "json-trailing-comma", "control-character"],
)
def test_a_malformed_file_is_a_value_error_naming_file_and_line(
    tmp_path: Path, name: str, text: str, line: int,
) -> None:
    path = write(tmp_path, name, text)
    if not line:  # the line Python's json names: 3 (the brace), or 2 (the comma) on 3.13+
        with pytest.raises(json.JSONDecodeError) as said:
            json.loads(text)
        line = said.value.lineno
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
    with pytest.raises(ValueError, match=r"m\.yaml(, line \d+)?: .*want a"):
        load_sync_file(path)


def test_a_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"localhost:5000/app: mirror/\xff\n")
    with pytest.raises(ValueError, match=r"m\.yaml: not UTF-8 text"):
        load_sync_file(path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.yaml", "localhost:5000/a: " + "{b: " * 500 + "c" + "}" * 500 + "\n"),
        ("deeper.yaml", "localhost:5000/a: " + "[" * 5000 + "]" * 5000 + "\n"),
        ("deep.json", "[" * 1000 + "]" * 1000),
        ("deep-json.yaml", '{"a": ' + "[" * 1000 + "]" * 1000 + "}"),
        ("deeper.json", '{"a": ' + '{"b": ' * 100_000 + "1" + "}" * 100_001),
    ],
    ids=["yaml-500", "yaml-5000", "json-1000", "json-in-yaml", "json-100000"],
)
def test_deep_nesting_is_a_value_error_naming_the_file(
    tmp_path: Path, name: str, text: str,
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ValueError) as info:
        load_sync_file(path)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("dup.yaml", "localhost:5000/a: mirror.example.com/a\nlocalhost:5000/b: m/b\n"
         "localhost:5000/a: backup.example.com/a\n", 3),
        ("dup-quoted.yaml", "localhost:5000/a: m/a\n'localhost:5000/a': m/b\n", 2),
        ("dup.json", '{"localhost:5000/a": "mirror.example.com/a",\n'
         ' "localhost:5000/a": "backup.example.com/a"}', 2),
        ("dup-json.yaml", '{"localhost:5000/a": "m/a", "localhost:5000/a": "m/b"}', 1),
    ],
    ids=["yaml", "yaml-quoted", "json", "json-read-as-yaml"],
)
def test_a_source_listed_twice_is_refused_naming_its_line(
    tmp_path: Path, name: str, text: str, line: int,
) -> None:
    path = write(tmp_path, name, text)
    if not line:  # the line Python's json names: 3 (the brace), or 2 (the comma) on 3.13+
        with pytest.raises(json.JSONDecodeError) as said:
            json.loads(text)
        line = said.value.lineno
    with pytest.raises(ValueError) as info:
        load_sync_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line {line}")
    assert "localhost:5000/a" in message and "twice" in message


@pytest.mark.parametrize(
    ("name", "text", "where", "what"),
    [
        ("m.yaml", "localhost:5000/a: m/a\nlocalhost:5000/b:\nlocalhost:5000/c: m/c\n",
         ", line 2", "'localhost:5000/b' has no target"),
        ("m.yaml", "localhost:5000/a: m/a\nlocalhost:5000/b: 1.5\n",
         ", line 2", "'localhost:5000/b': the target is a number"),
        ("m.yaml", "localhost:5000/a: [m/a, m/b]\n", ", line 1",
         "'localhost:5000/a': the target is a list"),
        ("m.yaml", "a: b\n5000: m/c\n", ", line 2", "the source 5000 is a number"),
        ("m.yaml", "# sources\n- localhost:5000/a\n- m/a\n", ", line 2", "got a list"),
        ("m.json", '{"localhost:5000/a": "m/a",\n "localhost:5000/b": null}', ", line 2",
         "'localhost:5000/b' has no target"),
        ("m.json", '["localhost:5000/a"]', "", "got a list"),
    ],
    ids=["yaml-null", "yaml-number", "yaml-list", "yaml-number-key", "yaml-top-list",
         "json-null", "json-top-list"],
)
def test_a_wrong_entry_is_named(
    tmp_path: Path, name: str, text: str, where: str, what: str,
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ValueError) as info:
        load_sync_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}{where}: ")
    assert what in message


@pytest.mark.parametrize("name", ["m.json", "m.yaml"])
def test_a_utf8_byte_order_mark_is_read_in_json_and_yaml(tmp_path: Path, name: str) -> None:
    text = (json.dumps({APP.source: APP.target}) if name.endswith(".json")
            else f"{APP.source}: {APP.target}\n")
    assert load_sync_file(write(tmp_path, name, "\ufeff" + text)) == [APP]


@pytest.mark.parametrize("base", ["SafeLoader", "CSafeLoader"])
def test_both_loaders_refuse_duplicates_and_name_the_line(tmp_path: Path, base: str) -> None:
    if not hasattr(yaml, base):  # libyaml missing: the fallback is what runs
        base = "SafeLoader"
    loader = _syncfile._yaml_loader(getattr(yaml, base))
    assert issubclass(loader, getattr(yaml, base))
    text = "a: b\nc: d\na: e\n"
    with pytest.raises(yaml.MarkedYAMLError) as info:
        yaml.load(text, Loader=loader)
    assert info.value.problem_mark is not None and info.value.problem_mark.line == 2


def test_libyaml_is_used_when_there() -> None:
    loader = _syncfile._yaml_loader()
    expected = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    assert issubclass(loader, expected)


def test_an_entry_may_give_a_tag_pattern(tmp_path: Path) -> None:
    yaml_path = write(tmp_path, "m.yaml", (
        "localhost:5000/app:\n"
        "  target: mirror.example.com/app\n"
        "  tags: '^1\\.'\n"
        "localhost:5000/tools:1.2: mirror.example.com/tools\n"))
    json_path = write(tmp_path, "m.json", json.dumps({
        "localhost:5000/app": {"target": "mirror.example.com/app", "tags": "^1\\."},
        TOOLS.source: TOOLS.target}))
    want = [SyncEntry(APP.source, APP.target, tags="^1\\."), TOOLS]
    assert load_sync_file(yaml_path) == load_sync_file(json_path) == want


@pytest.mark.parametrize(
    ("text", "what"),
    [("a:\n  tags: x\n", "no target"),
     ("a:\n  target: m/a\n  tag: x\n", "'tag'"),
     ("a:\n  target: m/a\n  tags: [x]\n", "tags"),
     ("a:\n  target: m/a\n  tags: '('\n", "regular expression")],
    ids=["no-target", "unknown-key", "tags-list", "bad-regex"],
)
def test_a_wrong_tag_pattern_entry_is_named(tmp_path: Path, text: str, what: str) -> None:
    path = write(tmp_path, "m.yaml", text)
    with pytest.raises(ValueError) as info:
        load_sync_file(path)
    assert str(info.value).startswith(f"{path}, line 1: ") and what in str(info.value)
