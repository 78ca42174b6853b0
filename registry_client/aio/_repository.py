"""AsyncRepository: one repository of an ``AsyncRegistry`` and its asyncio services."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._flow import Endpoint
from ..repository import RepositoryName
from ..services._repository import RepositoryFlows
from ..services.blobs import BlobFlows
from ..services.images import ImageFlows
from ..services.manifests import ManifestFlows
from ..services.tags import TagFlows
from ._blobs import AsyncBlobService
from ._images import AsyncImageService
from ._manifests import AsyncManifestService
from ._run import AsyncPerformer, arun
from ._tags import AsyncTagService

if TYPE_CHECKING:
    from ._registry import AsyncRegistry

__all__ = ["AsyncRepository"]


class AsyncRepository(RepositoryName):
    """Async form of :class:`~registry_client.Repository`: one repository
    (``library/alpine``) with its ``images``, ``tags``, ``manifests`` and ``blobs``
    services, whose methods are awaited. Creating it sends no request; get one from
    :meth:`AsyncRegistry.repository`.
    """

    def __init__(
        self, name: str, requester: Endpoint, *, shell: AsyncPerformer,
        registry: AsyncRegistry | None = None, max_workers: int = 4,
    ) -> None:
        self.name = name
        self.registry = registry
        self.requester = requester
        manifests = ManifestFlows(requester, name)
        blobs = BlobFlows(requester, name)
        tags = TagFlows(requester, name, manifests=lambda: manifests, blobs=lambda: blobs,
                        max_workers=max_workers)
        self.manifests = AsyncManifestService(manifests, shell)
        self.blobs = AsyncBlobService(blobs, shell)
        self.tags = AsyncTagService(tags, shell)
        self.images = AsyncImageService(
            ImageFlows(requester, name, manifests=manifests, blobs=blobs,
                       max_workers=max_workers), shell)
        self.flows = RepositoryFlows(name, manifests=manifests, tags=tags,
                                     max_workers=max_workers)
        self._shell = shell

    async def delete(
        self, *, dry_run: bool = False, on_deleted: Callable[[str], None] | None = None,
    ) -> list[str]:
        """Async form of :meth:`Repository.delete`."""
        return await arun(self.flows.delete(dry_run=dry_run, on_deleted=on_deleted),
                          self._shell)
