"""``python -m benchmarks`` (``make bench``): registry_client against skopeo, python-dxf and
a curl floor, on real registries on loopback.  See ``benchmarks/RESULTS.md`` for how to read
the output, and ``--help`` for the flags.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import _report
from ._data import link_tags, make_image, seed_local_image
from ._measure import run_process
from ._servers import BenchRegistry, PagingProxy
from ._workloads import (
    ALL_ROWS,
    CLI,
    DXF,
    ORAS,
    ORAS_PUSH_NOTE,
    SKOPEO,
    WORKLOADS,
    Env,
    Gap,
    Invocation,
    RetentionData,
)

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
PEERS = HERE / ".peers"
DXF_REQUIREMENT = "python-dxf==12.1.1"
# oras-py in a directory of its own (its own requests, jsonschema, ...); "oras-py" is not
# an importable name, so python-dxf's PYTHONPATH (.peers) never sees it
ORAS_PEERS = PEERS / "oras-py"
ORAS_REQUIREMENT = "oras==0.2.43"
MIB = 1 << 20
CREDS = ("alice", "alice-secret")
SKOPEO_CACHE = "/var/lib/containers/cache"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--runs", type=int, default=None,
                   help="measured runs per client and workload (default 5; quick: 2)")
    p.add_argument("--warmup", type=int, default=None,
                   help="unmeasured warm-up runs per client (default 1; quick: 0)")
    p.add_argument("--quick", action="store_true",
                   help="small data and few runs: a smoke test, not a measurement")
    p.add_argument("--only", default="".join(WORKLOADS),
                   help="workloads to run, e.g. 'a,d,g' (default: all of a-h)")
    p.add_argument("--clients", default=None,
                   help="comma-separated subset of: " + ", ".join(ALL_ROWS))
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where the registries' storage, the test data and every download "
                        "live (default: /dev/shm when it has room, else the temp dir); "
                        "give a directory on a real disk to measure the disk too")
    p.add_argument("--json", type=Path, default=HERE / "results" / "latest.json",
                   help="where to write the JSON results")
    p.add_argument("--markdown", type=Path, default=None,
                   help="where to write the Markdown page (default: benchmarks/RESULTS.md "
                        "for a full run, else next to the JSON)")
    p.add_argument("--no-peers", action="store_true",
                   help="do not install python-dxf into benchmarks/.peers when it is missing "
                        "(its rows become gaps; an existing install is used)")
    p.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = p.parse_args(argv)
    args.only = [c for c in args.only.replace(",", "").strip() if c]
    unknown = [c for c in args.only if c not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; choose from {''.join(WORKLOADS)}")
    if args.clients:
        args.clients = [c.strip() for c in args.clients.split(",") if c.strip()]
        bad = [c for c in args.clients if c not in ALL_ROWS]
        if bad:
            p.error(f"unknown client(s) {bad}")
    if args.runs is None:
        args.runs = 2 if args.quick else 5
    if args.warmup is None:
        args.warmup = 0 if args.quick else 1
    if args.runs < 1:
        p.error("--runs must be >= 1")
    if args.data_dir is not None:
        args.data_dir = args.data_dir.resolve()
        if not args.data_dir.is_dir() or not os.access(args.data_dir, os.W_OK):
            p.error(f"--data-dir {args.data_dir}: not a writable directory")
    return args


class Sizes:
    def __init__(self, quick: bool) -> None:
        self.layers = [4 * MIB] * 4 if quick else [64 * MIB] * 4
        self.big = 64 * MIB if quick else 1024 * MIB
        self.n_manifests = 20 if quick else 200
        self.n_tags = 200 if quick else 2000
        self.page = 10 if quick else 100
        self.n_retention = 60 if quick else 5000
        self.n_retention_images = 3 if quick else 20
        self.retention_keep = 2 if quick else 10

    @property
    def need_bytes(self) -> int:
        return 8 * (sum(self.layers) + self.big)


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# -- environment -----------------------------------------------------------------------------

def byte_compile() -> None:
    """Write registry_client's bytecode, as ``pip install`` does for an installed package.

    The project is installed editable, and a machine that sets PYTHONDONTWRITEBYTECODE
    (this one does) would otherwise compile every module from source in every run,
    while requests, urllib3 and python-dxf (installed by pip) load compiled bytecode.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO_ROOT / "registry_client")],
                   check=True)


