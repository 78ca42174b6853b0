"""Paged listings of the asyncio API: :func:`apages` reads a Pager as an async iterator;
:class:`Listing` is read with ``async for``, or awaited whole as the blocking list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, Generic, TypeVar

from .._pagination import Pager
from ._run import AsyncPerformer, arun

__all__ = ["Listing", "apages"]

T = TypeVar("T")


async def apages(pager: Pager[T], performer: AsyncPerformer) -> AsyncIterator[T]:
    """Each page's value of ``pager``, its flow run by ``performer`` when it is asked for
    (the async twin of ``_pagination.pages``)."""
    while (flow := pager.next()) is not None:
        yield await arun(flow, performer)


class Listing(Generic[T]):
    """What ``AsyncRegistry.repositories()`` returns: iterate it (``async for repo in
    reg.repositories()``, each page read when it is reached), or await it for the
    whole list, as the blocking ``Registry.repositories()`` returns it
    (``repos = await reg.repositories()``). Each iteration or await reads the pages again.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Callable[[], AsyncIterator[T]]) -> None:
        self._items = items

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    def __await__(self) -> Generator[Any, None, list[T]]:
        return self._all().__await__()

    async def _all(self) -> list[T]:
        return [item async for item in self._items()]
