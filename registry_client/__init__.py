"""registry_client: a typed, fast and safe client for Docker Registry v2 / OCI registries.

Start with :class:`Registry`::

    from registry_client import Registry
    reg = Registry("localhost:5000", protocol="http")
    repo = reg.repository("library/alpine")
    print(repo.tags.get_all())
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_names
from .errors import (
    ArchiveError,
    ArtifactNameError,
    AuthenticationError,
    AuthorizationError,
    BaseMismatchError,
    CredentialStoreError,
    DigestMismatchError,
    InsufficientScopeError,
    InvalidReferenceError,
    JournalError,
    LayerError,
    LayoutError,
    LayoutNotFoundError,
    NotAnImageError,
    NotFoundError,
    PlatformNotFoundError,
    RegistryError,
    RegistryResponseError,
    RegistrySSLError,
    RegistryUnavailableError,
    SchemaV1NotSupportedError,
    TokenError,
    UnknownSchemaError,
    UnsupportedDigestError,
)

__version__ = "0.1.0"

# Names are loaded on first use (PEP 562), so ``import registry_client`` stays cheap for
# programs that only need part of it (the CLI's --help, parse_image_name...). Using a
# name loads its module and what that needs (requests for Registry), exactly once.
_LAZY = {
    "Authenticator": ".auth", "BasicAuthenticator": ".auth", "NullAuthenticator": ".auth",
    "TokenAuthenticator": ".auth",
    "Descriptor": ".models", "Image": ".models", "ImageConfig": ".models",
    "ImageDetails": ".models",
    "Manifest": ".models", "ManifestList": ".models", "ManifestV2": ".models",
    "OCIIndex": ".models", "OCIManifest": ".models", "Platform": ".models",
    "RawManifest": ".models", "TagPage": ".models",
    "Problem": ".models", "ValidationReport": ".models",
    "validate_layout": ".services._validate",
    "BlobAdvanced": ".progress", "BlobFinished": ".progress", "BlobMounted": ".progress",
    "BlobSkipped": ".progress", "BlobStarted": ".progress", "ProgressEvent": ".progress",
    "ImageReference": ".reference", "parse_image_name": ".reference",
    "Registry": ".registry", "Repository": ".repository", "Requester": ".requester",
    "BlobService": ".services", "ImageService": ".services", "ManifestService": ".services",
    "TagService": ".services",
    "BlobPlan": ".services._plan", "CopyPlan": ".services._plan",
    "SyncTask": ".sync", "TaskResult": ".sync",
    # needs the [async] extra (httpx): loaded when asked for, and left out of __all__,
    # so that `from registry_client import *` works without it
    "AsyncRegistry": ".aio",
}

if TYPE_CHECKING:
    from .aio import AsyncRegistry as AsyncRegistry  # (typing only: not in __all__)
    from .auth import Authenticator, BasicAuthenticator, NullAuthenticator, TokenAuthenticator
    from .models import (
        Descriptor,
        Image,
        ImageConfig,
        ImageDetails,
        Manifest,
        ManifestList,
        ManifestV2,
        OCIIndex,
        OCIManifest,
        Platform,
        Problem,
        RawManifest,
        TagPage,
        ValidationReport,
    )
    from .progress import (
        BlobAdvanced,
        BlobFinished,
        BlobMounted,
        BlobSkipped,
        BlobStarted,
        ProgressEvent,
    )
    from .reference import ImageReference, parse_image_name
    from .registry import Registry
    from .repository import Repository
    from .requester import Requester
    from .services import BlobService, ImageService, ManifestService, TagService
    from .services._plan import BlobPlan, CopyPlan
    from .services._validate import validate_layout
    from .sync import SyncTask, TaskResult


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())


__all__ = [
    "ArchiveError",
    "ArtifactNameError",
    "AuthenticationError",
    "Authenticator",
    "AuthorizationError",
    "BaseMismatchError",
    "BasicAuthenticator",
    "BlobAdvanced",
    "BlobFinished",
    "BlobMounted",
    "BlobPlan",
    "BlobService",
    "BlobSkipped",
    "BlobStarted",
    "CopyPlan",
    "CredentialStoreError",
    "Descriptor",
    "DigestMismatchError",
    "Image",
    "ImageConfig",
    "ImageDetails",
    "ImageReference",
    "ImageService",
    "InsufficientScopeError",
    "InvalidReferenceError",
    "JournalError",
    "LayerError",
    "LayoutError",
    "LayoutNotFoundError",
    "Manifest",
    "ManifestList",
    "ManifestService",
    "ManifestV2",
    "NotAnImageError",
    "NotFoundError",
    "NullAuthenticator",
    "OCIIndex",
    "OCIManifest",
    "Platform",
    "PlatformNotFoundError",
    "Problem",
    "ProgressEvent",
    "RawManifest",
    "Registry",
    "RegistryError",
    "RegistryResponseError",
    "RegistrySSLError",
    "RegistryUnavailableError",
    "Repository",
    "Requester",
    "SchemaV1NotSupportedError",
    "SyncTask",
    "TagPage",
    "TagService",
    "TaskResult",
    "TokenAuthenticator",
    "TokenError",
    "UnknownSchemaError",
    "UnsupportedDigestError",
    "ValidationReport",
    "__version__",
    "parse_image_name",
    "validate_layout",
]
