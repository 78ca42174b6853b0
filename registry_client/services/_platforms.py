"""Platforms of moved images: choosing one, describing an image from light descriptors,
and reading its config blob within the body limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import mediatypes
from .._flow import Flow
from ..errors import PlatformNotFoundError, RegistryResponseError
from ..models import Descriptor, Image, Platform, RawManifest
from ..models.descriptor import matching_entries
from . import _light
from ._tree import MAX_INDEX_DEPTH
from .blobs import BlobFlows

if TYPE_CHECKING:
    from .manifests import ManifestFlows


def wanted_platform(platform: object) -> Platform:
    """``platform`` (``"linux/arm64"`` or a Platform) as a Platform."""
    if isinstance(platform, str):
        return Platform.parse(platform)
    if isinstance(platform, Platform):
        return platform
    raise TypeError(f"platform must be a string such as 'linux/arm64' or a Platform, "
                    f"not {type(platform).__name__}")


def platform_words(platform: Platform) -> str:
    """``os/arch[/variant]`` with ``:osversion`` when it has one (crane's form, which
    :meth:`Platform.parse` reads): what a message about a platform that did not match
    says, so two Windows builds do not read alike."""
    return f"{platform}:{platform.os_version}" if platform.os_version else str(platform)


def choose_platform(entries: list[Descriptor], platform: str | Platform) -> Descriptor:
    """The index entry of ``platform``: the one that is exactly it, else the first that
    matches it (skopeo's and containerd's choice: ``linux/amd64`` is the plain amd64
    entry even when an ``amd64/v3`` one, which it matches too, comes first).

    Raises:
        PlatformNotFoundError: none, naming the platforms the index has.
    """
    want = wanted_platform(platform)
    matching = matching_entries(entries, want)
    if matching:
        return matching[0]
    have = ", ".join(platform_words(d.platform) for d in entries if d.platform is not None)
    raise PlatformNotFoundError(f"no platform {platform_words(want)} in this index "
                                f"(have: {have})")


def pick_platform(
    manifests: ManifestFlows, raw: RawManifest, entries: list[Descriptor],
    platform: str | Platform,
) -> Flow[tuple[Descriptor, RawManifest, list[Descriptor]]]:
    """The image for ``platform`` under the index ``raw`` (whose ``entries`` are given):
    the entry that names it, the image manifest and its descriptors.

    The entry :func:`choose_platform` picks wins; an entry that is itself an index is
    searched the same way -- a matching one, and then those that name no platform --
    down to ``MAX_INDEX_DEPTH`` levels. Every verb that takes a platform finds the
    same image by this.

    Raises:
        PlatformNotFoundError: nothing under ``raw`` is an image for ``platform``.
    """
    want = wanted_platform(platform)

    def search(
        entries: list[Descriptor], depth: int,
    ) -> Flow[tuple[Descriptor, RawManifest, list[Descriptor]] | None]:
        matching = matching_entries(entries, want)
        nested = [d for d in entries
                  if d.platform is None and d.media_type in mediatypes.INDEX_TYPES]
        for d in matching[:1] + nested:
            child = yield from manifests.get_raw(d.digest)
            child_is_index, descs = _light.read(child)
            if not child_is_index:
                if d.platform is not None:
                    return d, child, descs
                continue
            if depth >= MAX_INDEX_DEPTH:
                raise RegistryResponseError(
                    f"manifest {raw.digest}: indexes nest more than {MAX_INDEX_DEPTH} deep")
            found = yield from search(descs, depth + 1)
            if found is not None:
                return found
        return None

    found = yield from search(entries, 1)
    if found is None:
        choose_platform(entries, want)  # raises, naming the platforms the index has
        raise PlatformNotFoundError(f"no image for platform {want} under {raw.digest}")
    return found


def refuse_other_platform(
    reference: str, raw: RawManifest, config: Descriptor, config_data: bytes, want: Platform,
) -> Platform:
    """The platform of the single image ``raw``, refused unless it is ``want``: as docker,
    a single image stands for another platform only if it is one.

    Raises:
        PlatformNotFoundError: it is another platform, or an artifact.
    """
    have = _light.image_platform(raw, config, config_data)
    if not have.matches(want):
        what = f"a single {have} image" if have.os else "not an image (an artifact)"
        raise PlatformNotFoundError(f"{reference} is {what}, not {want}")
    return have


def platform_of_entry(
    p: Platform | None, digest: str, media_type: str, size: int
) -> Platform:
    """The :class:`Platform` of an index entry, naming the manifest it points to."""
    if p is None:
        return Platform(architecture="", os="", digest=digest, media_type=media_type, size=size)
    return Platform(
        architecture=p.architecture, os=p.os, variant=p.variant, os_version=p.os_version,
        os_features=tuple(p.os_features or ()), features=tuple(p.features or ()),
        digest=digest, media_type=media_type, size=size,
    )


def light_image(
    raw: RawManifest, is_index: bool, descs: list[Descriptor], config_data: bytes | None, *,
    domain: str, repository: str, tag: str | None,
) -> Image:
    """The :class:`Image` of a moved manifest, from its light descriptors.

    ``config_data`` is the image config (single images; ignored for an artifact).
    """
    if is_index:
        platforms = [platform_of_entry(d.platform, d.digest, d.media_type, d.size)
                     for d in descs]
    else:
        platforms = [_light.image_platform(raw, descs[0], config_data or b"")]
    return Image(digest=raw.digest, domain=domain, repository=repository, tag=tag,
                 platforms=platforms, media_type=raw.media_type, size=len(raw.data))


def check_config_size(config: Descriptor, limit: int) -> None:
    """Refuse a config blob larger than the body limit (it is read into memory)."""
    if config.size > limit:
        raise RegistryResponseError(
            f"image config {config.digest} of {config.size} bytes exceeds the {limit}-byte limit"
        )


def read_config(blobs: BlobFlows, config: Descriptor, limit: int) -> Flow[bytes]:
    """The config blob (verified), refused when larger than the body limit ``limit``.

    Read to the end (a read returns what has arrived so far): the size was checked
    against the limit, the reader refuses more than it, and verifies the digest.
    """
    check_config_size(config, limit)
    data: bytes = yield from blobs.get(config.digest, expected_size=config.size)
    return data
