"""_tarfs: reproducible directory packing, layer preparation, and the whiteout-aware merge."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import subprocess
import sys
import tarfile
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry_client import LayerError
from registry_client._tarfs import (
    clean_name,
    flatten_layers,
    merge_layers,
    pack_directory,
    prepare_layer,
)

Entry = tuple[str, bytes | None]
"""A layer entry for these tests: (name, content); None content makes a directory."""


def make_tree(root: Path, *, mode_bits: int, mtime: int) -> Path:
    (root / "b" / "deep").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha\n")
    (root / "b" / "run.sh").write_bytes(b"#!/bin/sh\n")
    (root / "b" / "deep" / "z").write_bytes(b"z" * 3000)
    (root / "b" / "link").symlink_to("run.sh")
    (root / "é-ü.txt").write_bytes(b"unicode name\n")
    (root / "a.txt").chmod(0o600 | mode_bits)
    (root / "b" / "run.sh").chmod(0o700 | mode_bits)
    for path in (*root.rglob("*"), root):
        if not path.is_symlink():
            os.utime(path, (mtime, mtime))
    return root


def packed(root: Path) -> bytes:
    out = io.BytesIO()
    pack_directory(root, out)
    return out.getvalue()


def layer(entries: Sequence[Entry], path: Path, *, compress: bool = True,
          links: Sequence[tuple[str, str]] = (),
          symlinks: Sequence[tuple[str, str]] = ()) -> Path:
    """A layer blob at ``path``: symbolic links ``(name, target)``, ``entries``, then hard
    links ``(name, target)``."""
    with tarfile.open(path, "w:gz" if compress else "w") as tar:
        for name, target in symlinks:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.LNKTYPE, target
            tar.addfile(info)
    return path


def merged(tmp_path: Path, *layers: Sequence[Entry]) -> list[tuple[str, bytes | None]]:
    paths = [layer(entries, tmp_path / f"l{i}.tgz") for i, entries in enumerate(layers)]
    out = io.BytesIO()
    merge_layers(paths, out)
    out.seek(0)
    result: list[tuple[str, bytes | None]] = []
    with tarfile.open(fileobj=out) as tar:
        for info in tar:
            f = tar.extractfile(info) if info.isreg() else None
            result.append((info.name, f.read() if f else None))
    return result


# -- packing ----------------------------------------------------------------------------
def test_the_same_tree_packs_to_the_same_bytes_whatever_its_place_times_and_umask(
    tmp_path: Path,
) -> None:
    one = make_tree(tmp_path / "one", mode_bits=0o044, mtime=1_000)
    two = make_tree(tmp_path / "elsewhere" / "two", mode_bits=0, mtime=2_000_000_000)
    os.chown(two / "a.txt", 1234, 4321)
    assert packed(one) == packed(two)


def test_packed_entries_carry_no_host_metadata_and_come_sorted(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", mode_bits=0, mtime=5)
    with tarfile.open(fileobj=io.BytesIO(packed(tree))) as tar:
        infos = tar.getmembers()
    names = [i.name for i in infos]
    assert names == ["a.txt", "b", "b/deep", "b/deep/z", "b/link", "b/run.sh", "é-ü.txt"]
    for info in infos:
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (0, 0, 0, "", "")
        assert not info.name.startswith(("./", "/"))
    modes = {i.name: stat.S_IMODE(i.mode) for i in infos}
    assert (modes["a.txt"], modes["b/run.sh"], modes["b"]) == (0o644, 0o755, 0o755)
    link = next(i for i in infos if i.name == "b/link")
    assert link.issym() and link.linkname == "run.sh"


def test_a_fifo_cannot_be_packed(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    os.mkfifo(tmp_path / "d" / "pipe")
    with pytest.raises(LayerError, match="FIFO"):
        packed(tmp_path / "d")


# -- preparing layers -------------------------------------------------------------------
def test_a_directory_gives_the_same_gzip_blob_every_time(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", mode_bits=0, mtime=7)
    first = prepare_layer(tree, tmp_path / "first.tar.gz")
    second = prepare_layer(tree, tmp_path / "second.tar.gz")
    assert (first.digest, first.size, first.diff_id) == (second.digest, second.size,
                                                         second.diff_id)
    blob = first.path.read_bytes()
    assert first.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert first.size == len(blob)
    assert first.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
    assert blob[3] == 0 and blob[4:8] == b"\0\0\0\0"  # no file name, mtime 0
    assert gzip.decompress(blob) == packed(tree)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.tar.gz", "second.tar.gz", "t"]


def test_a_tar_is_compressed_and_a_tar_gz_kept_as_it_is(tmp_path: Path) -> None:
    plain = layer([("x", b"1")], tmp_path / "x.tar", compress=False)
    zipped = layer([("x", b"1")], tmp_path / "x.tgz")
    from_plain = prepare_layer(plain, tmp_path / "p.gz")
    from_zipped = prepare_layer(zipped, tmp_path / "z.gz")
    tar_digest = "sha256:" + hashlib.sha256(plain.read_bytes()).hexdigest()
    assert from_plain.diff_id == tar_digest
    assert gzip.decompress(from_plain.path.read_bytes()) == plain.read_bytes()
    assert from_zipped.path.read_bytes() == zipped.read_bytes()
    assert from_zipped.digest == "sha256:" + hashlib.sha256(zipped.read_bytes()).hexdigest()
    assert from_zipped.diff_id == "sha256:" + hashlib.sha256(
        gzip.decompress(zipped.read_bytes())).hexdigest()


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "tar.gz"])
def test_a_pipe_is_read_once_as_crane_s_append_f_process_substitution(
    tmp_path: Path, compress: bool,
) -> None:
    """``append -f <(tar -c dir)``: the layer is a pipe (/dev/fd/63), readable once."""
    source = layer([("x", b"1")], tmp_path / "x.tar", compress=compress)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as out:
            out.write(source.read_bytes())

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    prepared = prepare_layer(fifo, tmp_path / "p.gz")
    writer.join(10)
    from_file = prepare_layer(source, tmp_path / "p2.gz")
    assert (prepared.digest, prepared.size, prepared.diff_id) == (
        from_file.digest, from_file.size, from_file.diff_id)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.gz", "p2.gz", "pipe", "x.tar"]


@pytest.mark.parametrize(("content", "message"), [
    (b"this is not a tar archive at all" * 40, "not a readable tar"),
    (gzip.compress(b"not a tar either" * 100), "not a readable tar"),
    (b"\x28\xb5\x2f\xfd" + b"\0" * 100, "zstd"),
    (gzip.compress(b"\0" * 2048)[:20], "tar"),
])
def test_what_is_no_tar_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    source = tmp_path / "bad"
    source.write_bytes(content)
    with pytest.raises(LayerError, match=message):
        prepare_layer(source, tmp_path / "out.gz")



def three_entries() -> bytes:
    """A ustar archive: a directory header at 0, ``dir/a`` (700 bytes) at 512 with its
    data at 1024-2047, ``dir/b`` (100 bytes) at 2048 with data at 2560; it ends at 3072."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        directory = tarfile.TarInfo("dir")
        directory.type = tarfile.DIRTYPE
        tar.addfile(directory)
        for name, size in (("dir/a", 700), ("dir/b", 100)):
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(b"x" * size))
    return out.getvalue()


