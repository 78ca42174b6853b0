"""Summaries, goals (pass/short), and the console / JSON / Markdown output."""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._workloads import (
    CLI,
    CURL_ANON,
    CURLP,
    DXF,
    FLOOR,
    FLOOR_OF,
    G_BARE,
    G_CLI,
    G_LS_OP,
    G_RC,
    G_RC_REGISTRY,
    G_REQUESTS,
    RC,
    RC_ANON,
    RCA,
    SHA256,
    SKOPEO,
)

MIB = 1 << 20
GIB = 1 << 30
NOTES_BEGIN = "<!-- notes:begin (kept when the benchmark rewrites this page) -->"
NOTES_END = "<!-- notes:end -->"


def summarize(runs: list[dict[str, Any]], payload: int) -> dict[str, Any]:
    """Medians over the successful runs of one client on one workload."""
    good = [r for r in runs if r["ok"]]
    out: dict[str, Any] = {"runs": runs, "n_ok": len(good), "n_failed": len(runs) - len(good)}
    if not good:
        out["error"] = next((r["error"] for r in runs if r.get("error")), "no successful run")
        return out

    def med(key: str) -> float | None:
        vals = [r[key] for r in good if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    t = med("time_s")
    out.update({
        "median_s": t,
        "median_process_s": med("wall_s"),
        "median_op_s": med("op_s"),
        "min_s": min(r["time_s"] for r in good),
        "max_s": max(r["time_s"] for r in good),
        "mb_per_s": (payload / 1e6 / t) if (payload and t) else None,
        "registry_requests": med("registry_requests"),
        "registry_requests_range": _range(good, "registry_requests"),
        "token_requests": med("token_requests"),
        "token_requests_range": _range(good, "token_requests"),
        "connections": med("connections"),
        "connections_max": max(r.get("connections") or 0 for r in good),
        "peak_rss_mib": max(r["maxrss_kib"] for r in good) / 1024,
        "cpu_s": med("cpu_s"),
        "op_cpu_s": med("op_cpu_s"),
        "registry_cpu_s": med("registry_cpu_s"),
    })
    if any("proxy_pages" in r for r in good):
        out["proxy_pages"] = med("proxy_pages")
        out["proxy_pages_range"] = _range(good, "proxy_pages")
        out["proxy_connections_max"] = max(r.get("proxy_connections") or 0 for r in good)
    return out


def _range(runs: list[dict[str, Any]], key: str) -> list[Any]:
    vals = [r.get(key) for r in runs if r.get(key) is not None]
    return [min(vals), max(vals)] if vals else []


def add_ratios(results: dict[str, dict[str, Any]]) -> None:
    par = results.get(CURLP, {}).get("median_s")
    blocking = results.get(RC, {}).get("median_s")
    for name, row in results.items():
        t = row.get("median_s")
        # rows run anonymously are divided by the anonymous floor when it was measured
        own = FLOOR_OF.get(name, FLOOR)
        floor = results.get(own if own in results else FLOOR, {}).get("median_s")
        row["x_curl"] = (t / floor) if (t and floor) else None
        row["x_curl_parallel"] = (t / par) if (t and par) else None
        row["x_sync"] = (t / blocking) if (t and blocking) else None


def async_vs_sync(results: dict[str, dict[str, Any]]) -> str | None:
    """One line comparing the asyncio row with the blocking row, when both were measured."""
    row, sync = results.get(RCA, {}), results.get(RC, {})
    t, s = row.get("median_s"), sync.get("median_s")
    if not (t and s):
        return None
    return (f"{RCA}: {t:.3f} s = {t / s:.2f} x the time of {RC} ({s:.3f} s)"
            f"{_paired_text(row, sync)}; "
            f"CPU {_fmt(row.get('cpu_s'), '.2f')} s vs {_fmt(sync.get('cpu_s'), '.2f')} s")


# -- goals -----------------------------------------------------------------------------------

def _goal(gid: str, workload: str, client: str, text: str, measured: str, ok: bool | None,
          why: str = "") -> dict[str, Any]:
    status = "n/a" if ok is None else ("pass" if ok else "short")
    return {"id": gid, "workload": workload, "client": client, "goal": text,
            "measured": measured, "status": status, "why": why}


def _time_goals(w: str, res: dict[str, Any], client: str, limit: float,
                label: str) -> list[dict[str, Any]]:
    row, floor, sk = res.get(client, {}), res.get(FLOOR, {}), res.get(SKOPEO, {})
    t, f, s = row.get("median_s"), floor.get("median_s"), sk.get("median_s")
    goals = []
    if t and f:
        goals.append(_goal(f"{w}-curl", w, client, f"{label} <= {limit:g} x sequential curl floor",
                           f"{t:.3f} s = {t / f:.2f} x curl ({f:.3f} s){_paired_text(row, floor)}",
                           t <= limit * f,
                           "" if t <= limit * f else
                           f"needs <= {limit * f:.3f} s; {t - limit * f:.3f} s over"))
    else:
        goals.append(_goal(f"{w}-curl", w, client, f"{label} <= {limit:g} x curl floor",
                           _missing(row, floor), None))
    if t and s:
        goals.append(_goal(f"{w}-skopeo", w, client, f"{label} >= 1.5 x faster than skopeo",
                           f"skopeo {s:.3f} s / {t:.3f} s = {s / t:.2f} x", s / t >= 1.5))
    else:
        goals.append(_goal(f"{w}-skopeo", w, client, f"{label} >= 1.5 x faster than skopeo",
                           _missing(row, sk), None))
    return goals


def _missing(*rows: dict[str, Any]) -> str:
    for r in rows:
        if "error" in r:
            return f"not measured: {r['error'][:200]}"
    return "not measured"


def _all_runs(row: dict[str, Any], pred: Callable[[dict[str, Any]], bool]) -> bool | None:
    runs = [r for r in row.get("runs", []) if r["ok"]]
    return all(pred(r) for r in runs) if runs else None


def evaluate_goals(results: dict[str, dict[str, Any]], ctx: dict[str, Any]) -> list[dict[str, Any]]:
    goals: list[dict[str, Any]] = []
    present = [RC] + ([CLI] if ctx.get("cli") else [])
    if "a" in results:
        res = results["a"]["results"]
        for c in present:
            label = "pull" if c == RC else "CLI pull"
            goals += _time_goals("a", res, c, 1.05, label)
        goals.append(_pull_requests_goal(
            "a-requests", res.get(RC, {}), ctx["n_blobs"], 1,
            "pull: exactly challenge + token + manifest + config + one GET per layer"))
        # issue #15: the anonymous pull, against the anonymous floor (op time in process)
        goals.append(_ratio_goal("a-anon-curl", "a", RC_ANON, res.get(RC_ANON, {}),
                                 res.get(CURL_ANON, {}), 1.2,
                                 "anonymous pull <= 1.2 x the unverified sequential curl floor "
                                 "(anonymous too)"))
        goals.append(_pull_requests_goal(
            "a-anon-requests", res.get(RC_ANON, {}), ctx["n_blobs"], 0,
            "anonymous pull: exactly manifest + config + one GET per layer"))
    for w, lim in (("b", 1.1), ("c", 1.1)):
        if w in results:
            res = results[w]["results"]
            for c in present:
                name = {"b": "push", "c": "copy"}[w]
                goals += _time_goals(w, res, c, lim, name if c == RC else f"CLI {name}")
    if "d" in results:
        row = results["d"]["results"].get(RC, {})
        n = ctx["n_manifests"]
        mw = ctx["max_workers"]
        ok_tok = _all_runs(row, lambda r: r["token_requests"] == 1)
        ok_req = _all_runs(row, lambda r: r["registry_requests"] <= n + 1)
        ok_con = _all_runs(row, lambda r: (r.get("connections") or 0) <= mw)
        goals.append(_goal("d-token", "d", RC, f"{n} manifests: 1 token request",
                           _req_text(row), ok_tok))
        goals.append(_goal("d-requests", "d", RC, f"{n} manifests: <= {n + 1} registry requests",
                           _req_text(row), ok_req, "" if ok_req is not False else _kinds_text(row)))
        goals.append(_goal("d-connections", "d", RC,
                           f"{n} manifests: <= max_workers ({mw}) connections",
                           f"connections per run: {_range_text(row, 'connections')}", ok_con))
        res = results["d"]["results"]
        goals.append(_ratio_goal("d-curl-p4", "d", RC, row, res.get(CURLP, {}), 1.2,
                                 f"{n} manifests <= 1.2 x the xargs -P4 curl floor",
                                 floor_name="curl -P4"))
        per = _per_request_cpu(row)
        goals.append(_goal(
            "d-cpu", "d", RC, f"{n} manifests: <= 1.5 ms of client CPU per request",
            (f"{per * 1000:.2f} ms per request (median op CPU {row['op_cpu_s']:.3f} s / "
             f"{row['registry_requests']:g} requests; whole process "
             f"{row['cpu_s']:.3f} s)") if per is not None else _missing(row),
            (per <= 0.0015) if per is not None else None,
            "" if per is None or per <= 0.0015 else
            f"{(per - 0.0015) * 1000:.2f} ms per request over"))
    for w, name in (("a", "pull"), ("b", "push"), ("c", "copy"), ("d", "manifests")):
        if w not in results:
            continue
        res = results[w]["results"]
        row, sync = res.get(RCA, {}), res.get(RC, {})
        t, s = row.get("median_s"), sync.get("median_s")
        goals.append(_goal(
            f"{w}-async", w, RCA, f"asyncio {name} at least as fast as the blocking row",
            f"{t:.3f} s vs {s:.3f} s = {t / s:.2f} x{_paired_text(row, sync)}" if t and s
            else _missing(row, sync),
            (t <= s) if t and s else None))
        if w == "d":
            goals.append(_goal("d-async-token", "d", RCA,
                               f"{ctx['n_manifests']} gathered manifests: 1 token request",
                               _req_text(row), _all_runs(row, lambda r: r["token_requests"] == 1)))
    if "e" in results:
        row = results["e"]["results"].get(RC, {})
        pages = ctx["n_pages"]
        ok = _all_runs(row, lambda r: r.get("proxy_pages") == pages)
        goals.append(_goal("e-pages", "e", RC, f"{ctx['n_tags']} tags: {pages} page requests",
                           f"pages per run: {_range_text(row, 'proxy_pages')}; "
                           f"{_req_text(row)}", ok))
    if "f" in results:
        res = results["f"]["results"]
        goals += _blob_goals(res, ctx)
        for c in present:
            row = results["f"]["results"].get(c, {})
            rss = row.get("peak_rss_mib")
            goals.append(_goal("f-rss", "f", c, f"{ctx['big_label']} blob: peak RSS <= 60 MiB",
                               f"{rss:.1f} MiB" if rss else _missing(row),
                               (rss <= 60) if rss else None))
    if "g" in results:
        res = results["g"]["results"]
        rc, rq = res.get(G_RC, {}).get("median_s"), res.get(G_REQUESTS, {}).get("median_s")
        goals.append(_goal("g-import", "g", RC, "import registry_client <= 1.5 x import requests",
                           f"{rc * 1000:.1f} ms vs {rq * 1000:.1f} ms = {rc / rq:.2f} x"
                           if rc and rq else "not measured",
                           (rc <= 1.5 * rq) if rc and rq else None))
        rr = res.get(G_RC_REGISTRY, {}).get("median_s")
        goals.append(_goal("g-import-registry", "g", RC,
                           "from registry_client import Registry <= 1.5 x import requests "
                           "(the same goal, for the names a client needs)",
                           f"{rr * 1000:.1f} ms vs {rq * 1000:.1f} ms = {rr / rq:.2f} x"
                           if rr and rq else "not measured",
                           (rr <= 1.5 * rq) if rr and rq else None))
        cli = res.get(G_CLI, {}).get("median_s")
        rqp = res.get(G_REQUESTS, {}).get("median_process_s")
        ls = res.get(G_LS_OP, {}).get("median_s")
        if cli and rqp and ls:
            limit = rqp + ls + 0.030
            goals.append(_goal(
                "g-ls", "g", CLI,
                "registry-client ls wall <= python -c 'import requests' + the library's own "
                "ls time (in-process, after import) + 30 ms",
                f"{cli * 1000:.1f} ms vs {rqp * 1000:.1f} + {ls * 1000:.1f} + 30 = "
                f"{limit * 1000:.1f} ms", cli <= limit,
                "" if cli <= limit else f"{(cli - limit) * 1000:.1f} ms over"))
        else:
            goals.append(_goal("g-ls", "g", CLI, "registry-client ls wall <= python -c 'import "
                               "requests' + the library's own ls time + 30 ms",
                               _missing(res.get(G_CLI, {}), res.get(G_REQUESTS, {}),
                                        res.get(G_LS_OP, {})), None))
    return goals


def _pull_requests_goal(gid: str, row: dict[str, Any], n_blobs: int, tokens: int,
                        text: str) -> dict[str, Any]:
    """A pull's exact request count: with a token, a challenge too (and one token)."""
    want = n_blobs + 1 + tokens
    ok = _all_runs(row, lambda r: r["registry_requests"] == want
                   and r["token_requests"] == tokens
                   and r["by_kind"].get("GET blobs 200", 0) == n_blobs)
    tok = "1 token request" if tokens == 1 else "no token request"
    return _goal(gid, "a", RC if tokens else RC_ANON,
                 f"{text} ({want} registry requests, {tok})", _req_text(row), ok,
                 "" if ok is not False else _kinds_text(row))


def _ratio_goal(gid: str, w: str, client: str, row: dict[str, Any], floor: dict[str, Any],
                limit: float, text: str, floor_name: str = "curl") -> dict[str, Any]:
    t, f = row.get("median_s"), floor.get("median_s")
    if not (t and f):
        return _goal(gid, w, client, text, _missing(row, floor), None)
    ok = t <= limit * f
    return _goal(gid, w, client, text,
                 f"{t:.3f} s = {t / f:.2f} x {floor_name} ({f:.3f} s){_paired_text(row, floor)}",
                 ok, "" if ok else f"needs <= {limit * f:.3f} s; {t - limit * f:.3f} s over")


def paired(row: dict[str, Any], floor: dict[str, Any]) -> tuple[float, int] | None:
    """The median of the run-by-run ratios ``row`` / ``floor``, and the number of pairs.

    Run i of every row was measured in the same round (the rows take turns, in an order
    that rotates each round), so a pair shares the machine's moment: on a machine whose
    speed drifts, its ratio is steadier than the ratio of the two medians. None with
    fewer than 3 pairs of successful runs.
    """
    pairs = [(a["time_s"], b["time_s"])
             for a, b in zip(row.get("runs", []), floor.get("runs", []), strict=False)
             if a.get("ok") and b.get("ok") and a.get("time_s") and b.get("time_s")]
    if len(pairs) < 3:
        return None
    return statistics.median(a / b for a, b in pairs), len(pairs)


def _paired_text(row: dict[str, Any], floor: dict[str, Any]) -> str:
    got = paired(row, floor)
    return f"; paired median {got[0]:.2f} x over {got[1]} rounds" if got else ""


def _per_request_cpu(row: dict[str, Any]) -> float | None:
    """Median over the runs of (operation CPU / registry requests)."""
    vals = [r["op_cpu_s"] / r["registry_requests"] for r in row.get("runs", [])
            if r["ok"] and r.get("op_cpu_s") is not None and r.get("registry_requests")]
    return statistics.median(vals) if vals else None


def _blob_goals(res: dict[str, Any], ctx: dict[str, Any]) -> list[dict[str, Any]]:
    """Goal (f), issue #15: CPU per GiB against curl + sha256 of the same run, and wall."""
    row, floor, sha = res.get(RC, {}), res.get(FLOOR, {}), res.get(SHA256, {})
    label = ctx["big_label"]
    goals = [_ratio_goal("f-curl", "f", RC, row, floor, 1.35,
                         f"{label} blob: wall <= 1.35 x the unverified curl floor")]
    size = ctx.get("big_bytes") or 0
    cpu, curl_cpu, sha_cpu = row.get("op_cpu_s"), floor.get("cpu_s"), sha.get("op_cpu_s")
    text = (f"{label} blob: client CPU per GiB <= 1.15 x (curl's CPU per GiB + hashlib "
            "sha256 CPU per GiB, same run)")
    if not (size and cpu and curl_cpu and sha_cpu):
        goals.append(_goal("f-cpu", "f", RC, text, _missing(row, floor, sha), None))
        return goals
    gib = size / GIB
    mine, yard = cpu / gib, (curl_cpu + sha_cpu) / gib
    proc = row.get("cpu_s")
    ok = mine <= 1.15 * yard
    goals.append(_goal(
        "f-cpu", "f", RC, text,
        f"{mine:.2f} CPU-s/GiB (operation; whole process {proc / gib:.2f}) vs 1.15 x "
        f"({curl_cpu / gib:.2f} curl + {sha_cpu / gib:.2f} sha256) = {1.15 * yard:.2f}",
        ok, "" if ok else f"{mine - 1.15 * yard:.2f} CPU-s/GiB over"))
    return goals


def retention_line(results: dict[str, dict[str, Any]]) -> str | None:
    """(h): the plan's time against the curl -P4 floor, its requests and CPU per request."""
    row, par = results.get(RC, {}), results.get(CURLP, {})
    t, f = row.get("median_s"), par.get("median_s")
    if not t:
        return None
    per = _per_request_cpu(row)
    return (f"retention.plan: {t:.3f} s"
            + (f" = {t / f:.2f} x the curl -P4 floor ({f:.3f} s)" if f else "")
            + f"; {_req_text(row)} (floor: {_range_text(par, 'registry_requests')})"
            + (f"; {per * 1000:.2f} ms client CPU per request" if per is not None else "")
            + (f"; registry CPU {row['registry_cpu_s']:.2f} s (floor's run: "
               f"{_fmt(par.get('registry_cpu_s'), '.2f')} s)"
               if row.get("registry_cpu_s") is not None else ""))


def _req_text(row: dict[str, Any]) -> str:
    if "registry_requests" not in row:
        return _missing(row)
    return (f"registry requests {_range_text(row, 'registry_requests')}, "
            f"token requests {_range_text(row, 'token_requests')}")


def _range_text(row: dict[str, Any], key: str) -> str:
    vals = [r.get(key) for r in row.get("runs", []) if r["ok"] and r.get(key) is not None]
    if not vals:
        return "n/a"
    lo, hi = min(vals), max(vals)
    return f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"


def _kinds_text(row: dict[str, Any]) -> str:
    runs = [r for r in row.get("runs", []) if r["ok"]]
    if not runs:
        return ""
    kinds = runs[-1]["by_kind"]
    return "last run: " + ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items()))


