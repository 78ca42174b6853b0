"""The four services of a repository."""

from .blobs import BlobService
from .images import ImageService
from .manifests import ManifestService
from .tags import TagService

__all__ = ["BlobService", "ImageService", "ManifestService", "TagService"]
