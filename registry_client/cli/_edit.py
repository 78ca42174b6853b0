"""Verbs that change a repository: ``tag`` (retag) and ``delete``."""

from __future__ import annotations

import argparse

from registry_client import InvalidReferenceError

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
        summary="delete a tag, or a manifest by digest",
        description="With a tag (host/app:1.0), remove that tag only: other tags on the\n"
        "same manifest stay. With a digest (host/app@sha256:...), delete the manifest\n"
        "and with it every tag pointing to it. When both are given the digest is used.\n"
        "The registry must allow deletes (Distribution: storage.delete.enabled).",
    )
    sub.add_argument(
        "reference", metavar="REFERENCE", help="host/app:TAG or host/app@sha256:..."
    )


def run_tag(ctx: Context) -> int:
    """``tag REFERENCE NEWTAG``."""
    ref, reference = ctx.image_reference(ctx.args.reference)
    new_tag: str = ctx.args.new_tag
    try:
        ref.with_tag(new_tag)
    except InvalidReferenceError:
        raise UsageError(
            f"NEWTAG {new_tag[:140]!r}: give a bare tag such as 1.1 (letters, digits, "
            "'_', '.', '-'; up to 128)"
        ) from None
    image = ctx.repository(ref).images.retag(reference, new_tag)
    if ctx.json:
        ctx.print_json(image_json(image))
    else:
        ctx.line(image.reference)
    return 0


def run_delete(ctx: Context) -> int:
    """``delete REFERENCE``."""
    ref = ctx.reference(ctx.args.reference)
    if ref.digest is None and ref.tag is None:
        raise UsageError(
            f"{ctx.args.reference!r}: say what to delete: REPOSITORY:TAG or REPOSITORY@DIGEST"
        )
    repo = ctx.repository(ref)
    if ref.digest is not None:
        repo.images.delete_by_digest(ref.digest)
    elif ref.tag is not None:
        repo.tags.delete(ref.tag)
    return 0
