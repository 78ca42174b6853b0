"""Long blob bodies (4 MiB and more) of the asyncio flavour: sent by a worker thread straight
to the socket -- a push's file, a copy's relay from the source's socket -- and the failure
paths the blocking API survives: a cut upload, a cut source, a corrupt source.

Against the real registry, through :class:`FaultProxy` (plain TCP to the proxy: the
thread path is the one taken).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from registry_client import DigestMismatchError, RegistryError
from registry_client.testing import FaultProxy, LocalRegistry, seed_image

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

MB = 1 << 20
LAYER = 6 * MB  # past the 4 MiB from which a body goes from a thread


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        yield p


def _stored(reg: LocalRegistry, repo: str, digest: str) -> bytes | None:
    r = requests.get(f"{reg.url}/v2/{repo}/blobs/{digest}", timeout=10)
    return r.content if r.status_code == 200 else None


@pytest.mark.parametrize("where", ["target PUT", "source GET"])
async def test_an_async_copy_across_registries_survives_a_cut(
    proxy: FaultProxy, anon_registry: LocalRegistry, local_registry_factory: Any,
    aclient_for: Callable[..., Any], thread_sends: list[int], where: str,
    unique_repository: str,
) -> None:
    """As the blocking copy: the streamed PUT cannot rewind its source, so after a cut
    the blob is read afresh from the source and sent in a new session."""
    source = local_registry_factory("anonymous")
    image = seed_image(source, "copy/cut", "v1", layers=(LAYER,))
    layer = image.layers[0]  # the rules name it: the config's request must not use them up
    if where == "target PUT":
        proxy.add_rule("PUT", layer.split(":")[1], action="cut", on="request",
                       after_bytes=MB)
    with FaultProxy(source, timeout=5) as src_proxy:
        if where == "source GET":  # with retries=0 the cut read is not resumed
            src_proxy.add_rule("GET", f"/blobs/{layer}", action="cut", after_bytes=MB)
        async with aclient_for(source, host=src_proxy.host, retries=0) as src, \
                aclient_for(anon_registry, host=proxy.host, backoff=0.01) as dst:
            copied = await src.repository("copy/cut").images.copy(
                "v1", dst.repository(unique_repository))
        cuts = [r.method for p in (proxy, src_proxy) for r in p.requests if r.fault == "cut"]
    assert cuts == (["PUT"] if where == "target PUT" else ["GET"])
    assert copied.digest == image.digest
    for digest, data in image.blobs.items():
        assert _stored(anon_registry, unique_repository, digest) == data
    assert sum(thread_sends) >= LAYER  # the layer went from a thread, at least once


async def test_an_async_copy_from_a_corrupt_source_commits_nothing(
    anon_registry: LocalRegistry, local_registry_factory: Any,
    aclient_for: Callable[..., Any], thread_sends: list[int], unique_repository: str,
) -> None:
    source = local_registry_factory("anonymous")
    image = seed_image(source, "copy/corrupt", "v1", layers=(LAYER,))
    with FaultProxy(source, timeout=5) as src_proxy:
        src_proxy.add_rule("GET", "/blobs/sha256:", action="corrupt", offset=MB, times=None)
        async with aclient_for(source, host=src_proxy.host) as src, \
                aclient_for(anon_registry) as dst:
            with pytest.raises(DigestMismatchError):
                await src.repository("copy/corrupt").images.copy(
                    "v1", dst.repository(unique_repository))
            with pytest.raises(RegistryError):
                await dst.repository(unique_repository).manifests.head("v1")
    assert _stored(anon_registry, unique_repository, image.layers[0]) is None
    assert thread_sends  # the relay ran on a thread, and checked before the last byte


async def test_an_async_push_of_a_long_layer_survives_a_cut_patch(
    proxy: FaultProxy, anon_registry: LocalRegistry, local_registry_factory: Any,
    aclient_for: Callable[..., Any], thread_sends: list[int], tmp_path: Any,
    unique_repository: str,
) -> None:
    source = local_registry_factory("anonymous")
    image = seed_image(source, "push/src", "v1", layers=(LAYER,))
    async with aclient_for(source) as src:
        await src.repository("push/src").images.pull("v1", tmp_path / "layout",
                                                      format="oci")
    # the layer's PATCH (the config goes in a PUT) is cut after 2 MiB
    cut = proxy.add_rule("PATCH", "/blobs/uploads/.+", action="cut", on="request",
                         after_bytes=2 * MB)
    async with aclient_for(anon_registry, host=proxy.host, backoff=0.01) as dst:
        pushed = await dst.repository(unique_repository).images.push(tmp_path / "layout",
                                                                     "v1")
    assert pushed.digest == image.digest
    assert cut.applied == 1
    assert [(r.method, r.status) for r in proxy.requests if r.fault == "cut"] == [
        ("PATCH", None)]  # the layer's body, cut while the thread sent it
    layer = image.layers[0]
    data = _stored(anon_registry, unique_repository, layer)
    assert data is not None and "sha256:" + hashlib.sha256(data).hexdigest() == layer
    assert sum(thread_sends) >= LAYER
