"""Paged listings of the asyncio flavour are async iterators (issue #14):
``async for r in reg.repositories()``, every page followed through ``Link``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from registry_client.testing import LocalRegistry, LocalRegistryFactory, seed_many_repositories

pytestmark = pytest.mark.integration

NAMES = [f"list/app-{i}" for i in range(5)]


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


@pytest.fixture(scope="module")
def catalog(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    reg = local_registry_factory("anonymous")
    seed_many_repositories(reg, NAMES)
    return reg


@pytest.mark.anyio
async def test_repositories_and_tags_are_async_iterators(
    catalog: LocalRegistry, aclient_for: Callable[..., Any],
) -> None:
    async with aclient_for(catalog) as areg:
        repos = [r async for r in areg.repositories()]
        assert [r.name for r in repos] == NAMES
        assert [t async for t in repos[0].tags.iter()] == ["latest"]
        assert await repos[-1].tags.get_all() == ["latest"]

        catalog.clear_access_log()
        paged = [r.name async for r in areg.iter_repositories(page_size=2)]
        assert paged == NAMES
        assert catalog.request_count("GET", "/v2/_catalog") == 3  # 2 + 2 + 1, Link followed
        repo = await maybe_await(areg.repository(NAMES[0]))
        assert [t async for t in repo.tags.iter(page_size=1)] == ["latest"]
