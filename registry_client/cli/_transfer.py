"""Verbs that move whole images: ``pull`` (to an OCI layout), ``push`` (from one), ``copy``."""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import registry_client
from registry_client import (
    AuthorizationError,
    ImageReference,
    NotFoundError,
    Registry,
    Repository,
)

from ._connection import add_tls_verify_flags
from ._context import DEFAULT_TAG, Context, Side, UsageError, skopeo_registry
from ._parser import Parser, add_verb, nonempty_path, positive_int
from ._shards import add_task_arguments, task_options
from ._show import image_json, one_platform
from ._skopeo import skopeo_docker_entry, skopeo_entries

if TYPE_CHECKING:
    from registry_client import CopyPlan, Image, Platform
    from registry_client.services._archive import PullFormat
    from registry_client.sync import SyncResult

__all__ = ["register"]

_FORMATS: dict[str, PullFormat] = {
    "oci": "oci", "docker-archive": "docker-archive", "oci-archive": "oci-archive"}


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
        "verified. Prints the pulled image as REFERENCE@DIGEST. A FILE.tar (not a\n"
        "directory) is written as a docker-archive, as crane pull writes it.",
    )
    sub.add_argument("reference", metavar="REFERENCE", help="e.g. localhost:5000/app:1.0")
    sub.add_argument("directory", metavar="DIR|FILE.tar", type=nonempty_path,
                     help="layout directory (created if missing), or the tar to write: a "
                     "name ending in .tar that is no directory is a docker-archive unless "
                     "--format says otherwise; - writes the tar to standard output "
                     "(a docker-archive unless --format oci-archive)")
    sub.add_argument(
        "--format", choices=(*_FORMATS, "tarball"), default=None,
        help="oci: an OCI layout directory (the default, but for a FILE.tar);\n"
        "docker-archive (crane's `tarball`, its default): a tar `docker load` reads (one\n"
        "platform: --platform's, else linux/amd64 as crane); oci-archive: a tar of the\n"
        "layout",
    )

    sub = add_verb(
        verbs, "push", common, handler=run_push,
        summary="upload an image from an OCI layout directory or an archive tar",
        description="Upload an image from an OCI image layout, a docker-archive or an\n"
        "oci-archive tar (told apart by content) and tag it. The index.json\n"
        "entry whose org.opencontainers.image.ref.name is the tag of REFERENCE (or the\n"
        "only entry) is pushed; blobs the registry has already are not sent again.\n"
        "Without a tag, REFERENCE means :latest. Prints the pushed image as\n"
        "REFERENCE@DIGEST.",
    )
    sub.add_argument("directory", metavar="DIR|FILE.tar", type=nonempty_path,
                     help="an OCI image layout directory, a docker-archive or an oci-archive")
    sub.add_argument("reference", metavar="REFERENCE", help="where to push, e.g. host/app:1.0")

    sub = add_verb(
        verbs, "copy", common, handler=run_copy, aliases=("cp",), platform=True,
        summary="copy an image (every platform) to another repository or registry",
        description="Copy an image with all its platforms, on one registry (blobs are\n"
        "mounted, nothing is downloaded) or between two (blobs stream from one to the\n"
        "other). Digests stay the same. Without a tag, DESTINATION keeps the source\n"
        "tag (a source given by digest is copied by digest only). Each side's\n"
        "credentials: --src-creds / --dest-creds, else docker's config for its host;\n"
        "--username/--password and $REGISTRY_USERNAME/$REGISTRY_PASSWORD only when\n"
        "both are on one registry.\n\n"
        "With --platform OS/ARCH[/VARIANT] only that platform's image is copied: its\n"
        "manifest, with the same digest, under DESTINATION's tag (else the source\n"
        "tag). The index (manifest list) is NOT copied, so the destination is a\n"
        "single-platform image. A single-platform source must be of that platform.",
    )
    sub.add_argument("source", metavar="SOURCE", help="e.g. localhost:5000/app:1.0")
    sub.add_argument("destination", metavar="DESTINATION", help="e.g. registry.example.com/app")
    _side_credentials(sub)
    add_tls_verify_flags(sub)
    sub.add_argument(
        "--dry-run", action="store_true",
        help="copy nothing: print per blob whether it would be skipped (already there),\n"
        "mounted or transferred, and the bytes to move (HEAD requests only)",
    )
    sub.add_argument(
        "-a", "--all-tags", action="store_true",
        help="SOURCE is a repository: copy every tag of it to DESTINATION (a repository)",
    )
    sub.add_argument(
        "-r", "--referrers", action="store_true",
        help="copy the artifacts that refer to the image too (signatures, SBOMs: the\n"
        "referrers of each of its manifests, as regctl's --referrers and oras cp -r)",
    )
    _jobs(sub)
    sub.add_argument(
        "-n", "--no-clobber", action="store_true",
        help="leave the tags DESTINATION already has as they are (as crane copy -n): a\n"
        "copy onto one fails (exit 1), --all-tags skips them and names them on stderr",
    )
    skopeo = sub.add_argument_group(
        "skopeo's flags for what copy always does (accepted, so its command lines run)")
    skopeo.add_argument("--all", action="store_true",
                        help="every platform of an index (always, unless --platform)")
    skopeo.add_argument("--preserve-digests", action="store_true",
                        help="digests unchanged (always: nothing is converted)")

    sub = add_verb(
        verbs, "sync", common, handler=run_sync,
        summary="copy many repositories as a mapping file says",
        description="Copy images as FILE maps them: a JSON object or a YAML mapping\n"
        "('source: target' lines) of source references to target repositories, each\n"
        "source listed once. A source without tag or digest copies every tag, or with\n"
        "'source: {target: REPO, tags: REGEX}' the tags the regex matches. Images\n"
        "are copied a few at a time; a failure is reported and the others go on\n"
        "(exit 1 if any failed). A file that is not such a mapping (a source listed\n"
        "twice, a source without target) is refused, naming its line (exit 2).\n\n"
        "sync --src-yaml FILE DEST reads skopeo's sync file instead (registry: images,\n"
        "images-by-tag-regex, tls-verify, credentials) and puts each image where\n"
        "`skopeo sync --src yaml --dest docker FILE DEST` puts it: DEST/ and the last\n"
        "path component of its repository (team/app:1.0 -> DEST/app:1.0). Every\n"
        "platform of an index is copied, as skopeo sync --all does.\n\n"
        "skopeo's own spelling works too: sync --src yaml --dest docker FILE DEST (the\n"
        "same as --src-yaml FILE DEST), and sync --src docker --dest docker SOURCE DEST,\n"
        "which copies the repository SOURCE (every tag) or the image SOURCE (one tag)\n"
        "to DEST/ and its last path component, as skopeo does.",
    )
    sub.add_argument("file", metavar="FILE", nargs="?",
                     help="the mapping (JSON or YAML); with --src-yaml: DEST, where the "
                     "images go (e.g. localhost:5000/mirror); with --src: skopeo's "
                     "SOURCE (a sync file, or a repository or image)")
    sub.add_argument("destination", metavar="DEST", nargs="?",
                     help="with --src (skopeo's syntax): where the images go")
    sub.add_argument("--src-yaml", metavar="FILE", type=nonempty_path,
                     help="a skopeo sync file (see above)")
    sub.add_argument("--src", choices=("yaml", "docker"),
                     help="skopeo's source transport: FILE is a sync file (yaml) or a "
                     "repository or image (docker); DEST follows")
    sub.add_argument("--dest", choices=("docker",),
                     help="skopeo's destination transport (a registry: the only one here)")
    sub.add_argument("--dry-run", action="store_true", help="print the copy plans only")
    skopeo = sub.add_argument_group(
        "skopeo's flags for what sync always does (accepted, so its command lines run)")
    skopeo.add_argument("-a", "--all", action="store_true",
                        help="every platform of an index (always)")
    skopeo.add_argument("--preserve-digests", action="store_true",
                        help="digests unchanged (always: nothing is converted)")
    skopeo.add_argument("--keep-going", action="store_true",
                        help="go on after an image fails (always; exit 1 at the end)")
    _jobs(sub)
    _side_credentials(sub)
    add_task_arguments(sub)
    add_tls_verify_flags(sub)


