"""Digest grammar checks and hashing helpers."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .errors import DigestMismatchError, UnsupportedDigestError

# OCI image-spec descriptor.md "Digests": algorithm ":" encoded, where
#   algorithm ::= algorithm-component (algorithm-separator algorithm-component)*
#   algorithm-component ::= [a-z0-9]+ ; algorithm-separator ::= [+._-]
#   encoded ::= [a-zA-Z0-9=_-]+
# Registered algorithms have their encodings checked strictly (sha256: 64 and sha512:
# 128 lowercase hex). Any other algorithm (sha256+b64u, multihash+base58...) is a valid
# digest the client can read in a document but cannot verify content against.
# https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_KNOWN = {"sha256": 64, "sha512": 128}
_HEX_RE = re.compile(r"^[a-f0-9]+$")
_MAX_LENGTH = 256


def is_valid_digest(value: object) -> bool:
    """True when ``value`` follows the OCI digest grammar: ``sha256:<64 hex>``, ``sha256+b64u:…``.

    sha256 and sha512 digests must have their exact lowercase-hex encoding. A valid
    digest of another algorithm may be read, and safely put in a URL, but content
    cannot be verified against it: see :func:`is_verifiable_digest`.
    """
    if not isinstance(value, str) or len(value) > _MAX_LENGTH or not _DIGEST_RE.match(value):
        return False
    algo, _, encoded = value.partition(":")
    want = _KNOWN.get(algo)
    if want is None:
        return True
    return len(encoded) == want and bool(_HEX_RE.match(encoded))


def is_verifiable_digest(value: object) -> bool:
    """True for a valid digest whose algorithm the client can check content against."""
    return is_valid_digest(value) and str(value).partition(":")[0] in _KNOWN


def require_verifiable(digest: str, *, where: str | None = None) -> str:
    """Return ``digest`` when content can be verified against it, else raise.

    ``where`` (a layout, a manifest...) starts the message when given.

    Raises:
        UnsupportedDigestError: a valid digest of an algorithm the client cannot verify
            (fetching by it would be an unverified download).
    """
    if not is_verifiable_digest(digest):
        algo = str(digest).partition(":")[0]
        raise UnsupportedDigestError(
            (f"{where}: " if where else "")
            + f"unsupported digest algorithm {algo[:60]!r} ({str(digest)[:140]}): the client "
            f"verifies only {' and '.join(_KNOWN)} and fetches nothing unverified"
        )
    return digest


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


def verify_bytes(data: bytes, digest: str, *, what: str = "content") -> None:
    """Raise DigestMismatchError unless ``data`` hashes to ``digest``."""
    algo = digest.split(":", 1)[0]
    actual = compute_digest(data, algo)
    if actual != digest:
        raise DigestMismatchError(f"{what} digest mismatch: expected {digest}, got {actual}")
