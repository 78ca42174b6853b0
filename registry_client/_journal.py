"""The journal of a sync: one JSON line per finished task, so a re-run skips them.

The first line names the plan (its id, task count and shard); each later line one
task that finished -- copied, already present, or vanished from the source -- and
is flushed and fsynced before the next task is recorded, so a crash loses at most
the line being written (a cut line is skipped when read: its task runs again). A
failed task is not recorded: the re-run tries it again.
A journal of another plan is refused (:class:`~registry_client.errors.JournalError`).
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import IO, Any

from ._synctask import SyncPlan, TaskResult
from .errors import JournalError

__all__ = ["Journal"]

KIND = "registry-client sync journal"
VERSION = 1
FINISHED = ("copied", "present", "vanished")


class Journal:
    """An open journal file of one plan: :attr:`done` holds the keys of finished tasks."""

    def __init__(self, path: str | os.PathLike[str], plan: SyncPlan) -> None:
        """Open (or start) the journal at ``path`` for ``plan``.

        Raises:
            JournalError: the file is a journal of another plan, or not a journal.
            OSError: it cannot be read or written.
        """
        self.path = Path(path)
        self.plan_id = plan.plan_id
        self.done: set[str] = set()
        header = {"journal": KIND, "version": VERSION, "plan": plan.plan_id,
                  "tasks": len(plan), "shard": _shard_text(plan.shard)}
        text = self.path.read_bytes() if self.path.exists() else b""
        if text.strip():
            self._read(text)
        self._file: IO[bytes] = open(self.path, "ab")
        if text and not text.endswith(b"\n"):
            self._write(b"\n")  # a line cut by a crash: the next one starts afresh
        if not text.strip():
            self._write(_line(header))

    def _read(self, text: bytes) -> None:
        lines = text.splitlines()
        try:
            head = json.loads(lines[0])
        except ValueError:
            head = None
        if not isinstance(head, dict) or head.get("journal") != KIND:
            raise JournalError(f"{self.path}: not a sync journal (its first line is not "
                               "one); give a new file")
        if head.get("plan") != self.plan_id:
            raise JournalError(
                f"{self.path}: this journal is of another plan ({str(head.get('plan'))[:16]}"
                f"…, shard {head.get('shard')}; this run's is {self.plan_id[:16]}…): the "
                "images, their digests or the shard differ. Give a new journal file, or "
                "delete this one, to mirror the new plan")
        for line in lines[1:]:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash: that task runs again (it is idempotent)
            if isinstance(record, dict) and isinstance(record.get("task"), str):
                self.done.add(record["task"])

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._file.flush()
        os.fsync(self._file.fileno())

    def record(self, result: TaskResult) -> None:
        """Append a finished task (flushed, fsynced); a failed one is not recorded."""
        if result.outcome not in FINISHED:
            return
        task = result.task
        self._write(_line({
            "task": task.key, "outcome": result.outcome, "source": task.source,
            "target": task.target,
            "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }))
        self.done.add(task.key)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shard_text(shard: tuple[int, int] | None) -> str | None:
    return f"{shard[0]}/{shard[1]}" if shard else None


def _line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
