"""Pulling an image into an OCI image layout directory."""

from __future__ import annotations

import os
from functools import partial
from typing import TYPE_CHECKING, Any

from .._flow import Flow, Gather, Offload
from ..layout import OCILayout
from ..models import Descriptor, Image, Platform, RawManifest
from ..reference import is_digest
from . import _light
from ._light import distinct_largest_first, distributable, refuse_foreign
from ._platforms import (
    check_config_size,
    light_image,
    pick_platform,
    read_config,
    refuse_other_platform,
    wanted_platform,
)
from ._tree import manifest_tree, require_verifiable_blobs
from ._worker import ImageWorker

if TYPE_CHECKING:
    from ..progress import ProgressCallback


def _descriptor_dict(raw: RawManifest) -> dict[str, Any]:
    # The entry keeps the manifest's true media type, as crane does. skopeo 1.9
    # (containers/image v5.23) looks ``oci:DIR:TAG`` up among OCI-typed entries only, so
    # a pulled Docker schema2 image is read there as ``oci:DIR``; an OCI-typed entry for
    # Docker content would instead break ``skopeo inspect`` (it parses by entry type).
    return {"mediaType": raw.media_type, "digest": raw.digest, "size": len(raw.data)}


class Puller(ImageWorker):
    """Pulls images of one repository into OCI layouts.

    Manifests are read with the light parser (``_light``): moving bytes needs only
    their descriptors, not the typed models. Blobs move ``max_workers`` at a time.
    """

    def pull(
        self, reference: str, directory: str | os.PathLike[str], *,
        platform: str | Platform | None, progress: ProgressCallback | None,
        every_layer: bool = False,
    ) -> Flow[Image]:
        """Write the image ``reference`` into an OCI layout at ``directory``.

        ``every_layer``: the layout is for a use that needs every layer's bytes (a
        docker-archive): a foreign layer, whose bytes are at its urls, is refused
        (LayerError) before anything moves, not left out.
        """
        layout = OCILayout(directory)
        # before any request: a folder that is not a layout is refused
        yield Offload(layout.check_writable)
        manifests, limit = self._manifests, self._endpoint.body_limit
        raw = yield from manifests.get_raw(reference)
        is_index, top = _light.read(raw)
        singles: list[tuple[RawManifest, list[Descriptor]]] = []
        entry_raw, entries = raw, top
        config_data: bytes | None = None
        if not is_index and platform is not None:
            # As docker: a single image is pulled for another platform only if it is one.
            want = wanted_platform(platform)
            config_data = yield from read_config(self._blobs, top[0], limit)
            refuse_other_platform(self._named(reference), raw, top[0], config_data, want)
        if is_index and platform is not None:
            _, child, descs = yield from pick_platform(self._manifests, raw, top, platform)
            singles.append((child, descs))
        elif is_index:  # every manifest under it, nested indexes included
            _, _, children = yield from manifest_tree(
                raw, lambda d: manifests.get_raw(d.digest), workers=self._max_workers)
            singles.extend(children)
        else:
            singles.append((raw, top))
        if not is_index or platform is not None:  # the returned Image reads its config
            check_config_size(singles[0][1][0], limit)
        if every_layer:
            for _, descs in singles:
                refuse_foreign(descs[1:])
        require_verifiable_blobs(
            reference, [(r, [b for b in d if distributable(b)]) for r, d in singles])
        yield Offload(layout.init)  # only now: a refused platform leaves no layout behind
        if is_index and platform is not None:
            entry_raw, entries = singles[0]
        elif is_index:
            yield Offload(partial(layout.write_blob, raw.digest, raw.data))
        if config_data is not None:  # read for the check: kept
            yield Offload(partial(layout.write_blob, top[0].digest, config_data))

        wanted = (b for _, descs in singles for b in descs if distributable(b))
        yield Gather([partial(self._fetch, layout, d, progress)
                      for d in distinct_largest_first(wanted)],
                     self._max_workers, transfer=True)

        def finish() -> bytes | None:
            for child_raw, _ in singles:
                layout.write_blob(child_raw.digest, child_raw.data)
            layout.add_manifest(_descriptor_dict(entry_raw), tag or reference)
            layout.remove_stale_partials()  # what a killed pull left (no resume will come)
            return None if whole_index else layout.read_blob(entries[0].digest, limit)

        tag = None if is_digest(reference) else reference
        whole_index = entry_raw is raw and is_index
        data = yield Offload(finish)
        return light_image(entry_raw, whole_index, entries, data,
                           domain=self._endpoint.domain, repository=self._repository, tag=tag)

    def _fetch(
        self, layout: OCILayout, d: Descriptor, progress: ProgressCallback | None
    ) -> Flow[None]:
        """Download one blob into ``layout`` unless it holds it already (and valid)."""
        # A download writes through symlinks (so: none out of the layout) and into FIFOs
        # and devices (so: none of those left in blobs/, all regular files): the guard
        # checks that, in the download's own first file work, which keeps a valid blob
        # it finds there (one hop to a worker thread before the GET in the asyncio API).
        yield from self._blobs.download(
            d.digest, layout.blob_path(d.digest), progress=progress, expected_size=d.size,
            guard=partial(layout.writable_blob_path, d.digest))
