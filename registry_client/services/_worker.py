"""What the whole-image flows (pull, push, copy, details, attach) are built with: the
registry they talk to and the manifest and blob flows of their repository."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from .._flow import Endpoint, Flow
from ..models import Descriptor, Manifest, RawManifest

if TYPE_CHECKING:  # annotations only: blobs imports nothing from here
    from .blobs import BlobFlows

__all__ = ["ImageWorker", "ManifestFlowsLike", "ReferrersLike"]


class ReferrersLike(Protocol):
    """The referrers flows a copy or an attach keeps up to date (``Referrers``)."""

    def has_api(self, digest: str) -> Flow[bool]: ...
    def note_api(self, present: bool) -> None: ...
    def add_to_fallback(self, subject: str, entry: Descriptor) -> Flow[None]: ...


class ManifestFlowsLike(Protocol):
    """The manifest flows whole images use (``ManifestFlows``)."""

    @property
    def referrers_service(self) -> ReferrersLike: ...
    def get_raw(self, reference: str) -> Flow[RawManifest]: ...
    def head(self, reference: str) -> Flow[Descriptor]: ...
    def put(self, reference: str, manifest: Manifest | RawManifest) -> Flow[str]: ...
    def put_with_headers(
        self, reference: str, manifest: Manifest | RawManifest
    ) -> Flow[tuple[str, Mapping[str, str]]]: ...
    def delete(self, digest: str) -> Flow[None]: ...
    def referrers(
        self, digest: str, artifact_type: str | None = None
    ) -> Flow[list[Descriptor]]: ...


class ImageWorker:
    """Works on whole images of one repository through its manifest and blob flows,
    moving ``max_workers`` blobs at a time; built by the ImageFlows that owns it."""

    def __init__(
        self, endpoint: Endpoint, repository: str, *, manifests: ManifestFlowsLike,
        blobs: BlobFlows, max_workers: int,
    ) -> None:
        self._endpoint = endpoint
        self._repository = repository
        self._manifests = manifests
        self._blobs = blobs
        self._max_workers = max_workers
