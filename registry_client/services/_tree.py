"""The manifests under an image, read with the light parser: what a pull, push or copy moves."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from .._flow import Flow, Gather
from ..errors import RegistryResponseError
from ..models import Descriptor, RawManifest
from ..reference import require_verifiable
from . import _light
from ._light import distributable

Children = list[tuple[RawManifest, list[Descriptor]]]

MAX_INDEX_DEPTH = 4
"""How deep indexes may nest under the top one (a cycle or a hostile chain stops here)."""


def require_verifiable_blobs(reference: str, children: Children) -> None:
    """Refuse, before anything moves, an image naming a blob by a digest we cannot verify."""
    for _, descs in children:
        for d in descs:
            require_verifiable(d.digest, where=reference)


def manifest_tree(
    raw: RawManifest, get_child: Callable[[Descriptor], Flow[RawManifest]], *, workers: int
) -> Flow[tuple[bool, list[Descriptor], Children]]:
    """``(is_index, descriptors, children)`` of ``raw``, read with the light parser;
    ``get_child`` is the flow that reads a manifest an index lists (``workers`` at once).

    ``children`` pairs every manifest under the top (itself for a single image) with
    its distributable blobs, in the order they must be written: the manifests an
    index lists come before the index (a nested index after its own children, and
    with no blobs of its own).
    """
    is_index, top = _light.read(raw)
    if not is_index:
        return False, top, [(raw, [b for b in top if distributable(b)])]
    children: Children = []
    fetched: dict[str, RawManifest] = {}
    added: set[str] = set()

    def walk(entries: list[Descriptor], depth: int) -> Flow[None]:
        # Each manifest is fetched once (a level's in parallel) and listed once, after
        # everything under it: a child two indexes share comes before both of them.
        need = list({d.digest: d for d in entries if d.digest not in fetched}.values())
        got = (yield Gather([partial(get_child, d) for d in need], workers)) if need else []
        for d, child in zip(need, got, strict=True):
            fetched[d.digest] = child
        for d in entries:
            if d.digest in added:
                continue
            child = fetched[d.digest]
            child_is_index, descs = _light.read(child)
            if child_is_index:
                if depth >= MAX_INDEX_DEPTH:
                    raise RegistryResponseError(
                        f"manifest {raw.digest}: indexes nest more than "
                        f"{MAX_INDEX_DEPTH} deep")
                yield from walk(descs, depth + 1)
                if d.digest not in added:
                    added.add(d.digest)
                    children.append((child, []))
            else:
                added.add(d.digest)
                children.append((child, [b for b in descs if distributable(b)]))

    yield from walk(top, 1)
    return True, top, children

