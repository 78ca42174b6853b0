"""Manifests served with a generic Content-Type (S3-style ``binary/octet-stream``).

Some registries serve manifests straight from object storage, with the storage's
Content-Type instead of the manifest's. A FaultProxy in front of the real registry
rewrites that header; the client must still see, store and copy the real type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from registry_client import Registry, mediatypes
from registry_client.testing import FaultProxy, LocalRegistry, seed_image

pytestmark = pytest.mark.integration

GENERIC = "binary/octet-stream"


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        p.add_rule(path=r"/manifests/", action="headers", times=None,
                   headers={"Content-Type": GENERIC})
        yield p


def test_get_raw_copy_and_pull_keep_the_real_media_type(
    anon_registry: LocalRegistry, proxy: FaultProxy, unique_repository: str, tmp_path: Path,
) -> None:
    # a Docker manifest list: neither its type nor its children's follows from the shape
    index = seed_image(anon_registry, unique_repository, "1.0", media="docker",
                       platforms=["linux/amd64", "linux/arm64"])
    served = requests.get(f"{proxy.url}/v2/{unique_repository}/manifests/1.0", timeout=5,
                          headers={"Accept": mediatypes.MANIFEST_ACCEPT})
    assert served.headers["Content-Type"] == GENERIC  # the proxy really rewrites it

    with Registry(proxy.host, protocol="http") as via, \
            Registry(anon_registry.host, protocol="http") as direct:
        source = via.repository(unique_repository)
        raw = source.manifests.get_raw("1.0")
        assert (raw.media_type, raw.digest) == (mediatypes.DOCKER_MANIFEST_LIST, index.digest)
        assert source.manifests.head("1.0").media_type == mediatypes.DOCKER_MANIFEST_LIST
        child = index.children[0]
        assert source.manifests.get_raw(child.digest).media_type == mediatypes.DOCKER_MANIFEST_V2

        target = direct.repository(f"{unique_repository}-copy")
        copied = source.images.copy("1.0", target)
        assert (copied.digest, copied.media_type) == (index.digest,
                                                      mediatypes.DOCKER_MANIFEST_LIST)
        # the target stored every manifest with its real type (HEAD shows Content-Type)
        for reference, media in [("1.0", mediatypes.DOCKER_MANIFEST_LIST),
                                 *((c.digest, mediatypes.DOCKER_MANIFEST_V2)
                                   for c in index.children)]:
            head = requests.head(f"{anon_registry.url}/v2/{target.name}/manifests/{reference}",
                                 headers={"Accept": mediatypes.MANIFEST_ACCEPT}, timeout=5)
            assert head.status_code == 200
            assert head.headers["Content-Type"] == media

        source.images.pull("1.0", tmp_path)
    [entry] = json.loads((tmp_path / "index.json").read_text())["manifests"]
    assert (entry["mediaType"], entry["digest"]) == (mediatypes.DOCKER_MANIFEST_LIST,
                                                     index.digest)
