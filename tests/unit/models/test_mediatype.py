"""The one decision of a manifest's media type: Content-Type, then mediaType, then shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from registry_client import RawManifest
from registry_client import mediatypes as mt
from registry_client.errors import (
    RegistryResponseError,
    SchemaV1NotSupportedError,
    UnknownSchemaError,
)
from registry_client.mediatypes import INDEX_TYPES, MANIFEST_TYPES
from registry_client.models import manifest_class_for
from registry_client.models._mediatype import (
    GENERIC_CONTENT_TYPES,
    manifest_media_type,
    manifest_type_for,
    specific_type,
)

IMAGE = {"schemaVersion": 2, "config": {}, "layers": []}
DOCKER_IMAGE = {**IMAGE, "mediaType": mt.DOCKER_MANIFEST_V2}
INDEX = {"schemaVersion": 2, "manifests": []}
GENERIC = ["application/json", "text/plain", "application/octet-stream",
           "binary/octet-stream", "", None, "application/json; charset=utf-8",
           "Binary/Octet-Stream", " text/plain ;charset=utf-8"]


def dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def test_the_generic_list() -> None:
    assert GENERIC_CONTENT_TYPES == {
        "", "application/json", "text/plain", "application/octet-stream",
        "binary/octet-stream"}


@pytest.mark.parametrize("content_type", GENERIC)
def test_a_generic_content_type_says_nothing(content_type: str | None) -> None:
    assert specific_type(content_type) is None
    assert manifest_media_type(dumps(DOCKER_IMAGE), content_type) == mt.DOCKER_MANIFEST_V2
    assert manifest_media_type(dumps(IMAGE), content_type) == mt.OCI_MANIFEST
    assert manifest_media_type(dumps(INDEX), content_type) == mt.OCI_INDEX


@pytest.mark.parametrize(
    ("content_type", "doc", "expected"),
    [
        # 1. the document's mediaType, when it is a specific one, over any label
        (mt.OCI_INDEX, {**INDEX, "mediaType": mt.DOCKER_MANIFEST_LIST},
         mt.DOCKER_MANIFEST_LIST),
        (mt.OCI_MANIFEST, {**IMAGE, "mediaType": mt.DOCKER_MANIFEST_V2},
         mt.DOCKER_MANIFEST_V2),
        ("binary/octet-stream", {**INDEX, "mediaType": mt.DOCKER_MANIFEST_LIST},
         mt.DOCKER_MANIFEST_LIST),
        # 2. then a specific Content-Type (parameters and case ignored)
        (mt.DOCKER_MANIFEST_V2 + "; charset=utf-8", IMAGE, mt.DOCKER_MANIFEST_V2),
        (mt.OCI_MANIFEST.upper(), IMAGE, mt.OCI_MANIFEST),
        ("application/vnd.example.unknown+json", IMAGE, "application/vnd.example.unknown+json"),
        (mt.OCI_MANIFEST, {**IMAGE, "mediaType": "application/json"}, mt.OCI_MANIFEST),
        (None, {**IMAGE, "mediaType": "application/json"}, mt.OCI_MANIFEST),
        (None, {**IMAGE, "mediaType": ""}, mt.OCI_MANIFEST),
        # 3. then the shape
        ("text/plain", {"schemaVersion": 2, "layers": []}, mt.OCI_MANIFEST),
        ("text/plain", {"schemaVersion": 2, "config": {}}, mt.OCI_MANIFEST),
        ("", {"schemaVersion": 1, "fsLayers": []}, mt.DOCKER_MANIFEST_V1),
        ("", {"schemaVersion": 1, "fsLayers": [], "signatures": []},
         mt.DOCKER_MANIFEST_V1_SIGNED),
    ],
)
def test_media_type_then_content_type_then_shape(
    content_type: str | None, doc: dict[str, Any], expected: str
) -> None:
    assert manifest_media_type(dumps(doc), content_type) == expected
    assert manifest_media_type(doc, content_type) == expected  # parsed or not


def test_a_specific_content_type_needs_no_body() -> None:
    assert manifest_media_type(b"not json at all", mt.OCI_MANIFEST) == mt.OCI_MANIFEST


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"<html>hello</html>", RegistryResponseError),
        (b"[1, 2]", RegistryResponseError),
        (dumps({**IMAGE, "mediaType": 3}), RegistryResponseError),
        (dumps({"schemaVersion": 2, "blobs": []}), UnknownSchemaError),
    ],
)
def test_nothing_tells_the_type(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        manifest_media_type(body, "binary/octet-stream")


@pytest.mark.parametrize("content_type", GENERIC[:5])
def test_a_raw_manifest_never_keeps_a_generic_type(content_type: str | None) -> None:
    raw = RawManifest(data=dumps(DOCKER_IMAGE), media_type=content_type or "", digest="sha256:x")
    assert raw.media_type == mt.DOCKER_MANIFEST_V2
    assert RawManifest(dumps(INDEX), content_type or "", "sha256:x").media_type == mt.OCI_INDEX
    # bytes that say nothing keep what was given (a put of them is refused)
    assert RawManifest(b"<html/>", content_type or "", "sha256:x").media_type == (
        content_type or "")
    # a specific type is kept as given, even when the bytes disagree
    assert RawManifest(dumps(DOCKER_IMAGE), mt.OCI_MANIFEST, "d").media_type == mt.OCI_MANIFEST


# -- manifest_type_for: the type a reader of manifests goes by (the light parser too) ----
@pytest.mark.parametrize(("doc", "content_type", "want"), [
    (IMAGE, None, mt.OCI_MANIFEST),
    (INDEX, "application/json", mt.OCI_INDEX),
    (DOCKER_IMAGE, "", mt.DOCKER_MANIFEST_V2),
    (IMAGE, f"{mt.DOCKER_MANIFEST_LIST}; charset=utf-8", mt.DOCKER_MANIFEST_LIST),
    ({**INDEX, "mediaType": mt.OCI_INDEX.upper()}, None, mt.OCI_INDEX),
])
def test_the_manifest_type_is_one_the_library_reads(
    doc: dict[str, Any], content_type: str | None, want: str
) -> None:
    got = manifest_type_for(doc, content_type)
    assert got == want and got in MANIFEST_TYPES
    assert (got in INDEX_TYPES) is (want in (mt.DOCKER_MANIFEST_LIST, mt.OCI_INDEX))
    # the models' class is the class of that type: one decision for both readers
    assert manifest_class_for(doc, content_type).MEDIA_TYPE == want


@pytest.mark.parametrize(("doc", "content_type", "error"), [
    ({"schemaVersion": 1, "fsLayers": []}, None, SchemaV1NotSupportedError),
    (IMAGE, mt.DOCKER_MANIFEST_V1_SIGNED, SchemaV1NotSupportedError),
    ({**IMAGE, "mediaType": mt.DOCKER_MANIFEST_V1}, None, SchemaV1NotSupportedError),
    ({**IMAGE, "schemaVersion": 3}, None, UnknownSchemaError),
    (IMAGE, "application/vnd.example.thing+json", UnknownSchemaError),
    ({"schemaVersion": 2}, None, UnknownSchemaError),
    ({**IMAGE, "mediaType": 7}, None, RegistryResponseError),
])
def test_a_type_the_library_does_not_read_is_refused(
    doc: dict[str, Any], content_type: str | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        manifest_type_for(doc, content_type)
    with pytest.raises(error):
        manifest_class_for(doc, content_type)
