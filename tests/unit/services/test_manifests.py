"""ManifestService through Registry with a requests-mock adapter: stub, call, assert."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests_mock

from registry_client import (
    Descriptor,
    ManifestList,
    ManifestV2,
    OCIManifest,
    RawManifest,
    Registry,
)
from registry_client.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    NotFoundError,
    RegistryError,
    RegistryResponseError,
    SchemaV1NotSupportedError,
    UnknownSchemaError,
)

BASE = "https://registry.example"
DATA = Path(__file__).resolve().parents[2] / "data"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_V1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest_bytes(media_type: str | None = OCI_MANIFEST, **extra: Any) -> bytes:
    doc: dict[str, Any] = {"schemaVersion": 2}
    if media_type is not None:
        doc["mediaType"] = media_type
    doc.update({
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + "c" * 64, "size": 7023},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + "d" * 64, "size": 32654}],
    })
    doc.update(extra)
    return json.dumps(doc, indent=3).encode()  # non-canonical spacing: digests are of bytes


MANIFEST = manifest_bytes()
DIGEST = sha256(MANIFEST)


@pytest.fixture
def env(mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]]
        ) -> tuple[Registry, requests_mock.Adapter]:
    return mocked_registry(retries=1)


def stub_get(
    adapter: requests_mock.Adapter, ref: str, body: bytes = MANIFEST, *,
    content_type: str | None = OCI_MANIFEST, digest: str | None = DIGEST, status: int = 200,
) -> None:
    headers: dict[str, str] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if digest is not None:
        headers["Docker-Content-Digest"] = digest
    adapter.register_uri(
        "GET", f"{BASE}/v2/app/manifests/{ref}", content=body, headers=headers,
        status_code=status,
    )


# -- get_raw ----------------------------------------------------------------------------
def test_get_raw_by_tag(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    stub_get(adapter, "latest")
    raw = reg.repository("app").manifests.get_raw("latest")
    assert raw == RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest=DIGEST)
    [req] = adapter.request_history
    assert (req.method, req.url) == ("GET", f"{BASE}/v2/app/manifests/latest")


@pytest.mark.parametrize("ref", ["latest", DIGEST])
def test_a_get_answered_500_while_the_tag_is_pushed_again_is_asked_again(
    env: tuple[Registry, requests_mock.Adapter], ref: str,
) -> None:
    """Distribution answers a GET by reading the tag's (or revision's) link file; one
    another request is writing (the same tag pushed again, as CI pushes ``latest``
    while deployments pull it) reads empty, and the GET gets a bare 500. It is asked
    again, as a 502-504 would be."""
    reg, adapter = env
    headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": DIGEST}
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/{ref}", [
        {"status_code": 500, "json": {"errors": [{"code": "UNKNOWN"}]}},
        {"content": MANIFEST, "headers": headers},
    ])
    assert reg.repository("app").manifests.get_raw(ref).digest == DIGEST
    assert [r.method for r in adapter.request_history] == ["GET", "GET"]


def test_a_head_answered_500_while_the_tag_is_pushed_again_is_asked_again(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/latest", [
        {"status_code": 500},
        {"headers": {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": DIGEST,
                     "Content-Length": str(len(MANIFEST))}},
    ])
    assert reg.repository("app").manifests.head("latest").digest == DIGEST
    assert [r.method for r in adapter.request_history] == ["HEAD", "HEAD"]


def test_a_500_that_stays_is_raised_after_the_retries(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env  # retries=1: two tries in all
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/latest", status_code=500)
    with pytest.raises(RegistryError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert info.value.status_code == 500
    assert len(adapter.request_history) == 2


def test_accept_header_lists_the_four_manifest_types(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    stub_get(adapter, "latest")
    reg.repository("app").manifests.get_raw("latest")
    accept = adapter.request_history[0].headers["Accept"]
    types_ = {part.split(";")[0].strip() for part in accept.split(",")}
    assert {OCI_MANIFEST, OCI_INDEX, DOCKER_V2, DOCKER_LIST} <= types_
    assert DOCKER_V1 not in types_


def test_get_raw_by_digest(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    stub_get(adapter, DIGEST)
    raw = reg.repository("app").manifests.get_raw(DIGEST)
    assert raw.digest == DIGEST
    assert raw.data == MANIFEST


def test_header_digest_mismatch(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    stub_get(adapter, "latest", digest="sha256:" + "0" * 64)
    with pytest.raises(DigestMismatchError):
        reg.repository("app").manifests.get_raw("latest")


def test_digest_reference_mismatch_without_header(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    wanted = "sha256:" + "e" * 64
    stub_get(adapter, wanted, digest=None)
    with pytest.raises(DigestMismatchError):
        reg.repository("app").manifests.get_raw(wanted)


def test_digest_reference_mismatch_with_lying_header(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """The header matches the (wrong) body, but not the digest that was asked for."""
    reg, adapter = env
    wanted = "sha256:" + "e" * 64
    stub_get(adapter, wanted, digest=DIGEST)
    with pytest.raises(DigestMismatchError):
        reg.repository("app").manifests.get_raw(wanted)


def test_missing_header_digest_is_computed(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    stub_get(adapter, "latest", digest=None)
    assert reg.repository("app").manifests.get_raw("latest").digest == DIGEST


@pytest.mark.parametrize(
    "bad", ["sha256:short", "md5:abc", "../../etc/passwd", "sha256:" + "G" * 64]
)
def test_invalid_header_digest(env: tuple[Registry, requests_mock.Adapter], bad: str) -> None:
    reg, adapter = env
    stub_get(adapter, "latest", digest=bad)
    with pytest.raises(RegistryResponseError):
        reg.repository("app").manifests.get_raw("latest")


def test_sha512_header_verified_and_sha256_returned(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    sha512 = "sha512:" + hashlib.sha512(MANIFEST).hexdigest()
    stub_get(adapter, "latest", digest=sha512)
    assert reg.repository("app").manifests.get_raw("latest").digest == DIGEST
    stub_get(adapter, "bad", digest="sha512:" + "0" * 128)
    with pytest.raises(DigestMismatchError):
        reg.repository("app").manifests.get_raw("bad")


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (OCI_MANIFEST + "; charset=utf-8", MANIFEST, OCI_MANIFEST),
        ("Application/VND.oci.image.manifest.v1+json", MANIFEST, OCI_MANIFEST),
        ("application/json", manifest_bytes(DOCKER_V2), DOCKER_V2),
        (None, manifest_bytes(DOCKER_V2), DOCKER_V2),
        ("application/json", manifest_bytes(None), OCI_MANIFEST),
        ("text/plain", json.dumps({"schemaVersion": 2, "manifests": []}).encode(), OCI_INDEX),
        ("binary/octet-stream", manifest_bytes(DOCKER_V2), DOCKER_V2),  # S3-style storage
        ("binary/octet-stream; charset=utf-8", manifest_bytes(None), OCI_MANIFEST),
        ("", json.dumps({"schemaVersion": 2, "manifests": []}).encode(), OCI_INDEX),
    ],
)
def test_media_type(
    env: tuple[Registry, requests_mock.Adapter], content_type: str | None, body: bytes,
    expected: str,
) -> None:
    reg, adapter = env
    stub_get(adapter, "latest", body, content_type=content_type, digest=None)
    raw = reg.repository("app").manifests.get_raw("latest")
    assert raw.media_type == expected
    assert raw.data == body


def test_a_generic_body_that_is_no_manifest_is_refused(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    stub_get(adapter, "latest", b"<html>a login page</html>", content_type="text/plain",
             digest=None)
    with pytest.raises(RegistryResponseError):  # never a RawManifest typed text/plain
        reg.repository("app").manifests.get_raw("latest")


def test_empty_body(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    stub_get(adapter, "latest", b"", digest=None)
    with pytest.raises(RegistryResponseError):
        reg.repository("app").manifests.get_raw("latest")


def test_not_found(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri(
        "GET", f"{BASE}/v2/app/manifests/nope", status_code=404,
        json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]},
    )
    with pytest.raises(NotFoundError) as info:
        reg.repository("app").manifests.get_raw("nope")
    assert info.value.codes == ["MANIFEST_UNKNOWN"]


@pytest.mark.parametrize(
    "ref", ["", "-bad", "a" * 129, "has space", "sha256:abc", "../x", "tag/slash"],
)
def test_invalid_reference_sends_nothing(
    env: tuple[Registry, requests_mock.Adapter], ref: str,
) -> None:
    reg, adapter = env
    with pytest.raises(InvalidReferenceError):
        reg.repository("app").manifests.get_raw(ref)
    assert adapter.request_history == []


# -- get (typed) ------------------------------------------------------------------------
def test_get_oci_manifest(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    stub_get(adapter, "latest")
    m = reg.repository("app").manifests.get("latest")
    assert isinstance(m, OCIManifest)
    assert m.config.digest == "sha256:" + "c" * 64
    assert [layer.size for layer in m.layers] == [32654]


def test_get_docker_v2(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    body = manifest_bytes(DOCKER_V2)
    stub_get(adapter, "latest", body, content_type=DOCKER_V2, digest=sha256(body))
    assert isinstance(reg.repository("app").manifests.get("latest"), ManifestV2)


def test_get_manifest_list(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    body = (DATA / "docker_manifest_list_golang_alpine.json").read_bytes()
    stub_get(adapter, "alpine", body, content_type=DOCKER_LIST, digest=sha256(body))
    m = reg.repository("app").manifests.get("alpine")
    assert isinstance(m, ManifestList)
    assert len(m.manifests) >= 2


def test_get_schema1_not_supported(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    body = json.dumps({"schemaVersion": 1, "name": "app", "tag": "old", "fsLayers": []}).encode()
    stub_get(adapter, "old", body, content_type=DOCKER_V1, digest=None)
    with pytest.raises(SchemaV1NotSupportedError,
                       match=r"^get manifest old \(registry.example/app\): the registry sent"):
        reg.repository("app").manifests.get("old")  # (the error says where)


def test_get_unknown_schema(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    body = json.dumps({"schemaVersion": 2, "mediaType": "application/x-unknown"}).encode()
    stub_get(adapter, "x", body, content_type="application/x-unknown", digest=None)
    with pytest.raises(UnknownSchemaError, match=r"^get manifest x \(registry.example/app\): "):
        reg.repository("app").manifests.get("x")


# -- head -------------------------------------------------------------------------------
def test_head(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri(
        "HEAD", f"{BASE}/v2/app/manifests/latest",
        headers={"Docker-Content-Digest": DIGEST, "Content-Length": str(len(MANIFEST)),
                 "Content-Type": OCI_MANIFEST},
    )
    d = reg.repository("app").manifests.head("latest")
    assert isinstance(d, Descriptor)
    assert (d.digest, d.size, d.media_type) == (DIGEST, len(MANIFEST), OCI_MANIFEST)
    [req] = adapter.request_history
    assert req.method == "HEAD"
    assert OCI_INDEX in req.headers["Accept"]


def test_head_without_digest_falls_back_to_get(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    adapter.register_uri(
        "HEAD", f"{BASE}/v2/app/manifests/latest",
        headers={"Content-Length": str(len(MANIFEST)), "Content-Type": OCI_MANIFEST},
    )
    stub_get(adapter, "latest", digest=None)
    d = reg.repository("app").manifests.head("latest")
    assert (d.digest, d.size, d.media_type) == (DIGEST, len(MANIFEST), OCI_MANIFEST)
    assert [r.method for r in adapter.request_history] == ["HEAD", "GET"]


def test_head_with_a_generic_content_type_reads_the_body(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    body = manifest_bytes(DOCKER_V2)
    adapter.register_uri(
        "HEAD", f"{BASE}/v2/app/manifests/latest",
        headers={"Docker-Content-Digest": sha256(body), "Content-Length": str(len(body)),
                 "Content-Type": "binary/octet-stream"},
    )
    stub_get(adapter, "latest", body, content_type="binary/octet-stream", digest=sha256(body))
    d = reg.repository("app").manifests.head("latest")
    assert (d.digest, d.size, d.media_type) == (sha256(body), len(body), DOCKER_V2)


def test_head_digest_reference_mismatch(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    wanted = "sha256:" + "e" * 64
    adapter.register_uri(
        "HEAD", f"{BASE}/v2/app/manifests/{wanted}",
        headers={"Docker-Content-Digest": DIGEST, "Content-Length": "10",
                 "Content-Type": OCI_MANIFEST},
    )
    with pytest.raises(DigestMismatchError):
        reg.repository("app").manifests.head(wanted)


def test_head_not_found(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/nope", status_code=404)
    with pytest.raises(NotFoundError):
        reg.repository("app").manifests.head("nope")
    assert len(adapter.request_history) == 1


# -- put --------------------------------------------------------------------------------
def test_put_raw_sends_exact_bytes_and_content_type(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    adapter.register_uri(
        "PUT", f"{BASE}/v2/app/manifests/v1", status_code=201,
        headers={"Docker-Content-Digest": DIGEST, "Location": f"/v2/app/manifests/{DIGEST}"},
    )
    raw = RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest=DIGEST)
    assert reg.repository("app").manifests.put("v1", raw) == DIGEST
    [req] = adapter.request_history
    assert req.method == "PUT"
    assert req.body == MANIFEST
    assert req.headers["Content-Type"] == OCI_MANIFEST


BLOB_UNKNOWN = {"status_code": 400, "json": {"errors": [
    {"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown to registry"}]}}


def _stub_blob_heads(adapter: requests_mock.Adapter, status: int = 200) -> list[str]:
    """HEADs of the manifest's config and layer, answered ``status``; their URLs."""
    urls = [f"{BASE}/v2/app/blobs/sha256:{c * 64}" for c in "cd"]
    for url in urls:
        adapter.register_uri("HEAD", url, status_code=status,
                             headers={"Content-Length": "1"} if status == 200 else {})
    return urls


