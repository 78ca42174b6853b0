"""CheckedFile: a layout's blob file hashed while it is read for upload, checked once whole."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from registry_client import DigestMismatchError
from registry_client.services import _upload_source
from registry_client.services._upload_source import CheckedFile

DATA = os.urandom(100_000)
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def opened() -> Iterator[list[IO[bytes]]]:
    files: list[IO[bytes]] = []
    yield files
    for f in files:
        f.close()


@pytest.fixture
def checked(tmp_path: Path, opened: list[IO[bytes]]) -> Callable[..., CheckedFile]:
    def make(data: bytes = DATA, name: str = "blob") -> CheckedFile:
        path = tmp_path / name
        path.write_bytes(data)
        opened.append(open(path, "rb"))
        return CheckedFile(opened[-1], DIGEST, str(path))
    return make


def test_rewound_reads_are_hashed_once(checked: Callable[..., CheckedFile]) -> None:
    f = checked()
    assert f.read(60_000) == DATA[:60_000]
    f.seek(10_000)  # a PATCH resent after a cut
    assert f.read(50_000) == DATA[10_000:60_000]
    f.verify()  # not at the end: nothing to check yet
    assert f.read() == DATA[60_000:]
    f.verify()
    f.check()


def test_a_changed_file_raises_at_its_last_block_naming_it(
    checked: Callable[..., CheckedFile], tmp_path: Path,
) -> None:
    f = checked(DATA[:-1] + bytes([DATA[-1] ^ 1]))
    f.read(99_999)
    f.verify()
    f.read()
    with pytest.raises(DigestMismatchError, match=str(tmp_path / "blob")):
        f.verify()


def test_bytes_skipped_by_a_resume_are_hashed_at_the_check(
    checked: Callable[..., CheckedFile],
) -> None:
    f = checked()
    f.read(1000)
    f.seek(50_000)  # the registry already had these bytes
    f.read()
    f.check()
    assert f.tell() == len(DATA)


def test_preload_checks_before_anything_is_sent(checked: Callable[..., CheckedFile]) -> None:
    f = checked()
    f.preload()
    assert f.read() == DATA
    bad = checked(DATA[1:] + b"x", "bad")
    with pytest.raises(DigestMismatchError):
        bad.preload()


def test_a_file_appended_to_while_it_is_hashed_is_hashed_to_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a digest, a file's upload hashes it first: read on to the end of a log
    appended to meanwhile, the digest was of more bytes than the size taken when it was
    opened, and the upload failed (DigestMismatchError). Its size then is the blob."""
    path = tmp_path / "log"
    data = os.urandom(3 * _upload_source.CHUNK + 10)
    path.write_bytes(data)
    monkeypatch.setattr(_upload_source, "CHUNK", 1 << 16)
    real = hashlib.sha256
    appended: list[int] = []

    class _Appending:  # the hash of the first block: the log grows right then
        def __init__(self) -> None:
            self._h = real()

        def update(self, block: bytes) -> None:
            if not appended:
                appended.append(1)
                with open(path, "ab") as out:
                    out.write(b"more log lines\n" * 1000)
            self._h.update(block)

        def hexdigest(self) -> str:
            return self._h.hexdigest()

    monkeypatch.setattr(_upload_source.hashlib, "sha256", _Appending)
    src = _upload_source.UploadSource.from_data(path, None)
    try:
        assert appended and src.size == len(data)
        assert src.digest == "sha256:" + real(data).hexdigest()
    finally:
        src.close()