def ensure_peer(target: Path, package: str, requirement: str,
                no_peers: bool) -> tuple[Path | None, str | None]:
    """A Python peer installed with ``pip --target`` under benchmarks/.peers (never a
    project dependency): (its PYTHONPATH, None), or (None, why it is a gap)."""
    if (target / package / "__init__.py").is_file():
        return target, None
    if no_peers:
        return None, f"{requirement} not installed (--no-peers)"
    log(f"installing {requirement} into {target} (benchmark-only, pip --target)")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", str(target), requirement],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0 or not (target / package / "__init__.py").is_file():
        return None, f"pip could not install {requirement}: {proc.stderr.strip()[-300:]}"
    return target, None


def ensure_peers(no_peers: bool) -> tuple[Path | None, str | None]:
    """python-dxf in benchmarks/.peers; (path, gap reason)."""
    return ensure_peer(PEERS, "dxf", DXF_REQUIREMENT, no_peers)


def ensure_oras(no_peers: bool) -> tuple[Path | None, str | None]:
    """oras-py in benchmarks/.peers/oras-py; (path, gap reason)."""
    return ensure_peer(ORAS_PEERS, "oras", ORAS_REQUIREMENT, no_peers)


def find_cli() -> tuple[list[str] | None, str | None]:
    if importlib.util.find_spec("registry_client.cli") is None:
        return None, ("registry_client.cli does not exist yet (the CLI is being written): "
                      "CLI rows not measured")
    script = Path(sys.executable).parent / "registry-client"
    if script.is_file():
        return [str(script)], None
    return [sys.executable, "-m", "registry_client"], None


def skopeo_prefix() -> tuple[list[str] | None, str | None, str]:
    """How to start skopeo with an empty blob-info cache every time, and a note saying how.

    skopeo remembers in a cache (as root: /var/lib/containers/cache) where it saw each blob
    and then *mounts* it instead of uploading it: from the second run on, a push would move
    no bytes.  Each run gets its own empty cache (a private tmpfs in a mount namespace).
    """
    exe = shutil.which("skopeo")
    if exe is None:
        return None, "skopeo not installed (apt-get install skopeo)", ""
    if os.geteuid() == 0:
        Path(SKOPEO_CACHE).mkdir(parents=True, exist_ok=True)
        probe = subprocess.run(["unshare", "-m", "sh", "-c",
                                f"mount -t tmpfs bench-cache {SKOPEO_CACHE}"],
                               capture_output=True, check=False)
        if probe.returncode == 0:
            return (["unshare", "-m", "sh", "-c",
                     f'mount -t tmpfs bench-cache {SKOPEO_CACHE} && exec "$@"', "sh", exe],
                    None, "fresh blob-info cache per run (private tmpfs)")
        return (["sh", "-c", f'rm -f {SKOPEO_CACHE}/blob-info-cache-v1.boltdb && exec "$@"',
                 "sh", exe], None, "blob-info cache deleted before each run")
    return (["sh", "-c", 'rm -f "$HOME/.local/share/containers/cache/'
             'blob-info-cache-v1.boltdb" && exec "$@"', "sh", exe], None,
            "blob-info cache deleted before each run")


def data_dir(sizes: Sizes, given: Path | None = None) -> Path:
    if given is not None:
        return given
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        if shutil.disk_usage(shm).free > sizes.need_bytes:
            return shm
    return Path(tempfile.gettempdir())


def client_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
                                "pythonpath", "docker_config", "registry_auth_file")}
    home = root / "home"
    (home / ".docker").mkdir(parents=True, exist_ok=True)
    (home / "run").mkdir(parents=True, exist_ok=True)
    env.update({"HOME": str(home), "DOCKER_CONFIG": str(home / ".docker"),
                "XDG_RUNTIME_DIR": str(home / "run")})
    return env


def git_commit() -> str:
    """The commit measured (``git describe --always --dirty``), or "?"."""
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return out or "?"


