"""Verbs that read one image: ``manifest``, ``digest``, ``config``, ``inspect`` and ``blob``."""

from __future__ import annotations

import argparse
import json
import re
from typing import TYPE_CHECKING, Any, NamedTuple

from registry_client import (
    ImageReference,
    PlatformNotFoundError,
    RegistryError,
    Repository,
    mediatypes,
    models,
)
from registry_client.models import IMAGE_CONFIG_TYPES, manifest_from_bytes
from registry_client.services import _light

from ._context import CRANE_PLATFORM, Context, UsageError
from ._parser import Parser, add_verb, nonempty_path

if TYPE_CHECKING:
    from registry_client import (
        Descriptor,
        Image,
        ImageConfig,
        ImageDetails,
        ManifestList,
        ManifestV2,
        OCIIndex,
        OCIManifest,
        Platform,
    )

# The manifest and image models load when a verb reads one (``models.X``), not for
# every command line (``registry-client ls`` stays light).

__all__ = ["image_json", "one_platform", "register"]

_CHUNK = 1 << 20
_PLATFORM_RULE = (
    "For a multi-platform image (index or manifest list) the platform is the one\n"
    "given with --platform; without it, the only entry of the index, else its\n"
    "first linux/amd64 entry. A single-platform image with --platform must be of\n"
    "that platform (as pull checks), or the command fails."
)


def register(
    verbs: argparse._SubParsersAction[Parser], common: list[Parser]
) -> None:
    """Add ``manifest``, ``digest``, ``config``, ``inspect`` and ``blob``."""
    sub = add_verb(
        verbs, "manifest", common, handler=run_manifest, platform=True,
        summary="print a manifest exactly as served",
        description="Print the manifest of an image byte for byte as the registry served it.\n"
        "With --platform and a multi-platform image, print that platform's manifest;\n"
        "a single-platform image must be of that platform, or the command fails.",
    )
    sub.add_argument("reference", metavar="REFERENCE", help="e.g. localhost:5000/app:1.0")

    sub = add_verb(
        verbs, "digest", common, handler=run_digest, platform=True,
        summary="print the digest of an image",
        description="Print the manifest digest a reference resolves to (sha256:...).\n"
        "With --platform and a multi-platform image, the digest of that platform's manifest;\n"
        "a single-platform image must be of that platform, or the command fails.",
    )
    sub.add_argument("reference", metavar="REFERENCE")
    sub.add_argument("--full-ref", action="store_true",
                     help="print host/repo@digest, not the digest alone (as crane digest "
                     "--full-ref)")

    sub = add_verb(
        verbs, "config", common, handler=run_config, platform=True,
        summary="print the config blob of an image",
        description="Print the image configuration blob (JSON) exactly as stored.\n"
        + _PLATFORM_RULE,
    )
    sub.add_argument("reference", metavar="REFERENCE")

    sub = add_verb(
        verbs, "inspect", common, handler=run_inspect, platform=True,
        summary="summarise an image",
        description="Summarise an image: digest, media type, size, platforms, and for one\n"
        "platform its creation time, labels and layers.\n" + _PLATFORM_RULE,
    )
    sub.add_argument("reference", metavar="REFERENCE")
    sub.add_argument("--raw", action="store_true",
                     help="print the manifest exactly as served instead, as skopeo inspect\n"
                     "--raw does (the manifest verb)")
    sub.add_argument("--config", action="store_true",
                     help="print the image's config blob as served instead, as skopeo\n"
                     "inspect --config --raw does (the config verb)")

    sub = add_verb(
        verbs, "blob", common, handler=run_blob, json_output=False,
        summary="write a blob's bytes to stdout or a file",
        description="Stream a blob (layer or config) to standard output, or save it with -o.\n"
        "Streamed bytes are verified at the end: on a mismatch the command fails\n"
        "(exit 1) after writing them. With -o FILE nothing is left at FILE unless the\n"
        "blob is right, and an interrupted download resumes. -o writes through what is\n"
        "there: a symlink's target (the link stays), a FIFO or device as a stream.\n"
        "A blob is not written to a terminal unless -o - asks for it (as curl does).",
    )
    sub.add_argument(
        "reference", metavar="REPOSITORY@DIGEST", help="e.g. localhost:5000/app@sha256:..."
    )
    sub.add_argument(
        "-o", "--output", metavar="FILE", type=nonempty_path,
        help="save to FILE instead of stdout ('-': stdout, even a terminal)",
    )


