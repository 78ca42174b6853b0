"""``images.create_index`` (read back by skopeo) and ``images.fetch_artifact`` (an attached SBOM,
and a title that tries to leave its folder) on the real registry."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tar_images import TarImage
from _write_helpers import skopeo_creds

from registry_client import (
    ArtifactNameError,
    NotAnImageError,
    RawManifest,
    Registry,
)
from registry_client.testing import LocalRegistry

pytestmark = pytest.mark.integration
SBOM = "application/spdx+json"
TITLE = "org.opencontainers.image.title"


def name(reg: LocalRegistry, what: str) -> str:
    return f"index-{reg.auth}/{what}-{uuid.uuid4().hex[:8]}"


def test_create_index_of_amd64_and_arm64_skopeo_sees_both(
    rc: Registry, reg: LocalRegistry
) -> None:
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo is not installed"
    repository = name(reg, "app")
    repo = rc.repository(repository)
    amd = TarImage(platform="linux/amd64")
    arm = TarImage(platform="linux/arm64/v8", media="docker")
    amd.push(repo, "amd64")
    arm.push(repo, "arm64")
    image = repo.images.create_index("multi", ["amd64", arm.digest],
                                     annotations={"org.example.built-by": "ci"})
    assert [str(p) for p in image.platforms] == ["linux/amd64", "linux/arm64/v8"]
    assert image.media_type == "application/vnd.oci.image.index.v1+json"
    creds = skopeo_creds(reg, "src")[1:]  # inspect's flag is --creds
    result = subprocess.run(
        [skopeo, "inspect", "--raw", "--tls-verify=false",
         *(["--creds", *creds] if creds else []), f"docker://{reg.host}/{repository}:multi"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    raw = json.loads(result.stdout)
    assert hashlib.sha256(result.stdout.encode()).hexdigest() == image.digest.split(":")[1]
    platforms = [(m["platform"]["os"], m["platform"]["architecture"],
                  m["platform"].get("variant")) for m in raw["manifests"]]
    assert platforms == [("linux", "amd64", None), ("linux", "arm64", "v8")]
    assert [m["digest"] for m in raw["manifests"]] == [amd.digest, arm.digest]
    assert raw["annotations"] == {"org.example.built-by": "ci"}


def test_create_index_brings_images_of_other_repositories_of_the_registry(
    rc: Registry, reg: LocalRegistry
) -> None:
    # as `crane index append -m` and `docker buildx imagetools create` do: an image of
    # another repository is copied in by digest (its blobs mounted), then listed
    amd_repo, arm_repo = rc.repository(name(reg, "amd")), rc.repository(name(reg, "arm"))
    target = rc.repository(name(reg, "multi"))
    amd, arm = TarImage(platform="linux/amd64"), TarImage(platform="linux/arm64/v8")
    amd.push(amd_repo, "1")
    arm.push(arm_repo, "1")
    image = target.images.create_index(
        "multi", [f"{reg.host}/{amd_repo.name}:1", f"{arm_repo.name}@{arm.digest}"])
    assert [str(p) for p in image.platforms] == ["linux/amd64", "linux/arm64/v8"]
    for child in (amd, arm):
        assert target.manifests.get_raw(child.digest).digest == child.digest
    assert target.images.validate("multi").ok
    again = target.images.create_index("again", [f"{amd_repo.name}:1", arm.digest])
    assert again.digest == image.digest  # the arm64 image is in the repository now
    with pytest.raises(ValueError, match="another registry"):
        target.images.create_index("elsewhere", ["ghcr.io/org/app:1"])


def test_create_index_refuses_an_index_and_a_platform_twice(
    rc: Registry, reg: LocalRegistry
) -> None:
    repo = rc.repository(name(reg, "refused"))
    TarImage().push(repo, "a")
    TarImage().push(repo, "b")
    with pytest.raises(NotAnImageError, match=r"linux/amd64.*same platform"):
        repo.images.create_index("multi", ["a", "b"])
    TarImage(platform="linux/arm64").push(repo, "c")
    repo.images.create_index("multi", ["a", "c"])
    with pytest.raises(NotAnImageError, match="is an index"):
        repo.images.create_index("nested", ["multi"])


def test_fetch_artifact_of_an_attached_sbom_writes_its_files(
    rc: Registry, reg: LocalRegistry, tmp_path: Path
) -> None:
    repo = rc.repository(name(reg, "sbom"))
    image = TarImage()
    image.push(repo, "1.0")
    sbom = tmp_path / "sbom.spdx.json"
    sbom.write_text('{"spdxVersion": "SPDX-2.3"}')
    notes = tmp_path / "notes.txt"
    notes.write_text("built by ci")
    artifact = repo.images.attach(image.digest, SBOM, [sbom, notes])
    [found] = repo.manifests.referrers(image.digest, SBOM)
    assert found.digest == artifact.digest
    out = tmp_path / "out"
    paths = repo.images.fetch_artifact(found.digest, out)
    assert paths == [out / "sbom.spdx.json", out / "notes.txt"]
    assert [p.read_bytes() for p in paths] == [sbom.read_bytes(), notes.read_bytes()]
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "sbom.spdx.json"]


@pytest.mark.parametrize("title", ["../../x", "/etc/passwd", "a/b", "..", "", "c:\\x"])
def test_fetch_artifact_refuses_a_title_that_leaves_the_folder(
    rc: Registry, reg: LocalRegistry, tmp_path: Path, title: str
) -> None:
    repo = rc.repository(name(reg, "evil"))
    good, evil = b"fine", b"evil"
    empty = b"{}"
    for blob in (good, evil, empty):
        repo.blobs.upload(blob)

    def layer(data: bytes, file: str) -> dict[str, object]:
        return {"mediaType": "text/plain", "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                "size": len(data), "annotations": {TITLE: file}}

    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": SBOM,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": "sha256:" + hashlib.sha256(empty).hexdigest(), "size": 2},
        "layers": [layer(good, "good.txt"), layer(evil, title)],
    }).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    repo.manifests.put(digest, RawManifest(manifest, "application/vnd.oci.image.manifest.v1+json",
                                           digest))
    out = tmp_path / "out"
    with pytest.raises(ArtifactNameError):
        repo.images.fetch_artifact(digest, out)
    assert not out.exists()  # nothing written, not even the good file
    assert not (tmp_path / "x").exists()
