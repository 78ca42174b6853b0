"""The shared shape of every service: a requester, a repository name, one request funnel."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import IO

import requests

from .._digest import is_valid_digest, require_verifiable
from ..errors import InvalidReferenceError, RegistryError, RegistryResponseError
from ..quirks import hub_refuses_deletes
from ..reference import parse_image_name
from ..requester import Requester

_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)


_DIGEST_ALGORITHMS = ("sha256", "sha384", "sha512", "blake3")
_HEX = frozenset("0123456789abcdefABCDEF")


def _given_a_reference(value: object, wanted: str) -> None:
    """Raise when ``value`` is a whole image reference (``team/app:1.0``) given where a
    tag or a digest belongs: say so, and what to give instead."""
    if not isinstance(value, str) or len(value) > 1024:
        return
    algorithm, colon, rest = value.partition(":")
    if "/" not in value and "@" not in value:
        if not colon or algorithm in _DIGEST_ALGORITHMS or "+" in algorithm or (
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
    if not isinstance(tag, str) or not _TAG_RE.match(tag):
        _given_a_reference(tag, "a tag")
        raise InvalidReferenceError(
            f"invalid tag {str(tag)[:140]!r}: want [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
        )
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
        raise InvalidReferenceError(f"invalid digest {str(digest)[:140]!r}: want sha256:<64 hex>")
    return require_verifiable(digest) if verify else digest


def check_reference(reference: str, *, verify: bool = True) -> str:
    """Accept a tag or a digest; raise InvalidReferenceError for anything else.

    ``verify`` is as for :func:`check_digest`.
    """
    if not (isinstance(reference, str) and (_TAG_RE.match(reference)
                                            or is_valid_digest(reference))):
        _given_a_reference(reference, "a tag or digest")
    if isinstance(reference, str) and ":" in reference:
        return check_digest(reference, verify=verify)
    return check_tag(reference)


def is_digest(reference: str) -> bool:
    """True when ``reference`` is a digest rather than a tag."""
    return ":" in reference


class Service:
    """Base of the four services: holds only the shared requester and the repository name."""

    def __init__(self, requester: Requester, repository: str) -> None:
        self._requester = requester
        self.repository = repository

    def __repr__(self) -> str:
        return f"{type(self).__name__}(repository={self.repository!r})"

    @property
    def domain(self) -> str:
        """The registry domain this service talks to."""
        return self._requester.domain

    def scope(self, actions: str) -> str:
        """The token scope for ``actions`` on this repository."""
        return f"repository:{self.repository}:{actions}"

    def _request(
        self,
        method: str,
        path: str,
        *,
        actions: str = "pull",
        operation: str,
        expected: Iterable[int] = (200,),
        extra_scopes: Iterable[str] = (),
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | IO[bytes] | Iterable[bytes] | None = None,
        stream: bool = False,
        absolute: bool = False,
        idempotent: bool | None = None,
        timeout: float | tuple[float, float] | None = None,
        retry_connection_errors: bool = True,
        retry_if: Callable[[RegistryError], bool] | None = None,
    ) -> requests.Response:
        """Send a request about this repository (``path`` relative to ``/v2/<name>/``).

        A DELETE answered 404 after an attempt whose answer was lost is done (the
        404 answer is returned); ``retry_if`` retries the error answers it accepts.
        """
        target = path if absolute else f"{self.repository}/{path}"
        try:
            return self._requester.send(
                method,
                target,
                scopes=(self.scope(actions), *extra_scopes),
                expected=expected,
                context=f"{operation} ({self.domain}/{self.repository})",
                params=params,
                headers=headers,
                data=data,
                stream=stream,
                idempotent=idempotent,
                timeout=timeout,
                retry_connection_errors=retry_connection_errors,
                retry_if=retry_if,
            )
        except RegistryResponseError as exc:
            if method == "DELETE" and hub_refuses_deletes(self._requester.host, exc):
                exc._reword(exc.message + " -- Docker Hub refuses deletes on the registry API "
                            "(quirk dockerhub-no-delete): delete through Hub's own API")
            raise

