"""The one decision of which manifest type a document is: mediaType, Content-Type, shape.

Registries, proxies and files on disk do not always say what a manifest is: some
answer with a generic ``Content-Type`` (``application/json``, ``text/plain``,
``application/octet-stream``, S3-style ``binary/octet-stream``, or none), some with
another type than the bytes', and OCI manifests may omit ``mediaType``.
:func:`manifest_media_type` decides: the document's own specific ``mediaType`` (the
bytes are what the digest covers; a put MUST send it as Content-Type), else a
specific Content-Type, else its shape. Every reader and writer of manifests
(``get_raw``, ``get``, ``put``, the transfers and the light parser) asks it, so a
generic type -- or a label the bytes contradict -- never reaches a ``RawManifest``,
a PUT or an ``index.json``. (``head`` has no body: it takes the Content-Type.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._json import loads
from ..errors import RegistryResponseError, SchemaV1NotSupportedError, UnknownSchemaError
from ..mediatypes import (
    DOCKER_CONFIG,
    DOCKER_MANIFEST_V1,
    DOCKER_MANIFEST_V1_SIGNED,
    MANIFEST_TYPES,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    SCHEMA1_TYPES,
)

__all__ = [
    "GENERIC_CONTENT_TYPES",
    "IMAGE_CONFIG_TYPES",
    "MAX_INDEX_ENTRIES",
    "bare_type",
    "manifest_media_type",
    "manifest_type_for",
    "specific_type",
]

MAX_INDEX_ENTRIES = 1000
"""The most entries an image index / manifest list may have (more is refused as hostile)."""

GENERIC_CONTENT_TYPES = frozenset(
    {"", "application/json", "text/plain", "application/octet-stream", "binary/octet-stream"}
)
"""Content-Types that say nothing about which manifest a body is (compared bare)."""

IMAGE_CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
"""Config media types of container images, read as an ImageConfig (platform, history...).

A manifest with any other config (``application/vnd.oci.empty.v1+json``, a Helm
chart's...) is an artifact: it has no image config to read.
"""


def bare_type(value: str | None) -> str:
    """A media type without parameters (``; charset=utf-8``), lower-cased."""
    return (value or "").split(";", 1)[0].strip().lower()


def specific_type(value: str | None) -> str | None:
    """The bare media type of ``value``; None when it is absent or generic."""
    base = bare_type(value)
    return None if base in GENERIC_CONTENT_TYPES else base


def manifest_media_type(
    document: bytes | Mapping[str, Any], content_type: str | None = None
) -> str:
    """The media type of a manifest: its ``mediaType``, then Content-Type, then shape.

    1. the document's ``mediaType`` when it is a specific type (as written): the
       distribution spec has a put send it as Content-Type, and a registry that labels
       the bytes otherwise (a Docker v2 manifest served as OCI) does not change what
       they are (skopeo reads and sends the bytes' type too);
    2. else ``content_type`` when it is specific (parameters ignored, lower-cased);
    3. else the shape: ``schemaVersion: 1`` is Docker schema1 (signed when it has
       ``signatures``), ``manifests`` an OCI index, ``config``/``layers`` an
       OCI image manifest (a Docker one says so in ``mediaType``).

    ``document`` is the manifest's bytes or its parsed JSON object; bytes that are no
    JSON object are of a specific ``content_type`` when there is one (the parser
    refuses them later). The type returned may still be one the library does not read
    (schema1, an unknown type): the parser refuses those.

    Raises:
        RegistryResponseError: no specific Content-Type, and the body is not a JSON
            object or its ``mediaType`` is not a string.
        UnknownSchemaError: nothing tells what the document is.
    """
    declared = specific_type(content_type)
    try:
        doc = _load(document) if isinstance(document, bytes | bytearray) else document
    except RegistryResponseError:
        if declared is not None:
            return declared
        raise
    own = doc.get("mediaType")
    if isinstance(own, str) and specific_type(own) is not None:
        return own
    if declared is not None:
        return declared
    if own is not None and not isinstance(own, str):
        raise RegistryResponseError("malformed manifest: mediaType is not a string")
    version = doc.get("schemaVersion")
    if type(version) is int and version == 1:
        return DOCKER_MANIFEST_V1_SIGNED if "signatures" in doc else DOCKER_MANIFEST_V1
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc or "layers" in doc:
        return OCI_MANIFEST
    raise UnknownSchemaError(
        "cannot tell the manifest type: no media type, and neither 'manifests' "
        "nor 'config'/'layers' keys"
    )


def _load(data: bytes | bytearray) -> Mapping[str, Any]:
    try:
        doc = loads(data)
    except ValueError:
        raise RegistryResponseError("manifest is not valid JSON") from None
    if not isinstance(doc, dict):
        raise RegistryResponseError("manifest is not a JSON object")
    return doc


def manifest_type_for(document: Mapping[str, Any], content_type: str | None = None) -> str:
    """Which manifest type (one of ``mediatypes.MANIFEST_TYPES``) a parsed JSON document is.

    The media type is decided by :func:`manifest_media_type`: the document's specific
    ``mediaType``, else ``content_type`` (parameters ignored; generic types such as
    ``application/json`` count as absent), else its shape (``manifests`` means an OCI
    index, ``config``/``layers`` an OCI manifest).

    Raises:
        SchemaV1NotSupportedError: a Docker schema1 manifest (by type or ``schemaVersion: 1``).
        UnknownSchemaError: an unknown media type or schemaVersion, or an unknown shape.
        RegistryResponseError: ``mediaType`` is not a string.
    """
    version = document.get("schemaVersion")
    own = document.get("mediaType")
    # schema1 by the document itself first: deciding the media type of one can raise
    if ((type(version) is int and version == 1)
            or (isinstance(own, str) and bare_type(own) in SCHEMA1_TYPES)
            or (media := manifest_media_type(document, content_type)) in SCHEMA1_TYPES):
        raise SchemaV1NotSupportedError(
            "the registry sent a Docker schema1 manifest, which is not supported"
        )
    if type(version) is int and version != 2:
        raise UnknownSchemaError(f"unsupported manifest schemaVersion {version}")
    bare = bare_type(media)
    if bare not in MANIFEST_TYPES:
        raise UnknownSchemaError(f"unsupported manifest media type {media[:100]!r}")
    return bare
