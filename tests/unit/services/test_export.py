"""write_rootfs: the exported tar is created as a normal file, in a directory that exists."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry_client.services._export import write_rootfs

from .conftest import MockedRegistry


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    path = tmp_path / "layer.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("etc/motd")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
    return path


@pytest.fixture
def umask() -> Iterator[int]:
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


def test_the_tar_gets_the_mode_of_a_new_file_under_the_umask(
    tmp_path: Path, layer: Path, umask: int,
) -> None:
    dest = tmp_path / "rootfs.tar"
    write_rootfs([layer], dest)
    assert dest.stat().st_mode & 0o777 == 0o666 & ~umask
    with tarfile.open(dest) as tar:
        assert tar.getnames() == ["etc/motd"]


def test_a_missing_directory_is_not_created(tmp_path: Path, layer: Path) -> None:
    dest = tmp_path / "nonexistent-dir" / "x.tar"
    with pytest.raises(FileNotFoundError, match="nonexistent-dir"):
        write_rootfs([layer], dest)
    assert not dest.parent.exists()


def test_a_directory_is_refused_before_anything_is_downloaded(
    mocked_registry: Callable[..., MockedRegistry], tmp_path: Path,
) -> None:
    """``export IMAGE DIR`` as ``pull IMAGE x.tar`` refuses a folder: at once, naming it
    (not the temporary file it would have become)."""
    reg, adapter = mocked_registry()
    with pytest.raises(IsADirectoryError, match="written to a file") as caught:
        reg.repository("app").images.export("1.0", tmp_path)
    assert caught.value.filename == str(tmp_path)
    assert adapter.request_history == []
