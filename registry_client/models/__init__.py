"""Typed models of registry documents and the functions that read and write them.

* :class:`Descriptor`, :class:`Platform` -- pointers to content and what it runs on;
* :class:`ManifestV2`, :class:`ManifestList`, :class:`OCIManifest`,
  :class:`OCIIndex` (together :data:`Manifest`) and :class:`RawManifest`;
* :class:`ImageConfig` (with :class:`ContainerConfig`, :class:`RootFS`,
  :class:`History`), :class:`Image`, :class:`ImageDetails` and :class:`TagPage`.

Read a manifest with :func:`manifest_from_bytes`, write one with
:func:`manifest_to_bytes`; :func:`manifest_media_type` decides a manifest's media
type (the body settles a generic Content-Type), :data:`IMAGE_CONFIG_TYPES` are the
media types of an image config. ``converter`` is the cattrs converter behind them
(``converter.unstructure(model)`` gives the JSON-ready dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from registry_client._lazy import lazy_names

from ._mediatype import (
    IMAGE_CONFIG_TYPES,
    manifest_media_type,
    specific_type,
)

if TYPE_CHECKING:
    from cattrs import Converter

    from ._image import Image
    from ._raw import RawManifest
    from ._tag_page import TagPage
    from .descriptor import Descriptor, Platform
    from .image import (
        ContainerConfig,
        History,
        ImageConfig,
        ImageDetails,
        RootFS,
        parse_rfc3339,
    )
    from .manifest import (
        Manifest,
        ManifestList,
        ManifestV2,
        OCIIndex,
        OCIManifest,
        manifest_class_for,
    )
    from .validation import Problem, ValidationReport

    converter: Converter

# Each name loads its module on first use (PEP 562): listing tags needs TagPage and
# Descriptor, not the manifest and image models, and the cattrs converter is built
# only when a document is read or written.
_LAZY = {
    "Descriptor": ".descriptor", "Platform": ".descriptor",
    "ContainerConfig": ".image", "History": ".image", "Image": "._image",
    "ImageConfig": ".image", "ImageDetails": ".image", "RootFS": ".image",
    "parse_rfc3339": ".image", "TagPage": "._tag_page",
    "Manifest": ".manifest", "ManifestList": ".manifest", "ManifestV2": ".manifest",
    "OCIIndex": ".manifest", "OCIManifest": ".manifest", "RawManifest": "._raw",
    "manifest_class_for": ".manifest",
    "Problem": ".validation", "ValidationReport": ".validation",
    "converter": "._converter",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())


def manifest_from_bytes(data: bytes, content_type: str | None = None) -> Manifest:
    """Parse manifest bytes into the model chosen by mediaType, then Content-Type, then shape.

    Raises:
        SchemaV1NotSupportedError: a Docker schema1 manifest.
        UnknownSchemaError: an unknown manifest media type.
        RegistryResponseError: malformed JSON or a document of the wrong shape.
    """
    from ._converter import manifest_from_bytes as parse  # cattrs loads on first use

    return parse(data, content_type)


def manifest_to_bytes(manifest: Manifest) -> bytes:
    """Serialise a manifest model to compact JSON bytes."""
    from ._converter import manifest_to_bytes as dump  # cattrs loads on first use

    return dump(manifest)


def media_type_of(manifest: Manifest) -> str:
    """The media type of a manifest model (its ``media_type``, else its class's)."""
    return manifest.media_type or type(manifest).MEDIA_TYPE


def config_from_bytes(data: bytes) -> ImageConfig:
    """Parse an image config blob.

    Raises:
        RegistryResponseError: malformed JSON or a document of the wrong shape.
    """
    from ._converter import config_from_bytes as parse  # cattrs loads on first use

    return parse(data)


def descriptor_from_dict(data: Mapping[str, Any]) -> Descriptor:
    """Validate and build a Descriptor from its JSON object.

    Raises:
        RegistryResponseError: the object is not a valid descriptor.
    """
    from ._converter import descriptor_from_dict as parse  # cattrs loads on first use

    return parse(data)


def tag_page_from_bytes(data: bytes, last: str | None = None) -> TagPage:
    """Parse a ``tags/list`` body into a TagPage.

    Raises:
        RegistryResponseError: the body is not a tag list.
    """
    from ._converter import tag_page_from_bytes as parse  # cattrs loads on first use

    return parse(data, last)


__all__ = [
    "IMAGE_CONFIG_TYPES",
    "ContainerConfig",
    "Descriptor",
    "History",
    "Image",
    "ImageConfig",
    "ImageDetails",
    "Manifest",
    "ManifestList",
    "ManifestV2",
    "OCIIndex",
    "OCIManifest",
    "Platform",
    "Problem",
    "RawManifest",
    "RootFS",
    "TagPage",
    "ValidationReport",
    "config_from_bytes",
    "converter",
    "descriptor_from_dict",
    "manifest_class_for",
    "manifest_from_bytes",
    "manifest_media_type",
    "manifest_to_bytes",
    "media_type_of",
    "parse_rfc3339",
    "specific_type",
    "tag_page_from_bytes",
]
