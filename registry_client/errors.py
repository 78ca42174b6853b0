"""Every error registry_client raises.

::

    RegistryError                       base of all the library raises (but InvalidReferenceError)
    ├── AuthenticationError             401 after authenticating
    ├── AuthorizationError              403
    ├── NotFoundError                   404 (manifest, blob, repository)
    │   └── PlatformNotFoundError       no manifest for the platform asked for (also a ValueError)
    ├── SchemaV1NotSupportedError
    ├── UnknownSchemaError
    ├── DigestMismatchError             content did not match its digest
    ├── UnsupportedDigestError          a digest the client cannot verify (also a ValueError)
    ├── TokenError                      unusable challenge or token answer
    ├── RegistryUnavailableError        connection refused, timeouts/5xx after retries
    ├── RegistrySSLError
    ├── RegistryResponseError           any other unexpected status / malformed body
    ├── LayoutError                     an OCI layout on disk is malformed or lacks the image
    │   ├── LayoutNotFoundError         not a layout, or a blob file it lists is missing
    │   └── ArchiveError                a tar that is no docker-archive or oci-archive
    ├── LayerError                      a layer to add or read is no tar stream (also a ValueError)
    ├── BaseMismatchError               rebase: old_base is not the image's base (also a ValueError)
    ├── NotAnImageError                 an index, an artifact... where an image is needed
    ├── ArtifactNameError               an artifact file title that would escape its folder
    ├── JournalError                    a sync journal is of another input, in use, or unreadable
    └── CredentialStoreError            docker's config or credential helper could not store
    InvalidReferenceError(ValueError)

Errors keep the status code, the registry's error list, the method and a
redacted URL -- never the request or response objects, whose headers carry
credentials. Context is added on the way up with :meth:`RegistryError.with_context`
only, which keeps every field (``Retry-After`` too).
"""

from __future__ import annotations

from typing import Any, TypeVar, overload

__all__ = [
    "ArchiveError",
    "ArtifactNameError",
    "AuthenticationError",
    "AuthorizationError",
    "BaseMismatchError",
    "CredentialStoreError",
    "DigestMismatchError",
    "InsufficientScopeError",
    "InvalidReferenceError",
    "JournalError",
    "LayerError",
    "LayoutError",
    "LayoutNotFoundError",
    "NotAnImageError",
    "NotFoundError",
    "PlatformNotFoundError",
    "RegistryError",
    "RegistryResponseError",
    "RegistrySSLError",
    "RegistryUnavailableError",
    "SchemaV1NotSupportedError",
    "TokenError",
    "UnknownSchemaError",
    "UnsupportedDigestError",
]


_E = TypeVar("_E", bound="RegistryError")
_K = TypeVar("_K", bound="RegistryError")


class RegistryError(Exception):
    """Base class of every error the library raises (except InvalidReferenceError).

    Attributes:
        status_code: the HTTP status that caused it, when there was one.
        errors: the registry's ``errors`` list (dicts with code/message/detail).
        method: the HTTP method of the failed request, when there was one.
        url: the request URL with any query credentials removed.
        retry_after: the seconds the registry asked to wait (``Retry-After``), or None.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        method: str | None = None,
        url: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.errors: list[dict[str, Any]] = list(errors or [])
        self.method = method
        self.url = url
        self.retry_after = retry_after

    @overload
    def with_context(
        self: _E, message: str, *, method: str | None = None, url: str | None = None,
        kind: None = None,
    ) -> _E: ...

    @overload
    def with_context(
        self, message: str, *, method: str | None = None, url: str | None = None,
        kind: type[_K],
    ) -> _K: ...

    def with_context(
        self, message: str, *, method: str | None = None, url: str | None = None,
        kind: type[RegistryError] | None = None,
    ) -> RegistryError:
        """Say more where the error passes on its way up (the operation, a quirk).

        The one way the library adds context to an error: ``message`` replaces the
        text (include ``self.message`` to keep it); ``method`` and ``url`` name the
        request it failed on when given. Everything else -- status code, the
        registry's errors, ``Retry-After`` -- is kept. Without ``kind`` the error
        itself is reworded and returned (re-raise it, or ``raise`` bare); with
        ``kind`` a new error of that class carrying every field is returned, for
        an answer that means something more specific (``DIGEST_INVALID`` ->
        :class:`DigestMismatchError`) -- raise it ``from`` the original.
        """
        target = self if kind is None else kind(
            message, status_code=self.status_code, errors=self.errors, method=self.method,
            url=self.url, retry_after=self.retry_after,
        )
        target.message = message
        target.args = (message,)
        if method is not None:
            target.method = method
        if url is not None:
            target.url = url
        return target

    @property
    def codes(self) -> list[str]:
        """The registry's error codes (``MANIFEST_UNKNOWN``...), in order."""
        return [str(e.get("code", "")) for e in self.errors if isinstance(e, dict)]

    def __str__(self) -> str:
        return self.message


