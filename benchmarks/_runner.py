"""Run one workload with one Python client, in this (fresh) process, and print a JSON line.

``python -m benchmarks._runner SPEC_JSON``.  The orchestrator starts one such process per
run, so its peak RSS is this process's.  Only the client under test is imported (python-dxf
runs with ``PYTHONPATH`` pointing at ``benchmarks/.peers``, never with registry_client).

The printed ``op_s`` is the time of the operation itself (client objects created, every
request sent, every byte on disk), without interpreter start-up and imports -- the
library's deferred imports included (:func:`_import_deferred`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

_DEFERRED = ("registry_client.services", "registry_client.models", "registry_client.retention")
"""What the blocking flavour imports on a call's first use, not on ``import``."""


def _import_deferred(*names: str) -> None:
    """Import ``names`` and every module under them now.

    ``import registry_client`` is kept small for a CLI's cold start (workload g), so a
    call imports its services and models the first time it runs -- ~16 ms of a pull in
    a fresh process, which fell inside ``op_s`` although imports are left out of it
    (and the asyncio flavour, and python-dxf, import theirs up front). The imports'
    time is in ``import_s``.
    """
    import importlib
    import pkgutil

    for name in names:
        module = importlib.import_module(name)
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), f"{name}."):
            importlib.import_module(info.name)


def _rc(spec: dict[str, Any]) -> dict[str, Any]:
    t_import = time.perf_counter()
    from concurrent.futures import ThreadPoolExecutor

    from registry_client import Registry, TokenAuthenticator

    w = spec["workload"]
    if w != "ls":  # (g)'s "ls" is the CLI's work after its imports: its own included
        _import_deferred(*_DEFERRED)
    imported = time.perf_counter() - t_import
    creds = spec.get("creds")

    def registry(host: str, with_creds: bool = False) -> Registry:
        auth = TokenAuthenticator(*creds) if (with_creds and creds) else None
        return Registry(host, protocol="http", authenticator=auth)

    t0, c0 = time.perf_counter(), time.process_time()
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
    elif w == "ls":
        # what `registry-client ls HOST/REPO --plain-http` does once its imports are done:
        # open the registry, page through the tags, print them, close
        with registry(spec["host"]) as reg:
            tags = list(reg.repository(spec["repo"]).tags.iter())
            sys.stdout.write("".join(f"{t}\n" for t in tags))
            sys.stdout.flush()
            stats.append(reg.requester.stats)
    elif w == "retention":
        from registry_client import retention

        with registry(spec["host"]) as reg:
            plan = retention.plan(reg.repository(spec["repo"]), keep=spec["keep"])
            n = len(plan.keep) + len(plan.delete)
            assert n == spec["expect"], (n, spec["expect"])
            stats.append(reg.requester.stats)
    else:
        raise SystemExit(f"unknown workload {w}")
    return {"op_s": time.perf_counter() - t0, "op_cpu_s": time.process_time() - c0,
            "import_s": imported, "client_stats": stats}


def _rca(spec: dict[str, Any]) -> dict[str, Any]:
    """The same workloads with ``AsyncRegistry``, as an asyncio application runs them."""
    t_import = time.perf_counter()
    import asyncio

    from registry_client import TokenAuthenticator
    from registry_client.aio import AsyncRegistry

    _import_deferred(*_DEFERRED, "registry_client.aio.retention")
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
        elif w == "tags":
            async with registry(spec["host"]) as reg:
                tags = [t async for t in reg.repository(spec["repo"]).tags.iter(
                    page_size=spec["page_size"])]
                assert len(tags) == spec["expect"], (len(tags), spec["expect"])
                stats.append(stats_of(reg))
        elif w == "blob":
            async with registry(spec["host"]) as reg:
                await reg.repository(spec["repo"]).blobs.download(spec["digest"], spec["out"])
                stats.append(stats_of(reg))
        elif w == "retention":
            from registry_client.aio import retention

            async with registry(spec["host"]) as reg:
                plan = await retention.plan(reg.repository(spec["repo"]), keep=spec["keep"])
                n = len(plan.keep) + len(plan.delete)
                assert n == spec["expect"], (n, spec["expect"])
                stats.append(stats_of(reg))
        else:
            raise SystemExit(f"unknown workload {w} for the asyncio flavour")

    t0, c0 = time.perf_counter(), time.process_time()
    asyncio.run(run())
    return {"op_s": time.perf_counter() - t0, "op_cpu_s": time.process_time() - c0,
            "import_s": imported, "client_stats": stats}


def _dxf(spec: dict[str, Any]) -> dict[str, Any]:
    t_import = time.perf_counter()
    import hashlib

    from dxf import DXF

    imported = time.perf_counter() - t_import
    w = spec["workload"]
    t0, c0 = time.perf_counter(), time.process_time()

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
    return {"op_s": time.perf_counter() - t0, "op_cpu_s": time.process_time() - c0,
            "import_s": imported}


