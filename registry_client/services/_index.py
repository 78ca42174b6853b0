"""Building a multi-platform OCI index from single-platform images: of its own
repository, or of others of the same registry (brought in by digest first)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .. import mediatypes
from .._args import text_map
from .._flow import Flow
from ..errors import NotAnImageError, RegistryResponseError
from ..models import IMAGE_CONFIG_TYPES, Descriptor, Image, Platform, RawManifest
from ..models.descriptor import same_platform
from . import _light
from ._elsewhere import FlowsTarget, Source, source_of
from ._platforms import light_image, read_config
from ._worker import ImageWorker


def platform_json(p: Platform) -> dict[str, Any]:
    """An index entry's ``platform`` object, in the image-spec's field order."""
    doc: dict[str, Any] = {"architecture": p.architecture, "os": p.os}
    if p.os_version:
        doc["os.version"] = p.os_version
    if p.os_features:
        doc["os.features"] = list(p.os_features)
    if p.variant:
        doc["variant"] = p.variant
    return doc


class IndexBuilder(ImageWorker):
    """Makes OCI image indexes in one repository."""

    def _bring(self, src: Source, raw: RawManifest) -> Flow[None]:
        """Copy image ``raw`` (read already) of another repository into this one, by
        digest (its blobs mounted; streamed across where the registry declines a mount):
        an index lists manifests of its own repository."""
        from ._copy import Copier  # on first use: a cross-repository index only

        here = FlowsTarget(self._endpoint, self._repository, self._manifests, self._blobs)
        copier = Copier(self._endpoint, src.name, manifests=src.manifests, blobs=src.blobs,
                        max_workers=self._max_workers)
        yield from copier.place(raw, here)

    def create_index(
        self, tag: str, references: Sequence[str], annotations: Mapping[str, str] | None,
    ) -> Flow[Image]:
        """Push an OCI index of the images ``references`` under ``tag``."""
        if isinstance(references, str) or not references:
            raise ValueError("create_index needs a list of one or more image references")
        annotations = text_map(annotations, "annotations")
        entries: list[dict[str, Any]] = []
        descs: list[Descriptor] = []
        seen: dict[Platform, str] = {}
        elsewhere: list[tuple[Source, RawManifest]] = []  # brought in once all are checked
        for reference in references:
            src = source_of(self._endpoint, self._repository, self._manifests, self._blobs,
                            reference, reader="create_index")
            raw = yield from src.manifests.get_raw(src.reference)
            is_index, found = _light.read(raw)
            if is_index:
                raise NotAnImageError(f"{reference} is an index: an index is made of "
                                      "single-platform images")
            if found[0].media_type not in IMAGE_CONFIG_TYPES:
                raise NotAnImageError(f"{reference} is an artifact ({found[0].media_type}), "
                                      "not an image")
            config = yield from read_config(src.blobs, found[0], self._endpoint.body_limit)
            unlisted = (f"{reference} is not an image an index can list: its config must "
                        "name an os and an architecture")
            try:
                platform = _light.image_platform(raw, found[0], config)
            except RegistryResponseError as exc:  # os or architecture missing or no string
                raise NotAnImageError(f"{unlisted} ({exc})") from exc
            if not platform.os or not platform.architecture:
                raise NotAnImageError(unlisted)
            key = Platform(architecture=platform.architecture, os=platform.os,
                           variant=platform.variant, os_version=platform.os_version,
                           os_features=platform.os_features)
            # One image per platform, as containerd normalises platforms (arm64 is
            # arm64/v8, aarch64 is arm64, arm/7 is arm/v7; amd64 and amd64/v2 differ):
            # pull picks the entry that is exactly the platform asked for.
            for other, other_ref in seen.items():
                if same_platform(other, key):
                    raise NotAnImageError(
                        f"{other_ref} ({other}) and {reference} ({key}) are the same platform: "
                        "an index holds one image per platform")
            seen[key] = reference
            if src.name != self._repository:
                elsewhere.append((src, raw))
            entries.append({"mediaType": raw.media_type, "digest": raw.digest,
                            "size": len(raw.data), "platform": platform_json(platform)})
            descs.append(Descriptor(media_type=raw.media_type, digest=raw.digest,
                                    size=len(raw.data), platform=key))
        doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                               "manifests": entries}
        if annotations:
            doc["annotations"] = dict(annotations)
        data = json.dumps(doc, separators=(",", ":")).encode()
        raw = RawManifest(data=data, media_type=mediatypes.OCI_INDEX,
                          digest="sha256:" + hashlib.sha256(data).hexdigest())
        for src, child in elsewhere:
            yield from self._bring(src, child)
        yield from self._manifests.put(tag, raw)
        return light_image(raw, True, descs, None, domain=self._endpoint.domain,
                           repository=self._repository, tag=tag)
