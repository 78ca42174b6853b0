"""AsyncImageService: whole images -- inspect, delete, pull, push, copy, retag -- awaitable."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from ..services.images import ImageFlows
from ._base import AsyncRepositoryService

if TYPE_CHECKING:  # annotations only: a pull builds none of these models, nor archives
    from ..models import (
        Descriptor,
        Image,
        ImageConfig,
        ImageDetails,
        Manifest,
        ManifestV2,
        OCIManifest,
        Platform,
        RawManifest,
        ValidationReport,
    )
    from ..progress import ProgressCallback
    from ..services._archive import PullFormat
    from ..services._attach import ArtifactItem
    from ..services._plan import CopyPlan, CopyTarget

__all__ = ["AsyncImageService"]


class AsyncImageService(AsyncRepositoryService[ImageFlows]):
    """Whole-image operations on one repository, awaitable: the async form of
    :class:`~registry_client.services.ImageService` (same methods, arguments, results
    and errors). Blobs move ``max_workers`` at a time as tasks; cancelling a pull
    keeps what it received (``.partial`` files) for the next run, as Ctrl-C does."""

    # -- reading ------------------------------------------------------------------------
    async def get_by_tag(self, tag: str) -> Image:
        """Async form of :meth:`ImageService.get_by_tag`."""
        return await self._run(self.flows.get_by_tag(tag))

    async def get_by_digest(self, digest: str) -> Image:
        """Async form of :meth:`ImageService.get_by_digest`."""
        return await self._run(self.flows.get_by_digest(digest))

    async def describe(
        self, raw: RawManifest, manifest: Manifest, *, tag: str | None,
        config_data: bytes | None = None,
    ) -> Image:
        """Async form of :meth:`ImageService.describe`."""
        return await self._run(self.flows.describe(raw, manifest, tag=tag,
                                                   config_data=config_data))

    async def config(self, manifest: ManifestV2 | OCIManifest) -> ImageConfig:
        """Async form of :meth:`ImageService.config`."""
        return await self._run(self.flows.config(manifest))

    async def details(
        self, reference: str, platform: str | Platform | None = None
    ) -> list[ImageDetails]:
        """Async form of :meth:`ImageService.details`."""
        return await self._run(self.flows.details(reference, platform))

    async def platform_manifest(self, reference: str, platform: str | Platform) -> RawManifest:
        """Async form of :meth:`ImageService.platform_manifest`."""
        return await self._run(self.flows.platform_manifest(reference, platform))

    async def delete_by_digest(self, digest: str) -> None:
        """Async form of :meth:`ImageService.delete_by_digest`."""
        return await self._run(self.flows.delete_by_digest(digest))

    # -- moving images ------------------------------------------------------------------
    async def pull(
        self, reference: str, dest: str | os.PathLike[str], *,
        platform: str | Platform | None = None, format: PullFormat = "oci",
        progress: ProgressCallback | None = None,
    ) -> Image:
        """Async form of :meth:`ImageService.pull`. Cancelled, it keeps the ``.partial``
        files of the blobs it was receiving: the next pull resumes them."""
        return await self._run(self.flows.pull(reference, dest, platform=platform,
                                               format=format, progress=progress))

    async def push(
        self, source: str | os.PathLike[str], tag: str, *,
        progress: ProgressCallback | None = None,
    ) -> Image:
        """Async form of :meth:`ImageService.push`."""
        return await self._run(self.flows.push(source, tag, progress=progress))

    async def create_index(
        self, tag: str, references: Sequence[str], annotations: Mapping[str, str] | None = None,
    ) -> Image:
        """Async form of :meth:`ImageService.create_index`."""
        return await self._run(self.flows.create_index(tag, references, annotations))

    async def validate(
        self, reference: str, platform: str | Platform | None = None
    ) -> ValidationReport:
        """Async form of :meth:`ImageService.validate`."""
        return await self._run(self.flows.validate(reference, platform))

    async def fetch_artifact(
        self, reference: str, dest_dir: str | os.PathLike[str]
    ) -> list[Path]:
        """Async form of :meth:`ImageService.fetch_artifact`."""
        return await self._run(self.flows.fetch_artifact(reference, dest_dir))

    @overload
    async def copy(
        self, reference: str, target: CopyTarget, target_tag: str | None = None, *,
        progress: ProgressCallback | None = None, referrers: bool = False,
        dry_run: Literal[False] = False,
    ) -> Image: ...

    @overload
    async def copy(
        self, reference: str, target: CopyTarget, target_tag: str | None = None, *,
        progress: ProgressCallback | None = None, referrers: bool = False,
        dry_run: Literal[True],
    ) -> CopyPlan: ...

    async def copy(
        self, reference: str, target: CopyTarget, target_tag: str | None = None, *,
        progress: ProgressCallback | None = None, referrers: bool = False,
        dry_run: bool = False,
    ) -> Image | CopyPlan:
        """Async form of :meth:`ImageService.copy`; ``target`` is an ``AsyncRepository``."""
        return await self._run(self.flows.copy(reference, target, target_tag,
                                               progress=progress, referrers=referrers,
                                               dry_run=dry_run))

    async def attach(
        self, subject_digest: str, artifact_type: str, blobs_or_files: Iterable[ArtifactItem],
        annotations: Mapping[str, str] | None = None,
    ) -> Descriptor:
        """Async form of :meth:`ImageService.attach`."""
        return await self._run(self.flows.attach(subject_digest, artifact_type,
                                                 blobs_or_files, annotations))

    async def export(
        self, reference: str, dest: str | os.PathLike[str], *,
        platform: str | Platform | None = None,
    ) -> Path:
        """Async form of :meth:`ImageService.export`."""
        return await self._run(self.flows.export(reference, dest, platform=platform))

    async def retag(self, reference: str, new_tag: str) -> Image:
        """Async form of :meth:`ImageService.retag`."""
        return await self._run(self.flows.retag(reference, new_tag))
