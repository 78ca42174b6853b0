"""The journal of a sync: one JSON line per finished task, so a re-run skips them.

The first line names the sync's input -- its entries and its shard (see
:func:`~registry_client._synctask.input_id`), not the tasks one run happened to
plan -- so a retry after a partial plan (a tag list that failed), or after tags
moved, resumes it. Each later line is one task that finished -- copied, or already
present -- keyed by its source digest and target, and is flushed and fsynced before
the next task is recorded, so a crash loses at most the line being written (a cut
line is skipped when read: its task runs again). A failed task is not recorded: the
re-run tries it again; nor is a tag that vanished from the source (the key would say
"done" for the same image pushed back under that tag; a re-run plans it only if the
source lists the tag again). A tag that now points to another digest is another task:
it runs.

A journal of another input (other entries, another shard) is refused
(:class:`~registry_client.errors.JournalError`), and so is a journal another sync
holds open (an exclusive ``flock`` for the journal's lifetime).
"""

from __future__ import annotations

import datetime
import json
import os
import stat
from pathlib import Path
from typing import IO, Any

from ._json import loads
from ._locks import forget, lock_now, no_locks
from ._synctask import SyncPlan, TaskResult
from .errors import JournalError

__all__ = ["Journal"]

KIND = "registry-client sync journal"
VERSION = 2
FINISHED = ("copied", "present")


def _locked(fd: int) -> bool:
    """:func:`lock_now`, True where the file system takes no locks (nothing can be held
    there: two syncs sharing the journal are not told apart, as on Windows)."""
    try:
        return lock_now(fd)
    except OSError as exc:
        if no_locks(exc):
            return True
        raise


class Journal:
    """An open journal file of one sync input: :attr:`done` holds the keys of finished
    tasks (:attr:`~registry_client.sync.SyncTask.key`: source digest and target)."""

    def __init__(self, path: str | os.PathLike[str], plan: SyncPlan) -> None:
        """Open (or start) the journal at ``path`` for ``plan``'s input, and lock it.

        Raises:
            JournalError: the file is a journal of another input (entries or shard),
                not a journal, or open in another sync (locked).
            OSError: it cannot be read or written.
        """
        self.path = Path(path)
        self.input_id = plan.input_id
        self.shard = _shard_text(plan.shard)
        self.done: set[str] = set()
        try:
            kind = os.stat(self.path).st_mode
        except FileNotFoundError:
            kind = stat.S_IFREG
        if not stat.S_ISREG(kind):  # (/dev/zero would be read for ever, a pipe not at all)
            raise JournalError(f"{self.path}: not a regular file (a device, a pipe...); "
                               "give a file for the journal")
        self._file: IO[bytes] = open(self.path, "a+b")  # (closed by close())
        self._failed = False  # a write failed: said once, not again by close()
        try:
            if not _locked(self._file.fileno()):
                raise JournalError(
                    f"{self.path}: this journal is in use by another sync (it is locked); "
                    "give each shard and each concurrent run its own journal file, or "
                    "wait for that run to end")
            self._file.seek(0)
            text = self._file.read()
            header = _line({"journal": KIND, "version": VERSION, "input": self.input_id,
                            "shard": self.shard})
            if not text.strip() or header.startswith(text):
                # new, blank, or this journal's first line cut by a crash (no task line
                # can follow an unfinished header): it starts afresh
                self._file.truncate(0)
                self._write(header)
            else:
                self._read(text)
                if not text.endswith(b"\n"):
                    self._write(b"\n")  # a line cut by a crash: the next one starts afresh
        except BaseException:
            self.close()
            raise

    def _read(self, text: bytes) -> None:
        lines = text.splitlines()
        try:
            head = loads(lines[0])
        except ValueError:
            head = None
        if not isinstance(head, dict) or head.get("journal") != KIND:
            raise JournalError(f"{self.path}: not a sync journal (its first line is not "
                               "one); give a new file")
        if head.get("version") != VERSION:
            raise JournalError(
                f"{self.path}: a journal of version {head.get('version')} (this "
                f"registry-client writes version {VERSION}); give a new journal file")
        if head.get("input") != self.input_id:
            theirs, ours = _where(head.get("shard")), _where(self.shard)
            why = ("other sync entries" if theirs == ours
                   else f"another shard ({theirs}; this run: {ours})")
            raise JournalError(
                f"{self.path}: this journal is of another plan: it was written for "
                f"{why}. A journal belongs to one sync file's entries and one shard. "
                "Give a new journal file, or delete this one, to mirror these entries")
        for line in lines[1:]:
            try:
                record = loads(line)
            except ValueError:
                continue  # a line cut by a crash: that task runs again (it is idempotent)
            # (a "vanished" line of a journal written before those stopped being
            # recorded is no task done)
            if isinstance(record, dict) and isinstance(record.get("task"), str) \
                    and record.get("outcome", "copied") in FINISHED:
                self.done.add(record["task"])

    def _write(self, data: bytes) -> None:
        try:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:  # (a full disk: which file, said)
            self._failed = True
            raise type(exc)(exc.errno, f"cannot write the sync journal ({exc.strerror})",
                            str(self.path)) from None

    def record(self, result: TaskResult) -> None:
        """Append a finished task (flushed, fsynced); a failed or vanished one is not
        recorded."""
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
        """Close the file (and release its lock)."""
        if not self._file.closed:
            forget(self._file.fileno())
            try:
                self._file.close()  # (flushes what a failed write left in its buffer)
            except OSError:
                if not self._failed:
                    raise

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shard_text(shard: tuple[int, int] | None) -> str:
    return f"{shard[0]}/{shard[1]}" if shard else "all"


def _where(shard: object) -> str:
    """A journal header's shard in words."""
    if isinstance(shard, str) and shard != "all":
        return f"shard {shard}"
    return "every image (no shard)"


def _line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
