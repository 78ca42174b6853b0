"""Images of other repositories of the same registry: where a reference a caller gives
points (a tag or digest of this repository, or ``repo:tag``, ``repo@digest``,
``host/repo:tag`` on this registry), and this repository as the target of the copy that
brings such an image in (its blobs mounted, no bytes moved)."""

from __future__ import annotations

from typing import Any

import attrs

from .._flow import Endpoint
from ..reference import is_valid_tag, is_verifiable_digest, names_a_domain, parse_image_name
from .blobs import BlobFlows
from .manifests import ManifestFlows

__all__ = ["FlowsTarget", "Source", "source_of"]


@attrs.frozen
class Source:
    """Where an image is read from: a repository of this registry and a reference in it."""

    name: str
    reference: str
    manifests: ManifestFlows
    blobs: BlobFlows


def source_of(endpoint: Endpoint, name: str, manifests: ManifestFlows, blobs: BlobFlows,
              text: str, *, reader: str) -> Source:
    """Where ``text`` is read from, for the repository ``name`` (whose flows are
    ``manifests`` and ``blobs``): a tag or digest is this repository's; a reference
    without a domain (``team/base:1``) is a repository of this registry, as is one on
    this registry's domain.

    Raises:
        ValueError: the reference names another registry (``reader`` says what reads).
        InvalidReferenceError: it is not a reference.
    """
    # A digest names an algorithm this client checks: ``python:latest`` matches the
    # digest grammar too (the algorithm "python"), and is a repository and its tag.
    if is_verifiable_digest(text) or is_valid_tag(text):
        return Source(name, text, manifests, blobs)
    if names_a_domain(text):
        ref = parse_image_name(text, allow_scheme=True)
        if ref.domain.lower() != endpoint.domain.lower():
            raise ValueError(f"{text}: an image of another registry ({ref.domain}); "
                             f"{reader} reads images of {endpoint.domain} only")
    else:
        ref = parse_image_name(f"{endpoint.domain}/{text}")
    reference = ref.digest or ref.tag or "latest"
    if ref.path == name:
        return Source(name, reference, manifests, blobs)
    return Source(ref.path, reference, ManifestFlows(endpoint, ref.path),
                  BlobFlows(endpoint, ref.path))


class _Flows:
    """A service as a copy sees it: what has its ``flows``."""

    def __init__(self, flows: Any) -> None:
        self.flows = flows


class FlowsTarget:
    """A repository, made of its flows, as the target of a copy
    (:class:`~registry_client.services._plan.CopyTarget`): for the flows that bring an
    image into their own repository and hold no Repository object."""

    def __init__(self, endpoint: Endpoint, name: str, manifests: ManifestFlows,
                 blobs: BlobFlows) -> None:
        self.name = name
        self.domain = endpoint.domain
        self.requester = endpoint
        self.manifests = _Flows(manifests)
        self.blobs = _Flows(blobs)

    def __repr__(self) -> str:
        return f"FlowsTarget(name={self.name!r})"
