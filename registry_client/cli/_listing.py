"""Verbs that list and name things: ``ls`` (``tags``), ``list-tags``, ``catalog`` and
``parse``."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING

from registry_client import InvalidReferenceError
from registry_client.reference import canonical_domain

from ._context import Context, UsageError
from ._parser import Parser, add_verb, positive_int

if TYPE_CHECKING:
    from registry_client import Repository

__all__ = ["register"]


def register(
    verbs: argparse._SubParsersAction[Parser], common: list[Parser]
) -> None:
    """Add ``ls``/``tags``, ``list-tags``, ``catalog`` and ``parse``."""
    ls = add_verb(
        verbs, "ls", common, aliases=("tags",), handler=run_ls,
        summary="list the tags of a repository",
        description="List the tags of a repository, one per line (every page is followed).\n"
        "With --digests each line is 'TAG<TAB>DIGEST' (one HEAD request per tag); with\n"
        "--full-ref each tag is written host/repo:TAG.",
    )
    ls.add_argument("repository", metavar="REPOSITORY", help="e.g. localhost:5000/app")
    ls.add_argument(
        "--digests", action="store_true", help="also print the manifest digest of each tag"
    )
    ls.add_argument(
        "--page-size", type=positive_int, metavar="N",
        help="ask the registry for N tags per request",
    )
    ls.add_argument(
        "-O", "--omit-digest-tags", action="store_true",
        help="leave out tags starting with sha256- (signatures, attestations, referrers\n"
        "fallback tags), as crane ls -O does",
    )
    ls.add_argument(
        "--full-ref", action="store_true",
        help="print each tag as a whole reference, host/repo:tag (as crane ls --full-ref)",
    )

    listed = add_verb(
        verbs, "list-tags", common, handler=run_list_tags,
        summary="list the tags of a repository as skopeo list-tags prints them (JSON)",
        description="Print {\"Repository\": HOST/REPOSITORY, \"Tags\": [...]} as `skopeo\n"
        "list-tags docker://HOST/REPOSITORY` does (every page is followed).",
    )
    listed.add_argument("repository", metavar="REPOSITORY", help="e.g. localhost:5000/app")

    catalog = add_verb(
        verbs, "catalog", common, handler=run_catalog,
        summary="list the repositories of a registry",
        description="List the repositories of a registry (its /v2/_catalog), one per line.\n"
        "Many registries (Docker Hub among them) do not open their catalog.",
    )
    catalog.add_argument("host", metavar="HOST", help="registry domain, e.g. localhost:5000")
    catalog.add_argument(
        "--filter", metavar="SUBSTRING", help="only repositories whose name contains SUBSTRING"
    )
    catalog.add_argument(
        "--page-size", type=positive_int, metavar="N", help="ask for N repositories per request"
    )
    catalog.add_argument(
        "--full-ref", action="store_true",
        help="print each repository as host/repo (as crane catalog --full-ref)",
    )

    parse = add_verb(
        verbs, "parse", common, handler=run_parse,
        summary="show how a reference is understood (JSON)",
        description="Parse a reference as docker does and print it as JSON: domain, path,\n"
        "tag, digest, name, familiar_name and reference. No request is made.",
    )
    parse.add_argument("reference", metavar="REFERENCE", help="e.g. golang:1.22")


def run_ls(ctx: Context) -> int:
    """``ls REPOSITORY``: print the tags, optionally with their digests."""
    args = ctx.args
    ref = ctx.repository_reference(args.repository)
    repo = ctx.repository(ref)
    if not ctx.json:
        # each page as it comes (as crane ls prints them): `ls | head -1` needs one page;
        # with --digests each batch of a page (Distribution sends every tag in one)
        vanished: list[str] = []
        for page in repo.tags.pages(page_size=args.page_size):
            shown = _shown_tags(page.tags, args.omit_digest_tags)
            step = _DIGEST_BATCH if args.digests else max(len(shown), 1)
            for at in range(0, len(shown), step):
                vanished += _print_tags(ctx, repo, ref.name, shown[at:at + step])
                ctx.stdout.flush()
        if vanished:
            ctx.error_line(f"vanished (deleted since the tag list): {', '.join(vanished)}")
        return 0
    tags = _shown_tags(repo.tags.iter(page_size=args.page_size), args.omit_digest_tags)
    doc: dict[str, object] = {"name": ref.name, "tags": tags}
    if args.digests:
        digests = repo.tags.digests(tags)
        doc["tags"] = [t for t in tags if t in digests]
        doc["digests"] = digests
        doc["vanished"] = [t for t in tags if t not in digests]
    ctx.print_json(doc)
    return 0


def _print_tags(ctx: Context, repo: Repository, name: str, tags: list[str]) -> list[str]:
    """Print ``tags`` as ``ls`` does (with their digests for --digests); the tags deleted
    since the list (a busy registry), left out to be named."""
    args = ctx.args
    digests = repo.tags.digests(tags) if args.digests else {}
    vanished: list[str] = []
    for tag in tags:
        shown = f"{name}:{tag}" if args.full_ref else tag
        if not args.digests:
            ctx.line(shown)
        elif tag in digests:
            ctx.line(f"{shown}\t{digests[tag]}")
        else:
            vanished.append(tag)
    return vanished


_DIGEST_BATCH = 256
"""Tags whose digests ``ls --digests`` asks for at once (parallel HEADs), then prints."""


def _shown_tags(tags: Iterable[str], omit_digest_tags: bool) -> list[str]:
    """``tags``, without those named after a digest when asked (crane's test: the
    prefix, so sha256-<hex>.sig and such too)."""
    return [t for t in tags if not (omit_digest_tags and t.startswith("sha256-"))]


def run_list_tags(ctx: Context) -> int:
    """``list-tags REPOSITORY``: skopeo's JSON of the tags (its keys, its indent)."""
    ref = ctx.repository_reference(ctx.args.repository)
    tags = ctx.repository(ref).tags.get_all()
    ctx.print_json({"Repository": ref.name, "Tags": tags}, indent=4)
    return 0


def run_catalog(ctx: Context) -> int:
    """``catalog HOST``: print the repository names."""
    args = ctx.args
    host = args.host.rstrip("/")
    bare = host.split("://", 1)[-1].lower()
    wrong = UsageError(f"host {args.host!r}: give a registry domain such as localhost:5000")
    try:  # (the catalog's registry, by a reference made on it: never quoted)
        ref = ctx.reference(f"{host}/x", what="host")
    except (UsageError, InvalidReferenceError):
        raise wrong from None
    if "/" in bare or ref.domain.lower() not in (bare, canonical_domain(bare)):
        raise wrong
    registry = ctx.registry(ref)
    names = (r.name for r in registry.iter_repositories(page_size=args.page_size))
    if args.filter is not None:
        names = (n for n in names if args.filter in n)
    if ctx.json:
        ctx.print_json({"repositories": list(names)})
        return 0
    for name in names:  # each as it comes (as crane catalog prints them; pages unseen)
        ctx.line(f"{ref.domain}/{name}" if args.full_ref else name)
        ctx.stdout.flush()
    return 0


def run_parse(ctx: Context) -> int:
    """``parse REFERENCE``: print the parsed reference as JSON."""
    ref = ctx.reference(ctx.args.reference)
    doc: dict[str, str | None] = {
        "domain": ref.domain,
        "path": ref.path,
        "tag": ref.tag,
        "digest": ref.digest,
        "name": ref.name,
        "familiar_name": ref.familiar_name,
        "reference": ref.reference,
    }
    if ref.scheme is not None:
        doc["scheme"] = ref.scheme
    ctx.print_json(doc)
    return 0
