"""Hostile and broken registry answers, table-driven, through requests-mock.

Every case must end in a typed :class:`RegistryError` with a clear message -- never a raw
KeyError / TypeError / JSONDecodeError / AttributeError, never a hang -- or, for the few
answers the contract says to accept, in a correct result.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock

from registry_client import (
    AuthenticationError,
    AuthorizationError,
    DigestMismatchError,
    NotFoundError,
    Registry,
    RegistryError,
    RegistryResponseError,
    RegistryUnavailableError,
    SchemaV1NotSupportedError,
    TokenError,
    UnknownSchemaError,
)

BASE = "https://registry.example"
V2 = f"{BASE}/v2"
REALM = "https://auth.example/token"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

BLOB = b"layer-bytes" * 1000
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
BLOB_SIZE = len(BLOB)
CONFIG = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": []}}).encode()
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def desc(digest: str = BLOB_DIGEST, size: Any = BLOB_SIZE,
         media: str = "application/vnd.oci.image.layer.v1.tar") -> dict[str, Any]:
    return {"mediaType": media, "digest": digest, "size": size}


def manifest(**override: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": desc(CONFIG_DIGEST, len(CONFIG), OCI_CONFIG), "layers": [desc()],
    }
    doc.update(override)
    return {k: v for k, v in doc.items() if v is not ...}


GOOD = json.dumps(manifest()).encode()


# -- answers ------------------------------------------------------------------------------
Setup = Callable[[requests_mock.Adapter], None]


def manifest_answer(body: bytes | str, *, ctype: str | None = OCI_MANIFEST, status: int = 200,
                    digest: str | bool | None = True, **headers: str) -> Setup:
    data = body.encode() if isinstance(body, str) else body

    def setup(adapter: requests_mock.Adapter) -> None:
        h = dict(headers)
        if ctype is not None:
            h["Content-Type"] = ctype
        if digest is True:
            h["Docker-Content-Digest"] = sha(data)
        elif isinstance(digest, str):
            h["Docker-Content-Digest"] = digest
        adapter.register_uri("GET", f"{V2}/app/manifests/v1", content=data, status_code=status,
                             headers=h)
        adapter.register_uri("HEAD", f"{V2}/app/manifests/v1", status_code=status, headers=h)

    return setup


def json_manifest(doc: Any, **kw: Any) -> Setup:
    return manifest_answer(json.dumps(doc), **kw)


def tags_answer(body: Any, *, status: int = 200, raw: bool = False, **headers: str) -> Setup:
    def setup(adapter: requests_mock.Adapter) -> None:
        data = body if raw else json.dumps(body).encode()
        adapter.register_uri("GET", f"{V2}/app/tags/list", content=data, status_code=status,
                             headers={"Content-Type": "application/json", **headers})

    return setup


def catalog_answer(body: Any, **headers: str) -> Setup:
    def setup(adapter: requests_mock.Adapter) -> None:
        adapter.register_uri("GET", f"{V2}/_catalog", json=body, headers=headers)

    return setup


def blob_answer(body: bytes, *, status: int = 200, method: str = "GET", **headers: str) -> Setup:
    if method == "GET" and status == 200:
        headers.setdefault("Content-Length", str(len(body)))  # as a registry answers

    def setup(adapter: requests_mock.Adapter) -> None:
        adapter.register_uri(method, f"{V2}/app/blobs/{BLOB_DIGEST}", content=body,
                             status_code=status, headers=headers)

    return setup


def token_answer(body: bytes | Any, *, status: int = 200,
                 challenge: str = f'Bearer realm="{REALM}",service="reg"') -> Setup:
    def setup(adapter: requests_mock.Adapter) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        adapter.register_uri("GET", REALM, content=data, status_code=status)
        adapter.register_uri("GET", f"{V2}/app/manifests/v1", status_code=401,
                             headers={"WWW-Authenticate": challenge},
                             json={"errors": [{"code": "UNAUTHORIZED"}]})

    return setup


def upload_answer(post_headers: dict[str, str], *, put_headers: dict[str, str] | None = None,
                  put_status: int = 201) -> Setup:
    def setup(adapter: requests_mock.Adapter) -> None:
        adapter.register_uri("HEAD", f"{V2}/app/blobs/{BLOB_DIGEST}", status_code=404)
        adapter.register_uri("POST", f"{V2}/app/blobs/uploads/", status_code=202,
                             headers=post_headers)
        adapter.register_uri("PUT", requests_mock.ANY, status_code=put_status,
                             headers=put_headers or {})
        adapter.register_uri("DELETE", requests_mock.ANY, status_code=204)

    return setup


def combine(*setups: Setup) -> Setup:
    def setup(adapter: requests_mock.Adapter) -> None:
        for s in setups:
            s(adapter)

    return setup


def with_blobs(adapter: requests_mock.Adapter) -> None:
    for digest, data in ((CONFIG_DIGEST, CONFIG), (BLOB_DIGEST, BLOB)):
        adapter.register_uri("GET", f"{V2}/app/blobs/{digest}", content=data,
                             headers={"Content-Length": str(len(data))})


# -- operations -------------------------------------------------------------------------------
def op_get(reg: Registry, tmp: Path) -> Any:
    return reg.repository("app").manifests.get("v1")


def op_raw(reg: Registry, tmp: Path) -> Any:
    return reg.repository("app").manifests.get_raw("v1")


def op_head(reg: Registry, tmp: Path) -> Any:
    return reg.repository("app").manifests.head("v1")


def op_image(reg: Registry, tmp: Path) -> Any:
    return reg.repository("app").images.get_by_tag("v1")


def op_pull(reg: Registry, tmp: Path) -> Any:
    return reg.repository("app").images.pull("v1", tmp / "oci")


def op_tags(reg: Registry, tmp: Path) -> Any:
    return reg.repository("app").tags.get_all()


def op_catalog(reg: Registry, tmp: Path) -> Any:
    return [r.name for r in reg.repositories()]


def op_blob(reg: Registry, tmp: Path) -> Any:
    return reg.repository("app").blobs.get(BLOB_DIGEST)


def op_blob_size(reg: Registry, tmp: Path) -> Any:
    return reg.repository("app").blobs.size(BLOB_DIGEST)


def op_upload(reg: Registry, tmp: Path) -> Any:
    return reg.repository("app").blobs.upload(BLOB)


@dataclass
class Case:
    id: str
    op: Callable[[Registry, Path], Any]
    setup: Setup
    expect: type[BaseException] | None  # None: the answer is acceptable
    match: str = ""
    check: Callable[[Any], bool] = field(default=lambda result: True)


DEEP = b"[" * 100_000 + b"]" * 100_000
CASES = [
    # -- manifest bodies -------------------------------------------------------------------
    Case("manifest-not-json", op_get, manifest_answer("this is not json"),
         RegistryResponseError, "not valid JSON"),
    Case("manifest-html-200", op_get, manifest_answer(HTML, ctype="text/html"),
         RegistryResponseError, "not valid JSON"),
    # (a document that says its own type is read as it says, whatever the label: these
    # say none, so the label decides)
    Case("manifest-json-but-html-type", op_get,
         json_manifest(manifest(mediaType=...), ctype="text/html"), UnknownSchemaError,
         "text/html"),
    Case("manifest-html-200-octet", op_get,
         manifest_answer(HTML, ctype="application/octet-stream"), RegistryResponseError,
         "JSON"),
    Case("manifest-json-array", op_get, json_manifest([1, 2], ctype="application/json"),
         RegistryResponseError, "JSON object"),
    Case("manifest-json-null", op_get, json_manifest(None, ctype=None), RegistryResponseError,
         "JSON object"),
    Case("manifest-json-string", op_get, json_manifest("hello"), RegistryResponseError,
         "JSON object"),
    Case("manifest-wrong-shape", op_get, json_manifest({"foo": 1}), RegistryResponseError,
         "config"),
    Case("manifest-layers-not-list", op_get, json_manifest(manifest(layers="x")),
         RegistryResponseError, "layers"),
    Case("manifest-layer-not-object", op_get, json_manifest(manifest(layers=[3])),
         RegistryResponseError, "layers"),
    Case("manifest-negative-size", op_get, json_manifest(manifest(layers=[desc(size=-1)])),
         RegistryResponseError, "negative"),
    Case("manifest-float-size", op_get, json_manifest(manifest(layers=[desc(size=1.5)])),
         RegistryResponseError, "size"),
    Case("manifest-string-size", op_get, json_manifest(manifest(layers=[desc(size="10")])),
         RegistryResponseError, "size"),
    Case("manifest-bool-size", op_get, json_manifest(manifest(layers=[desc(size=True)])),
         RegistryResponseError, "size"),
    Case("manifest-bad-layer-digest", op_get,
         json_manifest(manifest(layers=[desc(digest="sha256:xyz")])), RegistryResponseError,
         "digest"),
    Case("manifest-media-type-not-str", op_get, json_manifest(manifest(mediaType=5), ctype=None),
         RegistryResponseError, "mediaType"),
    Case("manifest-schema1", op_get,
         json_manifest({"schemaVersion": 1, "name": "app", "fsLayers": []}, ctype=SCHEMA1),
         SchemaV1NotSupportedError, "schema1"),
    Case("manifest-unknown-media-type", op_get,
         json_manifest(manifest(mediaType=...), ctype="application/x-evil"), UnknownSchemaError,
         "x-evil"),
    Case("manifest-schema-version-3", op_get, json_manifest(manifest(schemaVersion=3)),
         UnknownSchemaError, "schemaVersion"),
    Case("manifest-content-type-says-list", op_get,
         json_manifest(manifest(mediaType=...), ctype=DOCKER_LIST), RegistryResponseError,
         "manifests"),
    Case("manifest-empty-200", op_raw, manifest_answer(b"", digest=False),
         RegistryResponseError, "empty"),
    Case("manifest-deeply-nested", op_get, manifest_answer(DEEP), RegistryResponseError,
         "JSON"),
    Case("manifest-invalid-utf8", op_get, manifest_answer(b'{"schemaVersion": "\xff\xfe"}'),
         RegistryResponseError, "JSON"),
    Case("manifest-nan", op_get, manifest_answer(b'{"schemaVersion": NaN, "config": {}}'),
         RegistryResponseError, ""),
    Case("manifest-digest-header-disagrees", op_raw,
         manifest_answer(GOOD, digest="sha256:" + "0" * 64), DigestMismatchError,
         "sha256:" + "0" * 64),
    Case("manifest-digest-header-malformed", op_raw, manifest_answer(GOOD, digest="md5:abc"),
         RegistryResponseError, "Docker-Content-Digest"),
    Case("manifest-without-digest-header", op_raw, manifest_answer(GOOD, digest=False), None,
         check=lambda raw: raw.digest == sha(GOOD) and raw.data == GOOD),
    Case("manifest-generic-content-type-sniffed", op_get,
         manifest_answer(GOOD, ctype="application/json"), None,
         check=lambda m: type(m).__name__ == "OCIManifest"),
    Case("manifest-content-length-lies", op_raw,
         manifest_answer(GOOD, **{"Content-Length": "10"}), RegistryResponseError,
         "Content-Length"),
    Case("manifest-content-length-negative", op_raw,
         manifest_answer(GOOD, **{"Content-Length": "-3"}), RegistryResponseError,
         "Content-Length"),
    Case("manifest-huge-config-size", op_image,
         combine(json_manifest(manifest(config=desc(CONFIG_DIGEST, 2**70, OCI_CONFIG))),
                 with_blobs), RegistryResponseError, "limit"),
    Case("manifest-config-not-json", op_image,
         combine(json_manifest(manifest(config=desc(sha(HTML), len(HTML), OCI_CONFIG))),
                 lambda a: a.register_uri("GET", f"{V2}/app/blobs/{sha(HTML)}", content=HTML)),
         RegistryResponseError, "image config"),
    Case("pull-layer-size-lies", op_pull,
         combine(json_manifest(manifest(layers=[desc(size=2**40)])), with_blobs),
         DigestMismatchError, f"announced {len(BLOB)} bytes, expected {2**40}"),
    Case("head-digest-malformed-falls-back", op_head,
         combine(manifest_answer(GOOD, digest="sha256:../../x")), RegistryResponseError,
         "Docker-Content-Digest"),
    Case("index-entry-digest-hostile", op_pull,
         json_manifest({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": [desc("sha256:../../../etc/passwd", 10, OCI_MANIFEST)]},
                       ctype=OCI_INDEX), RegistryResponseError, "digest"),
    Case("index-entries-not-list", op_get,
         json_manifest({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": {"a": 1}},
                       ctype=OCI_INDEX), RegistryResponseError, "manifests"),
    # -- statuses and error bodies ---------------------------------------------------------
    Case("404-html", op_raw, manifest_answer(HTML, ctype="text/html", status=404),
         NotFoundError, "404"),
    Case("401-without-challenge", op_raw, manifest_answer(b"{}", status=401),
         AuthenticationError, "401"),
    Case("403-html", op_raw, manifest_answer(HTML, ctype="text/html", status=403),
         AuthorizationError, "403"),
    Case("500-html", op_raw, manifest_answer(HTML, ctype="text/html", status=500),
         RegistryUnavailableError, "500"),
    Case("502-html-retried", op_raw, manifest_answer(HTML, ctype="text/html", status=502),
         RegistryUnavailableError, "502"),
    Case("418-teapot", op_raw, manifest_answer(b"I'm a teapot", status=418),
         RegistryResponseError, "418"),
    Case("400-errors-wrong-shape", op_raw,
         manifest_answer(b'{"errors": "nope"}', status=400), RegistryResponseError, "400"),
    Case("400-errors-items-wrong-shape", op_raw,
         manifest_answer(b'{"errors": [1, "x", {"code": ["A"]}]}', status=400),
         RegistryResponseError, "400"),
    Case("redirect-loop", op_raw,
         lambda a: a.register_uri("GET", f"{V2}/app/manifests/v1", status_code=302,
                                  headers={"Location": f"{V2}/app/manifests/v1"}),
         RegistryUnavailableError, "TooManyRedirects"),
    # -- tag lists -------------------------------------------------------------------------
    Case("tags-not-json", op_tags, tags_answer(b"<html>", raw=True), RegistryResponseError,
         "malformed JSON"),
    Case("tags-not-object", op_tags, tags_answer(["a"]), RegistryResponseError, "JSON object"),
    Case("tags-not-list", op_tags, tags_answer({"tags": "latest"}), RegistryResponseError,
         "list of strings"),
    Case("tags-with-numbers", op_tags, tags_answer({"tags": [1, 2]}), RegistryResponseError,
         "list of strings"),
    Case("tags-unicode", op_tags, tags_answer({"tags": ["ok", "t\u00e4g"]}),
         RegistryResponseError, "invalid tag"),
    Case("tags-emoji", op_tags, tags_answer({"tags": ["\U0001f600"]}), RegistryResponseError,
         "invalid tag"),
    Case("tags-path-trick", op_tags, tags_answer({"tags": ["../../etc/passwd"]}),
         RegistryResponseError, "invalid tag"),
    Case("tags-nul", op_tags, tags_answer({"tags": ["a\x00b"]}), RegistryResponseError,
         "invalid tag"),
    Case("tags-null-is-empty", op_tags, tags_answer({"name": "app", "tags": None}), None,
         check=lambda tags: tags == []),
    Case("tags-empty-200", op_tags, tags_answer(b"", raw=True), RegistryResponseError,
         "malformed JSON"),
    Case("tags-link-loop", op_tags,
         tags_answer({"tags": ["a"]}, Link=f'<{V2}/app/tags/list>; rel="next"'),
         RegistryResponseError, "loop"),
    Case("tags-link-other-host", op_tags,
         tags_answer({"tags": ["a"]}, Link='<https://evil.example/v2/app/tags/list>; rel="next"'),
         RegistryResponseError, "another host"),
    Case("tags-link-other-scheme", op_tags,
         tags_answer({"tags": ["a"]}, Link='<http://registry.example/v2/app/tags/list?n=1>; '
                     'rel="next"'), RegistryResponseError, "another host"),
    Case("tags-link-garbage-ignored", op_tags,
         tags_answer({"tags": ["a"]}, Link="<<<>>>; rel=next, garbage"), None,
         check=lambda tags: tags == ["a"]),
    # -- catalog ---------------------------------------------------------------------------
    Case("catalog-not-list", op_catalog, catalog_answer({"repositories": {"a": 1}}),
         RegistryResponseError, "list of strings"),
    Case("catalog-wrong-shape", op_catalog, catalog_answer([1, 2]), RegistryResponseError,
         "JSON object"),
    Case("catalog-link-loop", op_catalog,
         catalog_answer({"repositories": ["a"]}, Link=f'<{V2}/_catalog>; rel="next"'),
         RegistryResponseError, "loop"),
    Case("catalog-skips-invalid-names", op_catalog,
         catalog_answer({"repositories": ["ok/app", "../evil", "UPPER"]}), None,
         check=lambda names: names == ["ok/app"]),
    # -- blobs -----------------------------------------------------------------------------
    Case("blob-wrong-content", op_blob, blob_answer(b"something else"), DigestMismatchError,
         BLOB_DIGEST),
    Case("blob-longer-than-announced", op_blob,
         blob_answer(BLOB + b"extra", **{"Content-Length": str(len(BLOB))}),
         DigestMismatchError, "more than"),
    Case("blob-206-wrong-range", op_blob,
         blob_answer(BLOB, status=206, **{"Content-Range": f"bytes 5-{len(BLOB)}/*"}),
         RegistryUnavailableError, "Content-Range"),
    Case("blob-html-200", op_blob, blob_answer(HTML, **{"Content-Type": "text/html"}),
         DigestMismatchError, BLOB_DIGEST),
    Case("blob-head-no-length", op_blob_size, blob_answer(b"", method="HEAD"),
         RegistryResponseError, "Content-Length"),
    Case("blob-head-negative-length", op_blob_size,
         blob_answer(b"", method="HEAD", **{"Content-Length": "-5"}), RegistryResponseError,
         "Content-Length"),
    Case("blob-head-unicode-digits", op_blob_size,
         blob_answer(b"", method="HEAD", **{"Content-Length": "\u0663\u0664"}),
         RegistryResponseError, "Content-Length"),
    # -- token server ----------------------------------------------------------------------
    Case("token-not-json", op_raw, token_answer(HTML), TokenError, "malformed JSON"),
    Case("token-json-array", op_raw, token_answer(["token"]), TokenError, "not an object"),
    Case("token-missing", op_raw, token_answer({"expires_in": 60}), TokenError, "no usable"),
    Case("token-not-string", op_raw, token_answer({"token": 12345}), TokenError, "no usable"),
    Case("token-header-injection", op_raw, token_answer({"token": "abc\r\nX-Evil: 1"}),
         TokenError, "no usable"),
    Case("token-server-404", op_raw, token_answer({"x": 1}, status=404), TokenError, "404"),
    Case("token-oversized", op_raw, token_answer(b'{"token": "' + b"a" * 2_000_000 + b'"}'),
         TokenError, "oversized"),
    Case("challenge-garbage", op_raw, token_answer({}, challenge='Bearer realm="unterminated'),
         TokenError, "unterminated"),
    Case("challenge-unknown-scheme", op_raw, token_answer({}, challenge="HOBA max-age=1"),
         TokenError, "HOBA"),
    # -- uploads ---------------------------------------------------------------------------
    Case("upload-no-location", op_upload, upload_answer({}), RegistryResponseError,
         "Location"),
    Case("upload-registry-stored-other-digest", op_upload,
         upload_answer({"Location": f"{V2}/app/blobs/uploads/u1"},
                       put_headers={"Docker-Content-Digest": "sha256:" + "1" * 64}),
         DigestMismatchError, "sha256:" + "1" * 64),
    Case("upload-put-418", op_upload,
         upload_answer({"Location": f"{V2}/app/blobs/uploads/u1"}, put_status=418),
         RegistryResponseError, "418"),
    # -- URLs that do not parse (urllib raises a bare ValueError for them) -----------------
    Case("blob-redirect-to-a-broken-url", op_blob,
         blob_answer(b"", status=307, Location="http://[::1/blob"),
         RegistryResponseError, "an unusable URL"),
    Case("tags-link-broken-url", op_tags,
         tags_answer({"tags": ["a"]}, Link='<http://[::1/v2/app/tags/list>; rel="next"'),
         RegistryResponseError, "unusable URL"),
    Case("tags-link-port-out-of-range", op_tags,
         tags_answer({"tags": ["a"]},
                     Link='<https://registry.example:99999999/v2/app/tags/list>; rel="next"'),
         RegistryResponseError, "unusable URL"),
    Case("catalog-link-broken-url", op_catalog,
         catalog_answer({"repositories": ["a"]}, Link='<http://[::1/v2/_catalog>; rel="next"'),
         RegistryResponseError, "unusable URL"),
    Case("challenge-realm-broken-url", op_raw,
         token_answer({}, challenge='Bearer realm="http://[::1/token",service="x"'),
         TokenError, "unusable realm"),
    Case("upload-location-broken-url", op_upload, upload_answer({"Location": "http://[::1"}),
         RegistryResponseError, "unusable URL"),
    # -- a blob stored gzip-compressed and served "Content-Encoding: gzip" (S3, CloudFront) --
    Case("blob-content-encoding-is-not-undone", op_blob,
         blob_answer(BLOB, **{"Content-Encoding": "gzip"}), None,
         check=lambda data: data == BLOB),
]


def run_bounded(fn: Callable[[], Any], seconds: float = 15.0) -> tuple[Any, BaseException | None]:
    """Run ``fn`` in a thread; fail the test if it does not finish in time."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the client hung"
    return box.get("result"), box.get("error")


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_response(case: Case, tmp_path: Path) -> None:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    reg = Registry("registry.example", session=session, retries=1, backoff=0.0)
    case.setup(adapter)
    result, error = run_bounded(lambda: case.op(reg, tmp_path))
    if case.expect is None:
        assert error is None, f"{type(error).__name__}: {error}"
        assert case.check(result), result
        return
    assert error is not None, f"expected {case.expect.__name__}, got {result!r}"
    assert isinstance(error, RegistryError), (
        f"raw {type(error).__name__} leaked: {error!r}"
    )
    assert type(error) is case.expect, f"{type(error).__name__}: {error}"
    message = str(error)
    assert case.match in message, message
    assert 10 < len(message) < 2000 and "Traceback" not in message
    # nothing unverified was left behind by a pull
    if case.op is op_pull and (tmp_path / "oci").exists():
        for p in (tmp_path / "oci").rglob("*"):
            if p.is_file() and "blobs" in p.parts:
                assert sha(p.read_bytes()) == f"sha256:{p.name}"
    # credentials never went anywhere but the registry and its realm
    hosts = {r.hostname for r in adapter.request_history}
    assert hosts <= {"registry.example", "auth.example"}


