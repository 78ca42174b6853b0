"""Parse image references the way docker does (``golang:1.12.0`` -> ``docker.io/library/golang``).

The grammar and the normalisation follow github.com/distribution/reference
(``regexp.go``, ``normalize.go`` ``ParseNormalizedNamed``, ``reference.go`` ``Parse``) and
github.com/opencontainers/go-digest ``Parse``::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] remote-name
    domain           := host [":" port-number]
    host             := domain-name | "[" IPv6address "]"
    domain-name      := domain-component ["." domain-component]*
    domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    remote-name      := path-component ["/" path-component]*
    path-component   := alpha-numeric [separator alpha-numeric]*
    alpha-numeric    := /[a-z0-9]+/
    separator        := /[_.]|__|[-]+/
    tag              := /[\\w][\\w.-]{0,127}/
    digest           := algorithm ":" /[0-9a-fA-F]{32,}/  (sha256: 64, sha512: 128 lowercase hex)

This module is the one owner of that grammar: every other module asks it whether a
tag, a digest or a repository name is valid (``is_valid_*``, ``check_*``), and
builds token scopes with :func:`scope`. A digest inside a document (a descriptor)
follows the wider OCI grammar (:func:`is_valid_digest`): any registered or
unregistered algorithm, of which sha256 and sha512 can be verified.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import attrs

from ._redact import hide_userinfo
from .errors import InvalidReferenceError, UnsupportedDigestError

__all__ = ["DEFAULT_DOMAIN", "ImageReference", "parse_image_name"]

DEFAULT_DOMAIN = "docker.io"
"""The domain of Docker Hub that names without a registry domain belong to."""

_LEGACY_DEFAULT_DOMAIN = "index.docker.io"
_OFFICIAL_REPO_PREFIX = "library/"
_REPOSITORY_NAME_MAX_LENGTH = 255
# Longer than any usable reference (domain <= 253 + port, path <= 255, tag <= 128,
# digest <= 135); checked before any regular expression runs.
_MAX_REFERENCE_LENGTH = 1024
_SCHEMES = ("http", "https")
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha512": 128}  # the algorithms content is verified by
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
_LOCALHOST = "localhost"
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
_DOMAIN_RE = re.compile(_DOMAIN_AND_PORT, re.ASCII)
_REMOTE_NAME_RE = re.compile(_REMOTE_NAME, re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_NOT_TAG_CHAR_RE = re.compile(rf"[^{_TAG_CHARS}]", re.ASCII)
_DIGEST_RE = re.compile(_DIGEST, re.ASCII)
_IDENTIFIER_RE = re.compile(_IDENTIFIER, re.ASCII)
_OCI_DIGEST_RE = re.compile(_OCI_DIGEST, re.ASCII)
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+", re.ASCII)
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*", re.ASCII)


def _quote(value: str, limit: int = 200) -> str:
    quoted = json.dumps(value[:limit], ensure_ascii=False)
    return quoted if len(value) <= limit else f"{quoted}... ({len(value)} characters)"


def _invalid(problem: str, text: str) -> InvalidReferenceError:
    return InvalidReferenceError(f"invalid reference format: {problem}: {_quote(text)}")


def _check_tag(tag: str, text: str) -> None:
    if not _TAG_RE.fullmatch(tag):
        raise _invalid(f"invalid tag {_quote(tag)} (want {TAG_RULE})", text)


def _check_digest(digest: str, text: str) -> None:
    """Validate ``digest`` like go-digest's ``Parse``."""
    if not _DIGEST_RE.fullmatch(digest):
        raise _invalid(f"invalid digest {_quote(digest)} (want algorithm:hex)", text)
    algorithm, _, encoded = digest.partition(":")
    size = _DIGEST_HEX_LENGTHS.get(algorithm)
    if size is None:
        raise _invalid(f"unsupported digest algorithm {_quote(algorithm)}", text)
    if len(encoded) != size:
        raise _invalid(f"invalid {algorithm} digest length (want {size} hex characters)", text)
    if not _LOWER_HEX_RE.fullmatch(encoded):
        raise _invalid(f"invalid {algorithm} digest (want lowercase hex)", text)


def _split_scheme(text: str) -> tuple[str | None, str]:
    head, sep, rest = text.partition("://")
    if sep and _SCHEME_RE.fullmatch(head):
        return head, rest
    return None, text


