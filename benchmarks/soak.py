"""Soak test: pull and push a 4 x 64 MiB image again and again through a FaultProxy that
cuts one connection in five, and report what the faults cost.

Not part of the test command.  Run::

    .venv/bin/python -m benchmarks.soak                  # 20 iterations (the default)
    .venv/bin/python -m benchmarks.soak --iterations 2 --layer-mib 16   # a quick check

Each iteration pulls the image (by tag, through the proxy) into a fresh OCI layout and
pushes that layout to a new repository (so every blob really moves); every fifth blob
GET and every fifth blob PUT/PATCH is cut at a random byte.  An iteration only counts when
its result is verified: every pulled file hashes to its digest, and the pushed repository
serves the same manifest bytes and every blob with the right digest and size (checked
directly against the registry, not through the proxy).  At the end it prints the bytes
re-sent because of the faults as a percentage of the bytes that had to move.

Exit status: 0 when every iteration verified, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from registry_client import Registry
from registry_client.testing import FaultProxy, LocalRegistry, seed_image

MIB = 1 << 20


@dataclass
class Totals:
    needed_pull: int = 0
    moved_pull: int = 0
    needed_push: int = 0
    moved_push: int = 0
    cuts: int = 0
    seconds: float = 0.0

    def line(self, label: str) -> str:
        def pct(moved: int, needed: int) -> str:
            return f"{100.0 * (moved - needed) / needed:6.2f}%" if needed else "   n/a"

        return (f"{label:>9}  pull re-sent {pct(self.moved_pull, self.needed_pull)}  "
                f"push re-sent {pct(self.moved_push, self.needed_push)}  "
                f"cuts {self.cuts:3d}  {self.seconds:7.1f} s")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iterations", type=int, default=20, help="pull+push rounds (default 20)")
    p.add_argument("--layers", type=int, default=4, help="layers in the image (default 4)")
    p.add_argument("--layer-mib", type=int, default=64, help="MiB per layer (default 64)")
    p.add_argument("--every", type=int, default=5,
                   help="cut one blob transfer in this many (default 5)")
    p.add_argument("--seed", type=int, default=1, help="random seed for the cut points")
    p.add_argument("--auth", choices=("anonymous", "token"), default="anonymous",
                   help="registry auth mode (default anonymous)")
    return p.parse_args(argv)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MIB):
            h.update(block)
    return "sha256:" + h.hexdigest()


def _verify_pull(layout: Path, expected: dict[str, int], manifest: bytes) -> None:
    root = layout / "blobs" / "sha256"
    for digest, size in expected.items():
        path = root / digest[7:]
        if path.stat().st_size != size or _sha256_file(path) != digest:
            raise AssertionError(f"pulled blob {digest} is wrong")
    if (root / hashlib.sha256(manifest).hexdigest()).read_bytes() != manifest:
        raise AssertionError("pulled manifest is wrong")
    if list(layout.rglob("*.partial")):
        raise AssertionError("a .partial file was left behind")


def _verify_push(reg: LocalRegistry, repo: str, tag: str, manifest: bytes,
                 expected: dict[str, int]) -> None:
    headers = {"User-Agent": "registry-client-testing/soak", **reg.admin_headers([repo])}
    accept = ("application/vnd.docker.distribution.manifest.v2+json,"
              "application/vnd.oci.image.manifest.v1+json")
    r = requests.get(f"{reg.url}/v2/{repo}/manifests/{tag}",
                     headers={**headers, "Accept": accept}, timeout=30)
    if r.status_code != 200 or r.content != manifest:
        raise AssertionError(f"pushed manifest of {repo} is wrong ({r.status_code})")
    for digest, size in expected.items():
        h = requests.head(f"{reg.url}/v2/{repo}/blobs/{digest}", headers=headers, timeout=30)
        if (h.status_code != 200 or h.headers.get("Docker-Content-Digest") != digest
                or h.headers.get("Content-Length") != str(size)):
            raise AssertionError(f"pushed blob {digest} of {repo} is wrong ({h.status_code})")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    layer_size = args.layer_mib * MIB
    totals = Totals()
    failures = 0
    work = Path(tempfile.mkdtemp(prefix="registry-client-soak-"))
    users = {"alice": "alice-secret"} if args.auth == "token" else None
    try:
        with LocalRegistry(args.auth, users=users) as registry:
            print(f"seeding a {args.layers} x {args.layer_mib} MiB image ...", flush=True)
            image = seed_image(registry, "soak/source", "v1", layers=[layer_size] * args.layers)
            expected = {d: len(b) for d, b in image.blobs.items()}
            manifest = image.manifest
            needed = sum(expected.values()) + len(manifest)
            del image  # keep only the sizes, not the 256 MiB of layers
            with FaultProxy(registry, timeout=30) as proxy:
                kw = {}
                if args.auth == "token":
                    from registry_client import TokenAuthenticator

                    kw["authenticator"] = TokenAuthenticator("alice", "alice-secret")
                client = Registry(proxy.host, protocol="http", timeout=(5, 30), **kw)
                print(f"{args.iterations} iterations, one layer transfer in {args.every} "
                      f"cut; {needed / MIB:.1f} MiB to move each way per iteration",
                      flush=True)
                # One rule per kind of blob transfer, kept for the whole run so "every
                # n-th" counts across iterations; only the big layers are targeted (a cut
                # point past the end of a small config blob would cut nothing).
                layers = "|".join(d[7:] for d, size in expected.items() if size == layer_size)
                rules = [
                    proxy.add_rule("GET", layers, action="cut", every=args.every, times=None),
                    proxy.add_rule("PUT", layers, action="cut", on="request", every=args.every,
                                   times=None),
                    proxy.add_rule("PATCH", r"/blobs/uploads/", action="cut", on="request",
                                   every=args.every, times=None),
                ]
                for i in range(1, args.iterations + 1):
                    t0 = time.monotonic()
                    layout = work / "oci"
                    shutil.rmtree(layout, ignore_errors=True)
                    this = Totals()
                    applied = sum(r.applied for r in rules)
                    for rule in rules:  # a new random cut point each iteration
                        rule.after_bytes = rng.randrange(1, layer_size)
                    try:
                        before = proxy.bytes_to_client
                        client.repository("soak/source").images.pull("v1", layout)
                        this.moved_pull = proxy.bytes_to_client - before
                        this.needed_pull = needed
                        _verify_pull(layout, expected, manifest)

                        repo = f"soak/target-{i}"
                        before = proxy.bytes_from_client
                        client.repository(repo).images.push(layout, "v1")
                        this.moved_push = proxy.bytes_from_client - before
                        this.needed_push = needed
                        _verify_push(registry, repo, "v1", manifest, expected)
                    except Exception as exc:
                        failures += 1
                        print(f"iteration {i}: FAILED: {type(exc).__name__}: {exc}",
                              flush=True)
                        continue
                    this.cuts = sum(r.applied for r in rules) - applied
                    this.seconds = time.monotonic() - t0
                    for name in ("needed_pull", "moved_pull", "needed_push", "moved_push",
                                 "cuts", "seconds"):
                        setattr(totals, name, getattr(totals, name) + getattr(this, name))
                    print(this.line(f"#{i}") + "  verified", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(totals.line("total"))
    resent = totals.moved_pull + totals.moved_push - totals.needed_pull - totals.needed_push
    needed_all = totals.needed_pull + totals.needed_push
    if needed_all:
        print(f"bytes re-sent: {resent / MIB:.1f} MiB of {needed_all / MIB:.1f} MiB needed "
              f"= {100.0 * resent / needed_all:.2f}%  "
              f"({args.iterations - failures}/{args.iterations} iterations verified)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
