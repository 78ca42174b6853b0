"""The shared shape of every asyncio service: the flows it runs and the shell that runs them."""

from __future__ import annotations

from typing import Generic, TypeVar

from .._flow import Flow
from ._run import AsyncPerformer, arun

__all__ = ["AsyncService"]

T = TypeVar("T")
F = TypeVar("F")



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
