"""OCILayout on its own: index.json updates, lookups in odd index files, concurrent writers."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import threading
from pathlib import Path

import pytest

import registry_client._locks as locks_mod
import registry_client.layout as layout_mod
from registry_client import (
    DigestMismatchError,
    LayoutError,
    LayoutNotFoundError,
    UnsupportedDigestError,
)
from registry_client.layout import REF_NAME, OCILayout

D = "sha256:" + "a" * 64


def test_find_in_an_index_with_malformed_annotations_is_a_value_error(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    (tmp_path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"digest": D, "annotations": [REF_NAME]},
        {"digest": "sha256:" + "b" * 64, "annotations": "v1"},
    ]}))
    with pytest.raises(ValueError, match="no image named 'v1'"):
        layout.find("v1")
    layout.add_manifest({"digest": D, "mediaType": "x", "size": 1, "annotations": "bad"}, "v1")
    assert layout.find("v1")["annotations"] == {REF_NAME: "v1"}


def test_an_image_named_by_a_full_reference_is_found_by_its_tag(tmp_path: Path) -> None:
    """skopeo's ``oci:DIR:example.com/foo/bar:one`` names the entry by the whole
    reference; a push asked for tag ``one`` finds it (the exact name first, and a tag
    two full references share is refused as ambiguous, naming them)."""
    b, c = "sha256:" + "b" * 64, "sha256:" + "c" * 64
    layout = OCILayout(tmp_path)
    layout.add_manifest({"digest": D, "mediaType": "x", "size": 1}, "example.com/foo/bar:one")
    layout.add_manifest({"digest": b, "mediaType": "x", "size": 1}, "example.com/foo/bar:two")
    layout.add_manifest({"digest": c, "mediaType": "x", "size": 1}, "other/app:two")
    layout.add_manifest({"digest": c, "mediaType": "x", "size": 1}, "app@sha256:" + "d" * 64)
    assert layout.find("one")["digest"] == D
    assert layout.find("example.com/foo/bar:two")["digest"] == b
    with pytest.raises(LayoutError, match=r"'two' names 2 images.*other/app:two"):
        layout.find("two")
    with pytest.raises(LayoutError, match="no image named 'dddd'"):
        layout.find("d" * 4)
    layout.add_manifest({"digest": c, "mediaType": "x", "size": 1}, "two")
    assert layout.find("two")["digest"] == c  # the exact name wins


def _index(root: Path, *entries: tuple[str, str, str | None]) -> OCILayout:
    """A layout whose index.json lists ``(digest, ref.name, io.containerd.image.name)``."""
    layout = OCILayout(root)
    layout.init()
    manifests = []
    for digest, name, full in entries:
        annotations = {REF_NAME: name} | ({"io.containerd.image.name": full} if full else {})
        manifests.append({"mediaType": "x", "digest": digest, "size": 1,
                          "annotations": annotations})
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))
    return layout


def test_docker_save_entries_sharing_a_tag_are_told_apart_by_the_repository(
    tmp_path: Path,
) -> None:
    """``docker save a/b:1 c/d:1`` (Docker 25 and later) writes an OCI layout beside its
    manifest.json: one index entry per tag, ref.name the bare tag, the full name in
    ``io.containerd.image.name``. A push to c/d:1 took the first entry named 1 --
    image a/b:1 -- with no error."""
    b, c = "sha256:" + "b" * 64, "sha256:" + "c" * 64
    layout = _index(tmp_path, (D, "1", "docker.io/a/b:1"), (b, "1", "docker.io/c/d:1"),
                    (c, "2", "docker.io/library/x:2"))
    assert layout.find("1", repository="c/d")["digest"] == b
    assert layout.find("1", repository="a/b")["digest"] == D
    assert layout.find("2", repository="library/x")["digest"] == c  # docker's x
    assert layout.find("2", repository="other")["digest"] == c  # the only one named 2
    for repository in (None, "e/f"):
        with pytest.raises(LayoutError, match=r"'1' names 2 images \(docker.io/a/b:1, "
                                              r"docker.io/c/d:1\)"):
            layout.find("1", repository=repository)


def test_full_references_sharing_a_tag_are_told_apart_by_the_repository(
    tmp_path: Path,
) -> None:
    """Entries ``a.com/x:1`` and ``b.com/y:1`` (skopeo's ``oci:DIR:REFERENCE``): a push
    to y:1 was refused as ambiguous, with advice a push could not follow (a push's tag
    cannot name a reference in full)."""
    b = "sha256:" + "b" * 64
    layout = _index(tmp_path, (D, "a.com/x:1", None), (b, "b.com/y:1", None))
    assert layout.find("1", repository="y")["digest"] == b
    assert layout.find("b.com/y:1")["digest"] == b
    with pytest.raises(LayoutError, match="push to the repository one of them names"):
        layout.find("1", repository="z")
    with pytest.raises(LayoutError, match="or name it in full"):
        layout.find("1")


def test_one_image_under_two_names_sharing_a_tag_is_pushed_anywhere(tmp_path: Path) -> None:
    """``docker save app:1 myreg.example.com/team/app:1`` (Docker 25): one image, two
    entries named 1. A push of it to other/name:1 was refused as "'1' names 2 images"."""
    layout = _index(tmp_path, (D, "1", "docker.io/library/app:1"),
                    (D, "1", "myreg.example.com/team/app:1"))
    assert layout.find("1", repository="other/name")["digest"] == D
    assert layout.find("1")["digest"] == D


def test_one_image_under_two_full_names_of_the_repository_is_that_repository_s(
    tmp_path: Path,
) -> None:
    """docker save reg1.example.com/team/app:1 reg2.example.com/team/app:1 other:1: two
    images named 1, one of them under two names of team/app. A push to team/app:1 was
    refused as "'1' names 3 images ... push to the repository one of them names"."""
    b = "sha256:" + "b" * 64
    layout = _index(tmp_path, (D, "1", "reg1.example.com/team/app:1"),
                    (D, "1", "reg2.example.com/team/app:1"),
                    (b, "1", "docker.io/library/other:1"))
    assert layout.find("1", repository="team/app")["digest"] == D
    assert layout.find("1", repository="other")["digest"] == b
    with pytest.raises(LayoutError, match="'1' names 2 images"):
        layout.find("1", repository="elsewhere")


def test_one_image_under_several_names_is_the_only_image(tmp_path: Path) -> None:
    """``docker save x:1 x:2`` (Docker 25 and later): one image, an entry per tag. A push
    to y:3 was refused ("no image named '3'") though the layout holds one image."""
    layout = _index(tmp_path, (D, "1", "docker.io/library/x:1"),
                    (D, "2", "docker.io/library/x:2"))
    assert layout.find("3", repository="y")["digest"] == D
    assert layout.find("2")["annotations"][REF_NAME] == "2"


def test_concurrent_writers_of_one_layout_lose_no_entry(tmp_path: Path) -> None:
    # separate OCILayout objects, as separate pulls (or processes) have
    names = [f"t{i}" for i in range(24)]
    barrier = threading.Barrier(len(names), timeout=10)

    def add(name: str) -> None:
        layout = OCILayout(tmp_path)
        barrier.wait()
        layout.add_manifest({"digest": D, "mediaType": "x", "size": 1}, name)

    threads = [threading.Thread(target=add, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    index = json.loads((tmp_path / "index.json").read_text())
    assert sorted(m["annotations"][REF_NAME] for m in index["manifests"]) == sorted(names)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_init_keeps_an_index_another_writer_made(tmp_path: Path) -> None:
    first = OCILayout(tmp_path)
    first.add_manifest({"digest": D, "mediaType": "x", "size": 1}, "kept")
    OCILayout(tmp_path).init()
    assert OCILayout(tmp_path).find("kept")["digest"] == D


def test_layout_files_get_the_umask_mode_and_replaced_files_keep_theirs(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        layout = OCILayout(tmp_path / "l")
        layout.add_manifest({"digest": D, "mediaType": "x", "size": 1}, "v1")
        path = layout.write_blob("sha256:" + hashlib.sha256(b"x").hexdigest(), b"x")
        for f in (path, tmp_path / "l" / "index.json", tmp_path / "l" / "oci-layout"):
            assert stat.S_IMODE(f.stat().st_mode) == 0o644, f
        (tmp_path / "l" / "index.json").chmod(0o664)
        layout.add_manifest({"digest": D, "mediaType": "x", "size": 1}, "v2")
        assert stat.S_IMODE((tmp_path / "l" / "index.json").stat().st_mode) == 0o664
    finally:
        os.umask(old)


def test_a_malformed_index_json_is_named_in_the_error(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"index\.json is not valid JSON"):
        layout.find("v1")


def test_layout_problems_are_typed_errors_and_keep_their_old_types(tmp_path: Path) -> None:
    """RegistryError is the base of everything the library raises; the old types still catch."""
    from registry_client import LayoutError, LayoutNotFoundError, RegistryError

    with pytest.raises(LayoutNotFoundError, match="not an OCI image layout") as missing:
        OCILayout(tmp_path / "nowhere").find("v1")
    assert isinstance(missing.value, FileNotFoundError)
    assert isinstance(missing.value, RegistryError)
    layout = OCILayout(tmp_path)
    layout.init()
    with pytest.raises(LayoutNotFoundError, match=D):
        layout.read_blob(D)
    layout.add_manifest({"digest": D, "mediaType": "x", "size": 1}, "v1")
    layout.add_manifest({"digest": "sha256:" + "b" * 64, "mediaType": "x", "size": 1}, "v2")
    with pytest.raises(LayoutError, match="no image named 'v3'") as nameless:
        layout.find("v3")
    assert isinstance(nameless.value, ValueError) and isinstance(nameless.value, RegistryError)
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(LayoutError, match="not valid JSON"):
        layout.find("v1")
    (tmp_path / "index.json").write_text("[]")
    with pytest.raises(LayoutError, match="not an image index"):
        layout.find("v1")
    (tmp_path / "index.json").unlink()
    with pytest.raises(LayoutNotFoundError, match=r"no index\.json"):
        layout.find("v1")
    with pytest.raises(LayoutError, match="invalid digest"):
        layout.blob_path("sha256:../../etc/passwd")
    big = "sha256:" + hashlib.sha256(b"x" * 10).hexdigest()
    layout.write_blob(big, b"x" * 10)
    with pytest.raises(LayoutError, match="larger than 5 bytes"):
        layout.read_blob(big, 5)


# -- trusting nothing on disk ---------------------------------------------------------------------
def _layout_with_blob(root: Path, data: bytes) -> tuple[OCILayout, str]:
    layout = OCILayout(root)
    layout.init()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    layout.write_blob(digest, data)
    return layout, digest


def test_open_blob_refuses_a_symlink_out_of_the_layout(tmp_path: Path) -> None:
    layout, digest = _layout_with_blob(tmp_path / "layout", b"blob")
    outside = tmp_path / "secret"
    outside.write_bytes(b"blob")
    path = layout.blob_path(digest)
    path.unlink()
    path.symlink_to(outside)
    with pytest.raises(LayoutError, match="outside"):
        layout.open_blob(digest)
    with pytest.raises(LayoutError, match="outside"):
        layout.read_blob(digest)
    with pytest.raises(LayoutError, match="outside"):
        layout.checked_blob_path(digest)


def test_write_blob_refuses_a_blobs_directory_that_leads_out_of_the_layout(
        tmp_path: Path) -> None:
    # a pull's index manifest or config was written through blobs/sha256 -> elsewhere
    # before a layer's check refused the layout
    layout = OCILayout(tmp_path / "layout")
    layout.init()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (tmp_path / "layout" / "blobs").mkdir(exist_ok=True)
    (tmp_path / "layout" / "blobs" / "sha256").symlink_to(outside)
    digest = "sha256:" + hashlib.sha256(b"blob").hexdigest()
    with pytest.raises(LayoutError, match="outside"):
        layout.write_blob(digest, b"blob")
    assert list(outside.iterdir()) == []


def test_open_blob_allows_a_symlink_inside_and_checks_the_size(tmp_path: Path) -> None:
    layout, digest = _layout_with_blob(tmp_path, b"blob")
    path = layout.blob_path(digest)
    os.replace(path, tmp_path / "kept")
    path.symlink_to("../../kept")
    with layout.open_blob(digest, 4) as f:
        assert f.read() == b"blob"
    with pytest.raises(DigestMismatchError, match=str(path)):
        layout.open_blob(digest, 5)


def test_open_blob_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    path = layout.blob_path(D)
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    with pytest.raises(LayoutError, match="not a regular file"):
        layout.open_blob(D)


def test_read_blob_of_a_changed_file_names_it(tmp_path: Path) -> None:
    layout, digest = _layout_with_blob(tmp_path, b"blob")
    layout.blob_path(digest).write_bytes(b"blub")
    with pytest.raises(DigestMismatchError, match=str(layout.blob_path(digest))):
        layout.read_blob(digest)


# -- writing only into a layout ---------------------------------------------------------------
def test_a_folder_with_a_foreign_index_json_is_not_written(tmp_path: Path) -> None:
    index = tmp_path / "index.json"
    index.write_bytes(b'{"name": "app", "version": "1.0.0"}')
    layout = OCILayout(tmp_path)
    for call in (layout.check_writable, layout.init,
                 lambda: layout.add_manifest({"digest": D}, "v1")):
        with pytest.raises(LayoutError, match="no oci-layout"):
            call()
    assert index.read_bytes() == b'{"name": "app", "version": "1.0.0"}'
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]


def test_a_file_is_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(LayoutError, match="not a directory"):
        OCILayout(tmp_path / "f").init()
    assert (tmp_path / "f").read_bytes() == b"x"


def test_a_layout_with_a_malformed_index_is_refused_before_writing(tmp_path: Path) -> None:
    OCILayout(tmp_path).init()
    (tmp_path / "index.json").write_bytes(b"{not json")
    with pytest.raises(LayoutError, match="not valid JSON"):
        OCILayout(tmp_path).check_writable()


# -- layout files that are not regular files ---------------------------------------------------
def test_a_fifo_index_json_is_refused_without_blocking(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    (tmp_path / "index.json").unlink()
    os.mkfifo(tmp_path / "index.json")  # no writer ever comes: a blocking open would hang
    for call in (layout.read_index, layout.check_writable, lambda: layout.find("v1")):
        with pytest.raises(LayoutError, match=r"index.json.*not a regular file"):
            call()


def test_a_fifo_or_directory_oci_layout_is_refused(tmp_path: Path) -> None:
    for kind, make in (("fifo", os.mkfifo), ("dir", os.mkdir)):
        root = tmp_path / kind
        OCILayout(root).init()
        (root / "oci-layout").unlink()
        make(root / "oci-layout")
        with pytest.raises(LayoutError, match=r"oci-layout.*not a regular file"):
            OCILayout(root).check_writable()


def test_a_directory_blob_is_a_layout_error_naming_the_blob(tmp_path: Path) -> None:
    layout, digest = _layout_with_blob(tmp_path, b"blob")
    path = layout.blob_path(digest)
    path.unlink()
    path.mkdir()
    for call in (lambda: layout.open_blob(digest), lambda: layout.read_blob(digest)):
        with pytest.raises(LayoutError, match=f"blob {digest} is not a regular file"):
            call()


def test_has_blob_of_a_fifo_is_false_without_blocking(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    digest = "sha256:" + hashlib.sha256(b"").hexdigest()
    path = layout.blob_path(digest)
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    assert layout.has_blob(digest) is False
    assert layout.has_blob(digest, 0) is False


def test_writable_blob_path_replaces_special_files_and_refuses_directories(
    tmp_path: Path,
) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    path = layout.blob_path(D)
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    assert layout.writable_blob_path(D) == path
    assert not os.path.lexists(path)  # the FIFO is gone: a download makes a regular file
    path.mkdir()
    with pytest.raises(LayoutError, match=f"blob {D} is not a regular file"):
        layout.writable_blob_path(D)
    assert path.is_dir()


# -- what counts as a layout to write into ------------------------------------------------------
@pytest.mark.parametrize(("marker", "index"), [
    ('{"imageLayoutVersion": "2.0.0"}', '{"schemaVersion": 2, "manifests": []}'),
    ("hello", '{"schemaVersion": 2, "manifests": []}'),
    ('["imageLayoutVersion"]', '{"schemaVersion": 2, "manifests": []}'),
    ('{"imageLayoutVersion": "1.0.0"}', '{"name": "x", "main": "index.js"}'),
    ('{"imageLayoutVersion": "1.0.0"}', '{"schemaVersion": 1, "manifests": []}'),
    ('{"imageLayoutVersion": "1.0.0"}', '{"schemaVersion": 2, "manifests": {}}'),
])
def test_a_folder_that_is_not_a_1_x_layout_is_not_written(
    tmp_path: Path, marker: str, index: str,
) -> None:
    (tmp_path / "oci-layout").write_text(marker)
    (tmp_path / "index.json").write_text(index)
    layout = OCILayout(tmp_path)
    for call in (layout.check_writable, layout.init,
                 lambda: layout.add_manifest({"digest": D}, "v1")):
        with pytest.raises(LayoutError, match=r"not an OCI image layout|not an image index"):
            call()
    assert (tmp_path / "oci-layout").read_text() == marker
    assert (tmp_path / "index.json").read_text() == index
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json", "oci-layout"]


def test_an_oci_layout_of_version_1_x_without_index_is_written(tmp_path: Path) -> None:
    (tmp_path / "oci-layout").write_text('{"imageLayoutVersion": "1.1.0"}')
    layout = OCILayout(tmp_path)
    layout.add_manifest({"digest": D}, "v1")
    assert layout.find("v1")["digest"] == D


def test_init_through_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "layout"
    link.symlink_to("store/layout")
    OCILayout(link).init()
    assert link.is_symlink()
    assert (tmp_path / "store" / "layout" / "oci-layout").is_file()
    assert OCILayout(link).read_index()["manifests"] == []


def test_init_through_a_symlink_loop_is_an_eloop_error_naming_it(tmp_path: Path) -> None:
    """A layout pulled to a symlink loop said "[Errno 17] File exists" (mkdir of the
    looping link): ELOOP, naming the path, as a download says it."""
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError) as loop:
        OCILayout(tmp_path / "a").init()
    assert (loop.value.errno, loop.value.filename) == (errno.ELOOP, str(tmp_path / "a"))


def test_write_blob_over_a_directory_is_a_layout_error(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    digest = "sha256:" + hashlib.sha256(b"{}").hexdigest()
    layout.blob_path(digest).mkdir(parents=True)
    with pytest.raises(LayoutError, match=f"blob {digest} is not a regular file"):
        layout.write_blob(digest, b"{}")
    assert layout.blob_path(digest).is_dir()


# -- digests of other algorithms (the image-spec's own descriptor test cases) ----------
SHA256 = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
B64U = "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"
MULTIHASH = "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"


def test_a_layout_index_with_them_is_read_but_makes_no_file_name(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    (tmp_path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": B64U,
         "size": 5, "annotations": {REF_NAME: "b64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": SHA256,
         "size": 5, "annotations": {REF_NAME: "plain"}},
    ]}))
    assert layout.find("b64")["digest"] == B64U
    assert layout.find("plain")["digest"] == SHA256
    assert layout.blob_path(SHA256) == tmp_path / "blobs" / "sha256" / SHA256[7:]
    with pytest.raises(UnsupportedDigestError):
        layout.blob_path(B64U)
    with pytest.raises(UnsupportedDigestError):
        layout.read_blob(MULTIHASH)
    assert not (tmp_path / "blobs").exists()


def test_a_directory_that_cannot_be_written_is_named_not_a_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read-only file system (or a directory without write permission): the error
    names the file the user's layout needed, not the hidden temp file it began as."""
    def read_only(**kw: object) -> tuple[int, str]:
        raise OSError(30, "Read-only file system", f"{kw['dir']}/.oci-layout.x1y2.tmp")

    monkeypatch.setattr(layout_mod.tempfile, "mkstemp", read_only)
    with pytest.raises(OSError) as caught:
        OCILayout(tmp_path / "out").init()
    assert caught.value.errno == 30
    assert caught.value.filename == str(tmp_path / "out" / "oci-layout")
    assert ".tmp" not in str(caught.value)


def test_an_index_json_over_the_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """index.json was read whole whatever its size (a 100 MB one cost ~300 MB)."""
    from registry_client.layout import MAX_INDEX_JSON

    layout = OCILayout(tmp_path)
    layout.init()
    with open(tmp_path / "index.json", "r+b") as f:
        f.truncate(MAX_INDEX_JSON + 1)  # sparse: nothing is written, nothing read
    with pytest.raises(LayoutError, match=r"index\.json is \d+ bytes, over"):
        layout.read_index()


@pytest.mark.parametrize("not_a_dir", ["blobs", "blobs/sha256"])
def test_a_blob_under_a_file_where_a_folder_should_be_is_missing(
    tmp_path: Path, not_a_dir: str,
) -> None:
    """(a raw NotADirectoryError, which is no FileNotFoundError, before)"""
    layout = OCILayout(tmp_path)
    layout.init()
    (tmp_path / "blobs").mkdir(exist_ok=True)
    target = tmp_path / not_a_dir
    if target.is_dir():
        target.rmdir()
    target.write_text("x")
    with pytest.raises(LayoutNotFoundError, match="is missing"):
        layout.open_blob(D)


def test_a_full_disk_while_index_json_is_written_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ENOSPC while index.json was rewritten said "[Errno 28] No space left on device",
    naming no file; the old index.json stays."""
    layout = OCILayout(tmp_path)
    layout.add_manifest({"digest": D, "mediaType": "x", "size": 1}, "v1")
    before = (tmp_path / "index.json").read_bytes()

    class Full:
        def __init__(self, fd: int) -> None:
            os.close(fd)

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", *a, **kw: (
        Full(fd) if "w" in mode else fdopen(fd, mode, *a, **kw)))
    with pytest.raises(OSError) as info:
        layout.add_manifest({"digest": D, "mediaType": "x", "size": 1}, "v2")
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC,
                                                       str(tmp_path / "index.json"))
    assert (tmp_path / "index.json").read_bytes() == before


def test_an_index_with_a_number_json_cannot_hold_is_left_as_it_is(tmp_path: Path) -> None:
    # 1e400 reads as infinite; written back it was "Infinity", which no JSON reader
    # (umoci, skopeo) takes
    layout = OCILayout(tmp_path)
    layout.init()
    index = tmp_path / "index.json"
    index.write_text('{"schemaVersion":2,"manifests":[],"x":1e400}')
    with pytest.raises(LayoutError, match="holds a number JSON cannot"):
        layout.add_manifest({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                             "digest": "sha256:" + "a" * 64, "size": 2}, "1.0")
    assert index.read_text() == '{"schemaVersion":2,"manifests":[],"x":1e400}'


def test_writing_what_the_layout_holds_already_writes_nothing(tmp_path: Path) -> None:
    """A pull with nothing to do rewrote its manifest blob and index.json (new inodes):
    into a read-only layout it failed (EROFS), on a full disk too, although every blob
    was there -- "blobs already present and valid are skipped"."""
    layout = layout_mod.OCILayout(tmp_path / "out")
    data = b'{"schemaVersion": 2}'
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blob = layout.write_blob(digest, data)
    descriptor = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "digest": digest, "size": len(data)}
    layout.add_manifest(descriptor, "1.0")
    index = tmp_path / "out" / "index.json"
    before = (blob.stat().st_ino, index.stat().st_ino)
    layout.write_blob(digest, data)
    layout.add_manifest(descriptor, "1.0")
    assert (blob.stat().st_ino, index.stat().st_ino) == before
    layout.add_manifest({**descriptor, "size": 99}, "1.0")  # (a change is written)
    assert index.stat().st_ino != before[1]
    blob.write_bytes(b"{}")  # (a blob whose bytes differ is written again)
    layout.write_blob(digest, data)
    assert blob.read_bytes() == data


def test_a_file_system_without_locks_still_writes_and_sweeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """flock on NFS without a lock daemon raises ENOLCK: the temp file beside what is
    written is locked to tell it from one a killed writer left, and that lock failing
    failed the write. Now nothing is locked there, and nothing is swept either (one in
    use and one left behind look alike)."""
    def no_locks(fd: int) -> bool:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(locks_mod, "lock_now", no_locks)
    stale = tmp_path / ".index.json.abcdefgh.tmp"
    stale.write_text("left")
    layout_mod._atomic_write(tmp_path / "index.json", b"{}")
    assert (tmp_path / "index.json").read_bytes() == b"{}"
    assert stale.exists()


def test_a_name_cut_to_fit_keeps_whole_characters_and_its_digest() -> None:
    name = "x" + "é" * 127  # 255 bytes: a cut at 228 falls inside an "é"
    fitted = layout_mod._fitted_name(name, 14)
    assert len(os.fsencode(fitted)) <= 255 - 14
    fitted.encode("utf-8")  # (no lone surrogate: whole characters only)
    assert fitted.startswith("xé") and fitted.split("~")[-1] == hashlib.sha256(
        name.encode()).hexdigest()[:12]
    assert layout_mod._fitted_name("short", 14) == "short"
