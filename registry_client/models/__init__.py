"""Typed models of registry documents and the functions that read and write them.

* :class:`Descriptor`, :class:`Platform` -- pointers to content and what it runs on;
* :class:`ManifestV2`, :class:`ManifestList`, :class:`OCIManifest`,
  :class:`OCIIndex` (together :data:`Manifest`) and :class:`RawManifest`;
* :class:`ImageConfig` (with :class:`ContainerConfig`, :class:`RootFS`,
  :class:`History`), :class:`Image` and :class:`TagPage`.

Read a manifest with :func:`manifest_from_bytes`, write one with
:func:`manifest_to_bytes`; ``converter`` is the cattrs converter behind them
(``converter.unstructure(model)`` gives the JSON-ready dict).
"""

from __future__ import annotations

from ._converter import (
    config_from_bytes,
    converter,
    descriptor_from_dict,
    manifest_from_bytes,
    manifest_to_bytes,
    media_type_of,
    tag_page_from_bytes,
)
from .descriptor import Descriptor, Platform
from .image import ContainerConfig, History, Image, ImageConfig, RootFS, TagPage, parse_rfc3339
from .manifest import (
    Manifest,
    ManifestList,
    ManifestV2,
    OCIIndex,
    OCIManifest,
    RawManifest,
    manifest_class_for,
)

__all__ = [
    "ContainerConfig",
    "Descriptor",
    "History",
    "Image",
    "ImageConfig",
    "Manifest",
    "ManifestList",
    "ManifestV2",
    "OCIIndex",
    "OCIManifest",
    "Platform",
    "RawManifest",
    "RootFS",
    "TagPage",
    "config_from_bytes",
    "converter",
    "descriptor_from_dict",
    "manifest_class_for",
    "manifest_from_bytes",
    "manifest_to_bytes",
    "media_type_of",
    "parse_rfc3339",
    "tag_page_from_bytes",
]
