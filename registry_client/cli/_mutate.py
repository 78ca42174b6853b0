"""Verbs that build images without Docker, in crane's words: ``append``, ``mutate``,
``flatten``, ``rebase`` (each pushes a new image) and ``export`` (a root filesystem tar)."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from registry_client import ImageReference, Repository

from ._artifacts import key_values
from ._context import DEFAULT_TAG, Context, UsageError, utf8_text
from ._parser import Parser, add_verb, nonempty_path
from ._transfer import _report  # how every image verb prints its image: written once

__all__ = ["register"]

_NEW = "the new image, e.g. host/app:1.1 (pushed to that repository and tag)"
_SAME_REGISTRY = ("A base or image in another repository of the same registry is read\n"
                  "there, its blobs mounted (no bytes move); blobs the registry has are\n"
                  "never sent again. Prints the new image as REFERENCE@DIGEST.")


def register(verbs: argparse._SubParsersAction[Parser], common: list[Parser]) -> None:
    """Add ``append``, ``mutate``, ``flatten``, ``rebase`` and ``export``."""
    sub = add_verb(
        verbs, "append", common, handler=run_append, platform=True,
        summary="push a base image with layers added on top",
        description="Add each LAYER -- a .tar, a .tar.gz or a directory -- on top of BASE\n"
        "and push the result as NEW. A directory is packed reproducibly (sorted,\n"
        "mtime 0, owner 0, modes 0755/0644): the same tree gives the same digest on\n"
        "every run and machine; its contents land at the image's /. The config gets\n"
        "the layers' diff_ids and history; the base's created time is kept. With\n"
        "--platform, only that platform of an index is used and NEW is a single image;\n"
        "without, every platform gets the layers. Without -b (or with -b scratch) the\n"
        "base is the empty image, as FROM scratch: NEW holds the layers alone, of the\n"
        "--platform given (linux/amd64 without), with no creation time.\n"
        + _SAME_REGISTRY,
    )
    sub.add_argument("-b", "--base", metavar="BASE",
                     help="the base image, e.g. host/base:1.0 (default: scratch, the "
                     "empty image)")
    sub.add_argument("-f", "--new_layer", "--layer", dest="layers", required=True,
                     action="extend", nargs="+", metavar="LAYER",
                     help="a .tar, .tar.gz or directory (repeat, or give several)")
    sub.add_argument("-t", "--new_tag", "--tag", dest="new", required=True, metavar="NEW",
                     help=_NEW)

    sub = add_verb(
        verbs, "mutate", common, handler=run_mutate, platform=True,
        summary="push an image with its config (labels, env, entrypoint...) changed",
        description="Set or merge config fields of REFERENCE and push the result as NEW.\n"
        "--label, --env and --exposed-ports are merged into what the image has;\n"
        "--entrypoint, --cmd, --user and --workdir replace it (--entrypoint and --cmd\n"
        "take comma-separated words, as crane's). A new --entrypoint clears the Cmd\n"
        "unless --cmd is given too (as crane and docker do). --annotation goes on the\n"
        "pushed manifest (an index's own for a whole index). Layers are not touched.\n"
        "The config's user is --user (long form only): -u is the global --username\n"
        "used to log in to the registry, unlike crane's mutate -u.\n"
        + _SAME_REGISTRY,
    )
    sub.add_argument("reference", metavar="REFERENCE", help="e.g. localhost:5000/app:1.0")
    sub.add_argument("-l", "--label", action="append", default=[], metavar="KEY=VALUE",
                     help="a label to set (repeat for more)")
    sub.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE",
                     help="an environment variable to set (repeat for more)")
    sub.add_argument("--entrypoint", action="append", metavar="WORD[,WORD...]",
                     help="the new entrypoint, e.g. /bin/app,--serve")
    sub.add_argument("--cmd", action="append", metavar="WORD[,WORD...]",
                     help="the new default arguments (Cmd)")
    sub.add_argument("--user", dest="config_user", metavar="USER",
                     help="the user the container runs as, e.g. 1000 or app:app (not -u: "
                     "that is --username, to log in)")
    sub.add_argument("-w", "--workdir", metavar="DIR", help="the working directory")
    sub.add_argument("--exposed-ports", action="append", default=[],
                     metavar="PORT[/PROTO][,...]", help="ports to expose, e.g. 8080,53/udp")
    sub.add_argument("-a", "--annotation", action="append", default=[], metavar="KEY=VALUE",
                     help="a manifest annotation (repeat for more)")
    sub.add_argument("--created", metavar="RFC3339",
                     help="the config's created time, e.g. 2025-01-02T03:04:05Z")
    sub.add_argument("-t", "--tag", dest="new", required=True, metavar="NEW", help=_NEW)

    sub = add_verb(
        verbs, "flatten", common, handler=run_flatten, platform=True,
        summary="push an image squashed into one layer",
        description="Merge the layers of REFERENCE into one (whiteouts applied) and push\n"
        "the result as NEW; the config keeps all but rootfs and history (the old\n"
        "history is kept in the one entry's comment, as crane does).\n" + _SAME_REGISTRY,
    )
    sub.add_argument("reference", metavar="REFERENCE", help="e.g. localhost:5000/app:1.0")
    sub.add_argument("-t", "--tag", dest="new", required=True, metavar="NEW", help=_NEW)

    sub = add_verb(
        verbs, "rebase", common, handler=run_rebase,
        summary="push an image with its base layers swapped for another base's",
        description="Replace the layers REFERENCE has from OLD (which must be its first\n"
        "layers) with NEWBASE's, keep the layers above, and push the result as NEW.\n"
        "For an index, each platform is rebased onto the same platform of both bases.\n"
        + _SAME_REGISTRY,
    )
    sub.add_argument("reference", metavar="REFERENCE", help="e.g. localhost:5000/app:1.0")
    # crane's spellings too: --old_base, --new_base, --rebased (its old name for -t)
    sub.add_argument("--old-base", "--old_base", dest="old_base", required=True,
                     metavar="OLD", help="the base the image was built on")
    sub.add_argument("--new-base", "--new_base", dest="new_base", required=True,
                     metavar="NEWBASE", help="the base to put under it instead")
    sub.add_argument("-t", "--tag", "--rebased", dest="new", required=True, metavar="NEW",
                     help=_NEW)

    sub = add_verb(
        verbs, "export", common, handler=run_export, platform=True,
        summary="write an image's root filesystem as a tar",
        description="Write the file system of REFERENCE -- its layers applied in order,\n"
        "whiteouts and opaque directories honoured -- to FILE as one tar, or to\n"
        "standard output with - or without FILE (not to a terminal). Of a multi-platform\n"
        "image, --platform's, else linux/amd64 as crane (an index without it needs\n"
        "--platform).",
    )
    sub.add_argument("reference", metavar="REFERENCE", help="e.g. localhost:5000/app:1.0")
    sub.add_argument("file", metavar="FILE", nargs="?", default="-", type=nonempty_path,
                     help="the tar to write, or - for standard output (the default, as in "
                     "crane export)")


# -- helpers ------------------------------------------------------------------------------
def _pinned(ref: ImageReference) -> str:
    """A reference the library reads on the target's registry: ``host/repo:tag`` or
    ``host/repo@digest`` (no scheme)."""
    return f"{ref.name}@{ref.digest}" if ref.digest else f"{ref.name}:{ref.tag or DEFAULT_TAG}"


def _target(ctx: Context, *sources: tuple[str, str]) -> tuple[Repository, str, list[str]]:
    """The repository and tag of ``-t NEW``, and each ``(flag, text)`` source as a reference
    on its registry. Sources must be on NEW's registry (they are mounted from there)."""
    new = ctx.reference(ctx.args.new, "-t")
    if new.digest is not None:
        raise UsageError(f"-t {ctx.args.new!r}: give a tag to push to, not a digest")
    read: list[str] = []
    for flag, text in sources:
        ref = ctx.reference(text, flag)
        if ref.domain.lower() != new.domain.lower():
            raise UsageError(f"{flag} {text!r} is on {ref.domain} and -t on {new.domain}: "
                             "both must be on one registry (copy the image over first)")
        read.append(_pinned(ref))
    return ctx.repository(new), new.tag or DEFAULT_TAG, read