def _split_docker_domain(name: str) -> tuple[str, str, bool]:
    """Split off the registry domain as normalize.go's ``splitDockerDomain`` does.

    Returns ``(domain, remainder, explicit)``; ``explicit`` is False when the
    default domain was filled in.
    """
    maybe_domain, sep, maybe_remainder = name.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, _OFFICIAL_REPO_PREFIX + name, False
    if maybe_domain == _LEGACY_DEFAULT_DOMAIN:
        domain, remainder = DEFAULT_DOMAIN, maybe_remainder
    elif (
        maybe_domain == _LOCALHOST
        or "." in maybe_domain
        or ":" in maybe_domain
        or maybe_domain.lower() != maybe_domain
    ):
        domain, remainder = maybe_domain, maybe_remainder
    else:
        return DEFAULT_DOMAIN, name, False
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = _OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder, True


def is_valid_domain(text: str) -> bool:
    """True for a registry domain as references write it: ``host[:port]``.

    ``host`` is a DNS name, an IPv4 address or a bracketed IPv6 address
    (``localhost:5000``, ``ghcr.io``, ``[::1]:5000``); no scheme, no path.
    """
    return len(text) <= 255 and _DOMAIN_RE.fullmatch(text) is not None


@attrs.frozen
class ImageReference:
    """A normalised image reference such as ``docker.io/library/golang:1.12.0``.

    Build one with :func:`parse_image_name`; the constructor does not validate.
    Unpacks as ``domain, path, tag, digest``. ``scheme`` is only set by
    ``parse_image_name(..., allow_scheme=True)`` and never appears in ``str()``.
    """

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None
    scheme: str | None = None

    def __iter__(self) -> Iterator[str | None]:
        """Yield ``domain, path, tag, digest``, like Go's ``ParseImageName`` results."""
        return iter((self.domain, self.path, self.tag, self.digest))

    def _key(self) -> tuple[str, str, str, str, str]:
        # A missing tag/digest/scheme sorts first ("" < anything), never None vs str.
        return (self.domain, self.path, self.tag or "", self.digest or "", self.scheme or "")

    def __lt__(self, other: object) -> bool:
        """Order by domain, path, tag, digest (then scheme): ``sorted(refs)`` works."""
        if not isinstance(other, ImageReference):
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: object) -> bool:
        """See :meth:`__lt__`."""
        if not isinstance(other, ImageReference):
            return NotImplemented
        return self._key() <= other._key()

    def __gt__(self, other: object) -> bool:
        """See :meth:`__lt__`."""
        if not isinstance(other, ImageReference):
            return NotImplemented
        return self._key() > other._key()

    def __ge__(self, other: object) -> bool:
        """See :meth:`__lt__`."""
        if not isinstance(other, ImageReference):
            return NotImplemented
        return self._key() >= other._key()

    def __str__(self) -> str:
        """Return the full reference: ``name[:tag][@digest]``, without the scheme."""
        return self.name + self._suffix()

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def name(self) -> str:
        """The repository with its domain, e.g. ``docker.io/library/golang``."""
        return f"{self.domain}/{self.path}"

    @property
    def reference(self) -> str | None:
        """What to ask the registry for: the digest if set, else the tag, else None."""
        return self.digest or self.tag

    @property
    def familiar_name(self) -> str:
        """The short name docker shows: ``golang`` for ``docker.io/library/golang``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        if self.path.startswith(_OFFICIAL_REPO_PREFIX):
            remainder = self.path[len(_OFFICIAL_REPO_PREFIX) :]
            if "/" not in remainder:
                return remainder
        return self.path

    @property
    def familiar_string(self) -> str:
        """The short form docker shows, with tag and digest: ``golang:1.12.0``."""
        return self.familiar_name + self._suffix()

    def with_tag(self, tag: str) -> ImageReference:
        """Return a copy pointing at ``tag`` (and no digest).

        Raises:
            InvalidReferenceError: ``tag`` is not a valid tag.
            TypeError: ``tag`` is not a str.
        """
        if not isinstance(tag, str):
            raise TypeError(f"tag must be a str, not {type(tag).__name__}")
        _check_tag(tag, f"{self.name}:{tag}")
        return attrs.evolve(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> ImageReference:
        """Return a copy pinned to ``digest``, keeping the tag.

        Raises:
            InvalidReferenceError: ``digest`` is malformed or of an unsupported algorithm.
            TypeError: ``digest`` is not a str.
        """
        if not isinstance(digest, str):
            raise TypeError(f"digest must be a str, not {type(digest).__name__}")
        _check_digest(digest, f"{self.name}@{digest}")
        return attrs.evolve(self, digest=digest)


def parse_image_name(text: str, *, allow_scheme: bool = False) -> ImageReference:
    """Parse an image name such as ``golang:1.12.0`` into a normalised ImageReference.

    Follows docker's ``reference.ParseNormalizedNamed``: names without a domain
    belong to ``docker.io`` (single names under ``library/``), ``index.docker.io``
    becomes ``docker.io`` and a missing tag stays None. With ``allow_scheme`` a
    leading ``http://`` or ``https://`` is accepted and kept in ``scheme``.

    Raises:
        InvalidReferenceError: ``text`` is not a valid image reference.
        TypeError: ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"image reference must be a str, not {type(text).__name__}")
    if not text:
        raise _invalid("repository name must have at least one component", text)
    if len(text) > _MAX_REFERENCE_LENGTH:
        raise _invalid(f"reference is longer than {_MAX_REFERENCE_LENGTH} characters", text)
    scheme, rest = _split_scheme(text)
    if scheme is not None:
        if not allow_scheme:
            raise _invalid(f"unexpected scheme {_quote(scheme + '://')} (not allowed here)", text)
        scheme = scheme.lower()
        if scheme not in _SCHEMES:
            raise _invalid(f"unsupported scheme {_quote(scheme)} (want http or https)", text)
    if _IDENTIFIER_RE.fullmatch(rest):
        raise _invalid("cannot specify 64-byte hexadecimal strings as a repository name", text)
    domain, remainder, explicit = _split_docker_domain(rest)
    if scheme is not None and not explicit:
        raise _invalid("a reference with a scheme must start with a registry domain", text)
    before_digest, has_digest, digest = remainder.partition("@")
    path, has_tag, tag = before_digest.partition(":")
    if path.lower() != path:
        raise _invalid(f"repository name {_quote(path)} must be lowercase", text)
    if not _DOMAIN_RE.fullmatch(domain):
        raise _invalid(f"invalid registry domain {_quote(hide_userinfo(domain))}",
                       hide_userinfo(text))
    if not path:
        raise _invalid("repository name must have at least one component", text)
    if not _REMOTE_NAME_RE.fullmatch(path):
        raise _invalid(
            f"invalid repository name {_quote(path)} (want '/'-separated components of "
            "lowercase letters and digits joined by '.', '_', '__' or dashes)",
            text,
        )
    if len(path) > _REPOSITORY_NAME_MAX_LENGTH:
        raise _invalid(
            f"repository name must not be more than {_REPOSITORY_NAME_MAX_LENGTH} characters "
            f"(got {len(path)})",
            text,
        )
    if has_tag:
        _check_tag(tag, text)
    if has_digest:
        _check_digest(digest, text)
    return ImageReference(
        domain=domain,
        path=path,
        tag=tag if has_tag else None,
        digest=digest if has_digest else None,
        scheme=scheme,
    )


