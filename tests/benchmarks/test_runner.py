"""The benchmark's per-run process (``benchmarks._runner``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CHECK = """
import sys
from benchmarks._runner import _DEFERRED, _import_deferred
_import_deferred(*_DEFERRED)
need = ("registry_client.services.images", "registry_client.services._pull",
        "registry_client.services._download", "registry_client.models.descriptor",
        "registry_client.retention")
print(",".join(m for m in need if m not in sys.modules) or "-", "httpx" in sys.modules)
"""


def test_deferred_imports_are_made_before_the_clock_without_the_asyncio_flavour() -> None:
    # a call's first-use imports fell inside the timed operation (~16 ms of a pull)
    out = subprocess.run([sys.executable, "-c", _CHECK], capture_output=True, text=True,
                         check=True, timeout=60, cwd=ROOT).stdout.split()
    assert out == ["-", "False"]
