"""BlobService write side against a real Distribution 2.8: upload, mount, delete, resume.

Every test runs against the anonymous registry and the token registry (as its admin, so
deletes are allowed).  The resume tests put :class:`CutProxy` between client and registry.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cut_proxy import CutProxy
from _flavours import Flavour
from _write_helpers import (
    LogWindow,
    MiB,
    Stats,
    client_of,
    sha256,
)

from registry_client import (
    BlobAdvanced,
    BlobFinished,
    BlobSkipped,
    BlobStarted,
    DigestMismatchError,
    NotFoundError,
    ProgressEvent,
    Registry,
)
from registry_client.testing import LocalRegistry, seed_blob

pytestmark = pytest.mark.integration


# -- upload -----------------------------------------------------------------------------------


def test_upload_bytes_is_monolithic_and_verified(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    data = os.urandom(300_000)
    log = LogWindow(reg, unique_repository)
    stats = Stats(rc)
    events: list[ProgressEvent] = []
    desc = repo.blobs.upload(data, progress=events.append)
    assert (desc.digest, desc.size) == (sha256(data), len(data))
    assert repo.blobs.exists(desc.digest)
    assert repo.blobs.size(desc.digest) == len(data)
    assert repo.blobs.get(desc.digest) == data
    writes = [(e.method, e.status) for e in log.upload_writes()]
    assert writes == [("POST", 202), ("PUT", 201)]  # one POST + one PUT ?digest=, no PATCH
    assert stats.delta("bytes_sent") == len(data)
    assert isinstance(events[0], BlobStarted) and isinstance(events[-1], BlobFinished)
    assert sum(e.advanced for e in events if isinstance(e, BlobAdvanced)) == len(data)


def test_upload_path_and_file_objects(
    reg: LocalRegistry, rc: Registry, unique_repository: str, tmp_path: Path
) -> None:
    repo = rc.repository(unique_repository)
    from_path, from_file, tail = os.urandom(70_000), os.urandom(50_000), os.urandom(30_000)
    path = tmp_path / "blob.bin"
    path.write_bytes(from_path)
    assert repo.blobs.upload(path).digest == sha256(from_path)  # PathLike
    assert repo.blobs.upload(str(path)).digest == sha256(from_path)  # str path (now skipped)
    with open(path, "wb") as f:
        f.write(from_file)
    with open(path, "rb") as f:  # a real file object
        desc = repo.blobs.upload(f)
    assert (desc.digest, desc.size) == (sha256(from_file), len(from_file))
    stream = io.BytesIO(b"x" * 1000 + tail)
    stream.seek(1000)  # a file object is uploaded from its current position
    desc = repo.blobs.upload(stream)
    assert (desc.digest, desc.size) == (sha256(tail), len(tail))
    for data in (from_path, from_file, tail):
        assert repo.blobs.get(sha256(data)) == data


def test_upload_skips_existing_blob(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    data = os.urandom(100_000)
    first = repo.blobs.upload(data)
    log = LogWindow(reg, unique_repository)
    stats = Stats(rc)
    events: list[ProgressEvent] = []
    again = repo.blobs.upload(data, progress=events.append)
    assert (again.digest, again.size) == (first.digest, len(data))
    assert [e.method for e in log.entries() if e.status != 401] == ["HEAD"]
    assert log.count("POST") == 0
    assert stats.delta("bytes_sent") == 0
    assert events == [BlobSkipped(first.digest, len(data))]


def test_a_skipped_upload_reports_the_registry_size_and_drops_a_saved_session(
    reg: LocalRegistry, rc: Registry, unique_repository: str, tmp_path: Path
) -> None:
    repo = rc.repository(unique_repository)
    data = os.urandom(5000)
    first = repo.blobs.upload(data)
    # a stream that can't tell its size, with the digest given: the size comes from the HEAD
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as w:
        w.write(data)
    with os.fdopen(read_end, "rb") as pipe:
        assert repo.blobs.upload(pipe, digest=first.digest).size == len(data)
    # a state file saved by an earlier, interrupted run: not needed any more
    session = rc.requester.send("POST", f"{unique_repository}/blobs/uploads/",
                                scopes=[f"repository:{unique_repository}:pull,push"],
                                expected=(202,))
    location = rc.requester.resolve(session.headers["Location"])
    state = tmp_path / "upload.json"
    state.write_text(json.dumps({
        "location": location, "offset": 0, "digest": first.digest, "size": len(data),
        "chunk_size": 1000, "repository": unique_repository, "registry": reg.host}))
    source = tmp_path / "blob"
    source.write_bytes(data)
    assert repo.blobs.upload(source, state_file=state).size == len(data)
    assert not state.exists()
    with pytest.raises(NotFoundError):  # the saved session was cancelled
        rc.requester.send("GET", location, scopes=[f"repository:{unique_repository}:pull"],
                          expected=(204,))


def test_upload_with_explicit_chunk_size(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    data = os.urandom(10 * MiB + 1)
    log = LogWindow(reg, unique_repository)
    desc = repo.blobs.upload(io.BytesIO(data), chunk_size=3 * MiB)
    assert (desc.digest, desc.size) == (sha256(data), len(data))
    writes = [(e.method, e.status) for e in log.upload_writes()]
    # 3 + 3 + 3 + 1 MiB + 1 byte: four PATCHes, then the closing PUT ?digest= without body
    assert writes == [("POST", 202)] + [("PATCH", 202)] * 4 + [("PUT", 201)]
    assert "digest=sha256" in log.upload_writes()[-1].uri
    assert repo.blobs.get(desc.digest) == data


class _Pipe(io.RawIOBase):
    """A stream that hands over at most 64 KiB per read, as a pipe or a socket does."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), 64 * 1024, len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_chunks_from_a_stream_of_short_reads_are_whole_chunks(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    data = os.urandom(5 * MiB + 3)
    log = LogWindow(reg, unique_repository)
    desc = repo.blobs.upload(_Pipe(data), chunk_size=2 * MiB)  # type: ignore[arg-type]
    assert desc.digest == sha256(data)
    writes = [(e.method, e.status) for e in log.upload_writes()]
    # 2 + 2 + 1 MiB + 3 bytes: three PATCHes, not one per 64 KiB read
    assert writes == [("POST", 202)] + [("PATCH", 202)] * 3 + [("PUT", 201)]
    assert repo.blobs.get(desc.digest) == data


