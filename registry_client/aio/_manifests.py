"""AsyncManifestService: the manifests of one repository, awaitable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._lazy import cached_property
from ..services._referrers import ReferrerFlows
from ..services.manifests import ManifestFlows
from ._base import AsyncRepositoryService

if TYPE_CHECKING:  # annotations only: the manifest models load with the first get()
    from ..models import Descriptor, Manifest, OCIIndex, RawManifest

__all__ = ["AsyncManifestService", "AsyncReferrers"]


class AsyncReferrers(AsyncRepositoryService[ReferrerFlows]):
    """Async form of the blocking ``Referrers``: the referrers of one repository's
    manifests (the API, or the referrers tag schema's index kept up to date)."""

    async def find(self, digest: str, artifact_type: str | None) -> list[Descriptor]:
        """The referrers of ``digest``: from the API, else from the referrers tag schema."""
        return await self._run(self.flows.find(digest, artifact_type))

    async def fallback_index(self, digest: str) -> OCIIndex | None:
        """The referrers tag schema's index for ``digest``; None when there is no such tag."""
        return await self._run(self.flows.fallback_index(digest))

    async def has_api(self, digest: str) -> bool:
        """Whether the registry has the referrers API (asked once per registry)."""
        return await self._run(self.flows.has_api(digest))

    def note_api(self, present: bool) -> None:
        """Remember for this registry whether it has the referrers API."""
        self.flows.note_api(present)

    async def add_to_fallback(self, subject: str, entry: Descriptor) -> None:
        """Add ``entry`` to the referrers tag schema's index of ``subject`` (GET, add, PUT)."""
        return await self._run(self.flows.add_to_fallback(subject, entry))


class AsyncManifestService(AsyncRepositoryService[ManifestFlows]):
    """Async form of :class:`~registry_client.services.ManifestService`: the same
    methods, arguments, results and errors, awaited."""

    @cached_property
    def referrers_service(self) -> AsyncReferrers:
        """Async form of ``ManifestService.referrers_service``: the referrers of this
        repository's manifests, shared by attach and copy."""
        return AsyncReferrers(self.flows.referrers_service, self._shell)

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
