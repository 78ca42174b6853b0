"""The ``ratelimit`` verb: how much of the registry's pull budget is left."""

from __future__ import annotations

import argparse

from ._context import Context
from ._parser import Parser, add_verb

__all__ = ["register"]


def register(verbs: argparse._SubParsersAction[Parser], common: list[Parser]) -> None:
    """Add ``ratelimit``."""
    sub = add_verb(
        verbs, "ratelimit", common, handler=run_ratelimit,
        summary="show the registry's pull rate limit (Docker Hub headers)",
        description="Send one manifest HEAD for REFERENCE (Docker Hub does not count HEADs\n"
        "against the limit) and print the limit the registry reports: remaining of\n"
        "limit per window. Registries without rate-limit headers print 'no limit'.",
    )
    sub.add_argument("reference", metavar="REFERENCE", help="e.g. docker.io/library/alpine")


def run_ratelimit(ctx: Context) -> int:
    """``ratelimit REFERENCE``."""
    ref, reference = ctx.image_reference(ctx.args.reference)
    registry = ctx.registry(ref)
    registry.repository(ref.path).manifests.head(reference)
    limit = registry.rate_limit
    if ctx.json:
        ctx.print_json(None if limit is None else {
            "limit": limit.limit, "remaining": limit.remaining, "window": limit.window,
            "source": limit.source,
        })
    elif limit is None:
        ctx.line(f"{ref.domain}: no limit reported")
    else:
        window = f" per {limit.window} s" if limit.window else ""
        ctx.line(f"{ref.domain}: {limit.remaining if limit.remaining is not None else '?'} "
                 f"of {limit.limit} remaining{window}")
    return 0