def test_upload_with_a_sha512_digest(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    """The registry names what it stored by sha256: that is no mismatch with a sha512."""
    repo = rc.repository(unique_repository)
    data = os.urandom(10_000)
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    desc = repo.blobs.upload(data, digest=digest)
    assert (desc.digest, desc.size) == (digest, len(data))
    assert repo.blobs.get(digest) == data
    with pytest.raises(DigestMismatchError):
        repo.blobs.upload(data[:-1] + bytes([data[-1] ^ 1]), digest=digest)


def test_upload_with_wrong_digest_sends_nothing(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    log = LogWindow(reg, unique_repository)
    with pytest.raises(DigestMismatchError):
        repo.blobs.upload(b"some bytes", digest=sha256(b"other bytes"))
    assert log.entries() == []
    assert not repo.blobs.exists(sha256(b"some bytes"))


# -- mount ------------------------------------------------------------------------------------


def test_mount_links_a_blob_from_another_repository(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    source, target = f"{unique_repository}/source", f"{unique_repository}/target"
    data = os.urandom(200_000)
    digest = rc.repository(source).blobs.upload(data).digest
    repo = rc.repository(target)
    assert not repo.blobs.exists(digest)  # Distribution links blobs per repository
    log = LogWindow(reg, target)
    stats = Stats(rc)
    assert repo.blobs.mount(digest, source) is True
    mounts = [e for e in log.entries() if e.method == "POST" and e.status != 401]
    assert len(mounts) == 1 and mounts[0].status == 201
    assert f"from={source.replace('/', '%2F')}" in mounts[0].query
    assert stats.delta("bytes_sent") == 0
    assert repo.blobs.get(digest) == data


def test_mount_of_a_sha512_blob_is_checked_and_falls_back(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    """Distribution 2.8 answers 201 to a sha512 mount without linking the blob: the
    client checks, says False, and the caller's upload then stores it."""
    source, target = f"{unique_repository}/source", f"{unique_repository}/target"
    data = os.urandom(5000)
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    rc.repository(source).blobs.upload(data, digest=digest)
    repo = rc.repository(target)
    assert repo.blobs.mount(digest, source) is False
    repo.blobs.upload(data, digest=digest)
    assert repo.blobs.get(digest) == data


def test_mount_of_a_missing_blob_falls_back_and_cancels(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    source, target = f"{unique_repository}/source", f"{unique_repository}/target"
    present = rc.repository(source).blobs.upload(os.urandom(1000)).digest
    missing = sha256(os.urandom(32))
    repo = rc.repository(target)
    log = LogWindow(reg, target)
    # Distribution answers 202 (a new upload session) when it cannot mount
    assert repo.blobs.mount(missing, source) is False
    assert repo.blobs.mount(present, f"{unique_repository}/no-such-repo") is False
    posts = [e for e in log.entries() if e.method == "POST" and e.status != 401]
    assert [e.status for e in posts] == [202, 202]
    cancels = [e for e in log.entries() if e.method == "DELETE" and e.status != 401]
    assert [e.status for e in cancels] == [204, 204]  # both sessions were cancelled
    assert all("/blobs/uploads/" in e.path for e in cancels)
    assert not repo.blobs.exists(missing)
    assert not repo.blobs.exists(present)


# -- delete -----------------------------------------------------------------------------------


def test_blob_delete_removes_it_and_missing_raises_not_found(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    repo = rc.repository(unique_repository)
    data = os.urandom(5000)
    digest = repo.blobs.upload(data).digest
    repo.blobs.delete(digest)
    assert not repo.blobs.exists(digest)
    with pytest.raises(NotFoundError):
        repo.blobs.get(digest)
    with pytest.raises(NotFoundError):
        repo.blobs.delete(digest)
    with pytest.raises(NotFoundError):
        repo.blobs.delete(sha256(os.urandom(16)))


def test_blob_delete_in_one_repository_leaves_the_other(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    a, b = f"{unique_repository}/a", f"{unique_repository}/b"
    data = os.urandom(5000)
    digest = seed_blob(reg, a, data)
    assert rc.repository(b).blobs.mount(digest, a)
    rc.repository(a).blobs.delete(digest)
    assert not rc.repository(a).blobs.exists(digest)
    assert rc.repository(b).blobs.get(digest) == data


# -- resume after a cut connection -------------------------------------------------------------


@pytest.fixture
def cut_proxy(reg: LocalRegistry, request: pytest.FixtureRequest) -> Iterator[CutProxy]:
    nth, cut_after = request.param
    with CutProxy(("127.0.0.1", reg.port), method="PATCH", nth=nth, cut_after=cut_after) as proxy:
        yield proxy


def _upload_through(reg: LocalRegistry, proxy: CutProxy, repository: str,
                    data: bytes) -> tuple[str, LogWindow, Stats]:
    log = LogWindow(reg, repository)
    with client_of(reg, host=proxy.host) as client:
        stats = Stats(client)
        desc = client.repository(repository).blobs.upload(data, chunk_size=4 * MiB)
        assert (desc.digest, desc.size) == (sha256(data), len(data))
        return desc.digest, log, stats


@pytest.mark.parametrize("cut_proxy", [(2, 0)], indirect=True, ids=["cut-before-body"])
def test_cut_chunk_resumes_from_the_reported_offset(
    reg: LocalRegistry, rc: Registry, cut_proxy: CutProxy, unique_repository: str
) -> None:
    """The 2nd PATCH is cut before any body byte arrives: GET status, resend the chunk."""
    data = os.urandom(10 * MiB)
    digest, log, stats = _upload_through(reg, cut_proxy, unique_repository, data)
    assert cut_proxy.cuts == 1
    statuses = [e for e in log.entries() if e.method == "GET" and "/blobs/uploads/" in e.path]
    assert [e.status for e in statuses if e.status != 401] == [204]  # Range: 0-4194303
    writes = [(e.method, e.status) for e in log.upload_writes() if e.status != 401]
    assert writes[0] == ("POST", 202)  # one session, resumed
    assert [w for w in writes if w[0] == "POST"] == [("POST", 202)]
    assert writes.count(("PATCH", 202)) == 3  # 4 + 4 (resent after the cut) + 2 MiB
    assert writes[-1] == ("PUT", 201)
    assert stats.delta("bytes_sent") >= len(data)
    assert rc.repository(unique_repository).blobs.get(digest) == data  # verified read


@pytest.mark.parametrize("cut_proxy", [(1, MiB), (2, MiB)], indirect=True,
                         ids=["first-patch", "second-patch"])
def test_chunk_cut_in_the_middle_completes(
    reg: LocalRegistry, rc: Registry, cut_proxy: CutProxy, unique_repository: str
) -> None:
    """A PATCH cut after 1 MiB of its 4 MiB chunk: the upload still completes and verifies.

    Distribution 2.8 keeps the 1 MiB that arrived, but the upload state in the Location the
    client holds still names the chunk's start; the status GET is then refused (404
    BLOB_UPLOAD_INVALID, "upload resumed at wrong offset") and the session is dead, so the
    client starts a new session.  A registry that reports the offset goes on from there.
    """
    data = os.urandom(10 * MiB)
    digest, log, stats = _upload_through(reg, cut_proxy, unique_repository, data)
    assert cut_proxy.cuts == 1
    statuses = [e for e in log.entries()
                if e.method == "GET" and "/blobs/uploads/" in e.path and e.status != 401]
    assert len(statuses) == 1  # the client asked where the upload stands
    posts = [e for e in log.upload_writes() if e.method == "POST" and e.status != 401]
    if statuses[0].status == 204:  # resumed in the same session
        assert len(posts) == 1
    else:  # the session was lost: started over once
        assert statuses[0].status == 404
        assert len(posts) == 2
    puts = [e for e in log.upload_writes() if e.method == "PUT" and e.status != 401]
    assert [e.status for e in puts] == [201]
    assert stats.delta("bytes_sent") >= len(data)
    assert rc.repository(unique_repository).blobs.get(digest) == data
    assert rc.repository(unique_repository).blobs.size(digest) == len(data)


def test_upload_of_a_file_with_a_wrong_digest_is_a_digest_mismatch(
    anon_registry: LocalRegistry, tmp_path: Path
) -> None:
    reg = anon_registry
    path = tmp_path / "f"
    path.write_bytes(b"real content")
    wrong = "sha256:" + "0" * 64
    with Registry(reg.host, protocol="http") as client:
        with pytest.raises(DigestMismatchError):
            client.repository("wrong/digest").blobs.upload(path, digest=wrong)
        assert not client.repository("wrong/digest").blobs.exists(wrong)


class _FailingDisk(io.RawIOBase):
    """A seekable source whose bytes past ``bad_at`` cannot be read (EIO), as a disk
    with a bad sector."""

    def __init__(self, data: bytes, bad_at: int) -> None:
        self._data, self._bad_at, self._pos = data, bad_at, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = {0: pos, 1: self._pos + pos, 2: len(self._data) + pos}[whence]
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._bad_at:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        block = self._data[self._pos:self._pos + len(buffer)]
        buffer[:len(block)] = block
        self._pos += len(block)
        return len(block)


@pytest.mark.parametrize("chunk_size", [None, MiB], ids=["one-put", "chunked"])
def test_a_source_that_fails_to_read_raises_its_own_error_in_both_flavours(
    anon_registry: LocalRegistry, unique_repository: str, flavour: Flavour,
    chunk_size: int | None,
) -> None:
    """The file's OSError, at once: the blocking flavour reported the registry's
    connection broken (RegistryUnavailableError, the OSError buried in __cause__) after
    sending the file again in new sessions, the asyncio one the OSError."""
    data = os.urandom(3 * MiB)
    client = flavour.connect(anon_registry, retries=2, backoff=0.0)
    with pytest.raises(OSError) as caught:
        client.repository(unique_repository).blobs.upload(
            _FailingDisk(data, 2 * MiB), digest=sha256(data), chunk_size=chunk_size)
    assert caught.value.errno == errno.EIO
    assert not client.repository(unique_repository).blobs.exists(sha256(data))


@pytest.mark.parametrize("chunk_size", [None, MiB], ids=["one-put", "chunked"])
def test_a_file_truncated_while_it_is_uploaded_is_a_digest_mismatch_at_once(
    anon_registry: LocalRegistry, unique_repository: str, flavour: Flavour, tmp_path: Path,
    chunk_size: int | None,
) -> None:
    """The request announced the file's length and the file ended early: the registry
    waited for the rest -- a read timeout per try in the blocking flavour
    (RegistryUnavailableError after 20 s), h11's LocalProtocolError (no RegistryError)
    in the asyncio one."""
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(4 * MiB))

    def truncate(event: ProgressEvent) -> None:
        if isinstance(event, BlobAdvanced) and event.done >= MiB and path.stat().st_size > 2 * MiB:
            os.truncate(path, 2 * MiB)

    client = flavour.connect(anon_registry, retries=1, backoff=0.0, timeout=30)
    started = time.monotonic()
    with pytest.raises(DigestMismatchError, match="changed while it was uploaded"):
        client.repository(unique_repository).blobs.upload(path, progress=truncate,
                                                          chunk_size=chunk_size)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("present", [False, True], ids=["absent", "present"])
def test_a_fifo_path_is_uploaded_as_a_stream_of_unknown_size(
    anon_registry: LocalRegistry, unique_repository: str, flavour: Flavour, tmp_path: Path,
    present: bool,
) -> None:
    """A path to a FIFO (``/dev/stdin`` on a pipe, a shell's ``<(...)``) has no size:
    its st_size of 0 was taken for the blob's, and the upload sent 0 bytes (the registry
    refused the digest) -- or, for a blob the repository has, was refused as content
    of another size."""
    data = os.urandom(100_000)
    client = flavour.connect(anon_registry, timeout=10)
    blobs = client.repository(unique_repository).blobs
    if present:
        blobs.upload(data)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), open(fifo, "wb") as out:
            out.write(data)  # (a blob the repository has is not read: a broken pipe)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        got = blobs.upload(fifo, digest=sha256(data))
    finally:
        if feeder.is_alive():  # (the upload never opened it: let the feeder go)
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        feeder.join(5)
    assert (got.digest, got.size) == (sha256(data), len(data))
    assert blobs.get(sha256(data)) == data


@pytest.mark.parametrize("state", [False, True], ids=["chunks", "state-file"])
def test_a_file_appended_to_while_it_uploads_is_stored_as_it_was(
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path, state: bool,
) -> None:
    """The blob is the file as it was when the upload began (its size and digest were
    taken then) -- with state_file too, which only makes the upload crash-safe: it read
    on to the end of the grown file and failed with DigestMismatchError."""
    path = tmp_path / "log"
    data = os.urandom(3 * MiB)
    path.write_bytes(data)
    appended: list[int] = []

    def append(event: ProgressEvent) -> None:
        if isinstance(event, BlobAdvanced) and event.done >= MiB and not appended:
            appended.append(1)
            with open(path, "ab") as out:
                out.write(b"more log lines\n" * 100)

    kw: dict[str, Any] = {"state_file": tmp_path / "state"} if state else {}
    with Registry(anon_registry.host, protocol="http") as client:
        blobs = client.repository(unique_repository).blobs
        got = blobs.upload(path, chunk_size=MiB, progress=append, **kw)
        assert appended and (got.digest, got.size) == (sha256(data), len(data))
        assert blobs.get(got.digest) == data


def test_a_proc_file_is_read_to_its_end_not_taken_for_empty(
    anon_registry: LocalRegistry, unique_repository: str, flavour: Flavour,
) -> None:
    """/proc files are regular files of st_size 0 whatever they hold: /proc/version was
    uploaded as the empty blob, in both flavours."""
    blobs = flavour.connect(anon_registry).repository(unique_repository).blobs
    got = blobs.upload("/proc/version")
    assert got.size == len(Path("/proc/version").read_bytes()) > 0
    assert blobs.get(got.digest) == Path("/proc/version").read_bytes()