# -- shared helpers ---------------------------------------------------------------------------

def default_entry(index: ManifestList | OCIIndex, *, required: bool = True) -> Descriptor | None:
    """Without --platform, the entry of ``index`` export and pull choose: its one image
    (its only entry naming no platform, or its one platform beside attestations), else
    its linux/amd64 entry (crane's default). None -- or, when ``required``, a LookupError
    -- when there is none; an index inside ``index`` is for the caller to enter."""
    entries = index.manifests
    lone = _light.lone_entry(entries)
    if lone is not None:
        return lone
    real = _light.real_entries(entries)
    if len(real) == 1 and not _light.has_index(entries):
        return real[0]
    found = index.find_platform(models.Platform.parse(CRANE_PLATFORM))
    if found is None and required:
        raise LookupError(f"this image has several platforms "
                          f"({_light.platforms_in_words(entries)}): choose one with --platform")
    return found


class _Chosen(NamedTuple):
    """What :func:`_single` found: the single-platform manifest, the descriptor of the
    one chosen in an index (None for a single image), and the index's own
    ``artifactType`` (an artifact index, OCI 1.1; None when unknown or absent)."""

    manifest: ManifestV2 | OCIManifest | None
    entry: Descriptor | None
    index_artifact_type: str | None = None


def _single(
    ctx: Context, repo: Repository, reference: str, *, required: bool = True
) -> _Chosen:
    """The single-platform manifest of ``reference`` (and the descriptor of the one
    chosen in it, for an index): --platform's image found by the library's rule (an
    inner index searched too, a single image of another platform refused)."""
    if ctx.platform is not None:
        raw = repo.images.platform_manifest(reference, ctx.platform)
        image = manifest_from_bytes(raw.data, raw.media_type)
        if not isinstance(image, models.ManifestV2 | models.OCIManifest):
            raise LookupError(f"{reference}: not an image manifest ({raw.media_type})")
        return _Chosen(image, models.Descriptor(media_type=raw.media_type, digest=raw.digest,
                                                size=len(raw.data)))
    manifest = repo.manifests.get(reference)
    entry = index_type = None
    if isinstance(manifest, models.ManifestList | models.OCIIndex):
        index_type = getattr(manifest, "artifact_type", None)
        nested = _light.has_index(manifest.manifests)
        entry = default_entry(manifest, required=required and not nested)
        if (entry is None and nested) or (entry is not None
                                          and entry.media_type in mediatypes.INDEX_TYPES):
            # its linux/amd64 image, searched inside the index in it as pull does
            try:
                raw = repo.images.platform_manifest(reference, models.Platform.parse(
                    CRANE_PLATFORM))
            except PlatformNotFoundError:
                if required:
                    raise
                return _Chosen(None, None, index_type)
            entry = models.Descriptor(media_type=raw.media_type, digest=raw.digest,
                                      size=len(raw.data))
        if entry is None:
            return _Chosen(None, None, index_type)
        manifest = repo.manifests.get(entry.digest)
    if not isinstance(manifest, models.ManifestV2 | models.OCIManifest):
        raise LookupError(f"{reference}: an index inside an index is not supported here")
    return _Chosen(manifest, entry, index_type)


def one_platform(ctx: Context, repo: Repository, reference: str) -> str:
    """The digest of --platform's image in ``reference``: its entry in an index (an inner
    index searched too), or the image itself when it is a single image of that platform
    (``copy --platform``).

    Raises:
        PlatformNotFoundError: no such platform in the index, or a single image of
            another one.
    """
    assert ctx.platform is not None
    return repo.images.platform_manifest(reference, ctx.platform).digest


