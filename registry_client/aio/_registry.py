"""AsyncRegistry: the asyncio entry point -- ping, list, open repositories, awaited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TypedDict, TypeVar

import httpx

from .._flow import Flow
from .._http import DEFAULT_BODY_LIMIT
from ..auth import Authenticator
from ..ratelimit import RateLimit
from ..reference import DEFAULT_DOMAIN, ImageReference
from ..registry import RegistryBase, docker_config_options, reference_options
from ..services._registry import RegistryFlows
from ._listing import Listing, apages
from ._repository import AsyncRepository
from ._requester import AsyncRequester
from ._run import arun
from ._shell import AsyncShell

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["AsyncRegistry", "AsyncRegistryOptions"]

T = TypeVar("T")


class AsyncRegistryOptions(TypedDict, total=False):
    """The keyword options of :class:`AsyncRegistry`, as ``from_reference`` and
    ``from_docker_config`` pass them on."""

    authenticator: Authenticator | None
    protocol: str
    transport: httpx.AsyncBaseTransport | None
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


class AsyncRegistry(RegistryBase[AsyncRepository]):
    """Async form of :class:`~registry_client.Registry`: one pooled ``httpx.AsyncClient``
    per registry, the same options, methods and errors, awaited.

    The options are :class:`~registry_client.Registry`'s, but for ``session``: an
    asyncio registry sends through httpx, and ``transport`` (an
    ``httpx.AsyncBaseTransport``, e.g. ``httpx.MockTransport`` in tests) replaces it.
    The same ``NullAuthenticator`` / ``BasicAuthenticator`` / ``TokenAuthenticator``
    objects configure it; a token is asked for once however many tasks need it.

    Use it as ``async with AsyncRegistry(...) as reg:``, or call :meth:`aclose`.
    Listing the catalog: ``async for repo in reg.repositories()`` reads page by page;
    ``await reg.repositories()`` gives the whole list, as the blocking method does.
    """

    _requester: AsyncRequester

    def __init__(
        self,
        domain: str = DEFAULT_DOMAIN,
        *,
        authenticator: Authenticator | None = None,
        protocol: str = "https",
        transport: httpx.AsyncBaseTransport | None = None,
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
        self._requester = AsyncRequester(
            self.domain, authenticator, protocol, transport=transport, timeout=timeout,
            verify=verify, proxy=proxy, retries=retries, user_agent=user_agent,
            pool_size=self._pool_size(pool_size), backoff=backoff, max_backoff=max_backoff,
            body_limit=body_limit)
        self._shell = AsyncShell(self._requester)
        self.flows = RegistryFlows(self._requester, self._requester.authenticator)

    @classmethod
    def from_reference(
        cls, reference: str | ImageReference, **kw: Unpack[AsyncRegistryOptions]
    ) -> AsyncRegistry:
        """Async form of :meth:`Registry.from_reference` (no request is made)."""
        domain, options = reference_options(reference, dict(kw))
        return cls(domain, **options)

    @classmethod
    def from_docker_config(
        cls, domain: str = DEFAULT_DOMAIN, **kw: Unpack[AsyncRegistryOptions]
    ) -> AsyncRegistry:
        """An AsyncRegistry using the credentials docker stored for ``domain``: as
        :meth:`Registry.from_docker_config` (the same lookup; a credential helper runs
        here, before any await)."""
        return cls(domain, **docker_config_options(domain, dict(kw)))

    async def __aenter__(self) -> AsyncRegistry:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release pooled connections."""
        await self._requester.aclose()

    async def close(self) -> None:
        """Async form of :meth:`Registry.close`: release pooled connections (the same as
        :meth:`aclose`, httpx's name for it)."""
        await self.aclose()

    async def _run(self, flow: Flow[T]) -> T:
        return await arun(flow, self._shell)

    @property
    def requester(self) -> AsyncRequester:
        """The asyncio Requester every request of this registry goes through."""
        return self._requester

    async def check_rate_limit(self, reference: str | ImageReference) -> RateLimit | None:
        """Async form of :meth:`Registry.check_rate_limit`."""
        return await self._run(self.flows.check_rate_limit(reference))

    async def ping(self) -> None:
        """Async form of :meth:`Registry.ping`."""
        return await self._run(self.flows.ping())

    def repository(self, name: str) -> AsyncRepository:
        """As :meth:`Registry.repository`: an :class:`AsyncRepository` (no request is made)."""
        return self._open(self.flows.repository_name(name))

    def _open(self, name: str) -> AsyncRepository:
        return AsyncRepository(name, self._requester, shell=self._shell, registry=self,
                               max_workers=self.max_workers)

    async def iter_repositories(
        self, page_size: int | None = None,
    ) -> AsyncIterator[AsyncRepository]:
        """Async form of :meth:`Registry.iter_repositories`: ``async for repo in
        reg.iter_repositories()``, each page read when it is reached."""
        async for names in apages(self.flows.catalog(page_size), self._shell):
            for name in names:
                yield self._open(name)

    def repositories(self) -> Listing[AsyncRepository]:
        """Every repository in the catalog: ``async for repo in reg.repositories()``, or
        ``await reg.repositories()`` for the list (as :meth:`Registry.repositories`)."""
        return Listing(self.iter_repositories)

    async def search(self, substring: str) -> list[str]:
        """Async form of :meth:`Registry.search`."""
        return [r.name async for r in self.iter_repositories() if substring in r.name]
