"""Interop with skopeo (1.9) both ways: layouts written by ``images.pull`` are read by
skopeo, and layouts written by ``skopeo copy ... oci:DIR:TAG`` are pushed by ``images.push``.

Anonymous registry and token registry (skopeo gets ``--src-creds``/``--dest-creds``).
Remember that ``skopeo copy docker://... oci:...`` converts Docker schema2 to OCI, so the
layout's digest, not the registry's original one, is what ``images.push`` must keep.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _write_helpers import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    BuiltImage,
    build_image,
    file_digest,
    find_skopeo,
    layout_blobs,
    layout_entry,
    layout_manifest_closure,
    run_skopeo,
    skopeo_creds,
    two_platform_index,
    upload_image,
)

from registry_client import Registry
from registry_client.testing import LocalRegistry

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def skopeo() -> str:
    return find_skopeo()


def name(reg: LocalRegistry, what: str) -> str:
    return f"skopeo-{reg.auth}/{what}-{uuid.uuid4().hex[:8]}"


def docker_ref(reg: LocalRegistry, repository: str, tag: str) -> str:
    return f"docker://{reg.host}/{repository}:{tag}"


def manifest_json(directory: Path, digest: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (directory / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()
    )
    return doc


# -- layouts written by images.pull, read by skopeo ------------------------------------------------


def test_skopeo_inspects_a_layout_written_by_pull(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    image = build_image((3000, 5000), media="oci", gzipped=True)
    repo = name(reg, "inspect")
    upload_image(rc.repository(repo), image, "1.0")
    rc.repository(repo).images.pull("1.0", tmp_path)
    raw = run_skopeo(skopeo, "inspect", "--raw", f"oci:{tmp_path}:1.0")
    assert raw.encode() == image.manifest
    for target in (f"oci:{tmp_path}:1.0", f"oci:{tmp_path}"):
        info = json.loads(run_skopeo(skopeo, "inspect", target))
        assert info["Digest"] == image.digest
        assert (info["Os"], info["Architecture"]) == ("linux", "amd64")
        assert info["Layers"] == image.layers
    config = json.loads(run_skopeo(skopeo, "inspect", "--config", "--raw",
                                   f"oci:{tmp_path}:1.0"))
    assert config["rootfs"]["diff_ids"] == image.layers


def test_skopeo_copies_a_pulled_layout_into_the_registry(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    image = build_image((4000, 6000), media="oci", gzipped=True)
    source, target = name(reg, "pulled"), name(reg, "from-skopeo")
    upload_image(rc.repository(source), image, "1.0")
    rc.repository(source).images.pull("1.0", tmp_path)
    run_skopeo(skopeo, "copy", f"oci:{tmp_path}:1.0", docker_ref(reg, target, "1.0"),
               "--dest-tls-verify=false", *skopeo_creds(reg, "dest"))
    raw = rc.repository(target).manifests.get_raw("1.0")
    assert (raw.digest, raw.data) == (image.digest, image.manifest)  # an OCI source is kept
    for digest, data in image.blobs.items():
        assert rc.repository(target).blobs.get(digest) == data


def test_skopeo_reads_a_pulled_docker_schema2_layout(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    """A Docker schema2 image is stored as served (its digest kept), with its Docker media type
    in index.json.  skopeo 1.9 looks a ``:TAG`` up among OCI-typed entries only, so it is
    addressed as the layout's only image (``oci:DIR``)."""
    image = build_image((2500,), media="docker", gzipped=True)
    source = name(reg, "docker-pulled")
    upload_image(rc.repository(source), image, "1.0")
    rc.repository(source).images.pull("1.0", tmp_path)
    assert layout_entry(tmp_path, "1.0")["mediaType"] == DOCKER_MANIFEST
    for n, where in enumerate((f"oci:{tmp_path}",)):
        info = json.loads(run_skopeo(skopeo, "inspect", where))
        assert (info["Digest"], info["Layers"]) == (image.digest, image.layers)
        target = name(reg, f"docker-from-skopeo-{n}")
        run_skopeo(skopeo, "copy", where, docker_ref(reg, target, "1.0"),
                   "--dest-tls-verify=false", *skopeo_creds(reg, "dest"))
        raw = rc.repository(target).manifests.get_raw("1.0")
        assert (raw.digest, raw.media_type) == (image.digest, DOCKER_MANIFEST)
    # and our own push reads the Docker manifest back with its real media type
    pushed = rc.repository(name(reg, "docker-repushed")).images.push(tmp_path, "1.0")
    assert (pushed.digest, pushed.media_type) == (image.digest, DOCKER_MANIFEST)


