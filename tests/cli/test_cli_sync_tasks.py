"""``sync FILE`` as one of many runs: $JOB_COMPLETION_INDEX without --shards, a
journal of another shard (plain and --json), --shard 0/1 as no shard."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_client.cli import main


@pytest.fixture
def empty_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sync file without entries: the runs below send no request."""
    monkeypatch.delenv("JOB_COMPLETION_INDEX", raising=False)
    path = tmp_path / "mirror.yaml"
    path.write_text("{}\n", encoding="utf-8")
    return path


def test_a_job_index_without_shards_is_a_usage_error(
    empty_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """An Indexed Job whose command forgot --shards would copy everything in every pod."""
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "2")
    assert main(["sync", str(empty_file)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert "JOB_COMPLETION_INDEX" in err and "--shards" in err
    assert main(["sync", str(empty_file), "--shard", "0/1"]) == 0  # said on purpose
    assert main(["sync", str(empty_file), "--shards", "4"]) == 0  # index 2 of 4


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_journal_of_another_shard_is_refused_in_words(
    empty_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    json_flag: list[str],
) -> None:
    journal = str(tmp_path / "j.jsonl")
    assert main(["sync", str(empty_file), "--journal", journal, *json_flag]) == 0
    capsys.readouterr()
    assert main(["sync", str(empty_file), "--journal", journal, "--shard", "0/1",
                 *json_flag]) == 0  # one shard of one: every image, the same input
    capsys.readouterr()
    assert main(["sync", str(empty_file), "--journal", journal, "--shard", "1/2",
                 *json_flag]) == 1
    out, err = capsys.readouterr()
    assert out == ""  # as every verb's fatal error: one line on stderr, with --json too
    assert len(err.splitlines()) == 1 and "another plan" in err
    assert "shard 1/2" in err and "every image (no shard)" in err and "None" not in err
