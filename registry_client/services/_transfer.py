"""Moving whole images: pull to an OCI layout, push from one, copy between repositories."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from .. import mediatypes
from .._reader import CHUNK, VerifyingReader
from ..layout import OCILayout
from ..models import (
    Descriptor,
    Image,
    Manifest,
    ManifestList,
    ManifestV2,
    OCIIndex,
    OCIManifest,
    Platform,
    RawManifest,
    manifest_from_bytes,
)
from ..progress import BlobMounted, BlobSkipped, ProgressCallback, emit
from . import _light
from ._base import is_digest
from ._plan import (
    BlobPlan,
    CopyPlan,
    blobs_of,
    distinct_largest_first,
    distributable,
    make_plan,
)
from ._upload import MONOLITHIC_MAX, Uploader, UploadSource
from .images import _platform_of_entry

if TYPE_CHECKING:
    from ..repository import Repository
    from .images import ImageService



def _is_index(m: Manifest) -> bool:
    return isinstance(m, ManifestList | OCIIndex)


_T = TypeVar("_T")
_R = TypeVar("_R")


def _parallel(fn: Callable[[_T], _R], items: list[_T], workers: int) -> list[_R]:
    """``fn`` over ``items`` in order, at most ``workers`` at once (inline for one item)."""
    if len(items) <= 1 or workers == 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def _run_parallel(
    fn: Callable[[Descriptor], None], items: Iterable[Descriptor], workers: int
) -> None:
    """Run ``fn`` over distinct blobs, largest first, at most ``workers`` at once."""
    _parallel(fn, distinct_largest_first(items), workers)


def _descriptor_dict(raw: RawManifest) -> dict[str, Any]:
    # The entry keeps the manifest's true media type, as crane does. skopeo 1.9
    # (containers/image v5.23) looks ``oci:DIR:TAG`` up among OCI-typed entries only, so
    # a pulled Docker schema2 image is read there as ``oci:DIR``; an OCI-typed entry for
    # Docker content would instead break ``skopeo inspect`` (it parses by entry type).
    return {"mediaType": raw.media_type, "digest": raw.digest, "size": len(raw.data)}


def _content_media_type(data: bytes, fallback: object) -> str:
    """The manifest's own ``mediaType`` when it names a manifest type, else ``fallback``."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        doc = None
    own = doc.get("mediaType") if isinstance(doc, dict) else None
    if isinstance(own, str) and own in mediatypes.MANIFEST_TYPES:
        return own
    if isinstance(fallback, str) and fallback:
        return fallback
    if isinstance(doc, dict) and isinstance(doc.get("manifests"), list):
        return mediatypes.OCI_INDEX
    return mediatypes.OCI_MANIFEST


def _image_from_local(
    images: ImageService, raw: RawManifest, manifest: Manifest, *, domain: str,
    repository: str, tag: str | None, config: bytes | None,
) -> Image:
    """Describe a moved image as it is at its destination, from content already at hand."""
    image = images.describe(raw, manifest, tag=tag, config_data=config)
    return attrs.evolve(image, domain=domain, repository=repository)


# -- pull -----------------------------------------------------------------------------------
def _choose(entries: list[Descriptor], platform: str | Platform) -> Descriptor:
    want = Platform.parse(platform) if isinstance(platform, str) else platform
    for d in entries:
        if d.platform is not None and d.platform.matches(want):
            return d
    have = ", ".join(str(d.platform) for d in entries if d.platform is not None)
    raise ValueError(f"no platform {want} in this index (have: {have})")


