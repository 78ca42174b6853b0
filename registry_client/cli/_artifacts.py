"""Verbs about OCI 1.1 artifacts: ``referrers`` (list them) and ``attach`` (push one)."""

from __future__ import annotations

import argparse
import errno
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry_client import ImageReference, Repository

from ._context import Context, UsageError, utf8_text
from ._parser import Parser, add_verb, nonempty_path

if TYPE_CHECKING:
    from registry_client import Descriptor

__all__ = ["register"]


def register(
    verbs: argparse._SubParsersAction[Parser], common: list[Parser]
) -> None:
    """Add ``referrers`` and ``attach``."""
    sub = add_verb(
        verbs, "referrers", common, handler=run_referrers,
        summary="list the artifacts (signatures, SBOMs) that refer to an image",
        description="List the manifests whose subject is the image REFERENCE (OCI 1.1\n"
        "referrers), one per line: DIGEST<TAB>ARTIFACT-TYPE<TAB>SIZE. Uses the referrers\n"
        "API, or the sha256-<hex> tag of the referrers tag schema where the registry\n"
        "lacks it (Distribution 2.8).",
    )
    sub.add_argument("reference", metavar="REFERENCE", help="e.g. localhost:5000/app:1.0")
    sub.add_argument(
        "--artifact-type", metavar="TYPE", help="only referrers of this artifact type"
    )

    sub = add_verb(
        verbs, "attach", common, handler=run_attach,
        summary="attach files to an image as an OCI 1.1 artifact",
        description="Push FILE... as the layers of an artifact manifest (artifactType TYPE,\n"
        "empty config, subject = the image REFERENCE) and print its digest. Each file\n"
        "is a layer of type application/octet-stream, titled with its file name.\n"
        "Where the registry has no referrers API the image's sha256-<hex> referrers\n"
        "tag is updated too (last writer wins).",
    )
    sub.add_argument("reference", metavar="REFERENCE", help="the image, e.g. host/app:1.0")
    sub.add_argument(
        "--artifact-type", metavar="TYPE", required=True,
        help="e.g. application/spdx+json or application/vnd.example.signature",
    )
    sub.add_argument("files", metavar="FILE", nargs="+", type=nonempty_path, help="files to attach")
    sub.add_argument(
        "--annotation", metavar="KEY=VALUE", action="append", default=[],
        help="an annotation of the artifact manifest (repeat for more)",
    )


def descriptor_json(d: Descriptor) -> dict[str, Any]:
    """A referrer's descriptor as a JSON-ready dict."""
    return {
        "digest": d.digest, "media_type": d.media_type, "artifact_type": d.artifact_type,
        "size": d.size, "annotations": dict(d.annotations or {}),
    }


def _subject(ctx: Context, text: str) -> tuple[ImageReference, Repository, str]:
    ref, reference = ctx.image_reference(text)
    repo = ctx.repository(ref)
    digest = ref.digest or repo.manifests.head(reference).digest
    return ref, repo, digest


def run_referrers(ctx: Context) -> int:
    """``referrers REFERENCE``."""
    _, repo, digest = _subject(ctx, ctx.args.reference)
    found = repo.manifests.referrers(digest, ctx.args.artifact_type)
    if ctx.json:
        ctx.print_json({"subject": digest, "referrers": [descriptor_json(d) for d in found]})
        return 0
    for d in found:
        ctx.line(f"{d.digest}\t{d.artifact_type or '-'}\t{d.size}")
    return 0


def key_values(items: list[str], flag: str = "--annotation") -> dict[str, str]:
    """``KEY=VALUE`` flag values as a dict (a later key wins); UsageError naming ``flag``."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = utf8_text(item, flag).partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} {item!r}: want KEY=VALUE")
        result[key] = value
    return result


def run_attach(ctx: Context) -> int:
    """``attach REFERENCE --artifact-type TYPE FILE...``."""
    args = ctx.args
    annotations = key_values(args.annotation)
    files = [Path(f) for f in args.files]
    for f in files:
        if not f.exists():  # exit 1, as every file that is not there
            raise FileNotFoundError(errno.ENOENT, "no such file or directory", str(f))
        if not f.is_file():
            raise UsageError(f"{str(f)!r} is not a file")
    _, repo, digest = _subject(ctx, args.reference)
    artifact = repo.images.attach(digest, args.artifact_type, files, annotations or None)
    if ctx.json:
        ctx.print_json({"subject": digest, **descriptor_json(artifact)})
    else:
        ctx.line(artifact.digest)
    return 0
