"""Verbs that change a repository: ``tag`` (retag) and ``delete``."""

from __future__ import annotations

import argparse

from registry_client import InvalidReferenceError, RegistryError
from registry_client.reference import TAG_RULE

from ._context import Context, UsageError
from ._parser import Parser, add_verb
from ._show import image_json

__all__ = ["register"]


def register(
    verbs: argparse._SubParsersAction[Parser], common: list[Parser]
) -> None:
    """Add ``tag`` and ``delete``."""
    sub = add_verb(
        verbs, "tag", common, handler=run_tag,
        summary="give an image another tag (no blob moves)",
        description="Put the manifest of REFERENCE under NEWTAG in the same repository\n"
        "(as crane tag). NEWTAG is a bare tag such as 1.1, not a reference. Prints the\n"
        "new tag as REFERENCE@DIGEST.",
    )
    sub.add_argument("reference", metavar="REFERENCE", help="e.g. localhost:5000/app:1.0")
    sub.add_argument("new_tag", metavar="NEWTAG", help="e.g. stable")

    sub = add_verb(
        verbs, "delete", common, handler=run_delete,
        summary="delete a tag, a manifest by digest, or a whole repository (--all)",
        description="With a tag (host/app:1.0), remove that tag only: other tags on the\n"
        "same manifest stay. With a digest (host/app@sha256:...), delete the manifest\n"
        "and with it every tag pointing to it. When both are given the digest is used.\n"
        "With --all and a repository (host/app), delete every manifest its tags reach,\n"
        "each once, an index before its platforms, printing each digest as it goes\n"
        "(--dry-run: print them, delete nothing). The bytes stay on the registry's disk\n"
        "until its garbage collector runs (Distribution: registry garbage-collect), and\n"
        "Distribution keeps the repository's name in its catalog.\n"
        "The registry must allow deletes (Distribution: storage.delete.enabled).",
    )
    sub.add_argument(
        "reference", metavar="REFERENCE",
        help="host/app:TAG, host/app@sha256:..., or host/app with --all",
    )
    sub.add_argument(
        "--all", action="store_true", help="delete every manifest of the repository"
    )
    sub.add_argument(
        "--dry-run", action="store_true", help="with --all: print what would go, delete nothing"
    )


def run_tag(ctx: Context) -> int:
    """``tag REFERENCE NEWTAG``."""
    ref, reference = ctx.image_reference(ctx.args.reference)
    new_tag: str = ctx.args.new_tag
    try:
        ref.with_tag(new_tag)
    except InvalidReferenceError:
        raise UsageError(
            f"NEWTAG {new_tag[:140]!r}: give a bare tag such as 1.1 ({TAG_RULE})"
        ) from None
    image = ctx.repository(ref).images.retag(reference, new_tag)
    if ctx.json:
        ctx.print_json(image_json(image))
    else:
        ctx.line(image.reference)
    return 0


def run_delete(ctx: Context) -> int:
    """``delete REFERENCE``."""
    if ctx.args.all:
        return _delete_repository(ctx)
    if ctx.args.dry_run:
        raise UsageError("--dry-run goes with --all (a repository)")
    if ctx.json:  # crane's delete prints nothing; --all prints the digests it deleted
        raise UsageError("--json goes with --all (its deleted digests): deleting one "
                         "reference prints no result")
    ref = ctx.reference(ctx.args.reference)
    if ref.digest is None and ref.tag is None:
        raise UsageError(
            f"{ctx.args.reference!r}: say what to delete: REPOSITORY:TAG, REPOSITORY@DIGEST "
            "or REPOSITORY --all"
        )
    repo = ctx.repository(ref)
    if ref.digest is not None:
        repo.images.delete_by_digest(ref.digest)
    elif ref.tag is not None:
        repo.tags.delete(ref.tag)
    return 0


def _delete_repository(ctx: Context) -> int:
    """``delete REPOSITORY --all [--dry-run]``: each digest on stdout as it goes."""
    repo = ctx.repository(ctx.repository_reference(ctx.args.reference))
    deleted: list[str] = []

    def report(digest: str) -> None:
        deleted.append(digest)
        if not ctx.json:
            ctx.line(digest)
            ctx.stdout.flush()

    if ctx.args.dry_run:
        for digest in repo.delete(dry_run=True):
            report(digest)
        ctx.stderr.write(f"dry run: {_manifests(len(deleted))} would go, nothing deleted\n")
    else:
        try:
            repo.delete(on_deleted=report)
        except RegistryError:
            if ctx.json:  # what went before the error line (exit 1)
                ctx.print_json(deleted)
            ctx.stderr.write(f"deleted {_manifests(len(deleted))} before the error\n")
            raise
        except BrokenPipeError:
            # `delete --all | head -1`: the reader of the digests is gone. A delete whose
            # digest nobody can read is not worth continuing; stop, and say how far it got
            # on stderr (the exit status alone, 141, does not say that anything went).
            ctx.error_line(
                f"stopped after {len(deleted)} deletion{'' if len(deleted) == 1 else 's'}: "
                f"standard output was closed; the rest of {repo.name} is kept")
            raise
        ctx.stderr.write(
            f"deleted {_manifests(len(deleted))} of {repo.name}; the registry frees their "
            "bytes when its garbage collector runs (Distribution: registry garbage-collect)\n"
        )
    if ctx.json:
        ctx.print_json(deleted)
    return 0


def _manifests(count: int) -> str:
    """``1 manifest``, ``2 manifests``."""
    return f"{count} manifest" if count == 1 else f"{count} manifests"