def _words(values: list[str] | None, flag: str) -> list[str] | None:
    """``--entrypoint a,b --entrypoint c`` as ``["a", "b", "c"]`` (crane's string lists)."""
    if values is None:
        return None
    return [w for v in values for w in utf8_text(v, flag).split(",") if w]


# -- verbs --------------------------------------------------------------------------------
def run_append(ctx: Context) -> int:
    """``append [-b BASE] -f LAYER... -t NEW``."""
    # mutate (tarfile, gzip) is loaded by the verbs that use it, not by every CLI start
    from registry_client import mutate

    scratch = ctx.args.base in (None, mutate.SCRATCH)
    repo, tag, read = _target(ctx, *([] if scratch else [("-b", ctx.args.base)]))
    return _report(ctx, mutate.append(repo, None if scratch else read[0],
                                      [Path(p) for p in ctx.args.layers], tag=tag,
                                      platform=ctx.platform))


def run_mutate(ctx: Context) -> int:
    """``mutate REFERENCE [--label K=V]... -t NEW``."""
    # loaded by the verbs that use it
    from registry_client import mutate
    from registry_client.mutate import _port, _rfc3339

    args = ctx.args
    try:
        created = None if args.created is None else _rfc3339(args.created)
    except ValueError as exc:
        raise UsageError(f"--created: {exc}") from None
    try:  # before any request, as --created
        ports = [_port(p) for p in _words(args.exposed_ports, "--exposed-ports") or ()] or None
    except ValueError as exc:
        raise UsageError(f"--exposed-ports: {str(exc).removeprefix('exposed_ports: ')}"
                         ) from None
    repo, tag, (reference,) = _target(ctx, ("REFERENCE", args.reference))
    image = mutate.config(
        repo, reference, tag=tag, labels=key_values(args.label, "--label") or None,
        env=key_values(args.env, "--env") or None,
        entrypoint=_words(args.entrypoint, "--entrypoint"), cmd=_words(args.cmd, "--cmd"),
        user=args.config_user and utf8_text(args.config_user, "--user"),
        workdir=args.workdir and utf8_text(args.workdir, "--workdir"),
        exposed_ports=ports, annotations=key_values(args.annotation) or None,
        created=created, platform=ctx.platform)
    return _report(ctx, image)


