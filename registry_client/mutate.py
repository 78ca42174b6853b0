"""Change images in a registry without Docker: append layers, set config, flatten, rebase.

go-containerregistry's ``mutate`` (``crane append``, ``mutate``, ``flatten``,
``rebase``) for Python, registry to registry. Each function reads an image, builds
the changed one, pushes it to ``repo`` under ``tag`` and returns its
:class:`~registry_client.Image`::

    from registry_client import Registry, mutate

    repo = Registry("localhost:5000", protocol="http").repository("app")
    mutate.append(repo, "base/python:3.12", ["./dist"], tag="1.0")   # a directory as a layer
    mutate.config(repo, "1.0", tag="1.0", labels={"org.example.team": "web"},
                  entrypoint=["python", "-m", "app"])
    mutate.flatten(repo, "1.0", tag="1.0-flat")
    mutate.rebase(repo, "1.0", old_base="base/python:3.12",
                  new_base="base/python:3.12.1", tag="1.0-patched")

References: a tag or digest of ``repo``, or a reference to another repository of the
same registry (``other/base:1.0``, ``localhost:5000/other/base:1.0``): that image's
blobs are mounted into ``repo``, no bytes move. Blobs ``repo`` already has are never
sent again.

Indexes (multi-platform images): without ``platform=`` every image of the index is
changed and a new index (same platforms, same order, its other fields kept) is pushed;
entries that are not images (attestations, artifacts) are kept as they are. With
``platform=`` only that platform's image is read, and the result is that one changed
image (a single-platform image under ``tag``), as crane does with ``--platform``.

Reproducible: the same inputs give the same digests. Directories are packed with
sorted entries, mtime 0, uid/gid 0, no user or group names and permissions 0755/0644;
layers are gzip-compressed with no name and mtime 0; the config keeps the base's
``created`` (``config(created=...)`` sets it) and JSON documents are written in the
order they were read.
"""

from __future__ import annotations

import copy
import datetime as _dt
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from . import _json, _tarfs, mediatypes
from ._args import text_map, words
from ._digest import compute_digest
from ._flow import Endpoint, Flow, Gather, Offload, run
from ._windows_layer import for_windows
from .errors import BaseMismatchError, LayerError, RegistryError, RegistryResponseError
from .models import (
    IMAGE_CONFIG_TYPES,
    Descriptor,
    Image,
    Platform,
    RawManifest,
    manifest_from_bytes,
)
from .reference import (
    check_tag,
    is_digest,
)
from .services import _light
from .services._base import in_repository
from .services._copy import Copier
from .services._elsewhere import Source as _Source
from .services._elsewhere import source_of
from .services._export import (
    SingleImage,
    fetch_layers,
    read_single,
    remove_directory,
    single_image,
    work_directory,
)
from .services._index import platform_json
from .services._light import distributable
from .services._plan import BlobPlan, CopyTarget, check_target
from .services._platforms import wanted_platform
from .services._shell import BlockingShell
from .services.blobs import BlobFlows
from .services.manifests import ManifestFlows

if TYPE_CHECKING:
    from .repository import Repository
    from .services.images import ImageFlows

__all__ = ["SCRATCH", "MutateFlows", "append", "config", "flatten", "rebase"]

LayerSource = str | os.PathLike[str]
"""A layer to append: a directory (packed reproducibly), a ``.tar`` or a ``.tar.gz`` file."""

SCRATCH = "scratch"
"""The base name of the empty image, as in ``FROM scratch`` (Docker reserves the name: no
registry serves an image called ``scratch``)."""

BASE_NAME = "org.opencontainers.image.base.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"
TOOL = "registry-client"


def _run(repo: Repository, flow: Flow[Image]) -> Image:
    """Run a mutate flow with the blocking shell: its image; its error naming the
    registry as the services' errors do (``services._base.in_repository``)."""
    try:
        return run(flow, BlockingShell(repo.requester))
    except RegistryError as exc:
        in_repository(exc, repo.domain, None)  # (a base may be another repository's)
        raise


def append(
    repo: Repository, base: str | None, layers: Iterable[LayerSource], *, tag: str,
    platform: str | Platform | None = None,
) -> Image:
    """Push ``base`` with ``layers`` added on top, as ``repo:tag``; the new image.

    ``base`` is a tag or digest of ``repo`` or a reference to another repository of the
    same registry (its blobs are mounted). ``None`` or ``"scratch"`` is the empty image
    (``FROM scratch``; crane's append without a base): the result holds ``layers``
    alone, with OCI media types, the platform ``platform`` names (linux/amd64 when
    None, as ko builds) and no creation time, so the same layers give the same digest
    on every run. Each layer is a directory (packed
    reproducibly: the same tree gives the same digest on every run and machine), a
    ``.tar`` (gzip-compressed, deterministically) or a ``.tar.gz`` (sent as it is). The
    config gets each layer's diff_id and one history entry
    (``created_by: registry-client append``); the base's ``created`` is kept. Layers
    are streamed through temporary files, never held in memory.

    Raises:
        LayerError: a layer is no tar, tar.gz or directory (checked before any upload).
        NotFoundError: no such base.
        PlatformNotFoundError: ``platform`` is not in the base index.
        ValueError: ``base`` is on another registry.
    """
    return _run(repo, MutateFlows.of(repo).append(base, layers, tag=tag, platform=platform))