def _jobs(sub: Parser) -> None:
    sub.add_argument(
        "-j", "--jobs", type=positive_int, metavar="N",
        help="at most N images copied at once and N blobs at once in each (as crane's\n"
        "-j; default 4)",
    )


def _side_credentials(sub: Parser) -> None:
    group = sub.add_argument_group(
        "credentials per side (as skopeo)",
        "USER alone reads the password from one line of standard input; a PASSWORD on\n"
        "the command line is visible in `ps` and shell history. A side without its flag\n"
        "uses docker's config for its registry.")
    group.add_argument(
        "--src-creds", metavar="USER[:PASSWORD]",
        help="credentials for the source registry only",
    )
    group.add_argument(
        "--dest-creds", metavar="USER[:PASSWORD]",
        help="credentials for the destination registry only",
    )


def _report(ctx: Context, image: Image) -> int:
    if ctx.json:
        ctx.print_json(image_json(image))
    else:
        ctx.line(image.reference)
    return 0


def _pull_format(name: str | None, path: Path) -> PullFormat:
    """The format of ``pull``: ``--format`` (crane's ``tarball`` is a docker-archive),
    else what ``crane pull`` writes to a ``.tar`` name -- a docker-archive -- unless it
    is a directory, else an OCI layout."""
    if name is None:
        return ("docker-archive" if path.suffix.lower() == ".tar" and not path.is_dir()
                else "oci")
    return "docker-archive" if name == "tarball" else _FORMATS[name]


