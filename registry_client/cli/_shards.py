"""``sync``'s flags for running as one task of many: ``--shard I/N`` (or ``--shards N``
with a Kubernetes Indexed Job's ``$JOB_COMPLETION_INDEX``) and ``--journal FILE``."""

from __future__ import annotations

import os
from typing import Any

from ._context import Context, UsageError
from ._parser import Parser, nonempty_path

__all__ = ["add_task_arguments", "task_options"]

INDEX_VARIABLE = "JOB_COMPLETION_INDEX"


def add_task_arguments(sub: Parser) -> None:
    """Add ``--shard``, ``--shards`` and ``--journal`` to the ``sync`` verb."""
    group = sub.add_argument_group(
        "one of many runs (a Kubernetes Indexed Job, a restart)",
        "The images are planned first (each with its digest), then copied one task\n"
        "each; an image already at the target costs one HEAD.")
    group.add_argument(
        "--shard", metavar="I/N",
        help="copy only shard I of N (0 <= I < N): the N runs copy every image once,\n"
        "none twice (a stable hash of the source image name picks its shard)")
    group.add_argument(
        "--shards", metavar="N", type=int,
        help=f"N shards, this run's index from ${INDEX_VARIABLE} (set by a Kubernetes\n"
        "Indexed Job) when --shard is not given. With that variable set, one of\n"
        "--shards and --shard is required (a forgotten --shards would copy every\n"
        "image in every pod)")
    group.add_argument(
        "--journal", metavar="FILE", type=nonempty_path,
        help="append each finished image to FILE (JSON lines, fsynced); a re-run with\n"
        "the same FILE skips them without a request and does the rest (a tag moved\n"
        "since is copied again). A journal of another sync file's entries or another\n"
        "shard is refused, and so is one another run holds open")


def task_options(ctx: Context) -> dict[str, Any]:
    """The ``sync()`` keywords of these flags (none when they are absent)."""
    from registry_client.sync import parse_shard  # this verb only: a quicker CLI start

    args = ctx.args
    options: dict[str, Any] = {}
    shards: int | None = args.shards
    if shards is not None and shards < 1:
        raise UsageError(f"--shards {shards}: give at least 1")
    if args.shard is not None:
        try:
            shard = parse_shard(args.shard)
        except ValueError as exc:
            raise UsageError(f"--shard {exc}") from None
        if shards is not None and shards != shard[1]:
            raise UsageError(f"--shard {args.shard} and --shards {shards} disagree")
        options["shard"] = shard
    elif shards is not None:
        index = os.environ.get(INDEX_VARIABLE)
        if index is None:
            raise UsageError(f"--shards {shards}: give --shard I/{shards}, or set "
                             f"${INDEX_VARIABLE} (a Kubernetes Indexed Job does)")
        try:
            options["shard"] = parse_shard(f"{index}/{shards}")
        except ValueError as exc:
            raise UsageError(f"${INDEX_VARIABLE}: {exc}") from None
    elif INDEX_VARIABLE in os.environ:
        raise UsageError(
            f"${INDEX_VARIABLE} is set (a Kubernetes Indexed Job) but neither --shards N "
            "nor --shard I/N is given: every pod would copy every image. Give --shards "
            "N (the Job's completions), or --shard 0/1 to copy everything on purpose")
    if args.journal is not None:
        options["journal"] = args.journal
    return options