def test_a_put_refused_for_blobs_the_registry_has_is_sent_again(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """Distribution checks a manifest's blobs by reading their repository links; one
    another request rewrites (a sync shard linking the same layer) reads empty and
    the PUT gets 400 MANIFEST_BLOB_UNKNOWN. When HEADs then find every blob, the PUT
    is sent again."""
    reg, adapter = env
    adapter.register_uri("PUT", f"{BASE}/v2/app/manifests/v1", [
        BLOB_UNKNOWN, {"status_code": 201, "headers": {"Docker-Content-Digest": DIGEST}}])
    heads = _stub_blob_heads(adapter)
    raw = RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest=DIGEST)
    assert reg.repository("app").manifests.put("v1", raw) == DIGEST
    assert [(r.method, r.url) for r in adapter.request_history] == [
        ("PUT", f"{BASE}/v2/app/manifests/v1"), ("HEAD", heads[0]), ("HEAD", heads[1]),
        ("PUT", f"{BASE}/v2/app/manifests/v1")]


@pytest.mark.parametrize("head_status", [404, 403], ids=["blob-missing", "check-fails"])
def test_a_put_refused_for_a_blob_not_found_again_raises_the_refusal(
    env: tuple[Registry, requests_mock.Adapter], head_status: int,
) -> None:
    """The blob is really missing (404), or the check cannot tell (403): the
    registry's refusal is what the caller gets, not the HEAD's error."""
    reg, adapter = env
    adapter.register_uri("PUT", f"{BASE}/v2/app/manifests/v1", **BLOB_UNKNOWN)
    _stub_blob_heads(adapter, head_status)
    raw = RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest=DIGEST)
    with pytest.raises(RegistryResponseError) as info:
        reg.repository("app").manifests.put("v1", raw)
    assert info.value.status_code == 400 and info.value.codes == ["MANIFEST_BLOB_UNKNOWN"]
    assert [r.method for r in adapter.request_history] == ["PUT", "HEAD"]


