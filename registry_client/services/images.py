"""ImageService: whole images -- inspect, delete, pull, push, copy, retag.

The operations are written once as flows (:class:`ImageFlows`); :class:`ImageService`
runs them with the blocking shell, ``registry_client.aio`` with asyncio.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from .. import models
from .._flow import Endpoint, Flow
from .._lazy import cached_property
from ..models import (
    IMAGE_CONFIG_TYPES,
    Descriptor,
    Image,
    Platform,
    RawManifest,
    config_from_bytes,
    manifest_from_bytes,
)
from ..reference import check_digest, check_reference, check_tag, is_digest
from ..requester import Requester
from ._base import Service, check_path
from ._platforms import platform_of_entry, read_config
from .blobs import BlobFlows, BlobService
from .manifests import ManifestFlows, ManifestService

if TYPE_CHECKING:
    from ..models import (
        ImageConfig,
        ImageDetails,
        Manifest,
        ManifestV2,
        OCIManifest,
        ValidationReport,
    )
    from ..progress import ProgressCallback
    from ..repository import Repository  # annotations only: services sit below it

    # The collaborators are imported where they are first built (see ImageFlows): a
    # pull needs none of the archive, export, copy or artifact machinery (tarfile,
    # gzip...), and importing it cost every first operation ~10 ms.
    from ._archive import Archiver, PullFormat
    from ._artifact import ArtifactFetcher
    from ._attach import ArtifactItem, Attacher
    from ._copy import Copier
    from ._details import DetailsReader
    from ._export import Exporter
    from ._index import IndexBuilder
    from ._plan import CopyPlan, CopyTarget
    from ._pull import Puller
    from ._push import Pusher


_C = TypeVar("_C")


class ImageFlows(Service):
    """The whole-image operations of one repository as flows (see ``registry_client._flow``),
    over its manifest and blob flows; :class:`ImageService` and the asyncio
    ``AsyncImageService`` run them. Each method is the flow of the :class:`ImageService`
    method of the same name (same arguments, same result, same errors)."""

    def __init__(
        self, endpoint: Endpoint, repository: str, *, manifests: ManifestFlows,
        blobs: BlobFlows, max_workers: int = 4,
    ) -> None:
        super().__init__(endpoint, repository)
        self._manifests = manifests
        self._blobs = blobs
        self._max_workers = max(1, max_workers)

    # -- collaborators ------------------------------------------------------------------
    # Each is built on first use, from the registry, the repository name and the flows
    # it works with.
    def _built(self, cls: Callable[..., _C], **more: Any) -> _C:
        """A collaborator ``cls`` on this repository's endpoint, name and flows."""
        return cls(self._endpoint, self.repository, manifests=self._manifests,
                   blobs=self._blobs, max_workers=self._max_workers, **more)

    @cached_property
    def _details(self) -> DetailsReader:
        from ._details import DetailsReader  # on first use: see TYPE_CHECKING above

        return self._built(DetailsReader)

    @cached_property
    def _puller(self) -> Puller:
        from ._pull import Puller  # on first use: see TYPE_CHECKING above

        return self._built(Puller)

    @cached_property
    def _pusher(self) -> Pusher:
        from ._push import Pusher  # on first use: see TYPE_CHECKING above

        return self._built(Pusher)

    @cached_property
    def _copier(self) -> Copier:
        from ._copy import Copier  # on first use: see TYPE_CHECKING above

        return self._built(Copier)

    @cached_property
    def _exporter(self) -> Exporter:
        from ._export import Exporter  # on first use: see TYPE_CHECKING above

        return self._built(Exporter)

    @cached_property
    def _archiver(self) -> Archiver:
        from ._archive import Archiver  # on first use: see TYPE_CHECKING above

        return self._built(Archiver, puller=self._puller, pusher=self._pusher)

    @cached_property
    def _index_builder(self) -> IndexBuilder:
        from ._index import IndexBuilder  # on first use: see TYPE_CHECKING above

        return self._built(IndexBuilder)

    @cached_property
    def _artifacts(self) -> ArtifactFetcher:
        from ._artifact import ArtifactFetcher  # on first use: see TYPE_CHECKING above

        return self._built(ArtifactFetcher)

    @cached_property
    def _attacher(self) -> Attacher:
        from ._attach import Attacher  # on first use: see TYPE_CHECKING above

        return Attacher(manifests=self._manifests, blobs=self._blobs)

    # -- reading ------------------------------------------------------------------------
    def get_by_tag(self, tag: str) -> Flow[Image]:
        """See :meth:`ImageService.get_by_tag`."""
        check_tag(tag)
        return (yield from self._image(tag))

    def get_by_digest(self, digest: str) -> Flow[Image]:
        """See :meth:`ImageService.get_by_digest`."""
        check_digest(digest)
        return (yield from self._image(digest))

    def _image(self, reference: str) -> Flow[Image]:
        raw = yield from self._manifests.get_raw(reference)
        manifest = manifest_from_bytes(raw.data, raw.media_type)
        return (yield from self.describe(
            raw, manifest, tag=None if is_digest(reference) else reference))

    def describe(
        self, raw: RawManifest, manifest: Manifest, *, tag: str | None,
        config_data: bytes | None = None,
    ) -> Flow[Image]:
        """See :meth:`ImageService.describe`."""
        platforms: list[Platform]
        # the models are loaded: ``manifest`` is one of them (moving images never is)
        if isinstance(manifest, models.ManifestList | models.OCIIndex):
            platforms = [
                platform_of_entry(d.platform, d.digest, d.media_type, d.size)
                for d in manifest.manifests
            ]
        elif manifest.config.media_type not in IMAGE_CONFIG_TYPES:
            platforms = [Platform(architecture="", os="", digest=raw.digest,
                                  media_type=raw.media_type, size=len(raw.data))]
        else:
            config = (
                config_from_bytes(config_data) if config_data is not None
                else (yield from self.config(manifest))
            )
            platforms = [Platform(
                architecture=config.architecture or "", os=config.os or "",
                variant=config.variant, os_version=config.os_version,
                os_features=tuple(config.os_features or ()),
                digest=raw.digest, media_type=raw.media_type, size=len(raw.data),
            )]
        return Image(
            digest=raw.digest, domain=self.domain, repository=self.repository, tag=tag,
            platforms=platforms, media_type=raw.media_type, size=len(raw.data),
        )

    def config(self, manifest: ManifestV2 | OCIManifest) -> Flow[ImageConfig]:
        """See :meth:`ImageService.config`."""
        data = yield from read_config(self._blobs, manifest.config, self._endpoint.body_limit)
        return config_from_bytes(data)

    def details(
        self, reference: str, platform: str | Platform | None = None
    ) -> Flow[list[ImageDetails]]:
        """See :meth:`ImageService.details`."""
        check_reference(reference)
        return (yield from self._details.details(reference, platform))

    def platform_manifest(self, reference: str, platform: str | Platform) -> Flow[RawManifest]:
        """See :meth:`ImageService.platform_manifest`."""
        check_reference(reference)
        return (yield from self._details.platform_manifest(reference, platform))

    def delete_by_digest(self, digest: str) -> Flow[None]:
        """See :meth:`ImageService.delete_by_digest`."""
        yield from self._manifests.delete(digest)

    # -- moving images ------------------------------------------------------------------
    def pull(
        self, reference: str, dest: str | os.PathLike[str], *,
        platform: str | Platform | None = None, format: PullFormat = "oci",
        progress: ProgressCallback | None = None,
    ) -> Flow[Image]:
        """See :meth:`ImageService.pull`."""
        check_reference(reference)
        check_path(dest, "the pull's destination")
        if format != "oci":
            return (yield from self._archiver.pull(reference, dest, platform=platform,
                                                   format=format, progress=progress))
        return (yield from self._puller.pull(reference, dest, platform=platform,
                                             progress=progress))

    def push(
        self, source: str | os.PathLike[str], tag: str, *,
        progress: ProgressCallback | None = None,
    ) -> Flow[Image]:
        """See :meth:`ImageService.push`."""
        check_tag(tag)
        check_path(source, "the push's source")
        return (yield from self._archiver.push(source, tag, progress=progress))

    def create_index(
        self, tag: str, references: Sequence[str], annotations: Mapping[str, str] | None = None,
    ) -> Flow[Image]:
        """See :meth:`ImageService.create_index`."""
        check_tag(tag)
        return (yield from self._index_builder.create_index(tag, references, annotations))

    def validate(
        self, reference: str, platform: str | Platform | None = None
    ) -> Flow[ValidationReport]:
        """See :meth:`ImageService.validate`."""
        check_reference(reference)
        from ._validate import RegistrySource, Validator  # on first use (see the top)

        validator = Validator(RegistrySource(self._manifests, self._blobs),
                              workers=self._max_workers, body_limit=self._endpoint.body_limit)
        return (yield from validator.validate(reference, platform))

    def fetch_artifact(
        self, reference: str, dest_dir: str | os.PathLike[str]
    ) -> Flow[list[Path]]:
        """See :meth:`ImageService.fetch_artifact`."""
        check_reference(reference)
        check_path(dest_dir, "the artifact's destination")
        return (yield from self._artifacts.fetch_artifact(reference, dest_dir))

    def export(
        self, reference: str, dest: str | os.PathLike[str], *,
        platform: str | Platform | None = None,
    ) -> Flow[Path]:
        """See :meth:`ImageService.export`."""
        check_reference(reference)
        check_path(dest, "the export's destination")
        return (yield from self._exporter.export(reference, dest, platform))

    @overload
    def copy(
        self, reference: str, target: CopyTarget, target_tag: str | None = None, *,
        progress: ProgressCallback | None = None, referrers: bool = False,
        dry_run: Literal[False] = False,
    ) -> Flow[Image]: ...

    @overload
    def copy(
        self, reference: str, target: CopyTarget, target_tag: str | None = None, *,
        progress: ProgressCallback | None = None, referrers: bool = False,
        dry_run: Literal[True],
    ) -> Flow[CopyPlan]: ...

    @overload
    def copy(
        self, reference: str, target: CopyTarget, target_tag: str | None = None, *,
        progress: ProgressCallback | None = None, referrers: bool = False,
        dry_run: bool = False,
    ) -> Flow[Image | CopyPlan]: ...

    def copy(
        self, reference: str, target: CopyTarget, target_tag: str | None = None, *,
        progress: ProgressCallback | None = None, referrers: bool = False,
        dry_run: bool = False,
    ) -> Flow[Image] | Flow[CopyPlan] | Flow[Image | CopyPlan]:
        """See :meth:`ImageService.copy`."""
        return self._copy(reference, target, target_tag, progress=progress,
                          referrers=referrers, dry_run=dry_run)

    def _copy(
        self, reference: str, target: CopyTarget, target_tag: str | None, *,
        progress: ProgressCallback | None, referrers: bool, dry_run: bool,
    ) -> Flow[Image | CopyPlan]:
        check_reference(reference)
        if target_tag is not None:
            check_tag(target_tag)
        return (yield from self._copier.copy(reference, target, target_tag, progress=progress,
                                             referrers=referrers, dry_run=dry_run))

    def copy_unless_present(
        self, reference: str, target: CopyTarget, target_tag: str, *,
        progress: ProgressCallback | None = None,
    ) -> Flow[Image | str]:
        """:meth:`copy` to ``target_tag`` unless the target holds the same image under it:
        then its ``domain/repository:tag@digest`` (a sync's "present"), nothing moved."""
        check_reference(reference)
        check_tag(target_tag)
        return (yield from self._copier.copy_unless_present(reference, target, target_tag,
                                                            progress))

    def plan_read(
        self, raw: RawManifest, reference: str, target: CopyTarget, target_tag: str | None,
        *, planned: CopyPlan | None = None,
    ) -> Flow[CopyPlan]:
        """:meth:`copy`'s dry run of ``reference``, whose manifest ``raw`` was read already;
        with ``planned`` (the image's plan to ``target`` under another tag), that plan
        under ``target_tag``, no request sent."""
        check_reference(reference)
        if target_tag is not None:
            check_tag(target_tag)
        return (yield from self._copier.plan_read(raw, reference, target, target_tag,
                                                  planned=planned))

    def copy_read(
        self, raw: RawManifest, reference: str, target: CopyTarget, target_tag: str | None,
        *, progress: ProgressCallback | None = None, unless_present: bool = False,
        placed: Image | None = None,
    ) -> Flow[Image | str]:
        """:meth:`copy` of ``reference``, whose manifest ``raw`` was read already (a bulk
        copy reads it first, to copy each image once): with ``unless_present``, as
        :meth:`copy_unless_present`; with ``placed`` (the image copied to ``target``
        under another tag), its manifest put under ``target_tag`` only."""
        check_reference(reference)
        if target_tag is not None:
            check_tag(target_tag)
        return (yield from self._copier.copy_read(raw, reference, target, target_tag, progress,
                                                  unless_present=unless_present,
                                                  placed=placed))

    def attach(
        self, subject_digest: str, artifact_type: str, blobs_or_files: Iterable[ArtifactItem],
        annotations: Mapping[str, str] | None = None,
    ) -> Flow[Descriptor]:
        """See :meth:`ImageService.attach`."""
        check_reference(subject_digest)
        return (yield from self._attacher.attach(subject_digest, artifact_type, blobs_or_files,
                                                 annotations))

    def retag(self, reference: str, new_tag: str) -> Flow[Image]:
        """See :meth:`ImageService.retag`."""
        check_reference(reference)
        check_tag(new_tag)
        raw = yield from self._manifests.get_raw(reference)
        yield from self._manifests.put(new_tag, raw)
        manifest = manifest_from_bytes(raw.data, raw.media_type)
        return (yield from self.describe(raw, manifest, tag=new_tag))


