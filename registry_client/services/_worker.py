"""What the whole-image collaborators (Puller, Pusher, Copier) are built with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..requester import Requester

if TYPE_CHECKING:  # annotations only: blobs and manifests import nothing from here
    from .blobs import BlobService
    from .manifests import ManifestService

__all__ = ["ImageWorker"]


class ImageWorker:
    """Works on whole images of one repository through its manifests and blobs services,
    moving ``max_workers`` blobs at a time; built by the ImageService that owns it."""

    def __init__(
        self, requester: Requester, repository: str, *, manifests: ManifestService,
        blobs: BlobService, max_workers: int,
    ) -> None:
        self._requester = requester
        self._repository = repository
        self._manifests = manifests
        self._blobs = blobs
        self._max_workers = max_workers
