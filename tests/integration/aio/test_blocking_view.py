"""The ``flavour`` fixture's BlockingView on stand-in objects: the harness itself, checked.

The asyncio flavour's scenarios are only as good as the view that drives them, so its
rules are pinned here without a registry: calls run on the loop, awaitables are awaited,
async iterators read out, objects of ``registry_client.aio`` wrapped on the way out and
unwrapped on the way in, exceptions passed through unchanged.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _flavours import AsyncioFlavour, BlockingView

from registry_client import NotFoundError


class StandInService:
    def __init__(self, owner: StandInRepository) -> None:
        self.owner = owner

    async def get(self, reference: str) -> tuple[str, str, str]:
        return (self.owner.name, reference, threading.current_thread().name)

    async def fail(self) -> None:
        raise NotFoundError("stand-in: no such thing")

    async def iter(self) -> AsyncIterator[str]:
        for tag in ("a", "b"):
            yield tag

    async def copy(self, target: StandInRepository) -> str:
        assert isinstance(target, StandInRepository)  # a view never reaches the API
        return target.name


class StandInRepository:
    def __init__(self, name: str) -> None:
        self.name = name
        self.tags = StandInService(self)

    async def siblings(self) -> list[StandInRepository]:
        return [StandInRepository(self.name + "-1"), StandInRepository(self.name + "-2")]


for cls in (StandInService, StandInRepository):  # what the view takes for the asyncio API
    cls.__module__ = "registry_client.aio._standin"


@pytest.fixture
def flavour() -> Iterator[AsyncioFlavour]:
    """The asyncio flavour alone (its portal), for the stand-ins."""
    made = AsyncioFlavour()
    yield made
    made.close()


def test_calls_run_on_the_loop_and_results_come_back_wrapped(flavour: AsyncioFlavour) -> None:
    repo = BlockingView(StandInRepository("demo/app"), flavour.portal)
    assert repo.name == "demo/app"
    assert isinstance(repo.tags, BlockingView)
    name, reference, thread = repo.tags.get("1.0")
    assert (name, reference) == ("demo/app", "1.0")
    assert thread != threading.current_thread().name  # the loop's thread, not the test's
    assert repo.tags.iter() == ["a", "b"]  # an async iterator, read to the end
    siblings = repo.siblings()
    assert [type(s) for s in siblings] == [BlockingView, BlockingView]
    assert [s.name for s in siblings] == ["demo/app-1", "demo/app-2"]


def test_views_are_unwrapped_as_arguments(flavour: AsyncioFlavour) -> None:
    repo = BlockingView(StandInRepository("demo/app"), flavour.portal)
    target = BlockingView(StandInRepository("demo/target"), flavour.portal)
    assert repo.tags.copy(target) == "demo/target"


def test_exceptions_pass_through_unchanged(flavour: AsyncioFlavour) -> None:
    repo = BlockingView(StandInRepository("demo/app"), flavour.portal)
    with pytest.raises(NotFoundError, match=r"^stand-in: no such thing$"):
        repo.tags.fail()