@pytest.mark.parametrize(("cut", "accepted"), [
    (1000, False),  # inside dir/a's header (GNU tar lists "dir" and says nothing)
    (1024, False), (2600, False),  # inside a member's data
    (512, True), (2048, True), (3072, True),  # after a member, no end-of-archive blocks
    (3584, True),  # one of the two zero blocks (GNU tar: "A lone zero block")
    (None, True),
])
@pytest.mark.parametrize("compress", [False, True])
def test_a_tar_cut_off_is_refused(tmp_path: Path, cut: int | None, accepted: bool,
                                  compress: bool) -> None:
    data = three_entries()[:cut]
    path = tmp_path / "layer.tar"
    path.write_bytes(gzip.compress(data) if compress else data)
    gnu = subprocess.run(["tar", "-tf", str(path)], capture_output=True, check=False)
    if cut != 1000:
        assert (gnu.returncode == 0) is accepted, gnu.stderr  # GNU tar agrees
    if accepted:
        assert prepare_layer(path, tmp_path / "out.tgz").diff_id == (
            "sha256:" + hashlib.sha256(data).hexdigest())
    else:
        with pytest.raises(LayerError, match=r"cut.off|not a readable tar"):
            prepare_layer(path, tmp_path / "out.tgz")


def test_a_header_that_is_no_header_after_the_members_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "layer.tar"
    path.write_bytes(three_entries()[:3072] + b"y" * 512 + bytes(1024))
    gnu = subprocess.run(["tar", "-tf", str(path)], capture_output=True, check=False)
    assert gnu.returncode == 2  # "Skipping to next header"
    with pytest.raises(LayerError, match="unreadable tar header after 'dir/b'"):
        prepare_layer(path, tmp_path / "out.tgz")

