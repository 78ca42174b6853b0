"""Moving whole images: pull to an OCI layout, push from one, copy between repositories."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .. import mediatypes
from .._log import log
from .._reader import CHUNK, VerifyingReader
from ..errors import (
    LayoutError,
    PlatformNotFoundError,
    RegistryResponseError,
    RegistryUnavailableError,
)
from ..layout import OCILayout
from ..models import Descriptor, Image, Platform, RawManifest
from ..models._mediatype import IMAGE_CONFIG_TYPES, manifest_media_type
from ..progress import BlobMounted, BlobSkipped, ProgressCallback, emit
from ..reference import is_digest, require_verifiable
from . import _light
from ._plan import BlobPlan, CopyPlan, distinct_largest_first, distributable, make_plan
from ._schedule import parallel, transfer
from ._upload import MONOLITHIC_MAX, Uploader
from ._upload_sessions import UploadSessions
from ._upload_source import CheckedFile, UploadSource
from .images import _platform_of_entry

if TYPE_CHECKING:
    from ..repository import Repository
    from .blobs import BlobService
    from .images import ImageService


class _OpenOnRead(io.RawIOBase):
    """A blob reader opened by ``opener`` on the first read (and closed with this)."""

    def __init__(self, opener: Callable[[], object], keep: list[bytes] | None = None) -> None:
        super().__init__()
        self._opener = opener
        self._keep = keep  # when given, every byte read is appended here too
        self._reader: VerifyingReader | None = None

    def _open(self) -> VerifyingReader:
        if self._reader is None:
            reader = self._opener()
            assert isinstance(reader, VerifyingReader)
            self._reader = reader
        return self._reader

    def readable(self) -> bool:
        """Always True."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer`` from the blob (opening it first)."""
        n = self._open().readinto(buffer)
        if self._keep is not None and n:
            self._keep.append(bytes(memoryview(buffer)[:n]))
        return n

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of the blob (opening it first)."""
        data = self._open().read(size)
        if self._keep is not None and data:
            self._keep.append(data)
        return data

    def verify(self) -> None:
        """Check the blob's digest at its end (see :meth:`VerifyingReader.verify`)."""
        self._open().verify()

    def close(self) -> None:
        """Close the blob reader, if it was opened."""
        if self._reader is not None:
            self._reader.close()
        super().close()


def _run_parallel(
    fn: Callable[[Descriptor], None], items: Iterable[Descriptor], workers: int
) -> None:
    """Run ``fn`` over distinct blobs, largest first, with a slot kept for small ones."""
    transfer(fn, distinct_largest_first(items), workers)


def _descriptor_dict(raw: RawManifest) -> dict[str, Any]:
    # The entry keeps the manifest's true media type, as crane does. skopeo 1.9
    # (containers/image v5.23) looks ``oci:DIR:TAG`` up among OCI-typed entries only, so
    # a pulled Docker schema2 image is read there as ``oci:DIR``; an OCI-typed entry for
    # Docker content would instead break ``skopeo inspect`` (it parses by entry type).
    return {"mediaType": raw.media_type, "digest": raw.digest, "size": len(raw.data)}


def _light_image(
    raw: RawManifest, is_index: bool, descs: list[Descriptor], config_data: bytes | None, *,
    domain: str, repository: str, tag: str | None,
) -> Image:
    """The :class:`Image` of a moved manifest, from its light descriptors.

    ``config_data`` is the image config (single images; ignored for an artifact).
    """
    if is_index:
        platforms = [_platform_of_entry(d.platform, d.digest, d.media_type, d.size)
                     for d in descs]
    else:
        platforms = [_light.image_platform(raw, descs[0], config_data or b"")]
    return Image(digest=raw.digest, domain=domain, repository=repository, tag=tag,
                 platforms=platforms, media_type=raw.media_type, size=len(raw.data))


def _require_verifiable(reference: str, children: _Children) -> None:
    """Refuse, before anything moves, an image naming a blob by a digest we cannot verify."""
    for _, descs in children:
        for d in descs:
            require_verifiable(d.digest, where=reference)


def _check_config_size(images: ImageService, config: Descriptor) -> None:
    """Refuse a config blob larger than the body limit (it is read into memory)."""
    limit = images._requester.body_limit
    if config.size > limit:
        raise RegistryResponseError(
            f"image config {config.digest} of {config.size} bytes exceeds the {limit}-byte limit"
        )


def _read_config(images: ImageService, config: Descriptor) -> bytes:
    """The config blob (verified), refused when larger than the body limit."""
    _check_config_size(images, config)
    return images._blobs.get(config.digest, expected_size=config.size)


