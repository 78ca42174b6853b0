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
    CURLP,
    DXF,
    FLOOR,
    G_BARE,
    G_CLI,
    G_RC,
    G_RC_REGISTRY,
    G_REQUESTS,
    RC,
    RCA,
    SKOPEO,
)

MIB = 1 << 20
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
    floor = results.get(FLOOR, {}).get("median_s")
    par = results.get(CURLP, {}).get("median_s")
    blocking = results.get(RC, {}).get("median_s")
    for row in results.values():
        t = row.get("median_s")
        row["x_curl"] = (t / floor) if (t and floor) else None
        row["x_curl_parallel"] = (t / par) if (t and par) else None
        row["x_sync"] = (t / blocking) if (t and blocking) else None


def async_vs_sync(results: dict[str, dict[str, Any]]) -> str | None:
    """One line comparing the asyncio row with the blocking row, when both were measured."""
    row, sync = results.get(RCA, {}), results.get(RC, {})
    t, s = row.get("median_s"), sync.get("median_s")
    if not (t and s):
        return None
    return (f"{RCA}: {t:.3f} s = {t / s:.2f} x the time of {RC} ({s:.3f} s); "
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
                           f"{t:.3f} s = {t / f:.2f} x curl ({f:.3f} s)", t <= limit * f,
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
        row = res.get(RC, {})
        want = 2 + ctx["n_blobs"]
        ok = _all_runs(row, lambda r: r["registry_requests"] == want and r["token_requests"] == 1
                       and r["by_kind"].get("GET blobs 200", 0) == ctx["n_blobs"])
        goals.append(_goal(
            "a-requests", "a", RC,
            f"pull: exactly challenge + token + manifest + config + one GET per layer "
            f"({want} registry requests, 1 token request)",
            _req_text(row), ok, "" if ok is not False else _kinds_text(row)))
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
    for w, name in (("a", "pull"), ("b", "push"), ("c", "copy"), ("d", "manifests")):
        if w not in results:
            continue
        res = results[w]["results"]
        row, sync = res.get(RCA, {}), res.get(RC, {})
        t, s = row.get("median_s"), sync.get("median_s")
        goals.append(_goal(
            f"{w}-async", w, RCA, f"asyncio {name} at least as fast as the blocking row",
            f"{t:.3f} s vs {s:.3f} s = {t / s:.2f} x" if t and s else _missing(row, sync),
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
    return goals


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

COLUMNS = ("client", "time s", "process s", "CPU s", "MB/s", "registry req", "token req",
           "conns", "peak RSS MiB", "x curl", "x curl -P4")


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
        ratio = async_vs_sync(w["results"])
        if ratio:
            lines.append(f"  {ratio}")
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
.venv/bin/python -m benchmarks --help
```

It starts the real registry (`docker-registry`, CNCF Distribution 2.8) on loopback -- one
with token auth (the plugin's token server) and two anonymous ones -- writes incompressible
test data under `/dev/shm`, and runs every client in its own subprocess, round-robin, one
warm-up run each and then N measured runs. python-dxf is installed into
`benchmarks/.peers` on first use (`pip install --target`), never into the project.
Results: the console, `benchmarks/results/latest.json`, and (for a full run) this page and
`benchmarks/RESULTS.json`.

## How to read the tables

* **time s** -- median over the measured runs. For the Python library rows
  (`registry_client`, `python-dxf`) it is the time of the operation inside the process
  (client created, every request sent, every byte on disk), *without* interpreter start-up
  and imports -- that cost is workload (g). **process s** is the whole subprocess for those
  rows; for command-line clients (`skopeo`, the CLI, curl) time = process time (`=`).
* **CPU s** -- median user + system CPU time of the client process (and its children):
  less sensitive than wall time to other load on the machine.
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
* Goals are the issue's, never loosened: `short` means missed, with the measured numbers.
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
             f"{meta['mem_gib']:.0f} GiB RAM, data in `{meta['data_dir_fs']}`; "
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
                rows.append([*cells[:-1], note])
        parts.append(_md_table(rows))
        parts.append("")
        ratio = async_vs_sync(w["results"])
        if ratio:
            parts += [ratio, ""]
        if key == "g" and report.get("import_breakdown"):
            parts.append("What `import registry_client` adds after `import requests` "
                         "(one `python -X importtime -c 'import requests; import "
                         "registry_client'`, down to grandchildren, cumulative ms):")
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
