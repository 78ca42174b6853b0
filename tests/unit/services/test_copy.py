"""Copies (``services._copy``) through requests-mock: what they send."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import requests_mock

from registry_client import Registry

BASE = "https://registry.example"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = b'{"architecture":"amd64","os":"linux"}'


def _image(adapter: requests_mock.Adapter) -> dict[str, bytes]:
    """An image ``app:1.0`` of a config and one layer; the blobs by digest."""
    blobs = {f"sha256:{hashlib.sha256(data).hexdigest()}": data for data in (CONFIG, b"layer")}
    config, layer = blobs
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config, "size": len(CONFIG)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer, "size": 5}]}).encode()
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/1.0", content=manifest,
                         headers={"Content-Type": OCI_MANIFEST})
    for digest, data in blobs.items():
        adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{digest}", content=data)
        adapter.register_uri("HEAD", f"{BASE}/v2/copy/blobs/{digest}", status_code=404)
    adapter.register_uri("HEAD", f"{BASE}/v2/copy/manifests/1.0", status_code=404)
    adapter.register_uri("PUT", f"{BASE}/v2/copy/manifests/1.0", status_code=201)
    return blobs


def test_a_mount_answered_with_a_session_uploads_in_that_session(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]],
) -> None:
    """A registry that declines the mount answers 202 and an upload session, which the
    spec lets the client go on with. It was cancelled (a DELETE; in token mode a 401
    first, Distribution wanting the delete right) and a new one opened: 2-3 requests
    more per blob. Now each blob is its mount's POST and one PUT."""
    reg, adapter = mocked_registry(retries=0)
    blobs = _image(adapter)
    sessions = iter(range(1, 10))

    def open_session(request: Any, context: Any) -> bytes:
        context.status_code = 202
        context.headers["Location"] = f"/v2/copy/blobs/uploads/s{next(sessions)}"
        return b""

    adapter.register_uri("POST", f"{BASE}/v2/copy/blobs/uploads/", content=open_session)
    def commit(request: Any, context: Any) -> bytes:
        body = request.body
        if body is not None and not isinstance(body, bytes):
            b"".join(body)  # a relayed body: read through, as a server does
        context.status_code = 201
        return b""

    adapter.register_uri("PUT", requests_mock.ANY, content=commit,
                         additional_matcher=lambda r: "/blobs/uploads/s" in r.url)
    reg.repository("app").images.copy("1.0", reg.repository("copy"))
    writes = [(r.method, r.path, r.qs.get("mount", [""])[0], r.qs.get("digest", [""])[0])
              for r in adapter.request_history if r.method in ("POST", "PUT", "DELETE")]
    posts = sorted(w for w in writes if w[0] == "POST")
    assert posts == sorted(("POST", "/v2/copy/blobs/uploads/", d, "") for d in blobs)
    puts = {w[3]: w[1] for w in writes if w[0] == "PUT" and "/blobs/" in w[1]}
    assert set(puts) == set(blobs) and len(set(puts.values())) == 2
    assert not [w for w in writes if w[0] == "DELETE"]
