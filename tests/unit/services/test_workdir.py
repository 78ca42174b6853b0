"""Work folders: held while used; those a killed process left are removed by the next
operation of their kind (archive pulls and pushes, exports, artifact fetches)."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest

import registry_client._locks as locks_mod
from registry_client._locks import lock_now, unlock
from registry_client.services import _workdir
from registry_client.services._artifact import _stage
from registry_client.services._export import remove_directory, work_directory
from registry_client.services._workdir import make, remove


def test_archive_work_folders_a_killed_pull_left_are_removed_those_in_use_kept(
    tmp_path: Path,
) -> None:
    stale = tmp_path / ".app.tar.abc123.work"
    (stale / "layout").mkdir(parents=True)
    (stale / "layout" / "blob").write_bytes(b"x" * 100)
    in_use = tmp_path / ".app.tar.def456.work"
    in_use.mkdir()
    other = tmp_path / ".other.tar.abc123.work"
    other.mkdir()
    held = os.open(in_use, os.O_RDONLY)
    try:
        assert lock_now(held)  # another pull, running
        work, fd = make(tmp_path, ".app.tar.", ".work")
        try:
            assert not stale.exists()
            assert in_use.exists() and other.exists()
            assert work.parent == tmp_path and work.name.startswith(".app.tar.")
            probe = os.open(work, os.O_RDONLY)
            try:
                assert not lock_now(probe)  # the new one is held while it is used
            finally:
                os.close(probe)
        finally:
            unlock(fd)
    finally:
        unlock(held)
    fresh, fd = make(tmp_path, ".app.tar.", ".work")  # nobody holds them: both go
    unlock(fd)
    assert not in_use.exists() and not work.exists() and fresh.exists()


def test_an_export_s_work_folder_left_by_a_kill_is_removed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An export or an archive push killed (SIGKILL) left its layers in the temp
    directory for good (193 MiB after two kills): the next run removes them."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    killed, _ = work_directory()  # (its process is gone: the lock went with it)
    unlock(_)
    (killed / "layer.tar").write_bytes(b"x" * 1000)
    work, held = work_directory()
    assert not killed.exists() and work.exists()
    remove_directory(work, held)
    assert sorted(tmp_path.iterdir()) == []


def test_an_artifact_fetch_killed_mid_move_gets_the_user_s_file_back(tmp_path: Path) -> None:
    """`artifact get` killed left .artifact.*.partial folders in the user's folder, never
    removed; one killed between moving a file aside and moving the new one in held the
    user's old file: the next fetch puts it back, then removes the folder."""
    killed, held = _stage(tmp_path, ["sbom.json"])
    (killed / "old" / "sbom.json").write_bytes(b"the user's")  # moved aside, then killed
    (killed / "new" / "other.json").write_bytes(b"half")
    unlock(held)
    (tmp_path / "kept.txt").write_bytes(b"x")
    work, held = _stage(tmp_path, ["sbom.json"])
    assert not killed.exists()
    assert (tmp_path / "sbom.json").read_bytes() == b"the user's"
    remove(work, held)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt", "sbom.json"]


def test_a_file_system_without_locks_still_gets_work_folders_and_sweeps_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """flock on NFS without a lock daemon raises ENOLCK: making a work folder failed
    (an archive pull, an export there). Now none is locked, and none swept."""
    def no_locks(fd: int) -> bool:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(locks_mod, "lock_now", no_locks)
    left = tmp_path / ".x.abcdefgh.work"
    left.mkdir()
    work, held = _workdir.make(tmp_path, ".x.", ".work")
    assert work.is_dir() and left.is_dir()
    _workdir.remove(work, held)
    assert not work.exists()


def test_a_folder_swept_before_it_was_opened_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process's sweep may take a folder just made, before this one opened and
    locked it (16 archive pulls to one path at once: 1-3 in 160 failed with "No such file
    or directory" naming their own work folder). Such a folder is made again."""
    made: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def swept_at_once(**kwargs: str) -> str:
        path = real_mkdtemp(**kwargs)
        made.append(path)
        if len(made) == 1:
            os.rmdir(path)  # (a sweep in another process, between mkdtemp and open)
        return path

    monkeypatch.setattr(_workdir.tempfile, "mkdtemp", swept_at_once)
    work, held = make(tmp_path, ".x.", ".work")
    assert len(made) == 2 and str(work) == made[1] and work.is_dir()
    remove(work, held)
