"""Verbs that move whole images: ``pull`` (to an OCI layout), ``push`` (from one), ``copy``."""

from __future__ import annotations

import argparse
from pathlib import Path

from registry_client import Image

from ._context import DEFAULT_TAG, Context, UsageError
from ._parser import Parser, add_verb
from ._show import image_json

__all__ = ["register"]


def register(
    verbs: argparse._SubParsersAction[Parser], common: list[Parser]
) -> None:
    """Add ``pull``, ``push`` and ``copy``."""
    sub = add_verb(
        verbs, "pull", common, handler=run_pull, platform=True,
        summary="download an image into an OCI layout directory",
        description="Download an image into an OCI image layout (oci-layout, index.json,\n"
        "blobs/sha256/...) that skopeo, umoci and podman read. Every platform is pulled\n"
        "unless --platform picks one. Blobs already in DIR are kept; each blob is\n"
        "verified. Prints the pulled image as REFERENCE@DIGEST.",
    )
    sub.add_argument("reference", metavar="REFERENCE", help="e.g. localhost:5000/app:1.0")
    sub.add_argument("directory", metavar="DIR", help="layout directory (created if missing)")

    sub = add_verb(
        verbs, "push", common, handler=run_push,
        summary="upload an image from an OCI layout directory",
        description="Upload an image from an OCI image layout and tag it. The index.json\n"
        "entry whose org.opencontainers.image.ref.name is the tag of REFERENCE (or the\n"
        "only entry) is pushed; blobs the registry has already are not sent again.\n"
        "Without a tag, REFERENCE means :latest. Prints the pushed image as\n"
        "REFERENCE@DIGEST.",
    )
    sub.add_argument("directory", metavar="DIR", help="an OCI image layout directory")
    sub.add_argument("reference", metavar="REFERENCE", help="where to push, e.g. host/app:1.0")

    sub = add_verb(
        verbs, "copy", common, handler=run_copy, aliases=("cp",),
        summary="copy an image (every platform) to another repository or registry",
        description="Copy an image with all its platforms, on one registry (blobs are\n"
        "mounted, nothing is downloaded) or between two (blobs stream from one to the\n"
        "other). Digests stay the same. Without a tag, DESTINATION keeps the source\n"
        "tag (a source given by digest is copied by digest only). Credentials from\n"
        "docker's config are looked up per registry; --username/--password and\n"
        "$REGISTRY_USERNAME/$REGISTRY_PASSWORD are used for both.",
    )
    sub.add_argument("source", metavar="SOURCE", help="e.g. localhost:5000/app:1.0")
    sub.add_argument("destination", metavar="DESTINATION", help="e.g. registry.example.com/app")


def _report(ctx: Context, image: Image) -> int:
    if ctx.json:
        ctx.print_json(image_json(image))
    else:
        ctx.line(image.reference)
    return 0


def run_pull(ctx: Context) -> int:
    """``pull REFERENCE DIR``."""
    ref, reference = ctx.image_reference(ctx.args.reference)
    repo = ctx.repository(ref)
    with ctx.progress("pull") as progress:
        image = repo.images.pull(
            reference, Path(ctx.args.directory), platform=ctx.platform, progress=progress
        )
    return _report(ctx, image)


def run_push(ctx: Context) -> int:
    """``push DIR REFERENCE``."""
    ref = ctx.reference(ctx.args.reference)
    if ref.digest is not None:
        raise UsageError(f"{ctx.args.reference!r}: push to a tag, not to a digest")
    directory = Path(ctx.args.directory)
    if not (directory / "index.json").is_file():
        raise UsageError(f"{str(directory)!r} is not an OCI image layout (no index.json)")
    repo = ctx.repository(ref)
    with ctx.progress("push") as progress:
        image = repo.images.push(directory, ref.tag or DEFAULT_TAG, progress=progress)
    return _report(ctx, image)


def run_copy(ctx: Context) -> int:
    """``copy SOURCE DESTINATION``."""
    src, reference = ctx.image_reference(ctx.args.source, what="source")
    dst = ctx.reference(ctx.args.destination, what="destination")
    if dst.digest is not None:
        raise UsageError(
            f"destination {ctx.args.destination!r}: give a repository or a tag, not a digest"
        )
    source = ctx.repository(src)
    target = ctx.repository(dst)
    with ctx.progress("copy") as progress:
        image = source.images.copy(reference, target, dst.tag, progress=progress)
    return _report(ctx, image)
