"""Manifests: Docker schema2 image manifests and manifest lists, OCI manifests and indexes.

Every class keeps the JSON keys it does not know in ``extra`` and writes them
back, so a manifest read from a registry and written again gives the same JSON.
Field names are snake_case (``schema_version``, ``media_type``,
``artifact_type``); the JSON keys are the usual camelCase ones.  Each class has
a ``MEDIA_TYPE`` class attribute: the Content-Type to send when pushing it.

Parse and serialise with :func:`registry_client.models.manifest_from_bytes` and
:func:`registry_client.models.manifest_to_bytes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeAlias

import attrs

from ..mediatypes import (
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST_V2,
    OCI_INDEX,
    OCI_MANIFEST,
)
from ._mediatype import MAX_INDEX_ENTRIES, manifest_type_for
from ._raw import RawManifest
from .descriptor import Descriptor, Platform, matching_entries

__all__ = [
    "MAX_INDEX_ENTRIES",
    "Manifest",
    "ManifestList",
    "ManifestV2",
    "OCIIndex",
    "OCIManifest",
    "RawManifest",
    "manifest_class_for",
]


class _ImageManifestMixin:
    """Helpers shared by the two single-image manifest kinds."""

    __slots__ = ()
    config: Descriptor
    layers: list[Descriptor]

    def blobs(self) -> list[Descriptor]:
        """The config descriptor followed by the layer descriptors."""
        return [self.config, *self.layers]

    @property
    def total_size(self) -> int:
        """Bytes to download for this image: config size plus every layer's size."""
        return self.config.size + sum(layer.size for layer in self.layers)


class _IndexMixin:
    """Helpers shared by manifest lists and OCI indexes."""

    __slots__ = ()
    manifests: list[Descriptor]

    def platforms(self) -> list[Platform]:
        """The platforms of the entries, each with its manifest's digest, media type and size.

        Entries without a platform and BuildKit attestation entries (platform
        ``unknown/unknown``) are left out.
        """
        found: list[Platform] = []
        for entry in self.manifests:
            p = entry.platform
            if p is None or (p.os == "unknown" and p.architecture == "unknown"):
                continue
            found.append(
                attrs.evolve(p, digest=entry.digest, media_type=entry.media_type, size=entry.size)
            )
        return found

    def find_platform(self, wanted: Platform | str) -> Descriptor | None:
        """The entry for ``wanted``: the first that is exactly that platform, else the
        first whose platform matches it (see :meth:`Platform.matches`; ``linux/amd64``
        is the plain amd64 entry even when an ``amd64/v3`` one comes first).

        ``wanted`` may be a Platform or a string such as ``"linux/arm64"``.
        Returns None when no entry matches.
        """
        want = Platform.parse(wanted) if isinstance(wanted, str) else wanted
        return next(iter(matching_entries(self.manifests, want)), None)


@attrs.define(kw_only=True)
class ManifestV2(_ImageManifestMixin):
    """A Docker image manifest, schema version 2 (one image: a config and its layers)."""

    MEDIA_TYPE: ClassVar[str] = DOCKER_MANIFEST_V2

    schema_version: int = 2
    media_type: str = DOCKER_MANIFEST_V2
    config: Descriptor
    layers: list[Descriptor]
    annotations: dict[str, str] | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)


@attrs.define(kw_only=True)
class ManifestList(_IndexMixin):
    """A Docker manifest list: one manifest per platform of a multi-platform image."""

    MEDIA_TYPE: ClassVar[str] = DOCKER_MANIFEST_LIST

    schema_version: int = 2
    media_type: str = DOCKER_MANIFEST_LIST
    manifests: list[Descriptor]
    extra: dict[str, Any] = attrs.field(factory=dict)


@attrs.define(kw_only=True)
class OCIManifest(_ImageManifestMixin):
    """An OCI image manifest: an image, or an artifact when ``artifact_type`` is set.

    ``media_type`` may be None because the OCI spec lets the JSON omit
    ``mediaType``; a manifest read without one keeps it absent when written.
    ``subject`` points at the manifest this one refers to (signatures, SBOMs).
    """

    MEDIA_TYPE: ClassVar[str] = OCI_MANIFEST

    schema_version: int = 2
    media_type: str | None = OCI_MANIFEST
    artifact_type: str | None = None
    config: Descriptor
    layers: list[Descriptor]
    subject: Descriptor | None = None
    annotations: dict[str, str] | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)


@attrs.define(kw_only=True)
class OCIIndex(_IndexMixin):
    """An OCI image index: a list of manifests, usually one per platform.

    Also the shape of a referrers-API answer.  ``media_type`` may be None
    because the OCI spec lets the JSON omit ``mediaType``.
    """

    MEDIA_TYPE: ClassVar[str] = OCI_INDEX

    schema_version: int = 2
    media_type: str | None = OCI_INDEX
    artifact_type: str | None = None
    manifests: list[Descriptor]
    subject: Descriptor | None = None
    annotations: dict[str, str] | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)


Manifest: TypeAlias = ManifestV2 | ManifestList | OCIManifest | OCIIndex
"""Any manifest the library understands."""


_CLASSES: dict[str, type[Manifest]] = {
    DOCKER_MANIFEST_V2: ManifestV2,
    DOCKER_MANIFEST_LIST: ManifestList,
    OCI_MANIFEST: OCIManifest,
    OCI_INDEX: OCIIndex,
}


def manifest_class_for(
    document: Mapping[str, Any], content_type: str | None = None
) -> type[Manifest]:
    """Which manifest class a parsed JSON document should be read as: the class of
    :func:`~registry_client.models._mediatype.manifest_type_for` (``content_type``, else
    the document's ``mediaType``, else its shape: ``manifests`` means an OCIIndex,
    ``config``/``layers`` an OCIManifest).

    Raises:
        SchemaV1NotSupportedError: a Docker schema1 manifest (by type or ``schemaVersion: 1``).
        UnknownSchemaError: an unknown media type or schemaVersion, or an unknown shape.
        RegistryResponseError: ``mediaType`` is not a string.
    """
    return _CLASSES[manifest_type_for(document, content_type)]
