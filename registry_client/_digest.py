"""Hashing helpers: hash content by a digest's algorithm, compute a digest.

The digest grammar itself (``is_valid_digest``, ``is_verifiable_digest``,
``require_verifiable``) belongs to :mod:`registry_client.reference`: import it from there.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .reference import require_verifiable

__all__ = ["REGISTRY_ALGORITHM", "compute_digest", "new_hasher", "registry_keyed"]

REGISTRY_ALGORITHM = "sha256"
"""The algorithm registries key content by: the digest they compute and answer with."""


def registry_keyed(digest: str) -> bool:
    """True when ``digest`` is of the algorithm registries key content by (sha256).

    Such a digest names content as the registry does: it is the registry's own
    ``Docker-Content-Digest``, and a blob linked under it is there. A digest of another
    algorithm (``sha512:…``) is only the client's name: the registry answers with the
    sha256 of the same bytes, and may accept it without linking anything.
    """
    return digest.startswith(f"{REGISTRY_ALGORITHM}:")


def new_hasher(digest: str) -> Any:
    """A hashlib object for the algorithm of ``digest``.

    Raises:
        UnsupportedDigestError: not an algorithm the client can verify.
    """
    require_verifiable(digest)
    return hashlib.new(digest.split(":", 1)[0])


def compute_digest(data: bytes, algorithm: str = REGISTRY_ALGORITHM) -> str:
    """The ``algo:hex`` digest of ``data``."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
