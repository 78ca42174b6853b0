"""Parse image references as docker's ``ParseNormalizedNamed`` does."""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from .._redact import hide_userinfo
from ..errors import InvalidReferenceError
from ._grammar import (
    DEFAULT_DOMAIN,
    DOMAIN_RE,
    LEGACY_DEFAULT_DOMAIN,
    LOCALHOST,
    MAX_REFERENCE_LENGTH,
    OFFICIAL_REPO_PREFIX,
    REMOTE_NAME_RE,
    REPOSITORY_NAME_MAX_LENGTH,
    SCHEME_RE,
    SCHEMES,
    TAG_RE,
    TAG_RULE,
    is_identifier,
    quote,
    reference_digest_problem,
)


def _invalid(problem: str, text: str) -> InvalidReferenceError:
    return InvalidReferenceError(f"invalid reference format: {problem}: {quote(text)}")


def _check_tag(tag: str, text: str) -> None:
    if not TAG_RE.fullmatch(tag):
        raise _invalid(f"invalid tag {quote(tag)} (want {TAG_RULE})", text)


def _check_digest(digest: str, text: str) -> None:
    """Validate ``digest`` like go-digest's ``Parse``."""
    problem = reference_digest_problem(digest)
    if problem is not None:
        raise _invalid(problem, text)


def _split_scheme(text: str) -> tuple[str | None, str]:
    head, sep, rest = text.partition("://")
    if sep and SCHEME_RE.fullmatch(head):
        return head, rest
    return None, text


def _split_docker_domain(name: str) -> tuple[str, str, bool]:
    """Split off the registry domain as normalize.go's ``splitDockerDomain`` does.

    Returns ``(domain, remainder, explicit)``; ``explicit`` is False when the
    default domain was filled in.
    """
    maybe_domain, sep, maybe_remainder = name.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name, False
    if maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain, remainder = DEFAULT_DOMAIN, maybe_remainder
    elif (
        maybe_domain == LOCALHOST
        or "." in maybe_domain
        or ":" in maybe_domain
        or maybe_domain.lower() != maybe_domain
    ):
        domain, remainder = maybe_domain, maybe_remainder
    else:
        return DEFAULT_DOMAIN, name, False
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder, True


def names_a_domain(text: str) -> bool:
    """True when an image name starts with a registry domain, as docker decides it.

    ``localhost:5000/app``, ``ghcr.io/app`` and ``Team/app`` (a component that is not
    lowercase) start with one; ``team/app`` and ``app`` are Docker Hub names.
    """
    return _split_docker_domain(text)[2]


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
        if self.path.startswith(OFFICIAL_REPO_PREFIX):
            remainder = self.path[len(OFFICIAL_REPO_PREFIX) :]
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
    if len(text) > MAX_REFERENCE_LENGTH:
        raise _invalid(f"reference is longer than {MAX_REFERENCE_LENGTH} characters", text)
    scheme, rest = _split_scheme(text)
    if scheme is not None:
        if not allow_scheme:
            raise _invalid(f"unexpected scheme {quote(scheme + '://')} (not allowed here)", text)
        scheme = scheme.lower()
        if scheme not in SCHEMES:
            raise _invalid(f"unsupported scheme {quote(scheme)} (want http or https)", text)
    if is_identifier(rest):
        raise _invalid("cannot specify 64-byte hexadecimal strings as a repository name", text)
    domain, remainder, explicit = _split_docker_domain(rest)
    if scheme is not None and not explicit:
        raise _invalid("a reference with a scheme must start with a registry domain", text)
    before_digest, has_digest, digest = remainder.partition("@")
    path, has_tag, tag = before_digest.partition(":")
    if path.lower() != path:
        raise _invalid(f"repository name {quote(path)} must be lowercase", text)
    if not DOMAIN_RE.fullmatch(domain):
        raise _invalid(f"invalid registry domain {quote(hide_userinfo(domain))}",
                       hide_userinfo(text))
    if not path:
        raise _invalid("repository name must have at least one component", text)
    if not explicit and rest.startswith("[") and "/" not in rest:
        # "[::1]:5000", read as docker reads it: the repository "library/[" (refused)
        raise _invalid(f"{quote(rest)} is a registry host with no repository after it "
                       "(want HOST/REPOSITORY)", text)
    if not REMOTE_NAME_RE.fullmatch(path):
        raise _invalid(
            f"invalid repository name {quote(path)} (want '/'-separated components of "
            "lowercase letters and digits joined by '.', '_', '__' or dashes)",
            text,
        )
    if len(path) > REPOSITORY_NAME_MAX_LENGTH:
        raise _invalid(
            f"repository name must not be more than {REPOSITORY_NAME_MAX_LENGTH} characters "
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