def machine_meta(root: Path, runs: int, warmup: int, quick: bool) -> dict[str, Any]:
    cpu_model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)

    def version(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return "?"
        return out.strip().splitlines()[0] if out.strip() else "?"

    versions = ", ".join([
        f"Python {platform.python_version()}",
        version(["skopeo", "--version"]),
        version(["curl", "--version"]).split(" (")[0],
        "docker-registry " + version(["docker-registry", "--version"]).split()[-1],
        DXF_REQUIREMENT, ORAS_REQUIREMENT,
    ])
    try:
        device = subprocess.run(["df", "--output=source,fstype", str(root.parent)],
                                capture_output=True, text=True, timeout=10
                                ).stdout.strip().splitlines()[-1]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        device = "?"
    return {"loadavg_end": os.getloadavg(), "commit_end": git_commit(),
            "data_dir_device": " ".join(device.split()),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpus": os.cpu_count(), "cpu_model": cpu_model, "mem_gib": mem,
            "data_dir": str(root), "data_dir_fs": str(root.parent),
            "versions": versions, "runs": runs, "warmup": warmup, "quick": quick,
            "python": sys.executable}


# -- running ---------------------------------------------------------------------------------

def run_once(env: Env, inv: Invocation) -> dict[str, Any]:
    marks = [(reg, reg.mark()) for reg in inv.count_on]
    proxy_before = inv.proxy.counts() if inv.proxy is not None else {}
    cpu_before = [reg.cpu_s() for reg in inv.count_on]
    res = run_process(inv.argv, env=inv.env, cwd=REPO_ROOT, timeout=600,
                      stdout_path=inv.stdout_path)
    cpu_after = [reg.cpu_s() for reg in inv.count_on]
    run: dict[str, Any] = {"ok": res.ok, "wall_s": res.wall_s, "maxrss_kib": res.maxrss_kib,
                           "cpu_s": res.user_s + res.sys_s, "error": None}
    spent = [b - a for a, b in zip(cpu_before, cpu_after, strict=True)
             if a is not None and b is not None]
    run["registry_cpu_s"] = sum(spent) if spent and len(spent) == len(cpu_before) else None
    deltas = [(reg, reg.since(m)) for reg, m in marks]
    run["registry_requests"] = sum(d["requests"] for _, d in deltas)
    run["token_requests"] = sum(d["token_requests"] for _, d in deltas)
    run["connections"] = sum(d["connections"] for _, d in deltas)
    kinds: dict[str, int] = {}
    for reg, d in deltas:
        for k, v in d["by_kind"].items():
            key = f"{reg.name}: {k}" if len(deltas) > 1 else k
            kinds[key] = kinds.get(key, 0) + v
    run["by_kind"] = kinds
    if inv.proxy is not None:
        after = inv.proxy.counts()
        run["proxy_pages"] = after.get("pages", 0) - proxy_before.get("pages", 0)
        run["proxy_connections"] = after.get("connections", 0) - proxy_before.get("connections", 0)
        run["proxy_requests"] = {k: after.get(k, 0) - proxy_before.get(k, 0) for k in after}
    report = res.json_line() if inv.op_from_runner else None
    run["op_s"] = report.get("op_s") if report else None
    run["op_cpu_s"] = report.get("op_cpu_s") if report else None
    if report and "client_stats" in report:
        run["client_stats"] = report["client_stats"]
    run["time_s"] = run["op_s"] if run["op_s"] is not None else res.wall_s
    if not res.ok:
        run["error"] = f"exit {res.returncode}: {res.error_tail()}"
    elif inv.op_from_runner and run["op_s"] is None:
        run["ok"], run["error"] = False, f"no report from the runner: {res.error_tail()}"
    elif inv.validate is not None:
        problem = inv.validate(res)
        if problem:
            run["ok"], run["error"] = False, f"wrong result: {problem}"
    for p in inv.cleanup:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return run


def run_workload(env: Env, key: str, rows: list[str], runs: int, warmup: int,
                 payload: int) -> dict[str, Any]:
    w = WORKLOADS[key]
    results: dict[str, dict[str, Any]] = {r: {"runs": []} for r in rows}
    gaps: dict[str, str] = {}
    t0 = time.monotonic()
    for i in range(warmup + runs):
        order = rows[i % len(rows):] + rows[:i % len(rows)]
        for row in order:
            if row in gaps:
                continue
            inv = w.build(env, row)
            if isinstance(inv, Gap):
                gaps[row] = inv.reason
                continue
            run = run_once(env, inv)
            if not run["ok"]:
                log(f"({key}) {row}: run {i} failed: {run['error'][:300]}")
            if i >= warmup:
                results[row]["runs"].append(run)
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row in gaps:
            out[row] = {"gap": gaps[row]}
        else:
            out[row] = _report.summarize(results[row]["runs"], payload)
    _report.add_ratios(out)
    return {"results": out, "elapsed_s": time.monotonic() - t0}


def seed_retention(reg: BenchRegistry, root: Path, sizes: Sizes) -> RetentionData:
    """(h): a few small images, each pushed with one tag, and every other tag linked in
    the registry's storage (Distribution's tag links, the files a manifest PUT by tag
    writes) -- 5,000 tags in a second instead of 5,000 PUTs; checked by a tag list."""
    n, m = sizes.n_retention, sizes.n_retention_images
    tags = [f"r{i:05d}" for i in range(n)]
    images = []
    for j in range(m):
        img = make_image(root / f"retention-{j}", tags[j], [256],
                         created=f"2024-01-{1 + j % 28:02d}T{j // 28:02d}:00:00Z")
        seed_local_image(reg.reg, Env.RETENTION_REPO, img)
        images.append(img)
    link_tags(reg.reg, Env.RETENTION_REPO,
              {tag: images[i % m].manifest_digest for i, tag in enumerate(tags) if i >= m})
    return RetentionData(tuple(tags), tuple(i.manifest_digest for i in images),
                         tuple(i.config.digest for i in images), sizes.retention_keep)


def import_breakdown(python: str, env: dict[str, str]) -> list[tuple[str, int]]:
    """What ``from registry_client import Registry`` costs on top of ``import requests``
    (importtime, us): ``import registry_client`` alone loads its names lazily (PEP 562)."""
    proc = subprocess.run(
        [python, "-X", "importtime", "-c",
         "import requests; from registry_client import Registry"],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=False)
    rows: list[tuple[str, int]] = []
    after_requests = False
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s+)(\S+)", line)
        if not m:
            continue
        depth, name = len(m.group(3)), m.group(4)
        if depth == 1 and name == "requests":
            after_requests = True
            continue
        if after_requests and depth <= 5:  # down to the grandchildren of registry_client
            rows.append(("- " * (depth // 2) + name, int(m.group(2))))
    rows.sort(key=lambda r: r[1], reverse=True)
    return [r for r in rows if r[1] >= 1000][:16]


# -- main ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load_start = os.getloadavg()
    commit = git_commit()
    if load_start[0] > 1.0:
        log(f"load average is {load_start[0]:.2f} on {os.cpu_count()} CPUs: other work on this "
            "machine will make the timings noisy")
    sizes = Sizes(args.quick)
    if shutil.which("docker-registry") is None and not Path("/usr/bin/docker-registry").exists():
        log("docker-registry is not installed (apt-get install docker-registry)")
        return 2
    gaps: dict[str, str] = {}
    if shutil.which("curl") is None:
        log("curl is not installed: no floor to compare with")
        return 2
    byte_compile()
    peers, why = ensure_peers(args.no_peers)
    if why:
        gaps[DXF] = why
    oras_path, why = ensure_oras(args.no_peers)
    if why:
        gaps[ORAS] = why
    cli, why = find_cli()
    if why:
        gaps[CLI] = why
    sk_prefix, why, sk_note = skopeo_prefix()
    if why:
        gaps[SKOPEO] = why
    root = Path(tempfile.mkdtemp(prefix="rc-bench-", dir=data_dir(sizes, args.data_dir)))
    log(f"data in {root}")
    servers: list[Any] = []
    report: dict[str, Any] = {"workloads": {}, "gaps": {}}
    try:
        need_image = any(k in args.only for k in "abcdg")
        t = time.monotonic()
        image = make_image(root / "image", "v1", sizes.layers if need_image else [1024])
        big = make_image(root / "big", "big", [sizes.big]) if "f" in args.only else None
        tags_img = make_image(root / "tags-image", "t0000", [1024])
        log(f"generated test data in {time.monotonic() - t:.1f} s")

        t = time.monotonic()
        # the registries' storage lives in the data directory too (--data-dir)
        treg = BenchRegistry("token", "token", users={CREDS[0]: CREDS[1]},
                             storage_dir=root / "storage-token")
        servers.append(treg)
        anon = BenchRegistry("anon", "anonymous", storage_dir=root / "storage-anon")
        servers.append(anon)
        anon2 = BenchRegistry("anon2", "anonymous", storage_dir=root / "storage-anon2")
        servers.append(anon2)
        tag_names = [f"t{i:04d}" for i in range(sizes.n_tags)]
        for reg in (treg, anon):
            seed_local_image(reg.reg, Env.IMAGE_REPO, image)
            if big is not None:
                seed_local_image(reg.reg, Env.BIG_REPO, big)
            if "d" in args.only or "e" in args.only:
                seed_local_image(reg.reg, Env.TAGS_REPO, tags_img, tag_names)
        retention = seed_retention(treg, root, sizes) if "h" in args.only else None
        proxy_t = proxy_a = None
        if "e" in args.only:
            proxy_t = PagingProxy(treg.url, sizes.page)
            proxy_a = PagingProxy(anon.url, sizes.page)
            servers += [proxy_t, proxy_a]
        log(f"registries started and seeded in {time.monotonic() - t:.1f} s")

        env = Env(
            root=root, python=sys.executable, token=treg, anon=anon,
            anon2=anon2, proxy_token=proxy_t, proxy_anon=proxy_a, image=image, big=big,
            retention=retention, tags=tag_names, manifest_tags=tag_names[:sizes.n_manifests],
            page_size=sizes.page, creds=CREDS, skopeo_prefix=sk_prefix or ["false"],
            base_env=client_env(root), peers_path=peers, oras_path=oras_path, cli=cli,
            gaps=gaps,
        )
        if sk_prefix is None:
            env.gaps[SKOPEO] = gaps[SKOPEO]
        payloads = {
            "a": image.blob_bytes, "b": image.blob_bytes, "c": image.blob_bytes,
            "d": len(tags_img.manifest) * sizes.n_manifests,
            "e": sum(len(t) + 3 for t in tag_names),
            "f": big.layers[0].size if big is not None else 0, "g": 0, "h": 0,
        }
        layers_label = f"{len(sizes.layers)} x {sizes.layers[0] // MIB} MiB layers"
        big_label = (f"{sizes.big // MIB} MiB" if sizes.big < 1024 * MIB
                     else f"{sizes.big // (1024 * MIB)} GiB")
        for key in args.only:
            w = WORKLOADS[key]
            rows = list(w.rows)
            if args.clients and key != "g":
                rows = [r for r in rows if r in args.clients]
            runs = args.runs * 2 if key == "g" else args.runs
            warmup = args.warmup
            if key == "h":  # ~20 s a run at 5,000 tags: at most 3 runs, no warm-up
                runs, warmup = min(runs, 3), 0
            title = w.title.format(layers=layers_label, n_manifests=sizes.n_manifests,
                                   n_tags=sizes.n_tags, page=sizes.page, big=big_label,
                                   keep=sizes.retention_keep, n_retention=sizes.n_retention,
                                   n_images=sizes.n_retention_images)
            log(f"({key}) {title}: {len(rows)} clients x ({warmup} + {runs}) runs")
            part = run_workload(env, key, rows, runs, warmup, payloads[key])
            part.update({"title": title, "name": w.name, "payload_bytes": payloads[key],
                         "runs": runs})
            if SKOPEO in part["results"] and sk_note:
                part["results"][SKOPEO]["note"] = sk_note
            if DXF in part["results"]:
                part["results"][DXF]["note"] = "anonymous registry (no token auth over http)"
            if ORAS in part["results"] and key == "b":
                part["results"][ORAS]["note"] = ORAS_PUSH_NOTE
            report["workloads"][key] = part
            log(f"({key}) done in {part['elapsed_s']:.0f} s")
        if "g" in args.only:
            report["import_breakdown"] = import_breakdown(sys.executable, env.base_env)
        ctx = {"cli": cli is not None, "n_blobs": len(image.blobs),
               "n_manifests": sizes.n_manifests, "max_workers": 4, "n_tags": sizes.n_tags,
               "n_pages": -(-sizes.n_tags // sizes.page), "big_label": big_label,
               "retention": retention,
               "big_bytes": big.layers[0].size if big is not None else 0}
        report["goals"] = _report.evaluate_goals(report["workloads"], ctx)
    finally:
        for s in reversed(servers):
            try:
                s.stop()
            except Exception as exc:  # keep stopping the others
                log(f"stopping {s}: {exc}")
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    report["gaps"] = dict(gaps)
    report["meta"] = machine_meta(root, args.runs, args.warmup, args.quick)
    report["meta"]["elapsed_s"] = time.monotonic() - started
    report["meta"]["loadavg_start"] = load_start
    report["meta"]["commit"] = commit
    report["meta"]["workloads"] = "".join(args.only)
    print(_report.console(report))
    _report.write_json(report, args.json)
    full = not args.quick and sorted(args.only) == sorted(WORKLOADS) and not args.clients
    md_path = args.markdown or (HERE / "RESULTS.md" if full else args.json.with_suffix(".md"))
    previous = md_path.read_text() if md_path.is_file() else None
    if previous is None and (HERE / "RESULTS.md").is_file():
        previous = (HERE / "RESULTS.md").read_text()
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(_report.markdown(report, previous))
    if full and args.markdown is None:
        _report.write_json(report, HERE / "RESULTS.json")
    log(f"JSON: {args.json}; Markdown: {md_path}; total {report['meta']['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
