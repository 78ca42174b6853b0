"""_windows_layer: a layer laid out for a Windows image (crane append's conversion)."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from registry_client._tarfs import PreparedLayer, gzip_file
from registry_client._windows_layer import USERS_SD, for_windows
from registry_client.errors import LayerError

Member = tuple[tarfile.TarInfo, bytes | None]


def _prepared(tmp_path: Path, members: list[Member]) -> PreparedLayer:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    raw.seek(0)
    dest = tmp_path / "layer.tar.gz"
    digest, size, diff_id = gzip_file(raw, dest)
    return PreparedLayer(dest, digest, size, diff_id)


def _entry(name: str, data: bytes | None = None, **fields: object) -> Member:
    info = tarfile.TarInfo(name)
    for key, value in fields.items():
        setattr(info, key, value)
    if data is not None:
        info.size = len(data)
    return info, data


def test_the_descriptor_is_builtin_users_as_owner_and_group() -> None:
    # what crane append writes (go-containerregistry's internal/windows): owner and group
    # S-1-5-32-545, self-relative, no access lists
    assert USERS_SD == "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA=="


def test_entries_go_under_files_hard_links_too_and_long_names_keep_theirs(
    tmp_path: Path,
) -> None:
    long = "./" + "d" * 120 + "/" + "f" * 120
    layer = _prepared(tmp_path, [
        _entry("./", type=tarfile.DIRTYPE), _entry(long, b"long"),
        _entry("./a.txt", b"a"),
        _entry("b.txt", type=tarfile.LNKTYPE, linkname="./a.txt"),
        _entry("c", type=tarfile.SYMTYPE, linkname="a.txt"),
    ])
    out = for_windows(layer, tmp_path / "windows.tar.gz")
    with tarfile.open(out.path, "r:gz") as tar:
        members = tar.getmembers()
        assert [(m.name, m.linkname) for m in members] == [
            ("Hives", ""), ("Files", ""), ("Files/" + long[2:], ""), ("Files/a.txt", ""),
            ("Files/b.txt", "Files/a.txt"), ("Files/c", "a.txt")]
        assert tar.extractfile("Files/" + long[2:]).read() == b"long"  # type: ignore[union-attr]
    assert all(m.pax_headers["MSWINDOWS.rawsd"] == USERS_SD for m in members[2:])
    assert out.diff_id == "sha256:" + hashlib.sha256(
        gzip.decompress(out.path.read_bytes())).hexdigest()


def test_a_layer_laid_out_already_is_kept_and_one_that_is_no_tar_refused(
    tmp_path: Path,
) -> None:
    layer = _prepared(tmp_path, [_entry("Files/x.exe", b"MZ"),
                                 _entry("Hives/", type=tarfile.DIRTYPE)])
    assert for_windows(layer, tmp_path / "windows.tar.gz") is layer
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(gzip.compress(b"not a tar" * 100))
    with pytest.raises(LayerError, match="not a layer"):
        for_windows(PreparedLayer(junk, "sha256:0", 1, "sha256:0"), tmp_path / "w.tar.gz")
