"""A download's path arithmetic: which file it writes, which descriptor a /dev path names,
and errors that name the user's path, never the ``.partial`` file."""

from __future__ import annotations

import errno
import hashlib
import io
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests_mock

from registry_client import Registry, _calloff
from registry_client._locks import locked_file
from registry_client.services import _download
from registry_client.services._download import _destination, _naming

DIGEST = "sha256:" + "a" * 64


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


def test_blocks_go_to_the_file_in_writes_of_at_most_file_write_bytes() -> None:
    # 1 MiB writes made ext4 give the page cache large folios: 3-7 x the CPU of 256 KiB
    # writes on Linux 6.x (see FILE_WRITE). A download writes its blocks in pieces.
    sizes: list[int] = []

    class Recorder(io.BytesIO):
        def write(self, data: Any) -> int:
            sizes.append(len(data))
            return super().write(data)

    out = Recorder()
    block = bytes(range(256)) * 4097  # 1 MiB + 256 bytes
    _download.write_out(out, memoryview(block))
    _download.write_out(out, b"small")
    assert out.getvalue() == block + b"small"
    assert max(sizes) <= _download.FILE_WRITE and len(sizes) == 6


def test_a_download_waits_while_another_holds_the_lock_then_keeps_what_it_put_in_place(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]], tmp_path: Path,
) -> None:
    # The first look takes the .partial lock when it is free; here another download holds
    # it, so this one polls, and once the holder has put the blob in place and let go, it
    # keeps that file: no request for the blob's bytes, no .partial left.
    reg, adapter = mocked_registry(retries=0)
    data = b"blob" * 1000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    adapter.register_uri("GET", f"https://registry.example/v2/app/blobs/{digest}",
                         content=data)
    dest = tmp_path / "blob"
    done: list[Path] = []
    with locked_file(tmp_path / "blob.partial"):
        worker = threading.Thread(
            target=lambda: done.append(reg.repository("app").blobs.download(digest, dest)))
        worker.start()
        time.sleep(5 * _download.LOCK_POLL)
        assert worker.is_alive() and not done  # waiting for the lock
        dest.write_bytes(data)  # the holder's download, renamed into place
    worker.join(10)
    assert done == [dest] and dest.read_bytes() == data
    assert not (tmp_path / "blob.partial").exists()
    assert not [r for r in adapter.request_history if "/blobs/" in r.path]


def test_a_download_waiting_for_another_s_lock_stops_when_called_off(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]], tmp_path: Path,
) -> None:
    """A pull into a layout another process is pulling into (stopped by Ctrl-Z, say)
    waits for that one's .partial locks; a Ctrl-C set the pull's call-off flag, but the
    workers slept on, polling the lock: the pull could not be interrupted at all."""
    reg, adapter = mocked_registry(retries=0)
    call_off = _calloff.CallOff()
    call_off.interrupted = True
    outcome: list[BaseException] = []

    def worker() -> None:  # a pull's transfer worker
        _calloff.enter(call_off)
        try:
            reg.repository("app").blobs.download(DIGEST, tmp_path / "blob")
        except BaseException as exc:
            outcome.append(exc)
        finally:
            _calloff.enter(None)

    with locked_file(tmp_path / "blob.partial"):
        thread = threading.Thread(target=worker)
        thread.start()
        time.sleep(5 * _download.LOCK_POLL)
        assert thread.is_alive()  # waiting for the lock
        call_off.set()  # Ctrl-C
        thread.join(2)
        stopped = not thread.is_alive()
    thread.join(10)
    assert stopped and [type(e) for e in outcome] == [_calloff.Interrupted]
    assert adapter.request_history == []


def test_a_download_through_a_file_and_dot_dot_is_refused(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]], tmp_path: Path,
) -> None:
    """As cp: dd/FILE/../blob, FILE a regular file, is no path to write to (it was written
    to dd/blob, and dd/FILE/../blob returned)."""
    reg, adapter = mocked_registry(retries=0)
    data = b"blob" * 1000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    adapter.register_uri("GET", f"https://registry.example/v2/app/blobs/{digest}",
                         content=data)
    (tmp_path / "FILE").write_bytes(b"x")
    with pytest.raises(NotADirectoryError):
        reg.repository("app").blobs.download(digest, tmp_path / "FILE" / ".." / "blob")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE"]
    assert not adapter.called
