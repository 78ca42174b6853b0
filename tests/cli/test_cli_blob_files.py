"""``registry-client blob``: -o through symlinks, FIFOs and devices; never a binary blob on a
terminal unless ``-o -`` asks for it (in-process, against a real registry)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from registry_client.cli import main
from registry_client.testing import LocalRegistry, seed_image

pytestmark = pytest.mark.integration


class BinaryTerminal(io.TextIOWrapper):
    """A stdout that claims to be a terminal, keeping what is written to it."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8")

    def isatty(self) -> bool:
        return True

    def written(self) -> bytes:
        self.flush()
        raw = self.buffer
        assert isinstance(raw, io.BytesIO)
        return raw.getvalue()


@pytest.fixture
def layer(anon_registry: LocalRegistry, unique_repository: str) -> tuple[str, bytes]:
    """``host/repo@digest`` of a 200 kB layer, and its bytes."""
    image = seed_image(anon_registry, unique_repository, "1.0", layers=(200_000,))
    digest = image.layers[0]
    return f"{anon_registry.host}/{unique_repository}@{digest}", image.blobs[digest]


def test_blob_o_into_a_symlink_writes_the_target(
    layer: tuple[str, bytes], tmp_path: Path, docker_config_dir: Path,
) -> None:
    ref, data = layer
    target = tmp_path / "real.bin"
    link = tmp_path / "link.bin"
    link.symlink_to(target.name)
    assert main(["--plain-http", "blob", ref, "-o", str(link)]) == 0
    assert link.is_symlink()
    assert target.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "docker-config", "link.bin", "real.bin"]


def test_blob_o_into_a_fifo_streams_it(
    layer: tuple[str, bytes], tmp_path: Path, docker_config_dir: Path,
) -> None:
    ref, data = layer
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as f:
            got.append(f.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert main(["--plain-http", "blob", ref, "-o", str(fifo)]) == 0
    finally:
        reader.join(timeout=30)
        if reader.is_alive():
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert got == [data]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_blob_o_into_a_character_device_keeps_it(
    layer: tuple[str, bytes], tmp_path: Path, docker_config_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ref, _ = layer
    null = tmp_path / "null"
    os.mknod(null, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    assert main(["--plain-http", "blob", ref, "-o", str(null)]) == 0
    assert capsys.readouterr().err == ""
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docker-config", "null"]


def test_blob_o_under_a_file_names_the_path_not_the_partial_file(
    layer: tuple[str, bytes], tmp_path: Path, docker_config_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ref, _ = layer
    (tmp_path / "file").write_bytes(b"x")
    assert main(["--plain-http", "blob", ref, "-o", str(tmp_path / "file" / "x.bin")]) == 1
    err = capsys.readouterr().err
    assert "not a directory" in err
    assert ".partial" not in err


def test_blob_refuses_a_terminal_unless_o_dash(
    layer: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch, docker_config_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ref, data = layer
    terminal = BinaryTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["--plain-http", "blob", ref]) == 2
    err = capsys.readouterr().err
    assert "terminal" in err and "-o -" in err
    assert terminal.written() == b""

    assert main(["--plain-http", "blob", ref, "-o", "-"]) == 0
    assert terminal.written() == data


def test_blob_o_dash_writes_stdout(
    layer: tuple[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    docker_config_dir: Path, capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    ref, data = layer
    monkeypatch.chdir(tmp_path)
    assert main(["--plain-http", "blob", ref, "-o", "-"]) == 0
    assert capsysbinary.readouterr().out == data
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize(("name", "stream"), [("/dev/stdout", "stdout"),
                                               ("/dev/stderr", "stderr")])
def test_blob_o_dev_stdout_appends_to_a_redirected_log(
    layer: tuple[str, bytes], tmp_path: Path, docker_config_dir: Path, name: str, stream: str,
) -> None:
    """`blob -o /dev/stdout >> log` appends, as `-o -` does: the log is not replaced."""
    ref, data = layer
    log = tmp_path / "app.log"
    log.write_bytes(b"HEADER\n")
    with open(log, "ab") as f:
        proc = subprocess.run(
            [sys.executable, "-m", "registry_client", "--plain-http",
             "blob", ref, "-o", name],
            **{stream: f}, stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert proc.returncode == 0
    assert log.read_bytes() == b"HEADER\n" + data


def test_blob_o_into_a_fifo_whose_reader_leaves_is_an_error_naming_it(
    layer: tuple[str, bytes], tmp_path: Path, docker_config_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Not the quiet 141 of a closed stdout: the file the user named could not be written."""
    ref, _ = layer
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def read_a_little() -> None:
        with open(fifo, "rb") as f:
            f.read(10)

    reader = threading.Thread(target=read_a_little, daemon=True)
    reader.start()
    try:
        assert main(["--plain-http", "blob", ref, "-o", str(fifo)]) == 1
    finally:
        reader.join(timeout=30)
    err = capsys.readouterr().err
    assert str(fifo) in err
    assert "Broken pipe" in err


def test_a_traced_blob_redirected_to_storage_sends_no_netrc_login(
    tmp_path: Path, docker_config_dir: Path,
) -> None:
    """-v gives the CLI a session of its own (a trace hook): requests' redirect machinery
    then added a ~/.netrc login for the storage host a blob GET was redirected to (an S3
    answers 400 "Only one auth mechanism allowed"): the command failed with -v alone."""
    import hashlib
    import socket

    from registry_client.testing import tcp_server

    body = b"hello blob"
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    seen: list[bytes] = []
    where: list[int] = []  # the server's port, once it listens

    def answer(conn: socket.socket) -> None:
        head = conn.recv(65536)
        seen.append(head)
        if head.startswith(f"GET /v2/r/blobs/{digest}".encode()):
            conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nContent-Length: 0\r\n"
                         b"Location: http://localhost:%d/data\r\n\r\n" % where[0])
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    netrc = tmp_path / "netrc"
    netrc.write_text("machine localhost login pip password artifactory\n")
    netrc.chmod(0o600)
    with tcp_server(answer) as port:
        where.append(port)
        done = subprocess.run(
            [sys.executable, "-m", "registry_client", "-v", "blob",
             f"127.0.0.1:{port}/r@{digest}", "-o", str(tmp_path / "out")],
            capture_output=True, env={**os.environ, "NETRC": str(netrc),
                                      "DOCKER_CONFIG": str(docker_config_dir)},
            timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_bytes() == body
    assert not [h for h in seen if b"authorization" in h.lower()]
