"""manifest_tree: the manifests under an image, each fetched once, in the order to write."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from registry_client import RawManifest, RegistryResponseError
from registry_client._flow import Flow, Offload, run
from registry_client.models import Descriptor
from registry_client.services._shell import BlockingShell
from registry_client.services._tree import MAX_INDEX_DEPTH, Children
from registry_client.services._tree import manifest_tree as manifest_tree_flow

OCI_M = "application/vnd.oci.image.manifest.v1+json"
OCI_I = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
FOREIGN = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
URLS = ["https://mcr.example/layer"]  # where a foreign layer lives


def d(char: str) -> str:
    return "sha256:" + char * 64


def raw(doc: dict[str, Any]) -> RawManifest:
    data = json.dumps(doc).encode()
    return RawManifest(data=data, media_type=doc["mediaType"],
                       digest="sha256:" + hashlib.sha256(data).hexdigest())


def image(*layers: tuple[str, str] | tuple[str, str, list[str]]) -> RawManifest:
    return raw({"schemaVersion": 2, "mediaType": OCI_M,
                "config": {"mediaType": CONFIG, "digest": d("c"), "size": 10},
                "layers": [{"mediaType": m, "digest": d(c), "size": 100,
                            **({"urls": urls[0]} if urls else {})} for c, m, *urls in layers]})


def index(*children: RawManifest) -> RawManifest:
    return raw({"schemaVersion": 2, "mediaType": OCI_I, "manifests": [
        {"mediaType": c.media_type, "digest": c.digest, "size": len(c.data)}
        for c in children]})


class Store:
    """A fake ``get_child`` that serves known manifests and counts the fetches."""

    def __init__(self, *manifests: RawManifest) -> None:
        self.by_digest = {m.digest: m for m in manifests}
        self.fetched: list[str] = []

    def __call__(self, desc: Descriptor) -> RawManifest:
        self.fetched.append(desc.digest)
        return self.by_digest[desc.digest]


def manifest_tree(
    raw: RawManifest, store: Store, *, workers: int
) -> tuple[bool, list[Descriptor], Children]:
    """The flow run by the blocking shell, each child read from ``store``."""
    def child(desc: Descriptor) -> Flow[RawManifest]:
        return (yield Offload(lambda: store(desc)))
    return run(manifest_tree_flow(raw, child, workers=workers), BlockingShell(None))  # type: ignore[arg-type]


def test_a_single_image_is_its_own_child_without_foreign_layers() -> None:
    img = image(("1", LAYER), ("f", FOREIGN, URLS), ("2", FOREIGN))
    store = Store()
    is_index, descs, children = manifest_tree(img, store, workers=4)
    assert not is_index and store.fetched == []
    assert [x.digest for x in descs] == [d("c"), d("1"), d("f"), d("2")]
    # the foreign layer with urls never moves; one without is in the registry: it moves
    assert children == [(img, [descs[0], descs[1], descs[3]])]


@pytest.mark.parametrize("workers", [1, 4])
def test_children_come_before_the_indexes_that_list_them(workers: int) -> None:
    a, b, c = image(("1", LAYER)), image(("2", LAYER)), image(("3", LAYER))
    inner = index(b, c)
    top = index(a, inner, b)  # b is listed twice: under inner, and at the top
    store = Store(a, b, c, inner)
    is_index, descs, children = manifest_tree(top, store, workers=workers)
    assert is_index and [x.digest for x in descs] == [a.digest, inner.digest, b.digest]
    assert [m.digest for m, _ in children] == [a.digest, b.digest, c.digest, inner.digest]
    assert [[x.digest for x in blobs] for _, blobs in children] == [
        [d("c"), d("1")], [d("c"), d("2")], [d("c"), d("3")], []]  # an index has no blobs
    assert sorted(store.fetched) == sorted([a.digest, inner.digest, b.digest, c.digest])


def test_indexes_nested_too_deep_are_refused() -> None:
    leaf = image(("1", LAYER))
    chain = [leaf]  # chain[n] is an index n levels above the image
    for _ in range(MAX_INDEX_DEPTH + 1):
        chain.append(index(chain[-1]))
    # MAX_INDEX_DEPTH indexes in all, the top one included, are read ...
    _, _, children = manifest_tree(chain[MAX_INDEX_DEPTH], Store(*chain), workers=1)
    assert [m.digest for m, _ in children] == [c.digest for c in chain[:MAX_INDEX_DEPTH]]
    # ... one more is refused
    with pytest.raises(RegistryResponseError, match=f"nest more than {MAX_INDEX_DEPTH} deep"):
        manifest_tree(chain[MAX_INDEX_DEPTH + 1], Store(*chain), workers=1)
