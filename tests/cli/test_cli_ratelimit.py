"""``registry-client ratelimit`` against a real registry (which reports no limit)."""

from __future__ import annotations

import json
import subprocess
import sys

from registry_client.testing import LocalRegistry, seed_image


def test_ratelimit_reports_no_limit_on_distribution(anon_registry: LocalRegistry) -> None:
    seed_image(anon_registry, "rl/app", "1.0")
    ref = f"{anon_registry.host}/rl/app:1.0"
    out = subprocess.run([sys.executable, "-m", "registry_client", "ratelimit", ref,
                          "--plain-http"], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{anon_registry.host}: no limit reported"
    out = subprocess.run([sys.executable, "-m", "registry_client", "--json", "ratelimit", ref,
                          "--plain-http"], capture_output=True, text=True, timeout=60,
                         check=False)
    assert json.loads(out.stdout) is None
    assert anon_registry.request_count("HEAD", "/rl/app/manifests/1.0") == 2
