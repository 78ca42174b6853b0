"""Listing: a catalog read with ``async for``, or awaited whole as the blocking list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, Generic, TypeVar

__all__ = ["Listing"]

T = TypeVar("T")


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
