"""The four services of a repository (and the flows of ``Repository.delete``).

Each name loads its module on first use (PEP 562), so that building a ``Registry``
or listing tags does not import the image, blob and model machinery a program may
never use. ``from registry_client.services import ImageService`` works as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_client._lazy import lazy_names

if TYPE_CHECKING:
    from ._repository import RepositoryFlows
    from .blobs import BlobService
    from .images import ImageService
    from .manifests import ManifestService
    from .tags import TagService

__all__ = ["BlobService", "ImageService", "ManifestService", "RepositoryFlows", "TagService"]

_LAZY = {
    "BlobService": ".blobs", "ImageService": ".images", "ManifestService": ".manifests",
    "TagService": ".tags", "RepositoryFlows": "._repository",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
