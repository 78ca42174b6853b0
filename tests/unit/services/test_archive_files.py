"""Archive tars on disk without a registry: what a tar is, a docker-archive turned into a
layout (reproducibly), the refusals; artifact file titles; index platform objects."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import tarfile
from functools import partial
from pathlib import Path

import pytest

from registry_client import ArchiveError, ArtifactNameError, DigestMismatchError, Platform
from registry_client.layout import OCILayout
from registry_client.services._archive_files import (
    archive_kind,
    docker_archive_to_layout,
    oci_archive_to_layout,
)
from registry_client.services._archive_write import write_oci_archive
from registry_client.services._artifact import artifact_files, safe_file_name
from registry_client.services._index import platform_json

LIMIT = 4 << 20


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def docker_archive(path: Path, layers: list[bytes], *, stored: list[bytes] | None = None,
                   tags: list[str] | None = None) -> bytes:
    """Write a docker-archive of ``layers`` (stored as ``stored`` when given); its config."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [sha(t) for t in layers]}}).encode()
    stored = stored if stored is not None else layers
    files = {"cfg.json": config, **{f"l{i}.tar": b for i, b in enumerate(stored)}}
    files["manifest.json"] = json.dumps([{"Config": "cfg.json", "RepoTags": tags or [],
                                          "Layers": [f"l{i}.tar" for i in range(len(stored))]}
                                         ]).encode()
    path.write_bytes(tar_bytes(files))
    return config


LAYERS = [tar_bytes({"a": b"a" * 100}), tar_bytes({"b/c": b"c" * 3000})]