# -- pull -----------------------------------------------------------------------------------
def _wanted(platform: object) -> Platform:
    if isinstance(platform, str):
        return Platform.parse(platform)
    if isinstance(platform, Platform):
        return platform
    raise TypeError(f"platform must be a string such as 'linux/arm64' or a Platform, "
                    f"not {type(platform).__name__}")


def _choose(entries: list[Descriptor], platform: str | Platform) -> Descriptor:
    want = _wanted(platform)
    for d in entries:
        if d.platform is not None and d.platform.matches(want):
            return d
    have = ", ".join(str(d.platform) for d in entries if d.platform is not None)
    raise PlatformNotFoundError(f"no platform {want} in this index (have: {have})")


def _pick_platform(
    images: ImageService, raw: RawManifest, entries: list[Descriptor], platform: str | Platform
) -> tuple[RawManifest, list[Descriptor]]:
    """The image manifest for ``platform`` under the index ``raw`` (and its descriptors).

    The first entry whose platform matches wins (as crane picks); an entry that is
    itself an index is searched the same way -- a matching one, and then those
    that name no platform -- down to ``_MAX_INDEX_DEPTH`` levels.

    Raises:
        PlatformNotFoundError: nothing under ``raw`` is an image for ``platform``.
    """
    want = _wanted(platform)

    def search(
        entries: list[Descriptor], depth: int
    ) -> tuple[RawManifest, list[Descriptor]] | None:
        matching = [d for d in entries if d.platform is not None and d.platform.matches(want)]
        nested = [d for d in entries
                  if d.platform is None and d.media_type in mediatypes.INDEX_TYPES]
        for d in matching[:1] + nested:
            child = images._manifests.get_raw(d.digest)
            child_is_index, descs = _light.read(child)
            if not child_is_index:
                if d.platform is not None:
                    return child, descs
                continue
            if depth >= _MAX_INDEX_DEPTH:
                raise RegistryResponseError(
                    f"manifest {raw.digest}: indexes nest more than {_MAX_INDEX_DEPTH} deep")
            found = search(descs, depth + 1)
            if found is not None:
                return found
        return None

    found = search(entries, 1)
    if found is None:
        _choose(entries, want)  # raises, naming the platforms the index has
        raise PlatformNotFoundError(f"no image for platform {want} under {raw.digest}")
    return found


def pull_image(
    images: ImageService, reference: str, directory: str | os.PathLike[str], *,
    platform: str | Platform | None, progress: ProgressCallback | None,
) -> Image:
    """Write the image ``reference`` into an OCI layout at ``directory``.

    Manifests are read with the light parser (``_light``): moving bytes needs only
    their descriptors, not the typed models.
    """
    layout = OCILayout(directory)
    layout.check_writable()  # before any request: a folder that is not a layout is refused
    manifests, blobs = images._manifests, images._blobs
    raw = manifests.get_raw(reference)
    is_index, top = _light.read(raw)
    singles: list[tuple[RawManifest, list[Descriptor]]] = []
    entry_raw, entries = raw, top
    config_data: bytes | None = None
    if not is_index and platform is not None:
        # As docker: a single image is pulled for another platform only if it is one.
        want = _wanted(platform)
        config_data = _read_config(images, top[0])
        have = _light.image_platform(raw, top[0], config_data)
        if not have.matches(want):
            what = f"a single {have} image" if have.os else "not an image (an artifact)"
            raise PlatformNotFoundError(f"{reference} is {what}, not {want}")
    if is_index and platform is not None:
        singles.append(_pick_platform(images, raw, top, platform))
    elif is_index:  # every manifest under it, nested indexes included
        singles.extend(_tree(raw, lambda d: manifests.get_raw(d.digest),
                             workers=images._max_workers)[2])
    else:
        singles.append((raw, top))
    if not is_index or platform is not None:  # the returned Image reads its config
        _check_config_size(images, singles[0][1][0])
    _require_verifiable(reference, [(r, [b for b in d if distributable(b)]) for r, d in singles])
    layout.init()  # only now: a refused platform leaves no layout behind
    if is_index and platform is not None:
        entry_raw, entries = singles[0]
    elif is_index:
        layout.write_blob(raw.digest, raw.data)
    if config_data is not None:
        layout.write_blob(top[0].digest, config_data)  # read for the check: kept

    def fetch(d: Descriptor) -> None:
        path = layout.checked_blob_path(d.digest)  # a download writes through symlinks
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
    whole_index = entry_raw is raw and is_index
    data = None if whole_index else layout.read_blob(entries[0].digest,
                                                     images._requester.body_limit)
    return _light_image(entry_raw, whole_index, entries, data, domain=images.domain,
                        repository=images.repository, tag=tag)


