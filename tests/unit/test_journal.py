"""The sync journal: header, finished tasks only, fsync, torn lines, another input
(entries or shard) refused, a partial plan resumed, one process at a time."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import requests_mock

from registry_client import JournalError, NullAuthenticator, Registry
from registry_client._journal import Journal
from registry_client._synctask import SyncPlan, SyncTask, TaskResult, input_id
from registry_client.sync import SyncEntry, sync

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
    assert lines[0]["input"] == plan.input_id and lines[0]["shard"] == "all"
    assert [x["outcome"] for x in lines[1:]] == ["copied", "present"]
    with Journal(path, tasks()) as again:
        assert again.done == {plan[0].key, plan[2].key}


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(JournalError, match="not a sync journal"):
        Journal(path, tasks())


def test_a_journal_that_is_no_regular_file_is_refused_unread(tmp_path: Path) -> None:
    """--journal /dev/zero read the whole of it (22 GB, then the OOM killer), a FIFO
    failed as "File or stream is not seekable"."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(JournalError, match="not a regular file"):
            Journal(path, tasks())


def test_a_journal_that_cannot_be_written_says_which_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A full disk: "[Errno 28] No space left on device", naming no file (the journal, a
    state file, a blob?), and raised again by close() as it flushed the same bytes."""
    plan = tasks()
    path = tmp_path / "j.jsonl"
    journal = Journal(path, plan)

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as caught:
        journal.record(TaskResult(plan[0], "copied"))
    assert caught.value.filename == str(path) and caught.value.errno == 28
    assert "journal" in str(caught.value)
    journal.close()  # the failure said once


def test_a_journal_of_json_nested_too_deeply_is_refused_as_no_journal(tmp_path: Path) -> None:
    path = tmp_path / "deep.journal"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n")  # (RecursionError in json)
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


def test_a_vanished_tag_is_not_recorded_so_a_tag_pushed_back_is_copied(
    tmp_path: Path,
) -> None:
    """A listed tag deleted before its copy ran was recorded under the same key (source
    digest and target) as a copied image: pushed back with the same digest, every
    later run with that journal skipped it as done, and it never reached the target."""
    plan = tasks()
    path = tmp_path / "j.jsonl"
    with Journal(path, plan) as journal:
        journal.record(TaskResult(plan[0], "vanished", error="manifest unknown"))
        journal.record(TaskResult(plan[1], "copied"))
    with Journal(path, plan) as journal:
        assert journal.done == {plan[1].key}


def test_a_vanished_line_of_an_older_journal_is_not_done(tmp_path: Path) -> None:
    """Journals written before vanished tags stopped being recorded hold such lines:
    read as done, the image pushed back under that tag was skipped for good."""
    plan = tasks()
    path = tmp_path / "j.jsonl"
    with Journal(path, plan):
        pass
    with path.open("ab") as f:
        f.write(json.dumps({"task": plan[0].key, "outcome": "vanished"}).encode() + b"\n")
        f.write(json.dumps({"task": plan[1].key, "outcome": "copied"}).encode() + b"\n")
    with Journal(path, plan) as journal:
        assert journal.done == {plan[1].key}


def test_a_header_cut_by_a_crash_starts_the_journal_afresh(tmp_path: Path) -> None:
    """A crash while the first line was written left part of it: the journal was
    refused as "not a sync journal" although it could only be this sync's."""
    plan = tasks()
    path = tmp_path / "j.jsonl"
    with Journal(path, plan):
        pass
    whole = path.read_bytes()
    for cut in (1, 30, len(whole) - 1):
        path.write_bytes(whole[:cut])
        with Journal(path, plan) as journal:
            journal.record(TaskResult(plan[0], "copied"))
        with Journal(path, plan) as journal:
            assert journal.done == {plan[0].key}
        assert path.read_bytes().startswith(whole)
    path.write_bytes(b"\n \n")  # blank: a new journal
    with Journal(path, plan) as journal:
        assert journal.done == set()
    assert path.read_bytes() == whole
    path.write_bytes(b'{"journal": "something else"')  # no line, not ours: left alone
    with pytest.raises(JournalError, match="not a sync journal"):
        Journal(path, plan)
    assert path.read_bytes() == b'{"journal": "something else"'


# -- the journal's identity is the sync's input (entries and shard), not its plan --------

OTHER = "sha256:" + "cd" * 32
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def registries(adapter: requests_mock.Adapter) -> dict[str, Registry]:
    session = requests.Session()
    session.mount("https://", adapter)
    return {h: Registry(h, session=session, authenticator=NullAuthenticator(), retries=0)
            for h in ("src.example", "dst.example")}


def head(mock: requests_mock.Adapter, url: str, digest: str) -> None:
    mock.register_uri("HEAD", url, headers={"Docker-Content-Digest": digest,
                                            "Content-Length": "10", "Content-Type": MANIFEST})


ENTRIES = [SyncEntry("src.example/app", "dst.example/m/app"),
           SyncEntry("src.example/other", "dst.example/m/other")]