def test_skopeo_copies_a_pulled_index_layout_with_all_platforms(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    index = two_platform_index(media="oci", layer_size=20_000, gzipped=True)
    source, target = name(reg, "index-pulled"), name(reg, "index-from-skopeo")
    upload_image(rc.repository(source), index, "multi")
    rc.repository(source).images.pull("multi", tmp_path)
    run_skopeo(skopeo, "copy", "--all", f"oci:{tmp_path}:multi",
               docker_ref(reg, target, "multi"), "--dest-tls-verify=false",
               *skopeo_creds(reg, "dest"))
    repo = rc.repository(target)
    copied = repo.images.get_by_tag("multi")
    assert (copied.digest, copied.media_type) == (index.digest, OCI_INDEX)  # bytes kept
    assert [str(p) for p in copied.platforms] == ["linux/amd64", "linux/arm64/v8"]
    for child in index.children:
        assert repo.manifests.get_raw(child.digest).data == child.manifest
    for digest, data in index.blobs.items():
        assert repo.blobs.get(digest) == data


# -- layouts written by skopeo, pushed by images.push ----------------------------------------------


def _assert_pulled_back_identical(
    rc: Registry, repository: str, tag: str, skopeo_dir: Path, digest: str, back: Path
) -> None:
    pulled = rc.repository(repository).images.pull(tag, back)
    assert pulled.digest == digest
    assert layout_entry(back, tag)["digest"] == digest
    expected = layout_manifest_closure(skopeo_dir, digest)
    back_blobs = layout_blobs(back)
    assert set(back_blobs) == expected
    for blob in expected:
        original = skopeo_dir / "blobs" / "sha256" / blob.split(":", 1)[1]
        assert file_digest(original) == blob
        assert back_blobs[blob].read_bytes() == original.read_bytes()


def test_push_a_layout_written_by_skopeo(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    app = build_image((7000, 1000), media="docker", gzipped=True)
    other = build_image((500,), media="docker", gzipped=True)
    source, target = name(reg, "app"), name(reg, "app-pushed")
    upload_image(rc.repository(source), app, "1.0")
    upload_image(rc.repository(source), other, "2.0")
    layout = tmp_path / "layout"
    for tag in ("1.0", "2.0"):  # two images in one layout: push must pick by tag
        run_skopeo(skopeo, "copy", docker_ref(reg, source, tag), f"oci:{layout}:{tag}",
                   "--src-tls-verify=false", *skopeo_creds(reg, "src"))
    entry = layout_entry(layout, "1.0")
    digest = entry["digest"]
    assert entry["mediaType"] == OCI_MANIFEST
    assert digest != app.digest  # skopeo converted schema2 to OCI
    converted = manifest_json(layout, digest)
    assert [layer["digest"] for layer in converted["layers"]] == app.layers
    config = manifest_json(layout, converted["config"]["digest"])  # rewritten as OCI config
    assert config["rootfs"]["diff_ids"] == app.layers

    image = rc.repository(target).images.push(layout, "1.0")
    assert (image.digest, image.tag, image.media_type) == (digest, "1.0", OCI_MANIFEST)
    assert (image.domain, image.repository) == (reg.host, target)
    assert [str(p) for p in image.platforms] == ["linux/amd64"]
    raw = rc.repository(target).manifests.get_raw("1.0")
    assert raw.data == (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()
    _assert_pulled_back_identical(rc, target, "1.0", layout, digest, tmp_path / "back")
    second = rc.repository(target).images.push(layout, "2.0")
    assert second.digest == layout_entry(layout, "2.0")["digest"]
    assert second.digest != digest


def test_push_an_index_layout_written_by_skopeo_copy_all(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    index: BuiltImage = two_platform_index(media="docker", layer_size=30_000, gzipped=True)
    source, target = name(reg, "multi"), name(reg, "multi-pushed")
    upload_image(rc.repository(source), index, "m")
    layout = tmp_path / "layout"
    run_skopeo(skopeo, "copy", "--all", docker_ref(reg, source, "m"), f"oci:{layout}:m",
               "--src-tls-verify=false", *skopeo_creds(reg, "src"))
    entry = layout_entry(layout, "m")
    digest = entry["digest"]
    assert entry["mediaType"] == OCI_INDEX and digest != index.digest
    children = manifest_json(layout, digest)["manifests"]
    assert len(children) == 2

    image = rc.repository(target).images.push(layout, "m")
    assert (image.digest, image.tag, image.media_type) == (digest, "m", OCI_INDEX)
    assert (image.domain, image.repository) == (reg.host, target)
    assert [p.digest for p in image.platforms] == [c["digest"] for c in children]
    for child in children:
        assert rc.repository(target).manifests.head(child["digest"]).digest == child["digest"]
    _assert_pulled_back_identical(rc, target, "m", layout, digest, tmp_path / "back")
    # and skopeo reads what we pushed, every platform, with the same digests
    info = json.loads(run_skopeo(skopeo, "inspect", "--raw", docker_ref(reg, target, "m"),
                                 "--tls-verify=false", *_creds(reg)))
    assert [m["digest"] for m in info["manifests"]] == [c["digest"] for c in children]


def _creds(reg: LocalRegistry) -> list[str]:
    return [] if reg.admin is None else ["--creds", f"{reg.admin[0]}:{reg.admin[1]}"]


def test_images_skopeo_names_by_full_reference_are_pushed_by_their_tag(
    skopeo: str, rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    """``skopeo copy ... oci:DIR:example.com/foo/bar:one`` names the layout's entry by the
    whole reference; with two such images a push of tag ``one`` finds its own."""
    one = build_image((3000,), media="oci", gzipped=True, label="one")
    two = build_image((3000,), media="oci", gzipped=True, label="two")
    source = name(reg, "fullref")
    upload_image(rc.repository(source), one, "1")
    upload_image(rc.repository(source), two, "2")
    for tag, ref_name in (("1", "example.com/foo/bar:one"), ("2", "example.com/foo/bar:two")):
        run_skopeo(skopeo, "copy", docker_ref(reg, source, tag), f"oci:{tmp_path}:{ref_name}",
                   "--src-tls-verify=false", *skopeo_creds(reg, "src"))
    target = rc.repository(name(reg, "fullref-pushed"))
    assert target.images.push(tmp_path, "two").digest == two.digest
    assert target.images.push(tmp_path, "one").digest == one.digest