def test_a_missing_layer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="no such layer"):
        prepare_layer(tmp_path / "nope", tmp_path / "out.gz")


# -- merging ----------------------------------------------------------------------------
def test_a_whiteout_deletes_a_lower_file_and_an_upper_one_replaces_it(tmp_path: Path) -> None:
    result = merged(tmp_path,
                    [("etc", None), ("etc/a", b"a1"), ("etc/b", b"b1"), ("etc/c", b"c1")],
                    [("etc/.wh.a", b""), ("etc/b", b"b2")])
    assert dict(result) == {"etc": None, "etc/b": b"b2", "etc/c": b"c1"}


def test_an_opaque_directory_hides_what_lower_layers_put_there_but_keeps_its_own(
    tmp_path: Path,
) -> None:
    result = merged(tmp_path,
                    [("d", None), ("d/old", b"o"), ("d/sub", None), ("d/sub/x", b"x"),
                     ("keep", b"k")],
                    [("d", None), ("d/new", b"n"), ("d/.wh..wh..opq", b"")])
    assert dict(result) == {"keep": b"k", "d": None, "d/new": b"n"}


def test_an_opaque_root_hides_everything_lower_layers_hold(tmp_path: Path) -> None:
    """``.wh..wh..opq`` at the top of a layer makes the root opaque: every lower entry
    goes, as umoci and Docker unpack it (the root's ``""`` matched no name before)."""
    result = merged(tmp_path, [("old", b"o"), ("d", None), ("d/x", b"x")],
                    [(".wh..wh..opq", b""), ("new", b"n")], [("top", b"t")])
    assert dict(result) == {"new": b"n", "top": b"t"}


def test_an_opaque_root_drops_lower_symlinks_and_link_targets(tmp_path: Path) -> None:
    paths = [layer([("etc", None), ("etc/f", b"old")], tmp_path / "a.tgz",
                   symlinks=[("lnk", "etc")], links=[("keep", "etc/f")]),
             layer([(".wh..wh..opq", b""), ("lnk", None), ("lnk/g", b"new")],
                   tmp_path / "b.tgz")]
    # lnk/g is a file in a fresh directory lnk: the old link went with the root
    assert merged_infos(paths) == [("lnk", "dir", None), ("lnk/g", "file", b"new")]


def test_a_whited_out_directory_takes_its_children_and_may_come_back_empty(
    tmp_path: Path,
) -> None:
    result = merged(tmp_path,
                    [("d", None), ("d/x", b"x"), ("d/y", None), ("d/y/z", b"z")],
                    [(".wh.d", b"")],
                    [("d", None), ("d/fresh", b"f")])
    assert dict(result) == {"d": None, "d/fresh": b"f"}


def test_a_file_hides_a_lower_directory_and_its_children(tmp_path: Path) -> None:
    result = merged(tmp_path, [("p", None), ("p/child", b"c")], [("p", b"now a file")])
    assert result == [("p", b"now a file")]


def test_names_are_cleaned_and_survivors_come_in_layer_order(tmp_path: Path) -> None:
    result = merged(tmp_path, [("./a", b"1"), ("b//c/", None)], [("/z", b"2"), ("a", b"3")])
    assert result == [("b/c", None), ("z", b"2"), ("a", b"3")]
    assert clean_name("/../../etc/passwd") == "etc/passwd"
    assert clean_name("./") == ""


