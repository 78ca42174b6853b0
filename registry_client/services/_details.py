"""``ImageService.details``: per platform, the manifest digest, creation time, labels and size.

Manifests are read with the light parser (as the transfers do) and each platform's
manifest and config are fetched in parallel, ``max_workers`` at a time.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from .._flow import Flow, Gather
from ..errors import RegistryResponseError
from ..models import (
    IMAGE_CONFIG_TYPES,
    Descriptor,
    ImageDetails,
    Platform,
    RawManifest,
    parse_rfc3339,
)
from . import _light
from ._platforms import (
    pick_platform,
    platform_of_entry,
    read_config,
    refuse_other_platform,
    wanted_platform,
)
from ._worker import ImageWorker


def _is_platform(p: Platform | None) -> bool:
    """True for an entry that runs somewhere (not an attestation's unknown/unknown)."""
    return p is not None and p.os not in ("", "unknown") \
        and p.architecture not in ("", "unknown")


def _created_and_labels(
    config_data: bytes | None, where: str
) -> tuple[datetime | None, dict[str, str]]:
    """The config's ``created`` (aware, None when absent or unparsable) and its labels."""
    if config_data is None:
        return None, {}
    doc = _light.json_object(config_data, where)
    container = doc.get("config")
    labels = container.get("Labels") if isinstance(container, dict) else None
    if labels is None:
        labels = {}
    if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise RegistryResponseError(f"{where}: config.Labels is not an object of strings")
    created = doc.get("created")
    return parse_rfc3339(created if isinstance(created, str) else None), dict(labels)


class DetailsReader(ImageWorker):
    """Reads the details of images of one repository, ``max_workers`` platforms at a time."""

    def _config(self, config: Descriptor) -> Flow[bytes]:
        return read_config(self._blobs, config, self._endpoint.body_limit)

    def _details(
        self, platform: Platform, raw: RawManifest, descs: list[Descriptor],
        config_data: bytes | None,
    ) -> Flow[ImageDetails]:
        config = descs[0]
        if config_data is None and config.media_type in IMAGE_CONFIG_TYPES:
            config_data = yield from self._config(config)
        created, labels = _created_and_labels(config_data, f"image config {config.digest}")
        return ImageDetails(platform=platform, digest=raw.digest, created=created, labels=labels,
                            size=sum(d.size for d in descs))  # config + layers

    def platform_manifest(self, reference: str, platform: str | Platform) -> Flow[RawManifest]:
        """See :meth:`ImageService.platform_manifest`."""
        want = wanted_platform(platform)
        raw = yield from self._manifests.get_raw(reference)
        is_index, descs = _light.read(raw)
        if is_index:
            _, child, _ = yield from pick_platform(self._manifests, raw, descs, want)
            return child
        config = descs[0]
        data = (yield from self._config(config)) \
            if config.media_type in IMAGE_CONFIG_TYPES else b""
        refuse_other_platform(self._named(reference), raw, config, data, want)
        return raw

    def details(
        self, reference: str, platform: str | Platform | None
    ) -> Flow[list[ImageDetails]]:
        """See :meth:`ImageService.details`."""
        want = wanted_platform(platform) if platform is not None else None
        raw = yield from self._manifests.get_raw(reference)
        is_index, descs = _light.read(raw)
        if not is_index:
            config = descs[0]
            data = (yield from self._config(config)) \
                if config.media_type in IMAGE_CONFIG_TYPES else None
            have = (_light.image_platform(raw, config, data or b"") if want is None else
                    refuse_other_platform(self._named(reference), raw, config, data or b"", want))
            return [(yield from self._details(have, raw, descs, data))]
        entries = [d for d in descs if _is_platform(d.platform)]
        if want is not None:
            entries = [d for d in entries if d.platform is not None and d.platform.matches(want)]

        def one(d: Descriptor) -> Flow[ImageDetails | None]:
            child = yield from self._manifests.get_raw(d.digest)
            child_is_index, child_descs = _light.read(child)
            if child_is_index:  # an index inside an index: not one platform's image
                return None
            return (yield from self._details(
                platform_of_entry(d.platform, d.digest, d.media_type, d.size),
                child, child_descs, None))

        found = (yield Gather([partial(one, d) for d in entries], self._max_workers)) \
            if entries else []
        images = [d for d in found if d is not None]
        if want is not None and not images:  # in an inner index, as pull finds it
            entry, child, child_descs = yield from pick_platform(
                self._manifests, raw, descs, want)
            images.append((yield from self._details(
                platform_of_entry(entry.platform, entry.digest, entry.media_type, entry.size),
                child, child_descs, None)))
        return images
