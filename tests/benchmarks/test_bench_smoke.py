"""Smoke test of the benchmark harness: ``python -m benchmarks --quick --only a,d,f,g,h``
with ``--data-dir``, and the command lines every row of every workload builds.

Runs the real registries and every client on small data, then checks that the JSON report
has the expected shape and every goal of issue #15 is evaluated. No timing is asserted:
timings belong to ``make bench``.
"""

from __future__ import annotations

import importlib
import json
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from registry_client.testing import find_registry_binary

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ORAS = "oras-py"


def test_quick_benchmark_writes_the_expected_report(tmp_path: Path) -> None:
    try:
        find_registry_binary()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    out = tmp_path / "bench.json"
    data = tmp_path / "data"
    data.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--runs", "1", "--only", "a,d,f,g,h",
         "--no-peers", "--data-dir", str(data), "--json", str(out),
         "--markdown", str(tmp_path / "bench.md")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())

    assert {"meta", "workloads", "goals", "gaps"} <= report.keys()
    assert report["meta"]["quick"] is True
    # --data-dir: everything lived there, and is gone after the run
    assert report["meta"]["data_dir"].startswith(str(data))
    assert list(data.iterdir()) == []
    assert set(report["workloads"]) == {"a", "d", "f", "g", "h"}
    for key in ("a", "d"):
        w = report["workloads"][key]
        assert {"title", "payload_bytes", "runs", "results", "elapsed_s"} <= w.keys()
        for client in ("registry_client", "registry_client (asyncio)", "curl (sequential)",
                       "curl (xargs -P4)"):
            row = w["results"][client]
            assert row["n_failed"] == 0, row
            for field in ("median_s", "mb_per_s", "registry_requests", "token_requests",
                          "connections", "peak_rss_mib", "x_curl", "x_sync", "runs",
                          "cpu_s", "op_cpu_s"):
                assert field in row, (key, client, field)
            assert row["peak_rss_mib"] > 0
        # every other client is either measured or reported as a gap, never silently absent
        for client in ("registry_client CLI", "skopeo", "python-dxf", ORAS):
            row = w["results"][client]
            assert "gap" in row or "median_s" in row or "error" in row, row
    pulls = report["workloads"]["a"]["results"]
    pull = pulls["registry_client"]
    assert pull["registry_requests"] >= 6 and pull["token_requests"] >= 1
    assert pull["op_cpu_s"] > 0
    assert pull["x_sync"] == 1.0  # the blocking row is the asyncio row's yardstick
    apull = pulls["registry_client (asyncio)"]
    assert apull["token_requests"] >= 1 and apull["registry_requests"] >= 6
    # (a) in anonymous mode: no token, against an anonymous floor of its own
    anon, anon_floor = pulls["registry_client (anonymous)"], pulls["curl (anonymous sequential)"]
    assert anon["n_failed"] == 0 and anon_floor["n_failed"] == 0
    assert anon["token_requests"] == 0 and anon_floor["token_requests"] == 0
    assert anon["x_curl"] == pytest.approx(anon["median_s"] / anon_floor["median_s"])
    oras = pulls[ORAS]
    if "gap" in oras:  # only when oras-py is not installed in benchmarks/.peers
        assert "not installed" in oras["gap"]
    else:
        assert oras["n_failed"] == 0, oras

    blob = report["workloads"]["f"]["results"]
    sha = blob["hashlib sha256 (CPU yardstick)"]
    assert sha["n_failed"] == 0 and sha["op_cpu_s"] > 0
    assert blob["registry_client"]["op_cpu_s"] > 0
    assert blob["registry_client (asyncio)"]["n_failed"] == 0

    cold = report["workloads"]["g"]["results"]
    for row in ("python -c pass", "import requests", "import registry_client",
                "registry_client ls, in-process after import"):
        assert cold[row]["median_s"] > 0
    assert cold["registry_client ls, in-process after import"]["token_requests"] == 1

    plan = report["workloads"]["h"]["results"]
    for client in ("registry_client", "registry_client (asyncio)", "curl (xargs -P4)"):
        assert plan[client]["n_failed"] == 0, plan[client]
    # 60 tags over 3 images: the list, one HEAD per tag, a manifest and a config per image
    assert plan["curl (xargs -P4)"]["registry_requests"] == 1 + 60 + 3 + 3
    assert plan["registry_client"]["registry_requests"] >= 1 + 60 + 3 + 3
    assert plan["registry_client"]["token_requests"] == 1
    assert plan["registry_client"]["registry_cpu_s"] is not None  # read from /proc

    goals = {g["id"]: g for g in report["goals"]}
    assert {"a-curl", "a-skopeo", "a-requests", "a-anon-curl", "a-anon-requests",
            "d-token", "d-requests", "d-connections", "d-curl-p4", "d-cpu",
            "f-curl", "f-cpu", "f-rss", "g-import", "g-import-registry", "g-ls",
            "a-async", "d-async", "d-async-token"} <= goals.keys()
    assert {g["status"] for g in report["goals"]} <= {"pass", "short", "n/a"}
    for gid in ("a-anon-curl", "a-anon-requests", "d-curl-p4", "d-cpu", "f-curl", "f-cpu",
                "g-ls"):
        assert goals[gid]["status"] in ("pass", "short"), goals[gid]  # measured, not n/a
    markdown = (tmp_path / "bench.md").read_text()
    assert "## How to run" in markdown
    assert "x the time of registry_client" in markdown  # the asyncio row vs the blocking one
    assert "retention.plan:" in markdown and "x the curl -P4 floor" in markdown


