"""The light manifest reader used by pull: same refusals as the typed models."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from registry_client import (
    RawManifest,
    RegistryResponseError,
    SchemaV1NotSupportedError,
    UnknownSchemaError,
)
from registry_client.models import manifest_from_bytes
from registry_client.services import _light

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
    (IMAGE, "application/vnd.example.unknown+json", UnknownSchemaError),
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
