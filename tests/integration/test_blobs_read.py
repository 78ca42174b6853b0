"""BlobService reads (exists, size, head, get, open, download) against a real Distribution 2.8."""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from registry_client import (
    BlobAdvanced,
    BlobFinished,
    BlobSkipped,
    BlobStarted,
    Descriptor,
    DigestMismatchError,
    NotFoundError,
    ProgressEvent,
    Registry,
)
from registry_client.testing import LocalRegistry, seed_blob

pytestmark = pytest.mark.integration

ClientFactory = Callable[..., Registry]
BlobPath = Callable[[LocalRegistry, str], Path]
UNKNOWN_DIGEST = "sha256:" + "cd" * 32
MiB = 1024 * 1024


def partial_of(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def flip_stored_byte(reg: LocalRegistry, digest: str, blob_data_path: BlobPath, at: int) -> None:
    """Flip one byte of the blob in the registry's storage (same size, wrong content)."""
    path = blob_data_path(reg, digest)
    with open(path, "r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0xFF]))


# -- every mode ---------------------------------------------------------------------------


def test_exists_size_and_head(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    data = os.urandom(3000)
    digest = seed_blob(any_registry, unique_repository, data)
    blobs = client.repository(unique_repository).blobs
    assert blobs.exists(digest) is True
    assert blobs.exists(UNKNOWN_DIGEST) is False
    assert blobs.size(digest) == 3000
    head = blobs.head(digest)
    assert isinstance(head, Descriptor)
    assert (head.digest, head.size) == (digest, 3000)
    assert head.media_type == "application/octet-stream"


def test_get_and_open(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    data = os.urandom(300_000)
    digest = seed_blob(any_registry, unique_repository, data)
    blobs = client.repository(unique_repository).blobs
    assert blobs.get(digest) == data
    with blobs.open(digest) as stream:
        parts = []
        while chunk := stream.read(64 * 1024):
            assert len(chunk) <= 64 * 1024
            parts.append(chunk)
    assert b"".join(parts) == data
    assert len(parts) >= 5  # really streamed in pieces


def test_download_to_file_and_directory(
    any_registry: LocalRegistry, client: Registry, unique_repository: str, tmp_path: Path
) -> None:
    data = os.urandom(200_000)
    digest = seed_blob(any_registry, unique_repository, data)
    blobs = client.repository(unique_repository).blobs
    events: list[ProgressEvent] = []

    target = tmp_path / "blob.bin"
    assert blobs.download(digest, target, progress=events.append) == target
    assert target.read_bytes() == data
    assert not partial_of(target).exists()
    assert isinstance(events[0], BlobStarted) and events[0].total == len(data)
    assert isinstance(events[-1], BlobFinished) and events[-1].size == len(data)
    advanced = [e for e in events if isinstance(e, BlobAdvanced)]
    assert sum(e.advanced for e in advanced) == len(data)

    in_dir = blobs.download(digest, tmp_path)
    assert in_dir.parent == tmp_path
    assert in_dir.name == digest.replace(":", "_")
    assert in_dir.read_bytes() == data


def test_download_keeps_a_valid_file_without_fetching_it(
    any_registry: LocalRegistry, client: Registry, unique_repository: str, tmp_path: Path
) -> None:
    data = os.urandom(50_000)
    digest = seed_blob(any_registry, unique_repository, data)
    target = tmp_path / "blob.bin"
    target.write_bytes(data)
    events: list[ProgressEvent] = []
    any_registry.clear_access_log()
    client.repository(unique_repository).blobs.download(digest, target, progress=events.append)
    assert target.read_bytes() == data
    assert events == [BlobSkipped(digest, len(data))]
    assert any_registry.request_count("GET", f"/v2/{unique_repository}/blobs/") == 0


def test_unknown_blob_is_not_found(
    any_registry: LocalRegistry, client: Registry, unique_repository: str, tmp_path: Path
) -> None:
    seed_blob(any_registry, unique_repository, os.urandom(100))
    blobs = client.repository(unique_repository).blobs
    with pytest.raises(NotFoundError) as info:
        blobs.get(UNKNOWN_DIGEST)
    assert info.value.status_code == 404
    assert "BLOB_UNKNOWN" in info.value.codes
    with pytest.raises(NotFoundError):
        blobs.head(UNKNOWN_DIGEST)
    with pytest.raises(NotFoundError):
        blobs.size(UNKNOWN_DIGEST)
    with pytest.raises(NotFoundError):
        blobs.open(UNKNOWN_DIGEST)
    target = tmp_path / "missing.bin"
    with pytest.raises(NotFoundError):
        blobs.download(UNKNOWN_DIGEST, target)
    assert list(tmp_path.iterdir()) == []


def test_blob_of_another_repository_is_not_found(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    # Distribution links blobs per repository: a blob pushed to A is unknown in B
    digest = seed_blob(any_registry, f"{unique_repository}/a", os.urandom(500))
    seed_blob(any_registry, f"{unique_repository}/b", os.urandom(500))
    assert client.repository(f"{unique_repository}/a").blobs.exists(digest)
    other = client.repository(f"{unique_repository}/b").blobs
    assert other.exists(digest) is False
    with pytest.raises(NotFoundError):
        other.get(digest)


# -- verification -------------------------------------------------------------------------


@pytest.fixture
def corrupted_blob(
    anon_registry: LocalRegistry, unique_repository: str, blob_data_path: BlobPath
) -> tuple[str, bytes]:
    """A random 300 kB blob (this test's alone) with one byte flipped in storage."""
    data = os.urandom(300_000)
    digest = seed_blob(anon_registry, unique_repository, data)
    flip_stored_byte(anon_registry, digest, blob_data_path, at=123_456)
    return digest, data


def test_download_of_a_corrupted_blob_leaves_nothing(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    corrupted_blob: tuple[str, bytes],
    tmp_path: Path,
) -> None:
    digest, _ = corrupted_blob
    blobs = client_for(anon_registry).repository(unique_repository).blobs
    target = tmp_path / "blob.bin"
    with pytest.raises(DigestMismatchError) as info:
        blobs.download(digest, target)
    assert digest in str(info.value)
    assert not target.exists()
    assert not partial_of(target).exists()
    assert list(tmp_path.iterdir()) == []


def test_get_of_a_corrupted_blob_raises(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    corrupted_blob: tuple[str, bytes],
) -> None:
    digest, _ = corrupted_blob
    with pytest.raises(DigestMismatchError):
        client_for(anon_registry).repository(unique_repository).blobs.get(digest)


def test_open_of_a_corrupted_blob_raises_at_eof(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    corrupted_blob: tuple[str, bytes],
) -> None:
    digest, data = corrupted_blob
    received = 0
    with client_for(anon_registry).repository(unique_repository).blobs.open(digest) as stream:
        with pytest.raises(DigestMismatchError):
            while chunk := stream.read(32 * 1024):
                received += len(chunk)
    # the bytes were streamed as they came; the error came at the end, not at the bad byte:
    # with the read that would have handed over the blob's last byte
    assert len(data) - 32 * 1024 <= received < len(data)


def test_a_reader_that_stops_at_the_size_still_hears_of_corruption(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    corrupted_blob: tuple[str, bytes],
) -> None:
    """tarfile, readinto(size)...: they never read past the end, and must not get bad bytes."""
    digest, data = corrupted_blob
    blobs = client_for(anon_registry).repository(unique_repository).blobs
    with blobs.open(digest) as stream, pytest.raises(DigestMismatchError):
        got = b""
        while len(got) < len(data):
            got += stream.read(len(data) - len(got))
    with blobs.open(digest) as stream, pytest.raises(DigestMismatchError):
        io.BufferedReader(stream).readinto(bytearray(len(data)))  # type: ignore[arg-type]


# -- resume -------------------------------------------------------------------------------


def test_download_resumes_a_partial_file_with_range(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    tmp_path: Path,
) -> None:
    data = os.urandom(2 * MiB + 12345)
    digest = seed_blob(anon_registry, unique_repository, data)
    target = tmp_path / "blob.bin"
    half = len(data) // 2
    partial_of(target).write_bytes(data[:half])

    client = client_for(anon_registry)
    anon_registry.clear_access_log()
    received_before = client.requester.stats["bytes_received"]
    events: list[ProgressEvent] = []
    client.repository(unique_repository).blobs.download(digest, target, progress=events.append)
    # the kept half is reported once, as a resumed upload reports it: a bar ends at 100 %
    assert sum(e.advanced for e in events if isinstance(e, BlobAdvanced)) == len(data)
    assert [type(e) for e in events if not isinstance(e, BlobAdvanced)] == [
        BlobStarted, BlobFinished]

    assert target.read_bytes() == data
    assert not partial_of(target).exists()
    assert client.requester.stats["bytes_received"] - received_before == len(data) - half
    blob_path = f"/v2/{unique_repository}/blobs/{digest}"
    assert anon_registry.request_count("GET", blob_path, status=206) == 1  # Range honoured
    assert anon_registry.request_count("GET", blob_path, status=200) == 0


def test_download_with_a_corrupted_partial_file_starts_over(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    tmp_path: Path,
) -> None:
    data = os.urandom(400_000)
    digest = seed_blob(anon_registry, unique_repository, data)
    target = tmp_path / "blob.bin"
    bad_prefix = bytearray(data[:100_000])
    bad_prefix[10] ^= 0xFF
    partial_of(target).write_bytes(bad_prefix)
    client = client_for(anon_registry)
    blobs = client.repository(unique_repository).blobs
    anon_registry.clear_access_log()

    events: list[ProgressEvent] = []
    assert blobs.download(digest, target, progress=events.append).read_bytes() == data
    assert not partial_of(target).exists()
    # one start; what the wrong start reported is taken back, so the sum is the size
    advanced = [e for e in events if isinstance(e, BlobAdvanced)]
    assert sum(e.advanced for e in advanced) == len(data)
    assert any(e.advanced < 0 for e in advanced) and advanced[-1].done == len(data)
    assert [type(e) for e in events if not isinstance(e, BlobAdvanced)] == [
        BlobStarted, BlobFinished]
    blob_path = f"/v2/{unique_repository}/blobs/{digest}"
    # the resume (Range) ended in a digest mismatch, so the whole blob came once more
    assert anon_registry.request_count("GET", blob_path, status=206) == 1
    assert anon_registry.request_count("GET", blob_path, status=200) == 1


def test_concurrent_downloads_to_one_path_all_succeed(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    tmp_path: Path,
) -> None:
    data = os.urandom(3 * MiB)
    digest = seed_blob(anon_registry, unique_repository, data)
    blobs = client_for(anon_registry).repository(unique_repository).blobs
    for round_ in range(5):
        target = tmp_path / f"blob-{round_}.bin"
        with ThreadPoolExecutor(4) as pool:
            paths = list(pool.map(blobs.download, [digest] * 4, [target] * 4))
        assert paths == [target] * 4
        assert target.read_bytes() == data
        assert not partial_of(target).exists()


# -- memory -------------------------------------------------------------------------------

# ru_maxrss alone would not do: on Linux it starts at the high-water mark of the process
# that forked the child (pytest, which has just uploaded 256 MiB), so the script also
# reads VmHWM from /proc/self/status -- the peak RSS of its own address space only.
_DOWNLOAD_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from registry_client import NullAuthenticator, Registry

    def vm_hwm_kib():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmHWM")

    host, repository, digest, target = sys.argv[1:5]
    before = vm_hwm_kib()
    with Registry(host, protocol="http", authenticator=NullAuthenticator()) as registry:
        registry.repository(repository).blobs.download(digest, target)
    print(json.dumps({
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "hwm_before": before,
        "hwm_after": vm_hwm_kib(),
    }))
    """
)


def test_download_of_256_mib_keeps_memory_flat(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    blob_data_path: BlobPath,
    tmp_path: Path,
) -> None:
    size = 256 * MiB
    source = tmp_path / "big.src"
    hasher = hashlib.sha256()
    with open(source, "wb") as f:
        for _ in range(size // MiB):
            chunk = os.urandom(MiB)
            hasher.update(chunk)
            f.write(chunk)
    digest = "sha256:" + hasher.hexdigest()
    target = tmp_path / "big.out"
    try:
        uploaded = client_for(anon_registry).repository(unique_repository).blobs.upload(source)
        assert (uploaded.digest, uploaded.size) == (digest, size)
        source.unlink()

        proc = subprocess.run(
            [sys.executable, "-c", _DOWNLOAD_SCRIPT, anon_registry.host, unique_repository,
             digest, str(target)],
            capture_output=True, text=True, timeout=300, check=False,
        )
        assert proc.returncode == 0, proc.stderr
        usage = json.loads(proc.stdout.strip().splitlines()[-1])  # all in KiB
        assert usage["hwm_after"] < 100 * 1024, usage  # peak RSS under 100 MiB
        assert usage["hwm_after"] - usage["hwm_before"] < 32 * 1024, usage  # flat, not 256 MiB
        if usage["ru_maxrss"] >= 100 * 1024:  # only possible when inherited from pytest
            assert usage["ru_maxrss"] <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        assert target.stat().st_size == size
        check = hashlib.sha256()
        with open(target, "rb") as f:
            while block := f.read(4 * MiB):
                check.update(block)
        assert "sha256:" + check.hexdigest() == digest
        assert not partial_of(target).exists()
    finally:
        source.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        # free the 256 MiB the registry keeps in RAM-backed storage for the whole session
        shutil.rmtree(blob_data_path(anon_registry, digest).parent, ignore_errors=True)



def test_download_finishes_a_complete_partial_file_without_fetching(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    tmp_path: Path,
) -> None:
    # the previous run wrote every byte but stopped before renaming <dest>.partial
    data = os.urandom(100_000)
    digest = seed_blob(anon_registry, unique_repository, data)
    target = tmp_path / "blob.bin"
    partial_of(target).write_bytes(data)
    anon_registry.clear_access_log()
    client_for(anon_registry).repository(unique_repository).blobs.download(digest, target)
    assert target.read_bytes() == data
    assert not partial_of(target).exists()
    # a Range from the end would get 416 from Distribution: nothing to fetch at all
    assert anon_registry.request_count("GET", f"/v2/{unique_repository}/blobs/") == 0


def test_download_starts_over_when_the_partial_file_is_too_long(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    tmp_path: Path,
) -> None:
    data = os.urandom(100_000)
    digest = seed_blob(anon_registry, unique_repository, data)
    target = tmp_path / "blob.bin"
    partial_of(target).write_bytes(data + b"left over from something else")
    anon_registry.clear_access_log()
    client_for(anon_registry).repository(unique_repository).blobs.download(digest, target)
    assert target.read_bytes() == data
    assert not partial_of(target).exists()
    blob_path = f"/v2/{unique_repository}/blobs/{digest}"
    assert anon_registry.request_count("GET", blob_path, status=416) == 1  # Range past the end
    assert anon_registry.request_count("GET", blob_path, status=200) == 1  # then from scratch