def test_a_long_name_s_pax_path_is_cleaned_too(tmp_path: Path) -> None:
    long = "./" + "/".join(["directory-with-a-long-name"] * 6) + "/file"
    source = tmp_path / "long.tar"
    with tarfile.open(source, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(long)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    out = io.BytesIO()
    merge_layers([source], out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        assert tar.getnames() == [long.removeprefix("./")]


def test_a_hard_link_is_written_after_its_target(tmp_path: Path) -> None:
    paths = [layer([("bin", None), ("bin/real", b"data")], tmp_path / "a.tgz"),
             layer([], tmp_path / "b.tgz", links=[("bin/alias", "./bin/real")])]
    out = io.BytesIO()
    merge_layers(paths, out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == ["bin", "bin/real", "bin/alias"]
    assert infos[2].islnk() and infos[2].linkname == "bin/real"


def merged_infos(paths: Sequence[Path]) -> list[tuple[str, str, bytes | None]]:
    """The merge of ``paths``: (name, "file"|"link"|"symlink"|"dir", content or target)."""
    out = io.BytesIO()
    merge_layers(paths, out)
    out.seek(0)
    result: list[tuple[str, str, bytes | None]] = []
    with tarfile.open(fileobj=out) as tar:
        for info in tar:
            f = tar.extractfile(info) if info.isreg() else None
            if info.islnk() or info.issym():
                result.append((info.name, "link" if info.islnk() else "symlink",
                               info.linkname.encode()))
            else:
                result.append((info.name, "dir" if info.isdir() else "file",
                               f.read() if f else None))
    return result


def test_a_hard_link_whose_target_is_whited_out_becomes_a_file_with_its_content(
        tmp_path: Path) -> None:
    paths = [layer([("etc", None), ("etc/hard1", b"hard")], tmp_path / "a.tgz",
                   links=[("etc/hard2", "etc/hard1"), ("etc/hard3", "etc/hard2")]),
             layer([("etc/other", b"x")], tmp_path / "b.tgz"),
             layer([("etc/.wh.hard1", b"")], tmp_path / "c.tgz")]
    # the first survivor carries the content; the other link of the same file links to it
    assert merged_infos(paths) == [("etc", "dir", None), ("etc/hard2", "file", b"hard"),
                                   ("etc/hard3", "link", b"etc/hard2"),
                                   ("etc/other", "file", b"x")]
    out = tmp_path / "rootfs.tar"
    with open(out, "wb") as f:
        merge_layers(paths, f)
    unpacked = tmp_path / "rootfs"
    unpacked.mkdir()
    subprocess.run(["tar", "-xf", str(out), "-C", str(unpacked)], check=True)  # GNU tar
    assert (unpacked / "etc/hard3").read_bytes() == b"hard"
    assert (unpacked / "etc/hard3").stat().st_ino == (unpacked / "etc/hard2").stat().st_ino


def test_a_hard_link_whose_target_is_replaced_keeps_the_old_content(tmp_path: Path) -> None:
    paths = [layer([("a", None), ("a/f1", b"one")], tmp_path / "a.tgz",
                   links=[("a/hl", "a/f1")]),
             layer([("a/f1", b"two")], tmp_path / "b.tgz")]
    assert merged_infos(paths) == [("a", "dir", None), ("a/hl", "file", b"one"),
                                   ("a/f1", "file", b"two")]


def test_a_hard_link_to_a_file_replaced_before_it_links_to_the_new_file(
        tmp_path: Path) -> None:
    paths = [layer([("a", None), ("a/f1", b"one")], tmp_path / "a.tgz"),
             layer([("a/f1", b"two")], tmp_path / "b.tgz", links=[("a/hl", "a/f1")])]
    assert merged_infos(paths) == [("a", "dir", None), ("a/f1", "file", b"two"),
                                   ("a/hl", "link", b"a/f1")]


def test_a_hard_link_whose_target_dir_is_made_opaque_becomes_a_file(tmp_path: Path) -> None:
    paths = [layer([("d", None), ("d/f", b"old")], tmp_path / "a.tgz",
                   links=[("keep", "d/f")]),
             layer([("d/.wh..wh..opq", b""), ("d/g", b"new")], tmp_path / "b.tgz")]
    assert merged_infos(paths) == [("d", "dir", None), ("keep", "file", b"old"),
                                   ("d/g", "file", b"new")]


def test_flatten_layers_is_the_merge_gzipped_deterministically(tmp_path: Path) -> None:
    paths = [layer([("a", b"1")], tmp_path / "a.tgz"), layer([("b", b"2")], tmp_path / "b.tgz")]
    one = flatten_layers(paths, tmp_path / "one.gz")
    two = flatten_layers(paths, tmp_path / "two.gz")
    assert one.digest == two.digest
    plain = io.BytesIO()
    merge_layers(paths, plain)
    assert gzip.decompress(one.path.read_bytes()) == plain.getvalue()
    assert one.diff_id == "sha256:" + hashlib.sha256(plain.getvalue()).hexdigest()


def test_a_layer_that_is_no_tar_stream_is_a_layer_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(gzip.compress(b"garbage" * 300))
    with pytest.raises(LayerError, match="not a readable tar"):
        merge_layers([bad], io.BytesIO())


# -- the merge against a model of the OCI rules -----------------------------------------
DIRS = ["d", "d/e"]
FILES = ["f", "d/f", "d/g", "d/e/f"]


def apply_model(layers: list[list[tuple[str, str, bytes]]]) -> dict[str, bytes | None]:
    """The OCI layer rules, applied layer by layer to a dict file system."""
    fs: dict[str, bytes | None] = {}
    for entries in layers:
        for kind, name, _ in entries:  # deletions hit the layers below only
            if kind == "wh":
                for path in [p for p in fs if p == name or p.startswith(name + "/")]:
                    del fs[path]
            elif kind == "opq":
                for path in [p for p in fs if p.startswith(name + "/")]:
                    del fs[path]
        for kind, name, content in entries:
            if kind == "dir":
                fs[name] = None
            elif kind == "file":
                fs[name] = content
    return fs


def to_entries(entries: list[tuple[str, str, bytes]]) -> list[Entry]:
    result: list[Entry] = []
    for kind, name, content in entries:
        parent, _, base = name.rpartition("/")
        prefix = parent + "/" if parent else ""
        if kind == "wh":
            result.append((prefix + ".wh." + base, b""))
        elif kind == "opq":
            result.append((name + "/.wh..wh..opq", b""))
        else:
            result.append((name, None if kind == "dir" else content))
    return result


layer_entry = st.one_of(
    st.tuples(st.just("dir"), st.sampled_from(DIRS), st.just(b"")),
    st.tuples(st.just("file"), st.sampled_from(FILES), st.binary(max_size=8)),
    st.tuples(st.just("wh"), st.sampled_from(DIRS + FILES), st.just(b"")),
    st.tuples(st.just("opq"), st.sampled_from(DIRS), st.just(b"")),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(layer_entry, max_size=6, unique_by=lambda e: (e[0], e[1])),
                min_size=1, max_size=4))
def test_the_merge_follows_the_oci_rules(
    tmp_path_factory: pytest.TempPathFactory, layers: list[list[tuple[str, str, bytes]]],
) -> None:
    # one entry per path and layer (a layer writing a path twice is another test's case)
    layers = [[e for e in entries if e[0] in ("wh", "opq")]
              + list({e[1]: e for e in entries if e[0] in ("dir", "file")}.values())
              for entries in layers]
    tmp = tmp_path_factory.mktemp("merge")
    got = {name: content for name, content in merged(tmp, *map(to_entries, layers))}
    want = apply_model(layers)
    # a file whose parent directory no layer wrote still exists: extraction makes it
    assert got == want


PACK_AND_MERGE = """
import hashlib, io, sys
from pathlib import Path
from registry_client._tarfs import merge_layers, pack_directory
root, layer = Path(sys.argv[1]), Path(sys.argv[2])
packed = io.BytesIO()
pack_directory(root, packed)
layer.write_bytes(packed.getvalue())
merged = io.BytesIO()
merge_layers([layer], merged)
print(hashlib.sha256(packed.getvalue()).hexdigest(), hashlib.sha256(merged.getvalue()).hexdigest())
"""


def test_the_bytes_do_not_depend_on_the_locale(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "dé").mkdir(parents=True)
    (root / "dé" / "naïve-✓.txt").write_bytes(b"unicode\n")
    results = []
    for env in ({"LC_ALL": "C.UTF-8"},
                {"PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "LC_ALL": "C"}):
        done = subprocess.run(
            [sys.executable, "-c", PACK_AND_MERGE, str(root), str(tmp_path / "layer.tar")],
            env={**os.environ, **env}, capture_output=True, text=True, check=True, timeout=60)
        results.append(done.stdout.split())
        with tarfile.open(tmp_path / "layer.tar", encoding="utf-8") as tar:
            assert "dé/naïve-✓.txt" in tar.getnames()
            assert not any("hdrcharset" in m.pax_headers for m in tar.getmembers())
    assert results[0] == results[1]


@pytest.mark.parametrize("name", [".wh.passwd", "sub/.wh..wh..opq"])
def test_a_directory_holding_a_whiteout_name_is_refused(tmp_path: Path, name: str) -> None:
    root = tmp_path / "tree"
    (root / name).parent.mkdir(parents=True)
    (root / name).write_bytes(b"")
    with pytest.raises(LayerError, match=r"\.wh\. .*give a tar"):
        prepare_layer(root, tmp_path / "out.tgz")


def test_a_tar_may_carry_whiteouts(tmp_path: Path) -> None:
    tar = layer([(".wh.passwd", b"")], tmp_path / "l.tar", compress=False)
    assert prepare_layer(tar, tmp_path / "out.tgz").size > 0


def test_a_path_through_a_symlinked_directory_lands_where_the_link_points(
        tmp_path: Path) -> None:
    paths = [layer([("etc", None), ("etc/passwd", b"root\n")], tmp_path / "a.tgz",
                   symlinks=[("lnk", "/etc"), ("rel", "etc/../etc")]),
             layer([("lnk/passwd2", b"two\n"), ("rel/passwd3", b"three\n")],
                   tmp_path / "b.tgz", links=[("lnk/hl", "lnk/passwd")]),
             layer([("lnk/.wh.passwd2", b"")], tmp_path / "c.tgz")]
    # resolved in the image's root, as umoci and docker unpack (never the host's /etc)
    assert merged_infos(paths) == [
        ("lnk", "symlink", b"/etc"), ("rel", "symlink", b"etc/../etc"),
        ("etc", "dir", None), ("etc/passwd", "file", b"root\n"),
        ("etc/passwd3", "file", b"three\n"), ("etc/hl", "link", b"etc/passwd")]
    names = [name for name, _, _ in merged_infos(paths)]
    assert "lnk/passwd2" not in names and "etc/passwd2" not in names


def test_a_symlink_replaced_by_a_directory_is_no_longer_followed(tmp_path: Path) -> None:
    paths = [layer([("etc", None)], tmp_path / "a.tgz", symlinks=[("lnk", "etc")]),
             layer([("lnk/x", b"1")], tmp_path / "b.tgz"),
             layer([(".wh.lnk", b""), ("lnk", None), ("lnk/y", b"2")], tmp_path / "c.tgz")]
    assert merged_infos(paths) == [("etc", "dir", None), ("etc/x", "file", b"1"),
                                   ("lnk", "dir", None), ("lnk/y", "file", b"2")]


# -- sparse files -----------------------------------------------------------------------
@pytest.mark.parametrize("tar_format", ["gnu", "posix"])
def test_a_sparse_file_is_merged_as_a_plain_file_every_tar_reader_reads(
    tmp_path: Path, tar_format: str,
) -> None:
    """GNU tar's ``-S`` writes sparse files as type S (gnu) or with GNU.sparse.* pax
    records (posix). Written again expanded under those headers, the result was a tar
    Go's archive/tar refuses and GNU tar extracts as 0 bytes: a merged sparse file must
    be a plain regular file holding its whole content."""
    tree = tmp_path / "tree"
    tree.mkdir()
    sparse = tree / "holes.bin"
    with open(sparse, "wb") as f:
        f.write(b"head")
        f.seek(1 << 20)
        f.write(b"tail")
    source = tmp_path / "sparse.tar"
    subprocess.run(["tar", f"--format={tar_format}", "-S", "-cf", str(source), "-C",
                    str(tree), "holes.bin"], check=True)
    out = tmp_path / "merged.tar"
    with open(out, "wb") as f:
        merge_layers([source], f)
    with tarfile.open(out) as tar:
        [info] = tar.getmembers()
        assert info.type == tarfile.REGTYPE and not info.issparse()
        assert not [k for k in info.pax_headers if k.startswith("GNU.sparse")]
        assert tar.extractfile(info).read() == sparse.read_bytes()  # type: ignore[union-attr]
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-xf", str(out), "-C", str(unpacked)], check=True)
    assert (unpacked / "holes.bin").read_bytes() == sparse.read_bytes()


@pytest.mark.parametrize("empty", [b"", gzip.compress(b"")], ids=["plain", "gzip"])
def test_a_layer_of_no_bytes_is_an_archive_of_no_entries(tmp_path: Path, empty: bytes) -> None:
    # as Go's archive/tar (umoci, containerd) and the validator's tar check read it: an
    # export or flatten refused the image validate() passed
    (tmp_path / "empty").write_bytes(empty)
    paths = [layer([("a", b"1")], tmp_path / "a.tgz"), tmp_path / "empty",
             layer([("b", b"2")], tmp_path / "b.tgz")]
    with_it, without = io.BytesIO(), io.BytesIO()
    merge_layers(paths, with_it)
    merge_layers([paths[0], paths[2]], without)
    assert with_it.getvalue() == without.getvalue()
