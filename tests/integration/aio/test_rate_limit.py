"""A 429 with ``Retry-After`` pauses every task of an ``AsyncRegistry`` together (issue #14).

As the blocking API does for its worker threads: the first task that meets the limit
makes all of them wait out the registry's ``Retry-After``, instead of each one finding the
limit on its own. Arrival times at a FaultProxy show it: after the 429 (and the requests
already on their way), nothing reaches the registry until the pause is over.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from registry_client.testing import FaultProxy, LocalRegistry, seed_tags

pytestmark = pytest.mark.integration

TASKS = 8
GETS = 30
RETRY_AFTER = 1.0
IN_FLIGHT = 0.05  # requests sent before the 429 was read may still arrive this late


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry) as fault_proxy:
        yield fault_proxy


@pytest.mark.anyio
async def test_a_429_pauses_every_task_of_the_registry_together(
    proxy: FaultProxy, anon_registry: LocalRegistry, aclient_for: Callable[..., Any],
    unique_repository: str,
) -> None:
    tags = [f"t{i}" for i in range(TASKS)]
    image = seed_tags(anon_registry, unique_repository, tags)
    # the 10th GET of t3 is refused once, mid-run; every GET takes >= 10 ms, so without a
    # shared pause the other tasks would go on sending during the second of Retry-After
    proxy.add_rule("GET", r"/manifests/t3$", action="status", status=429,
                   retry_after=int(RETRY_AFTER), every=10, times=1)
    proxy.add_rule("GET", r"/manifests/", action="delay", delay=0.01, times=None)

    async with aclient_for(anon_registry, host=proxy.host, backoff=0.01) as areg:
        repo = await maybe_await(areg.repository(unique_repository))

        async def task(tag: str) -> list[str]:
            return [(await repo.manifests.get_raw(tag)).digest for _ in range(GETS)]

        results = await asyncio.gather(*(task(t) for t in tags))

    assert results == [[image.digest] * GETS] * TASKS
    gets = [r for r in proxy.requests if r.method == "GET" and "/manifests/" in r.path]
    [limited] = [r for r in gets if r.status == 429]
    assert sum(1 for r in gets if r.status == 200) == TASKS * GETS
    later = [r for r in gets if r.time > limited.time + IN_FLIGHT]
    early = [(r.path, round(r.time - limited.time, 3)) for r in later
             if r.time < limited.time + 0.95 * RETRY_AFTER]
    assert early == [], "requests were sent during the pause"
    for tag in tags:  # and every task went on once the pause was over
        assert any(r.path.endswith(f"/manifests/{tag}") for r in later), tag