def config(
    repo: Repository, reference: str, *, tag: str,
    labels: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None,
    entrypoint: Sequence[str] | None = None, cmd: Sequence[str] | None = None,
    user: str | None = None, workdir: str | None = None,
    exposed_ports: Iterable[str] | None = None, annotations: Mapping[str, str] | None = None,
    created: str | _dt.datetime | None = None, platform: str | Platform | None = None,
) -> Image:
    """Push ``reference`` with its config changed, as ``repo:tag``; the new image.

    ``labels``, ``env`` and ``exposed_ports`` (``"8080"`` means ``8080/tcp``) are merged
    into what the image has (a key given replaces its value); ``entrypoint``, ``cmd``,
    ``user``, ``workdir`` (``WorkingDir``) and ``created`` (RFC 3339 text or a
    datetime) replace it; a new ``entrypoint`` without ``cmd`` clears ``Cmd`` (its
    arguments were for the old entrypoint), as crane and ``docker build`` do.
    ``annotations`` are merged into the pushed manifest's own
    (the index's, for a whole index). What is not given is left unchanged; the layers
    are not touched (no blob but the config is sent).

    Raises:
        NotFoundError: no such image.
        PlatformNotFoundError: ``platform`` is not in the index.
        ValueError: ``annotations`` for a Docker schema 2 manifest or manifest list
            (they have none); a ``created`` that is not RFC 3339; a bad port or env name.
        TypeError: an argument of the wrong kind (a str where a list is expected, a
            mapping whose keys or values are not str).
    """
    return _run(repo, MutateFlows.of(repo).config(
        reference, tag=tag, labels=labels, env=env, entrypoint=entrypoint, cmd=cmd, user=user,
        workdir=workdir, exposed_ports=exposed_ports, annotations=annotations,
        created=created, platform=platform))


def flatten(
    repo: Repository, reference: str, *, tag: str, platform: str | Platform | None = None,
) -> Image:
    """Push ``reference`` squashed into one layer, as ``repo:tag``; the new image.

    The layer holds the image's root filesystem, whiteouts and opaque directories
    applied (what ``images.export`` writes), gzip-compressed deterministically. The
    config keeps everything but ``rootfs`` (one diff_id) and ``history`` (one entry;
    the old history is kept as JSON in its ``comment``, as crane does).

    Raises:
        NotFoundError: no such image.
        LayerError: a layer is not a tar stream.
    """
    return _run(repo, MutateFlows.of(repo).flatten(reference, tag=tag, platform=platform))


def rebase(
    repo: Repository, reference: str, *, old_base: str, new_base: str, tag: str,
) -> Image:
    """Push ``reference`` with the layers of ``old_base`` replaced by ``new_base``'s.

    The layers above the old base (the application's) are kept, as are the config's
    container settings; ``rootfs.diff_ids`` and ``history`` become the new base's followed
    by the image's own, and ``os``, ``architecture`` and ``os.version`` the new base's
    (a Windows base's newer revision of the same OS build is found for the image). An
    OCI manifest gets ``org.opencontainers.image.base.name`` and ``.base.digest``
    annotations naming the new base. For an index, every platform is
    rebased onto the same platform of ``old_base`` and ``new_base``.

    Raises:
        BaseMismatchError: ``old_base``'s layers are not the first layers of the image.
        NotFoundError: no such image or base.
        LayerError: a new base layer a Docker manifest cannot list (zstd); the layers'
            Docker and OCI gzip types are otherwise converted to the image's family.
        PlatformNotFoundError: a base has no image of a platform of the image (a
            single-platform base for an index, or a base of another platform).
    """
    return _run(repo, MutateFlows.of(repo).rebase(reference, old_base=old_base,
                                                  new_base=new_base, tag=tag))


# -- the flows --------------------------------------------------------------------------
@attrs.frozen
class _Edited:
    """A changed image: its manifest and config documents, and the layers it keeps, each
    with the repository they are read from (to be mounted where that is not the target)."""

    manifest: dict[str, Any]
    config: dict[str, Any]
    kept: list[tuple[Descriptor, _Source]]


Edit = Callable[[SingleImage, _Source], Flow[_Edited]]
Check = Callable[[SingleImage, _Source], Flow[None]]
"""Raises when an image cannot be changed: run over every image of an index before any
is changed (and pushed)."""


