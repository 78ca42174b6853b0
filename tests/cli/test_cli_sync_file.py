"""``sync FILE`` with a file that is not a sync mapping: a usage error, one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_client.cli import main


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("localhost:5000/app: mirror/app\n  nested: value\n", "line 2, column 9"),
        ("a: b\nother: [unclosed\n", "line 3"),
        ("a: b\nc: \x07bell\n", "line 2"),
        ("- just\n- a list\n", "want a mapping"),
        ("localhost:5000/a: " + "[" * 5000 + "]" * 5000 + "\n", "mirror.yaml"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ("localhost:5000/a: m/a\nlocalhost:5000/a: m/b\n", "line 2, column 1: "
         "'localhost:5000/a' is listed twice"),
        ("localhost:5000/a: m/a\nlocalhost:5000/b:\n", "line 2: the source "
         "'localhost:5000/b' has no target"),
    ],
    ids=["bad-indent", "unclosed-flow", "control-character", "not-a-mapping", "deep-yaml",
         "deep-json", "duplicate", "no-target"],
)
def test_a_malformed_sync_file_is_a_usage_error_naming_the_line(
    tmp_path: Path, docker_config_dir: Path, capsys: pytest.CaptureFixture[str],
    text: str, needle: str,
) -> None:
    path = tmp_path / "mirror.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["sync", str(path), "--plain-http"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert str(path) in err and needle in err
    assert "unexpected" not in err and "\x07" not in err


def test_sync_help_says_yaml_is_read_as_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "flat YAML lines" not in out
    assert "YAML mapping" in out and "listed twice" in out


def test_the_global_json_help_names_sync(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    option = out.index("  --json ")  # the option's own help, not the usage line
    help_of_json = " ".join(out[option:].split("\n  -", 1)[0].split())
    assert "sync" in help_of_json