# -- formatting ------------------------------------------------------------------------------

COLUMNS = ("client", "time s", "process s", "CPU s", "op CPU s", "registry CPU s", "MB/s",
           "registry req", "token req", "conns", "peak RSS MiB", "x curl", "x curl -P4")


def _fmt(v: Any, spec: str = ".3f") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and spec == "g":
        return f"{v:g}"
    return format(v, spec)


def row_cells(name: str, row: dict[str, Any], workload: str) -> list[str]:
    if "gap" in row:
        return [name, "gap", *[""] * (len(COLUMNS) - 2), row["gap"]]
    if "median_s" not in row:
        return [name, "FAILED", *[""] * (len(COLUMNS) - 2), (row.get("error") or "")[:120]]
    reqs = _range_text(row, "registry_requests")
    if row.get("proxy_pages") is not None:
        reqs += f" ({_range_text(row, 'proxy_pages')} pages)"
    conns = _range_text(row, "connections")
    if row.get("proxy_connections_max"):
        conns = f"{row['proxy_connections_max']} (proxy)"
    proc = row.get("median_process_s")
    return [
        name, _fmt(row["median_s"]),
        _fmt(proc) if row.get("median_op_s") is not None else "=",
        _fmt(row.get("cpu_s"), ".2f"),
        _fmt(row.get("op_cpu_s"), ".2f"),
        _fmt(row.get("registry_cpu_s"), ".2f"),
        _fmt(row.get("mb_per_s"), ".2f" if (row.get("mb_per_s") or 0) < 10 else ".0f"),
        reqs if workload != "g" or row.get("registry_requests") else "-",
        _range_text(row, "token_requests") if workload != "g" or row.get("registry_requests")
        else "-",
        conns if workload != "g" else "-",
        _fmt(row.get("peak_rss_mib"), ".1f"),
        _fmt(row.get("x_curl"), ".2f"), _fmt(row.get("x_curl_parallel"), ".2f"),
    ]