def _dumps(doc: Mapping[str, Any] | list[Any]) -> bytes:
    """A JSON document as compact bytes, keys in the order they are (reproducible).

    Raises:
        RegistryResponseError: the image's document holds a number JSON cannot (1e400,
            read as infinite): it cannot be written back changed.
    """
    try:
        return _json.dumps(doc)
    except ValueError as exc:
        raise RegistryResponseError(f"a document of the image cannot be written back "
                                    f"changed: {exc}") from None


def _layer_type(manifest_type: str) -> str:
    """The gzip layer media type of a manifest's family."""
    return (mediatypes.DOCKER_LAYER if manifest_type == mediatypes.DOCKER_MANIFEST_V2
            else mediatypes.OCI_LAYER_GZIP)


_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d{1,9})?"
                      r"([Zz]|[+-]\d{2}:\d{2})", re.ASCII)


# a layer's media type in one family and the other: the same blob bytes
_DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
_DOCKER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
_OCI_NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
_DOCKER_OF_OCI = {mediatypes.OCI_LAYER_GZIP: mediatypes.DOCKER_LAYER,
                  mediatypes.OCI_LAYER: _DOCKER_TAR,
                  _OCI_NONDISTRIBUTABLE: _DOCKER_FOREIGN}
_OCI_OF_DOCKER = {v: k for k, v in _DOCKER_OF_OCI.items()}


def _layer_in(desc: Mapping[str, Any], manifest_type: str) -> dict[str, Any]:
    """The layer descriptor ``desc`` (of either family) as a manifest of ``manifest_type``
    lists it: gzip Docker and OCI layer types swapped, the blob the same.

    Raises:
        LayerError: a layer a Docker schema 2 manifest cannot list (zstd, other types).
    """
    kind = desc.get("mediaType")
    if manifest_type == mediatypes.DOCKER_MANIFEST_V2:
        if kind in _DOCKER_OF_OCI:
            return {**desc, "mediaType": _DOCKER_OF_OCI[kind]}
        if kind not in _OCI_OF_DOCKER:
            raise LayerError(f"layer {desc.get('digest')} ({kind}) cannot be listed in a "
                             "Docker schema 2 manifest; use an OCI image")
        return dict(desc)
    if kind in _OCI_OF_DOCKER:
        return {**desc, "mediaType": _OCI_OF_DOCKER[kind]}
    return dict(desc)


def _rfc3339(value: str | _dt.datetime) -> str:
    """``created`` as the config writes it: RFC 3339 in UTC, ``2025-01-02T03:04:05Z``.

    Takes a timezone-aware datetime or RFC 3339 text (``T`` between date and time, ``Z``
    or an offset, up to nanoseconds; ``2025-01-02T04:04:05.5+01:00`` becomes
    ``2025-01-02T03:04:05.5Z``).

    Raises:
        ValueError: text that is not RFC 3339, or a naive datetime (no timezone: local
            time or UTC? give ``tzinfo``, e.g. ``datetime.now(timezone.utc)``), or a
            time outside the years 0001-9999 once in UTC.
        TypeError: neither text nor a datetime.
    """
    fraction = ""
    if isinstance(value, str):
        match = _RFC3339.fullmatch(value)
        try:
            if match is None:
                raise ValueError
            date, time, fraction, offset = match.groups(default="")
            when = _dt.datetime.fromisoformat(
                f"{date}T{time}{'+00:00' if offset in ('Z', 'z') else offset}")
        except ValueError:
            raise ValueError(f"created: {value!r} is not an RFC 3339 time, e.g. "
                             "2025-01-02T03:04:05Z") from None
    elif isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("created: a datetime without a timezone; give one, e.g. "
                             "datetime(2025, 1, 2, tzinfo=timezone.utc)")
        when = value
        if value.microsecond:
            fraction = f".{value.microsecond:06d}".rstrip("0")
    else:
        raise TypeError(f"created: an RFC 3339 str or a datetime, not {type(value).__name__}")
    try:
        utc = when.astimezone(_dt.timezone.utc)
    except OverflowError:
        raise ValueError(f"created: {value!s} is outside the years 0001-9999 in UTC") from None
    # (not strftime: its %Y gives "500" for the year 500, where RFC 3339 wants "0500")
    return (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
            f"{utc.second:02d}{fraction}Z")


