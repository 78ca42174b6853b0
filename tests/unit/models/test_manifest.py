"""Manifests (models/manifest.py): building, blobs and sizes, index platforms, RawManifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registry_client import RegistryResponseError
from registry_client import mediatypes as mt
from registry_client._digest import compute_digest
from registry_client.models import (
    Descriptor,
    ManifestList,
    ManifestV2,
    OCIIndex,
    OCIManifest,
    Platform,
    RawManifest,
    converter,
    manifest_from_bytes,
    manifest_to_bytes,
)

DATA = Path(__file__).resolve().parents[2] / "data"
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_build_and_serialise_a_manifest() -> None:
    config = Descriptor(mt.OCI_CONFIG, D1, 100)
    layers = [Descriptor(mt.OCI_LAYER_GZIP, D2, 1000)]
    m = OCIManifest(config=config, layers=layers, annotations={"a": "b"})
    assert converter.unstructure(m) == {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": D1, "size": 100},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": D2, "size": 1000}],
        "annotations": {"a": "b"},
    }
    assert manifest_from_bytes(manifest_to_bytes(m)) == m
    docker = ManifestV2(config=config, layers=layers)
    assert manifest_from_bytes(manifest_to_bytes(docker), mt.DOCKER_MANIFEST_V2) == docker


def test_blobs_and_total_size() -> None:
    m = manifest_from_bytes(load("docker_manifest_v2_nginx.json"))
    assert isinstance(m, ManifestV2)
    assert m.blobs() == [m.config, *m.layers]
    assert len(m.blobs()) == 7
    assert m.total_size == 7916 + 31403586 + 25772325 + 626 + 955 + 1208 + 1403


def test_index_platforms_skip_attestations() -> None:
    m = manifest_from_bytes(load("oci_index_hello_world.json"))
    assert isinstance(m, OCIIndex)
    assert len(m.manifests) == 20
    platforms = m.platforms()
    assert [str(p) for p in platforms] == [
        "linux/amd64",
        "linux/arm/v5",
        "linux/arm/v7",
        "linux/arm64/v8",
        "linux/386",
        "linux/mips64le",
        "linux/ppc64le",
        "linux/riscv64",
        "linux/s390x",
        "windows/amd64",
        "windows/amd64",
    ]
    first = platforms[0]
    assert first.digest == m.manifests[0].digest
    assert first.media_type == mt.OCI_MANIFEST and first.size == 861
    assert platforms[-2].os_version == "10.0.20348.2227"
    assert platforms[-2].media_type == mt.DOCKER_MANIFEST_V2


def test_find_platform() -> None:
    m = manifest_from_bytes(load("docker_manifest_list_dotnet_runtime.json"))
    assert isinstance(m, ManifestList)
    arm64 = m.find_platform("linux/arm64")
    assert arm64 is not None and arm64.digest.startswith("sha256:35f01ad9")
    arm = m.find_platform(Platform("arm", "linux", "v7"))
    assert arm is not None and arm.digest.startswith("sha256:0491818c")
    win = m.find_platform(Platform("amd64", "windows", os_version="10.0.19041"))
    assert win is not None and win.digest.startswith("sha256:ccccd4ee")
    assert m.find_platform("linux/s390x") is None
    assert m.find_platform("linux/arm/v6") is None


def test_find_platform_prefers_the_entry_that_is_exactly_the_platform() -> None:
    def entry(digit: str, variant: str | None) -> dict[str, Any]:
        platform = {"os": "linux", "architecture": "amd64"}
        if variant:
            platform["variant"] = variant
        return {"mediaType": mt.OCI_MANIFEST, "digest": "sha256:" + digit * 64, "size": 1,
                "platform": platform}

    doc = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
           "manifests": [entry("3", "v3"), entry("1", None)]}
    m = manifest_from_bytes(json.dumps(doc).encode())
    found = m.find_platform("linux/amd64")  # type: ignore[union-attr]
    assert found is not None and found.digest == "sha256:" + "1" * 64
    found = m.find_platform("linux/amd64/v3")  # type: ignore[union-attr]
    assert found is not None and found.digest == "sha256:" + "3" * 64


def test_windows_and_features_platform_fields() -> None:
    m = manifest_from_bytes(load("docker_manifest_list_spec_features.json"))
    assert isinstance(m, ManifestList)
    assert m.manifests[1].platform == Platform("amd64", "linux", features=("sse4",))
    oci = manifest_from_bytes(load("oci_index_image_spec_example.json"))
    assert isinstance(oci, OCIIndex)
    assert oci.manifests[1].platform == Platform("amd64", "linux", os_features=("sse4",))
    assert oci.annotations == {"com.example.key1": "value1", "com.example.key2": "value2"}


def test_raw_manifest() -> None:
    data = load("docker_manifest_v2_nginx.json")
    raw = RawManifest(data=data, media_type=mt.DOCKER_MANIFEST_V2, digest=compute_digest(data))
    assert raw.size == len(data)
    assert raw.descriptor() == Descriptor(mt.DOCKER_MANIFEST_V2, raw.digest, len(data))
    with pytest.raises(AttributeError):
        raw.data = b""  # type: ignore[misc]


# -- the image-spec's own schema test cases (schema/manifest_test.go, imageindex_test.go) --
SPEC = json.loads((DATA / "oci_schema_cases.json").read_text())
# What the schema refuses and a reader reads anyway, as crane and containerd do: a
# descriptor media type outside RFC 6838's pattern (or empty), an image with no layers.
# Nothing the library does with the document depends on them.
READ_ANYWAY = {
    ("manifest", "expected failure: mediaType does not match pattern"),
    ("manifest", "expected failure: empty layer, expected at least one"),
    ("index", "expected failure: mediaType does not match pattern"),
    ("index", "expected failure: invalid referenced manifest media type"),
    ("index", "expected failure: empty referenced manifest media type"),
}
SPEC_CASES = [pytest.param(kind, case, id=f"{kind}: {case['name']}")
              for kind in ("manifest", "index") for case in SPEC[kind]]


@pytest.mark.parametrize(("kind", "case"), SPEC_CASES)
def test_the_image_spec_s_schema_cases(kind: str, case: dict[str, Any]) -> None:
    data = case["document"].encode()
    if case["fail"] and (kind, case["name"]) not in READ_ANYWAY:
        with pytest.raises(RegistryResponseError):
            manifest_from_bytes(data)
        return
    manifest = manifest_from_bytes(data)
    assert isinstance(manifest, OCIIndex if kind == "index" else OCIManifest)
    # read without loss: written back, the document has every key and value it had
    assert converter.unstructure(manifest) == json.loads(data)


def test_the_spec_cases_are_all_there() -> None:
    # the file holds every case of the two Go tests, valid and invalid
    assert [len(SPEC["manifest"]), len(SPEC["index"])] == [12, 12]
    assert sum(not c["fail"] for c in SPEC["manifest"] + SPEC["index"]) == 11
