"""The one decision of which manifest type a document is: Content-Type, mediaType, shape.

Registries, proxies and files on disk do not always say what a manifest is: some
answer with a generic ``Content-Type`` (``application/json``, ``text/plain``,
``application/octet-stream``, S3-style ``binary/octet-stream``, or none), OCI
manifests may omit ``mediaType``. :func:`manifest_media_type` decides, as regclient
does: a specific Content-Type, else the document's own ``mediaType``, else its
shape. Every reader of manifests (``get_raw``, ``head``, ``get``, the transfers and
the light parser) asks it, so a generic type never reaches a ``RawManifest``, a PUT
or an ``index.json``.
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
    "put_media_type",
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
    """The media type of a manifest: Content-Type, then ``mediaType``, then shape.

    1. ``content_type`` when it is specific (parameters ignored, lower-cased);
    2. else the document's ``mediaType`` when it is a specific type;
    3. else the shape: ``schemaVersion: 1`` is Docker schema1 (signed when it has
       ``signatures``), ``manifests`` an OCI index, ``config``/``layers`` an
       OCI image manifest (a Docker one says so in ``mediaType``).

    ``document`` is the manifest's bytes (parsed only when the Content-Type does not
    decide) or its parsed JSON object. The type returned may still be one the library
    does not read (schema1, an unknown type): the parser refuses those.

    Raises:
        RegistryResponseError: the body had to be read and is not a JSON object, or
            its ``mediaType`` is not a string.
        UnknownSchemaError: nothing tells what the document is.
    """
    declared = specific_type(content_type)
    if declared is not None:
        return declared
    doc = _load(document) if isinstance(document, bytes | bytearray) else document
    own = doc.get("mediaType")
    if own is not None and not isinstance(own, str):
        raise RegistryResponseError("malformed manifest: mediaType is not a string")
    if own is not None and specific_type(own) is not None:
        return own
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


def put_media_type(data: bytes, given: str | None) -> str:
    """The Content-Type to PUT manifest bytes with: the ``mediaType`` they declare.

    The distribution spec: a manifest with a ``mediaType`` field MUST be sent with
    that value as its Content-Type (Distribution refuses any other with
    MANIFEST_INVALID), so the bytes' own specific type wins over ``given`` -- a
    source registry's or a layout's other label must not fail a copy (skopeo sends
    the type it reads from the bytes too). Bytes without one (or not JSON) are sent
    as :func:`manifest_media_type` decides from ``given`` and their shape.
    """
    try:
        own = _load(data).get("mediaType")
    except RegistryResponseError:
        own = None
    if isinstance(own, str) and specific_type(own) is not None:
        return own
    return manifest_media_type(data, given)


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

    The media type is decided by :func:`manifest_media_type`: ``content_type``
    (parameters ignored; generic types such as ``application/json`` count as absent),
    else the document's ``mediaType``, else its shape (``manifests`` means an OCI
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
