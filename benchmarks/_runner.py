"""Run one workload with one Python client, in this (fresh) process, and print a JSON line.

``python -m benchmarks._runner SPEC_JSON``.  The orchestrator starts one such process per
run, so its peak RSS is this process's.  Only the client under test is imported (python-dxf
runs with ``PYTHONPATH`` pointing at ``benchmarks/.peers``, never with registry_client).

The printed ``op_s`` is the time of the operation itself (client objects created, every
request sent, every byte on disk), without interpreter start-up and imports.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def _rc(spec: dict[str, Any]) -> dict[str, Any]:
    t_import = time.perf_counter()
    from concurrent.futures import ThreadPoolExecutor

    from registry_client import Registry, TokenAuthenticator

    imported = time.perf_counter() - t_import
    w = spec["workload"]
    creds = spec.get("creds")

    def registry(host: str, with_creds: bool = False) -> Registry:
        auth = TokenAuthenticator(*creds) if (with_creds and creds) else None
        return Registry(host, protocol="http", authenticator=auth)

    t0 = time.perf_counter()
    stats: list[dict[str, Any]] = []
    if w == "pull":
        with registry(spec["host"]) as reg:
            reg.repository(spec["repo"]).images.pull(spec["tag"], spec["out"])
            stats.append(reg.requester.stats)
    elif w == "push":
        with registry(spec["host"], with_creds=True) as reg:
            reg.repository(spec["repo"]).images.push(spec["layout"], spec["tag"])
            stats.append(reg.requester.stats)
    elif w == "copy":
        with registry(spec["host"]) as src, registry(spec["dst_host"], with_creds=True) as dst:
            src.repository(spec["repo"]).images.copy(spec["tag"], dst.repository(spec["dst_repo"]))
            stats += [src.requester.stats, dst.requester.stats]
    elif w == "manifests":
        with registry(spec["host"]) as reg:
            repo = reg.repository(spec["repo"])
            with ThreadPoolExecutor(reg.max_workers) as pool:
                got = list(pool.map(repo.manifests.get, spec["tags"]))
            assert len(got) == len(spec["tags"])
            stats.append(reg.requester.stats)
    elif w == "tags":
        with registry(spec["host"]) as reg:
            tags = list(reg.repository(spec["repo"]).tags.iter(page_size=spec["page_size"]))
            assert len(tags) == spec["expect"], (len(tags), spec["expect"])
            stats.append(reg.requester.stats)
    elif w == "blob":
        with registry(spec["host"]) as reg:
            reg.repository(spec["repo"]).blobs.download(spec["digest"], spec["out"])
            stats.append(reg.requester.stats)
    else:
        raise SystemExit(f"unknown workload {w}")
    return {"op_s": time.perf_counter() - t0, "import_s": imported, "client_stats": stats}


def _rca(spec: dict[str, Any]) -> dict[str, Any]:
    """The same workloads (a-d) with ``AsyncRegistry``, as an asyncio application runs them."""
    t_import = time.perf_counter()
    import asyncio

    from registry_client import TokenAuthenticator
    from registry_client.aio import AsyncRegistry

    imported = time.perf_counter() - t_import
    w = spec["workload"]
    creds = spec.get("creds")

    def registry(host: str, with_creds: bool = False) -> AsyncRegistry:
        auth = TokenAuthenticator(*creds) if (with_creds and creds) else None
        return AsyncRegistry(host, protocol="http", authenticator=auth)

    def stats_of(reg: Any) -> dict[str, Any]:
        requester = getattr(reg, "requester", None)
        return dict(getattr(requester, "stats", None) or {})

    stats: list[dict[str, Any]] = []

    async def run() -> None:
        if w == "pull":
            async with registry(spec["host"]) as reg:
                await reg.repository(spec["repo"]).images.pull(spec["tag"], spec["out"])
                stats.append(stats_of(reg))
        elif w == "push":
            async with registry(spec["host"], with_creds=True) as reg:
                await reg.repository(spec["repo"]).images.push(spec["layout"], spec["tag"])
                stats.append(stats_of(reg))
        elif w == "copy":
            async with registry(spec["host"]) as src, \
                    registry(spec["dst_host"], with_creds=True) as dst:
                await src.repository(spec["repo"]).images.copy(
                    spec["tag"], dst.repository(spec["dst_repo"]))
                stats.extend([stats_of(src), stats_of(dst)])
        elif w == "manifests":
            async with registry(spec["host"]) as reg:
                repo = reg.repository(spec["repo"])
                got = await asyncio.gather(*(repo.manifests.get(t) for t in spec["tags"]))
                assert len(got) == len(spec["tags"])
                stats.append(stats_of(reg))
        else:
            raise SystemExit(f"unknown workload {w} for the asyncio flavour")

    t0 = time.perf_counter()
    asyncio.run(run())
    return {"op_s": time.perf_counter() - t0, "import_s": imported, "client_stats": stats}


def _dxf(spec: dict[str, Any]) -> dict[str, Any]:
    t_import = time.perf_counter()
    import hashlib

    from dxf import DXF

    imported = time.perf_counter() - t_import
    w = spec["workload"]
    t0 = time.perf_counter()

    def pull_to(d: Any, digest: str, path: Path) -> None:
        with open(path, "wb") as f:
            for chunk in d.pull_blob(digest):  # verifies the digest at the end
                f.write(chunk)

    if w == "pull":
        out = Path(spec["out"]) / "blobs" / "sha256"
        out.mkdir(parents=True)
        with DXF(spec["host"], spec["repo"], insecure=True) as d:
            manifest = d.get_manifest(spec["tag"])
            doc = json.loads(manifest)
            (out / hashlib.sha256(manifest.encode()).hexdigest()).write_text(manifest)
            for desc in [doc["config"], *doc["layers"]]:
                pull_to(d, desc["digest"], out / desc["digest"].split(":", 1)[1])
    elif w == "push":
        layout = Path(spec["layout"])
        index = json.loads((layout / "index.json").read_text())
        mdigest = index["manifests"][0]["digest"]
        manifest = (layout / "blobs" / "sha256" / mdigest[7:]).read_text()
        doc = json.loads(manifest)
        with DXF(spec["host"], spec["repo"], insecure=True) as d:
            for desc in [doc["config"], *doc["layers"]]:
                d.push_blob(str(layout / "blobs" / "sha256" / desc["digest"][7:]))
            d.set_manifest(spec["tag"], manifest)
    elif w == "copy":
        with DXF(spec["host"], spec["repo"], insecure=True) as src, \
                DXF(spec["dst_host"], spec["dst_repo"], insecure=True) as dst:
            manifest = src.get_manifest(spec["tag"])
            doc = json.loads(manifest)
            for desc in [doc["config"], *doc["layers"]]:
                dst.push_blob(data=src.pull_blob(desc["digest"]), digest=desc["digest"])
            dst.set_manifest(spec["tag"], manifest)
    elif w == "manifests":
        with DXF(spec["host"], spec["repo"], insecure=True) as d:
            for tag in spec["tags"]:
                d.get_manifest(tag)
    elif w == "tags":
        with DXF(spec["host"], spec["repo"], insecure=True) as d:
            tags = d.list_aliases(batch_size=spec["page_size"])
            assert len(tags) == spec["expect"], (len(tags), spec["expect"])
    elif w == "blob":
        with DXF(spec["host"], spec["repo"], insecure=True) as d:
            pull_to(d, spec["digest"], Path(spec["out"]))
    else:
        raise SystemExit(f"unknown workload {w}")
    return {"op_s": time.perf_counter() - t0, "import_s": imported}


def main() -> None:
    spec = json.loads(sys.argv[1])
    run = {"registry_client": _rc, "registry_client_async": _rca}.get(spec["client"], _dxf)
    result = run(spec)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