def _history_entry(config_doc: Mapping[str, Any], created_by: str,
                   comment: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if isinstance(config_doc.get("created"), str):
        entry["created"] = config_doc["created"]
    entry["created_by"] = created_by
    if comment is not None:
        entry["comment"] = comment
    return entry


_NO_HISTORY = {"comment": "registry-client: the image had no history entry for this layer"}


def _is_layer_entry(entry: object) -> bool:
    return not (isinstance(entry, dict) and entry.get("empty_layer") is True)


def _history_for(history: object, layers: int) -> list[Any]:
    """A history with one non-empty entry per layer (what the image spec asks): as it is
    when it has that, else with entries for the layers it lacks added in front (they
    are the first ones: a base built without history)."""
    entries = list(history) if isinstance(history, list) else []
    missing = layers - sum(1 for h in entries if _is_layer_entry(h))
    return [*(dict(_NO_HISTORY) for _ in range(missing)), *entries]


def _split_history(history: list[Any], layers: int, hint: int) -> list[Any]:
    """What of ``history`` follows the entries of its first ``layers`` layers: cut after
    ``hint`` entries (the old base's history length, so its empty entries go with it)
    when those hold exactly ``layers`` layer entries, else right after the last one."""
    if sum(1 for h in history[:hint] if _is_layer_entry(h)) == layers:
        return history[hint:]
    seen = 0
    for i, entry in enumerate(history):
        if seen == layers:
            return history[i:]
        seen += _is_layer_entry(entry)
    return []


def _empty_image(platform: str | Platform | None) -> SingleImage:
    """The image ``FROM scratch`` means: no layers, an OCI config naming ``platform``
    (linux/amd64 when None) and nothing else -- no creation time, so its bytes are the
    same every time."""
    wanted = (wanted_platform(platform) if platform is not None
              else Platform(architecture="amd64", os="linux"))
    # a config names its platform with the fields, and in the order, of an index entry's
    config_doc: dict[str, Any] = {**platform_json(wanted), "config": {},
                                  "rootfs": {"type": "layers", "diff_ids": []}}
    config_data = _dumps(config_doc)
    config = Descriptor(media_type=mediatypes.OCI_CONFIG, digest=compute_digest(config_data),
                        size=len(config_data))
    manifest: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
        "config": {"mediaType": config.media_type, "digest": config.digest,
                   "size": config.size},
        "layers": [],
    }
    data = _dumps(manifest)
    raw = RawManifest(data=data, media_type=mediatypes.OCI_MANIFEST, digest=compute_digest(data))
    return SingleImage(raw=raw, manifest=manifest, config=config, config_data=config_data,
                       config_doc=config_doc, layers=[])


