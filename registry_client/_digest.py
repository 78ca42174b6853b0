"""Hashing helpers: hash content by a digest's algorithm, compute a digest.

The digest grammar itself (``is_valid_digest``, ``is_verifiable_digest``,
``require_verifiable``) belongs to :mod:`registry_client.reference`: import it from there.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .reference import require_verifiable

__all__ = ["compute_digest", "new_hasher"]


def new_hasher(digest: str) -> Any:
    """A hashlib object for the algorithm of ``digest``.

    Raises:
        UnsupportedDigestError: not an algorithm the client can verify.
    """
    require_verifiable(digest)
    return hashlib.new(digest.split(":", 1)[0])


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    """The ``algo:hex`` digest of ``data``."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
