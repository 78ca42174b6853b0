"""Round-trips of real documents, manifest type selection and error handling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry_client import mediatypes as mt
from registry_client._digest import compute_digest
from registry_client.errors import (
    RegistryError,
    RegistryResponseError,
    SchemaV1NotSupportedError,
    UnknownSchemaError,
)
from registry_client.models import (
    Descriptor,
    ImageConfig,
    Manifest,
    ManifestList,
    ManifestV2,
    OCIIndex,
    OCIManifest,
    config_from_bytes,
    converter,
    descriptor_from_dict,
    manifest_from_bytes,
    manifest_to_bytes,
    media_type_of,
    tag_page_from_bytes,
)

DATA = Path(__file__).resolve().parents[2] / "data"
D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64

MANIFEST_FILES = {
    "docker_manifest_v2_nginx.json": ManifestV2,
    "docker_manifest_list_dotnet_runtime.json": ManifestList,
    "docker_manifest_list_golang_alpine.json": ManifestList,
    "docker_manifest_list_spec_features.json": ManifestList,
    "oci_index_hello_world.json": OCIIndex,
    "oci_index_image_spec_example.json": OCIIndex,
    "oci_index_referrers.json": OCIIndex,
    "oci_index_artifact_subject.json": OCIIndex,
    "oci_manifest_notation_signature.json": OCIManifest,
    "oci_manifest_artifact_sbom.json": OCIManifest,
    "oci_manifest_cnab_no_media_type.json": OCIManifest,
}
CONFIG_FILES = [
    "docker_config_nginx.json",
    "docker_config_alpine.json",
    "oci_config_spec_example.json",
]


def raw(name: str) -> bytes:
    return (DATA / name).read_bytes()


def doc(name: str) -> Any:
    return json.loads(raw(name))


def dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()


# -- round-trips ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "cls"), sorted(MANIFEST_FILES.items()))
def test_manifest_round_trips_through_converter(name: str, cls: type[Any]) -> None:
    original = doc(name)
    model = converter.structure(original, cls)
    assert converter.unstructure(model) == original


@pytest.mark.parametrize(("name", "cls"), sorted(MANIFEST_FILES.items()))
def test_the_manifest_union_picks_the_class(name: str, cls: type[Any]) -> None:
    model = converter.structure(doc(name), Manifest)
    assert type(model) is cls
    assert converter.unstructure(model) == doc(name)


def test_the_manifest_union_refuses_what_it_does_not_read() -> None:
    with pytest.raises(SchemaV1NotSupportedError):
        converter.structure({"schemaVersion": 1, "fsLayers": []}, Manifest)
    with pytest.raises(UnknownSchemaError):
        converter.structure({"schemaVersion": 2, "mediaType": "text/plain"}, Manifest)
    with pytest.raises(ValueError, match="expected an object"):
        converter.structure(["not", "a", "manifest"], Manifest)


@pytest.mark.parametrize(("name", "cls"), sorted(MANIFEST_FILES.items()))
def test_manifest_round_trips_through_bytes(name: str, cls: type[Any]) -> None:
    model = manifest_from_bytes(raw(name))
    assert type(model) is cls
    out = manifest_to_bytes(model)
    assert json.loads(out) == doc(name)
    assert manifest_to_bytes(manifest_from_bytes(out)) == out  # stable


def test_a_manifest_with_a_lone_surrogate_escape_is_written_back() -> None:
    # a registry serves it (JSON allows the escape); UTF-8 cannot hold the character
    data = (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
            b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":'
            b'"sha256:' + b"a" * 64 + b'","size":2},"layers":[],"annotations":{"a":"\\ud800"}}')
    assert manifest_to_bytes(manifest_from_bytes(data)) == data


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity"])
def test_a_manifest_with_a_number_json_has_not_is_not_json(number: bytes) -> None:
    data = (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
            b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":'
            b'"sha256:' + b"a" * 64 + b'","size":2},"layers":[],"x":' + number + b"}")
    with pytest.raises(RegistryResponseError, match="not valid JSON"):
        manifest_from_bytes(data)


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_config_round_trips(name: str) -> None:
    original = doc(name)
    assert converter.unstructure(config_from_bytes(raw(name))) == original
    assert converter.unstructure(converter.structure(original, ImageConfig)) == original


def test_manifest_to_bytes_is_compact_utf8() -> None:
    m = manifest_from_bytes(raw("oci_manifest_cnab_no_media_type.json"))
    assert isinstance(m, OCIManifest)
    out = manifest_to_bytes(m)
    assert b" " not in out and b"\n" not in out
    assert out.startswith(b'{"schemaVersion":2,"config":')
    assert out.endswith(b'"layers":[]}')  # the present-but-empty list survives
    m.annotations = {"k": "é"}
    assert '"k":"é"'.encode() in manifest_to_bytes(m)


def test_real_config_blob_matches_its_manifest_digest() -> None:
    manifest = manifest_from_bytes(raw("docker_manifest_v2_nginx.json"))
    assert isinstance(manifest, ManifestV2)
    blob = raw("docker_config_nginx.json")
    assert compute_digest(blob) == manifest.config.digest
    assert len(blob) == manifest.config.size


# -- choosing the class -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (mt.OCI_INDEX, ManifestList),  # the JSON mediaType wins over another label
        (mt.DOCKER_MANIFEST_LIST, ManifestList),
        (mt.DOCKER_MANIFEST_LIST + "; charset=utf-8", ManifestList),
        (mt.DOCKER_MANIFEST_LIST.upper(), ManifestList),
        ("application/json", ManifestList),  # generic: fall back to mediaType
        ("text/plain; charset=utf-8", ManifestList),
        ("application/octet-stream", ManifestList),
        ("", ManifestList),
        (None, ManifestList),
    ],
)
def test_class_by_media_type_then_content_type(content_type: str | None, expected: type) -> None:
    m = manifest_from_bytes(raw("docker_manifest_list_golang_alpine.json"), content_type)
    assert type(m) is expected
    assert m.media_type == mt.DOCKER_MANIFEST_LIST  # the document's own value is kept


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"schemaVersion": 2, "manifests": []}, OCIIndex),
        (
            {
                "schemaVersion": 2,
                "config": {"mediaType": mt.OCI_CONFIG, "digest": D1, "size": 2},
                "layers": [],
            },
            OCIManifest,
        ),
        ({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}, OCIIndex),
    ],
)
def test_class_by_shape(body: dict[str, Any], expected: type) -> None:
    m = manifest_from_bytes(dumps(body), "application/json")
    assert type(m) is expected
    assert converter.unstructure(m) == body


def test_oci_manifest_without_media_type_keeps_it_absent() -> None:
    m = manifest_from_bytes(raw("oci_manifest_cnab_no_media_type.json"))
    assert isinstance(m, OCIManifest)
    assert m.media_type is None
    assert media_type_of(m) == mt.OCI_MANIFEST
    assert m.layers == []


def test_media_type_of() -> None:
    m = manifest_from_bytes(raw("docker_manifest_v2_nginx.json"))
    assert media_type_of(m) == mt.DOCKER_MANIFEST_V2 == ManifestV2.MEDIA_TYPE
    assert OCIIndex.MEDIA_TYPE == mt.OCI_INDEX
    assert ManifestList.MEDIA_TYPE == mt.DOCKER_MANIFEST_LIST
    assert OCIManifest.MEDIA_TYPE == mt.OCI_MANIFEST


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (raw("docker_manifest_schema1_signed.json"), mt.DOCKER_MANIFEST_V1_SIGNED),
        (raw("docker_manifest_schema1_signed.json"), None),
        (raw("docker_manifest_schema1_signed.json"), "application/json"),
        (raw("docker_manifest_schema1_signed.json"), mt.DOCKER_MANIFEST_V2),
        (b'{"schemaVersion": 2}', mt.DOCKER_MANIFEST_V1 + "; charset=utf-8"),
        (dumps({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_V1}), None),
    ],
)
def test_schema1_is_refused(body: bytes, content_type: str | None) -> None:
    with pytest.raises(SchemaV1NotSupportedError):
        manifest_from_bytes(body, content_type)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (dumps({"schemaVersion": 2, "manifests": []}),
         "application/vnd.oci.artifact.manifest.v1+json"),
        (dumps({"schemaVersion": 2, "mediaType": "application/vnd.foo+json"}), None),
        (dumps({"schemaVersion": 2}), None),
        (dumps({"schemaVersion": 2, "blobs": []}), "application/json"),
        (dumps({"schemaVersion": 3, "manifests": []}), mt.OCI_INDEX),
    ],
)
def test_unknown_schema(body: bytes, content_type: str | None) -> None:
    with pytest.raises(UnknownSchemaError):
        manifest_from_bytes(body, content_type)


# -- malformed documents ------------------------------------------------------------


def oci(**changes: Any) -> dict[str, Any]:
    """A valid OCI manifest with some keys replaced (None removes a key)."""
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": D1, "size": 10},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": D2, "size": 20}],
    }
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    return body


def layer(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"mediaType": mt.OCI_LAYER_GZIP, "digest": D2, "size": 20}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def index(entry: dict[str, Any]) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [entry]}


MALFORMED: list[tuple[str, bytes]] = [
    ("empty body", b""),
    ("not json", b"this is not json"),
    ("truncated json", b'{"schemaVersion": 2, "layers": ['),
    ("invalid utf-8", b"\xff\xff\xff"),
    ("json array", b"[]"),
    ("json string", b'"manifest"'),
    ("json null", b"null"),
    ("deeply nested", b"[" * 100_000),
    ("layers is a string", dumps(oci(layers="sha256:abc"))),
    ("layers is an object", dumps(oci(layers={"a": 1}))),
    ("layer is a number", dumps(oci(layers=[3]))),
    ("layers is null", dumps(oci(layers=[layer()]) | {"layers": None})),
    ("config missing", dumps(oci(config=None))),
    ("config is a list", dumps(oci(config=[]))),
    ("missing digest", dumps(oci(layers=[layer(digest=...)]))),
    ("short digest", dumps(oci(layers=[layer(digest="sha256:abc")]))),
    ("algorithm outside the grammar", dumps(oci(layers=[layer(digest="MD5:" + "a" * 32)]))),
    ("repeated separators", dumps(oci(layers=[layer(digest="sha256+foo+-b:" + "a" * 32)]))),
    ("upper-case digest", dumps(oci(layers=[layer(digest="sha256:" + "A" * 64)]))),
    ("digest is a number", dumps(oci(layers=[layer(digest=12)]))),
    ("negative size", dumps(oci(layers=[layer(size=-1)]))),
    ("size is a string", dumps(oci(layers=[layer(size="20")]))),
    ("size is a float", dumps(oci(layers=[layer(size=20.5)]))),
    ("size is a bool", dumps(oci(layers=[layer(size=True)]))),
    ("size is null", dumps(oci(layers=[layer(size=None)]))),
    ("size missing", dumps(oci(layers=[layer(size=...)]))),
    ("mediaType is a number", dumps(oci(layers=[layer(mediaType=5)]))),
    ("annotation value not a string", dumps(oci(annotations={"a": 1}))),
    ("annotations is a list", dumps(oci(annotations=["a"]))),
    ("urls is a string", dumps(oci(layers=[layer(urls="https://x")]))),
    ("artifactType is a number", dumps(oci(artifactType=1))),
    ("subject without digest", dumps(oci(subject={"mediaType": mt.OCI_MANIFEST, "size": 1}))),
    ("schemaVersion is a string", dumps(oci(schemaVersion="2"))),
    ("schemaVersion is a bool", dumps(oci(schemaVersion=True))),
    ("top-level mediaType is a number", dumps(oci(mediaType=2))),
    ("manifests is an object", dumps({"schemaVersion": 2, "manifests": {"a": 1}})),
    ("platform without os", dumps(index(layer(platform={"architecture": "amd64"})))),
    ("platform arch is a number", dumps(index(layer(platform={"architecture": 1, "os": "x"})))),
    (
        "os.features is a string",
        dumps(index(layer(platform={"architecture": "a", "os": "b", "os.features": "sse4"}))),
    ),
    ("platform is a string", dumps(index(layer(platform="linux/amd64")))),
]


@pytest.mark.parametrize("body", [b for _, b in MALFORMED], ids=[n for n, _ in MALFORMED])
def test_malformed_manifest_raises_registry_response_error(body: bytes) -> None:
    with pytest.raises(RegistryResponseError) as info:
        manifest_from_bytes(body, None)
    assert type(info.value) is RegistryResponseError
    assert str(info.value)


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (dumps(oci(layers="abc")), None, "expected an array, got the string 'abc' at $.layers"),
        (dumps(oci(layers=[layer(size=-3)])), None, "at $.layers[0].size"),
        (dumps(oci(layers=[layer(digest="sha256:1")])), None, "invalid digest 'sha256:1'"),
        (dumps(oci(config=None)), None, "required field missing at $.config"),
        (dumps(oci(annotations={"k": 1})), None, "at $.annotations['k']"),
        (
            dumps(index(layer(platform={"architecture": "amd64"}))),
            mt.OCI_INDEX,
            "required field missing at $.manifests[0].platform.os",
        ),
    ],
)
def test_error_messages_name_the_json_path(
    body: bytes, content_type: str | None, fragment: str
) -> None:
    with pytest.raises(RegistryResponseError) as info:
        manifest_from_bytes(body, content_type)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"[1, 2]",
        b"not json",
        dumps({"architecture": "amd64", "os": "linux"}),  # no rootfs
        dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}),
        dumps(doc("oci_config_spec_example.json") | {"config": {"Env": "A=b"}}),
        dumps(doc("oci_config_spec_example.json") | {"history": [{"empty_layer": "yes"}]}),
        dumps(doc("oci_config_spec_example.json") | {"config": {"Labels": {"a": ["b"]}}}),
    ],
)
def test_malformed_config_raises_registry_response_error(body: bytes) -> None:
    with pytest.raises(RegistryResponseError):
        config_from_bytes(body)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
KEYS = st.sampled_from(
    ["schemaVersion", "mediaType", "config", "layers", "manifests", "digest", "size", "platform"]
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(KEYS, JSON_VALUES, max_size=6),
    st.sampled_from([None, *sorted(mt.MANIFEST_TYPES)]),
)
def test_arbitrary_json_never_raises_a_raw_error(body: dict[str, Any], ctype: str | None) -> None:
    try:
        manifest_from_bytes(dumps(body), ctype)
    except RegistryError:
        pass


# -- unknown keys, nulls and the other helpers -------------------------------------------


def test_unknown_keys_are_kept_at_every_level() -> None:
    body = doc("oci_index_artifact_subject.json")
    body["foo"] = {"bar": [1, 2]}
    body["manifests"][0]["foo"] = "descriptor-level"
    body["manifests"][0]["platform"]["foo"] = ["platform-level"]
    body["subject"]["annotations"] = None  # explicit null survives too
    m = manifest_from_bytes(dumps(body))
    assert isinstance(m, OCIIndex)
    assert m.extra == {"foo": {"bar": [1, 2]}}
    assert m.manifests[0].extra == {"foo": "descriptor-level"}
    platform = m.manifests[0].platform
    assert platform is not None and platform.extra == {"foo": ["platform-level"]}
    assert m.artifact_type == "application/vnd.example.bundle.v1"
    assert m.subject is not None and m.subject.annotations is None
    assert m.manifests[0].urls == ("https://example.com/example-manifest",)
    assert m.manifests[1].artifact_type == "application/vnd.example.sbom.v1"
    assert json.loads(manifest_to_bytes(m)) == body


@pytest.mark.parametrize("created", [1700000000, 1.5, True, {"unix": 1}, ["2024"]])
def test_a_created_that_is_no_string_is_unknown_and_kept(created: Any) -> None:
    # created is informative (details() already reads such a config as created None):
    # the image stays readable, and the value survives in extra and when written.
    body = doc("oci_config_spec_example.json")
    body["created"] = created
    body["history"][0]["created"] = created
    config = config_from_bytes(dumps(body))
    assert (config.created, config.created_at) == (None, None)
    assert config.extra["created"] == created
    assert config.history is not None
    assert (config.history[0].created, config.history[0].created_at) == (None, None)
    assert config.history[0].extra["created"] == created
    assert converter.unstructure(config) == body


def test_fields_win_over_extra_after_a_change() -> None:
    m = config_from_bytes(raw("docker_config_alpine.json"))
    assert m.config is not None
    assert m.config.labels is None and m.config.extra["Labels"] is None
    m.config.labels = {"a": "b"}
    assert converter.unstructure(m)["config"]["Labels"] == {"a": "b"}


def test_oci_manifest_fields() -> None:
    m = manifest_from_bytes(raw("oci_manifest_artifact_sbom.json"), mt.OCI_MANIFEST)
    assert isinstance(m, OCIManifest)
    assert m.artifact_type == "application/spdx+json"
    assert m.config.data == "e30=" and m.config.media_type == mt.OCI_EMPTY
    assert m.subject is not None and m.subject.size == 861
    assert m.annotations == {
        "org.opencontainers.image.created": "2024-01-19T21:10:26Z",
        "org.example.sbom.format": "json",
    }
    assert m.layers[0].annotations == {"org.opencontainers.image.title": "sbom.spdx.json"}


def test_descriptor_from_dict() -> None:
    d = descriptor_from_dict({"mediaType": mt.OCI_LAYER, "digest": D1, "size": 0, "x": 1})
    assert d == Descriptor(mt.OCI_LAYER, D1, 0, extra={"x": 1})
    with pytest.raises(RegistryResponseError, match="size"):
        descriptor_from_dict({"mediaType": mt.OCI_LAYER, "digest": D1, "size": "0"})


def test_built_descriptor_serialises_without_nulls() -> None:
    d = Descriptor(media_type=mt.OCI_LAYER, digest=D1, size=3, urls=["https://x"])
    assert converter.unstructure(d) == {
        "mediaType": mt.OCI_LAYER,
        "digest": D1,
        "size": 3,
        "urls": ["https://x"],
    }


def test_tag_page_from_bytes() -> None:
    page = tag_page_from_bytes(b'{"name": "library/alpine", "tags": ["3.19", "latest"]}', "latest")
    assert (page.name, page.tags, page.last) == ("library/alpine", ["3.19", "latest"], "latest")
    assert tag_page_from_bytes(b'{"name": "empty", "tags": null}').tags == []
    for bad in (b'{"name": "x", "tags": "a"}', b'{"tags": []}', b"[]", b"{"):
        with pytest.raises(RegistryResponseError):
            tag_page_from_bytes(bad)


def test_empty_platform_feature_lists_that_were_present_are_written_back() -> None:
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [{
        "mediaType": mt.OCI_MANIFEST, "digest": D1, "size": 1,
        "platform": {"architecture": "amd64", "os": "windows", "os.features": [],
                     "features": []},
    }, {
        "mediaType": mt.OCI_MANIFEST, "digest": D2, "size": 1,
        "platform": {"architecture": "amd64", "os": "linux"},
    }]}
    assert converter.unstructure(converter.structure(doc, OCIIndex)) == doc
    assert manifest_to_bytes(manifest_from_bytes(dumps(doc))) == dumps(doc).replace(b" ", b"")


def test_one_feature_string_is_one_feature() -> None:
    from registry_client import Platform

    assert Platform("amd64", "windows", os_features="win32k").os_features == ("win32k",)  # type: ignore[arg-type]


@pytest.mark.parametrize("tag", [None, "1.0"])
def test_an_image_round_trips_with_or_without_a_tag(tag: str | None) -> None:
    """get_by_digest gives tag=None; written without the key, it must read back."""
    from registry_client import Image, Platform

    image = Image(digest="sha256:" + "a" * 64, domain="localhost:5000", repository="app",
                  tag=tag, platforms=[Platform("amd64", "linux")],
                  media_type=mt.OCI_MANIFEST, size=1)
    doc = converter.unstructure(image)
    assert ("tag" in doc) == (tag is not None)
    assert converter.structure(json.loads(json.dumps(doc)), Image) == image
