"""Listing: iterated with ``async for``, or awaited for the whole list."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from registry_client.aio import Listing

pytestmark = pytest.mark.anyio


async def test_a_listing_iterates_and_awaits_and_reads_again_each_time() -> None:
    reads = 0

    async def items() -> AsyncIterator[int]:
        nonlocal reads
        reads += 1
        for i in range(3):
            yield i

    listing = Listing(items)
    assert [i async for i in listing] == [0, 1, 2]
    assert await listing == [0, 1, 2]
    assert reads == 2