def pull_image(
    images: ImageService, reference: str, directory: str | os.PathLike[str], *,
    platform: str | Platform | None, progress: ProgressCallback | None,
) -> Image:
    """Write the image ``reference`` into an OCI layout at ``directory``.

    Manifests are read with the light parser (``_light``): moving bytes needs only
    their descriptors, not the typed models.
    """
    layout = OCILayout(directory)
    layout.init()
    manifests, blobs = images._manifests, images._blobs
    raw = manifests.get_raw(reference)
    is_index, top = _light.read(raw)
    singles: list[tuple[RawManifest, list[Descriptor]]] = []
    entry_raw, entries = raw, top
    if is_index:
        chosen = [_choose(top, platform)] if platform is not None else top
        for d in chosen:
            child_raw = manifests.get_raw(d.digest)
            child_is_index, child_blobs = _light.read(child_raw)
            if child_is_index:
                raise ValueError(f"nested index {d.digest} is not supported by pull")
            singles.append((child_raw, child_blobs))
        if platform is not None:
            entry_raw, entries = singles[0]
        else:
            layout.write_blob(raw.digest, raw.data)
    else:
        singles.append((raw, top))

    def fetch(d: Descriptor) -> None:
        path = layout.blob_path(d.digest)
        if layout.has_blob(d.digest, d.size):
            emit(progress, BlobSkipped(d.digest, d.size))
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        blobs.download(d.digest, path, progress=progress, expected_size=d.size)

    wanted = (b for _, descs in singles for b in descs if distributable(b))
    _run_parallel(fetch, wanted, images._max_workers)
    for child_raw, _ in singles:
        layout.write_blob(child_raw.digest, child_raw.data)
    tag = None if is_digest(reference) else reference
    layout.add_manifest(_descriptor_dict(entry_raw), tag or reference)
    if entry_raw is raw and is_index:
        platforms = [_platform_of_entry(d.platform, d.digest, d.media_type, d.size)
                     for d in top]
    else:
        config = entries[0]
        data = layout.read_blob(config.digest, images._requester.body_limit)
        platforms = [_light.image_platform(entry_raw, config, data)]
    return Image(digest=entry_raw.digest, domain=images.domain, repository=images.repository,
                 tag=tag, platforms=platforms, media_type=entry_raw.media_type,
                 size=len(entry_raw.data))


# -- push -----------------------------------------------------------------------------------
def _local_manifest(layout: OCILayout, desc: dict[str, Any], limit: int) -> RawManifest:
    digest = desc.get("digest")
    if not isinstance(digest, str):
        raise ValueError(f"{layout.root}: index.json entry without a digest")
    data = layout.read_blob(digest, limit)
    return RawManifest(
        data=data, media_type=_content_media_type(data, desc.get("mediaType")), digest=digest
    )


def push_image(
    images: ImageService, directory: str | os.PathLike[str], tag: str, *,
    progress: ProgressCallback | None,
) -> Image:
    """Upload the layout entry named ``tag`` (or the only one) and tag it ``tag``."""
    layout = OCILayout(directory)
    limit = images._requester.body_limit
    raw = _local_manifest(layout, layout.find(tag), limit)
    top = manifest_from_bytes(raw.data, raw.media_type)
    children: list[tuple[RawManifest, Manifest]] = []
    if _is_index(top):
        assert isinstance(top, ManifestList | OCIIndex)
        for d in top.manifests:
            child = _local_manifest(layout, {"digest": d.digest, "mediaType": d.media_type}, limit)
            children.append((child, manifest_from_bytes(child.data, child.media_type)))
    else:
        children.append((raw, top))

    def send(d: Descriptor) -> None:
        images._blobs.upload(layout.blob_path(d.digest), digest=d.digest, progress=progress)

    _run_parallel(send, (b for _, m in children for b in blobs_of(m)), images._max_workers)
    if _is_index(top):
        for child, _ in children:
            images._manifests.put(child.digest, child)
    images._manifests.put(tag, raw)
    config = None
    if not _is_index(top):
        assert isinstance(top, ManifestV2 | OCIManifest)
        config = layout.read_blob(top.config.digest, limit)
    return _image_from_local(images, raw, top, domain=images.domain,
                             repository=images.repository, tag=tag, config=config)


