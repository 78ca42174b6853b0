"""Flows over the blocking manifest service, until its own flows land.

Each method does the blocking call in an :class:`~registry_client._flow.Offload`, so
the whole-image flows run on the blocking shell unchanged. Temporary: replaced by
``ManifestFlows`` (issue 14).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._flow import Flow, Offload
from ..models import Descriptor, Manifest, RawManifest
from ._referrers import Referrers
from .blobs import BlobFlows
from .manifests import ManifestService


def _offload(fn: Callable[[], Any]) -> Flow[Any]:
    return (yield Offload(fn))


class OffloadedReferrers:
    def __init__(self, service: Referrers) -> None:
        self.service = service

    def has_api(self, digest: str) -> Flow[bool]:
        return _offload(lambda: self.service.has_api(digest))

    def note_api(self, present: bool) -> None:
        self.service.note_api(present)

    def add_to_fallback(self, subject: str, entry: Descriptor) -> Flow[None]:
        return _offload(lambda: self.service.add_to_fallback(subject, entry))


class OffloadedManifests:
    def __init__(self, service: ManifestService) -> None:
        self.service = service

    @property
    def referrers_service(self) -> OffloadedReferrers:
        return OffloadedReferrers(self.service.referrers_service)

    def get_raw(self, reference: str) -> Flow[RawManifest]:
        return _offload(lambda: self.service.get_raw(reference))

    def head(self, reference: str) -> Flow[Descriptor]:
        return _offload(lambda: self.service.head(reference))

    def put(self, reference: str, manifest: Manifest | RawManifest) -> Flow[str]:
        return _offload(lambda: self.service.put(reference, manifest))

    def put_with_headers(
        self, reference: str, manifest: Manifest | RawManifest
    ) -> Flow[tuple[str, Mapping[str, str]]]:
        return _offload(lambda: self.service.put_with_headers(reference, manifest))

    def delete(self, digest: str) -> Flow[None]:
        return _offload(lambda: self.service.delete(digest))

    def referrers(self, digest: str, artifact_type: str | None = None) -> Flow[list[Descriptor]]:
        return _offload(lambda: self.service.referrers(digest, artifact_type))


def flows_of(target: Any) -> tuple[OffloadedManifests, BlobFlows]:
    """The manifest and blob flows of a copy's target repository."""
    return OffloadedManifests(target.manifests), target.blobs.flows
