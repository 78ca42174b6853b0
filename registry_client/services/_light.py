"""Just what moving an image needs from manifest bytes, read without the typed models.

Pulling only needs the blob descriptors (or an index's entries) and the config's
platform fields. Reading them straight from ``json.loads`` spares the first use of
the cattrs converter (its import and generated hooks, ~15-20 ms per process) on the
transfer path. The same checks apply as in ``models``: manifest type chosen the same
way (schema1 and unknown types refused), digests against the grammar, sizes as
non-negative integers, at most 1,000 index entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._json import loads, no_constants
from ..errors import LayerError, RegistryResponseError
from ..mediatypes import INDEX_TYPES
from ..models import IMAGE_CONFIG_TYPES, Descriptor, Platform, RawManifest
from ..models._mediatype import MAX_INDEX_ENTRIES, manifest_type_for
from ..reference import is_valid_digest


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """``data`` parsed as a JSON object; RegistryResponseError naming ``what`` when not
    (``NaN`` and ``Infinity`` are not JSON: such a document could not be written back)."""
    try:
        doc = loads(data, parse_constant=no_constants)
    except ValueError:
        raise RegistryResponseError(f"{what}: malformed JSON") from None
    if not isinstance(doc, dict):
        raise RegistryResponseError(f"{what}: expected a JSON object")
    return doc


def _str(value: object, where: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise RegistryResponseError(f"manifest: {where} is not a string")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistryResponseError(f"manifest: {where} is not a list of strings")
    return tuple(value)


def _platform(value: object, where: str) -> Platform | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RegistryResponseError(f"manifest: {where} is not an object")
    return Platform(
        architecture=_str(value.get("architecture"), f"{where}.architecture") or "",
        os=_str(value.get("os"), f"{where}.os") or "",
        variant=_str(value.get("variant"), f"{where}.variant", optional=True),
        os_version=_str(value.get("os.version"), f"{where}.os.version", optional=True),
        os_features=_strings(value.get("os.features"), f"{where}.os.features"),
        features=_strings(value.get("features"), f"{where}.features"),
    )


def descriptor(value: object, where: str) -> Descriptor:
    """A validated descriptor (media type, digest, size, platform, urls) from a JSON object."""
    if not isinstance(value, dict):
        raise RegistryResponseError(f"manifest: {where} is not an object")
    digest = value.get("digest")
    if not is_valid_digest(digest):
        raise RegistryResponseError(f"manifest: invalid digest {str(digest)[:100]!r} at {where}")
    size = value.get("size")
    if type(size) is not int or size < 0:
        raise RegistryResponseError(f"manifest: invalid size {str(size)[:40]!r} at {where}")
    assert isinstance(digest, str)
    return Descriptor(
        media_type=_str(value.get("mediaType"), f"{where}.mediaType") or "",
        digest=digest, size=size,
        platform=_platform(value.get("platform"), f"{where}.platform"),
        urls=_strings(value.get("urls"), f"{where}.urls") or None,
    )


def read(raw: RawManifest) -> tuple[bool, list[Descriptor]]:
    """``(is_index, descriptors)``: an index's entries, or an image's config then layers.

    Raises:
        SchemaV1NotSupportedError, UnknownSchemaError: a manifest type we do not read.
        RegistryResponseError: malformed or oversized.
    """
    doc = json_object(raw.data, f"manifest {raw.digest}")
    if manifest_type_for(doc, raw.media_type) in INDEX_TYPES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise RegistryResponseError("manifest: 'manifests' is not a list")
        if len(entries) > MAX_INDEX_ENTRIES:
            raise RegistryResponseError(
                f"manifest: an index of {len(entries)} entries exceeds {MAX_INDEX_ENTRIES}"
            )
        return True, [descriptor(e, f"$.manifests[{i}]") for i, e in enumerate(entries)]
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise RegistryResponseError("manifest: 'layers' is not a list")
    return False, [descriptor(doc.get("config"), "$.config"),
                   *(descriptor(d, f"$.layers[{i}]") for i, d in enumerate(layers))]


def referrer(data: bytes, media_type: str, digest: str) -> tuple[str, Descriptor] | None:
    """``(subject digest, index entry)`` of a manifest that names a ``subject``; None for
    one that does not (or whose subject is no valid descriptor: nothing to index).

    The entry is what the referrers tag schema's index lists for it: media type, digest,
    size, ``artifactType`` (an image's config type when the manifest has none) and the
    manifest's annotations.
    """
    if b'"subject"' not in data:
        return None  # the common case, without parsing
    try:
        doc = json_object(data, f"manifest {digest}")
        subject = descriptor(doc.get("subject"), "$.subject")
    except RegistryResponseError:
        return None
    artifact_type = doc.get("artifactType")
    config = doc.get("config")
    if not artifact_type and isinstance(config, dict) and "manifests" not in doc:
        artifact_type = config.get("mediaType")  # the spec: when "empty or missing"
    annotations = doc.get("annotations")
    if not (isinstance(annotations, dict)
            and all(isinstance(v, str) for v in annotations.values())):
        annotations = None
    return subject.digest, Descriptor(
        media_type=media_type, digest=digest, size=len(data),
        artifact_type=artifact_type if isinstance(artifact_type, str) and artifact_type
        else None,
        annotations=annotations,
    )


def image_platform(raw: RawManifest, config: Descriptor, config_data: bytes) -> Platform:
    """The platform of a single image, from its config blob (empty for an artifact)."""
    if config.media_type not in IMAGE_CONFIG_TYPES:
        return Platform(architecture="", os="", digest=raw.digest,
                        media_type=raw.media_type, size=len(raw.data))
    doc = json_object(config_data, f"image config {config.digest}")
    where = "image config"
    return Platform(
        architecture=_str(doc.get("architecture"), f"{where} architecture") or "",
        os=_str(doc.get("os"), f"{where} os") or "",
        variant=_str(doc.get("variant"), f"{where} variant", optional=True),
        os_version=_str(doc.get("os.version"), f"{where} os.version", optional=True),
        os_features=_strings(doc.get("os.features"), f"{where} os.features"),
        digest=raw.digest, media_type=raw.media_type, size=len(raw.data),
    )


_FOREIGN = ("foreign", "nondistributable")


def distributable(d: Descriptor) -> bool:
    """False for a foreign / non-distributable layer that names where it lives
    (``urls``: Windows base layers), fetched from there and never moved.

    One without urls is in the registry like any other layer -- Distribution accepts its
    manifest only when it holds the blob -- so it is moved (skopeo's rule; a rule by
    media type alone left such an image unpushable and its pulled layouts incomplete).
    """
    return not (d.urls and any(f in d.media_type for f in _FOREIGN))


def lone_entry(entries: list[Descriptor]) -> Descriptor | None:
    """The entry of an index of one entry that names no platform (``platform`` is
    optional in an index, or an attestation's ``unknown``): that index is its one image.
    None for any other index -- and for an entry that is an index itself: a
    multi-platform image, whose platform is chosen inside it."""
    if len(entries) != 1 or entries[0].media_type in INDEX_TYPES or real_entries(entries):
        return None
    return entries[0]


def real_entries(entries: list[Descriptor]) -> list[Descriptor]:
    """The entries of an index that name a platform (not an attestation's ``unknown``)."""
    return [e for e in entries
            if e.platform is not None and e.platform.os not in ("", "unknown")]


def platforms_in_words(entries: list[Descriptor]) -> str:
    """What a message lists of an index's platforms: those its entries name, and an
    index among them as such (its platforms are inside it)."""
    named = [str(e.platform) for e in real_entries(entries)]
    named += ["an index"] * has_index(entries)
    return ", ".join(named) or "none named"


def has_index(entries: list[Descriptor]) -> bool:
    """Whether an index lists an index (a multi-platform image inside it)."""
    return any(e.media_type in INDEX_TYPES for e in entries)


def refuse_foreign(layers: Iterable[Descriptor]) -> None:
    """Refuse layers whose bytes are not in the registry, for a use that needs every
    layer's bytes (a root file system, a docker-archive).

    Raises:
        LayerError: a layer is foreign and names its ``urls``.
    """
    for d in layers:
        if not distributable(d):
            raise LayerError(f"layer {d.digest} is foreign ({d.media_type}): its bytes are "
                             "not in the registry but at its urls")


def distinct_largest_first(items: Iterable[Descriptor]) -> list[Descriptor]:
    """Each digest once, largest blobs first (they dominate the wall time)."""
    unique: dict[str, Descriptor] = {}
    for d in items:
        unique.setdefault(d.digest, d)
    return sorted(unique.values(), key=lambda d: d.size, reverse=True)