# -- copy -----------------------------------------------------------------------------------
def _source_tree(
    images: ImageService, reference: str
) -> tuple[RawManifest, Manifest, list[tuple[RawManifest, Manifest]]]:
    """The top manifest and the image manifests under it (itself for a single image)."""
    raw = images._manifests.get_raw(reference)
    top = manifest_from_bytes(raw.data, raw.media_type)
    children: list[tuple[RawManifest, Manifest]] = []
    if _is_index(top):
        assert isinstance(top, ManifestList | OCIIndex)
        for d in top.manifests:
            child = images._manifests.get_raw(d.digest)
            children.append((child, manifest_from_bytes(child.data, child.media_type)))
    else:
        children.append((raw, top))
    return raw, top, children


def plan_copy(
    images: ImageService, reference: str, target: Repository, target_tag: str | None,
) -> CopyPlan:
    """What copying ``reference`` to ``target`` would do (manifest GETs and blob HEADs only)."""
    raw, _, children = _source_tree(images, reference)
    tag = target_tag or (None if is_digest(reference) else reference)
    return make_plan(images, raw, children, target, tag, check_target=True,
                     run=lambda fn, items: _parallel(fn, items, images._max_workers))


def copy_image(
    images: ImageService, reference: str, target: Repository, target_tag: str | None, *,
    progress: ProgressCallback | None,
) -> Image:
    """Copy every platform of ``reference`` to ``target``; manifests keep their bytes.

    The copy runs one plan: within a registry every blob is mounted (a mount the
    registry declines falls back to a transfer); across registries one HEAD per
    blob decides between skip and a streamed transfer.
    """
    src_blobs = images._blobs
    raw, top, children = _source_tree(images, reference)
    tag = target_tag or (None if is_digest(reference) else reference)
    same = target.requester.base_url == images._requester.base_url
    plan = make_plan(images, raw, children, target, tag, check_target=not same,
                     for_push=True,
                     run=lambda fn, items: _parallel(fn, items, images._max_workers))
    config_digest = (top.config.digest if isinstance(top, ManifestV2 | OCIManifest)
                     and top.config.size <= images._requester.body_limit else None)
    kept: dict[str, bytes] = {}

    def move(b: BlobPlan) -> None:
        if b.action == "skip":
            emit(progress, BlobSkipped(b.digest, b.size))
            return
        if b.action == "mount" and target.blobs.mount(b.digest, images.repository):
            emit(progress, BlobMounted(b.digest, b.size, images.repository))
            return
        if b.digest == config_digest:  # small, and needed to describe the result: keep it
            kept[b.digest] = src_blobs.get(b.digest)
            source = UploadSource.from_data(kept[b.digest], b.digest)
            Uploader(target.blobs, source, None, progress).run()
            return
        reader = src_blobs.open(b.digest, expected_size=b.size)
        assert isinstance(reader, VerifyingReader)
        with reader:
            # One PUT streams the reader as it arrives; chunked uploads (large blobs)
            # need whole chunks, which a buffered reader assembles.
            stream: io.RawIOBase | io.BufferedReader = (
                reader if b.size <= MONOLITHIC_MAX else io.BufferedReader(reader, CHUNK)
            )
            source = UploadSource(stream, b.size, b.digest, owned=False)  # type: ignore[arg-type]
            Uploader(target.blobs, source, None, progress).run()

    _parallel(move, list(plan.blobs), images._max_workers)  # distinct, largest first
    for child, _ in children:
        if child.digest != raw.digest:
            target.manifests.put(child.digest, child)
    target.manifests.put(tag or raw.digest, raw)
    config = None
    if not _is_index(top):
        assert isinstance(top, ManifestV2 | OCIManifest)
        config = kept.get(top.config.digest)
    return _image_from_local(images, raw, top, domain=target.domain,
                             repository=target.name, tag=tag, config=config)