def _pinned_repo(ctx: Context, text: str) -> tuple[ImageReference, Repository, str]:
    ref, reference = ctx.image_reference(text)
    return ref, ctx.repository(ref), reference


# -- verbs ------------------------------------------------------------------------------------
def run_manifest(ctx: Context) -> int:
    """``manifest REFERENCE``: the raw manifest bytes on stdout."""
    _, repo, reference = _pinned_repo(ctx, ctx.args.reference)
    raw = (repo.manifests.get_raw(reference) if ctx.platform is None
           else repo.images.platform_manifest(reference, ctx.platform))
    ctx.write_bytes(raw.data)
    return 0


def run_digest(ctx: Context) -> int:
    """``digest REFERENCE``: the manifest digest."""
    ref, repo, reference = _pinned_repo(ctx, ctx.args.reference)
    if ctx.platform is None:
        head = repo.manifests.head(reference)
    else:
        raw = repo.images.platform_manifest(reference, ctx.platform)
        head = models.Descriptor(media_type=raw.media_type, digest=raw.digest,
                                 size=len(raw.data))
    if ctx.json:
        ctx.print_json({
            "reference": str(ref), "digest": head.digest, "media_type": head.media_type,
            "size": head.size,
        })
    else:
        ctx.line(f"{ref.name}@{head.digest}" if ctx.args.full_ref else head.digest)
    return 0


def run_config(ctx: Context) -> int:
    """``config REFERENCE``: the image config blob on stdout."""
    _, repo, reference = _pinned_repo(ctx, ctx.args.reference)
    manifest = _single(ctx, repo, reference).manifest
    assert manifest is not None
    ctx.write_bytes(repo.blobs.get(manifest.config.digest))
    return 0


def _platform_text(p: Platform) -> str | None:
    """``os/arch[/variant]``; None for an artifact or an entry without a platform."""
    return str(p) if p.os or p.architecture else None


def _platform_json(p: Platform) -> dict[str, Any]:
    return {
        "os": p.os, "architecture": p.architecture, "variant": p.variant,
        "os_version": p.os_version, "platform": _platform_text(p), "digest": p.digest,
        "media_type": p.media_type, "size": p.size,
    }


def image_json(image: Image) -> dict[str, Any]:
    """An :class:`Image` as a JSON-ready dict."""
    return {
        "reference": image.reference, "name": image.name, "domain": image.domain,
        "repository": image.repository, "tag": image.tag, "digest": image.digest,
        "media_type": image.media_type, "size": image.size,
        "platforms": [_platform_json(p) for p in image.platforms],
    }


def _created_text(d: ImageDetails) -> str:
    if d.created is None:
        return "unknown"
    return d.created.isoformat().replace("+00:00", "Z")


def _details_json(d: ImageDetails) -> dict[str, Any]:
    return {
        "platform": _platform_text(d.platform), "digest": d.digest,
        "created": None if d.created is None else _created_text(d),
        "labels": dict(d.labels), "size": d.size,
    }


def _details_rows(details: list[ImageDetails]) -> list[tuple[str, str]]:
    """One row per platform: platform, digest, created, size (config + layers), labels."""
    if not details:
        return [("Per platform", "none")]
    width = max(len(str(d.platform)) for d in details)
    rows = []
    for i, d in enumerate(details):
        count = len(d.labels)
        rows.append(("Per platform" if i == 0 else "",
                     f"{d.platform!s:<{width}}  {d.digest}  {_created_text(d)}  "
                     f"{_short_size(d.size)}  {count} label{'' if count == 1 else 's'}"))
    return rows


def _short_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _size(n: int) -> str:
    short = _short_size(n)
    return short if n < 1024 else f"{short} ({n} bytes)"