# -- the grammar as the rest of the package asks it ---------------------------------------
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
    return isinstance(value, str) and _TAG_RE.fullmatch(value) is not None


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
    return (dash == "-" and algorithm in _DIGEST_HEX_LENGTHS and len(encoded) == 64
            and bool(_LOWER_HEX_RE.fullmatch(encoded))
            and (not dot or suffix in ("sig", "att", "sbom")))


def is_valid_repository_name(value: object) -> bool:
    """True for a repository name on a registry (``library/alpine``): '/'-separated
    lowercase components, at most 255 characters, no domain, tag or digest."""
    return (isinstance(value, str) and len(value) <= _REPOSITORY_NAME_MAX_LENGTH
            and _REMOTE_NAME_RE.fullmatch(value) is not None)


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
    size = _DIGEST_HEX_LENGTHS.get(algorithm)
    return size is None or (len(encoded) == size and bool(_LOWER_HEX_RE.fullmatch(encoded)))


def is_verifiable_digest(value: object) -> bool:
    """True for a valid digest whose algorithm the client can check content against."""
    return is_valid_digest(value) and str(value).partition(":")[0] in _DIGEST_HEX_LENGTHS


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
            f"verifies only {' and '.join(_DIGEST_HEX_LENGTHS)} and fetches nothing unverified"
        )
    return digest


