"""The light manifest reader used by pull: same refusals as the typed models."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from registry_client import (
    RawManifest,
    RegistryResponseError,
    SchemaV1NotSupportedError,
    UnknownSchemaError,
)
from registry_client.models import (
    Descriptor,
    descriptor_from_dict,
    manifest_from_bytes,
    manifest_to_bytes,
)
from registry_client.services import _light
from registry_client.services._light import descriptor, distinct_largest_first, distributable

D = "sha256:" + "a" * 64
OCI_M = "application/vnd.oci.image.manifest.v1+json"
OCI_I = "application/vnd.oci.image.index.v1+json"


def raw(doc: Any, media: str = OCI_M) -> RawManifest:
    data = json.dumps(doc).encode()
    return RawManifest(data=data, media_type=media,
                       digest="sha256:" + hashlib.sha256(data).hexdigest())


IMAGE = {"schemaVersion": 2, "mediaType": OCI_M,
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": D,
                    "size": 10},
         "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": D,
                     "size": 20}]}


def test_image_and_index_agree_with_the_typed_models() -> None:
    is_index, descs = _light.read(raw(IMAGE))
    typed = manifest_from_bytes(raw(IMAGE).data, OCI_M)
    assert not is_index and descs == [typed.config, *typed.layers]  # type: ignore[union-attr]
    index = {"schemaVersion": 2, "mediaType": OCI_I, "manifests": [
        {"mediaType": OCI_M, "digest": D, "size": 5,
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}]}
    is_index, entries = _light.read(raw(index, OCI_I))
    assert is_index and str(entries[0].platform) == "linux/arm64/v8"


@pytest.mark.parametrize(("doc", "media", "error"), [
    ({"schemaVersion": 1, "fsLayers": []}, "application/json", SchemaV1NotSupportedError),
    ({k: v for k, v in IMAGE.items() if k != "mediaType"}, "application/vnd.example.unknown+json",
     UnknownSchemaError),
    ({**IMAGE, "layers": "nope"}, OCI_M, RegistryResponseError),
    ({**IMAGE, "config": {**IMAGE["config"], "digest": "sha256:../../etc"}}, OCI_M,  # type: ignore[dict-item]
     RegistryResponseError),
    ({**IMAGE, "config": {**IMAGE["config"], "size": -1}}, OCI_M,  # type: ignore[dict-item]
     RegistryResponseError),
    ({**IMAGE, "config": {**IMAGE["config"], "size": True}}, OCI_M,  # type: ignore[dict-item]
     RegistryResponseError),
    ({"schemaVersion": 2, "mediaType": OCI_I,
      "manifests": [{"mediaType": OCI_M, "digest": D, "size": 1}] * 1001}, OCI_I,
     RegistryResponseError),
    ([1, 2], OCI_M, RegistryResponseError),
], ids=["schema1", "unknown-type", "layers-not-list", "path-digest", "negative-size",
        "bool-size", "too-many-entries", "not-an-object"])
def test_refusals(doc: Any, media: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        _light.read(raw(doc, media))


def test_image_platform_from_config_and_for_artifacts() -> None:
    r = raw(IMAGE)
    _, descs = _light.read(r)
    cfg = json.dumps({"architecture": "arm", "os": "linux", "variant": "v7"}).encode()
    p = _light.image_platform(r, descs[0], cfg)
    assert (str(p), p.digest, p.size) == ("linux/arm/v7", r.digest, len(r.data))
    artifact = descs[0].__class__(media_type="application/vnd.oci.empty.v1+json", digest=D,
                                  size=2)
    assert _light.image_platform(r, artifact, b"{}").architecture == ""
    with pytest.raises(RegistryResponseError):
        _light.image_platform(r, descs[0], b"[]")


# -- digests of other algorithms (the image-spec's descriptor test cases) are read ------
SHA256 = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
# The image-spec's own descriptor digest cases, shared with the other digest tests.
_CASES = json.loads((Path(__file__).resolve().parents[2] / "data"
                     / "oci_descriptor_digests.json").read_text())
OTHER_VALID: list[str] = _CASES["valid_not_verifiable"]
INVALID: list[str | None] = _CASES["invalid"]  # the last two: None, longer than any digest


def oci_manifest(layer_digest: str) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": SHA256,
                   "size": 1470},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": 1000000}],
    }, separators=(",", ":")).encode()


@pytest.mark.parametrize("digest", OTHER_VALID)
def test_models_and_the_light_parser_read_them(digest: str) -> None:
    data = oci_manifest(digest)
    model = manifest_from_bytes(data)
    assert model.layers[0].digest == digest  # type: ignore[union-attr]
    assert manifest_to_bytes(model) == data
    assert descriptor_from_dict({"mediaType": "x/y", "digest": digest, "size": 1}).digest \
        == digest
    raw = RawManifest(data=data, media_type="application/vnd.oci.image.manifest.v1+json",
                      digest="sha256:" + hashlib.sha256(data).hexdigest())
    _, descs = _light.read(raw)
    assert descs[1].digest == digest


@pytest.mark.parametrize("digest", INVALID[:-2])
def test_models_and_the_light_parser_still_refuse_malformed_ones(digest: str) -> None:
    data = oci_manifest(digest)
    with pytest.raises(RegistryResponseError):
        manifest_from_bytes(data)
    raw = RawManifest(data=data, media_type="application/vnd.oci.image.manifest.v1+json",
                      digest="sha256:" + hashlib.sha256(data).hexdigest())
    with pytest.raises(RegistryResponseError):
        _light.read(raw)


# -- which blobs move, and in which order -----------------------------------------------

_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _blob(char: str, size: int, media_type: str = _LAYER) -> Descriptor:
    return Descriptor(media_type=media_type, digest="sha256:" + char * 64, size=size)


def test_distinct_largest_first_keeps_each_digest_once_largest_first() -> None:
    a, b, c = _blob("a", 10), _blob("b", 300), _blob("c", 20)
    again = _blob("b", 300, "application/vnd.docker.image.rootfs.diff.tar.gzip")
    ordered = distinct_largest_first([a, b, c, again, a])
    assert [d.digest for d in ordered] == [b.digest, c.digest, a.digest]
    assert ordered[0] is b  # the first descriptor of a digest is the one kept
    assert distinct_largest_first(iter([])) == []


def test_foreign_layers_with_urls_are_not_distributable() -> None:
    """A foreign / non-distributable layer that names where it lives (``urls``: Windows
    base layers) is fetched from there, never moved; one without urls is in the
    registry like any layer (Distribution requires it for the manifest), so it moves."""
    foreign = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    nondist = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    url = ("https://mcr.example/layer",)
    assert distributable(_blob("a", 1))
    assert distributable(_blob("a", 1, nondist)) and distributable(_blob("a", 1, foreign))
    assert not distributable(attrs.evolve(_blob("a", 1, foreign), urls=url))
    assert not distributable(attrs.evolve(_blob("a", 1, nondist), urls=url))
    assert distributable(attrs.evolve(_blob("a", 1), urls=url))  # a mirror hint: in the registry


def test_the_light_parser_reads_urls() -> None:
    d = descriptor({"mediaType": "x/y", "digest": "sha256:" + "a" * 64, "size": 1,
                    "urls": ["https://a.example/l"]}, "layers[0]")
    assert d.urls == ("https://a.example/l",)
    with pytest.raises(RegistryResponseError, match="urls"):
        descriptor({"mediaType": "x/y", "digest": "sha256:" + "a" * 64, "size": 1,
                    "urls": "https://a.example/l"}, "layers[0]")


# -- the image-spec's own schema test cases (manifest_test.go, imageindex_test.go) --------
_SPEC = json.loads((Path(__file__).resolve().parents[2] / "data"
                    / "oci_schema_cases.json").read_text())
# Refused by the schema, moved anyway: what the light parser does not read (a subject:
# a pull moves the image, not what it refers to) or reads as the models do (a descriptor
# media type outside RFC 6838's pattern, an image with no layers).
_MOVED_ANYWAY = {
    ("manifest", "expected failure: mediaType does not match pattern"),
    ("manifest", "expected failure: empty layer, expected at least one"),
    ("manifest", "expected failure: subject field with invalid value (something that is "
                 "not a descriptor)"),
    ("index", "expected failure: mediaType does not match pattern"),
    ("index", "expected failure: invalid referenced manifest media type"),
    ("index", "expected failure: empty referenced manifest media type"),
    ("index", "expected failure, invalid subject field"),
}


@pytest.mark.parametrize(("kind", "case"), [
    pytest.param(kind, case, id=f"{kind}: {case['name']}")
    for kind in ("manifest", "index") for case in _SPEC[kind]])
def test_the_image_spec_s_schema_cases_as_a_pull_reads_them(
    kind: str, case: dict[str, Any]
) -> None:
    data = case["document"].encode()
    # as sent, with no Content-Type: the body's mediaType decides
    sent = RawManifest(data=data, media_type="",
                       digest="sha256:" + hashlib.sha256(data).hexdigest())
    if case["fail"] and (kind, case["name"]) not in _MOVED_ANYWAY:
        with pytest.raises(RegistryResponseError):
            _light.read(sent)
        return
    is_index, descriptors = _light.read(sent)
    doc = json.loads(data)
    assert is_index is (kind == "index")
    # the descriptors a pull moves: the index's entries, or the config and the layers
    want = doc["manifests"] if is_index else [doc["config"], *doc["layers"]]
    assert [(d.digest, d.size) for d in descriptors] == [(w["digest"], w["size"]) for w in want]


@pytest.mark.parametrize("number", [b"NaN", b"-Infinity"])
def test_a_document_with_a_number_json_has_not_is_malformed(number: bytes) -> None:
    # an image config holding NaN: mutate's edit of it failed writing it back, with a
    # bare ValueError naming neither the config nor the registry
    with pytest.raises(RegistryResponseError, match="image config sha256:1: malformed JSON"):
        _light.json_object(b'{"config":{},"x":' + number + b"}", "image config sha256:1")