def test_an_upload_location_on_another_host_gets_no_credentials() -> None:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry("registry.example", session=session, backoff=0.0)
    adapter.register_uri("GET", REALM, json={"token": "SECRET-TOKEN"})
    challenge = f'Bearer realm="{REALM}",service="reg",scope="repository:app:pull,push"'

    def guarded(request: Any, context: Any) -> bytes:
        if request.headers.get("Authorization") != "Bearer SECRET-TOKEN":
            context.status_code = 401
            context.headers["WWW-Authenticate"] = challenge
            return b""
        context.status_code = 202
        context.headers["Location"] = "https://storage.example/upload/u1?sig=abc"
        return b""

    adapter.register_uri("HEAD", f"{V2}/app/blobs/{BLOB_DIGEST}", status_code=404)
    adapter.register_uri("POST", f"{V2}/app/blobs/uploads/", content=guarded)
    adapter.register_uri("PUT", "https://storage.example/upload/u1", status_code=201)
    assert reg.repository("app").blobs.upload(BLOB).digest == BLOB_DIGEST
    (put,) = [r for r in adapter.request_history if r.hostname == "storage.example"]
    assert "Authorization" not in put.headers


def test_blob_gets_ask_for_the_bytes_as_stored() -> None:
    """Accept-Encoding: identity -- so no server compresses a blob on the way."""
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry("registry.example", session=session, retries=0)
    blob_answer(BLOB)(adapter)
    assert reg.repository("app").blobs.get(BLOB_DIGEST) == BLOB
    assert adapter.request_history[-1].headers["Accept-Encoding"] == "identity"


