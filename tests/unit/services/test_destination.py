"""Where the library writes a user's file: streamed into what streams, else renamed into
place (downloads, archives and exports alike)."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest

from registry_client.services._destination import descriptor_of, prepare, written_to


@pytest.mark.parametrize(("path", "fd"), [
    ("/dev/stdout", 1), ("/dev/stderr", 2), ("/dev/fd/7", 7), ("/proc/self/fd/12", 12),
    ("/dev/stdin", None), ("/dev/fd/", None), ("/dev/fd/x", None), ("out/dev/fd/3", None),
    ("blob", None),
])
def test_descriptor_of_names_only_open_descriptors(path: str, fd: int | None) -> None:
    assert descriptor_of(Path(path)) == fd


def test_a_fifo_is_streamed_into_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    with written_to(fifo) as out:
        out.write(b"archive bytes")
    reader.join(timeout=10)
    assert got == [b"archive bytes"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")
def test_a_device_is_written_to_not_replaced(tmp_path: Path) -> None:
    null = tmp_path / "null"  # a private /dev/null: the machine's own is never risked
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    with written_to(null) as out:
        out.write(b"x" * 10_000)
    assert stat.S_ISCHR(os.lstat(null).st_mode)


def test_a_symlink_s_target_is_replaced_and_the_link_stays(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "file.tar"
    target.write_bytes(b"old")
    target.chmod(0o600)
    link = tmp_path / "link.tar"
    link.symlink_to(target)
    with written_to(link) as out:
        out.write(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # the mode of the file replaced
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["file.tar"]


def test_a_failure_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    dest = tmp_path / "out.tar"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError), written_to(dest) as out:
        out.write(b"half")
        raise RuntimeError("cut")
    assert dest.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [dest]


def test_a_full_disk_names_the_user_s_path(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC while an archive or an export was written said only "[Errno 28] No space
    left on device": no file named."""
    with pytest.raises(OSError) as streamed, written_to(Path("/dev/full")) as out:
        out.write(b"x" * (1 << 16))
    assert (streamed.value.errno, streamed.value.filename) == (errno.ENOSPC, "/dev/full")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    dest = tmp_path / "out.tar"
    with pytest.raises(OSError) as info, written_to(dest) as out:
        out.write(b"bytes")
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(dest))
    assert sorted(tmp_path.iterdir()) == []


def test_prepare_follows_a_dangling_link_before_anything_is_downloaded(
    tmp_path: Path,
) -> None:
    """An archive pull or an export to a symlink whose target's directory is missing
    downloaded the whole image, then failed with FileNotFoundError: an archive makes
    that directory (as a pull makes its layout's), an export wants it there (as cp)."""
    link = tmp_path / "link.tar"
    link.symlink_to(tmp_path / "missing" / "d.tar")
    with pytest.raises(FileNotFoundError, match="missing"):
        prepare(link, make_parents=False)
    prepare(link, make_parents=True)
    assert (tmp_path / "missing").is_dir() and sorted((tmp_path / "missing").iterdir()) == []
    assert link.is_symlink()


def test_prepare_refuses_a_file_where_a_directory_goes(tmp_path: Path) -> None:
    """An archive pull to FILE/d.tar, FILE a regular file, raised FileExistsError: FILE."""
    (tmp_path / "file").write_bytes(b"x")
    for make_parents in (True, False):  # (an export: FileNotFoundError said no directory)
        with pytest.raises(NotADirectoryError) as info:
            prepare(tmp_path / "file" / "d.tar", make_parents=make_parents)
        assert info.value.filename == str(tmp_path / "file" / "d.tar")


def test_prepare_leaves_devices_and_descriptors_alone() -> None:
    prepare(Path("/dev/null"), make_parents=True)
    prepare(Path("/dev/stdout"), make_parents=False)


def test_a_file_before_dot_dot_in_a_path_is_in_the_way(tmp_path: Path) -> None:
    """dd/FILE/../x, FILE a regular file: cp and open() say "Not a directory"; export and
    download wrote dd/x (the path with .. taken out) and returned dd/FILE/../x, which
    cannot be opened."""
    (tmp_path / "FILE").write_bytes(b"x")
    for make_parents in (True, False):
        with pytest.raises(NotADirectoryError):
            prepare(tmp_path / "FILE" / ".." / "x", make_parents=make_parents)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE"]


def test_a_symlink_loop_is_an_eloop_error_naming_the_path_and_stays(tmp_path: Path) -> None:
    """docs/reliability.md: a symlink loop keeps its OSError type and names your path.
    An archive pull or export put a regular file over the loop's link (realpath hands
    back the looping link itself), where a download raised ELOOP."""
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    dest = tmp_path / "a"
    for step in (lambda: prepare(dest, make_parents=True),
                 lambda: written_to(dest).__enter__()):
        with pytest.raises(OSError) as loop:
            step()
        assert (loop.value.errno, loop.value.filename) == (errno.ELOOP, str(dest))
    assert os.readlink(dest) == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