def test_a_put_refused_again_and_again_stops_after_the_retries(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env  # retries=1
    adapter.register_uri("PUT", f"{BASE}/v2/app/manifests/v1", **BLOB_UNKNOWN)
    _stub_blob_heads(adapter)
    raw = RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest=DIGEST)
    with pytest.raises(RegistryResponseError):
        reg.repository("app").manifests.put("v1", raw)
    assert [r.method for r in adapter.request_history].count("PUT") == 2


@pytest.mark.parametrize("given", ["application/json", "binary/octet-stream", "", OCI_MANIFEST])
def test_put_sends_the_type_the_bytes_declare(
    env: tuple[Registry, requests_mock.Adapter], given: str,
) -> None:
    """Never a generic Content-Type -- nor another label (OCI_MANIFEST here): the
    distribution spec has a manifest with a mediaType field sent with that Content-Type
    (a copy from a registry that labels it otherwise must not fail)."""
    reg, adapter = env
    body = manifest_bytes(DOCKER_V2)
    adapter.register_uri("PUT", f"{BASE}/v2/app/manifests/v1", status_code=201,
                         headers={"Docker-Content-Digest": sha256(body)})
    raw = RawManifest(data=body, media_type=given, digest=sha256(body))
    assert reg.repository("app").manifests.put("v1", raw) == sha256(body)
    assert adapter.request_history[-1].headers["Content-Type"] == DOCKER_V2