# -- push -----------------------------------------------------------------------------------
def send_layout_blob(
    blobs: BlobService, layout: OCILayout, descriptor: Descriptor,
    progress: ProgressCallback | None,
) -> None:
    """Upload one blob of an OCI layout unless the registry has it, trusting nothing on
    disk: the file must be the layout's own (:meth:`OCILayout.open_blob`) and is hashed
    while it is sent (:class:`CheckedFile`).

    Raises:
        LayoutError: the blob file leads outside the layout or is not a regular file.
        DigestMismatchError: its content is not the blob's (naming the file); the upload
            is stopped before it is committed.
    """
    with layout.open_blob(descriptor.digest, descriptor.size) as f:
        name = str(layout.blob_path(descriptor.digest))
        blobs.upload(CheckedFile(f, descriptor.digest, name),  # type: ignore[arg-type]
                     digest=descriptor.digest, progress=progress)


def _local_manifest(layout: OCILayout, desc: dict[str, Any], limit: int) -> RawManifest:
    digest = desc.get("digest")
    if not isinstance(digest, str):
        raise LayoutError(f"{layout.root}: index.json entry without a digest")
    data = layout.read_blob(digest, limit)
    # The document says what it is (mediaType, else shape); the index.json entry's type
    # is no Content-Type: layouts of older versions typed Docker manifests as OCI.
    return RawManifest(data=data, media_type=manifest_media_type(data), digest=digest)


def push_image(
    images: ImageService, directory: str | os.PathLike[str], tag: str, *,
    progress: ProgressCallback | None,
) -> Image:
    """Upload the layout entry named ``tag`` (or the only one) and tag it ``tag``."""
    layout = OCILayout(directory)
    limit = images._requester.body_limit
    raw = _local_manifest(layout, layout.find(tag), limit)
    is_index, top, children = _tree(
        raw, lambda d: _local_manifest(layout, {"digest": d.digest, "mediaType": d.media_type},
                                       limit), workers=1)

    def send(d: Descriptor) -> None:
        send_layout_blob(images._blobs, layout, d, progress)

    wanted = [b for _, descs in children for b in descs]
    for d in wanted:
        # Before anything is sent: a layout missing a blob, or whose blob file leads out
        # of it (a symlink to a file elsewhere), or has another size, pushes nothing.
        layout.open_blob(d.digest, d.size).close()
    _run_parallel(send, wanted, images._max_workers)
    if is_index:
        for child, _ in children:
            images._manifests.put(child.digest, child)
    images._manifests.put(tag, raw)
    config_data = None if is_index else layout.read_blob(top[0].digest, limit)
    return _light_image(raw, is_index, top, config_data, domain=images.domain,
                        repository=images.repository, tag=tag)


# -- copy -----------------------------------------------------------------------------------
_Children = list[tuple[RawManifest, list[Descriptor]]]


_MAX_INDEX_DEPTH = 4
"""How deep indexes may nest under the top one (a cycle or a hostile chain stops here)."""


def _tree(
    raw: RawManifest, get_child: Callable[[Descriptor], RawManifest], *, workers: int
) -> tuple[bool, list[Descriptor], _Children]:
    """``(is_index, descriptors, children)`` of ``raw``, read with the light parser.

    ``children`` pairs every manifest under the top (itself for a single image) with
    its distributable blobs, in the order they must be written: the manifests an
    index lists come before the index (a nested index after its own children, and
    with no blobs of its own).
    """
    is_index, top = _light.read(raw)
    if not is_index:
        return False, top, [(raw, [b for b in top if distributable(b)])]
    children: _Children = []
    fetched: dict[str, RawManifest] = {}
    added: set[str] = set()

    def walk(entries: list[Descriptor], depth: int) -> None:
        # Each manifest is fetched once (a level's in parallel) and listed once, after
        # everything under it: a child two indexes share comes before both of them.
        need = list({d.digest: d for d in entries if d.digest not in fetched}.values())
        for d, child in zip(need, parallel(get_child, need, workers), strict=True):
            fetched[d.digest] = child
        for d in entries:
            if d.digest in added:
                continue
            child = fetched[d.digest]
            child_is_index, descs = _light.read(child)
            if child_is_index:
                if depth >= _MAX_INDEX_DEPTH:
                    raise RegistryResponseError(
                        f"manifest {raw.digest}: indexes nest more than "
                        f"{_MAX_INDEX_DEPTH} deep")
                walk(descs, depth + 1)
                if d.digest not in added:
                    added.add(d.digest)
                    children.append((child, []))
            else:
                added.add(d.digest)
                children.append((child, [b for b in descs if distributable(b)]))

    walk(top, 1)
    return True, top, children