# -- the command lines of every row, without servers ------------------------------------------

def _stub_registry(name: str, port: int, token: bool) -> Any:
    ts = SimpleNamespace(realm=f"http://127.0.0.1:{port + 1}/token", service="bench")
    return SimpleNamespace(name=name, host=f"127.0.0.1:{port}", url=f"http://127.0.0.1:{port}",
                           reg=SimpleNamespace(token_server=ts if token else None))


def test_every_row_builds_its_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row of every workload builds a command or names its gap -- the oras-py rows
    included, whether or not oras-py is installed here."""
    monkeypatch.syspath_prepend(str(ROOT))
    wl = importlib.import_module("benchmarks._workloads")
    data = importlib.import_module("benchmarks._data")
    image = data.make_image(tmp_path / "image", "v1", [1024, 2048])
    big = data.make_image(tmp_path / "big", "big", [4096])
    oras_path = tmp_path / "peers" / "oras-py"
    retention = wl.RetentionData(("r0", "r1", "r2"), ("sha256:" + "a" * 64,),
                                 ("sha256:" + "b" * 64,), keep=1)
    env = wl.Env(
        root=tmp_path, python=sys.executable, token=_stub_registry("token", 5000, True),
        anon=_stub_registry("anon", 5010, False), anon2=_stub_registry("anon2", 5020, False),
        proxy_token=_stub_registry("proxy", 5030, False),
        proxy_anon=_stub_registry("proxy2", 5040, False), image=image,
        big=big, retention=retention, tags=["t0", "t1"], manifest_tags=["t0", "t1"],
        page_size=1, creds=("alice", "pw"), skopeo_prefix=["skopeo"], base_env={},
        peers_path=tmp_path / "peers", oras_path=oras_path, cli=["registry-client"], gaps={},
    )
    built: dict[tuple[str, str], Any] = {}
    for key, w in wl.WORKLOADS.items():
        for row in w.rows:
            inv = w.build(env, row)
            built[key, row] = inv
            if isinstance(inv, wl.Gap):
                assert inv.reason, (key, row)
            else:
                assert inv.argv, (key, row)

    for key in "abc":  # oras-py: its own runner, on its own PYTHONPATH
        inv = built[key, ORAS]
        assert isinstance(inv, wl.Invocation), (key, inv)
        assert inv.env is not None and inv.env["PYTHONPATH"] == str(oras_path)
        spec = json.loads(inv.argv[-1])
        assert spec["client"] == "oras" and inv.op_from_runner
    assert json.loads(built["b", ORAS].argv[-1])["host"] == env.anon.host  # see ORAS_PUSH_NOTE
    for key in "defgh":
        if (key, ORAS) in built:
            assert isinstance(built[key, ORAS], wl.Gap)

    anon = json.loads(built["a", "registry_client (anonymous)"].argv[-1])
    assert anon["host"] == env.anon.host
    floor = Path(built["a", "curl (anonymous sequential)"].argv[-1]).read_text()
    assert "TOKEN=" not in floor and env.token.url not in floor
    cfg = Path(shlex.split(floor.split(" -K ", 1)[1])[0]).read_text()
    assert cfg.count(env.anon.url) == 1 + len(image.blobs)

    sha = json.loads(built["f", "hashlib sha256 (CPU yardstick)"].argv[-1])
    assert sha == {"client": "sha256", "bytes": big.layers[0].size}

    script = Path(built["h", "curl (xargs -P4)"].argv[-1]).read_text()
    assert "curl -sSf -I" in script and "tags/list" in script
    cfgs = [Path(p) for p in shlex.split(script) if p.endswith(".cfg")]
    urls = "".join(p.read_text() for p in cfgs)
    assert urls.count("/manifests/r") == 3 and urls.count("/blobs/sha256:") == 1
    ls = json.loads(built["g", "registry_client ls, in-process after import"].argv[-1])
    assert ls["workload"] == "ls"
