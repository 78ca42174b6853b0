"""The sync journal: header, finished tasks only, fsync, torn lines, another plan refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from registry_client import JournalError
from registry_client._journal import Journal
from registry_client._synctask import SyncPlan, SyncTask, TaskResult

DIGEST = "sha256:" + "ab" * 32


def tasks(n: int = 3, shard: tuple[int, int] | None = None) -> SyncPlan:
    return SyncPlan([SyncTask(f"s.example/a:t{i}@{DIGEST}", f"d.example/a:t{i}")
                     for i in range(n)], shard=shard)


def test_finished_tasks_are_recorded_and_read_back(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    plan = tasks()
    path = tmp_path / "j.jsonl"
    with Journal(path, plan) as journal:
        journal.record(TaskResult(plan[0], "copied"))
        journal.record(TaskResult(plan[1], "failed", error="boom"))  # tried again next time
        journal.record(TaskResult(plan[2], "present"))
    assert len(synced) == 3  # the header and each finished task
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[0]["plan"] == plan.plan_id and lines[0]["tasks"] == 3
    assert [x["outcome"] for x in lines[1:]] == ["copied", "present"]
    with Journal(path, tasks()) as again:
        assert again.done == {plan[0].key, plan[2].key}


def test_a_journal_of_another_plan_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    Journal(path, tasks()).close()
    before = path.read_bytes()
    for other in (tasks(4), tasks(3, shard=(0, 2))):
        with pytest.raises(JournalError, match="another plan"):
            Journal(path, other)
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(JournalError, match="not a sync journal"):
        Journal(path, tasks())


def test_a_last_line_cut_by_a_crash_is_dropped_and_the_next_starts_afresh(
    tmp_path: Path,
) -> None:
    plan = tasks()
    path = tmp_path / "j.jsonl"
    with Journal(path, plan) as journal:
        journal.record(TaskResult(plan[0], "copied"))
    with path.open("ab") as f:
        f.write(b'{"task": "' + plan[1].key.encode()[:20])  # the crash
    with Journal(path, plan) as journal:
        assert journal.done == {plan[0].key}
        journal.record(TaskResult(plan[1], "copied"))
    with Journal(path, plan) as journal:
        assert journal.done == {plan[0].key, plan[1].key}
    path.write_text(path.read_text().replace('"outcome"', 'garbage', 1) + "\n")
    with Journal(path, plan) as journal:  # a damaged line: that task runs again
        assert journal.done == {plan[1].key}