def console(report: dict[str, Any]) -> str:
    lines: list[str] = []
    for key, w in report["workloads"].items():
        lines.append("")
        lines.append(f"({key}) {w['title']} -- {w['runs']} runs, payload "
                     f"{w['payload_bytes'] / MIB:.1f} MiB, {w['elapsed_s']:.0f} s")
        rows = [list(COLUMNS)] + [row_cells(n, r, key) for n, r in w["results"].items()]
        widths = [max(len(r[i]) for r in rows if len(r) > i) for i in range(len(COLUMNS))]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                                          for i, c in enumerate(r[:-1]))
                         + "  " + r[-1])
        for extra in (async_vs_sync(w["results"]),
                      retention_line(w["results"]) if key == "h" else None):
            if extra:
                lines.append(f"  {extra}")
    lines.append("")
    lines.append("Goals")
    for g in report["goals"]:
        lines.append(f"  [{g['status'].upper():5}] ({g['workload']}) {g['client']}: {g['goal']}"
                     f" -- {g['measured']}" + (f"; {g['why']}" if g["why"] else ""))
    if report.get("gaps"):
        lines.append("")
        lines.append("Gaps")
        for k, v in report["gaps"].items():
            lines.append(f"  {k}: {v}")
    return "\n".join(lines)


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=str) + "\n")


