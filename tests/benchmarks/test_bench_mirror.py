"""Smoke test of ``python -m benchmarks.mirror`` on a few images: every mode it runs
reports its rows, without failures; a re-run finds every image there (one HEAD each)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_mirror_benchmark_reports_each_mode(tmp_path: Path) -> None:
    out = tmp_path / "mirror.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.mirror", "--images", "12", "--workers", "2",
         "--modes", "one-pass,threads,processes,rerun", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    modes = report["modes"]
    assert set(modes) == {"one-pass", "threads", "processes", "rerun"}
    for name in ("one-pass", "threads", "processes"):
        assert modes[name]["copied"] == 12 and modes[name]["failures"] == 0
        assert modes[name]["target_requests"] >= 12 * 3  # blobs and a manifest each
    assert modes["rerun"]["present"] == 12 and modes["rerun"]["target_requests"] == 12
    assert "images/s" in proc.stdout
