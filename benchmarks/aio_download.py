"""Blob downloads, blocking vs asyncio, on one real registry on loopback.

``python -m benchmarks.aio_download [--mib 256] [--runs 5]``

Two rows, each flavour run in turn (interleaved, so load on the machine hits both):

* one blob of ``--mib`` MiB: ``BlobService.download`` vs ``AsyncBlobService.download``;
* four blobs of ``--mib / 4`` MiB side by side (a pull's shape): four threads of
  ``BlobService.download`` on one Registry vs ``asyncio.gather`` of four
  ``AsyncBlobService.download`` on one AsyncRequester.

Times include making the client; the best run is shown, with the CPU time of this
process in that run and, for asyncio, the largest gap a heartbeat coroutine (2 ms sleeps)
saw during the run. Data lives in /dev/shm. Until ``AsyncRegistry`` exists, the asyncio
rows of ``python -m benchmarks`` cannot run; this measures the blob path they need.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from registry_client import Registry
from registry_client.aio._blobs import AsyncBlobService
from registry_client.aio._requester import AsyncRequester
from registry_client.aio._shell import AsyncShell
from registry_client.services.blobs import BlobFlows
from registry_client.testing import LocalRegistry, seed_blob

MiB = 1 << 20
REPO = "bench/aio-download"


def _sync(host: str, digests: list[str], out: str) -> None:
    with Registry(host, protocol="http") as reg:
        blobs = reg.repository(REPO).blobs
        if len(digests) == 1:
            blobs.download(digests[0], os.path.join(out, "0"))
            return
        with ThreadPoolExecutor(len(digests)) as pool:
            list(pool.map(lambda i: blobs.download(digests[i], os.path.join(out, str(i))),
                          range(len(digests))))


async def _async(host: str, digests: list[str], out: str) -> None:
    requester = AsyncRequester(host, protocol="http")
    try:
        blobs = AsyncBlobService(BlobFlows(requester, REPO), AsyncShell(requester))
        await asyncio.gather(*(blobs.download(d, os.path.join(out, str(i)))
                               for i, d in enumerate(digests)))
    finally:
        await requester.aclose()


async def _watched(work: Callable[[], Awaitable[None]]) -> float:
    """Run ``work`` with a heartbeat beside it: the largest gap it saw."""
    gaps = [0.0]
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.002)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beat = asyncio.ensure_future(heartbeat())
    await asyncio.sleep(0)
    try:
        await work()
    finally:
        done.set()
        await beat
    return max(gaps)


def _measure(run: Callable[[], float | None]) -> tuple[float, float, float | None]:
    wall, cpu = time.perf_counter(), time.process_time()
    gap = run()
    return time.perf_counter() - wall, time.process_time() - cpu, gap


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.aio_download", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mib", type=int, default=256, help="payload per row (default 256)")
    p.add_argument("--runs", type=int, default=5, help="runs per flavour (default 5)")
    args = p.parse_args()
    with LocalRegistry() as reg, tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        rows = {
            f"1 x {args.mib} MiB": [seed_blob(reg, REPO, os.urandom(args.mib * MiB))],
            f"4 x {args.mib // 4} MiB": [seed_blob(reg, REPO, os.urandom(args.mib // 4 * MiB))
                                         for _ in range(4)],
        }
        for name, digests in rows.items():
            best: dict[str, tuple[float, float, float | None]] = {}
            for i in range(args.runs):
                for flavour in ("blocking", "asyncio"):
                    out = os.path.join(tmp, f"{flavour}{i}")
                    os.mkdir(out)
                    if flavour == "blocking":
                        got = _measure(lambda: _sync(reg.host, digests, out))  # noqa: B023
                    else:
                        got = _measure(lambda: asyncio.run(_watched(
                            lambda: _async(reg.host, digests, out))))  # noqa: B023
                    shutil.rmtree(out)
                    if flavour not in best or got[0] < best[flavour][0]:
                        best[flavour] = got
            sync, aio = best["blocking"], best["asyncio"]
            print(f"{name}: blocking {sync[0]:.3f} s (CPU {sync[1]:.2f} s), asyncio "
                  f"{aio[0]:.3f} s (CPU {aio[1]:.2f} s, loop gap {(aio[2] or 0) * 1000:.0f} ms)"
                  f" = {aio[0] / sync[0]:.2f} x; best of {args.runs}")


if __name__ == "__main__":
    main()