class ImageService(Service):
    """Whole-image operations on one repository."""

    def __init__(
        self, requester: Requester, repository: str, *, manifests: ManifestService,
        blobs: BlobService, max_workers: int = 4,
    ) -> None:
        super().__init__(requester, repository)
        self.flows = ImageFlows(requester, repository, manifests=manifests.flows,
                                blobs=blobs.flows, max_workers=max_workers)
        """The protocol of these operations, as flows (the asyncio flavour runs them too)."""

    # -- reading ------------------------------------------------------------------------
    def get_by_tag(self, tag: str) -> Image:
        """Describe the image a tag points to, with its platform(s).

        Raises:
            NotFoundError: no such tag.
            SchemaV1NotSupportedError, UnknownSchemaError: a manifest type we do not read.
        """
        return self._run(self.flows.get_by_tag(tag))

    def get_by_digest(self, digest: str) -> Image:
        """Describe the image with this manifest digest (``Image.tag`` is None).

        Raises:
            NotFoundError: no such manifest.
        """
        return self._run(self.flows.get_by_digest(digest))

    def describe(
        self, raw: RawManifest, manifest: Manifest, *, tag: str | None,
        config_data: bytes | None = None,
    ) -> Image:
        """Build the :class:`Image` for a fetched manifest.

        For a single manifest the platform comes from its config blob: ``config_data``
        when given, else fetched. An artifact (its config is no image config, e.g. the
        empty ``{}`` of OCI 1.1 artifacts) reports one platform with empty os/arch.
        """
        return self._run(self.flows.describe(raw, manifest, tag=tag, config_data=config_data))

    def config(self, manifest: ManifestV2 | OCIManifest) -> ImageConfig:
        """Fetch and parse the image config blob of a single-platform manifest.

        Raises:
            RegistryResponseError: the config is too large or malformed.
            DigestMismatchError: the config does not match its digest.
        """
        return self._run(self.flows.config(manifest))

    def details(
        self, reference: str, platform: str | Platform | None = None
    ) -> list[ImageDetails]:
        """Per platform: its manifest digest, creation time, labels and size in bytes.

        One entry per platform of an index, in the index's order (entries without a
        real platform -- attestations, ``unknown/unknown``, artifacts -- and indexes
        nested in it are left out), or one for a single image. ``size`` counts the
        config blob and the layers as stored; ``created`` and ``labels`` come from
        the image config.
        ``platform`` (``"linux/arm64"`` or a Platform) keeps only that platform.
        The platforms' manifests and configs are fetched in parallel.

        Raises:
            NotFoundError: no such image.
            PlatformNotFoundError: nothing of ``platform`` (also a ValueError).
            SchemaV1NotSupportedError, UnknownSchemaError: a manifest type we do not read.
        """
        return self._run(self.flows.details(reference, platform))

    def platform_manifest(self, reference: str, platform: str | Platform) -> RawManifest:
        """The manifest of ``platform``'s image in ``reference`` (crane's ``manifest
        --platform``): its entry in an index -- an index inside it searched too, as
        ``pull`` finds it -- or ``reference`` itself when it is a single image of that
        platform. The entry that is exactly ``platform`` wins over one it matches
        (``linux/amd64`` is the plain amd64 entry beside ``amd64/v3``).

        ``platform``: ``"linux/arm64"`` or a Platform. Its ``.digest`` is the digest to
        pin (``repo@digest``).

        Raises:
            NotFoundError: no such image.
            PlatformNotFoundError: no image of ``platform`` in it, or a single image of
                another platform (or an artifact).
        """
        return self._run(self.flows.platform_manifest(reference, platform))

    def delete_by_digest(self, digest: str) -> None:
        """Delete the manifest with this digest and every tag pointing to it.

        Raises:
            NotFoundError: no such manifest.
        """
        return self._run(self.flows.delete_by_digest(digest))

    # -- moving images ------------------------------------------------------------------
    def pull(
        self, reference: str, dest: str | os.PathLike[str], *,
        platform: str | Platform | None = None, format: PullFormat = "oci",
        progress: ProgressCallback | None = None,
    ) -> Image:
        """Download an image into an OCI image layout directory (skopeo/umoci/podman read
        it), or into a tar file with ``format="docker-archive"`` or ``"oci-archive"``.

        ``platform`` (``"linux/arm64/v8"`` or a Platform) picks one entry of an
        index; None pulls every platform. Blobs already in the layout and valid
        are skipped; every blob is verified and written atomically.

        A **docker-archive** (what ``docker load`` and ``skopeo ... docker-archive:FILE``
        read) holds one image: ``manifest.json``, the config and each layer as an
        uncompressed tar named by its diff_id (checked against the config on the way).
        An index needs ``platform`` unless it has only one platform. ``RepoTags`` names
        ``DOMAIN/REPOSITORY:TAG`` for a tag reference. An **oci-archive** is a tar of
        the OCI layout ``pull`` writes (every platform unless ``platform``). An archive
        is written to a temp file next to ``dest`` and renamed into place when complete;
        the blobs pass through a work folder there first.

        Raises:
            NotFoundError: no such image.
            PlatformNotFoundError: no entry of the index matches ``platform``, or a
                single image is of another platform, or a docker-archive of an index
                without ``platform`` (a NotFoundError and a ValueError).
            LayoutError: ``dest`` is a file (for "oci"), holds an ``index.json`` that is
                not a layout's (no ``oci-layout`` file: it is left untouched), or a blob
                path in it leads outside it; refused before any request (a ValueError
                too). ArchiveError (a LayoutError) when an archive's ``dest`` is a folder.
            NotAnImageError: a docker-archive of an artifact.
        """
        return self._run(self.flows.pull(reference, dest, platform=platform, format=format,
                                         progress=progress))

    def push(
        self, source: str | os.PathLike[str], tag: str, *,
        progress: ProgressCallback | None = None,
    ) -> Image:
        """Upload an image from an OCI image layout directory, a docker-archive tar or an
        oci-archive tar (told apart by what they hold) and tag it ``tag``.

        Pushes the ``index.json`` entry whose ``org.opencontainers.image.ref.name``
        is ``tag`` (or the only entry); uploads only the blobs the registry lacks.
        A docker-archive's image (its only one, or the one whose ``RepoTags`` has
        the tag ``tag``) is pushed as a Docker schema2 manifest: the config kept byte
        for byte (the image ID is kept), uncompressed layers gzip-compressed (level 6,
        no name, time 0: the same digest on every run), gzip layers kept as they are.
        An archive is unpacked into a folder of the temp directory first.

        Raises:
            LayoutNotFoundError: the directory is not an OCI layout, or a blob file its
                manifests list is missing (a FileNotFoundError too); nothing is sent.
            LayoutError: the layout is malformed or has no such image, or a file of it
                leads outside the layout (a symlink out) or is not a regular file;
                nothing is sent (a ValueError too).
            ArchiveError: a file that is neither archive, or a malformed one (a
                LayoutError); nothing is sent.
            DigestMismatchError: a blob file's content is not its digest's (it changed on
                disk), or a docker-archive layer is not its config's diff_id; the error
                names the file, and that blob's upload is stopped before the PUT that
                would commit it.
        """
        return self._run(self.flows.push(source, tag, progress=progress))

    def create_index(
        self, tag: str, references: Sequence[str], annotations: Mapping[str, str] | None = None,
    ) -> Image:
        """Push a multi-platform OCI image index of the single-platform images
        ``references`` under ``tag``.

        A reference is a tag or digest of this repository, or an image of another
        repository of the same registry (``team/app-arm64:1``, ``host/team/app@sha256:…``):
        that one is copied into this repository by digest first, its blobs mounted (as
        ``crane index append`` and ``docker buildx imagetools create`` do), once every
        image is checked. Each entry's platform is read from its image's config (os,
        architecture, variant, os.version, os.features); ``annotations`` become the
        index's.

        Raises:
            NotFoundError: no such image.
            NotAnImageError: a reference is an index or an artifact, its config names no
                platform, or two images are of the same platform (a ValueError too).
            ValueError: a reference names another registry.
            InvalidReferenceError: a reference is malformed.
        """
        return self._run(self.flows.create_index(tag, references, annotations))

    def validate(
        self, reference: str, platform: str | Platform | None = None
    ) -> ValidationReport:
        """Check an image as the registry holds it: every blob's digest and size, that
        layers are readable tar streams (gzip, and zstd where the ``zstandard`` module
        is installed), that the config's ``rootfs.diff_ids`` are the layers'.

        For an index every platform is checked, or only ``platform``'s. Problems are
        reported, not raised: ``report.ok``, ``report.problems``. Every blob is read
        (``max_workers`` at a time), nothing is written.

        Raises:
            NotFoundError: no such image.
            PlatformNotFoundError: the index has no image of ``platform``.
        """
        return self._run(self.flows.validate(reference, platform))

    def fetch_artifact(
        self, reference: str, dest_dir: str | os.PathLike[str]
    ) -> list[Path]:
        """Download the files of an artifact manifest (an SBOM, a signature... found with
        ``manifests.referrers``) into ``dest_dir``; their paths, in the manifest's order.

        Each layer with an ``org.opencontainers.image.title`` annotation is a file of that
        name (untitled layers are skipped). Every title is checked before anything is
        written; the files are downloaded (verified) into a temp folder in ``dest_dir``
        and moved into place when all are complete.

        Raises:
            NotFoundError: no such manifest.
            ArtifactNameError: a title is absolute, ``..``, holds a path separator, is
                empty, or two are the same; nothing is written (a ValueError too).
            NotAnImageError: the manifest is an index.
        """
        return self._run(self.flows.fetch_artifact(reference, dest_dir))

    def export(
        self, reference: str, dest: str | os.PathLike[str], *,
        platform: str | Platform | None = None,
    ) -> Path:
        """Write the image's root filesystem to ``dest`` as one tar; return ``dest``.

        The layers are applied in order, as a container runtime unpacks them: a later
        file replaces an earlier one, whiteouts (``.wh.NAME``) delete what the layers
        below hold and opaque directories (``.wh..wh..opq``) empty theirs; whiteout
        files themselves are not written. Layers are downloaded (verified) to a
        temporary directory and streamed through, never held in memory; ``dest`` is
        written next to itself and renamed into place when complete.
        ``platform`` (``"linux/arm64"`` or a Platform) picks the image of an index; an
        index of several platforms needs it.

        Raises:
            NotFoundError: no such image.
            PlatformNotFoundError: no such platform, or an index and no ``platform``.
            LayerError: a layer is not a tar stream, is foreign, or the manifest is an
                artifact's.
            FileNotFoundError: ``dest``'s directory does not exist; IsADirectoryError:
                ``dest`` is one (both before anything is downloaded).
        """
        return self._run(self.flows.export(reference, dest, platform=platform))

    @overload
    def copy(
        self, reference: str, target: Repository, target_tag: str | None = None, *,
        progress: ProgressCallback | None = None, referrers: bool = False,
        dry_run: Literal[False] = False,
    ) -> Image: ...

    @overload
    def copy(
        self, reference: str, target: Repository, target_tag: str | None = None, *,
        progress: ProgressCallback | None = None, referrers: bool = False,
        dry_run: Literal[True],
    ) -> CopyPlan: ...

    def copy(
        self, reference: str, target: Repository, target_tag: str | None = None, *,
        progress: ProgressCallback | None = None, referrers: bool = False,
        dry_run: bool = False,
    ) -> Image | CopyPlan:
        """Copy an image (every platform) to another repository, here or on another registry.

        ``target`` is a :class:`~registry_client.Repository` (``registry.repository(...)``).

        Within one registry blobs are mounted (no bytes move); across registries
        they stream straight from source to target. Manifest bytes are kept, so
        digests are the same on both sides. Without ``target_tag`` the source
        tag is kept (a digest reference is pushed by digest only).

        With ``referrers=True`` the referrers (signatures, SBOMs...) of the image
        and of each manifest of an index are copied too, by digest (one level:
        not the referrers of referrers); where the target has no referrers API
        its referrers tag schema index is updated. Default False.

        With ``dry_run=True`` nothing is written: the :class:`CopyPlan` says, per
        blob, whether the copy would skip it (the target has it), mount it or
        transfer it, and how many bytes would move (manifest GETs, blob HEADs only).
        """
        return self._run(self.flows.copy(reference, target, target_tag, progress=progress,
                                         referrers=referrers, dry_run=dry_run))

    def attach(
        self, subject_digest: str, artifact_type: str, blobs_or_files: Iterable[ArtifactItem],
        annotations: Mapping[str, str] | None = None,
    ) -> Descriptor:
        """Push an artifact (SBOM, signature...) that refers to an image; return its descriptor.

        The artifact is an OCI image manifest with ``artifactType``, the empty
        config ``{}``, one layer per item and ``subject`` = the image's
        descriptor, pushed by digest. An item is bytes or a file path, or a
        ``(data, media_type)`` pair; the media type defaults to
        ``application/octet-stream`` and files get an
        ``org.opencontainers.image.title`` annotation (their name).
        ``subject_digest`` may also be a tag. When the registry does not answer
        with ``OCI-Subject`` (no referrers API), the referrers tag schema's index
        ``sha256-<hex>`` is updated too: read, add, write -- the last writer wins
        when two clients attach to one image at the same moment.

        Raises:
            NotFoundError: no such subject.
            RegistryResponseError: the registry refused the artifact, or the
                referrers tag holds something other than an OCI index.
        """
        return self._run(self.flows.attach(subject_digest, artifact_type, blobs_or_files,
                                           annotations))

    def retag(self, reference: str, new_tag: str) -> Image:
        """Put the manifest of ``reference`` under ``new_tag`` too; no blob moves.

        Raises:
            NotFoundError: no such image.
        """
        return self._run(self.flows.retag(reference, new_tag))