def run_pull(ctx: Context) -> int:
    """``pull REFERENCE DIR|FILE.tar``."""
    ref, reference = ctx.image_reference(ctx.args.reference)
    if ctx.args.directory == "-":
        # standard output, as for export and blob -o -: a tar (docker-archive unless
        # --format says oci-archive), never a folder named "-"
        pull_format = _pull_format(ctx.args.format or "tarball", Path("-"))
        if pull_format == "oci":
            raise UsageError("an OCI layout is a folder: give DIR, or --format "
                             "docker-archive|oci-archive to write a tar to standard output (-)")
        isatty = getattr(ctx.stdout, "isatty", None)
        if callable(isatty) and isatty():
            raise UsageError("a tar is binary and standard output is a terminal: give a "
                             "FILE.tar, or pipe it")
        path = Path("/dev/stdout")
    else:
        path = Path(ctx.args.directory)
        pull_format = _pull_format(ctx.args.format, path)
    repo = ctx.repository(ref)
    with ctx.progress("pull") as progress:
        def pull(platform: Platform | None) -> Image:
            return repo.images.pull(reference, path, platform=platform, format=pull_format,
                                    progress=progress)

        # a docker-archive holds one image: crane's, of a multi-platform one
        image = ctx.one_image(pull) if pull_format == "docker-archive" else pull(ctx.platform)
    if _is_stdout(path):  # the archive went there: what is said of it goes to stderr
        ctx.error_line(json.dumps(image_json(image)) if ctx.json else image.reference)
        return 0
    return _report(ctx, image)


def _is_stdout(path: Path) -> bool:
    """Whether ``path`` is this process's standard output (``/dev/stdout``, a link to
    it, the pipe or file it is)."""
    try:
        here, there = os.stat(path), os.fstat(1)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def run_push(ctx: Context) -> int:
    """``push DIR REFERENCE``."""
    ref = ctx.reference(ctx.args.reference)
    if ref.digest is not None:
        raise UsageError(f"{ctx.args.reference!r}: push to a tag, not to a digest")
    directory = Path(ctx.args.directory)
    if (directory.exists() and not directory.is_file()  # (missing: the library's exit 1)
            and not (directory / "index.json").is_file()):
        raise UsageError(f"{str(directory)!r} is not an OCI image layout (no index.json) "
                         "nor an archive file")
    repo = ctx.repository(ref)
    with ctx.progress("push") as progress:
        image = repo.images.push(directory, ref.tag or DEFAULT_TAG, progress=progress)
    return _report(ctx, image)


def _print_plans(ctx: Context, plans: list[CopyPlan]) -> int:
    if ctx.json:
        ctx.print_json([p.to_dict() for p in plans])
        return 0
    for plan in plans:
        ctx.line(f"{plan.source} -> {plan.target}" + (f":{plan.tag}" if plan.tag else ""))
        for b in plan.blobs:
            ctx.line(f"  {b.action:<8} {b.digest}  {b.size} bytes")
        for referrer in plan.referrers:
            ctx.line(f"  referrer {referrer.manifests[0]}  {len(referrer.blobs)} blob(s), "
                     f"{referrer.bytes_to_transfer} bytes to transfer")
        ctx.line(f"  {len(plan.manifests)} manifest(s); {plan.count('skip')} skip, "
                 f"{plan.count('mount')} mount, {plan.count('transfer')} transfer; "
                 f"{plan.bytes_to_transfer} bytes to transfer")
    return 0


