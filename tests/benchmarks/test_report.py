"""The benchmark report's arithmetic: ratios of a round's runs (``benchmarks._report``)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def report(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks._report``, imported from the project's root (not an installed package)."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks._report")


def _row(*times: float, failed: tuple[int, ...] = ()) -> dict[str, Any]:
    runs = [{"ok": i not in failed, "time_s": t} for i, t in enumerate(times)]
    good = [t for i, t in enumerate(times) if i not in failed]
    return {"runs": runs, "median_s": sorted(good)[len(good) // 2]}


def test_paired_is_the_median_of_the_ratios_of_each_round(report: ModuleType) -> None:
    # a machine that slows down over the rounds: each round's ratio is 1.1
    ours, curl = _row(1.1, 2.2, 4.4, 8.8), _row(1.0, 2.0, 4.0, 8.0)
    assert report.paired(ours, curl) == (pytest.approx(1.1), 4)


def test_paired_skips_a_round_where_either_run_failed(report: ModuleType) -> None:
    ours = _row(1.2, 9.0, 1.2, 1.2, 1.2, failed=(1,))
    curl = _row(1.0, 1.0, 1.0, 9.0, 1.0, failed=(3,))
    assert report.paired(ours, curl) == (pytest.approx(1.2), 3)
    assert report.paired(_row(1.2, 1.2), _row(1.0, 1.0)) is None  # too few rounds to say


def test_the_goal_says_the_paired_ratio_beside_the_ratio_of_the_medians(report: ModuleType) -> None:
    ours, curl = _row(1.1, 2.2, 4.4), _row(1.0, 2.0, 4.0)
    goal = report._ratio_goal("f-curl", "f", "registry_client", ours, curl, 1.35, "wall")
    assert goal["measured"] == ("2.200 s = 1.10 x curl (2.000 s); "
                                "paired median 1.10 x over 3 rounds")
    assert goal["status"] == "pass"
    # the verdict is the ratio of the medians', as before
    slow = _row(1.0, 3.0, 3.0)
    assert report._ratio_goal("f-curl", "f", "registry_client", slow, _row(2.0, 2.0, 2.0),
                              1.35, "wall")["status"] == "short"


def test_the_asyncio_line_says_the_paired_ratio(report: ModuleType) -> None:
    results = {"registry_client": {**_row(1.0, 2.0, 3.0), "cpu_s": 1.0},
               "registry_client (asyncio)": {**_row(0.9, 1.8, 2.7), "cpu_s": 1.0}}
    line = report.async_vs_sync(results)
    assert line is not None and "paired median 0.90 x over 3 rounds" in line
