"""Test helpers: a real Distribution registry process, a token server, image seeding.

Example::

    from registry_client.testing import LocalRegistry, seed_image

    with LocalRegistry(auth="token", users={"alice": "secret"}) as reg:
        image = seed_image(reg, "library/alpine", "3.19", platforms=["linux/amd64"])
        # Registry(reg.host, protocol="http", ...) now sees library/alpine:3.19
        assert reg.request_count("GET", "/manifests/") == 0

The ``docker-registry`` binary (CNCF Distribution 2.8, ``apt-get install docker-registry``)
must be installed.  The pytest plugin (entry point ``registry_client``, module
:mod:`registry_client.testing.plugin`) provides the fixtures ``local_registry``,
``local_registry_factory`` and ``unique_repository``; they are importable from here too.
Every name here is imported on first use, ``cryptography`` (token mode) and ``bcrypt``
(basic mode) only when needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_client._lazy import lazy_names

# Names are loaded on first use (PEP 562): pytest imports this package on every run of
# every project that has registry_client installed (the plugin lives in it), and that
# must not cost requests, the library or cryptography. Using a name loads its module.
_LAZY = {
    "AccessLogEntry": "._accesslog", "parse_access_log_line": "._accesslog",
    "find_registry_binary": "._binary",
    "FaultProxy": "._fault_proxy",
    "Grants": "._grants", "Scope": "._grants",
    "SeededImage": "._image", "sha256_digest": "._image",
    "AUTH_MODES": "._process", "AuthMode": "._process", "LocalRegistry": "._process",
    "SeedError": "._seed", "seed_blob": "._seed", "seed_image": "._seed",
    "seed_many_repositories": "._seed", "seed_tags": "._seed",
    "self_signed_certificate": "._tls",
    "tcp_server": "._util",
    "TokenRequest": "._token_server", "TokenServer": "._token_server",
    # the fixtures need pytest; everything else works without it
    "LocalRegistryFactory": ".plugin", "local_registry": ".plugin",
    "local_registry_factory": ".plugin", "unique_repository": ".plugin",
}

if TYPE_CHECKING:
    from ._accesslog import AccessLogEntry, parse_access_log_line
    from ._binary import find_registry_binary
    from ._fault_proxy import FaultProxy
    from ._grants import Grants, Scope
    from ._image import SeededImage, sha256_digest
    from ._process import AUTH_MODES, AuthMode, LocalRegistry
    from ._seed import SeedError, seed_blob, seed_image, seed_many_repositories, seed_tags
    from ._tls import self_signed_certificate
    from ._token_server import TokenRequest, TokenServer
    from ._util import tcp_server
    from .plugin import (
        LocalRegistryFactory,
        local_registry,
        local_registry_factory,
        unique_repository,
    )


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())


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
    "tcp_server",
    "unique_repository",
]
