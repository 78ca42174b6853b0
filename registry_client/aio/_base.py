"""The shared shape of every asyncio service: the flows it runs and the shell that runs them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Generic, TypeVar

from .._flow import Flow
from .._pagination import Pager
from ..errors import RegistryError
from ..services._base import Service, in_repository
from ._listing import apages
from ._run import AsyncPerformer, arun

__all__ = ["AsyncRepositoryService", "AsyncService"]

T = TypeVar("T")
F = TypeVar("F")
S = TypeVar("S", bound=Service)


class AsyncService(Generic[F]):
    """Base of the asyncio services: ``flows`` is the blocking service's protocol core
    (its ``<X>Flows``), run here by the asyncio ``shell`` instead of the blocking one."""

    def __init__(self, flows: F, shell: AsyncPerformer) -> None:
        self.flows = flows
        self._shell = shell

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.flows!r})"

    async def _run(self, flow: Flow[T]) -> T:
        """Run ``flow`` with the asyncio shell (httpx, tasks): its result."""
        return await arun(flow, self._shell)

    def _run_pages(self, pager: Pager[T]) -> AsyncIterator[T]:
        """Each page's value of ``pager``, run with the asyncio shell as it is asked for."""
        return apages(pager, self._shell)


class AsyncRepositoryService(AsyncService[S]):
    """An asyncio service of one repository: its flows are a blocking service's
    ``<X>Flows``, and it names the repository and domain as that service does."""

    @property
    def repository(self) -> str:
        """The repository name (``library/alpine``)."""
        return self.flows.repository

    @property
    def domain(self) -> str:
        """The registry domain this service talks to."""
        return self.flows.domain

    def scope(self, actions: str) -> str:
        """The token scope for ``actions`` on this repository."""
        return self.flows.scope(actions)

    async def _run(self, flow: Flow[T]) -> T:
        """:meth:`AsyncService._run`, its error naming this repository as the blocking
        service's does (``services._base.in_repository``)."""
        try:
            return await arun(flow, self._shell)
        except RegistryError as exc:
            in_repository(exc, self.domain, self.repository)
            raise  # (the same error: its cause kept)

    async def _run_pages(self, pager: Pager[T]) -> AsyncIterator[T]:
        """:meth:`AsyncService._run_pages`, an error naming this repository."""
        try:
            async for value in apages(pager, self._shell):
                yield value
        except RegistryError as exc:
            in_repository(exc, self.domain, self.repository)
            raise  # (the same error: its cause kept)