def _md_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in rows[0]) + "|"]
    for r in rows[1:]:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


HOW_TO = """\
## How to run

```
make bench                              # .venv/bin/python -m benchmarks: full run, ~{minutes} min
.venv/bin/python -m benchmarks --quick  # small data, 2 runs: a smoke test (< 1 min)
.venv/bin/python -m benchmarks --only a,f --runs 7
.venv/bin/python -m benchmarks --data-dir /var/tmp --markdown /tmp/disk.md   # on a real disk
.venv/bin/python -m benchmarks --help
```

It starts the real registry (`docker-registry`, CNCF Distribution 2.8) on loopback -- one
with token auth (the plugin's token server) and two anonymous ones -- writes incompressible
test data, the registries' storage and every download under `/dev/shm` (or `--data-dir
DIR`: a real disk), and runs every client in its own subprocess, round-robin, one warm-up
run each and then N measured runs. python-dxf is installed into `benchmarks/.peers` and
oras-py into `benchmarks/.peers/oras-py` on first use (`pip install --target`), never into
the project. Results: the console, `benchmarks/results/latest.json`, and (for a full run)
this page and `benchmarks/RESULTS.json`.

## How to read the tables

* **time s** -- median over the measured runs. For the Python library rows
  (`registry_client`, `python-dxf`) it is the time of the operation inside the process
  (client created, every request sent, every byte on disk), *without* interpreter start-up
  and imports (registry_client's services and models, which a call imports on first use,
  are imported before the clock starts) -- that cost is workload (g). **process s** is
  the whole subprocess for those rows; for command-line clients (`skopeo`, the CLI,
  curl) time = process time (`=`).
* **CPU s** -- median user + system CPU time of the client process (and its children):
  less sensitive than wall time to other load on the machine. **op CPU s** -- for the
  Python rows, the CPU time of the operation alone (`time.process_time()` around what
  **time s** times: every thread of the process, no interpreter start-up or imports); the
  (d) and (f) CPU goals use it, and print the whole process's too. **registry CPU s** --
  CPU time the registry processes the row talked to spent during the run (`/proc/PID/stat`):
  on 2 cores, a workload bounded by the registry's CPU shows it there.
* **MB/s** -- payload (blob bytes; manifests for d) / time, 10^6 bytes.
* **registry req / token req** -- requests the registry logged (access log) and requests the
  token server answered, per run (a range when runs differ). Challenges (401) count.
  For (e), `(N pages)` is the number of `tags/list` pages the paging proxy served.
* **conns** -- TCP connections the client opened to the registry (distinct client ports in
  the registry's log), or to the paging proxy for (e).
* **peak RSS** -- `ru_maxrss` of the client process (read by GNU `/usr/bin/time`, so not
  inflated by the orchestrator it was forked from), the largest over the runs; for shell
  scripts (curl floor, skopeo loop) the largest single process in it.
* **x curl** -- time / the sequential curl floor's time; **x curl -P4** -- / the `xargs -P4`
  curl floor. The curl floor knows every URL and digest in advance, fetches one token once,
  keeps connections alive inside one curl process, writes blobs to disk, verifies nothing.
* **registry_client (asyncio)** -- the same workloads with `registry_client.aio.AsyncRegistry`
  in `asyncio.run` (a-d: the 200 manifests are one `asyncio.gather`); the line under each
  table gives its time as a multiple of the blocking `registry_client` row's (`x_sync` in
  the JSON), and the goals want it at least as fast.
* python-dxf refuses token auth over plain http (`DXFAuthInsecureError`), so it runs against
  the *anonymous* registries: no challenge, no token requests -- a slightly easier job.
  In (a) its **x curl** is against the anonymous floor.
* **oras-py** (0.2.43, issue #15) through its public API: pull = `get_manifest` +
  `download_blob` of the config and each layer (its `pull()` untars `tar+gzip` layers, an
  artifact tool's job), push = `push()` of the layer files and the config, copy =
  `download_blob` to a temporary file + `upload_blob` per blob, then `upload_manifest`
  (it has no copy). Its push runs against an anonymous registry: with token auth it
  re-sends the pull-scoped token for the upload and fails (401).
* **(a) anonymous** -- `registry_client (anonymous)` pulls from an anonymous registry;
  its floor is `curl (anonymous sequential)`, the same curl command without a token.
* **(f) `hashlib sha256 (CPU yardstick)`** -- hashlib's sha256 of the blob's size in 1 MiB
  updates, in a fresh process (its op CPU is the hash alone): with curl's CPU, the
  yardstick of the (f) CPU goal.
* **(g) `registry_client ls, in-process after import`** -- "the library's own ls time":
  in a fresh process, after `from registry_client import Registry`, the time of what
  `registry-client ls HOST/REPO` then does (make the `Registry`, list the tags: challenge,
  token, `tags/list`; print them; close). The (g) ls goal is the CLI's wall <= the
  `import requests` row's **process s** + this row's **time s** + 30 ms.
* **(h)** -- `retention.plan(repo, keep=N)` over tags spread over a few images (one tag
  each pushed, the others linked in the registry's storage); the floor is a curl script
  doing the same requests (tag list, one HEAD per tag, one GET per manifest and per
  config) with `xargs -P4`.
* Goals are the issue's, never loosened: `short` means missed, with the measured numbers.
  A goal against another row also gives the **paired median**: the median of the ratios of
  the runs of one round (the rows take turns, in an order that rotates each round, so a
  pair shares the machine's moment) -- steadier than the ratio of the medians on a machine
  whose speed drifts. The verdict is the ratio of the medians'.
"""