def _add_layers(image: SingleImage, layers: Sequence[_tarfs.PreparedLayer], created_by: str,
                *, replace: bool = False, comment: str | None = None,
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest and config of ``image`` with ``layers`` added (or, with ``replace``,
    in place of its own), their diff_ids and a history entry each."""
    manifest = copy.deepcopy(image.manifest)
    config_doc = copy.deepcopy(image.config_doc)
    kind = _layer_type(image.raw.media_type)
    added = [{"mediaType": kind, "size": p.size, "digest": p.digest} for p in layers]
    manifest["layers"] = added if replace else [*manifest.get("layers", []), *added]
    rootfs = config_doc.get("rootfs")
    if not isinstance(rootfs, dict):
        rootfs = config_doc["rootfs"] = {"type": "layers", "diff_ids": []}
    diff_ids = [p.diff_id for p in layers]
    rootfs["diff_ids"] = diff_ids if replace else [*(rootfs.get("diff_ids") or []), *diff_ids]
    history = [] if replace else _history_for(config_doc.get("history"), len(image.layers))
    history.extend(_history_entry(config_doc, created_by, comment) for _ in layers)
    config_doc["history"] = history
    return manifest, config_doc


class MutateFlows:
    """The flows of :mod:`registry_client.mutate` for one target repository (either flavour
    of the API), over its services' flows."""

    def __init__(self, target: CopyTarget, *, images: ImageFlows, max_workers: int = 4) -> None:
        self._target = target
        self.name: str = target.name
        self._endpoint: Endpoint = target.requester
        self._manifests: ManifestFlows = target.manifests.flows
        self._blobs: BlobFlows = target.blobs.flows
        self._images = images
        self._workers = max(1, max_workers)

    def __repr__(self) -> str:
        return f"MutateFlows(name={self.name!r})"

    @classmethod
    def of(cls, repo: Any) -> MutateFlows:
        """The mutate flows of ``repo`` (a Repository or an AsyncRepository).

        Raises:
            TypeError: ``repo`` is no repository (a name: ``registry.repository(name)``).
        """
        check_target(repo, "the repository to change an image in")
        workers = repo.registry.max_workers if repo.registry is not None else 4
        return cls(repo, images=repo.images.flows, max_workers=workers)

    # -- the four operations ------------------------------------------------------------
    def append(
        self, base: str | None, layers: Iterable[LayerSource], *, tag: str,
        platform: str | Platform | None = None,
    ) -> Flow[Image]:
        """The flow of :func:`append`."""
        check_tag(tag)
        if isinstance(layers, (str, bytes, os.PathLike)):
            raise TypeError("layers: a list of directories or tar files, e.g. "
                            f"[{layers!r}], not one {type(layers).__name__}")
        sources = list(layers)
        if not sources:
            raise LayerError("append: no layers given")
        work, held = yield Offload(work_directory)
        try:
            prepared: list[_tarfs.PreparedLayer] = yield Offload(partial(
                _prepare_all, sources, work))
            windows: list[_tarfs.PreparedLayer] = []  # laid out for a Windows base, once

            def edit(image: SingleImage, src: _Source) -> Flow[_Edited]:
                layers = prepared
                if image.config_doc.get("os") == "windows":  # as crane append does
                    if not windows:
                        windows.extend((yield Offload(partial(
                            _for_windows_all, prepared, work))))
                    layers = windows
                yield from self._upload(layers)
                manifest, config_doc = _add_layers(image, layers, f"{TOOL} append")
                return _Edited(manifest, config_doc, [(d, src) for d in image.layers])

            if base is None or base == SCRATCH:
                scratch = _Source(self.name, SCRATCH, self._manifests, self._blobs)
                return (yield from self._push_one(_empty_image(platform), scratch, edit, tag,
                                                  None))
            return (yield from self._change(base, tag, platform, edit))
        finally:
            yield Offload(partial(remove_directory, work, held), cleanup=True)

    def config(
        self, reference: str, *, tag: str, labels: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None, entrypoint: Sequence[str] | None = None,
        cmd: Sequence[str] | None = None, user: str | None = None, workdir: str | None = None,
        exposed_ports: Iterable[str] | None = None,
        annotations: Mapping[str, str] | None = None,
        created: str | _dt.datetime | None = None, platform: str | Platform | None = None,
    ) -> Flow[Image]:
        """The flow of :func:`config`."""
        check_tag(tag)
        stamp = None if created is None else _rfc3339(created)
        labels, env, annotations = (text_map(labels, "labels"), text_map(env, "env"),
                                    text_map(annotations, "annotations"))
        for key in env or {}:
            if not key or "=" in key:
                raise ValueError(f"env: {key!r} is no variable name (empty or with '=')")
        entrypoint, cmd = words(entrypoint, "entrypoint"), words(cmd, "cmd")
        for name, text in (("user", user), ("workdir", workdir)):
            if text is not None and not isinstance(text, str):
                raise TypeError(f"{name}: a str, not {type(text).__name__}")
        ports = [_port(p) for p in words(exposed_ports, "exposed_ports") or ()]

        def edit(image: SingleImage, src: _Source) -> Flow[_Edited]:
            doc = copy.deepcopy(image.config_doc)
            if stamp is not None:
                doc["created"] = stamp
            had = doc.get("config")
            settings: dict[str, Any] = had if isinstance(had, dict) else {}
            if labels:
                settings["Labels"] = {**(settings.get("Labels") or {}), **labels}
            if env:
                settings["Env"] = _merge_env(settings.get("Env") or [], env)
            if ports:
                settings["ExposedPorts"] = {**(settings.get("ExposedPorts") or {}),
                                            **{p: {} for p in ports}}
            if entrypoint is not None and cmd is None:
                settings.pop("Cmd", None)  # the old arguments were for the old entrypoint
            for key, value in (("Entrypoint", entrypoint), ("Cmd", cmd)):
                if value is not None:
                    settings[key] = list(value)
            for key, text in (("User", user), ("WorkingDir", workdir)):
                if text is not None:
                    settings[key] = text
            if settings or isinstance(had, dict):  # no empty "config" added for nothing
                doc["config"] = settings
            return _Edited(copy.deepcopy(image.manifest), doc,
                           [(d, src) for d in image.layers])
            yield  # a flow (that sends nothing)

        return (yield from self._change(reference, tag, platform, edit,
                                        annotations=annotations))

    def flatten(
        self, reference: str, *, tag: str, platform: str | Platform | None = None,
    ) -> Flow[Image]:
        """The flow of :func:`flatten`."""
        check_tag(tag)

        def edit(image: SingleImage, src: _Source) -> Flow[_Edited]:
            work, held = yield Offload(work_directory)
            try:
                paths = yield from fetch_layers(src.blobs, image.layers, work, self._workers)
                layer: _tarfs.PreparedLayer = yield Offload(partial(
                    _tarfs.flatten_layers, paths, work / "flat.tar.gz"))
                yield from self._upload([layer])
            finally:
                yield Offload(partial(remove_directory, work, held), cleanup=True)
            old = _dumps(image.config_doc.get("history") or [])  # (crane's: a JSON array)
            manifest, config_doc = _add_layers(
                image, [layer], f"{TOOL} flatten {image.raw.digest}", replace=True,
                comment=old.decode())
            return _Edited(manifest, config_doc, [])

        return (yield from self._change(reference, tag, platform, edit))

    def rebase(
        self, reference: str, *, old_base: str, new_base: str, tag: str,
    ) -> Flow[Image]:
        """The flow of :func:`rebase`."""
        check_tag(tag)
        old_src, new_src = self._source(old_base), self._source(new_base)
        bases: dict[str, tuple[SingleImage, SingleImage]] = {}  # image digest -> old, new

        def check(image: SingleImage, src: _Source) -> Flow[None]:
            """Both bases of ``image``'s platform, and ``image`` built on the old one."""
            platform = _os_build(image.platform)
            old = yield from self._image_of(old_src, platform)
            new = yield from self._image_of(new_src, platform)
            n = len(old.layers)
            if [d.digest for d in image.layers[:n]] != [d.digest for d in old.layers]:
                raise BaseMismatchError(
                    f"{src.name}@{image.raw.digest} ({platform}) is not built on {old_base}: "
                    f"its first {n} layers are not {old_base}'s")
            bases[image.raw.digest] = (old, new)

        def edit(image: SingleImage, src: _Source) -> Flow[_Edited]:
            if image.raw.digest not in bases:  # (a single image: checked here)
                yield from check(image, src)
            old, new = bases[image.raw.digest]
            n = len(old.layers)
            manifest = copy.deepcopy(image.manifest)
            # the new base's layers typed as this manifest's family (Docker <-> OCI)
            manifest["layers"] = [_layer_in(d, image.raw.media_type) for d in
                                  [*(new.manifest.get("layers") or []),
                                   *manifest.get("layers", [])[n:]]]
            doc = copy.deepcopy(image.config_doc)
            # the platform is the new base's, as crane's: a Windows base's newer revision
            for key in ("os", "architecture"):
                if new.config_doc.get(key):
                    doc[key] = new.config_doc[key]
            if new.config_doc.get("os.version"):
                doc["os.version"] = new.config_doc["os.version"]
            else:
                doc.pop("os.version", None)
            own_ids = list((doc.get("rootfs") or {}).get("diff_ids") or [])[n:]
            rootfs = doc.setdefault("rootfs", {"type": "layers"})
            rootfs["diff_ids"] = [*((new.config_doc.get("rootfs") or {}).get("diff_ids") or []),
                                  *own_ids]
            if any(isinstance(d.get("history"), list) and d["history"]
                   for d in (doc, new.config_doc)):  # one entry per layer, or none at all
                own = _split_history(_history_for(doc.get("history"), len(image.layers)), n,
                                     len(_history_for(old.config_doc.get("history"), n)))
                doc["history"] = [*_history_for(copy.deepcopy(new.config_doc.get("history")),
                                                len(new.layers)), *own]
            if image.raw.media_type == mediatypes.OCI_MANIFEST:
                manifest["annotations"] = {**(manifest.get("annotations") or {}),
                                           BASE_NAME: self._full_name(new_src),
                                           BASE_DIGEST: new.raw.digest}
            kept = [(d, new_src) for d in new.layers] + [(d, src) for d in image.layers[n:]]
            return _Edited(manifest, doc, kept)

        return (yield from self._change(reference, tag, None, edit, check=check))

    # -- reading ------------------------------------------------------------------------
    def _source(self, text: str) -> _Source:
        """Where ``text`` (a tag, a digest, or a reference on this registry) is read from.

        Raises:
            ValueError: the reference names another registry.
            InvalidReferenceError: it is not a reference.
        """
        return source_of(self._endpoint, self.name, self._manifests, self._blobs, text,
                         reader="mutate")

    def _full_name(self, src: _Source) -> str:
        sep = "@" if is_digest(src.reference) else ":"
        return f"{self._endpoint.domain}/{src.name}{sep}{src.reference}"

    def _image_of(self, src: _Source, platform: Platform) -> Flow[SingleImage]:
        """The image of ``src``: itself, or its entry for ``platform`` when an index."""
        raw = yield from src.manifests.get_raw(src.reference)
        # a base of another platform would mix architectures: refused (a single base
        # image must be of the image's platform, when the image's config names one)
        known = bool(platform.os and platform.architecture)
        return (yield from single_image(src.manifests, src.blobs, raw,
                                        platform if known or _light.read(raw)[0] else None,
                                        self._endpoint.body_limit))

    # -- writing ------------------------------------------------------------------------
    def _upload(self, layers: Sequence[_tarfs.PreparedLayer]) -> Flow[None]:
        """Upload prepared layer files the target lacks (one HEAD each first)."""
        yield Gather([partial(self._blobs.upload, p.path, digest=p.digest) for p in layers],
                     self._workers)

    def _bring(self, kept: list[tuple[Descriptor, _Source]]) -> Flow[None]:
        """Mount into the target the kept layers read from other repositories (a mount
        the registry declines: streamed across); foreign layers stay where they are."""
        elsewhere = {d.digest: (d, src) for d, src in kept
                     if src.name != self.name and distributable(d)}
        yield Gather([partial(Copier(self._endpoint, src.name, manifests=src.manifests,
                                     blobs=src.blobs, max_workers=1).move,
                              BlobPlan(d.digest, d.size, d.media_type, "mount"), self._target,
                              None)
                      for d, src in elsewhere.values()], self._workers)

    def _one(
        self, image: SingleImage, src: _Source, edit: Edit,
        annotations: Mapping[str, str] | None,
    ) -> Flow[tuple[RawManifest, bytes]]:
        """Change one image and store its blobs (not its manifest): the new manifest and
        config bytes. Unchanged documents keep their bytes."""
        if annotations:
            _check_annotatable(image.raw)
        edited = yield from edit(image, src)
        yield from self._bring(edited.kept)
        config_data = (image.config_data if edited.config == image.config_doc
                       else _dumps(edited.config))
        config_digest = compute_digest(config_data)
        yield from self._blobs.upload(config_data, digest=config_digest)
        manifest = edited.manifest
        manifest["config"] = _repointed(manifest["config"], config_digest, len(config_data))
        if annotations:
            manifest["annotations"] = {**(manifest.get("annotations") or {}), **annotations}
        data = image.raw.data if manifest == image.manifest else _dumps(manifest)
        return (RawManifest(data=data, media_type=image.raw.media_type,
                            digest=compute_digest(data)), config_data)

    def _push_one(
        self, image: SingleImage, src: _Source, edit: Edit, tag: str,
        annotations: Mapping[str, str] | None,
    ) -> Flow[Image]:
        """Change one image with ``edit`` and push it under ``tag``; its Image."""
        new_raw, config_data = yield from self._one(image, src, edit, annotations)
        yield from self._manifests.put(tag, new_raw)
        return (yield from self._images.describe(
            new_raw, manifest_from_bytes(new_raw.data, new_raw.media_type), tag=tag,
            config_data=config_data))

    def _change(
        self, reference: str, tag: str, platform: str | Platform | None, edit: Edit, *,
        annotations: Mapping[str, str] | None = None, check: Check | None = None,
    ) -> Flow[Image]:
        """Read ``reference``, change each image of it with ``edit``, push the result
        under ``tag``; its Image. ``check`` runs over every image of an index first: a
        refusal of its last platform pushes nothing for the others."""
        src = self._source(reference)
        raw = yield from src.manifests.get_raw(src.reference)
        limit = self._endpoint.body_limit
        is_index, entries = _light.read(raw)
        if not is_index or platform is not None:
            image = yield from single_image(src.manifests, src.blobs, raw, platform, limit)
            return (yield from self._push_one(image, src, edit, tag, annotations))
        if annotations:
            _check_annotatable(raw)
        index = copy.deepcopy(_light.json_object(raw.data, f"manifest {raw.digest}"))
        others: list[tuple[dict[str, Any], str]] = []  # entries that are no image
        changed: set[str] = set()  # digests of images replaced by changed ones
        images: list[tuple[dict[str, Any], Descriptor, SingleImage]] = []
        for entry_doc, entry in zip(index.get("manifests") or [], entries, strict=True):
            if _attestation_of(entry_doc) is not None:
                others.append((entry_doc, entry.digest))
                continue
            child = yield from src.manifests.get_raw(entry.digest)
            child_is_index, descs = _light.read(child)
            if child_is_index or descs[0].media_type not in IMAGE_CONFIG_TYPES:
                others.append((entry_doc, entry.digest))
                continue
            images.append((entry_doc, entry, (yield from read_single(src.blobs, child, limit))))
        if check is not None:  # every image, before any is changed
            for _, _, image in images:
                yield from check(image, src)
        for entry_doc, entry, image in images:
            new_child, config_data = yield from self._one(image, src, edit, None)
            yield from self._manifests.put(new_child.digest, new_child)
            if new_child.digest != entry.digest:
                changed.add(entry.digest)
            repointed = _repointed(entry_doc, new_child.digest, len(new_child.data))
            if config_data is not image.config_data:  # (a rebase may move the platform)
                _replatformed(repointed, _json.loads(config_data))
            entry_doc.clear()  # (in place: the index lists this very dict)
            entry_doc.update(repointed, mediaType=new_child.media_type)
        for entry_doc, digest in others:
            if _attestation_of(entry_doc) in changed:
                # it attests an image that is no longer in the index: dropped, as crane
                # flatten drops attestations; nothing would attest the changed image
                index["manifests"] = [e for e in index["manifests"] if e is not entry_doc]
            else:
                yield from self._carry(src, digest)
        if annotations:
            index["annotations"] = {**(index.get("annotations") or {}), **annotations}
        data = _dumps(index)
        new_raw = RawManifest(data=data, media_type=raw.media_type, digest=compute_digest(data))
        yield from self._manifests.put(tag, new_raw)
        return (yield from self._images.describe(
            new_raw, manifest_from_bytes(new_raw.data, new_raw.media_type), tag=tag))

    def _carry(self, src: _Source, digest: str) -> Flow[None]:
        """Keep an index entry that is no image (an attestation, an artifact, a nested
        index) as it is: copied (blobs mounted) when it is read from another repository."""
        if src.name == self.name:
            return
        copier = Copier(self._endpoint, src.name, manifests=src.manifests, blobs=src.blobs,
                        max_workers=self._workers)
        yield from copier.copy(digest, self._target, None, progress=None, referrers=False,
                               dry_run=False)


def _os_build(platform: Platform) -> Platform:
    """``platform`` with its os version cut to the OS build (``10.0.17763.1697`` ->
    ``10.0.17763``), which a base is matched by: rebasing a Windows image onto a newer
    revision of its build is what rebase is for there (Windows runs a container of the
    host's build, whatever its revision)."""
    if not platform.os_version:
        return platform
    return attrs.evolve(platform, os_version=".".join(platform.os_version.split(".")[:3]))


def _repointed(descriptor: Mapping[str, Any], digest: str, size: int) -> dict[str, Any]:
    """``descriptor`` naming another blob: its ``data`` (the old blob's bytes, which must
    match digest and size) goes when the digest changes; every other field stays."""
    changed = descriptor.get("digest") != digest
    return {**{k: v for k, v in descriptor.items() if not (changed and k == "data")},
            "digest": digest, "size": size}


def _replatformed(entry: dict[str, Any], config: Mapping[str, Any]) -> None:
    """Make index ``entry``'s ``platform`` say the OS, architecture and OS version its
    image's new ``config`` says where it says them (a host picks the entry by them: a
    rebase onto a newer Windows revision moves them); the rest is kept."""
    platform = entry.get("platform")
    if not isinstance(platform, dict):
        return
    entry["platform"] = {**platform, **{key: config[key] for key in (
        "os", "architecture", "os.version") if isinstance(config.get(key), str) and config[key]}}


_PORT = re.compile(r"([0-9]{1,5})(?:/(tcp|udp|sctp))?")


def _port(text: str) -> str:
    """An exposed port as the config lists it: ``8080`` -> ``8080/tcp``."""
    match = _PORT.fullmatch(text)
    if match is None or not 0 < int(match[1]) < 65536:
        raise ValueError(f"exposed_ports: {text!r} is no port; give N or N/tcp, N/udp, "
                         "N/sctp (N from 1 to 65535)")
    return f"{int(match[1])}/{match[2] or 'tcp'}"


def _attestation_of(entry: Mapping[str, Any]) -> str | None:
    """The digest of the image a BuildKit attestation entry of an index attests (its
    ``vnd.docker.reference.digest``), or None when the entry is no attestation."""
    notes = entry.get("annotations")
    if not isinstance(notes, dict) or notes.get(
            "vnd.docker.reference.type") != "attestation-manifest":
        return None
    subject = notes.get("vnd.docker.reference.digest")
    return subject if isinstance(subject, str) else ""


def _check_annotatable(raw: RawManifest) -> None:
    """Raise ValueError when ``raw`` is a Docker manifest: schema 2 has no annotations."""
    if raw.media_type in (mediatypes.DOCKER_MANIFEST_V2, mediatypes.DOCKER_MANIFEST_LIST):
        raise ValueError(f"annotations: manifest {raw.digest} is a Docker {raw.media_type} "
                         "and Docker schema 2 has no annotations (use labels, or an OCI "
                         "image)")


def _merge_env(current: Sequence[str], updates: Mapping[str, str]) -> list[str]:
    """``KEY=value`` entries with ``updates`` applied: a key's entry replaced in place,
    new keys appended in the order given."""
    result = list(current)
    for key, value in updates.items():
        item = f"{key}={value}"
        for i, old in enumerate(result):
            if old.partition("=")[0] == key:
                result[i] = item
                break
        else:
            result.append(item)
    return result



def _for_windows_all(layers: Sequence[_tarfs.PreparedLayer], work: Path,
                     ) -> list[_tarfs.PreparedLayer]:
    """``layers`` laid out for a Windows image (see :mod:`registry_client._windows_layer`)."""
    return [for_windows(layer, work / f"windows-{i}.tar.gz") for i, layer in enumerate(layers)]


def _prepare_all(sources: Sequence[LayerSource], work: Path) -> list[_tarfs.PreparedLayer]:
    """Each layer source as a gzip blob file in ``work``, in order."""
    return [_tarfs.prepare_layer(s, work / f"append-{i}.tar.gz") for i, s in enumerate(sources)]
