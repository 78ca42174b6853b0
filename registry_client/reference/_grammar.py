"""The grammar of names, tags and digests: one owner for every rule and its wording.

Regular expressions named and composed as in distribution/reference ``regexp.go``
and the OCI image-spec's digest grammar; every other module asks these predicates,
never a regular expression of its own.
"""

from __future__ import annotations

import ipaddress
import json
import re
import string

from ..errors import UnsupportedDigestError

DEFAULT_DOMAIN = "docker.io"
"""The domain of Docker Hub that names without a registry domain belong to."""

LEGACY_DEFAULT_DOMAIN = "index.docker.io"
"""Docker Hub's old name, which references may still use; it means :data:`DEFAULT_DOMAIN`."""

DOCKER_HUB_API_HOST = "registry-1.docker.io"
"""The host that serves Docker Hub's registry API (``docker.io`` only names it)."""

DOCKER_HUB_HOSTS = (DEFAULT_DOMAIN, DOCKER_HUB_API_HOST, LEGACY_DEFAULT_DOMAIN)
"""Every name of Docker Hub: the one place its aliases are written."""

OFFICIAL_REPO_PREFIX = "library/"
REPOSITORY_NAME_MAX_LENGTH = 255
# Longer than any usable reference (domain <= 253 + port, path <= 255, tag <= 128,
# digest <= 135); checked before any regular expression runs.
MAX_REFERENCE_LENGTH = 1024
SCHEMES = ("http", "https")
# the algorithms content is verified by: go-digest's (what docker parses references with)
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
# The algorithms the OCI image-spec registers (descriptor.md "Registered algorithms").
REGISTERED_ALGORITHMS = ("sha256", "sha384", "sha512", "blake3")
_MAX_DIGEST_LENGTH = 256
_MIN_REFERENCE_HEX = 32  # a reference's digest: at least 32 hex digits (go-digest)
_HEX_DIGITS = frozenset(string.hexdigits)
_ALGORITHM_SEPARATORS = str.maketrans("-_+.", "    ")
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
# The one digest grammar: the union of the two places digests are written, whose own
# rules are predicates on its two parts (reference_digest_problem, is_valid_digest):
# - in a reference (distribution/reference regexp.go, go-digest Parse): algorithm
#   components [A-Za-z][A-Za-z0-9]*, encoded [0-9a-fA-F]{32,};
# - in a document (OCI image-spec descriptor.md "Digests", go-digest's DigestRegexp):
#   algorithm components [a-z0-9]+, encoded [a-zA-Z0-9=_-]+.
# Both join algorithm components with one of [+._-].
# https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests
_DIGEST = r"(?P<algorithm>[A-Za-z0-9]+(?:[-_+.][A-Za-z0-9]+)*):(?P<encoded>[A-Za-z0-9=_-]+)"
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
LOWER_HEX_RE = re.compile(r"[a-f0-9]+", re.ASCII)
SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*", re.ASCII)


def quote(value: str, limit: int = 200) -> str:
    quoted = json.dumps(value[:limit], ensure_ascii=False)
    return quoted if len(value) <= limit else f"{quoted}... ({len(value)} characters)"



def canonical_domain(domain: str) -> str:
    """The domain as references name it: ``index.docker.io`` is ``docker.io``, as in docker."""
    return DEFAULT_DOMAIN if domain == LEGACY_DEFAULT_DOMAIN else domain


def is_docker_hub(host: str) -> bool:
    """True for any of Docker Hub's names (``docker.io``, ``registry-1.docker.io``...)."""
    return host.lower() in DOCKER_HUB_HOSTS


def hub_repository(name: str, *hosts: str) -> str:
    """``name`` as a repository of the registry ``hosts`` name (its domain, the host that
    serves it): on Docker Hub, a name of one component is an official image's
    (``alpine`` -> ``library/alpine``), as docker and crane name it."""
    if "/" not in name and any(is_docker_hub(h) for h in hosts):
        return OFFICIAL_REPO_PREFIX + name
    return name


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
    """True for a tag of the referrers tag schema (``sha256-<64 hex>``; a longer digest's
    encoding is cut at 64),
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


def _digest_parts(value: object) -> tuple[str, str] | None:
    """``(algorithm, encoded)`` of a string that follows the one digest grammar, else None."""
    if not isinstance(value, str):
        return None
    match = DIGEST_RE.fullmatch(value)
    return None if match is None else (match["algorithm"], match["encoded"])


# Every registered algorithm's encoding (blake3's too, which the client cannot verify).
_REGISTERED_HEX_LENGTHS = {**DIGEST_HEX_LENGTHS, "blake3": 64}


def _has_encoded_length(algorithm: str, encoded: str) -> bool:
    """A registered algorithm's exact lowercase-hex length; other algorithms: any."""
    size = _REGISTERED_HEX_LENGTHS.get(algorithm)
    return size is None or (len(encoded) == size and bool(LOWER_HEX_RE.fullmatch(encoded)))


