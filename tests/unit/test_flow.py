"""Flows: the blocking runner sends results in and throws effects' errors in."""

from __future__ import annotations

from typing import Any

import pytest

from registry_client._flow import Effect, Flow, Offload, run


class _Performer:
    def __init__(self) -> None:
        self.seen: list[Effect] = []

    def perform(self, effect: Effect) -> Any:
        self.seen.append(effect)
        assert isinstance(effect, Offload)
        return effect.fn()


def _twice() -> Flow[int]:
    a = yield Offload(lambda: 20)
    b = yield Offload(lambda: 22)
    return a + b


def test_run_sends_each_result_back_and_returns_the_flow_value() -> None:
    performer = _Performer()
    assert run(_twice(), performer) == 42
    assert len(performer.seen) == 2


def test_an_effect_error_is_thrown_into_the_flow_which_may_recover() -> None:
    def boom() -> int:
        raise OSError("disk full")

    def flow() -> Flow[str]:
        try:
            yield Offload(boom)
        except OSError as exc:
            return f"recovered from {exc}"
        return "not reached"

    assert run(flow(), _Performer()) == "recovered from disk full"


def test_an_error_the_flow_does_not_catch_reaches_the_caller_after_cleanup() -> None:
    cleaned: list[bool] = []

    def boom() -> int:
        raise KeyboardInterrupt

    def flow() -> Flow[None]:
        try:
            yield Offload(boom)
        finally:
            cleaned.append(True)

    with pytest.raises(KeyboardInterrupt):
        run(flow(), _Performer())
    assert cleaned == [True]


def test_composed_flows_run_as_one() -> None:
    def outer() -> Flow[int]:
        x = yield from _twice()
        y = yield Offload(lambda: 1)
        return x + y

    assert run(outer(), _Performer()) == 43
