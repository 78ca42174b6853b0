"""What the whole-image flows (pull, push, copy, details) are built with: the registry
they talk to and the manifest and blob flows of their repository."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._flow import Endpoint
from ..reference import pinned_name

if TYPE_CHECKING:  # annotations only: blobs and manifests import nothing from here
    from .blobs import BlobFlows
    from .manifests import ManifestFlows

__all__ = ["ImageWorker"]


class ImageWorker:
    """Works on whole images of one repository through its manifest and blob flows,
    moving ``max_workers`` blobs at a time; built by the ImageFlows that owns it."""

    def __init__(
        self, endpoint: Endpoint, repository: str, *, manifests: ManifestFlows,
        blobs: BlobFlows, max_workers: int,
    ) -> None:
        self._endpoint = endpoint
        self._repository = repository
        self._manifests = manifests
        self._blobs = blobs
        self._max_workers = max_workers

    def _named(self, reference: str) -> str:
        """``reference`` (a tag or digest of this repository) in full, for a message:
        ``registry.example/team/app:1.0``."""
        return pinned_name(f"{self._endpoint.domain}/{self._repository}", reference)