def run_inspect(ctx: Context) -> int:
    """``inspect REFERENCE``: a summary of the image (``--raw``: the manifest, ``--config``:
    the config, skopeo's flags for what the manifest and config verbs print)."""
    if ctx.args.config:
        return run_config(ctx)
    if ctx.args.raw:
        return run_manifest(ctx)
    ref, repo, reference = _pinned_repo(ctx, ctx.args.reference)
    image = repo.images.get_by_digest(reference) if ref.digest else repo.images.get_by_tag(
        reference
    )
    manifest, entry, index_type = _single(ctx, repo, image.digest,
                                          required=ctx.platform is not None)
    # An artifact (attach, OCI 1.1) has no image config to read: no platform, no labels.
    config: ImageConfig | None = None
    if manifest is not None and manifest.config.media_type in IMAGE_CONFIG_TYPES:
        config = repo.images.config(manifest)
    doc = image_json(image)
    doc["reference"] = str(ref) if ref.reference else f"{ref}:latest"
    doc["pinned"] = image.reference
    if manifest is not None:
        doc["selected_digest"] = entry.digest if entry is not None else image.digest
        doc["layers"] = len(manifest.layers)
        doc["layers_size"] = sum(layer.size for layer in manifest.layers)
    is_index = image.media_type in mediatypes.INDEX_TYPES
    shown_type = None
    if manifest is not None and config is None:
        if is_index and index_type is None and ctx.platform is not None:
            # --platform chose an artifact in an index not read here: its own type is
            # the reference's (one more GET, for artifacts only)
            index_type = getattr(repo.manifests.get(image.digest), "artifact_type", None)
        shown_type = getattr(manifest, "artifact_type", None) or manifest.config.media_type
        # an artifact index's own type is the reference's; its child's is the one shown
        doc["artifact_type"] = index_type or shown_type
        if entry is not None:
            doc["selected_artifact_type"] = shown_type
    elif manifest is None and index_type is not None:
        doc["artifact_type"] = index_type
    if config is not None:
        doc["selected_platform"] = str(config.platform)
        doc["created"] = config.created
        doc["labels"] = dict(config.labels)
        settings = config.config
        doc["entrypoint"] = None if settings is None else settings.entrypoint
        doc["cmd"] = None if settings is None else settings.cmd
    # per platform: digest, created, labels and config + layer bytes (one for a single image,
    # from the manifest and config already read: no second round of requests for them)
    if not is_index and manifest is not None and config is not None:
        details = [models.ImageDetails(
            platform=config.platform, digest=image.digest, created=config.created_at,
            labels=dict(config.labels),
            size=manifest.config.size + sum(layer.size for layer in manifest.layers))]
    else:
        details = repo.images.details(image.digest, platform=ctx.platform if is_index else None)
    doc["platform_details"] = [_details_json(d) for d in details]
    if ctx.json:
        doc.update(_skopeo_keys(repo, ref, image, manifest, config))
        ctx.print_json(doc)
        return 0
    rows = [
        ("Reference", doc["reference"]),
        ("Digest", image.digest),
        ("Media type", image.media_type),
        ("Manifest size", _size(image.size)),
        ("Platforms", ", ".join(t for t in map(_platform_text, image.platforms) if t)
         or "none (not an image)"),
    ]
    if is_index:
        rows.extend(_details_rows(details))
    if manifest is not None and config is not None:
        if entry is not None:
            rows.append(("Showing", f"{config.platform} ({entry.digest})"))
        rows.append(("Created", config.created or "unknown"))
        rows.append(("Layers", f"{len(manifest.layers)}, {_size(int(doc['layers_size']))}"))
        labels = sorted(config.labels.items())
        rows.append(("Labels", "none" if not labels else f"{labels[0][0]}={labels[0][1]}"))
        rows.extend(("", f"{k}={v}") for k, v in labels[1:])
        for name, words in (("Entrypoint", doc["entrypoint"]), ("Cmd", doc["cmd"])):
            if words is not None:
                rows.append((name, json.dumps(words, ensure_ascii=False)))
    elif manifest is not None:
        rows.append(("Artifact type", str(doc["artifact_type"])))
        if entry is not None and entry.digest != image.digest:
            rows.append(("Showing", f"{shown_type} ({entry.digest})"))
        rows.append(("Layers", f"{len(manifest.layers)}, {_size(int(doc['layers_size']))}"))
    else:
        if index_type is not None:
            rows.append(("Artifact type", index_type))
        rows.append(("Details", "use --platform to show created, labels and layers"))
    width = max(len(name) for name, _ in rows) + 2
    for name, value in rows:
        ctx.line(f"{name + ':' if name else '':<{width}}{value}")
    return 0


