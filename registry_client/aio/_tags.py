"""AsyncTagService: the tags of one repository, awaitable; listings as async iterators."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable
from typing import Literal, overload

from ..models import Descriptor, TagPage
from ..services.tags import TagFlows
from ._base import AsyncRepositoryService

__all__ = ["AsyncTagService"]


class AsyncTagService(AsyncRepositoryService[TagFlows]):
    """Async form of :class:`~registry_client.services.TagService`: the same methods,
    arguments, results and errors, awaited; ``pages`` and ``iter`` are async iterators
    (``async for tag in repo.tags.iter()``), reading each page when it is asked for."""

    async def list(self, n: int | None = None, last: str | None = None) -> TagPage:
        """Async form of :meth:`TagService.list`."""
        return await self._run(self.flows.list(n, last))

    async def pages(self, page_size: int | None = None) -> AsyncIterator[TagPage]:
        """Async form of :meth:`TagService.pages`: ``async for page in tags.pages()``."""
        async for page in self._run_pages(self.flows.pages(page_size)):
            yield page

    async def iter(self, page_size: int | None = None) -> AsyncIterator[str]:
        """Async form of :meth:`TagService.iter`: ``async for tag in tags.iter()``."""
        async for page in self.pages(page_size):
            for tag in page.tags:
                yield tag

    @overload
    async def get_all(self, with_digests: Literal[False] = False) -> builtins.list[str]: ...
    @overload
    async def get_all(self, with_digests: Literal[True]) -> dict[str, str]: ...

    async def get_all(self, with_digests: bool = False) -> builtins.list[str] | dict[str, str]:
        """Async form of :meth:`TagService.get_all`."""
        return await self._run(self.flows.get_all(with_digests))

    async def digests(self, tags: Iterable[str]) -> dict[str, str]:
        """Async form of :meth:`TagService.digests` (the HEADs run as tasks)."""
        return await self._run(self.flows.digests(tags))

    async def find(self, reference: str) -> Descriptor | None:
        """Async form of :meth:`TagService.find`."""
        return await self._run(self.flows.find(reference))

    async def delete(self, tag: str) -> None:
        """Async form of :meth:`TagService.delete`."""
        return await self._run(self.flows.delete(tag))
