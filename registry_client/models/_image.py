"""What the library reports about an image reference.

Defined apart from the image config models (``image``): a pull, push or copy returns
an :class:`Image` without building the config's attrs classes (~1 ms of a fresh
process each).
"""

from __future__ import annotations

import attrs

from .descriptor import Platform

__all__ = ["Image"]


@attrs.frozen
class Image:
    """What the library reports about an image reference.

    ``digest``, ``media_type`` and ``size`` describe the manifest the reference
    resolves to (an index for multi-platform images); ``platforms`` lists the
    platforms it offers, each with its own manifest's digest, media type and size.

    ``size`` is the byte size of that manifest document itself -- not of the
    image's layers. For the bytes an image takes (config + layers, per
    platform) use :meth:`ImageService.details`.
    """

    digest: str
    domain: str
    repository: str
    tag: str | None
    platforms: list[Platform] = attrs.field(hash=False)
    media_type: str
    size: int

    @property
    def name(self) -> str:
        """``domain/repository``."""
        return f"{self.domain}/{self.repository}"

    @property
    def reference(self) -> str:
        """The full pinned reference: ``domain/repository[:tag]@digest``."""
        tag = f":{self.tag}" if self.tag else ""
        return f"{self.domain}/{self.repository}{tag}@{self.digest}"
