"""Verbs that check and assemble images: ``validate``, ``index create``, ``artifact get``."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from registry_client import NotFoundError

from ._artifacts import descriptor_json, key_values
from ._context import Context, UsageError
from ._parser import Parser, add_verb, nonempty_path
from ._transfer import _report

if TYPE_CHECKING:
    from registry_client import ValidationReport

__all__ = ["register"]

_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}")


def register(
    verbs: argparse._SubParsersAction[Parser], common: list[Parser]
) -> None:
    """Add ``validate``, ``index`` and ``artifact``."""
    sub = add_verb(
        verbs, "validate", common, handler=run_validate, platform=True,
        summary="check an image's blobs, layers and diff_ids",
        description="Read every blob of the image REFERENCE (every platform of an index,\n"
        "or --platform's) and check its digest and size, that layers are readable tar\n"
        "streams and that the config's diff_ids are the layers'. Prints each problem\n"
        "(exit 1 when there is one), else 'ok'. Nothing is written.",
    )
    sub.add_argument("reference", metavar="REFERENCE", nargs="?",
                     help="e.g. localhost:5000/app:1.0")
    sub.add_argument("--remote", metavar="REFERENCE",
                     help="the image to check, as crane validate --remote (instead of the "
                     "REFERENCE argument)")

    sub = add_verb(
        verbs, "index", common, handler=run_index,
        summary="create a multi-platform index: index create NEW REF...",
        description="index create NEW REF...: push an OCI image index of the single-platform\n"
        "images REF... as NEW. A REF is a tag or digest of NEW's repository or an image\n"
        "of another repository of NEW's registry, which is copied into NEW's repository\n"
        "by digest first (blobs mounted, as crane index append does). Each entry's\n"
        "platform is read from its image's config. Prints NEW@DIGEST.",
    )
    sub.add_argument("action", choices=("create",), help="what to do (create)")
    sub.add_argument("new", metavar="NEW", help="the index to push, e.g. host/app:1.0")
    sub.add_argument("references", metavar="REF", nargs="+",
                     help="an image of the same registry: a tag or digest of NEW's repository, "
                     "or a full reference")
    sub.add_argument("--annotation", metavar="KEY=VALUE", action="append", default=[],
                     help="an annotation of the index (repeat for more)")

    sub = add_verb(
        verbs, "artifact", common, handler=run_artifact,
        summary="download an artifact's files: artifact get REF -o DIR",
        description="artifact get REF -o DIR: write the files of the artifact manifest REF\n"
        "(an SBOM, a signature...) into DIR, each named by its\n"
        "org.opencontainers.image.title; a title that is a path is refused and nothing\n"
        "is written. With --artifact-type, REF is the image and its referrer of that\n"
        "type is fetched (the last listed when several). Prints the files written.",
    )
    sub.add_argument("action", choices=("get",), help="what to do (get)")
    sub.add_argument("reference", metavar="REF", help="the artifact (or the image, with "
                     "--artifact-type)")
    sub.add_argument("-o", "--output", metavar="DIR", required=True, type=nonempty_path,
                     help="folder to write the files into (created if missing)")
    sub.add_argument("--artifact-type", metavar="TYPE",
                     help="REF is an image: fetch its referrer of this artifact type")


def _print_report(ctx: Context, report: ValidationReport, reference: str) -> int:
    if ctx.json:  # the image checked in full, as every verb's JSON names it
        ctx.print_json({**report.to_dict(), "reference": reference})
    else:
        for problem in report.problems:
            ctx.line(f"problem: {problem}")
        if report.ok:
            ctx.line(f"ok: {report.digest} ({len(report.manifests)} image(s), "
                     f"{report.blobs} blobs)")
    return 0 if report.ok else 1


def run_validate(ctx: Context) -> int:
    """``validate REFERENCE`` (or crane's ``validate --remote REFERENCE``)."""
    given = [t for t in (ctx.args.reference, ctx.args.remote) if t is not None]
    if len(given) != 1:
        raise UsageError("give the image to check once: REFERENCE or --remote REFERENCE")
    ref, reference = ctx.image_reference(given[0])
    report = ctx.repository(ref).images.validate(reference, ctx.platform)
    return _print_report(ctx, report, str(ref) if ref.reference else f"{ref}:{reference}")


def run_index(ctx: Context) -> int:
    """``index create NEW REF...``."""
    new = ctx.reference(ctx.args.new, "index")
    if new.digest is not None or new.tag is None:
        raise UsageError(f"{ctx.args.new!r}: name the index with a tag")
    references: list[str] = []
    for text in ctx.args.references:
        if _DIGEST.fullmatch(text):  # a bare digest of the index's repository
            references.append(text)
        elif ":" in text or "@" in text or "/" in text:
            ref, reference = ctx.image_reference(text)
            if ref.domain.lower() != new.domain.lower():
                raise UsageError(f"{text!r} is on {ref.domain} and the index on {new.domain}: "
                                 "both must be on one registry (copy the image over first)")
            sep = "@" if ref.digest else ":"
            references.append(reference if ref.path == new.path
                              else f"{ref.path}{sep}{reference}")
        else:
            references.append(text)
    repo = ctx.repository(new)
    image = repo.images.create_index(new.tag, references,
                                     key_values(ctx.args.annotation) or None)
    return _report(ctx, image)


def run_artifact(ctx: Context) -> int:
    """``artifact get REF -o DIR``."""
    ref, reference = ctx.image_reference(ctx.args.reference)
    repo = ctx.repository(ref)
    chosen = None
    if ctx.args.artifact_type is not None:
        subject = ref.digest or repo.manifests.head(reference).digest
        found = repo.manifests.referrers(subject, ctx.args.artifact_type)
        if not found:
            raise NotFoundError(f"{ctx.args.reference} has no referrer of type "
                                f"{ctx.args.artifact_type}")
        chosen = found[-1]
        reference = chosen.digest
    paths = repo.images.fetch_artifact(reference, Path(ctx.args.output))
    if ctx.json:
        ctx.print_json({"artifact": reference, "files": [str(p) for p in paths],
                        **({"referrer": descriptor_json(chosen)} if chosen else {})})
    else:
        for path in paths:
            ctx.line(str(path))
    return 0
