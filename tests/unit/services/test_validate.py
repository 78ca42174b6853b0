"""The validation flow over an OCI layout on disk (no registry): what it reports."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from registry_client import LayoutError, PlatformNotFoundError, validate_layout
from registry_client.layout import OCILayout

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def image(layout: OCILayout, layer: bytes, diff_id: str, arch: str = "amd64",
          layer_type: str = "application/vnd.oci.image.layer.v1.tar+gzip") -> bytes:
    config = json.dumps({"architecture": arch, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    for blob in (config, layer):
        layout.write_blob(sha(blob), blob)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha(config), "size": len(config)},
                           "layers": [{"mediaType": layer_type,
                                       "digest": sha(layer), "size": len(layer)}]}).encode()
    layout.write_blob(sha(manifest), manifest)
    return manifest


def index(layout: OCILayout, entries: list[tuple[bytes, str, str]], tag: str) -> str:
    doc = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": media, "digest": sha(m), "size": len(m),
         "platform": {"architecture": arch, "os": "linux"}} for m, media, arch in entries]}
    ).encode()
    layout.write_blob(sha(doc), doc)
    layout.add_manifest({"mediaType": OCI_INDEX, "digest": sha(doc), "size": len(doc)}, tag)
    return sha(doc)


def test_a_good_index_passes_and_platform_picks_one(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    tar = tar_of("a", b"a")
    amd = image(layout, gzip.compress(tar), sha(tar))
    arm_tar = tar_of("b", b"b")
    arm = image(layout, gzip.compress(arm_tar), sha(arm_tar), "arm64")
    digest = index(layout, [(amd, OCI_MANIFEST, "amd64"), (arm, OCI_MANIFEST, "arm64")], "1.0")
    report = validate_layout(tmp_path)
    assert report.ok and report.digest == digest and report.blobs == 4
    assert validate_layout(tmp_path, "1.0", "linux/arm64").manifests == (sha(arm),)
    with pytest.raises(PlatformNotFoundError):
        validate_layout(tmp_path, "1.0", "linux/ppc64le")
    with pytest.raises(LayoutError):
        validate_layout(tmp_path, "2.0")


def test_problems_are_reported_not_raised(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    tar = tar_of("a", b"a")
    truncated = gzip.compress(tar)[:-12]  # a gzip stream cut short
    broken = image(layout, truncated, sha(tar))
    unknown = b'{"schemaVersion": 2, "mediaType": "application/vnd.example.thing+json"}'
    layout.write_blob(sha(unknown), unknown)
    lying = image(layout, gzip.compress(tar_of("c", b"c")), sha(b"not the tar"))
    missing = b'{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST.encode() + b'"}'
    index(layout, [(broken, OCI_MANIFEST, "amd64"),
                   (unknown, "application/vnd.example.thing+json", "arm64"),
                   (lying, OCI_MANIFEST, "s390x"),
                   (missing, OCI_MANIFEST, "riscv64")], "1.0")
    report = validate_layout(tmp_path, "1.0")
    assert not report.ok
    messages = [p.message for p in report.problems]
    assert any("truncated" in m for m in messages)
    assert any("not checked" in m for m in messages)
    assert any("diff_id" in m for m in messages)
    assert any("manifest is missing" in m for m in messages)
    assert len(messages) == 4


@pytest.mark.parametrize(("change", "problem"), [
    ({"schemaVersion": 2.0}, "malformed manifest"),  # the registry refuses it on a push
    ({"annotations": {"a": 1}}, "malformed manifest"),
    ({"config": "data"}, "embedded data"),
    ({"layers": "data"}, "embedded data"),
])
def test_what_manifests_get_refuses_and_lying_embedded_data_are_problems(
    tmp_path: Path, change: dict[str, object], problem: str,
) -> None:
    """A manifest ``manifests.get`` refuses as malformed (and the registry on a push), and
    a descriptor whose ``data`` is not the content its digest names (the image spec: it
    MUST be), were reported ok."""
    layout = OCILayout(tmp_path)
    layout.init()
    tar = tar_of("a", b"a")
    doc = json.loads(image(layout, gzip.compress(tar), sha(tar)))
    for key, value in change.items():
        if value == "data":  # another content than the digest names, embedded
            target = doc[key] if key == "config" else doc[key][0]
            target["data"] = base64.b64encode(b'{"forged": 1}').decode()
        else:
            doc[key] = value
    manifest = json.dumps(doc).encode()
    layout.write_blob(sha(manifest), manifest)
    layout.add_manifest({"mediaType": OCI_MANIFEST, "digest": sha(manifest),
                         "size": len(manifest)}, "1.0")
    report = validate_layout(tmp_path, "1.0")
    assert not report.ok
    assert [p.message for p in report.problems if problem in p.message], report.problems


def test_a_config_nested_too_deeply_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    tar = tar_of("a", b"a")
    layer, config = gzip.compress(tar), b"[" * 100_000 + b"]" * 100_000
    for blob in (config, layer):
        layout.write_blob(sha(blob), blob)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": sha(layer), "size": len(layer)}]}).encode()
    layout.write_blob(sha(manifest), manifest)
    layout.add_manifest({"mediaType": OCI_MANIFEST, "digest": sha(manifest),
                         "size": len(manifest)}, "1.0")
    report = validate_layout(tmp_path, "1.0")  # (a RecursionError in json before)
    assert not report.ok


@pytest.mark.parametrize("layer_type", ["application/vnd.in-toto+json",
                                        "application/vnd.wasm.content.layer.v1+wasm"])
def test_a_layer_of_a_type_that_is_no_tar_is_checked_by_digest_alone(
    tmp_path: Path, layer_type: str,
) -> None:
    """A BuildKit attestation (an image config of unknown/unknown whose layers are in-toto
    JSON) or a WASM module is no tar: the image spec says to ignore what a media type one
    does not know holds, so only its digest and size count."""
    layout = OCILayout(tmp_path)
    layout.init()
    statement = json.dumps({"_type": "https://in-toto.io/Statement/v0.1"}).encode()
    attestation = image(layout, statement, sha(statement), "unknown", layer_type)
    tar = tar_of("a", b"a")
    amd = image(layout, gzip.compress(tar), sha(tar))
    index(layout, [(amd, OCI_MANIFEST, "amd64"), (attestation, OCI_MANIFEST, "unknown")],
          "1.0")
    report = validate_layout(tmp_path)
    assert report.ok, report.problems
    assert report.blobs == 4
    # its digest still counts
    (tmp_path / "blobs" / "sha256" / sha(statement).split(":")[1]).write_bytes(b"{}")
    [problem] = validate_layout(tmp_path).problems
    assert problem.digest == sha(statement) and "corrupt" in problem.message


def test_several_images_need_a_name(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    for tag, arch in (("1.0", "amd64"), ("2.0", "arm64")):
        manifest = image(layout, gzip.compress(tar_of("a", b"a")), sha(tar_of("a", b"a")), arch)
        layout.add_manifest({"mediaType": OCI_MANIFEST, "digest": sha(manifest),
                             "size": len(manifest)}, tag)
    with pytest.raises(LayoutError, match=r"holds 2 images: name one \(have: 1\.0, 2\.0\)"):
        validate_layout(tmp_path)
    assert validate_layout(tmp_path, "2.0").ok


def test_a_name_with_a_colon_is_a_name_and_a_name_of_two_images_is_refused(
    tmp_path: Path,
) -> None:
    """``app:latest`` (skopeo's ``oci:DIR:app:latest``) was read as a digest of the
    algorithm ``app`` (UnsupportedDigestError); and of two entries with one name (Docker
    25's save of a/x:1 and b/y:1) only the first was validated -- which a push of the
    layout refuses as ambiguous."""
    layout = OCILayout(tmp_path)
    layout.init()
    good = image(layout, gzip.compress(tar_of("a", b"a")), sha(tar_of("a", b"a")))
    layout.add_manifest({"mediaType": OCI_MANIFEST, "digest": sha(good), "size": len(good)},
                        "app:latest")
    assert validate_layout(tmp_path, "app:latest").manifests == (sha(good),)
    assert validate_layout(tmp_path, sha(good)).ok  # a digest stays a digest
    bad = image(layout, b"not gzip", sha(tar_of("b", b"b")), "arm64")
    doc = layout.read_index()
    doc["manifests"] += [
        {"mediaType": OCI_MANIFEST, "digest": sha(m), "size": len(m),
         "annotations": {"org.opencontainers.image.ref.name": "1"}} for m in (good, bad)]
    layout.write_index(doc)
    with pytest.raises(LayoutError, match="'1' names 2 images"):
        validate_layout(tmp_path, "1")


def test_a_single_image_of_another_platform_is_refused_as_pull_refuses_it(
    tmp_path: Path,
) -> None:
    layout = OCILayout(tmp_path)
    layout.init()
    manifest = image(layout, gzip.compress(tar_of("a", b"a")), sha(tar_of("a", b"a")))
    layout.add_manifest({"mediaType": OCI_MANIFEST, "digest": sha(manifest),
                         "size": len(manifest)}, "1.0")
    with pytest.raises(PlatformNotFoundError, match=r"a single linux/amd64 image, not "
                                                    r"linux/arm64"):
        validate_layout(tmp_path, "1.0", "linux/arm64")
    assert validate_layout(tmp_path, "1.0", "linux/amd64").ok
    # named in full: the layout's path and the name, or @ the digest
    with pytest.raises(PlatformNotFoundError, match=f"^{tmp_path}:1.0 is a single"):
        validate_layout(tmp_path, "1.0", "linux/arm64")
    with pytest.raises(PlatformNotFoundError, match=f"^{tmp_path}@{sha(manifest)} is a"):
        validate_layout(tmp_path, sha(manifest), "linux/arm64")


def test_a_foreign_layer_keeps_its_place_in_the_diff_ids(tmp_path: Path) -> None:
    """A Windows image's foreign base layer is not in the layout (nor in a registry's
    repository) and is not read, but the config lists its diff_id first: the other
    layers' diff_ids are compared with the right entries, and the count includes it."""
    layout = OCILayout(tmp_path)
    base = tar_of("Files/base.dll", b"dll")
    app = tar_of("Files/app.exe", b"exe")
    app_gz = gzip.compress(app, mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "windows",
                         "rootfs": {"type": "layers", "diff_ids": [sha(base), sha(app)]}}
                        ).encode()
    for blob in (config, app_gz):
        layout.write_blob(sha(blob), blob)
    base_gz = gzip.compress(base, mtime=0)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha(config), "size": len(config)},
                           "layers": [
                               {"mediaType": "application/vnd.oci.image.layer."
                                             "nondistributable.v1.tar+gzip",
                                "digest": sha(base_gz), "size": len(base_gz),
                                "urls": ["https://example.invalid/base"]},
                               {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": sha(app_gz), "size": len(app_gz)}]}).encode()
    layout.write_blob(sha(manifest), manifest)
    layout.add_manifest({"mediaType": OCI_MANIFEST, "digest": sha(manifest),
                         "size": len(manifest)}, "v1")
    report = validate_layout(tmp_path, "v1")
    assert report.ok, [p.message for p in report.problems]

    # the app layer is still compared with its own diff_id
    wrong = json.loads(config)
    wrong["rootfs"]["diff_ids"][1] = sha(b"other")
    data = json.dumps(wrong).encode()
    layout.write_blob(sha(data), data)
    doc = json.loads(manifest)
    doc["config"].update(digest=sha(data), size=len(data))
    other = json.dumps(doc).encode()
    layout.write_blob(sha(other), other)
    layout.add_manifest({"mediaType": OCI_MANIFEST, "digest": sha(other),
                         "size": len(other)}, "v2")
    [problem] = validate_layout(tmp_path, "v2").problems
    assert problem.digest == sha(app_gz) and "diff_id" in problem.message
