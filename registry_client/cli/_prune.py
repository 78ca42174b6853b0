"""The ``prune`` verb: delete old tags by a retention policy, showing the plan first."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING

from registry_client import RegistryError

from ._context import Context, UsageError
from ._parser import Parser, add_verb, at_least

if TYPE_CHECKING:
    from registry_client.retention import RetentionPlan

__all__ = ["register"]


def register(
    verbs: argparse._SubParsersAction[Parser], common: list[Parser]
) -> None:
    """Add ``prune``."""
    sub = add_verb(
        verbs, "prune", common, handler=run_prune,
        summary="delete old tags of a repository by a retention policy",
        description="Plan which tags of REPOSITORY go, print the plan as a table (tag,\n"
        "digest, created, bytes freed, reason), then delete those tags one by one\n"
        "(other tags on the same image stay). A tag is deleted only when no keep rule\n"
        "protects it (--keep, --keep-semver, --keep-pattern) and, with --older-than,\n"
        "its image is older than that; without --older-than every unprotected tag goes.\n"
        "Tags of unknown age, sha256-<hex> referrers tags and cosign's\n"
        "sha256-<hex>.sig/.att/.sbom tags are always kept.\n"
        "Space comes back when the registry garbage-collects.",
    )
    sub.add_argument("repository", metavar="REPOSITORY", help="e.g. localhost:5000/app")
    sub.add_argument(
        "--keep", type=at_least(0), metavar="N",
        help="keep the N newest tags (by image created time)",
    )
    sub.add_argument(
        "--keep-semver", type=at_least(0), metavar="N",
        help="keep the N highest semantic-version tags (1.2.3, v1.2.3)",
    )
    sub.add_argument(
        "--keep-pattern", metavar="GLOB", action="append", default=[],
        help="keep tags matching this glob, e.g. 'v*' (repeat for more)",
    )
    sub.add_argument(
        "--older-than", metavar="AGE", help="delete only tags older than AGE: 30d, 12h, 2w"
    )
    sub.add_argument(
        "--dry-run", action="store_true", help="print the plan, delete nothing"
    )


def _bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _tags(n: int) -> str:
    return f"{n} tag" if n == 1 else f"{n} tags"


def _short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def _when(created: dt.datetime) -> str:
    """``created`` to the minute in UTC (``Z``), the year always four digits.

    Go's zero time (year 1) is common; with an east offset it has no UTC form
    in Python (year 0), so it keeps its own offset.
    """
    try:
        created = created.astimezone(dt.timezone.utc)
    except OverflowError:
        pass
    return created.isoformat(timespec="minutes").replace("+00:00", "Z")


def _table(ctx: Context, plan: RetentionPlan) -> None:
    rows = [("ACTION", "TAG", "DIGEST", "CREATED", "FREES", "REASON")]
    for action, decisions in (("delete", plan.delete), ("keep", plan.keep)):
        for d in decisions:
            created = _when(d.created) if d.created else "-"
            frees = _bytes(d.frees) if action == "delete" else "-"
            rows.append((action, d.tag, _short(d.digest), created, frees, d.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        ctx.line("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
                 + "  " + row[5])


def run_prune(ctx: Context) -> int:
    """``prune REPOSITORY``."""
    from registry_client import retention  # loaded by this verb only: a quicker CLI start

    args = ctx.args
    if args.keep is None and args.keep_semver is None and args.older_than is None:
        raise UsageError("say what may go: --keep N, --keep-semver N and/or --older-than AGE")
    try:
        older_than = (
            retention.parse_duration(args.older_than) if args.older_than is not None else None
        )
    except ValueError as exc:
        raise UsageError(f"--older-than: {exc}") from None
    ref = ctx.repository_reference(args.repository)
    repo = ctx.repository(ref)
    plan = retention.plan(
        repo, keep=args.keep, keep_semver=args.keep_semver,
        keep_patterns=args.keep_pattern, older_than=older_than,
    )
    if not ctx.json:  # the plan is on screen before anything is deleted
        _table(ctx, plan)
        ctx.line(
            f"{_tags(len(plan.delete) + len(plan.keep))}: {len(plan.delete)} to delete "
            f"(frees {_bytes(plan.frees)}), {len(plan.keep)} to keep"
        )
        ctx.stdout.flush()
        if plan.vanished:
            ctx.error_line(f"vanished while planning (deleted meanwhile): "
                           f"{', '.join(plan.vanished)}")
    deleted: list[str] = []
    if not args.dry_run:
        try:
            retention.apply(repo, plan, on_deleted=deleted.append)
        except RegistryError:
            # Say what was already deleted before the error line (exit 1).
            if ctx.json:
                ctx.print_json({**plan.to_dict(), "dry_run": False, "deleted": deleted,
                                "complete": False})
            else:
                ctx.line(f"deleted {_tags(len(deleted))} before the error"
                         + (f": {', '.join(deleted)}" if deleted else ""))
            raise
    if ctx.json:
        ctx.print_json({**plan.to_dict(), "dry_run": bool(args.dry_run), "deleted": deleted})
    else:
        ctx.line("dry run: nothing deleted" if args.dry_run else f"deleted {_tags(len(deleted))}")
    skipped = [d.tag for d in plan.delete if d.tag not in deleted]
    if skipped and not args.dry_run:
        ctx.error_line(f"skipped (gone or pushed again since the plan): {', '.join(skipped)}")
    return 0
