"""locked_directory and locked_file: one holder at a time, across separate opens; a
child forked while a lock is held does not keep it."""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path

import pytest

from registry_client._locks import lock_now, locked_directory, locked_file, unlock


def test_a_second_holder_waits_until_the_first_lets_go(tmp_path: Path) -> None:
    order: list[str] = []
    second_trying = threading.Event()

    def second() -> None:
        second_trying.set()
        with locked_directory(tmp_path):
            order.append("second in")

    with locked_directory(tmp_path):
        worker = threading.Thread(target=second)
        worker.start()
        assert second_trying.wait(5)
        worker.join(0.3)  # it cannot get in while the lock is held
        assert worker.is_alive() and order == []
        order.append("first out")
    worker.join(5)
    assert not worker.is_alive()
    assert order == ["first out", "second in"]


def test_the_lock_is_released_when_the_block_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), locked_directory(tmp_path):
        raise RuntimeError("boom")
    done = threading.Event()

    def take() -> None:
        with locked_directory(tmp_path):
            done.set()

    worker = threading.Thread(target=take)
    worker.start()
    worker.join(5)
    assert done.is_set()


def test_a_missing_directory_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), locked_directory(tmp_path / "missing"):
        pass


def test_a_file_lock_held_elsewhere_is_refused_at_once_without_wait(tmp_path: Path) -> None:
    # an asyncio download waits for a held lock between tries, not in a pool thread
    partial = tmp_path / "blob.partial"
    with locked_file(partial):
        with pytest.raises(BlockingIOError), locked_file(partial, wait=False):
            pass  # pragma: no cover - never entered
    with locked_file(partial, wait=False) as f:  # free again: taken at once
        f.write(b"x")
    assert partial.read_bytes() == b"x"


class Child:
    """A child forked now, running once made, that waits (at most 10 s) until :meth:`end`,
    then exits."""

    def __init__(self) -> None:
        read, self._write = os.pipe()
        running, ran = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child
            try:
                os.write(ran, b"x")  # (the fork's hooks have run)
                select.select([read], [], [], 10)
            finally:
                os._exit(0)
        os.close(read)
        os.close(ran)
        select.select([running], [], [], 10)
        os.close(running)

    def end(self) -> None:
        os.write(self._write, b"x")
        os.close(self._write)
        os.waitpid(self.pid, 0)


fork_only = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork: POSIX only")


@fork_only
def test_a_child_forked_while_a_file_is_locked_does_not_keep_the_lock(tmp_path: Path) -> None:
    """A process pool forked during a sync (multiprocessing's default on Linux) shared
    the open file -- and so the flock -- of the journal and of the downloads: once the
    parent let go, or was killed, its workers still held them, and every re-run was
    refused as "in use"."""
    partial = tmp_path / "blob.partial"
    with locked_file(partial):
        child = Child()
    try:  # the parent let go; the child lives on
        with locked_file(partial, wait=False) as f:  # BlockingIOError: the child held it
            f.write(b"free")
    finally:
        child.end()
    assert partial.read_bytes() == b"free"


@fork_only
def test_a_lock_taken_with_lock_now_is_not_kept_by_a_child(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    assert lock_now(fd)
    child = Child()
    try:
        unlock(fd)  # the parent is done with it; the child lives on
        other = os.open(tmp_path, os.O_RDONLY)
        try:
            assert lock_now(other), "the forked child still holds the lock"
        finally:
            unlock(other)
    finally:
        child.end()


@pytest.fixture
def no_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    """flock as on NFS without a lock daemon: ENOLCK, whatever is asked."""
    import errno
    import fcntl
    import types

    import registry_client._locks as locks_mod

    def flock(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    fake = types.SimpleNamespace(flock=flock, LOCK_EX=fcntl.LOCK_EX, LOCK_NB=fcntl.LOCK_NB)
    monkeypatch.setattr(locks_mod, "fcntl", fake)


@pytest.mark.usefixtures("no_locks")
def test_a_file_system_without_locks_is_written_unlocked(tmp_path: Path) -> None:
    """A download's .partial (locked_file), a layout's index.json update
    (locked_directory) and a sync's journal failed there with "No locks available":
    where no lock can be taken, none is -- what the locks keep apart (two writers of one
    path at once) is not kept apart there, as on Windows."""
    with locked_file(tmp_path / "blob.partial") as f:
        f.write(b"x")
    with locked_file(tmp_path / "blob.partial", wait=False) as f:
        assert f.read() == b"x"
    with locked_directory(tmp_path):
        (tmp_path / "index.json").write_text("{}")
    from registry_client._journal import Journal
    from registry_client._synctask import SyncPlan

    journal = Journal(tmp_path / "journal", SyncPlan([], input_id="x"))
    journal.close()