def test_a_retry_after_a_partial_plan_resumes_the_journal(tmp_path: Path) -> None:
    """A 503 on one tag list makes run 1's plan smaller: run 2 (same entries) still
    takes the journal, skips what run 1 finished and does the rest; a tag that moved
    since is a new task."""
    mock = requests_mock.Adapter()
    regs = registries(mock)
    mock.register_uri("GET", "https://src.example/v2/app/tags/list",
                      json={"name": "app", "tags": ["a", "b"]})
    mock.register_uri("GET", "https://src.example/v2/other/tags/list",
                      [{"status_code": 503}, {"json": {"name": "other", "tags": ["c"]}}])
    for repo, tag in (("app", "a"), ("app", "b"), ("other", "c")):
        head(mock, f"https://src.example/v2/{repo}/manifests/{tag}", DIGEST)
        head(mock, f"https://dst.example/v2/m/{repo}/manifests/{tag}", DIGEST)
    path = tmp_path / "j.jsonl"
    first = sync(ENTRIES, lambda r: regs[r.domain], journal=path)
    assert [name for name, _ in first.failed] == ["src.example/other"]
    assert len(first.present) == 2
    head(mock, "https://src.example/v2/app/manifests/b", OTHER)  # the tag moved since
    head(mock, "https://dst.example/v2/m/app/manifests/b", OTHER)
    before = len(mock.request_history)
    second = sync(ENTRIES, lambda r: regs[r.domain], journal=path)
    assert second.ok and second.journaled == (f"dst.example/m/app:a@{DIGEST}",)
    assert sorted(second.present) == [f"dst.example/m/app:b@{OTHER}",
                                      f"dst.example/m/other:c@{DIGEST}"]
    to_target = [r.url for r in mock.request_history[before:] if "dst.example" in r.url]
    assert sorted(to_target) == ["https://dst.example/v2/m/app/manifests/b",
                                 "https://dst.example/v2/m/other/manifests/c"]


def test_the_input_id_is_the_entries_normalized_and_the_shard() -> None:
    one = input_id([("src.example/app", "dst.example/m/app"), ("src.example/x:1", "d.ex/x")],
                   None)
    assert one == input_id([("src.example/x:1", "d.ex/x"), ("src.example/app",
                                                             "dst.example/m/app")], None)
    assert one == input_id([("src.example/x:1", "d.ex/x"), ("src.example/app",
                                                             "dst.example/m/app")], (0, 1))
    assert one != input_id([("src.example/app", "dst.example/m/app")], None)
    assert one != input_id([("src.example/app", "dst.example/m/app"),
                            ("src.example/x:1", "d.ex/x")], (0, 2))


def test_a_journal_of_other_entries_or_another_shard_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    mine = [("s.example/a", "d.example/a")]
    Journal(path, SyncPlan(input_id=input_id(mine, None))).close()
    before = path.read_bytes()
    for entries, shard, why in (
        ([*mine, ("s.example/b", "d.example/b")], None, "written for other sync entries"),
        (mine, (0, 2), "written for another shard (every image (no shard); this run: "
                       "shard 0/2)"),
    ):
        with pytest.raises(JournalError, match="another plan") as caught:
            Journal(path, SyncPlan(input_id=input_id(entries, shard), shard=shard))
        assert "None" not in str(caught.value)
        assert why in str(caught.value)
    # the same shard is not named as if it were the difference
    with pytest.raises(JournalError, match="other sync entries") as caught:
        Journal(path, SyncPlan(input_id=input_id([], None)))
    assert "shard" not in str(caught.value).split(". ")[0]
    assert path.read_bytes() == before
    Journal(path, SyncPlan(input_id=input_id(mine, (0, 1)), shard=(0, 1))).close()  # = all


def test_a_journal_in_use_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, tasks()):
        with pytest.raises(JournalError, match="in use"):
            Journal(path, tasks())
        code = ("import sys\nfrom registry_client._journal import Journal\n"
                "from registry_client._synctask import SyncPlan\n"
                "try:\n    Journal(sys.argv[1], SyncPlan())\n"
                "except Exception as exc:\n    print(type(exc).__name__, exc)\n")
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                             text=True, check=True, timeout=60).stdout
        assert out.startswith("JournalError") and "in use" in out
    with Journal(path, tasks()) as again:  # closed: free again
        assert again.done == set()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork: POSIX only")
def test_a_process_pool_forked_during_a_sync_does_not_keep_the_journal_locked(
        tmp_path: Path) -> None:
    """sync(executor=ProcessPoolExecutor(), journal=J) twice with one pool: its workers,
    forked while the journal was open, held its lock, and the second run was refused
    as "in use" (and after a kill -9 of the parent, every later run)."""
    path = tmp_path / "j.jsonl"
    read, write = os.pipe()
    running, ran = os.pipe()
    with Journal(path, tasks()):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child: a pool worker living on
            try:
                os.write(ran, b"x")
                select.select([read], [], [], 10)
            finally:
                os._exit(0)
        select.select([running], [], [], 10)  # (the child is running)
    try:
        with Journal(path, tasks()) as again:
            assert again.done == set()
    finally:
        os.write(write, b"x")
        os.waitpid(pid, 0)