class AuthenticationError(RegistryError):
    """The registry or its token server refused the credentials (401)."""


class AuthorizationError(RegistryError):
    """The credentials are valid but not allowed to do this (403)."""


class InsufficientScopeError(AuthorizationError, AuthenticationError):
    """A 401 whose challenge says ``insufficient_scope``: the credentials were accepted
    but may not do this (push with pull rights). Both an :class:`AuthorizationError`
    (what it means) and an :class:`AuthenticationError` (a 401 after authenticating)."""


class NotFoundError(RegistryError):
    """The manifest, blob, tag, upload or repository does not exist (404)."""


class PlatformNotFoundError(NotFoundError, ValueError):
    """The image has no manifest for the platform asked for (``pull(..., platform=)``).

    Also a ``ValueError``, as it was before it had a type of its own.
    """


class SchemaV1NotSupportedError(RegistryError):
    """The registry served a Docker schema1 manifest, which is not supported."""


class UnknownSchemaError(RegistryError):
    """The manifest has a media type or shape the library does not know."""


class DigestMismatchError(RegistryError):
    """Content did not match the digest it was requested or announced by."""


class UnsupportedDigestError(RegistryError, ValueError):
    """A valid digest of an algorithm the client cannot verify content against.

    Documents may name content by any algorithm of the OCI digest grammar
    (``sha256+b64u:…``, ``multihash+base58:…``) and are read as they are; fetching
    content by such a digest is refused rather than done unverified. sha256 and
    sha512 are verified. Also a ``ValueError`` (a digest the client cannot use).
    """


class TokenError(RegistryError):
    """An unusable auth challenge or token-server answer."""


class RegistryUnavailableError(RegistryError):
    """The registry could not be reached, timed out or kept failing after retries."""


class RegistrySSLError(RegistryError):
    """TLS failed: bad certificate, wrong host name or protocol mismatch."""


class RegistryResponseError(RegistryError):
    """The registry answered with an unexpected status or a malformed body."""


class LayoutError(RegistryError, ValueError):
    """An OCI image layout on disk is malformed, or has no image of the name asked for.

    Also a ``ValueError``, as it was before it had a type of its own.
    """


class LayoutNotFoundError(LayoutError, FileNotFoundError):
    """A directory is not an OCI image layout, or a blob file its manifests list is missing.

    Also a ``FileNotFoundError`` (so an ``OSError``), as it was before it had a type of its own.
    """


class LayerError(RegistryError, ValueError):
    """A layer cannot be used: a file given to ``mutate.append`` is not a tar or tar.gz
    (or is zstd), a directory holds a socket, FIFO or device, or a layer blob read for
    ``flatten``/``export`` is not a tar stream. Also a ``ValueError``."""


class BaseMismatchError(RegistryError, ValueError):
    """``mutate.rebase`` was told an ``old_base`` whose layers do not start the image's
    layers: the image was not built on it. Also a ``ValueError``."""


class ArchiveError(LayoutError):
    """A tar file is not a docker-archive or an oci-archive, or one that is malformed
    (a member that would land outside the folder it is unpacked into, a layer missing).

    Also a ``ValueError``.
    """


class NotAnImageError(RegistryError, ValueError):
    """The manifest is not what the operation needs: an index where one platform's image
    manifest is needed, an artifact where an image is, or the other way round.

    Also a ``ValueError``.
    """


class ArtifactNameError(RegistryError, ValueError):
    """An artifact file's ``org.opencontainers.image.title`` is no safe file name (absolute,
    ``..``, a path separator, empty, longer than 255 bytes, or twice the same), or names a
    directory in the destination folder; nothing was written.

    Also a ``ValueError``.
    """


class JournalError(RegistryError):
    """A sync journal (``--journal``) cannot be used for this run: it was written for
    another plan -- other sync entries or another shard --, another sync has it open
    (it is locked), or it is not a sync journal at all.

    Nothing is copied and the file is left as it was: start a new journal (or delete
    this one) to mirror other entries.
    """


class CredentialStoreError(RegistryError):
    """Credentials could not be stored, erased or (``credentials_for(..., strict=True)``)
    read: docker's config file is unreadable or could not be written, or the credential
    helper failed."""


class InvalidReferenceError(ValueError):
    """An image reference string does not follow the reference grammar."""
