"""A download's path arithmetic: which file it writes, which descriptor a /dev path names,
and errors that name the user's path, never the ``.partial`` file."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from registry_client.services._download import _descriptor_of, _destination, _naming

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("path", "fd"), [
    ("/dev/stdout", 1), ("/dev/stderr", 2), ("/dev/fd/7", 7), ("/proc/self/fd/12", 12),
    ("/dev/stdin", None), ("/dev/fd/", None), ("/dev/fd/x", None), ("out/dev/fd/3", None),
    ("blob", None),
])
def test_descriptor_of_names_only_open_descriptors(path: str, fd: int | None) -> None:
    assert _descriptor_of(Path(path)) == fd


def test_destination_in_a_directory_is_named_by_the_digest(tmp_path: Path) -> None:
    assert _destination(str(tmp_path), tmp_path, DIGEST) == tmp_path / ("sha256_" + "a" * 64)
    assert _destination(str(tmp_path) + "/", tmp_path, DIGEST).parent == tmp_path
    assert _destination(str(tmp_path / "new"), tmp_path / "new", DIGEST) == tmp_path / "new"


def test_destination_with_a_trailing_separator_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="create it first") as missing:
        _destination(str(tmp_path / "dir") + "/", tmp_path / "dir", DIGEST)
    assert missing.value.filename == str(tmp_path / "dir") + "/"
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        _destination(str(tmp_path / "file") + "/", tmp_path / "file", DIGEST)


def test_destination_refuses_a_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(OSError) as info:
        _destination("loop", tmp_path / "loop", DIGEST)
    assert info.value.errno == errno.ELOOP and info.value.filename == "loop"


def test_naming_puts_the_user_s_path_in_place_of_the_partial_file(tmp_path: Path) -> None:
    dest, partial = tmp_path / "blob", tmp_path / "blob.partial"
    renamed = _naming(PermissionError(errno.EACCES, "Permission denied", str(partial)),
                      partial, dest)
    assert type(renamed) is PermissionError and renamed.errno == errno.EACCES
    assert renamed.filename == str(dest)
    full = _naming(OSError(errno.ENOSPC, "No space left on device"), partial, dest)
    assert full.filename == str(dest)  # a write error naming no file gets dest too
    other = OSError(errno.ENOENT, "No such file", "/elsewhere")
    assert _naming(other, partial, dest) is other
    no_errno = OSError("a requests exception is an OSError too")
    assert _naming(no_errno, partial, dest) is no_errno
