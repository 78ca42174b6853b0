"""Smoke test of the benchmark harness: ``python -m benchmarks --quick --only a,d,g``.

Runs the real registries and every client on small data, then checks that the JSON report
has the expected shape. No timing is asserted: timings belong to ``make bench``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from registry_client.testing import find_registry_binary

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_writes_the_expected_report(tmp_path: Path) -> None:
    try:
        find_registry_binary()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "a,d,g", "--no-peers",
         "--json", str(out), "--markdown", str(tmp_path / "bench.md")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())

    assert {"meta", "workloads", "goals", "gaps"} <= report.keys()
    assert report["meta"]["quick"] is True
    assert set(report["workloads"]) == {"a", "d", "g"}
    for key in ("a", "d"):
        w = report["workloads"][key]
        assert {"title", "payload_bytes", "runs", "results", "elapsed_s"} <= w.keys()
        for client in ("registry_client", "registry_client (asyncio)", "curl (sequential)",
                       "curl (xargs -P4)"):
            row = w["results"][client]
            assert row["n_failed"] == 0, row
            for field in ("median_s", "mb_per_s", "registry_requests", "token_requests",
                          "connections", "peak_rss_mib", "x_curl", "x_sync", "runs"):
                assert field in row, (key, client, field)
            assert row["peak_rss_mib"] > 0
        # every other client is either measured or reported as a gap, never silently absent
        for client in ("registry_client CLI", "skopeo", "python-dxf"):
            row = w["results"][client]
            assert "gap" in row or "median_s" in row or "error" in row, row
    pull = report["workloads"]["a"]["results"]["registry_client"]
    assert pull["registry_requests"] >= 6 and pull["token_requests"] >= 1
    assert pull["x_sync"] == 1.0  # the blocking row is the asyncio row's yardstick
    apull = report["workloads"]["a"]["results"]["registry_client (asyncio)"]
    assert apull["token_requests"] >= 1 and apull["registry_requests"] >= 6
    cold = report["workloads"]["g"]["results"]
    for row in ("python -c pass", "import requests", "import registry_client"):
        assert cold[row]["median_s"] > 0

    ids = {g["id"] for g in report["goals"]}
    assert {"a-curl", "a-skopeo", "a-requests", "d-token", "d-requests", "d-connections",
            "g-import", "a-async", "d-async", "d-async-token"} <= ids
    assert {g["status"] for g in report["goals"]} <= {"pass", "short", "n/a"}
    markdown = (tmp_path / "bench.md").read_text()
    assert "## How to run" in markdown
    assert "x the time of registry_client" in markdown  # the asyncio row vs the blocking one