def _oras(spec: dict[str, Any]) -> dict[str, Any]:
    """oras-py (``benchmarks/.peers/oras``), used through its public API as a user would.

    * pull: ``get_manifest`` then ``download_blob`` of the config and every layer.  Its
      ``pull()`` is an artifact pull: it skips the config and *untars* every
      ``tar+gzip`` layer (it takes them for directories), a different job.
    * push: ``push()`` of the layer files (with their media types) and the config
      (``manifest_config``); oras-py writes its own manifest (same config and layers,
      plus a title annotation per layer).
    * copy: oras-py has no copy, and ``upload_blob`` takes a file path: each blob is
      downloaded to a temporary file (``download_blob``) and uploaded from it
      (``upload_blob``), then the manifest goes up (``upload_manifest``).
    """
    t_import = time.perf_counter()
    import oras.client

    imported = time.perf_counter() - t_import
    w = spec["workload"]
    creds = spec.get("creds")

    def client(host: str) -> Any:
        c = oras.client.OrasClient(hostname=host, insecure=True)
        if creds:  # what login() does, without writing ~/.docker/config.json
            c.auth.set_basic_auth(*creds)
        return c

    t0, c0 = time.perf_counter(), time.process_time()
    if w == "pull":
        out = Path(spec["out"])
        out.mkdir(parents=True)
        src = f"{spec['host']}/{spec['repo']}"
        c = client(spec["host"])
        manifest = c.get_manifest(f"{src}:{spec['tag']}")
        for desc in [manifest["config"], *manifest["layers"]]:
            c.download_blob(src, desc["digest"], str(out / desc["digest"].split(":", 1)[1]))
    elif w == "push":
        layout = Path(spec["layout"])
        index = json.loads((layout / "index.json").read_text())
        blobs = layout / "blobs" / "sha256"
        doc = json.loads((blobs / index["manifests"][0]["digest"][7:]).read_text())
        files = [f"{blobs / d['digest'][7:]}:{d['mediaType']}" for d in doc["layers"]]
        config = f"{blobs / doc['config']['digest'][7:]}:{doc['config']['mediaType']}"
        client(spec["host"]).push(target=f"{spec['host']}/{spec['repo']}:{spec['tag']}",
                                  files=files, manifest_config=config,
                                  disable_path_validation=True, quiet=True)
    elif w == "copy":
        src = f"{spec['host']}/{spec['repo']}"
        s, d = client(spec["host"]), client(spec["dst_host"])
        manifest = s.get_manifest(f"{src}:{spec['tag']}")
        dst = d.get_container(f"{spec['dst_host']}/{spec['dst_repo']}:{spec['tag']}")
        tmp = Path(spec["tmp"])
        tmp.mkdir(parents=True)
        for desc in [*manifest["layers"], manifest["config"]]:
            path = s.download_blob(src, desc["digest"], str(tmp / "blob"))
            r = d.upload_blob(path, dst, desc)
            if r.status_code not in (200, 201, 202):
                raise SystemExit(f"upload_blob {desc['digest']}: {r.status_code}")
            os.unlink(path)
        r = d.upload_manifest(manifest, dst)
        if r.status_code not in (200, 201):
            raise SystemExit(f"upload_manifest: {r.status_code} {r.text[:200]}")
    else:
        raise SystemExit(f"unknown workload {w} for oras-py")
    return {"op_s": time.perf_counter() - t0, "op_cpu_s": time.process_time() - c0,
            "import_s": imported}


def _sha256(spec: dict[str, Any]) -> dict[str, Any]:
    """The CPU yardstick of (f): hashlib sha256 over ``bytes`` bytes in 1 MiB updates (the
    blocks a streaming client hashes), from a 16 MiB random buffer made before the clock."""
    import hashlib

    block, total = 1 << 20, int(spec["bytes"])
    buf = memoryview(os.urandom(16 * block))
    h = hashlib.sha256()
    t0, c0 = time.perf_counter(), time.process_time()
    done = 0
    while done < total:
        n = min(block, total - done)
        off = done % len(buf)
        n = min(n, len(buf) - off)
        h.update(buf[off:off + n])
        done += n
    h.hexdigest()
    return {"op_s": time.perf_counter() - t0, "op_cpu_s": time.process_time() - c0,
            "import_s": 0.0}


def main() -> None:
    spec = json.loads(sys.argv[1])
    run = {"registry_client": _rc, "registry_client_async": _rca, "oras": _oras,
           "sha256": _sha256}.get(spec["client"], _dxf)
    result = run(spec)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
