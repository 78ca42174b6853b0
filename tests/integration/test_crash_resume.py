"""Crash-safe resume: a process killed in the middle of a transfer, then run again."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from registry_client import Registry
from registry_client.testing import LocalRegistry, LocalRegistryFactory

SIZE = 48 * 1024 * 1024

DOWNLOAD = textwrap.dedent("""
    import json, os, signal, sys
    from registry_client import Registry, BlobAdvanced
    host, digest, dest, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    reg = Registry(host, protocol="http")

    def progress(event):
        if kill_at and isinstance(event, BlobAdvanced) and event.done >= kill_at * event.total:
            os.kill(os.getpid(), signal.SIGKILL)   # no cleanup, no finally: a crash

    reg.repository("crash/app").blobs.download(digest, dest, progress=progress)
    print(json.dumps(reg.requester.stats))
""")


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_download_killed_halfway_resumes_with_less_than_60_percent(
    local_registry_factory: LocalRegistryFactory, tmp_path: Path
) -> None:
    reg: LocalRegistry = local_registry_factory("anonymous")
    source = tmp_path / "blob"
    with open(source, "wb") as f:
        for _ in range(SIZE // (1 << 20)):
            f.write(os.urandom(1 << 20))
    digest = "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
    with Registry(reg.host, protocol="http") as client:
        client.repository("crash/app").blobs.upload(source)
    dest = tmp_path / "out" / "blob"
    dest.parent.mkdir()

    killed = _run(DOWNLOAD, reg.host, digest, str(dest), "0.5")
    assert killed.returncode == -9, killed.stderr
    partial = dest.with_name("blob.partial")
    assert not dest.exists() and partial.is_file()
    assert 0.45 * SIZE <= partial.stat().st_size < SIZE

    again = _run(DOWNLOAD, reg.host, digest, str(dest), "0")
    assert again.returncode == 0, again.stderr
    received = json.loads(again.stdout)["bytes_received"]
    assert received < 0.6 * SIZE
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == digest.split(":")[1]
    assert not partial.exists()


UPLOAD = textwrap.dedent("""
    import json, os, signal, sys
    from registry_client import Registry, BlobAdvanced
    host, path, state, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    reg = Registry(host, protocol="http")

    def progress(event):
        if kill_at and isinstance(event, BlobAdvanced) and event.done >= kill_at * event.total:
            os.kill(os.getpid(), signal.SIGKILL)

    desc = reg.repository("crash/up").blobs.upload(path, chunk_size=4 * 1024 * 1024,
                                                   progress=progress, state_file=state)
    print(json.dumps({"digest": desc.digest, "sent": reg.requester.stats["bytes_sent"]}))
""")


def test_upload_killed_halfway_resumes_from_its_state_file(
    local_registry_factory: LocalRegistryFactory, tmp_path: Path
) -> None:
    reg: LocalRegistry = local_registry_factory("anonymous")
    source = tmp_path / "big"
    with open(source, "wb") as f:
        for _ in range(SIZE // (1 << 20)):
            f.write(os.urandom(1 << 20))
    digest = "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
    state = tmp_path / "upload.state"

    killed = _run(UPLOAD, reg.host, str(source), str(state), "0.5")
    assert killed.returncode == -9, killed.stderr
    saved = json.loads(state.read_text())
    assert saved["digest"] == digest and 0.3 * SIZE <= saved["offset"] < SIZE

    again = _run(UPLOAD, reg.host, str(source), str(state), "0")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["digest"] == digest
    assert result["sent"] < 0.6 * SIZE  # only the rest was sent
    assert not state.exists()
    with Registry(reg.host, protocol="http") as client:
        assert client.repository("crash/up").blobs.size(digest) == SIZE
        with client.repository("crash/up").blobs.open(digest) as f:
            while f.read(1 << 20):
                pass  # verified at EOF


def test_upload_state_of_an_expired_session_means_a_fresh_upload(
    local_registry_factory: LocalRegistryFactory, tmp_path: Path
) -> None:
    reg: LocalRegistry = local_registry_factory("anonymous")
    data = os.urandom(3_000_000)
    source = tmp_path / "small"
    source.write_bytes(data)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    state = tmp_path / "s.json"
    state.write_text(json.dumps({
        "location": f"http://{reg.host}/v2/crash/up2/blobs/uploads/0000-gone",
        "offset": 1_000_000, "digest": digest, "size": len(data), "chunk_size": 1_000_000,
        "repository": "crash/up2", "registry": reg.host,
    }))
    with Registry(reg.host, protocol="http") as client:
        desc = client.repository("crash/up2").blobs.upload(source, state_file=state,
                                                          chunk_size=1_000_000)
        assert desc.digest == digest and client.repository("crash/up2").blobs.get(digest) == data
    assert not state.exists()
