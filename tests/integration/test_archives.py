"""docker-archive and oci-archive tars: ``images.pull(format=...)`` writes them, ``images.push``
reads them, and skopeo 1.9 (a tool we did not write) reads ours and writes ones we push.

What keeps which digest through skopeo (see docs/archives.md):
* oci-archive: the manifest digest, both ways (the manifest bytes travel in the tar).
* docker-archive: the config digest (Docker's image ID) and the layers' diff_ids. The tar
  has no manifest: skopeo makes a Docker schema2 manifest and gzips the layers itself (Go's
  gzip), we gzip them with zlib, so the manifest digest is kept only where the same gzip
  bytes come back -- our own push of our own archive, or skopeo reusing the blobs its
  blob-info cache has seen.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import tarfile
import threading
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _flavours import Flavour
from _tar_images import TarImage, sha256, tar_of
from _write_helpers import find_skopeo, run_skopeo, skopeo_creds

from registry_client import (
    ArchiveError,
    DigestMismatchError,
    LayoutError,
    NotFoundError,
    PlatformNotFoundError,
    Registry,
    Repository,
)
from registry_client.testing import LocalRegistry

pytestmark = pytest.mark.integration
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module")
def skopeo() -> str:
    return find_skopeo()


def name(reg: LocalRegistry, what: str) -> str:
    return f"archives-{reg.auth}/{what}-{uuid.uuid4().hex[:8]}"


def to_registry(skopeo: str, reg: LocalRegistry, source: str, repository: str, tag: str) -> None:
    run_skopeo(skopeo, "copy", "--dest-tls-verify=false", *skopeo_creds(reg, "dest"),
               source, f"docker://{reg.host}/{repository}:{tag}")


def from_registry(skopeo: str, reg: LocalRegistry, repository: str, tag: str,
                  target: str) -> None:
    run_skopeo(skopeo, "copy", "--src-tls-verify=false", *skopeo_creds(reg, "src"),
               f"docker://{reg.host}/{repository}:{tag}", target)


def written_by_skopeo(
    skopeo: str, rc: Registry, reg: LocalRegistry, image: TarImage, transport: str,
    archive: Path,
) -> Repository:
    """``image`` pushed, copied by skopeo into ``transport:archive``, that archive pushed by
    our push to a new repository (returned)."""
    source, target = name(reg, f"{transport}-src"), name(reg, f"{transport}-from-skopeo")
    image.push(rc.repository(source), "1.0")
    suffix = ":app:1.0" if transport == "docker-archive" else ":1.0"
    from_registry(skopeo, reg, source, "1.0", f"{transport}:{archive}{suffix}")
    rc.repository(target).images.push(archive, "1.0")
    return rc.repository(target)


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


# -- docker-archive ----------------------------------------------------------------------------


def test_pulled_docker_archive_is_what_docker_load_and_skopeo_read(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    image = TarImage()
    repo = name(reg, "docker")
    image.push(rc.repository(repo), "1.0")
    archive = tmp_path / "app.tar"
    pulled = rc.repository(repo).images.pull("1.0", archive, format="docker-archive")
    assert pulled.digest == image.digest
    files = members(archive)
    [entry] = json.loads(files["manifest.json"])
    assert entry["RepoTags"] == [f"{reg.host}/{repo}:1.0"]
    assert files[entry["Config"]] == image.config  # config bytes kept: the image ID
    assert [files[n] for n in entry["Layers"]] == image.tars  # uncompressed, as docker saves
    assert entry["Layers"] == [d.split(":")[1] + ".tar" for d in image.diff_ids]
    assert not [p for p in tmp_path.iterdir() if p.name != "app.tar"]  # no temp left

    info = json.loads(run_skopeo(skopeo, "inspect", f"docker-archive:{archive}"))
    assert (info["Os"], info["Architecture"]) == ("linux", "amd64")
    assert info["Layers"] == image.diff_ids
    raw = json.loads(run_skopeo(skopeo, "inspect", "--raw", f"docker-archive:{archive}"))
    assert raw["config"]["digest"] == image.config_digest


@pytest.mark.parametrize("write", ["docker-archive", "oci-archive", "export"])
def test_archives_and_exports_stream_into_a_fifo_and_write_through_a_symlink(
    rc: Registry, reg: LocalRegistry, tmp_path: Path, write: str,
) -> None:
    """As blob downloads do: a FIFO (or /dev/null, a device) gets the bytes, never a
    regular file in its place; a symlink stays a link to the file written. Archives
    and exports replaced both (``export REF /dev/null`` as root replaced /dev/null)."""
    image = TarImage()
    repo = rc.repository(name(reg, "special"))
    image.push(repo, "1.0")

    def written(dest: Path) -> None:
        if write == "export":
            repo.images.export("1.0", dest)
        else:
            repo.images.pull("1.0", dest, format=write)  # type: ignore[arg-type]

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    written(fifo)
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got and tarfile.open(fileobj=io.BytesIO(got[0])).getmembers()
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "out.tar"
    target.write_bytes(b"old")
    link = tmp_path / "link.tar"
    link.symlink_to(target)
    written(link)
    assert link.is_symlink() and tarfile.is_tarfile(target)
    assert [p.name for p in (tmp_path / "real").iterdir()] == ["out.tar"]


def test_docker_archive_through_skopeo_keeps_the_image_id(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    image = TarImage(media="docker")
    source, target = name(reg, "src"), name(reg, "via-skopeo")
    image.push(rc.repository(source), "1.0")
    archive = tmp_path / "app.tar"
    rc.repository(source).images.pull("1.0", archive, format="docker-archive")
    to_registry(skopeo, reg, f"docker-archive:{archive}", target, "1.0")
    back = rc.repository(target)
    manifest = json.loads(back.manifests.get_raw("1.0").data)
    assert manifest["config"]["digest"] == image.config_digest
    assert back.images.validate("1.0").ok
    # pulled again as a docker-archive, it is the same archive (the same config and tars)
    again = tmp_path / "again.tar"
    back.images.pull("1.0", again, format="docker-archive")
    first, second = members(archive), members(again)
    first.pop("manifest.json")
    second.pop("manifest.json")
    assert first == second


def test_our_push_of_a_docker_archive_is_reproducible_and_round_trips(
    rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    image = TarImage(media="docker", plain=True)
    source = name(reg, "plain")
    image.push(rc.repository(source), "1.0")
    archive = tmp_path / "app.tar"
    rc.repository(source).images.pull("1.0", archive, format="docker-archive")
    one = rc.repository(name(reg, "one")).images.push(archive, "1.0")
    two = rc.repository(name(reg, "two")).images.push(archive, "1.0")
    assert one.digest == two.digest  # the same gzip bytes on every run
    assert one.media_type == DOCKER_MANIFEST
    raw = rc.repository(one.repository).manifests.get_raw("1.0")
    doc = json.loads(raw.data)
    assert raw.data == json.dumps(doc, separators=(",", ":")).encode()  # compact, as skopeo
    assert doc["config"]["digest"] == image.config_digest
    assert list(doc["layers"][0]) == ["mediaType", "size", "digest"]  # Go's field order
    # our archive of what we pushed pushes back to the same digest: the round trip keeps it
    again = tmp_path / "again.tar"
    rc.repository(one.repository).images.pull("1.0", again, format="docker-archive")
    assert rc.repository(name(reg, "three")).images.push(again, "1.0").digest == one.digest
    assert rc.repository(one.repository).images.validate("1.0").ok


def test_a_docker_archive_written_by_skopeo_pushes_with_our_push(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    image = TarImage(media="docker")
    target = written_by_skopeo(skopeo, rc, reg, image, "docker-archive", tmp_path / "s.tar")
    doc = json.loads(target.manifests.get_raw("1.0").data)
    assert doc["config"]["digest"] == image.config_digest
    assert [str(p) for p in target.images.get_by_tag("1.0").platforms] == ["linux/amd64"]
    report = target.images.validate("1.0")
    assert report.ok, report.problems
    layout = tmp_path / "layout"
    target.images.pull("1.0", layout)
    config = json.loads((layout / "blobs" / "sha256" /
                         image.config_digest.split(":")[1]).read_bytes())
    assert config["rootfs"]["diff_ids"] == image.diff_ids


def test_skopeo_reuses_its_own_layers_so_its_docker_archive_round_trip_keeps_the_digest(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    """An image skopeo pushed from a docker-archive, pulled by us as a docker-archive and
    copied back by skopeo: skopeo's blob-info cache knows the gzip blobs of those diff_ids,
    reuses them and writes the same manifest -- the one docker-archive round trip that keeps
    the manifest digest through skopeo."""
    image = TarImage(media="docker")
    seed, first, second = name(reg, "seed"), name(reg, "first"), name(reg, "second")
    image.push(rc.repository(seed), "1.0")
    ours = tmp_path / "ours.tar"
    rc.repository(seed).images.pull("1.0", ours, format="docker-archive")
    to_registry(skopeo, reg, f"docker-archive:{ours}", first, "1.0")
    digest = rc.repository(first).manifests.head("1.0").digest
    again = tmp_path / "again.tar"
    rc.repository(first).images.pull("1.0", again, format="docker-archive")
    to_registry(skopeo, reg, f"docker-archive:{again}", second, "1.0")
    assert rc.repository(second).manifests.head("1.0").digest == digest


def test_docker_archive_of_an_index_needs_a_platform(
    rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    repo = rc.repository(name(reg, "multi"))
    amd, arm = TarImage(platform="linux/amd64"), TarImage(platform="linux/arm64/v8")
    amd.push(repo, "amd")
    arm.push(repo, "arm")
    repo.images.create_index("multi", ["amd", "arm"])
    archive = tmp_path / "multi.tar"
    with pytest.raises(PlatformNotFoundError, match="linux/amd64, linux/arm64/v8"):
        repo.images.pull("multi", archive, format="docker-archive")
    assert list(tmp_path.iterdir()) == []  # nothing written, no work folder left
    repo.images.pull("multi", archive, format="docker-archive", platform="linux/arm64")
    files = members(archive)
    [entry] = json.loads(files["manifest.json"])
    assert files[entry["Config"]] == arm.config


# -- oci-archive -------------------------------------------------------------------------------


@pytest.mark.parametrize("media", ["oci", "docker"])
def test_oci_archive_round_trip_through_skopeo_keeps_the_digest(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path, media: str
) -> None:
    image = TarImage(media=media, indent=3)  # indented: only kept bytes keep the digest
    source, target = name(reg, f"oci-{media}"), name(reg, f"oci-{media}-back")
    image.push(rc.repository(source), "1.0")
    archive = tmp_path / "app.tar"
    rc.repository(source).images.pull("1.0", archive, format="oci-archive")
    names = set(members(archive))
    assert {"oci-layout", "index.json"} <= names
    assert f"blobs/sha256/{image.digest.split(':')[1]}" in names
    info = json.loads(run_skopeo(skopeo, "inspect", f"oci-archive:{archive}"))
    assert info["Digest"] == image.digest
    to_registry(skopeo, reg, f"oci-archive:{archive}", target, "1.0")
    assert rc.repository(target).manifests.get_raw("1.0").data == image.manifest
    # and our own push of our archive
    pushed = rc.repository(name(reg, "oci-ours")).images.push(archive, "1.0")
    assert pushed.digest == image.digest


def test_an_oci_archive_written_by_skopeo_pushes_with_our_push(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    image = TarImage(media="oci")
    target = written_by_skopeo(skopeo, rc, reg, image, "oci-archive", tmp_path / "s.tar")
    # an OCI image keeps its digest through skopeo
    assert target.manifests.head("1.0").digest == image.digest
    assert target.images.validate("1.0").ok


def test_an_oci_archive_of_an_index_keeps_every_platform(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    repo = rc.repository(name(reg, "oci-multi"))
    TarImage(platform="linux/amd64").push(repo, "amd")
    TarImage(platform="linux/arm64/v8").push(repo, "arm")
    index = repo.images.create_index("multi", ["amd", "arm"])
    archive = tmp_path / "multi.tar"
    repo.images.pull("multi", archive, format="oci-archive")
    target = name(reg, "oci-multi-back")
    run_skopeo(skopeo, "copy", "--all", "--dest-tls-verify=false", *skopeo_creds(reg, "dest"),
               f"oci-archive:{archive}", f"docker://{reg.host}/{target}:multi")
    assert rc.repository(target).manifests.head("multi").digest == index.digest
    pushed = rc.repository(name(reg, "oci-multi-ours")).images.push(archive, "multi")
    assert pushed.digest == index.digest
    assert [str(p) for p in pushed.platforms] == ["linux/amd64", "linux/arm64/v8"]


def docker_save_25(path: Path, images: dict[str, TarImage]) -> None:
    """``docker save NAME...`` as Docker 25 and later write it (moby's
    image/tarexport): an OCI layout -- an index.json entry per name, ref.name its tag,
    the full name in ``io.containerd.image.name`` -- beside docker's manifest.json."""
    files: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    index, manifest_json = [], []
    for full, image in images.items():
        for blob in (image.config, image.manifest, *image.blobs_of_layers):
            files[f"blobs/sha256/{sha256(blob)[7:]}"] = blob
        index.append({"mediaType": image.media_type, "digest": image.digest,
                      "size": len(image.manifest),
                      "annotations": {"io.containerd.image.name": f"docker.io/{full}",
                                      "org.opencontainers.image.ref.name":
                                          full.rpartition(":")[2]}})
        manifest_json.append({"Config": f"blobs/sha256/{image.config_digest[7:]}",
                              "RepoTags": [full],
                              "Layers": [f"blobs/sha256/{d[7:]}" for d in image.layer_digests]})
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": index}).encode()
    files["manifest.json"] = json.dumps(manifest_json).encode()
    path.write_bytes(tar_of(files))