def markdown(report: dict[str, Any], previous: str | None) -> str:
    meta = report["meta"]
    parts = ["# registry_client benchmarks", "",
             "Generated by `python -m benchmarks` -- do not edit the tables by hand; the notes "
             "section at the end is kept when the page is regenerated.", "",
             HOW_TO.format(minutes=max(1, round(meta["elapsed_s"] / 60))), "",
             "## This machine", "",
             f"{meta['date']}, commit `{meta.get('commit', '?')}`"
             + (f" (`{meta['commit_end']}` at the end)"
                if meta.get("commit_end", meta.get("commit")) != meta.get("commit") else "")
             + " -- "
             f"{meta['cpus']} CPUs ({meta['cpu_model']}), "
             f"{meta['mem_gib']:.0f} GiB RAM, data in `{meta['data_dir_fs']}`"
             + (f" (`{meta['data_dir_device']}`)" if meta.get("data_dir_device") else "")
             + "; "
             f"{meta['versions']}; {meta['runs']} measured runs "
             f"(+{meta['warmup']} warm-up) per client; whole run {meta['elapsed_s']:.0f} s; "
             f"load average {meta['loadavg_start'][0]:.2f} at the start, "
             f"{meta['loadavg_end'][0]:.2f} at the end."
             + (" **Quick mode (small data): not the real numbers.**" if meta["quick"] else ""),
             "", "## Goals", ""]
    grows = [["", "workload", "client", "goal", "measured"]]
    for g in report["goals"]:
        mark = {"pass": "pass", "short": "**SHORT**", "n/a": "n/a"}[g["status"]]
        grows.append([mark, g["workload"], g["client"], g["goal"],
                      g["measured"] + (f" -- {g['why']}" if g["why"] else "")])
    parts += [_md_table(grows), "", "## Results", ""]
    for key, w in report["workloads"].items():
        parts.append(f"### ({key}) {w['title']}")
        parts.append("")
        parts.append(f"Payload {w['payload_bytes'] / MIB:.1f} MiB; {w['runs']} runs.")
        parts.append("")
        rows = [[*COLUMNS, "note"]]
        for n, r in w["results"].items():
            cells = row_cells(n, r, key)
            note = cells[-1] if cells[1] in ("gap", "FAILED") else r.get("note", "")
            if cells[1] in ("gap", "FAILED"):
                rows.append([*cells[:2], *[""] * (len(COLUMNS) - 2), note])
            else:
                rows.append([*cells, note])
        parts.append(_md_table(rows))
        parts.append("")
        for extra in (async_vs_sync(w["results"]),
                      retention_line(w["results"]) if key == "h" else None):
            if extra:
                parts += [extra, ""]
        if key == "g" and report.get("import_breakdown"):
            parts.append("What `from registry_client import Registry` adds after `import "
                         "requests` (one `python -X importtime -c 'import requests; from "
                         "registry_client import Registry'`, down to grandchildren, "
                         "cumulative ms):")
            parts.append("")
            parts.append(_md_table([["module", "cumulative ms"]] + [
                [m, f"{us / 1000:.1f}"] for m, us in report["import_breakdown"]]))
            parts.append("")
    if report.get("gaps"):
        parts += ["## Gaps", ""]
        parts += [f"* **{k}**: {v}" for k, v in report["gaps"].items()]
        parts.append("")
    notes = _old_notes(previous) or (
        f"{NOTES_BEGIN}\n## Notes\n\n(Why each short goal is short goes here.)\n{NOTES_END}")
    parts += [notes, ""]
    return "\n".join(parts)


def _old_notes(previous: str | None) -> str | None:
    if not previous:
        return None
    m = re.search(re.escape(NOTES_BEGIN) + r".*?" + re.escape(NOTES_END), previous, re.S)
    return m.group(0) if m else None


__all__ = ["CLI", "DXF", "G_BARE", "G_CLI", "add_ratios", "console", "evaluate_goals",
           "markdown", "summarize", "write_json"]
