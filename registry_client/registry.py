"""Registry: the entry point -- connect to a registry, ping it, list it, open repositories."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypedDict, TypeVar

import requests

from ._flow import Flow, run
from ._http import DEFAULT_BODY_LIMIT
from ._pagination import pages
from .auth import Authenticator, TokenAuthenticator
from .ratelimit import RateLimit
from .reference import DEFAULT_DOMAIN, ImageReference, canonical_domain, parse_image_name
from .repository import Repository
from .requester import Requester
from .services._registry import RegistryFlows
from .services._shell import BlockingShell

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Registry", "RegistryBase", "RegistryOptions", "docker_config_options",
           "reference_options"]

T = TypeVar("T")
R = TypeVar("R")


class RegistryOptions(TypedDict, total=False):
    """The keyword options of :class:`Registry`, as ``from_reference`` and
    ``from_docker_config`` pass them on (see ``Registry`` for what each means)."""

    authenticator: Authenticator | None
    protocol: str
    session: requests.Session | None
    timeout: float | tuple[float, float]
    verify: bool | str
    proxy: str | None
    retries: int
    max_workers: int
    user_agent: str | None
    pool_size: int | None
    backoff: float
    max_backoff: float
    body_limit: int


def reference_options(
    reference: str | ImageReference, kw: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    """The domain and options for a registry of ``reference``'s domain (``from_reference``
    of both flavours): a reference written with a scheme sets ``protocol`` unless given.

    Raises:
        InvalidReferenceError: the reference is malformed.
    """
    ref = reference if isinstance(reference, ImageReference) else parse_image_name(
        reference, allow_scheme=True
    )
    if ref.scheme and "protocol" not in kw:
        kw["protocol"] = ref.scheme
    return ref.domain, kw


def docker_config_options(domain: str, kw: dict[str, Any]) -> dict[str, Any]:
    """``kw`` with the authenticator docker stored credentials for ``domain`` in, unless
    ``kw`` names one (``from_docker_config`` of both flavours)."""
    from .docker_config import authenticator_for  # json/subprocess only for this call

    if "authenticator" not in kw:
        kw["authenticator"] = authenticator_for(domain)
    return kw


class _Requester(Protocol):
    """What :class:`RegistryBase` reads of either flavour's requester."""

    protocol: str

    @property
    def rate_limit(self) -> RateLimit | None:
        """The rate limit the registry last reported."""


class RegistryBase(abc.ABC, Generic[R]):
    """What both flavours of registry share (``Registry`` and ``AsyncRegistry``): the
    domain, the workers, the registry-wide flows, and how names and references give
    a repository (``R``) there."""

    _requester: _Requester
    flows: RegistryFlows
    """The protocol of this registry's own methods, as flows (shared by both flavours)."""

    def __init__(self, domain: str, max_workers: int) -> None:
        self.domain = canonical_domain(domain)
        self.max_workers = max(1, int(max_workers))

    def _pool_size(self, pool_size: int | None) -> int:
        """The connections to keep: ``pool_size``, by default ``max(10, max_workers + 2)``."""
        return max(10, self.max_workers + 2) if pool_size is None else pool_size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(domain={self.domain!r}, " \
               f"protocol={self._requester.protocol!r})"

    @property
    def rate_limit(self) -> RateLimit | None:
        """The pull budget the registry last reported (Docker Hub's ratelimit headers)."""
        return self._requester.rate_limit

    @abc.abstractmethod
    def repository(self, name: str) -> R:
        """The repository ``name`` (``library/alpine``); no request is made.

        Raises:
            InvalidReferenceError: the name is not a valid repository path.
        """

    def repository_from_string(self, s: str) -> R:
        """The repository named by a reference string on this registry (tag/digest ignored).

        Raises:
            ValueError: the reference is on another registry, or malformed.
        """
        return self.repository(self.flows.repository_path(s))