def test_a_docker_archive_becomes_a_reproducible_schema2_layout(tmp_path: Path) -> None:
    archive = tmp_path / "app.tar"
    config = docker_archive(archive, LAYERS)
    assert archive_kind(archive) == "docker-archive"
    digests = []
    for run in ("one", "two"):
        work = tmp_path / run
        work.mkdir()
        docker_archive_to_layout(archive, work, "1.0", LIMIT)
        entry = OCILayout(work).find("1.0")
        data = OCILayout(work).read_blob(entry["digest"])
        doc = json.loads(data)
        assert data == json.dumps(doc, separators=(",", ":")).encode()
        assert doc["config"]["digest"] == sha(config)
        for layer, tar in zip(doc["layers"], LAYERS, strict=True):
            blob = OCILayout(work).read_blob(layer["digest"])
            assert gzip.decompress(blob) == tar
            assert layer["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip"
        digests.append(entry["digest"])
    assert digests[0] == digests[1]


def test_gzip_layers_of_a_docker_archive_are_kept_as_they_are(tmp_path: Path) -> None:
    archive = tmp_path / "app.tar"
    stored = [gzip.compress(t, mtime=0, compresslevel=1) for t in LAYERS]
    docker_archive(archive, LAYERS, stored=stored)
    docker_archive_to_layout(archive, tmp_path, "1.0", LIMIT)
    doc = json.loads(OCILayout(tmp_path).read_blob(OCILayout(tmp_path).find("1.0")["digest"]))
    assert [layer["digest"] for layer in doc["layers"]] == [sha(b) for b in stored]


def test_xz_and_bzip2_layers_of_a_docker_archive_are_stored_as_gzip(tmp_path: Path) -> None:
    """``docker load`` and skopeo read xz and bzip2 layers; a push refused them with "tar
    stream ends in the middle of member 0". A Docker manifest types gzip only: they are
    stored as gzip of their tar, its diff_id checked, the same blob as a plain tar's."""
    plain = tmp_path / "plain.tar"
    docker_archive(plain, LAYERS)
    docker_archive_to_layout(plain, tmp_path / "plain", "1.0", LIMIT)
    want = OCILayout(tmp_path / "plain").find("1.0")["digest"]
    archive = tmp_path / "app.tar"
    docker_archive(archive, LAYERS, stored=[lzma.compress(LAYERS[0]), bz2.compress(LAYERS[1])])
    docker_archive_to_layout(archive, tmp_path / "work", "1.0", LIMIT)
    assert OCILayout(tmp_path / "work").find("1.0")["digest"] == want
    docker_archive(archive, LAYERS, stored=[lzma.compress(LAYERS[0])[:-30], LAYERS[1]])
    with pytest.raises(ArchiveError, match=r"app.tar: layer l0.tar: a broken xz stream"):
        docker_archive_to_layout(archive, tmp_path / "cut", "1.0", LIMIT)
    docker_archive(archive, LAYERS, stored=[LAYERS[0], b"BZh9" + b"x" * 100])
    with pytest.raises(ArchiveError, match=r"layer l1.tar: a broken bzip2 stream"):
        docker_archive_to_layout(archive, tmp_path / "bad", "1.0", LIMIT)


def test_a_layer_that_is_not_its_diff_id_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "app.tar"
    docker_archive(archive, LAYERS, stored=[LAYERS[1], LAYERS[0]])
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(DigestMismatchError, match="the config says"):
        docker_archive_to_layout(archive, work, "1.0", LIMIT)


def test_several_images_need_a_tag_of_their_repo_tags(tmp_path: Path) -> None:
    config = json.dumps({"rootfs": {"diff_ids": []}}).encode()
    archive = tmp_path / "two.tar"
    archive.write_bytes(tar_bytes({"c.json": config, "manifest.json": json.dumps([
        {"Config": "c.json", "RepoTags": ["app:1.0"], "Layers": []},
        {"Config": "c.json", "RepoTags": ["app:2.0"], "Layers": []}]).encode()}))
    with pytest.raises(ArchiveError, match=r"none has the tag '3\.0'.*app:1\.0, app:2\.0"):
        docker_archive_to_layout(archive, tmp_path, "3.0", LIMIT, repository="app")
    docker_archive_to_layout(archive, tmp_path, "2.0", LIMIT, repository="app")



def test_a_manifest_json_nested_too_deeply_is_no_archive(tmp_path: Path) -> None:
    archive = tmp_path / "deep.tar"
    archive.write_bytes(tar_bytes({"manifest.json": b"[" * 100_000 + b"]" * 100_000}))
    with pytest.raises(ArchiveError, match=r"manifest\.json is not JSON"):
        docker_archive_to_layout(archive, tmp_path, "1.0", LIMIT)


def test_images_sharing_a_tag_are_told_apart_by_repository(tmp_path: Path) -> None:
    """``docker save a/b:1 c/d:1``: the target's repository picks one, the host ignored."""
    configs = [json.dumps({"n": n, "rootfs": {"diff_ids": []}}).encode() for n in range(3)]
    archive = tmp_path / "amb.tar"
    archive.write_bytes(tar_bytes({
        **{f"c{n}.json": c for n, c in enumerate(configs)},
        "manifest.json": json.dumps([
            {"Config": "c0.json", "RepoTags": ["a/b:1"], "Layers": []},
            {"Config": "c1.json", "RepoTags": ["docker.io/c/d:1", "c/d:2"], "Layers": []},
            {"Config": "c2.json", "RepoTags": ["x:1", "e/f:3"], "Layers": []}]).encode()}))

    def config_of(tag: str, repository: str) -> bytes:
        work = tmp_path / f"{repository.replace('/', '_')}-{tag}"
        work.mkdir()
        docker_archive_to_layout(archive, work, tag, LIMIT, repository=repository)
        layout = OCILayout(work)
        doc = json.loads(layout.read_blob(layout.find(tag)["digest"]))
        return layout.read_blob(doc["config"]["digest"])

    assert config_of("1", "c/d") == configs[1]
    assert config_of("1", "a/b") == configs[0]
    assert config_of("1", "x") == configs[2]  # docker's x:1 is docker.io/library/x:1
    assert config_of("1", "library/x") == configs[2]
    assert config_of("3", "other/repo") == configs[2]  # the tag alone, when it is unique
    with pytest.raises(ArchiveError, match=r"several have the tag '1', and not one alone is "
                       r"tagged other/repo:1.*have: a/b:1, c/d:2"):
        config_of("1", "other/repo")


def test_an_oci_archive_round_trips_and_takes_only_layout_files(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "layout")
    layout.init()
    layout.write_blob(sha(b"blob"), b"blob")
    archive = tmp_path / "oci.tar"
    write_oci_archive(layout.root, archive)
    first = archive.read_bytes()
    write_oci_archive(layout.root, archive)
    assert archive.read_bytes() == first  # no host metadata: the same bytes again
    with tarfile.open(archive) as tar:
        assert {m.uid for m in tar.getmembers()} == {0}
        assert {m.mtime for m in tar.getmembers()} == {0}
    assert archive_kind(archive) == "oci-archive"
    with tarfile.open(archive, "a") as tar:  # a member outside blobs/ is ignored
        info = tarfile.TarInfo("../evil")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    work = tmp_path / "work"
    work.mkdir()
    oci_archive_to_layout(archive, work, LIMIT)
    assert OCILayout(work).read_blob(sha(b"blob")) == b"blob"
    assert not (tmp_path / "evil").exists()


def test_what_is_no_archive(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    assert archive_kind(tmp_path / "dir") == "layout"
    text = tmp_path / "t.tar"
    text.write_text("not a tar")
    with pytest.raises(ArchiveError, match="not a tar"):
        archive_kind(text)
    with pytest.raises(FileNotFoundError):
        archive_kind(tmp_path / "missing.tar")


@pytest.mark.parametrize("title", ["", ".", "..", "../x", "/abs", "a/b", "a\\b", "c:x", "a\0b",
                                   None, 3])
def test_unsafe_titles_are_refused(title: object) -> None:
    with pytest.raises(ArtifactNameError):
        safe_file_name(title)


def test_artifact_files_skip_untitled_layers_and_refuse_twice_the_same() -> None:
    def layer(title: str | None) -> dict[str, object]:
        d: dict[str, object] = {"mediaType": "text/plain", "digest": sha(b"x"), "size": 1}
        if title is not None:
            d["annotations"] = {"org.opencontainers.image.title": title}
        return d

    def manifest(*titles: str | None) -> bytes:
        return json.dumps({"schemaVersion": 2, "config": {
            "mediaType": "application/vnd.oci.empty.v1+json", "digest": sha(b"{}"), "size": 2},
            "layers": [layer(t) for t in titles]}).encode()

    found = artifact_files(manifest("a.txt", None, "b.txt"), "", "sha256:" + "0" * 64)
    assert [n for n, _ in found] == ["a.txt", "b.txt"]
    with pytest.raises(ArtifactNameError, match="two files"):
        artifact_files(manifest("a.txt", "a.txt"), "", "sha256:" + "0" * 64)


def test_platform_objects_follow_the_image_spec_order() -> None:
    p = Platform(architecture="amd64", os="windows", os_version="10.0.17763.1",
                 os_features=("win32k",), variant=None)
    assert list(platform_json(p)) == ["architecture", "os", "os.version", "os.features"]
    assert platform_json(Platform(architecture="arm", os="linux", variant="v7")) == {
        "architecture": "arm", "os": "linux", "variant": "v7"}


def test_a_symlink_loop_is_an_archive_error_not_a_recursion(tmp_path: Path) -> None:
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [sha(LAYERS[0])]}}).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"cfg.json": config, "manifest.json": json.dumps(
                [{"Config": "cfg.json", "RepoTags": [], "Layers": ["a.tar"]}]).encode()}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (("a.tar", "b.tar"), ("b.tar", "a.tar")):
            link = tarfile.TarInfo(name)
            link.type = tarfile.SYMTYPE
            link.linkname = target
            tar.addfile(link)
    archive = tmp_path / "loop.tar"
    archive.write_bytes(buf.getvalue())
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ArchiveError, match=r"a\.tar: too many links .*loop"):
        docker_archive_to_layout(archive, work, "1", LIMIT)