def is_valid_digest(value: object) -> bool:
    """True when ``value`` follows the OCI digest grammar: ``sha256:<64 hex>``, ``sha256+b64u:…``.

    sha256, sha384, sha512 and blake3 digests must have their exact lowercase-hex
    encoding (image-spec's registered algorithms). A valid
    digest of another algorithm may be read, and safely put in a URL, but content
    cannot be verified against it: see :func:`is_verifiable_digest`.
    """
    if isinstance(value, str) and len(value) > _MAX_DIGEST_LENGTH:
        return False
    parts = _digest_parts(value)
    if parts is None:
        return False
    algorithm, encoded = parts
    return algorithm.lower() == algorithm and _has_encoded_length(algorithm, encoded)


def reference_digest_problem(digest: str) -> str | None:
    """What is wrong with ``digest`` as the ``@digest`` of a reference, or None.

    The reference grammar (go-digest's ``Parse``): algorithm components start with a
    letter, the encoded part is at least 32 hex digits, and only a verifiable algorithm
    (sha256, sha384, sha512: go-digest's) with its exact lowercase-hex length is accepted.
    """
    parts = _digest_parts(digest)
    if parts is None or not _is_reference_digest(*parts):
        return f"invalid digest {quote(digest)} (want {DIGEST_RULE})"
    algorithm, encoded = parts
    size = DIGEST_HEX_LENGTHS.get(algorithm)
    if size is None:
        return f"unsupported digest algorithm {quote(algorithm)}"
    if len(encoded) != size:
        return f"invalid {algorithm} digest length (want {size} hex characters)"
    if not LOWER_HEX_RE.fullmatch(encoded):
        return f"invalid {algorithm} digest (want lowercase hex)"
    return None


def _is_reference_digest(algorithm: str, encoded: str) -> bool:
    """The reference grammar's narrower parts: lettered algorithm components, hex encoding."""
    components = algorithm.translate(_ALGORITHM_SEPARATORS).split(" ")
    return all(c[0].isalpha() for c in components) and _is_reference_hex(encoded)


def _is_reference_hex(encoded: str) -> bool:
    return len(encoded) >= _MIN_REFERENCE_HEX and set(encoded) <= _HEX_DIGITS


def reads_as_a_digest(value: str) -> bool:
    """True when ``value`` (``x:y``) is written as a digest, even a malformed one, rather
    than as ``name:tag``: a registered algorithm, an encoding (``sha256+b64u``), or at
    least 32 hex digits after the colon."""
    algorithm, _, encoded = value.partition(":")
    return (algorithm in REGISTERED_ALGORITHMS or "+" in algorithm
            or _is_reference_hex(encoded))


def is_identifier(text: str) -> bool:
    """True for 64 lowercase hex digits: an image ID, which docker refuses as a name."""
    return len(text) == DIGEST_HEX_LENGTHS["sha256"] and bool(LOWER_HEX_RE.fullmatch(text))


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


def port_out_of_range(domain: str) -> str | None:
    """The port of ``domain`` (``host:port``) when no TCP port has that number (0, or over
    65535: the reference grammar takes any digits), else None."""
    port = domain.rpartition(":")[2] if not domain.endswith("]") else ""
    if port.isdigit() and not 0 < int(port) < 65536:
        return port[:20]
    return None


def is_loopback(domain: str) -> bool:
    """True for ``localhost``, ``127.x.y.z`` (in IPv6 too: ``::ffff:7f00:1``) and ``::1``,
    with or without a port."""
    host = domain.lower()
    if host.startswith("["):  # [::1]:5000
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    # 127.0.0.1 written as IPv6 (::ffff:7f00:1) is loopback too, as Go counts it; Python's
    # is_loopback says so from 3.13 only
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback
