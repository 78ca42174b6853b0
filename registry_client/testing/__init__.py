"""Test helpers: a real Distribution registry process, a token server, image seeding.

Example::

    from registry_client.testing import LocalRegistry, seed_image

    with LocalRegistry(auth="token", users={"alice": "secret"}) as reg:
        image = seed_image(reg, "library/alpine", "3.19", platforms=["linux/amd64"])
        # Registry(reg.host, protocol="http", ...) now sees library/alpine:3.19
        assert reg.request_count("GET", "/manifests/") == 0

The ``docker-registry`` binary (CNCF Distribution 2.8, ``apt-get install docker-registry``)
must be installed.  This module is also a pytest plugin (entry point ``registry_client``)
providing the fixtures ``local_registry``, ``local_registry_factory`` and
``unique_repository``; see :mod:`registry_client.testing.plugin`.
``cryptography`` (token mode) and ``bcrypt`` (basic mode) are imported only when needed.
"""

from __future__ import annotations

from ._accesslog import AccessLogEntry, parse_access_log_line
from ._binary import find_registry_binary
from ._fault_proxy import FaultProxy
from ._grants import Grants, Scope
from ._image import SeededImage, sha256_digest
from ._process import AUTH_MODES, AuthMode, LocalRegistry
from ._seed import SeedError, seed_blob, seed_image, seed_many_repositories, seed_tags
from ._tls import self_signed_certificate
from ._token_server import TokenRequest, TokenServer

try:  # the fixtures need pytest; everything else works without it
    from .plugin import (
        LocalRegistryFactory,
        local_registry,
        local_registry_factory,
        unique_repository,
    )
except ModuleNotFoundError as exc:  # pragma: no cover - pytest is absent
    if exc.name != "pytest":
        raise

__all__ = [
    "AUTH_MODES",
    "AccessLogEntry",
    "AuthMode",
    "FaultProxy",
    "Grants",
    "LocalRegistry",
    "LocalRegistryFactory",
    "Scope",
    "SeedError",
    "SeededImage",
    "TokenRequest",
    "TokenServer",
    "find_registry_binary",
    "local_registry",
    "local_registry_factory",
    "parse_access_log_line",
    "seed_blob",
    "seed_image",
    "seed_many_repositories",
    "seed_tags",
    "self_signed_certificate",
    "sha256_digest",
    "unique_repository",
]
