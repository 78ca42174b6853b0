"""The four services of a repository (and the flows of ``Repository.delete``).

Each name loads its module on first use (PEP 562), so that building a ``Registry``
or listing tags does not import the image, blob and model machinery a program may
never use. ``from registry_client.services import ImageService`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