def run_flatten(ctx: Context) -> int:
    """``flatten REFERENCE -t NEW``."""
    # loaded by the verbs that use it
    from registry_client import mutate

    repo, tag, (reference,) = _target(ctx, ("REFERENCE", ctx.args.reference))
    return _report(ctx, mutate.flatten(repo, reference, tag=tag, platform=ctx.platform))


def run_rebase(ctx: Context) -> int:
    """``rebase REFERENCE --old-base OLD --new-base NEWBASE -t NEW``."""
    # loaded by the verbs that use it
    from registry_client import mutate

    args = ctx.args
    repo, tag, (reference, old, new) = _target(
        ctx, ("REFERENCE", args.reference), ("--old-base", args.old_base),
        ("--new-base", args.new_base))
    return _report(ctx, mutate.rebase(repo, reference, old_base=old, new_base=new, tag=tag))


def run_export(ctx: Context) -> int:
    """``export REFERENCE [FILE|-]``."""
    ref, reference = ctx.image_reference(ctx.args.reference)
    repo = ctx.repository(ref)
    if ctx.args.file != "-":
        path = ctx.one_image(lambda platform: repo.images.export(
            reference, ctx.args.file, platform=platform))
        if ctx.json:
            ctx.print_json({"path": str(path), "size": path.stat().st_size})
        return 0
    if ctx.json:
        raise UsageError("export to standard output (-) writes the tar there: no --json")
    isatty = getattr(ctx.stdout, "isatty", None)
    if callable(isatty) and isatty():
        raise UsageError("a tar is binary and standard output is a terminal: give a FILE, "
                         "or pipe it (| tar -t)")
    with tempfile.TemporaryDirectory(prefix="registry-client-export-") as work:
        path = ctx.one_image(lambda platform: repo.images.export(
            reference, Path(work) / "rootfs.tar", platform=platform))
        out = ctx.binary_stdout()
        with open(path, "rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)
        out.flush()
    return 0
