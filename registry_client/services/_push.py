"""Pushing an image from an OCI image layout directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs

from .._flow import Flow, Gather, Offload
from ..errors import (
    LayoutError,
    RegistryResponseError,
    SchemaV1NotSupportedError,
    UnknownSchemaError,
)
from ..layout import OCILayout
from ..models import Descriptor, Image, RawManifest, manifest_media_type
from ._light import distinct_largest_first
from ._platforms import light_image
from ._tree import manifest_tree
from ._upload_source import CheckedFile, UploadSource
from ._worker import ImageWorker
from .blobs import BlobFlows

if TYPE_CHECKING:  # annotations only: progress events load with a callback
    from ..progress import ProgressCallback


@contextmanager
def _of_the_layout(layout: OCILayout) -> Iterator[None]:
    """The light parser's errors say the registry answered a malformed document (or one
    of a schema not read): for a file of the layout they are LayoutErrors naming it
    (nothing was sent yet)."""
    try:
        yield
    except (RegistryResponseError, SchemaV1NotSupportedError, UnknownSchemaError) as exc:
        what = exc.message.removeprefix("the registry sent ")
        raise LayoutError(f"{layout.root}: {what}") from None


def _local_manifest(layout: OCILayout, desc: dict[str, Any], limit: int) -> RawManifest:
    digest = desc.get("digest")
    if not isinstance(digest, str):
        raise LayoutError(f"{layout.root}: index.json entry without a digest")
    data = layout.read_blob(digest, limit)
    size = desc.get("size")
    if isinstance(size, int) and size != len(data):
        # (docs/reliability.md: every file a push sends is of its descriptor's size)
        raise LayoutError(f"{layout.root}: manifest {digest} is {len(data)} bytes, its "
                          f"descriptor gives the size {size}")
    # The document says what it is (mediaType, else shape); the index.json entry's type
    # is no Content-Type: layouts of older versions typed Docker manifests as OCI.
    return RawManifest(data=data, media_type=manifest_media_type(data), digest=digest)


def send_layout_blob(
    blobs: BlobFlows, layout: OCILayout, descriptor: Descriptor,
    progress: ProgressCallback | None,
) -> Flow[None]:
    """Upload one blob of an OCI layout unless the registry has it, trusting nothing on
    disk: the file must be the layout's own (:meth:`OCILayout.open_blob`) and is hashed
    while it is sent (:class:`CheckedFile`).

    Raises:
        LayoutError: the blob file leads outside the layout or is not a regular file.
        DigestMismatchError: its content is not the blob's (naming the file); the upload
            is stopped before it is committed.
    """
    opened: list[BinaryIO] = []

    def open_source() -> UploadSource:
        # one file work, once the registry is known not to have the blob: the file opened
        # and checked, and a small one read into memory (its file closed at once)
        f, source = _layout_source(layout, descriptor)
        if f is not None:
            opened.append(f)
        return source

    try:
        yield from blobs.upload_opened(descriptor.digest, open_source, progress=progress)
    finally:
        for f in opened:
            f.close()  # a file opened for reading: closing it waits on nothing


def _layout_source(layout: OCILayout, descriptor: Descriptor,
                   ) -> tuple[BinaryIO | None, UploadSource]:
    """The upload source of a layout's blob file: opened (the layout's own, of its size)
    and hashed as it is read -- a small one read into memory and checked now, its file
    closed (None); else the file, for the caller to close after the upload."""
    f = layout.open_blob(descriptor.digest, descriptor.size)
    held: BinaryIO | None = f
    try:
        checked = CheckedFile(f, descriptor.digest, str(layout.blob_path(descriptor.digest)))
        if checked.size <= CheckedFile.IN_MEMORY:  # goes in one PUT, checked before it
            checked.preload()
            f.close()
            held = None
        source = UploadSource(checked, checked.size, descriptor.digest,  # type: ignore[arg-type]
                              owned=False)
    except BaseException:
        f.close()
        raise
    return held, source


class Pusher(ImageWorker):
    """Pushes images from OCI layouts into one repository, ``max_workers`` blobs at a time."""

    def push(
        self, directory: str | os.PathLike[str], tag: str, *, progress: ProgressCallback | None,
    ) -> Flow[Image]:
        """Upload the layout entry named ``tag`` (or the only image) and tag it ``tag``; of
        several named ``tag``, the one whose full name is this repository's (see
        :meth:`OCILayout.find`)."""
        layout = OCILayout(directory)
        limit = self._endpoint.body_limit

        def local(desc: dict[str, Any]) -> Flow[RawManifest]:
            raw: RawManifest = yield Offload(partial(_local_manifest, layout, desc, limit))
            return raw

        with _of_the_layout(layout):
            raw = yield from local((yield Offload(partial(layout.find, tag,
                                                          repository=self._repository))))
            is_index, top, children = yield from manifest_tree(
                raw, lambda d: local({"digest": d.digest, "mediaType": d.media_type,
                                      "size": d.size}), workers=1)
        wanted = [b for _, descs in children for b in descs]

        def check() -> bytes | None:
            for d in wanted:
                # Before anything is sent: a layout missing a blob, or whose blob file leads
                # out of it (a symlink to a file elsewhere), or has another size, pushes nothing.
                layout.open_blob(d.digest, d.size).close()
            return None if is_index else layout.read_blob(top[0].digest, limit)

        config_data = yield Offload(check)
        with _of_the_layout(layout):  # (a malformed config, too, before anything is sent)
            image = light_image(raw, is_index, top, config_data, domain=self._endpoint.domain,
                                repository=self._repository, tag=tag)
        yield Gather([partial(send_layout_blob, self._blobs, layout, d, progress)
                      for d in distinct_largest_first(wanted)],
                     self._max_workers, transfer=True)
        if is_index:
            for child, _ in children:
                yield from self._manifests.put(child.digest, child)
        stored = yield from self._manifests.put(tag, raw)
        # the digest the registry serves it by: a layout's blobs/sha512 manifest is
        # stored under its sha256 (the Image describes the destination)
        return image if stored == image.digest else attrs.evolve(image, digest=stored)
