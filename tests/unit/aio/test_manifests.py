"""AsyncManifestService on httpx.MockTransport: the blocking service's results and errors."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from registry_client import Descriptor, OCIManifest, RawManifest
from registry_client.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    NotFoundError,
    RegistryError,
)

pytestmark = pytest.mark.anyio

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + "c" * 64, "size": 7023},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + "d" * 64, "size": 32654}],
}, indent=3).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
NOT_FOUND = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
                       ).encode()


def served(body: bytes = MANIFEST, digest: str = DIGEST, media: str = OCI_MANIFEST,
           ) -> dict[str, Any]:
    return {"status": 200, "body": body,
            "headers": {"Content-Type": media, "Docker-Content-Digest": digest}}


async def test_get_raw_get_and_head_are_the_blocking_results(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    router.add("GET", "/v2/app/manifests/1.0", served())
    router.add("HEAD", "/v2/app/manifests/1.0", served())
    arepo, repo = areg.repository("app"), reg.repository("app")

    raw = await arepo.manifests.get_raw("1.0")
    assert raw == RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest=DIGEST)
    assert raw == repo.manifests.get_raw("1.0")
    manifest = await arepo.manifests.get("1.0")
    assert isinstance(manifest, OCIManifest)
    assert manifest == repo.manifests.get("1.0")
    head = await arepo.manifests.head("1.0")
    assert head == Descriptor(media_type=OCI_MANIFEST, digest=DIGEST, size=len(MANIFEST))
    assert head == repo.manifests.head("1.0")
    sent = router.requests[0]
    assert (sent.method, sent.url.path) == ("GET", "/v2/app/manifests/1.0")
    assert OCI_INDEX in sent.headers["Accept"]


async def test_put_sends_the_bytes_and_returns_their_digest(mock_registries: Any) -> None:
    areg, _, router = mock_registries()
    router.add("PUT", "/v2/app/manifests/1.0", status=201,
               headers={"Docker-Content-Digest": DIGEST})
    raw = RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest=DIGEST)

    assert await areg.repository("app").manifests.put("1.0", raw) == DIGEST
    digest, headers = await areg.repository("app").manifests.put_with_headers("1.0", raw)
    assert digest == DIGEST and headers["Docker-Content-Digest"] == DIGEST
    put = router.requests[0]
    assert put.content == MANIFEST
    assert put.headers["Content-Type"] == OCI_MANIFEST


async def test_delete_by_digest(mock_registries: Any) -> None:
    areg, _, router = mock_registries()
    router.add("DELETE", f"/v2/app/manifests/{DIGEST}", status=202)
    assert await areg.repository("app").manifests.delete(DIGEST) is None
    assert router.paths("DELETE") == [f"/v2/app/manifests/{DIGEST}"]


async def test_referrers_from_the_api(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    entry = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "e" * 64, "size": 10,
             "artifactType": "application/vnd.example.sbom"}
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})
    router.add("GET", f"/v2/app/referrers/{DIGEST}",
               served(index.encode(), digest="", media=OCI_INDEX))

    found = await areg.repository("app").manifests.referrers(DIGEST)
    assert [d.digest for d in found] == [entry["digest"]]
    assert found == reg.repository("app").manifests.referrers(DIGEST)


@pytest.mark.parametrize(("answer", "error"), [
    ({"status": 404, "body": NOT_FOUND, "headers": {"Content-Type": "application/json"}},
     NotFoundError),
    (served(digest="sha256:" + "0" * 64), DigestMismatchError),
], ids=["missing", "wrong-digest"])
async def test_errors_have_the_blocking_type_and_message(
    mock_registries: Any, answer: dict[str, Any], error: type[RegistryError],
) -> None:
    areg, reg, router = mock_registries()
    router.add("GET", "/v2/app/manifests/1.0", answer)

    with pytest.raises(error) as blocking:
        reg.repository("app").manifests.get("1.0")
    with pytest.raises(error) as flavour:
        await areg.repository("app").manifests.get("1.0")
    assert str(flavour.value) == str(blocking.value)
    assert flavour.value.status_code == blocking.value.status_code


async def test_a_bad_reference_is_refused_before_any_request(mock_registries: Any) -> None:
    areg, _, router = mock_registries()
    with pytest.raises(InvalidReferenceError):
        await areg.repository("app").manifests.get_raw("Not A Tag")
    assert router.requests == []
