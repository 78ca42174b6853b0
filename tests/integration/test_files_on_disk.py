"""Files as users have them: downloads through symlinks, FIFOs and devices; pulls into
folders that are not layouts; pushes of layouts whose files were changed or point outside.

Against a real Distribution 2.8 (as root: the character device is made with mknod).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry_client import (
    DigestMismatchError,
    LayoutError,
    NotFoundError,
    Registry,
    Repository,
    mutate,
)
from registry_client.layout import OCILayout
from registry_client.testing import FaultProxy, LocalRegistry, seed_blob, seed_image

pytestmark = pytest.mark.integration

BlobPath = Callable[[LocalRegistry, str], Path]


@pytest.fixture
def anon(anon_registry: LocalRegistry) -> Iterator[Registry]:
    with Registry(anon_registry.host, protocol="http") as client:
        yield client


@pytest.fixture
def blob(anon_registry: LocalRegistry, unique_repository: str) -> tuple[str, bytes]:
    data = os.urandom(300_000)
    return seed_blob(anon_registry, unique_repository, data), data


def leftovers(directory: Path, *keep: Path) -> list[str]:
    """Names in ``directory`` other than ``keep`` (temp or partial files left behind)."""
    return sorted(p.name for p in directory.iterdir() if p not in keep)


class FifoReader:
    """Read a FIFO to its end in a thread (a download into it blocks until one opens it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = b""
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with open(self.path, "rb") as f:
            self.data = f.read()

    def join(self) -> bytes:
        self._thread.join(timeout=30)
        if self._thread.is_alive():  # the writer never came: let the reader end
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            self._thread.join(timeout=5)
            pytest.fail("nothing was written to the FIFO")
        return self.data


# -- blobs.download writes through what is there -----------------------------------------------
def test_download_into_a_symlink_writes_its_target_and_keeps_the_link(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    digest, data = blob
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "layer.bin"
    target.write_bytes(b"old content")
    links = tmp_path / "links"
    links.mkdir()
    link = links / "layer.bin"
    link.symlink_to(os.path.relpath(target, links))
    assert anon.repository(unique_repository).blobs.download(digest, link) == link
    assert link.is_symlink()
    assert target.read_bytes() == data
    assert leftovers(links, link) == []
    assert leftovers(elsewhere, target) == []


def test_download_into_a_dangling_symlink_creates_its_target(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    digest, data = blob
    target = tmp_path / "store" / "layer.bin"
    target.parent.mkdir()
    link = tmp_path / "layer.bin"
    link.symlink_to(target)
    anon.repository(unique_repository).blobs.download(digest, link)
    assert link.is_symlink()
    assert target.read_bytes() == data
    assert leftovers(target.parent, target) == []


def test_download_into_a_fifo_streams_to_the_reader(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    digest, data = blob
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    assert anon.repository(unique_repository).blobs.download(digest, fifo) == fifo
    assert reader.join() == data
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path, fifo) == []


def test_download_into_a_fifo_still_raises_on_a_mismatch(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str,
    blob: tuple[str, bytes], blob_data_path: BlobPath, tmp_path: Path,
) -> None:
    digest, _ = blob
    stored = blob_data_path(anon_registry, digest)
    content = bytearray(stored.read_bytes())
    content[1000] ^= 0xFF
    stored.write_bytes(bytes(content))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    with pytest.raises(DigestMismatchError, match=digest):
        anon.repository(unique_repository).blobs.download(digest, fifo)
    reader.join()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path, fifo) == []


def test_a_missing_blob_releases_a_fifo_reader_with_nothing(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    """The reader waiting on the FIFO gets an end of file, not a wait forever."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    time.sleep(0.2)  # the reader is waiting in open() before the download fails
    with pytest.raises(NotFoundError):
        anon.repository(unique_repository).blobs.download("sha256:" + "1" * 64, fifo)
    assert reader.join() == b""
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_download_into_a_character_device_keeps_the_device(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    digest, _ = blob
    null = tmp_path / "null"
    os.mknod(null, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # a private /dev/null
    assert anon.repository(unique_repository).blobs.download(digest, null) == null
    mode = os.lstat(null).st_mode
    assert stat.S_ISCHR(mode)
    assert os.lstat(null).st_rdev == os.makedev(1, 3)
    assert leftovers(tmp_path, null) == []


def test_download_creates_missing_parent_directories(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    digest, data = blob
    target = tmp_path / "a" / "b" / "layer.bin"
    assert anon.repository(unique_repository).blobs.download(digest, target) == target
    assert target.read_bytes() == data
    assert leftovers(target.parent, target) == []


def test_download_under_a_file_names_the_users_path_not_the_partial_file(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    digest, _ = blob
    (tmp_path / "file").write_bytes(b"x")
    target = tmp_path / "file" / "layer.bin"
    with pytest.raises(OSError) as info:
        anon.repository(unique_repository).blobs.download(digest, target)
    assert ".partial" not in str(info.value)
    assert str(tmp_path / "file") in str(info.value)


def test_download_never_writes_through_a_symlinked_partial_file(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    """The .partial name is the library's own: a symlink put there is replaced, never
    followed (it could point at any file the user can write)."""
    digest, data = blob
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    (tmp_path / "b.bin.partial").symlink_to(victim)
    anon.repository(unique_repository).blobs.download(digest, tmp_path / "b.bin")
    assert victim.read_bytes() == b"precious"
    assert (tmp_path / "b.bin").read_bytes() == data
    assert not (tmp_path / "b.bin").is_symlink()
    assert leftovers(tmp_path, victim, tmp_path / "b.bin") == []


def test_download_replaces_a_fifo_in_place_of_its_partial_file(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    digest, data = blob
    os.mkfifo(tmp_path / "c.bin.partial")
    anon.repository(unique_repository).blobs.download(digest, tmp_path / "c.bin")
    assert (tmp_path / "c.bin").read_bytes() == data
    assert leftovers(tmp_path, tmp_path / "c.bin") == []


def test_download_with_a_directory_in_place_of_its_partial_file_says_so(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    digest, _ = blob
    (tmp_path / "a.bin.partial").mkdir()
    with pytest.raises(IsADirectoryError) as info:
        anon.repository(unique_repository).blobs.download(digest, tmp_path / "a.bin")
    assert info.value.filename == str(tmp_path / "a.bin")
    assert "a.bin.partial" in str(info.value)
    assert "temporary" in str(info.value)
    assert (tmp_path / "a.bin.partial").is_dir()
    assert not os.path.lexists(tmp_path / "a.bin")


def test_download_into_a_symlink_loop_is_an_eloop_error_and_keeps_the_link(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    digest, _ = blob
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    with pytest.raises(OSError) as info:
        anon.repository(unique_repository).blobs.download(digest, tmp_path / "loop1")
    assert info.value.errno == errno.ELOOP
    assert info.value.filename == str(tmp_path / "loop1")
    assert os.readlink(tmp_path / "loop1") == "loop2"
    assert leftovers(tmp_path, tmp_path / "loop1", tmp_path / "loop2") == []


def test_download_into_an_open_descriptor_appends_to_it(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    """/dev/fd/N (like /dev/stdout) is the descriptor the caller holds: written to, never
    replaced by a renamed file (which lost a `>> log` redirection's content)."""
    digest, data = blob
    log = tmp_path / "app.log"
    log.write_bytes(b"HEADER\n")
    inode = log.stat().st_ino
    with open(log, "ab") as f:
        for name in (f"/dev/fd/{f.fileno()}", f"/proc/self/fd/{f.fileno()}"):
            anon.repository(unique_repository).blobs.download(digest, name)
    assert log.read_bytes() == b"HEADER\n" + data + data
    assert log.stat().st_ino == inode
    assert leftovers(tmp_path, log) == []


def test_a_fifo_reader_gone_early_is_a_broken_pipe_naming_the_fifo(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    digest, _ = blob
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def read_a_little() -> None:
        with open(fifo, "rb") as f:
            f.read(10)

    reader = threading.Thread(target=read_a_little, daemon=True)
    reader.start()
    with pytest.raises(BrokenPipeError) as info:
        anon.repository(unique_repository).blobs.download(digest, fifo)
    reader.join(10)
    assert info.value.errno == errno.EPIPE
    assert info.value.filename == str(fifo)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 100 kB tmpfs (as root), unmounted afterwards."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100k", "tmpfs", str(mount)],
                   check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_is_an_enospc_error_naming_the_users_path(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tiny_disk: Path,
) -> None:
    digest, _ = blob  # 300 kB into 100 kB
    with pytest.raises(OSError) as info:
        anon.repository(unique_repository).blobs.download(digest, tiny_disk / "x.bin")
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(tiny_disk / "x.bin")


def test_download_into_a_path_ending_in_a_separator_wants_a_directory(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    digest, data = blob
    blobs = anon.repository(unique_repository).blobs
    with pytest.raises(IsADirectoryError) as info:
        blobs.download(digest, f"{tmp_path}/newdir/")
    assert info.value.filename == f"{tmp_path}/newdir/"
    assert not os.path.lexists(tmp_path / "newdir")
    (tmp_path / "file").write_bytes(b"mine")
    with pytest.raises(NotADirectoryError):
        blobs.download(digest, f"{tmp_path}/file/")
    assert (tmp_path / "file").read_bytes() == b"mine"
    (tmp_path / "dir").mkdir()
    saved = blobs.download(digest, f"{tmp_path}/dir/")
    assert saved == tmp_path / "dir" / digest.replace(":", "_")
    assert saved.read_bytes() == data
    assert leftovers(tmp_path, tmp_path / "file", tmp_path / "dir") == []


def test_download_keeps_the_mode_of_the_file_it_replaces(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    digest, data = blob
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"old")
    secret.chmod(0o600)
    (tmp_path / "link").symlink_to("secret.bin")
    blobs = anon.repository(unique_repository).blobs
    blobs.download(digest, tmp_path / "link")
    assert secret.read_bytes() == data
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"old")
    plain.chmod(0o640)
    blobs.download(digest, plain)
    assert stat.S_IMODE(plain.stat().st_mode) == 0o640


# -- pull refuses what is not a layout -----------------------------------------------------------
def test_pull_into_a_folder_whose_index_json_is_not_a_layouts_is_refused(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    seed_image(anon_registry, unique_repository, "1.0")
    project = tmp_path / "project"
    project.mkdir()
    index = project / "index.json"
    content = b'{\n  "name": "my-app",\n  "version": "1.0.0",\n  "main": "index.js"\n}\n'
    index.write_bytes(content)
    with pytest.raises(LayoutError, match="oci-layout"):
        anon.repository(unique_repository).images.pull("1.0", project)
    assert index.read_bytes() == content
    assert sorted(p.name for p in project.iterdir()) == ["index.json"]


def test_pull_into_a_file_says_not_a_directory(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    seed_image(anon_registry, unique_repository, "1.0")
    target = tmp_path / "notes.txt"
    target.write_bytes(b"mine")
    with pytest.raises(LayoutError, match="not a directory"):
        anon.repository(unique_repository).images.pull("1.0", target)
    assert target.read_bytes() == b"mine"


def test_pull_refuses_a_layout_blob_that_is_a_symlink_out_of_the_layout(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    """A symlink in blobs/ must not make a pull write over a file outside the layout."""
    image = seed_image(anon_registry, unique_repository, "1.0")
    layout_dir = tmp_path / "layout"
    OCILayout(layout_dir).init()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    path = OCILayout(layout_dir).blob_path(image.layers[0])
    path.parent.mkdir(parents=True)
    path.symlink_to(victim)
    with pytest.raises(LayoutError, match="outside"):
        anon.repository(unique_repository).images.pull("1.0", layout_dir)
    assert victim.read_bytes() == b"precious"


@pytest.mark.parametrize("kind", ["fifo", "chardev"])
def test_pull_replaces_a_fifo_or_device_in_blobs_with_the_blob(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str, tmp_path: Path,
    kind: str,
) -> None:
    """Layout blobs are regular files: a special file in blobs/ is never streamed into."""
    image = seed_image(anon_registry, unique_repository, "1.0", layers=(20_000,))
    layout_dir = tmp_path / "layout"
    OCILayout(layout_dir).init()
    path = OCILayout(layout_dir).blob_path(image.layers[0])
    path.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    done: list[object] = []

    def pull() -> None:
        try:
            anon.repository(unique_repository).images.pull("1.0", layout_dir)
            done.append("ok")
        except Exception as exc:  # reported below
            done.append(exc)

    thread = threading.Thread(target=pull, daemon=True)
    thread.start()
    thread.join(30)
    if thread.is_alive():  # blocked on the FIFO: let it go, then fail
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
        thread.join(10)
        pytest.fail("pull blocked on a FIFO in blobs/")
    assert done == ["ok"]
    assert stat.S_ISREG(os.lstat(path).st_mode)
    assert "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest() == image.layers[0]


def test_pull_into_a_layout_whose_partial_file_is_a_symlink_out_writes_nothing_there(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0", layers=(20_000,))
    layout_dir = tmp_path / "layout"
    OCILayout(layout_dir).init()
    path = OCILayout(layout_dir).blob_path(image.layers[0])
    path.parent.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    path.with_name(path.name + ".partial").symlink_to(victim)
    anon.repository(unique_repository).images.pull("1.0", layout_dir)
    assert victim.read_bytes() == b"precious"
    assert stat.S_ISREG(os.lstat(path).st_mode)
    assert "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest() == image.layers[0]


@pytest.mark.parametrize(("marker", "index"), [
    ('{"imageLayoutVersion":"2.0.0"}', '{"schemaVersion":2,"manifests":[]}'),
    ("hello", '{"schemaVersion":2,"manifests":[]}'),
    ('{"imageLayoutVersion":"1.0.0"}', '{"name":"x","main":"index.js"}'),
])
def test_pull_into_a_folder_that_is_not_a_1_x_layout_is_refused(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str, tmp_path: Path,
    marker: str, index: str,
) -> None:
    seed_image(anon_registry, unique_repository, "1.0")
    (tmp_path / "oci-layout").write_text(marker)
    (tmp_path / "index.json").write_text(index)
    with pytest.raises(LayoutError, match=r"not an OCI image layout|not an image index"):
        anon.repository(unique_repository).images.pull("1.0", tmp_path)
    assert (tmp_path / "oci-layout").read_text() == marker
    assert (tmp_path / "index.json").read_text() == index
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json", "oci-layout"]


def test_pull_into_a_dangling_symlink_creates_its_target(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    seed_image(anon_registry, unique_repository, "1.0")
    link = tmp_path / "layout"
    link.symlink_to("store/layout")
    anon.repository(unique_repository).images.pull("1.0", link)
    assert link.is_symlink()
    assert OCILayout(tmp_path / "store" / "layout").find("1.0")["digest"]


@pytest.mark.parametrize("verb", ["push", "pull"])
def test_a_fifo_index_json_is_refused_without_blocking(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str, tmp_path: Path,
    verb: str,
) -> None:
    seed_image(anon_registry, unique_repository, "1.0")
    layout_dir = tmp_path / "layout"
    anon.repository(unique_repository).images.pull("1.0", layout_dir)
    (layout_dir / "index.json").unlink()
    os.mkfifo(layout_dir / "index.json")
    done: list[object] = []

    def run() -> None:
        try:
            if verb == "push":
                anon.repository(unique_repository + "-copy").images.push(layout_dir, "1.0")
            else:
                anon.repository(unique_repository).images.pull("1.0", layout_dir)
            done.append("ok")
        except Exception as exc:  # checked below
            done.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30)
    if thread.is_alive():
        os.close(os.open(layout_dir / "index.json", os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
        pytest.fail(f"{verb} blocked on a FIFO index.json")
    assert len(done) == 1 and isinstance(done[0], LayoutError)
    assert "index.json" in str(done[0]) and "not a regular file" in str(done[0])


# -- push trusts nothing on disk -----------------------------------------------------------------
@pytest.fixture
def pulled(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str, tmp_path: Path,
) -> tuple[Path, str]:
    """A layout holding a pulled image (two layers); returns it and the big layer's digest."""
    image = seed_image(anon_registry, unique_repository, "1.0", layers=(200_000, 3_000))
    anon.repository(unique_repository).images.pull("1.0", tmp_path / "layout")
    return tmp_path / "layout", image.layers[0]


def _uploads(proxy: FaultProxy) -> list[str]:
    return [f"{r.method} {r.path}" for r in proxy.requests if r.method in ("POST", "PATCH", "PUT")]


def test_push_of_a_tampered_blob_stops_before_its_final_put(
    anon_registry: LocalRegistry, pulled: tuple[Path, str], unique_repository: str,
) -> None:
    layout_dir, layer = pulled
    path = OCILayout(layout_dir).blob_path(layer)
    content = bytearray(path.read_bytes())
    content[150_000] ^= 0xFF  # same size, other bytes
    path.write_bytes(bytes(content))
    with FaultProxy(anon_registry, timeout=5) as proxy:
        target = Registry(proxy.host, protocol="http").repository(unique_repository + "-copy")
        with pytest.raises(DigestMismatchError) as info:
            target.images.push(layout_dir, "1.0")
        assert str(path) in str(info.value)
        assert proxy.count("PUT", "/manifests/") == 0
        # the tampered blob's upload never reached the PUT that commits it
        assert proxy.count("PUT", f"digest={layer.replace(':', '%3A')}") == 0
        assert proxy.count("PUT", f"digest={layer}") == 0
        assert not target.blobs.exists(layer)


def test_push_of_a_blob_symlinked_out_of_the_layout_sends_nothing(
    anon_registry: LocalRegistry, pulled: tuple[Path, str], unique_repository: str,
    tmp_path: Path,
) -> None:
    layout_dir, layer = pulled
    path = OCILayout(layout_dir).blob_path(layer)
    outside = tmp_path / "outside.bin"
    outside.write_bytes(path.read_bytes())  # even the right bytes: outside is outside
    path.unlink()
    path.symlink_to(outside)
    with FaultProxy(anon_registry, timeout=5) as proxy:
        target = Registry(proxy.host, protocol="http").repository(unique_repository + "-copy")
        with pytest.raises(LayoutError, match="outside"):
            target.images.push(layout_dir, "1.0")
        assert _uploads(proxy) == []
        assert proxy.bytes_from_client == 0


def test_push_of_a_manifest_symlinked_out_of_the_layout_is_refused(
    anon_registry: LocalRegistry, pulled: tuple[Path, str], unique_repository: str,
    tmp_path: Path,
) -> None:
    layout_dir, _ = pulled
    entry = OCILayout(layout_dir).find("1.0")
    path = OCILayout(layout_dir).blob_path(entry["digest"])
    outside = tmp_path / "manifest.json"
    outside.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(outside)
    with FaultProxy(anon_registry, timeout=5) as proxy:
        target = Registry(proxy.host, protocol="http").repository(unique_repository + "-copy")
        with pytest.raises(LayoutError, match="outside"):
            target.images.push(layout_dir, "1.0")
        assert proxy.bytes_from_client == 0


def test_push_allows_a_symlink_inside_the_layout(
    anon_registry: LocalRegistry, pulled: tuple[Path, str], unique_repository: str,
) -> None:
    """Tools that share blobs inside a layout with links keep working."""
    layout_dir, layer = pulled
    path = OCILayout(layout_dir).blob_path(layer)
    shared = layout_dir / "shared.bin"
    os.replace(path, shared)
    path.symlink_to(os.path.relpath(shared, path.parent))
    with Registry(anon_registry.host, protocol="http") as client:
        target = client.repository(unique_repository + "-copy")
        target.images.push(layout_dir, "1.0")
        data = target.blobs.get(layer)
    assert "sha256:" + hashlib.sha256(data).hexdigest() == layer


def test_push_of_a_big_tampered_blob_stops_before_its_final_put(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    """Over 64 MiB the blob goes in PATCH chunks: the check still comes before the PUT."""
    image = seed_image(anon_registry, unique_repository, "1.0", layers=(65 * 1024 * 1024 + 7,))
    layout_dir = tmp_path / "layout"
    anon.repository(unique_repository).images.pull("1.0", layout_dir)
    layer = image.layers[0]
    path = OCILayout(layout_dir).blob_path(layer)
    with open(path, "r+b") as f:
        f.seek(64 * 1024 * 1024 + 3)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    with FaultProxy(anon_registry, timeout=10) as proxy:
        target = Registry(proxy.host, protocol="http").repository(unique_repository + "-copy")
        with pytest.raises(DigestMismatchError) as info:
            target.images.push(layout_dir, "1.0")
        assert str(path) in str(info.value)
        assert proxy.count("PUT", "/manifests/") == 0
        assert proxy.count("PUT", f"digest={layer.replace(':', '%3A')}") == 0
        assert proxy.count("PATCH") >= 1  # it did stream: the check came while it went
        assert not target.blobs.exists(layer)


def test_push_of_a_mid_size_tampered_blob_stops_before_its_final_put(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    """Over 4 MiB (too big to check in memory first) the check still comes before the
    PUT that would commit the blob: that PUT is never sent."""
    image = seed_image(anon_registry, unique_repository, "1.0", layers=(8 * 1024 * 1024 + 5,))
    layout_dir = tmp_path / "layout"
    anon.repository(unique_repository).images.pull("1.0", layout_dir)
    layer = image.layers[0]
    path = OCILayout(layout_dir).blob_path(layer)
    with open(path, "r+b") as f:
        f.seek(5 * 1024 * 1024)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    with FaultProxy(anon_registry, timeout=10) as proxy:
        target = Registry(proxy.host, protocol="http").repository(unique_repository + "-copy")
        with pytest.raises(DigestMismatchError) as info:
            target.images.push(layout_dir, "1.0")
        assert str(path) in str(info.value)
        assert proxy.count("PUT", "/manifests/") == 0
        assert proxy.count("PUT", f"digest={layer.replace(':', '%3A')}") == 0
        assert proxy.count("PUT", f"digest={layer}") == 0
        assert not target.blobs.exists(layer)


@pytest.mark.parametrize("which", ["layer", "manifest", "config"])
def test_push_of_a_layout_whose_blob_is_a_directory_is_a_layout_error(
    anon_registry: LocalRegistry, anon: Registry, unique_repository: str, tmp_path: Path,
    which: str,
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0")
    layout_dir = tmp_path / "layout"
    anon.repository(unique_repository).images.pull("1.0", layout_dir)
    digest = {"layer": image.layers[0], "manifest": image.digest,
              "config": image.config_digest}[which]
    path = OCILayout(layout_dir).blob_path(digest)
    path.unlink()
    path.mkdir()
    with pytest.raises(LayoutError, match=f"blob {digest} is not a regular file"):
        anon.repository(unique_repository + "-copy").images.push(layout_dir, "1.0")


# -- names as long as a file system takes ------------------------------------------------------
def _tar_image(repo: Repository, work: Path) -> None:
    """Push ``repo:1``, an image of one real tar layer (archives and exports read it)."""
    (work / "layer" / "etc").mkdir(parents=True)
    (work / "layer" / "etc" / "hello").write_text("hello\n")
    mutate.append(repo, mutate.SCRATCH, [work / "layer"], tag="1")


def test_a_name_of_255_bytes_is_written_by_download_archive_pull_and_export(
    anon: Registry, unique_repository: str, blob: tuple[str, bytes], tmp_path: Path,
) -> None:
    """The files kept beside a user's file (``.partial``, temp files, an archive's work
    folder) took the user's name and more: a valid name of 248-255 bytes failed with
    "File name too long" naming the user's path. Their names are cut to fit now (with a
    digest of the whole, so two long names stay apart)."""
    digest, data = blob
    repo = anon.repository(unique_repository)
    long_name = "é" * 120 + "x" * 15  # 255 bytes in UTF-8
    _tar_image(repo, tmp_path)
    for n, call in enumerate((
        lambda p: repo.blobs.download(digest, p),
        lambda p: repo.images.pull("1", p, format="docker-archive"),
        lambda p: repo.images.pull("1", p, format="oci-archive"),
        lambda p: repo.images.export("1", p),
    )):
        folder = tmp_path / str(n)
        folder.mkdir()
        call(folder / long_name)
        assert leftovers(folder) == [long_name], n
    assert (tmp_path / "0" / long_name).read_bytes() == data


# -- what a killed writer left beside a file ---------------------------------------------------
def test_temp_files_a_killed_writer_left_are_removed_by_the_next_write(
    anon: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    """A SIGKILL (or SIGTERM: docker stop, timeout, a CI cancel) during an archive pull or
    an export left its hidden ``.NAME.XXXXXXXX.tmp``, up to the archive's size, and every
    later run left them all there. The next write of the same file removes those nobody
    holds (a writer holds its own locked); another file's, and a writer's at work, stay."""
    repo = anon.repository(unique_repository)
    _tar_image(repo, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "img.tar"
    stale = [out / f".img.tar.{c * 8}.tmp" for c in "ab"]
    other = out / ".other.tar.cccccccc.tmp"
    for path in (*stale, other):
        path.write_bytes(b"x" * 1000)
    held = out / ".img.tar.dddddddd.tmp"
    held.write_bytes(b"")
    import fcntl  # (POSIX: the suite's machines)

    with open(held, "rb") as in_use:
        fcntl.flock(in_use, fcntl.LOCK_EX | fcntl.LOCK_NB)
        repo.images.pull("1", target, format="docker-archive")
    assert leftovers(out) == sorted([held.name, other.name, target.name])
    held.unlink()
    for path in stale:
        path.write_bytes(b"x")
    repo.images.export("1", target)
    assert leftovers(out) == sorted([other.name, target.name])