def run_copy(ctx: Context) -> int:
    """``copy SOURCE DESTINATION``."""
    if ctx.args.all_tags:
        return _copy_all_tags(ctx)
    src, reference = ctx.image_reference(ctx.args.source, what="source")
    dst = ctx.reference(ctx.args.destination, what="destination")
    if dst.digest is not None:
        raise UsageError(
            f"destination {ctx.args.destination!r}: give a repository or a tag, not a digest"
        )
    ctx.check_sides([src], [dst])
    source = ctx.repository(src, "src")
    target = ctx.repository(dst, "dest")
    # the tag the copy lands on: the one written, else the source's (none for a digest)
    tag = dst.tag or (None if src.digest else reference)
    if ctx.platform is not None:  # that platform's manifest, by digest; no index
        reference = one_platform(ctx, source, reference)
    if ctx.args.no_clobber and tag is not None:
        there = _digest_of(target, tag)
        if there is not None:
            ctx.error_line(f"registry-client: error: refusing to clobber existing tag "
                           f"{dst.name}:{tag}@{there} (--no-clobber)")
            return 1
    referrers = bool(ctx.args.referrers)
    if ctx.args.dry_run:
        return _print_plans(ctx, [source.images.copy(reference, target, tag, dry_run=True,
                                                     referrers=referrers)])
    with ctx.progress("copy") as progress:
        image = source.images.copy(reference, target, tag, progress=progress,
                                   referrers=referrers)
    return _report(ctx, image)


def _copy_all_tags(ctx: Context) -> int:
    if ctx.platform is not None:
        raise UsageError("--platform does not apply to copy --all-tags")
    if ctx.args.referrers:
        raise UsageError("--referrers copies one image's referrers: not with --all-tags")
    src = ctx.repository_reference(ctx.args.source, what="source")
    dst = ctx.repository_reference(ctx.args.destination, what="destination")
    ctx.check_sides([src], [dst])
    from registry_client.sync import SyncEntry, sync  # this verb only: a quicker CLI start

    def registry_for(ref: ImageReference) -> Registry:
        return ctx.registry(ref, "src" if ref == src else "dest")

    there: set[str] = set()
    kept: list[str] = []
    if ctx.args.no_clobber:
        there = _tags_of(ctx.repository(dst, "dest"))
        kept = sorted(there & _tags_of(ctx.repository(src, "src")))  # named on stderr
    # Every tag the destination has is left out by the entry's tag pattern (searched in
    # each tag: anchored here, and tags hold no newline) -- not only those the source
    # listed just now: one pushed to the source before the sync lists it stays out too.
    pattern = (f"^(?!(?:{'|'.join(re.escape(t) for t in sorted(there))})$)" if there
               else None)
    entry = SyncEntry(skopeo_registry(ctx.args.source),
                      skopeo_registry(ctx.args.destination), tags=pattern)
    with ctx.progress("copy") as progress:
        result = sync([entry], registry_for, dry_run=ctx.args.dry_run, progress=progress,
                      **ctx.jobs_option())
    for tag in kept:
        ctx.error_line(f"kept (--no-clobber): {dst.name}:{tag}")
    return _report_sync(ctx, result,
                        kept=[f"{dst.name}:{t}" for t in kept] if ctx.args.no_clobber else None)


def _tags_of(repo: Repository) -> set[str]:
    """The tags of ``repo``; none when it does not exist (yet) or may not be listed
    (a registry that makes a repository on its first push answers 404 or 403)."""
    try:
        return set(repo.tags.get_all())
    except (NotFoundError, AuthorizationError):
        return set()


def _digest_of(repo: Repository, tag: str) -> str | None:
    """The digest ``tag`` names in ``repo``; None when it has no such tag (a 404, or a
    403 for a repository not made yet: crane's --no-clobber rule)."""
    try:
        return repo.manifests.head(tag).digest
    except (NotFoundError, AuthorizationError):
        return None