_GO_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", re.ASCII)


def go_time(created: str | None) -> str | None:
    """A config's ``created`` as Go prints a time (skopeo's ``Created``): RFC 3339, the
    fraction without trailing zeros, ``Z`` for UTC. Anything else is passed on as is."""
    if created is None:
        return None
    match = _GO_TIME.fullmatch(created.strip())
    if match is None:
        return created
    when, fraction, zone = match.groups()
    fraction = (fraction or "")[:9].rstrip("0")
    zone = "Z" if zone in ("+00:00", "-00:00") else zone
    return f"{when}{'.' + fraction if fraction else ''}{zone}"


def _skopeo_keys(
    repo: Repository, ref: ImageReference, image: Image,
    manifest: ManifestV2 | OCIManifest | None, config: ImageConfig | None,
) -> dict[str, Any]:
    """What ``skopeo inspect docker://...`` prints, under its names: ``Digest`` is the
    digest REFERENCE resolves to (the index's for a multi-platform image), the rest
    describes the platform shown. ``RepoTags`` is left out when the tags cannot be
    listed; the config's keys when no single platform is shown."""
    keys: dict[str, Any] = {"Name": ref.name, "Digest": image.digest}
    try:
        keys["RepoTags"] = repo.tags.get_all()
    except RegistryError:
        pass  # skopeo --no-tags prints none either
    if manifest is None or config is None:
        return keys
    container = config.config
    docker_version = config.extra.get("docker_version")
    keys.update({
        "Created": go_time(config.created),
        "DockerVersion": docker_version if isinstance(docker_version, str) else "",
        # Go's nil map when the config has no Labels: null, as skopeo prints it
        "Labels": None if container is None or container.labels is None
        else dict(container.labels),
        "Architecture": config.architecture,
        "Os": config.os,
        "Layers": [layer.digest for layer in manifest.layers],
        "LayersData": [{
            "MIMEType": layer.media_type, "Digest": layer.digest, "Size": layer.size,
            "Annotations": dict(layer.annotations) if layer.annotations else None,
        } for layer in manifest.layers],
        "Env": list(container.env) if container is not None and container.env else None,
    })
    if config.variant:
        keys["Variant"] = config.variant
    return keys


def run_blob(ctx: Context) -> int:
    """``blob REPOSITORY@DIGEST``: the blob's bytes on stdout, or saved with -o."""
    args = ctx.args
    ref = ctx.reference(args.reference)
    if ref.digest is None:
        raise UsageError(f"{args.reference!r}: blob wants REPOSITORY@DIGEST (sha256:...)")
    if args.output is None and _is_terminal(ctx.stdout):
        raise UsageError(
            "a blob is binary and standard output is a terminal: save it with -o FILE, "
            "or give -o - to print it anyway")
    repo = ctx.repository(ref)
    if args.output is not None and args.output != "-":
        with ctx.progress("blob") as progress:
            repo.blobs.download(ref.digest, args.output, progress=progress)
        return 0
    out = ctx.binary_stdout()
    if _descriptor(out) == 1:
        # The process's own standard output: the download writes the descriptor as it
        # is (a `> file` or a pipe), its blocks received straight into the hashing's
        # reused buffers as -o FILE does -- less CPU and memory than a read loop
        # handing each block over as a new bytes object.
        out.flush()
        repo.blobs.download(ref.digest, "/dev/stdout")
        return 0
    with repo.blobs.open(ref.digest) as f:  # a stand-in stdout (a caller's capture)
        while chunk := f.read(_CHUNK):
            out.write(chunk)
    out.flush()
    return 0


def _descriptor(stream: Any) -> int | None:
    """The file descriptor ``stream`` writes, or None (an in-memory stand-in)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation included
        return None
    return fd if isinstance(fd, int) else None


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(callable(isatty) and isatty())
    except (OSError, ValueError):  # closed or detached
        return False