def test_a_manifest_labelled_otherwise_is_read_as_its_bytes_say(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """A registry that serves a Docker v2 manifest as OCI: the RawManifest (what a copy
    puts and describes, what a pull writes into index.json) takes the type its bytes
    declare -- the type a put sends -- so a copy's Image describes what the destination
    stores, not the source's label."""
    reg, adapter = env
    body = manifest_bytes(DOCKER_V2)
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/v1", content=body,
                         headers={"Content-Type": OCI_MANIFEST,
                                  "Docker-Content-Digest": sha256(body)})
    raw = reg.repository("app").manifests.get_raw("v1")
    assert raw.media_type == DOCKER_V2
    assert reg.repository("app").manifests.get("v1").media_type == DOCKER_V2


def test_put_of_bytes_that_say_no_type_is_refused_before_sending(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    raw = RawManifest(data=b"<html/>", media_type="text/plain", digest=sha256(b"<html/>"))
    with pytest.raises(RegistryResponseError):
        reg.repository("app").manifests.put("v1", raw)
    assert adapter.request_history == []


def test_put_model_serialised_with_its_media_type(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    stub_get(adapter, "latest")
    model = reg.repository("app").manifests.get("latest")
    adapter.register_uri("PUT", f"{BASE}/v2/app/manifests/v2", status_code=201)
    digest = reg.repository("app").manifests.put("v2", model)
    req = adapter.request_history[-1]
    assert req.headers["Content-Type"] == OCI_MANIFEST
    assert digest == sha256(req.body)
    assert json.loads(req.body) == json.loads(MANIFEST)


def test_put_by_digest(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("PUT", f"{BASE}/v2/app/manifests/{DIGEST}", status_code=201)
    raw = RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest=DIGEST)
    assert reg.repository("app").manifests.put(DIGEST, raw) == DIGEST


def test_put_by_wrong_digest_sends_nothing(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    raw = RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest=DIGEST)
    with pytest.raises(DigestMismatchError):
        reg.repository("app").manifests.put("sha256:" + "0" * 64, raw)
    assert adapter.request_history == []


def test_put_of_raw_bytes_that_are_not_their_digest_sends_nothing(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """A RawManifest says which digest its bytes have: a put that would tag other
    content than the caller's object names is refused, as a wrong digest= is."""
    reg, adapter = env
    raw = RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest="sha256:" + "0" * 64)
    with pytest.raises(DigestMismatchError, match="sha256:0000"):
        reg.repository("app").manifests.put("v1", raw)
    assert adapter.request_history == []


def test_put_registry_stored_other_digest(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri(
        "PUT", f"{BASE}/v2/app/manifests/v1", status_code=201,
        headers={"Docker-Content-Digest": "sha256:" + "0" * 64},
    )
    raw = RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest=DIGEST)
    with pytest.raises(DigestMismatchError):
        reg.repository("app").manifests.put("v1", raw)


def test_put_refused(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri(
        "PUT", f"{BASE}/v2/app/manifests/v1", status_code=400,
        json={"errors": [{"code": "MANIFEST_INVALID", "message": "manifest invalid"}]},
    )
    raw = RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest=DIGEST)
    with pytest.raises(RegistryResponseError) as info:
        reg.repository("app").manifests.put("v1", raw)
    assert info.value.status_code == 400
    assert info.value.codes == ["MANIFEST_INVALID"]


def test_put_asks_for_push_scope(token_challenged: Callable[..., Any]) -> None:
    reg, adapter, answer = token_challenged("repository:app:pull,push")
    adapter.register_uri("PUT", f"{BASE}/v2/app/manifests/v1", content=answer)
    raw = RawManifest(data=MANIFEST, media_type=OCI_MANIFEST, digest=DIGEST)
    reg.repository("app").manifests.put("v1", raw)
    [tok] = [r for r in adapter.request_history if r.hostname == "auth.example"]
    assert tok.qs["scope"] == ["repository:app:pull,push"]
    puts = [r for r in adapter.request_history if r.method == "PUT"]
    assert [r.body for r in puts] == [MANIFEST, MANIFEST]


# -- delete -----------------------------------------------------------------------------
def test_delete(env: tuple[Registry, requests_mock.Adapter]) -> None:
    """The manifest is read first (a subject would be taken out of the referrers tag);
    this one has none: nothing more than the DELETE."""
    reg, adapter = env
    stub_get(adapter, DIGEST)
    adapter.register_uri("DELETE", f"{BASE}/v2/app/manifests/{DIGEST}", status_code=202)
    reg.repository("app").manifests.delete(DIGEST)
    assert [(r.method, r.url) for r in adapter.request_history] == [
        ("GET", f"{BASE}/v2/app/manifests/{DIGEST}"),
        ("DELETE", f"{BASE}/v2/app/manifests/{DIGEST}"),
    ]


def test_delete_on_a_registry_with_the_referrers_api_is_one_request(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """Where the registry keeps the referrers itself, nothing needs the manifest."""
    reg, adapter = env
    reg.requester.capabilities["referrers_api"] = True
    adapter.register_uri("DELETE", f"{BASE}/v2/app/manifests/{DIGEST}", status_code=202)
    reg.repository("app").manifests.delete(DIGEST)
    assert [r.method for r in adapter.request_history] == ["DELETE"]


def test_delete_of_a_referrer_where_the_registry_has_the_api_leaves_tags_alone(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    subject = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "e" * 64, "size": 10}
    body = manifest_bytes(subject=subject, artifactType="application/x.sig")
    digest = sha256(body)
    stub_get(adapter, digest, body, digest=digest)
    adapter.register_uri("DELETE", f"{BASE}/v2/app/manifests/{digest}", status_code=202)
    adapter.register_uri("GET", f"{BASE}/v2/app/referrers/{subject['digest']}",
                         json={"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []},
                         headers={"Content-Type": OCI_INDEX})
    reg.repository("app").manifests.delete(digest)
    assert [r.method for r in adapter.request_history] == ["GET", "DELETE", "GET"]
    assert reg.requester.capabilities["referrers_api"] is True


@pytest.mark.parametrize("ref", ["latest", "sha256:abc", "sha256:" + "A" * 64])
def test_delete_needs_a_digest(env: tuple[Registry, requests_mock.Adapter], ref: str) -> None:
    reg, adapter = env
    with pytest.raises(InvalidReferenceError):
        reg.repository("app").manifests.delete(ref)
    assert adapter.request_history == []


def test_delete_not_allowed(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    stub_get(adapter, DIGEST)
    adapter.register_uri(
        "DELETE", f"{BASE}/v2/app/manifests/{DIGEST}", status_code=405,
        json={"errors": [{"code": "UNSUPPORTED", "message": "The operation is unsupported."}]},
    )
    with pytest.raises(RegistryResponseError) as info:
        reg.repository("app").manifests.delete(DIGEST)
    assert info.value.status_code == 405


@pytest.mark.parametrize("manifest", [{"schemaVersion": 2}, b"{}", "{}"])
def test_put_of_what_is_no_manifest_is_a_type_error(
    env: tuple[Registry, requests_mock.Adapter], manifest: object,
) -> None:
    reg, adapter = env
    with pytest.raises(TypeError, match="a manifest model or a RawManifest"):
        reg.repository("app").manifests.put("t", manifest)  # type: ignore[arg-type]
    assert adapter.request_history == []
