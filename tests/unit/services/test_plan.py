"""Copy planning's pure helpers: which blobs move, and in which order."""

from __future__ import annotations

from registry_client.models import Descriptor
from registry_client.services._plan import distinct_largest_first, distributable

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def blob(char: str, size: int, media_type: str = LAYER) -> Descriptor:
    return Descriptor(media_type=media_type, digest="sha256:" + char * 64, size=size)


def test_distinct_largest_first_keeps_each_digest_once_largest_first() -> None:
    a, b, c = blob("a", 10), blob("b", 300), blob("c", 20)
    again = blob("b", 300, "application/vnd.docker.image.rootfs.diff.tar.gzip")
    ordered = distinct_largest_first([a, b, c, again, a])
    assert [d.digest for d in ordered] == [b.digest, c.digest, a.digest]
    assert ordered[0] is b  # the first descriptor of a digest is the one kept
    assert distinct_largest_first(iter([])) == []


def test_foreign_layers_are_not_distributable() -> None:
    assert distributable(blob("a", 1))
    assert not distributable(
        blob("a", 1, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"))
    assert not distributable(
        blob("a", 1, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"))