def test_links_inside_the_archive_are_followed_and_links_out_refused(tmp_path: Path) -> None:
    """skopeo's legacy layout names a layer ``<id>/layer.tar -> ../<diff_id>.tar``."""
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [sha(LAYERS[0])]}}).encode()

    def archive(name: str, target: str) -> Path:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for member, data in {"cfg.json": config, "real.tar": LAYERS[0],
                                 "manifest.json": json.dumps([{
                                     "Config": "cfg.json", "RepoTags": [],
                                     "Layers": ["id/layer.tar"]}]).encode()}.items():
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo("id/layer.tar")
            link.type = tarfile.SYMTYPE
            link.linkname = target
            tar.addfile(link)
        path = tmp_path / name
        path.write_bytes(buf.getvalue())
        return path

    work = tmp_path / "ok"
    work.mkdir()
    docker_archive_to_layout(archive("ok.tar", "../real.tar"), work, "1", LIMIT)
    for name, target in (("up.tar", "../../real.tar"), ("abs.tar", "/real.tar")):
        bad = tmp_path / name.replace(".tar", "")
        bad.mkdir()
        with pytest.raises(ArchiveError, match="out of the archive"):
            docker_archive_to_layout(archive(name, target), bad, "1", LIMIT)


def _good_archives(tmp_path: Path) -> tuple[bytes, bytes]:
    docker = tmp_path / "docker.tar"
    docker_archive(docker, [LAYERS[0], tar_bytes({"big": b"x" * 8000})])
    layout = OCILayout(tmp_path / "layout")
    layout.init()
    layout.write_blob(sha(b"x" * 8000), b"x" * 8000)
    oci = tmp_path / "oci.tar"
    write_oci_archive(layout.root, oci)
    return docker.read_bytes(), oci.read_bytes()


