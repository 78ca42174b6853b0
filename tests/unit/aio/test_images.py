"""AsyncImageService on httpx.MockTransport: the blocking service's results and errors,
and a copy between the two flavours refused before anything is written."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest

from registry_client import Image
from registry_client.errors import InvalidReferenceError, NotFoundError

pytestmark = pytest.mark.anyio

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
CONFIG = json.dumps({"architecture": "arm64", "os": "linux", "variant": "v8",
                     "created": "2024-01-02T03:04:05Z",
                     "config": {"Labels": {"team": "infra"}},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "e" * 64]}}
                    ).encode()
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()
LAYER_DIGEST = "sha256:" + "d" * 64
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
    "config": {"mediaType": CONFIG_TYPE, "digest": CONFIG_DIGEST, "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": LAYER_DIGEST, "size": 32654}],
}).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
NOT_FOUND = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
                       ).encode()


def streamable(router: Any) -> None:
    """Let the router's answers be streamed (a blob is read raw, as served): httpx reads a
    Response built from bytes at once, so each answer is rebuilt on a byte stream."""
    handler = router.transport.handler

    def handle(request: httpx.Request) -> httpx.Response:
        answer = handler(request)
        return httpx.Response(answer.status_code, headers=answer.headers,
                              stream=httpx.ByteStream(answer.content))

    router.transport.handler = handle


def serve_image(router: Any) -> None:
    streamable(router)
    answer = {"status": 200, "body": MANIFEST,
              "headers": {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": DIGEST}}
    router.add("GET", "/v2/app/manifests/1.0", answer)
    router.add("GET", f"/v2/app/manifests/{DIGEST}", answer)
    router.add("GET", f"/v2/app/blobs/{CONFIG_DIGEST}", status=200, body=CONFIG)


async def test_reads_are_the_blocking_results(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    serve_image(router)
    images, blocking = areg.repository("app").images, reg.repository("app").images

    image = await images.get_by_tag("1.0")
    assert isinstance(image, Image) and image == blocking.get_by_tag("1.0")
    assert (image.digest, image.tag, str(image.platforms[0])) == (DIGEST, "1.0",
                                                                  "linux/arm64/v8")
    assert await images.get_by_digest(DIGEST) == blocking.get_by_digest(DIGEST)
    details = await images.details("1.0")
    assert details == blocking.details("1.0")
    assert details[0].labels == {"team": "infra"}
    assert details[0].size == len(CONFIG) + 32654


async def test_errors_have_the_blocking_type_and_message(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    router.add("GET", "/v2/app/manifests/2.0", status=404, body=NOT_FOUND,
               headers={"Content-Type": "application/json"})
    with pytest.raises(NotFoundError) as blocking:
        reg.repository("app").images.get_by_tag("2.0")
    with pytest.raises(NotFoundError) as awaited:
        await areg.repository("app").images.get_by_tag("2.0")
    assert str(awaited.value) == str(blocking.value)
    with pytest.raises(InvalidReferenceError):  # refused before any request
        await areg.repository("app").images.pull("not a tag!", "out")
    assert router.paths() == ["/v2/app/manifests/2.0"]


async def test_a_copy_to_a_repository_of_the_other_flavour_is_refused(
    mock_registries: Any, tmp_path: Any,
) -> None:
    # one flow runs both sides of a copy, on one shell: its target must be of its flavour
    areg, reg, router = mock_registries()
    serve_image(router)
    with pytest.raises(TypeError, match="blocking registry"):
        await areg.repository("app").images.copy("1.0", reg.repository("copy"))
    with pytest.raises(TypeError, match="asyncio registry"):
        reg.repository("app").images.copy("1.0", areg.repository("copy"))
    assert not [p for p in router.paths() if "/v2/copy/" in p]  # nothing reached the target
