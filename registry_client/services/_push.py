"""Pushing an image from an OCI image layout directory."""

from __future__ import annotations

import os
from typing import Any

from ..errors import LayoutError
from ..layout import OCILayout
from ..models import Descriptor, Image, RawManifest, manifest_media_type
from ..progress import ProgressCallback
from ._plan import distinct_largest_first
from ._platforms import light_image
from ._schedule import transfer
from ._tree import manifest_tree
from ._upload_source import CheckedFile
from ._worker import ImageWorker
from .blobs import BlobService


def _local_manifest(layout: OCILayout, desc: dict[str, Any], limit: int) -> RawManifest:
    digest = desc.get("digest")
    if not isinstance(digest, str):
        raise LayoutError(f"{layout.root}: index.json entry without a digest")
    data = layout.read_blob(digest, limit)
    # The document says what it is (mediaType, else shape); the index.json entry's type
    # is no Content-Type: layouts of older versions typed Docker manifests as OCI.
    return RawManifest(data=data, media_type=manifest_media_type(data), digest=digest)


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


class Pusher(ImageWorker):
    """Pushes images from OCI layouts into one repository, ``max_workers`` blobs at a time."""

    def push(
        self, directory: str | os.PathLike[str], tag: str, *, progress: ProgressCallback | None,
    ) -> Image:
        """Upload the layout entry named ``tag`` (or the only one) and tag it ``tag``."""
        layout = OCILayout(directory)
        limit = self._requester.body_limit
        raw = _local_manifest(layout, layout.find(tag), limit)
        is_index, top, children = manifest_tree(
            raw, lambda d: _local_manifest(
                layout, {"digest": d.digest, "mediaType": d.media_type}, limit),
            workers=1)

        def send(d: Descriptor) -> None:
            send_layout_blob(self._blobs, layout, d, progress)

        wanted = [b for _, descs in children for b in descs]
        for d in wanted:
            # Before anything is sent: a layout missing a blob, or whose blob file leads
            # out of it (a symlink to a file elsewhere), or has another size, pushes nothing.
            layout.open_blob(d.digest, d.size).close()
        transfer(send, distinct_largest_first(wanted), self._max_workers)
        if is_index:
            for child, _ in children:
                self._manifests.put(child.digest, child)
        self._manifests.put(tag, raw)
        config_data = None if is_index else layout.read_blob(top[0].digest, limit)
        return light_image(raw, is_index, top, config_data, domain=self._requester.domain,
                           repository=self._repository, tag=tag)
