"""AsyncManifestService: the manifests of one repository, awaitable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..services.manifests import ManifestFlows
from ._base import AsyncRepositoryService

if TYPE_CHECKING:  # annotations only: the manifest models load with the first get()
    from ..models import Descriptor, Manifest, RawManifest

__all__ = ["AsyncManifestService"]


class AsyncManifestService(AsyncRepositoryService[ManifestFlows]):
    """Async form of :class:`~registry_client.services.ManifestService`: the same
    methods, arguments, results and errors, awaited."""

    async def get_raw(self, reference: str) -> RawManifest:
        """Async form of :meth:`ManifestService.get_raw`."""
        return await self._run(self.flows.get_raw(reference))

    async def get(self, reference: str) -> Manifest:
        """Async form of :meth:`ManifestService.get`."""
        return await self._run(self.flows.get(reference))

    async def head(self, reference: str) -> Descriptor:
        """Async form of :meth:`ManifestService.head`."""
        return await self._run(self.flows.head(reference))

    async def referrers(
        self, digest: str, artifact_type: str | None = None,
    ) -> list[Descriptor]:
        """Async form of :meth:`ManifestService.referrers`."""
        return await self._run(self.flows.referrers(digest, artifact_type))

    async def put(self, reference: str, manifest: Manifest | RawManifest) -> str:
        """Async form of :meth:`ManifestService.put`."""
        return await self._run(self.flows.put(reference, manifest))

    async def put_with_headers(
        self, reference: str, manifest: Manifest | RawManifest,
    ) -> tuple[str, Mapping[str, str]]:
        """Async form of :meth:`ManifestService.put_with_headers`."""
        return await self._run(self.flows.put_with_headers(reference, manifest))

    async def delete(self, digest: str) -> None:
        """Async form of :meth:`ManifestService.delete`."""
        return await self._run(self.flows.delete(digest))
