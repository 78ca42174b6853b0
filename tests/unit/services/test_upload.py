"""The blob upload's state file (``services._upload``)."""

from __future__ import annotations

import json
from pathlib import Path

from registry_client.services._upload import _write_state, check_state_path


def test_the_state_file_is_never_written_through_a_name_known_in_advance(
        tmp_path: Path) -> None:
    # a symlink put at "<state>.tmp" (a shared directory) had the state written through
    # it, over the file it pointed to
    victim = tmp_path / "victim"
    victim.write_text("precious")
    state = tmp_path / "up.state"
    (tmp_path / "up.state.tmp").symlink_to(victim)
    check_state_path(state)
    _write_state(state, {"location": "http://r/v2/a/blobs/uploads/1"})
    assert victim.read_text() == "precious"
    assert json.loads(state.read_text()) == {"location": "http://r/v2/a/blobs/uploads/1"}
    assert state.stat().st_mode & 0o077 == 0  # (the upload's URL is in it)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["up.state", "up.state.tmp", "victim"]


def test_a_state_file_is_replaced_whole(tmp_path: Path) -> None:
    state = tmp_path / "up.state"
    _write_state(state, {"a": 1})
    _write_state(state, {"b": 2})
    assert json.loads(state.read_text()) == {"b": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["up.state"]