def _report_sync(ctx: Context, result: SyncResult, *, kept: list[str] | None = None) -> int:
    """Plans (dry run) or copied images on stdout, one error line per failure; 1 if any.

    With ``--json``, ``sync`` and ``copy --all-tags`` print one object, dry run or
    not: ``copied``, ``planned``, ``failed``, ``vanished``, ``present``, ``journaled``,
    and for ``copy --all-tags --no-clobber`` ``kept`` (the target tags left alone).
    """
    plans = [r for r in result.copied if isinstance(r, registry_client.CopyPlan)]
    images = [r for r in result.copied if isinstance(r, registry_client.Image)]
    if ctx.json:  # one shape, dry run or not, failures and vanished tags included
        ctx.print_json({
            "copied": [image_json(i) for i in images],
            "planned": [p.to_dict() for p in plans],
            "failed": [{"image": name, "error": err} for name, err in result.failed],
            "vanished": list(result.vanished),
            "present": list(result.present),
            "journaled": list(result.journaled),
            **({"kept": kept} if kept is not None else {}),
        })
    elif plans:
        _print_plans(ctx, plans)
    else:
        for image in images:
            ctx.line(image.reference)
        for there in (*result.present, *result.journaled):
            ctx.line(there)
    if result.vanished:  # a busy source: not an error
        ctx.error_line("vanished from the source (deleted since the tag list): "
                       f"{', '.join(result.vanished)}")
    for name, error in result.failed:
        ctx.error_line(f"registry-client: error: {name}: {ctx.explain(error)}")
    return 0 if result.ok else 1


def run_sync(ctx: Context) -> int:
    """``sync FILE``, ``sync --src-yaml FILE DEST``, or skopeo's ``sync --src yaml|docker
    --dest docker SOURCE DEST``."""
    from registry_client.sync import load_sync_file, sync  # this verb only

    args = ctx.args
    if args.src is not None and args.src_yaml is not None:
        raise UsageError("--src and --src-yaml: give one (--src-yaml FILE DEST is "
                         "--src yaml FILE DEST)")
    # (FILE is optional to argparse, so that what is missing is named as the form
    # given reads it: with --src-yaml the one word is DEST)
    if args.file is None:
        raise UsageError("sync --src yaml|docker takes SOURCE DEST" if args.src is not None
                         else "sync --src-yaml FILE takes DEST (where the images go)"
                         if args.src_yaml is not None else "sync takes FILE (the mapping)")
    if (args.destination is None) != (args.src is None):
        raise UsageError("sync --src yaml|docker SOURCE DEST takes DEST; without --src, "
                         "sync FILE (or --src-yaml FILE DEST) takes one argument")
    try:
        if args.src == "docker":
            entries = [skopeo_docker_entry(ctx, args.file, args.destination)]
        elif args.src == "yaml":
            entries = skopeo_entries(ctx, args.file, args.destination)
        elif args.src_yaml is not None:
            entries = skopeo_entries(ctx, args.src_yaml, args.file)
        else:
            entries = load_sync_file(args.file)
    except ValueError as exc:  # (a file that is not there or not readable: exit 1)
        raise UsageError(f"sync file: {exc}") from None
    sources = [ctx.reference(e.source, "sync source") for e in entries]
    targets = [ctx.reference(e.target, "sync target") for e in entries]
    ctx.check_sides(sources, targets)
    # Each repository is opened as its side's -- a source with --src-creds,
    # --src-tls-verify and a sync file's settings, a target with --dest-creds and
    # --dest-tls-verify (else the stored credentials) -- also on a registry that is on
    # both sides, as skopeo keeps its source and destination contexts apart.
    sources_at = {(r.domain.lower(), r.path) for r in sources}
    targets_at = {(r.domain.lower(), r.path) for r in targets}
    for domain, path in sorted(sources_at & targets_at):  # (asked for by its name alone)
        if ctx.sides_differ(domain):
            raise UsageError(
                f"{domain}/{path} is both a source and a target, with a source's credentials "
                "and a destination's that differ (--src-creds, --dest-creds, a sync file's): "
                "one sync opens a repository once; give one set, or sync it in two runs")

    # (a repository on both sides takes the one side flag given, if one is)
    either: Side = "dest" if args.dest_creds is not None and args.src_creds is None else "src"

    def registry_for(ref: ImageReference) -> Registry:
        at = (ref.domain.lower(), ref.path)
        side: Side | None = (either if at in sources_at and at in targets_at
                             else "src" if at in sources_at else "dest" if at in targets_at
                             else None)
        return ctx.registry(ref, side)

    options = task_options(ctx)
    with ctx.progress("sync") as progress:
        result = sync(entries, registry_for, dry_run=ctx.args.dry_run, progress=progress,
                      **ctx.jobs_option(), **options)
    return _report_sync(ctx, result)