def _source_tree(
    images: ImageService, reference: str
) -> tuple[RawManifest, bool, list[Descriptor], _Children]:
    """``(raw, is_index, descriptors, children)`` of ``reference`` in the source repository."""
    raw = images._manifests.get_raw(reference)
    is_index, top, children = _tree(raw, lambda d: images._manifests.get_raw(d.digest),
                                    workers=images._max_workers)
    return raw, is_index, top, children


def plan_copy(
    images: ImageService, reference: str, target: Repository, target_tag: str | None,
) -> CopyPlan:
    """What copying ``reference`` to ``target`` would do (manifest GETs and blob HEADs only)."""
    raw, _, _, children = _source_tree(images, reference)
    tag = target_tag or (None if is_digest(reference) else reference)
    return make_plan(images, raw, children, target, tag, check_target=True,
                     run=lambda fn, items: parallel(fn, items, images._max_workers))


def copy_image(
    images: ImageService, reference: str, target: Repository, target_tag: str | None, *,
    progress: ProgressCallback | None, copied_manifests: list[str] | None = None,
) -> Image:
    """Copy every platform of ``reference`` to ``target``; manifests keep their bytes.

    The copy runs one plan: within a registry every blob is mounted (a mount the
    registry declines falls back to a transfer); across registries one HEAD per
    blob decides between skip and a streamed transfer. Manifests are read with the
    light parser, as for pull: moving bytes needs only their descriptors.
    """
    src_blobs = images._blobs
    raw, is_index, top, children = _source_tree(images, reference)
    _require_verifiable(reference, children)
    tag = target_tag or (None if is_digest(reference) else reference)
    same = target.requester.base_url == images._requester.base_url
    plan = make_plan(images, raw, children, target, tag, check_target=not same,
                     for_push=True,
                     run=lambda fn, items: parallel(fn, items, images._max_workers))
    config = None if is_index else top[0]
    limit = images._requester.body_limit
    config_digest = config.digest if config is not None and config.size <= limit else None
    kept: dict[str, bytes] = {}
    sessions = UploadSessions(target.requester, target.name,
                              present=lambda d: target.blobs.exists(d, for_push=True))

    def move(b: BlobPlan) -> None:
        if b.action == "skip":
            emit(progress, BlobSkipped(b.digest, b.size))
            return
        if b.action == "mount" and target.blobs.mount(b.digest, images.repository):
            emit(progress, BlobMounted(b.digest, b.size, images.repository))
            return
        restarts = target.requester.retries
        while True:
            try:
                return stream_blob(b)
            except RegistryUnavailableError as exc:
                # A connection cut on the way (the source's own resumes used up, or the
                # target's PUT cut: its session is gone and the stream can't rewind):
                # the blob goes again, read afresh from the source, in a new session.
                if exc.status_code is not None or restarts <= 0:
                    raise
                restarts -= 1
                log.debug("copy: blob %s was cut on the way, sending it again", b.digest)

    def stream_blob(b: BlobPlan) -> None:
        # The source is opened on the first read: the target's session (and the right
        # to push) comes first, so a refused upload costs no source GET. The config is
        # small and describes the result: its bytes are kept on the way.
        keep: list[bytes] | None = [] if b.digest == config_digest else None
        with _OpenOnRead(lambda: src_blobs.open(b.digest, expected_size=b.size),
                         keep) as reader:
            # One PUT streams the reader as it arrives; chunked uploads (large blobs)
            # need whole chunks, which a buffered reader assembles.
            stream: io.RawIOBase | io.BufferedReader = (
                reader if b.size <= MONOLITHIC_MAX else io.BufferedReader(reader, CHUNK)
            )
            source = UploadSource(stream, b.size, b.digest, owned=False)  # type: ignore[arg-type]
            Uploader(target.requester, sessions, source, None, progress).run()
        if keep is not None:
            kept[b.digest] = b"".join(keep)  # verified: the reader reached its EOF check

    transfer(move, plan.blobs, images._max_workers)  # distinct, largest first
    for child, _ in children:
        if child.digest != raw.digest:
            target.manifests.put(child.digest, child)
    target.manifests.put(tag or raw.digest, raw)
    if copied_manifests is not None:  # every manifest of the tree, nested ones included
        copied_manifests.extend(plan.manifests)
    config_data = None
    if config is not None and config.media_type in IMAGE_CONFIG_TYPES:
        # Mounted or skipped, the config was not read on the way: read it from the source.
        config_data = kept.get(config.digest) or _read_config(images, config)
    return _light_image(raw, is_index, top, config_data, domain=target.domain,
                        repository=target.name, tag=tag)
