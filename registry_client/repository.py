"""Repository: one repository of a registry and its four services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .requester import Requester
from .services import BlobService, ImageService, ManifestService, TagService

if TYPE_CHECKING:
    from .registry import Registry


class Repository:
    """One repository (``library/alpine``) with its image, tag, manifest and blob services.

    Creating it sends no request. Get one from :meth:`Registry.repository`.
    """

    def __init__(
        self, name: str, requester: Requester, *, registry: Registry | None = None,
        max_workers: int = 4,
    ) -> None:
        self.name = name
        self.registry = registry
        self.requester = requester
        self.manifests = ManifestService(requester, name)
        self.blobs = BlobService(requester, name)
        self.tags = TagService(
            requester, name, manifests=self.manifests, blobs=self.blobs, max_workers=max_workers
        )
        self.images = ImageService(
            requester, name, manifests=self.manifests, blobs=self.blobs, tags=self.tags,
            max_workers=max_workers,
        )

    @property
    def domain(self) -> str:
        """The registry domain (``docker.io``, ``localhost:5000``...)."""
        return self.requester.domain

    def __repr__(self) -> str:
        return f"Repository(domain={self.domain!r}, name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Repository):
            return NotImplemented
        return (self.domain, self.name) == (other.domain, other.name)

    def __hash__(self) -> int:
        return hash((self.domain, self.name))
