"""Mirror many small images between two real registries on loopback: threads, processes
and a Dask LocalCluster.

``python -m benchmarks.mirror [--images 500] [--workers 4] [--modes ...] [--json PATH]``

The source gets ``--images`` repositories of one tiny image each (one 16-byte layer:
the time is the protocol's, not the bytes'). Each mode mirrors all of them into its own
namespace of the target with ``registry_client.sync.sync``:

* ``one-pass``: ``sync()`` without options -- list and copy in one pass, ``--workers``
  threads of this process sharing one Registry per host;
* ``threads``: planned tasks on a ``ThreadPoolExecutor(--workers)``;
* ``processes``: planned tasks on a ``ProcessPoolExecutor(--workers)``, each process
  opening its registries through a ``RegistryFactory``;
* ``dask``: planned tasks on a ``distributed.LocalCluster`` of ``--workers`` processes,
  one thread each, ``max_per_registry=--workers`` (its start is timed apart);
* ``rerun``: ``threads`` again into the same namespace: every image already there.

For each: wall time, images per second, requests the two registries answered (their
access logs), and failures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from registry_client import Registry
from registry_client.sync import RegistryFactory, SyncEntry, SyncResult, sync
from registry_client.testing import LocalRegistry, seed_many_repositories

MODES = ("one-pass", "threads", "processes", "dask", "rerun")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.mirror", description=__doc__)
    p.add_argument("--images", type=int, default=500, help="images to mirror (default 500)")
    p.add_argument("--workers", type=int, default=4,
                   help="threads, processes or Dask workers (default 4)")
    p.add_argument("--modes", default=",".join(MODES),
                   help=f"comma-separated subset of {', '.join(MODES)}")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    args.modes = [m for m in args.modes.split(",") if m]
    unknown = set(args.modes) - set(MODES)
    if unknown:
        p.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    return args


def entries(src: LocalRegistry, dst: LocalRegistry, names: list[str], prefix: str
            ) -> list[SyncEntry]:
    return [SyncEntry(f"{src.host}/{name}", f"{dst.host}/{prefix}/{name}") for name in names]


def measure(src: LocalRegistry, dst: LocalRegistry, run: Callable[[], SyncResult]
            ) -> dict[str, Any]:
    """Time ``run()``; count the requests both registries answered meanwhile."""
    for reg in (src, dst):
        reg.clear_access_log()
    start = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - start
    return {
        "seconds": round(elapsed, 3),
        "copied": len(result.copied),
        "present": len(result.present),
        "failures": len(result.failed),
        "source_requests": src.request_count(),
        "target_requests": dst.request_count(),
    }


def run_mode(mode: str, src: LocalRegistry, dst: LocalRegistry, names: list[str],
             workers: int) -> dict[str, Any]:
    factory = RegistryFactory(plain_http=["*"])
    prefix = "threads" if mode == "rerun" else mode
    todo = entries(src, dst, names, prefix)
    if mode == "one-pass":
        with Registry(src.host, protocol="http") as a, Registry(dst.host, protocol="http") as b:
            by_host = {src.host: a, dst.host: b}
            return measure(src, dst, lambda: sync(todo, lambda r: by_host[r.domain],
                                                  max_workers=workers))
    if mode in ("threads", "rerun"):
        with ThreadPoolExecutor(workers) as pool:
            return measure(src, dst, lambda: sync(todo, factory, executor=pool))
    if mode == "processes":
        with ProcessPoolExecutor(workers) as pool:
            return measure(src, dst, lambda: sync(todo, factory, executor=pool,
                                                  max_workers=workers))
    # Dask only for this mode: the benchmark runs without it otherwise
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, host="127.0.0.1", silence_logs=40) as cluster, \
            Client(cluster, timeout=60) as client:
        startup = time.perf_counter() - started
        row = measure(src, dst, lambda: sync(todo, factory, executor=client.get_executor(),
                                             max_per_registry=workers, max_workers=workers))
    row["cluster_start_seconds"] = round(startup, 3)
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [f"bench/m{n:04d}" for n in range(args.images)]
    print(f"mirror {args.images} images (one 16-byte layer each) between two local "
          f"registries; {args.workers} workers; {os.cpu_count()} CPUs")
    rows: dict[str, dict[str, Any]] = {}
    with LocalRegistry(log_level="warn") as src, LocalRegistry(log_level="warn") as dst:
        seeded = time.perf_counter()
        seed_many_repositories(src, names)
        print(f"seeded in {time.perf_counter() - seeded:.1f} s")
        print(f"{'mode':<10} {'seconds':>8} {'images/s':>9} {'copied':>7} {'present':>8} "
              f"{'src req':>8} {'dst req':>8} {'failed':>7}")
        for mode in args.modes:
            row = rows[mode] = run_mode(mode, src, dst, names, args.workers)
            rate = args.images / row["seconds"] if row["seconds"] else 0.0
            row["images_per_second"] = round(rate, 1)
            extra = (f"  (cluster start {row['cluster_start_seconds']:.1f} s)"
                     if "cluster_start_seconds" in row else "")
            print(f"{mode:<10} {row['seconds']:>8.2f} {rate:>9.1f} {row['copied']:>7} "
                  f"{row['present']:>8} {row['source_requests']:>8} "
                  f"{row['target_requests']:>8} {row['failures']:>7}{extra}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"images": args.images, "workers": args.workers,
                                         "cpus": os.cpu_count(), "modes": rows}, indent=2))
    return 0 if all(r["failures"] == 0 for r in rows.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