@pytest.mark.parametrize("cut", [512, 3000, 6000, 9000])
@pytest.mark.parametrize("kind", ["docker", "oci"])
def test_a_truncated_archive_is_an_archive_error(tmp_path: Path, cut: int, kind: str) -> None:
    docker, oci = _good_archives(tmp_path)
    archive = tmp_path / "cut.tar"
    archive.write_bytes((docker if kind == "docker" else oci)[:cut])
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ArchiveError, match=r"cut\.tar") as info:
        archive_kind(archive)
    assert isinstance(info.value.__cause__, tarfile.TarError)
    for read in (partial(docker_archive_to_layout, archive, work, "1", LIMIT),
                 partial(oci_archive_to_layout, archive, work, LIMIT)):
        with pytest.raises(ArchiveError, match=r"cut\.tar"):
            read()


def test_a_member_larger_than_the_file_is_an_archive_error(tmp_path: Path) -> None:
    info = tarfile.TarInfo("manifest.json")
    info.size = 10 << 30
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    archive = tmp_path / "huge.tar"
    archive.write_bytes(header + b"\0" * (7680 - len(header)))
    for read in (partial(archive_kind, archive),
                 partial(docker_archive_to_layout, archive, tmp_path, "1", LIMIT),
                 partial(oci_archive_to_layout, archive, tmp_path, LIMIT)):
        with pytest.raises(ArchiveError, match=r"huge\.tar"):
            read()


def test_a_docker_archive_whose_config_is_not_json_is_an_archive_error(tmp_path: Path) -> None:
    """The config of a local tar that is not JSON was a RegistryResponseError ("the
    registry answered ..."), not the ArchiveError (a ValueError) a push promises."""
    source = tmp_path / "bad.tar"
    source.write_bytes(tar_bytes({"c.json": b"not json", "l.tar": LAYERS[0],
                                  "manifest.json": json.dumps([{
                                      "Config": "c.json", "RepoTags": ["m:1"],
                                      "Layers": ["l.tar"]}]).encode()}))
    with pytest.raises(ArchiveError, match=r"bad.tar: c.json: malformed JSON"):
        docker_archive_to_layout(source, tmp_path / "work", "1", LIMIT)
