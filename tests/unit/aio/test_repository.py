"""AsyncRepository on httpx.MockTransport: its delete, as the blocking Repository's."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

pytestmark = pytest.mark.anyio

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
BODY = b'{"schemaVersion": 2, "mediaType": "' + DOCKER_V2.encode() + b'"}'
DIGEST = "sha256:" + hashlib.sha256(BODY).hexdigest()


def stub(router: Any) -> None:
    router.add("GET", "/v2/app/tags/list", status=200, headers={
        "Content-Type": "application/json"},
        body=json.dumps({"name": "app", "tags": ["1.0", "latest"]}).encode())
    for tag in ("1.0", "latest"):
        router.add("HEAD", f"/v2/app/manifests/{tag}", status=200, body=BODY,
                   headers={"Docker-Content-Digest": DIGEST, "Content-Type": DOCKER_V2})
    router.add("DELETE", f"/v2/app/manifests/{DIGEST}", status=202)


async def test_delete_deletes_each_manifest_once(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    stub(router)
    repo = areg.repository("app")
    assert repo.domain == "registry.example" and repo.registry is areg

    assert await repo.delete(dry_run=True) == [DIGEST] == reg.repository("app").delete(
        dry_run=True)
    assert router.paths("DELETE") == []
    gone: list[str] = []
    assert await repo.delete(on_deleted=gone.append) == [DIGEST]
    assert gone == [DIGEST]
    assert router.paths("DELETE") == [f"/v2/app/manifests/{DIGEST}"]
