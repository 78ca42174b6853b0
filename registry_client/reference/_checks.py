"""Checks of the tags, digests and names callers hand to a service, with messages that
say what is wrong and what to give instead."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from ..errors import InvalidReferenceError
from ._grammar import (
    DIGEST_RULE,
    MAX_REFERENCE_LENGTH,
    REPOSITORY_NAME_MAX_LENGTH,
    TAG_RULE,
    is_valid_digest,
    is_valid_repository_name,
    is_valid_tag,
    reads_as_a_digest,
    require_verifiable,
)
from ._parse import parse_image_name

_T = TypeVar("_T")


def _given_a_reference(value: object, wanted: str) -> None:
    """Raise when ``value`` is a whole image reference (``team/app:1.0``) given where a
    tag or a digest belongs: say so, and what to give instead."""
    if not isinstance(value, str) or len(value) > MAX_REFERENCE_LENGTH:
        return
    if "/" not in value and "@" not in value and (":" not in value or reads_as_a_digest(value)):
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
    (sha256, sha384, sha512) pass; ``verify=False`` also lets through the other algorithms
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


def pinned_name(name: str, reference: str) -> str:
    """``name`` (``registry/repository``, a layout's path) with a tag, a layout's name or
    a digest: ``name:tag``, ``name@digest`` -- an image named in full, for a message."""
    return f"{name}{'@' if is_valid_digest(reference) else ':'}{reference}"


def familiar_path(path: str) -> str:
    """A repository path as docker names it: ``library/x`` is ``x``."""
    if path.startswith("library/") and path.count("/") == 1:
        return path[len("library/"):]
    return path


def path_and_tag(name: str) -> tuple[str, str]:
    """(repository path as docker names it, tag) of an image's full name, the registry
    host left out: ``x:1``, ``docker.io/library/x:1`` and ``host:5000/x:1`` all give
    ``("x", "1")`` -- how an archive's or a layout's names are matched with the
    repository pushed to. A name docker would not read gives ("", its tag)."""
    try:
        ref = parse_image_name(name)
    except (ValueError, TypeError):
        head, _, tag = name.rpartition(":")
        return "", tag if head and "/" not in tag else ""
    return familiar_path(ref.path), ref.tag or ""


def one_named(
    items: Sequence[_T], names: Callable[[_T], Iterable[str]], repository: str | None,
    tag: str,
) -> _T | None:
    """Of ``items`` (the images of an archive or a layout that have the tag ``tag``), the
    one a push to ``repository`` takes: the only one; else the only one of whose full
    ``names`` is ``repository:tag`` (:func:`path_and_tag`: any registry host, ``x`` is
    ``library/x``); None when that does not single one out."""
    if len(items) == 1:
        return items[0]
    if repository is None:
        return None
    want = (familiar_path(repository), tag)
    named = [item for item in items if any(path_and_tag(n) == want for n in names(item))]
    return named[0] if len(named) == 1 else None


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
    if len(name) > REPOSITORY_NAME_MAX_LENGTH:
        return (f"it is {len(name)} characters long, at most {REPOSITORY_NAME_MAX_LENGTH} "
                "are allowed")
    if name.lower() != name:
        return "repository names must be lowercase"
    if ":" in name or "@" in name:
        return ("a repository name has no tag or digest (repository_from_string takes "
                "'app:1.0')")
    return ("want '/'-separated components of lowercase letters and digits, "
            "joined by '.', '_', '__' or '-'")