@pytest.mark.parametrize("limit", ["MAX_PAGES", "MAX_ITEMS"])
def test_pages_that_never_end_are_stopped(limit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every page links to a new one: no loop to detect, so the totals stop it."""
    import registry_client._pagination as pagination

    monkeypatch.setattr(pagination, limit, 30)
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry("registry.example", session=session, retries=0)
    served = []

    def page(request: Any, context: Any) -> dict[str, Any]:
        n = int(request.qs.get("last", ["0"])[0])
        served.append(n)
        context.headers["Link"] = f'</v2/app/tags/list?last={n + 1}>; rel="next"'
        return {"name": "app", "tags": [f"t{n}a", f"t{n}b"]}

    adapter.register_uri("GET", requests_mock.ANY, json=page)
    _, error = run_bounded(lambda: reg.repository("app").tags.get_all())
    assert isinstance(error, RegistryResponseError), error
    assert "go on past 30" in str(error)
    assert len(served) <= 31


def test_a_config_over_the_body_limit_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    """The Image a pull returns is read from the config: refuse it first, not last."""
    big = json.dumps({"architecture": "amd64", "os": "linux",
                      "pad": "x" * (5 * 1024 * 1024)}).encode()
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry("registry.example", session=session, retries=0)
    json_manifest(manifest(config=desc(sha(big), len(big), OCI_CONFIG)))(adapter)
    with_blobs(adapter)
    adapter.register_uri("GET", f"{V2}/app/blobs/{sha(big)}", content=big,
                         headers={"Content-Length": str(len(big))})
    with pytest.raises(RegistryResponseError, match="exceeds"):
        reg.repository("app").images.pull("v1", tmp_path / "oci")
    assert not (tmp_path / "oci").exists()
    assert [r.method for r in adapter.request_history] == ["GET"]  # the manifest only
