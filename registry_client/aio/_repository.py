"""AsyncRepository: one repository of an ``AsyncRegistry`` and its asyncio services."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._flow import Endpoint, Flow
from ..models import Descriptor
from ..repository import RepositoryFlows, RepositoryName
from ..services.manifests import ManifestFlows
from ..services.tags import TagFlows
from ._manifests import AsyncManifestService
from ._run import AsyncPerformer, arun
from ._tags import AsyncTagService

if TYPE_CHECKING:
    from ._registry import AsyncRegistry

__all__ = ["AsyncRepository"]


class _NoBlobFlows:
    """Stands in for the blob flows a tag delete needs, until the blob service has them."""

    def upload(self, data: bytes) -> Flow[Descriptor]:
        raise NotImplementedError(
            "tags.delete on a registry without a tag DELETE needs the asyncio blob service")
        yield  # a flow


class AsyncRepository(RepositoryName):
    """Async form of :class:`~registry_client.Repository`: one repository
    (``library/alpine``) with its ``manifests`` and ``tags`` services, whose methods are
    awaited. Creating it sends no request; get one from :meth:`AsyncRegistry.repository`.
    """

    def __init__(
        self, name: str, requester: Endpoint, *, shell: AsyncPerformer,
        registry: AsyncRegistry | None = None, max_workers: int = 4,
    ) -> None:
        self.name = name
        self.registry = registry
        self.requester = requester
        manifests = ManifestFlows(requester, name)
        tags = TagFlows(requester, name, manifests=manifests, blobs=_NoBlobFlows(),
                        max_workers=max_workers)
        self.manifests = AsyncManifestService(manifests, shell)
        self.tags = AsyncTagService(tags, shell)
        self.flows = RepositoryFlows(name, manifests=manifests, tags=tags,
                                     max_workers=max_workers)
        self._shell = shell

    async def delete(
        self, *, dry_run: bool = False, on_deleted: Callable[[str], None] | None = None,
    ) -> list[str]:
        """Async form of :meth:`Repository.delete`."""
        return await arun(self.flows.delete(dry_run=dry_run, on_deleted=on_deleted),
                          self._shell)
