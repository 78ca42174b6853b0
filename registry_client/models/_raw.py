"""A manifest exactly as the registry sent it.

Defined apart from the manifest models (``manifest``): moving an image reads its
manifests as :class:`RawManifest` and their descriptors (``services._light``), and
never builds the four model classes (~0.7 ms each in a fresh process).
"""

from __future__ import annotations

import attrs

from ..errors import RegistryResponseError, UnknownSchemaError
from ._mediatype import manifest_media_type, specific_type
from .descriptor import Descriptor

__all__ = ["RawManifest"]


@attrs.frozen
class RawManifest:
    """A manifest exactly as the registry sent it: bytes, Content-Type and digest.

    Keep these bytes when you need the digest to stay the same (re-pushing,
    signing): serialising a parsed manifest again may order or space keys
    differently.

    A generic ``media_type`` (``application/json``, ``binary/octet-stream``, empty...)
    is replaced by the type the bytes declare (their ``mediaType``, else their
    shape), so it never travels on to a PUT or an ``index.json``; bytes that say
    nothing keep what was given.
    """

    data: bytes
    media_type: str
    digest: str

    def __attrs_post_init__(self) -> None:
        if specific_type(self.media_type) is not None:
            return
        try:
            real = manifest_media_type(self.data, self.media_type)
        except (RegistryResponseError, UnknownSchemaError, TypeError, AttributeError):
            return
        object.__setattr__(self, "media_type", real)

    @property
    def size(self) -> int:
        """The length of the manifest in bytes."""
        return len(self.data)

    def descriptor(self) -> Descriptor:
        """A descriptor pointing at this manifest (for an index entry or a subject)."""
        return Descriptor(media_type=self.media_type, digest=self.digest, size=len(self.data))