_REGISTERED_ALGORITHMS = ("sha256", "sha384", "sha512", "blake3")
_HEX = frozenset("0123456789abcdefABCDEF")


def _given_a_reference(value: object, wanted: str) -> None:
    """Raise when ``value`` is a whole image reference (``team/app:1.0``) given where a
    tag or a digest belongs: say so, and what to give instead."""
    if not isinstance(value, str) or len(value) > _MAX_REFERENCE_LENGTH:
        return
    algorithm, colon, rest = value.partition(":")
    if "/" not in value and "@" not in value:
        if not colon or algorithm in _REGISTERED_ALGORITHMS or "+" in algorithm or (
                len(rest) >= 32 and set(rest) <= _HEX):
            return  # a malformed tag or digest, not a reference
    try:
        ref = parse_image_name(value)
    except InvalidReferenceError:
        return
    hint = f": give {ref.reference!r}" if ref.reference else ""
    raise InvalidReferenceError(
        f"expected {wanted}, got the reference {value!r}{hint} (the repository is "
        "chosen by registry.repository(...))")


def check_tag(tag: str) -> str:
    """Return ``tag`` when it follows the tag grammar, else raise InvalidReferenceError."""
    if not is_valid_tag(tag):
        _given_a_reference(tag, "a tag")
        raise InvalidReferenceError(f"invalid tag {str(tag)[:140]!r}: want {TAG_RULE}")
    return tag


def check_digest(digest: str, *, verify: bool = True) -> str:
    """Return ``digest`` when it follows the digest grammar (and, by default, is verifiable).

    With ``verify`` (the default) only algorithms content can be checked against
    (sha256, sha512) pass; ``verify=False`` also lets through the other algorithms
    of the OCI grammar, for calls that fetch no content (HEAD).

    Raises:
        InvalidReferenceError: it does not follow the grammar.
        UnsupportedDigestError: ``verify`` and an algorithm the client cannot verify.
    """
    if not is_valid_digest(digest):
        _given_a_reference(digest, "a digest")
        raise InvalidReferenceError(f"invalid digest {str(digest)[:140]!r}: want {DIGEST_RULE}")
    return require_verifiable(digest) if verify else digest


def check_reference(reference: str, *, verify: bool = True) -> str:
    """Accept a tag or a digest; raise InvalidReferenceError for anything else.

    ``verify`` is as for :func:`check_digest`.
    """
    if not (is_valid_tag(reference) or is_valid_digest(reference)):
        _given_a_reference(reference, "a tag or digest")
    if isinstance(reference, str) and ":" in reference:
        return check_digest(reference, verify=verify)
    return check_tag(reference)


def is_digest(reference: str) -> bool:
    """True when ``reference`` (a checked tag or digest) is a digest rather than a tag."""
    return ":" in reference


def check_repository_name(name: str) -> str:
    """Return ``name`` when it is a repository name, else raise saying what is wrong.

    Raises:
        InvalidReferenceError: not a repository name (``Team/App``, ``app:1.0``...).
    """
    if not is_valid_repository_name(name):
        raise InvalidReferenceError(
            f"invalid repository name {str(name)[:300]!r}: {_why_not_a_name(name)}")
    return name


def _why_not_a_name(name: object) -> str:
    """What is wrong with a repository name, in the words parse_image_name uses."""
    if not isinstance(name, str):
        return f"a repository name is a str, not {type(name).__name__}"
    if len(name) > _REPOSITORY_NAME_MAX_LENGTH:
        return (f"it is {len(name)} characters long, at most {_REPOSITORY_NAME_MAX_LENGTH} "
                "are allowed")
    if name.lower() != name:
        return "repository names must be lowercase"
    if ":" in name or "@" in name:
        return ("a repository name has no tag or digest (repository_from_string takes "
                "'app:1.0')")
    return ("want '/'-separated components of lowercase letters and digits, "
            "joined by '.', '_', '__' or '-'")
