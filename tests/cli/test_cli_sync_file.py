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
    ],
    ids=["bad-indent", "unclosed-flow", "control-character", "not-a-mapping"],
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
