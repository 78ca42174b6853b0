"""Digest grammar checks and hashing helpers."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .errors import DigestMismatchError, RegistryResponseError

# OCI image-spec descriptor.md: algorithm ":" encoded, with the registered
# algorithms' encodings checked strictly.
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_KNOWN = {"sha256": 64, "sha512": 128}
_HEX_RE = re.compile(r"^[a-f0-9]+$")


def is_valid_digest(value: object) -> bool:
    """True when ``value`` is a well-formed digest string such as ``sha256:<64 hex>``."""
    if not isinstance(value, str) or len(value) > 256 or not _DIGEST_RE.match(value):
        return False
    algo, _, encoded = value.partition(":")
    want = _KNOWN.get(algo)
    if want is None:
        return False
    return len(encoded) == want and bool(_HEX_RE.match(encoded))


def validate_digest(value: object, *, what: str = "digest") -> str:
    """Return ``value`` when it is a valid sha256/sha512 digest, else raise.

    Raises:
        RegistryResponseError: the value is not a usable digest.
    """
    if not is_valid_digest(value):
        raise RegistryResponseError(f"invalid {what}: {str(value)[:100]!r}")
    assert isinstance(value, str)
    return value


def check_digest_arg(value: str) -> str:
    """Validate a digest the caller passed in; raise ValueError when malformed."""
    if not is_valid_digest(value):
        raise ValueError(f"not a valid digest (want sha256:<64 hex>): {value[:100]!r}")
    return value


def new_hasher(digest: str) -> Any:
    """A hashlib object for the algorithm of ``digest``."""
    return hashlib.new(digest.split(":", 1)[0])


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    """The ``algo:hex`` digest of ``data``."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def verify_bytes(data: bytes, digest: str, *, what: str = "content") -> None:
    """Raise DigestMismatchError unless ``data`` hashes to ``digest``."""
    algo = digest.split(":", 1)[0]
    actual = compute_digest(data, algo)
    if actual != digest:
        raise DigestMismatchError(f"{what} digest mismatch: expected {digest}, got {actual}")