def test_a_docker_save_of_docker_25_pushes_the_image_of_the_repository_pushed_to(
    rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    """Docker 25's ``docker save a/b:1 c/d:1`` names both index entries ``1``: a push to
    c/d:1 took the first -- image a/b:1 -- with no error, where skopeo's
    ``docker-archive:...:c/d:1`` takes c/d:1. The manifest is pushed as docker saved it
    (its digest kept)."""
    ab, cd = TarImage(plain=True), TarImage(plain=True)
    archive = tmp_path / "two.tar"
    base = name(reg, "docker25")
    docker_save_25(archive, {f"{base}/a/b:1": ab, f"{base}/c/d:1": cd})
    for path, image in ((f"{base}/c/d", cd), (f"{base}/a/b", ab)):
        pushed = rc.repository(path).images.push(archive, "1")
        assert (pushed.digest, rc.repository(path).manifests.head("1").digest) == (
            image.digest, image.digest)
    with pytest.raises(LayoutError, match=rf"two.tar: '1' names 2 images .*docker.io/{base}/c/d:1"):
        rc.repository(f"{base}/e/f").images.push(archive, "1")
    one = tmp_path / "one.tar"  # docker save x:1 x:2: one image, two entries
    docker_save_25(one, {"x:1": ab, "x:2": ab})
    assert rc.repository(f"{base}/y").images.push(one, "3").digest == ab.digest


# -- refusals ----------------------------------------------------------------------------------


def test_push_refuses_a_tar_that_is_no_archive_and_sends_nothing(
    rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    bogus = tmp_path / "bogus.tar"
    with tarfile.open(bogus, "w") as tar:
        tar.add(__file__, arcname="README")
    repo = rc.repository(name(reg, "refused"))
    with pytest.raises(ArchiveError, match="neither a docker-archive"):
        repo.images.push(bogus, "1.0")
    not_a_tar = tmp_path / "text.tar"
    not_a_tar.write_text("hello")
    with pytest.raises(ArchiveError, match="not a tar"):
        repo.images.push(not_a_tar, "1.0")
    with pytest.raises(NotFoundError):  # nothing was sent: the repository does not exist
        repo.tags.get_all()


def test_a_docker_archive_whose_layer_is_not_its_diff_id_is_refused(
    rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    image = TarImage(media="docker")
    source = name(reg, "tampered-src")
    image.push(rc.repository(source), "1.0")
    archive = tmp_path / "app.tar"
    rc.repository(source).images.pull("1.0", archive, format="docker-archive")
    files = members(archive)
    [entry] = json.loads(files["manifest.json"])
    files[entry["Layers"][1]] = files[entry["Layers"][0]]  # another layer's tar in its place
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(tampered, "w") as tar:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(DigestMismatchError, match="the config says"):
        rc.repository(name(reg, "tampered")).images.push(tampered, "1.0")
    assert sha256(files[entry["Config"]]) == image.config_digest


def test_pull_refuses_a_folder_or_an_unknown_format_before_any_request(
    rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    repo = rc.repository(name(reg, "never-pushed"))  # no such image: a request would 404
    with pytest.raises(ArchiveError, match="is a directory"):
        repo.images.pull("1.0", tmp_path, format="oci-archive")
    with pytest.raises(ValueError, match="format must be one of"):
        repo.images.pull("1.0", tmp_path / "x.zip", format="zip")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_archives_indexes_validation_and_artifacts_in_both_flavours(
    flavour: Flavour, reg: LocalRegistry, tmp_path: Path
) -> None:
    client = flavour.connect(reg)
    repo = client.repository(name(reg, f"flavour-{flavour.name}"))
    amd, arm = TarImage(), TarImage(platform="linux/arm64", media="docker")
    amd.push(repo, "amd")
    arm.push(repo, "arm")
    index = repo.images.create_index("multi", ["amd", "arm"])
    assert [str(p) for p in index.platforms] == ["linux/amd64", "linux/arm64"]
    report = repo.images.validate("multi")
    assert report.ok and report.manifests == (amd.digest, arm.digest)

    oci = tmp_path / "oci.tar"
    assert repo.images.pull("multi", oci, format="oci-archive").digest == index.digest
    assert repo.images.push(oci, "from-oci").digest == index.digest
    docker = tmp_path / "docker.tar"
    repo.images.pull("multi", docker, format="docker-archive", platform="linux/arm64")
    one = repo.images.push(docker, "from-docker-1")
    two = repo.images.push(docker, "from-docker-2")
    assert one.digest == two.digest

    sbom = tmp_path / "sbom.json"
    sbom.write_text("{}")
    artifact = repo.images.attach(amd.digest, "application/spdx+json", [sbom])
    out = tmp_path / "out"
    assert repo.images.fetch_artifact(artifact.digest, out) == [out / "sbom.json"]
    assert (out / "sbom.json").read_text() == "{}"
