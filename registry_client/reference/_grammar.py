"""The grammar of names, tags and digests: one owner for every rule and its wording.

Regular expressions named and composed as in distribution/reference ``regexp.go``
and the OCI image-spec's digest grammar; every other module asks these predicates,
never a regular expression of its own.
"""

from __future__ import annotations

import json
import re

from ..errors import UnsupportedDigestError

DEFAULT_DOMAIN = "docker.io"
"""The domain of Docker Hub that names without a registry domain belong to."""

LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
REPOSITORY_NAME_MAX_LENGTH = 255
# Longer than any usable reference (domain <= 253 + port, path <= 255, tag <= 128,
# digest <= 135); checked before any regular expression runs.
MAX_REFERENCE_LENGTH = 1024
SCHEMES = ("http", "https")
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha512": 128}  # the algorithms content is verified by
_MAX_DIGEST_LENGTH = 256
TAG_RULE = "up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
"""What a tag may be, in the words every message about a bad tag uses."""
DIGEST_RULE = "algorithm:encoded, e.g. sha256:<64 hex>"
"""What a digest looks like, in the words messages about a bad digest use."""


def _any_times(*parts: str) -> str:
    return "(?:" + "".join(parts) + ")*"


# Grammar parts, named and composed as in distribution/reference regexp.go.
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
LOCALHOST = "localhost"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_OPTIONAL_PORT = r"(?::[0-9]+)?"
_TAG_CHARS = r"\w.-"
_TAG = rf"[\w][{_TAG_CHARS}]{{0,127}}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_IDENTIFIER = r"[a-f0-9]{64}"
# A digest in a document: OCI image-spec descriptor.md "Digests" (go-digest's DigestRegexp)
#   algorithm ::= component ([+._-] component)*, component ::= [a-z0-9]+
#   encoded   ::= [a-zA-Z0-9=_-]+
# https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests
_OCI_DIGEST = r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"
_IPV6_ADDRESS = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = _DOMAIN_NAME_COMPONENT + _any_times(r"\.", _DOMAIN_NAME_COMPONENT)
_HOST = "(?:" + _DOMAIN_NAME + "|" + _IPV6_ADDRESS + ")"
_DOMAIN_AND_PORT = _HOST + _OPTIONAL_PORT
_PATH_COMPONENT = _ALPHANUMERIC + _any_times(_SEPARATOR, _ALPHANUMERIC)
_REMOTE_NAME = _PATH_COMPONENT + _any_times("/", _PATH_COMPONENT)

# Always used with fullmatch (``$`` would accept a trailing newline); ASCII keeps ``\w`` ASCII.
DOMAIN_RE = re.compile(_DOMAIN_AND_PORT, re.ASCII)
REMOTE_NAME_RE = re.compile(_REMOTE_NAME, re.ASCII)
TAG_RE = re.compile(_TAG, re.ASCII)
_NOT_TAG_CHAR_RE = re.compile(rf"[^{_TAG_CHARS}]", re.ASCII)
DIGEST_RE = re.compile(_DIGEST, re.ASCII)
IDENTIFIER_RE = re.compile(_IDENTIFIER, re.ASCII)
_OCI_DIGEST_RE = re.compile(_OCI_DIGEST, re.ASCII)
LOWER_HEX_RE = re.compile(r"[a-f0-9]+", re.ASCII)
SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*", re.ASCII)


def quote(value: str, limit: int = 200) -> str:
    quoted = json.dumps(value[:limit], ensure_ascii=False)
    return quoted if len(value) <= limit else f"{quoted}... ({len(value)} characters)"



def is_valid_domain(text: str) -> bool:
    """True for a registry domain as references write it: ``host[:port]``.

    ``host`` is a DNS name, an IPv4 address or a bracketed IPv6 address
    (``localhost:5000``, ``ghcr.io``, ``[::1]:5000``); no scheme, no path.
    """
    return len(text) <= 255 and DOMAIN_RE.fullmatch(text) is not None


# -- the grammar as the rest of the package asks it--------------------------------------
CATALOG_SCOPE = "registry:catalog:*"
"""The token scope of the catalog (``GET /v2/_catalog``)."""


def scope(repository: str, actions: str) -> str:
    """The token scope for ``actions`` (``"pull"``, ``"pull,push"``, ``"delete"``) on a repository.

    ``scope("team/app", "pull")`` is ``"repository:team/app:pull"``, the resource scope of
    the Docker token spec; every scope the library asks for is built here.
    """
    return f"repository:{repository}:{actions}"


def is_valid_tag(value: object) -> bool:
    """True for a tag: up to 128 ASCII letters, digits, ``_ . -``, not led by ``.`` or ``-``."""
    return isinstance(value, str) and TAG_RE.fullmatch(value) is not None


def referrers_tag(digest: str) -> str:
    """The referrers tag schema's tag for ``digest``: ``sha256:ab...`` -> ``sha256-ab...``.

    Algorithm cut to 32 characters, encoded part to 64, other characters -> ``-``.
    """
    algorithm, _, encoded = digest.partition(":")
    return _NOT_TAG_CHAR_RE.sub("-", f"{algorithm[:32]}-{encoded[:64]}")


def is_referrers_tag(tag: str) -> bool:
    """True for a sha256/sha512 tag of the referrers tag schema (``sha256-<64 hex>``),
    or cosign's ``.sig``, ``.att`` and ``.sbom`` tags named after it."""
    stem, dot, suffix = tag.partition(".")
    algorithm, dash, encoded = stem.partition("-")
    return (dash == "-" and algorithm in DIGEST_HEX_LENGTHS and len(encoded) == 64
            and bool(LOWER_HEX_RE.fullmatch(encoded))
            and (not dot or suffix in ("sig", "att", "sbom")))


def is_valid_repository_name(value: object) -> bool:
    """True for a repository name on a registry (``library/alpine``): '/'-separated
    lowercase components, at most 255 characters, no domain, tag or digest."""
    return (isinstance(value, str) and len(value) <= REPOSITORY_NAME_MAX_LENGTH
            and REMOTE_NAME_RE.fullmatch(value) is not None)


def is_valid_digest(value: object) -> bool:
    """True when ``value`` follows the OCI digest grammar: ``sha256:<64 hex>``, ``sha256+b64u:…``.

    sha256 and sha512 digests must have their exact lowercase-hex encoding. A valid
    digest of another algorithm may be read, and safely put in a URL, but content
    cannot be verified against it: see :func:`is_verifiable_digest`.
    """
    if not isinstance(value, str) or len(value) > _MAX_DIGEST_LENGTH:
        return False
    if not _OCI_DIGEST_RE.fullmatch(value):
        return False
    algorithm, _, encoded = value.partition(":")
    size = DIGEST_HEX_LENGTHS.get(algorithm)
    return size is None or (len(encoded) == size and bool(LOWER_HEX_RE.fullmatch(encoded)))


def is_verifiable_digest(value: object) -> bool:
    """True for a valid digest whose algorithm the client can check content against."""
    return is_valid_digest(value) and str(value).partition(":")[0] in DIGEST_HEX_LENGTHS


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
            f"verifies only {' and '.join(DIGEST_HEX_LENGTHS)} and fetches nothing unverified"
        )
    return digest