class Registry(RegistryBase[Repository]):
    """A container registry, reached through one pooled, thread-safe Requester.

    Args:
        domain: as in image references: ``docker.io``, ``ghcr.io``, ``localhost:5000``.
        authenticator: credentials strategy; None means anonymous token auth (as ``docker pull``).
        protocol: ``"https"`` (default) or ``"http"`` for a local or insecure registry.
        session: a ``requests.Session`` to send through (default: a new pooled one).
        timeout: ``(connect, read)`` seconds, default ``(2, 5)``; streaming reads go on
            as long as bytes keep flowing.
        verify: TLS verification, True (default), False or a CA bundle path.
        proxy: a proxy URL for every request.
        retries: retries after the first attempt of idempotent requests (default 3).
        max_workers: parallel transfers and HEADs (default 4).
        user_agent: the User-Agent header.
        pool_size: connections kept open per host (default ``max(10, max_workers + 2)``);
            used only for the session the Registry makes itself.
        backoff: base of the exponential backoff between retries, in seconds (default 0.25).
        max_backoff: the longest wait between retries, in seconds, ``Retry-After``
            included (default 30).
        body_limit: the largest manifest or JSON body read into memory, in bytes
            (default 4 MiB); a larger one is a ``RegistryResponseError``.

    Usable as a context manager; ``close()`` releases the connections.
    """

    _requester: Requester

    def __init__(
        self,
        domain: str = DEFAULT_DOMAIN,
        *,
        authenticator: Authenticator | None = None,
        protocol: str = "https",
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (2, 5),
        verify: bool | str = True,
        proxy: str | None = None,
        retries: int = 3,
        max_workers: int = 4,
        user_agent: str | None = None,
        pool_size: int | None = None,
        backoff: float = 0.25,
        max_backoff: float = 30.0,
        body_limit: int = DEFAULT_BODY_LIMIT,
    ) -> None:
        super().__init__(domain, max_workers)
        self._requester = Requester(
            self.domain,
            authenticator if authenticator is not None else TokenAuthenticator(),
            session,
            protocol,
            timeout=timeout,
            verify=verify,
            proxy=proxy,
            retries=retries,
            user_agent=user_agent,
            pool_size=self._pool_size(pool_size),
            backoff=backoff,
            max_backoff=max_backoff,
            body_limit=body_limit,
        )
        self.flows = RegistryFlows(self._requester, self._requester.authenticator)

    @classmethod
    def from_reference(
        cls, reference: str | ImageReference, **kw: Unpack[RegistryOptions]
    ) -> Registry:
        """A Registry for the domain of an image reference (``quay.io/org/app:1.0``).

        ``kw`` are the options of :class:`Registry`; a reference written with a
        scheme (``http://localhost:5000/app``) sets ``protocol`` unless given.

        Raises:
            InvalidReferenceError: the reference is malformed.
        """
        domain, options = reference_options(reference, dict(kw))
        return cls(domain, **options)

    @classmethod
    def from_docker_config(
        cls, domain: str = DEFAULT_DOMAIN, **kw: Unpack[RegistryOptions]
    ) -> Registry:
        """A Registry using the credentials docker stored for ``domain``.

        Reads ``~/.docker/config.json`` (or ``$DOCKER_CONFIG/config.json``):
        ``auths``, ``credsStore`` and ``credHelpers``. Anonymous when none, and
        when a credential helper fails (a warning on the ``registry_client`` logger;
        the error of a request the registry then refuses names the helper).
        ``kw`` are the options of :class:`Registry` (an ``authenticator`` given
        there wins over the stored credentials).
        """
        return cls(domain, **docker_config_options(domain, dict(kw)))

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._requester.close()

    def _run(self, flow: Flow[T]) -> T:
        """Run ``flow`` with the blocking shell: its result."""
        return run(flow, BlockingShell(self._requester))

    @property
    def requester(self) -> Requester:
        """The Requester every request of this registry goes through."""
        return self._requester

    def check_rate_limit(self, reference: str | ImageReference) -> RateLimit | None:
        """Ask for the current rate limit with a manifest HEAD (not counted by Docker Hub).

        ``reference`` names an image on this registry (``library/alpine:latest``).
        Returns None when the registry reports no limit.

        Raises:
            NotFoundError: the image does not exist.
        """
        return self._run(self.flows.check_rate_limit(reference))

    def ping(self) -> None:
        """Check that a registry answers at this domain and accepts our credentials.

        The answer to ``GET /v2/`` must be a registry's: the
        ``Docker-Distribution-API-Version`` header, or (for registries that omit
        it) the empty JSON object ``{}``, or a Basic/Bearer challenge. A web server that is not a
        registry (an HTML page, a 404) is told apart from a registry that refuses.

        Raises:
            RegistryUnavailableError: it cannot be reached.
            AuthenticationError: it refused the credentials.
            RegistryResponseError: the server there is not a container registry.
        """
        return self._run(self.flows.ping())

    def repository(self, name: str) -> Repository:
        """The repository ``name`` (``library/alpine``); no request is made.

        Raises:
            InvalidReferenceError: the name is not a valid repository path.
        """
        return Repository(self.flows.repository_name(name), self._requester, registry=self,
                          max_workers=self.max_workers)

    def iter_repositories(self, page_size: int | None = None) -> Iterator[Repository]:
        """Every repository in the catalog, page after page.

        Raises:
            AuthorizationError: the catalog is not open to these credentials.
        """
        for names in pages(self.flows.catalog(page_size), BlockingShell(self._requester)):
            yield from (Repository(name, self._requester, registry=self,
                                   max_workers=self.max_workers) for name in names)

    def repositories(self) -> list[Repository]:
        """Every repository in the catalog (all pages followed)."""
        return list(self.iter_repositories())

    def search(self, substring: str) -> list[str]:
        """Names of catalog repositories containing ``substring`` (filtered here, not remotely)."""
        return [r.name for r in self.iter_repositories() if substring in r.name]
