"""registry_client: a typed, fast and safe client for Docker Registry v2 / OCI registries.

Start with :class:`Registry`::

    from registry_client import Registry
    reg = Registry("localhost:5000", protocol="http")
    repo = reg.repository("library/alpine")
    print(repo.tags.get_all())
"""

import logging as _logging

from .auth import Authenticator, BasicAuthenticator, NullAuthenticator, TokenAuthenticator
from .errors import (
    AuthenticationError,
    AuthorizationError,
    DigestMismatchError,
    InvalidReferenceError,
    NotFoundError,
    RegistryError,
    RegistryResponseError,
    RegistrySSLError,
    RegistryUnavailableError,
    SchemaV1NotSupportedError,
    TokenError,
    UnknownSchemaError,
)
from .models import (
    Descriptor,
    Image,
    ImageConfig,
    Manifest,
    ManifestList,
    ManifestV2,
    OCIIndex,
    OCIManifest,
    Platform,
    RawManifest,
    TagPage,
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

__version__ = "0.1.0"

# A library never prints: without the application's own logging set up, records go nowhere.
_logging.getLogger("registry_client").addHandler(_logging.NullHandler())

__all__ = [
    "AuthenticationError",
    "Authenticator",
    "AuthorizationError",
    "BasicAuthenticator",
    "BlobAdvanced",
    "BlobFinished",
    "BlobMounted",
    "BlobPlan",
    "BlobService",
    "BlobSkipped",
    "BlobStarted",
    "CopyPlan",
    "Descriptor",
    "DigestMismatchError",
    "Image",
    "ImageConfig",
    "ImageReference",
    "ImageService",
    "InvalidReferenceError",
    "Manifest",
    "ManifestList",
    "ManifestService",
    "ManifestV2",
    "NotFoundError",
    "NullAuthenticator",
    "OCIIndex",
    "OCIManifest",
    "Platform",
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
    "TagPage",
    "TagService",
    "TokenAuthenticator",
    "TokenError",
    "UnknownSchemaError",
    "__version__",
    "parse_image_name",
]
