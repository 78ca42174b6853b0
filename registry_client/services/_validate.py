"""Validating an image, in a registry or in an OCI layout on disk.

One flow (:class:`Validator`) checks every blob's digest and size, that layers are
readable tar streams and that the config's ``diff_ids`` are the layers' -- for each
platform of an index. Where the bytes come from is a :class:`Source`: the registry
(``images.validate``) or a layout directory (:func:`validate_layout`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from .._digest import compute_digest
from .._flow import Flow, Gather, Offload, run
from .._json import loads
from ..errors import (
    DigestMismatchError,
    LayoutError,
    LayoutNotFoundError,
    NotFoundError,
    PlatformNotFoundError,
    RegistryResponseError,
    SchemaV1NotSupportedError,
    UnknownSchemaError,
)
from ..layout import OCILayout
from ..models import (
    IMAGE_CONFIG_TYPES,
    Descriptor,
    Manifest,
    Platform,
    Problem,
    RawManifest,
    ValidationReport,
    manifest_from_bytes,
    manifest_media_type,
)
from ..reference import is_valid_digest, is_verifiable_digest, pinned_name
from . import _light
from ._layers import LayerProblem, LayerReader, declared_compression
from ._light import distributable
from ._platforms import refuse_other_platform, wanted_platform
from ._tree import MAX_INDEX_DEPTH

if TYPE_CHECKING:
    from .blobs import BlobFlows
    from .manifests import ManifestFlows

Sink = Callable[[bytes], None]


def _embedded_data_problems(raw: RawManifest, model: Manifest) -> list[Problem]:
    """The descriptors of ``model`` whose embedded ``data`` is not the content their
    digest names (the image spec: it MUST be), or no base64."""
    problems = []
    descriptors: list[Descriptor] = []
    for name in ("config", "subject"):
        one = getattr(model, name, None)
        if isinstance(one, Descriptor):
            descriptors.append(one)
    for name in ("layers", "manifests"):
        descriptors.extend(getattr(model, name, None) or ())
    for d in descriptors:
        if d.data is None or not is_verifiable_digest(d.digest):
            continue
        try:
            content = base64.b64decode(d.data, validate=True)
        except (binascii.Error, ValueError):
            problems.append(Problem(raw.digest, d.digest, "embedded data is not base64"))
            continue
        algorithm = d.digest.split(":", 1)[0]
        if len(content) != d.size or compute_digest(content, algorithm) != d.digest:
            problems.append(Problem(raw.digest, d.digest, "embedded data is not the content "
                                    "its digest names"))
    return problems


class Source(Protocol):
    """Where a validation reads manifests and blobs."""

    def manifest(self, reference: str) -> Flow[RawManifest]:
        """The manifest (verified against its digest when asked by digest)."""

    def named(self, reference: str) -> str:
        """``reference`` in full, for a message."""

    def blob(self, descriptor: Descriptor, sink: Sink) -> Flow[None]:
        """Stream the blob into ``sink``; DigestMismatchError when it is not its digest or
        size, NotFoundError (or LayoutNotFoundError) when it is missing."""


_MISSING = (NotFoundError, LayoutNotFoundError)


class Validator:
    """Checks the image ``reference`` of a :class:`Source`, ``workers`` blobs at a time."""

    def __init__(self, source: Source, *, workers: int = 4, body_limit: int = 4 << 20) -> None:
        self._source = source
        self._workers = max(1, workers)
        self._limit = body_limit

    def validate(
        self, reference: str, platform: str | Platform | None = None
    ) -> Flow[ValidationReport]:
        """The report of ``reference`` (every platform of an index, or ``platform``'s).

        Raises:
            NotFoundError: no such image (or LayoutError for a layout).
            PlatformNotFoundError: the index has no image of ``platform``.
        """
        raw = yield from self._source.manifest(reference)
        want = None if platform is None else wanted_platform(platform)
        images: list[RawManifest] = []
        problems: list[Problem] = []
        yield from self._collect(raw, want, images, problems, 1)
        if want is not None and images and images[0] is raw:  # a single image
            yield from self._refuse_other_platform(reference, raw, want, problems)
        if want is not None and not images and not problems:
            raise PlatformNotFoundError(
                f"{self._source.named(reference)}: no image for platform {want}")
        results = yield Gather([partial(self._image, m) for m in images], 1)
        blobs = 0
        for found, count in results:
            problems.extend(found)
            blobs += count
        return ValidationReport(reference=reference, digest=raw.digest,
                                manifests=tuple(m.digest for m in images), blobs=blobs,
                                problems=tuple(problems))

    def _refuse_other_platform(
        self, reference: str, raw: RawManifest, want: Platform, problems: list[Problem],
    ) -> Flow[None]:
        """A single image asked for as another platform is refused, as pull refuses it."""
        _, descs = _light.read(raw)
        config, data = descs[0], b""
        if config.media_type in IMAGE_CONFIG_TYPES:
            found = yield from self._config(raw, config, [])
            if found is None:
                return  # unreadable: the report says so
            data = found
        try:
            refuse_other_platform(self._source.named(reference), raw, config, data, want)
        except RegistryResponseError as exc:  # os or architecture of the wrong type
            problems.append(Problem(raw.digest, config.digest,
                                    f"image config is malformed ({exc})"))

    def _collect(
        self, raw: RawManifest, want: Platform | None, images: list[RawManifest],
        problems: list[Problem], depth: int,
    ) -> Flow[None]:
        try:
            is_index, entries = _light.read(raw)
            # the typed model too: what ``manifests.get`` (and a registry taking a push)
            # refuses is a problem, not only what moving the blobs needs
            model = manifest_from_bytes(raw.data, raw.media_type)
        except RegistryResponseError as exc:
            problems.append(Problem(raw.digest, None, f"malformed manifest ({exc})"))
            return
        except (SchemaV1NotSupportedError, UnknownSchemaError) as exc:
            problems.append(Problem(raw.digest, None, f"a manifest type not checked ({exc})"))
            return
        problems.extend(_embedded_data_problems(raw, model))
        if not is_index:
            images.append(raw)
            return
        if depth > MAX_INDEX_DEPTH:
            problems.append(Problem(raw.digest, None, "indexes nest too deep"))
            return
        for d in entries:
            if want is not None and d.platform is not None and not d.platform.matches(want):
                continue
            try:
                child = yield from self._source.manifest(d.digest)
            except _MISSING:
                problems.append(Problem(raw.digest, d.digest, "manifest is missing"))
                continue
            except DigestMismatchError as exc:
                problems.append(Problem(raw.digest, d.digest, f"manifest is corrupt ({exc})"))
                continue
            if len(child.data) != d.size:
                problems.append(Problem(raw.digest, d.digest, f"manifest has {len(child.data)} "
                                        f"bytes, the index says {d.size}"))
            yield from self._collect(child, want, images, problems, depth + 1)

    def _image(self, raw: RawManifest) -> Flow[tuple[list[Problem], int]]:
        """The problems of one image manifest, and the number of blobs read."""
        problems: list[Problem] = []
        _, descs = _light.read(raw)
        # foreign layers at their urls (a Windows base) are not read, but keep their
        # diff_ids' places
        config, all_layers = descs[0], descs[1:]
        layers = [d for d in all_layers if distributable(d)]
        is_image = config.media_type in IMAGE_CONFIG_TYPES
        config_data = yield from self._config(raw, config, problems)
        diff_ids: list[Any] | None = None
        if is_image and config_data is not None:
            diff_ids = _diff_ids(config_data)
            if diff_ids is None:
                problems.append(Problem(raw.digest, config.digest,
                                        "image config has no rootfs.diff_ids list"))
        results = yield Gather(
            [partial(self._layer, raw.digest, d, is_image) for d in layers], self._workers)
        read = iter(results)
        computed: list[str | None] = []
        for d in all_layers:
            problem, diff_id = next(read) if distributable(d) else (None, None)
            if problem is not None:
                problems.append(problem)
            computed.append(diff_id)
        if diff_ids is not None:
            if len(diff_ids) != len(all_layers):
                problems.append(Problem(raw.digest, config.digest,
                                        f"config lists {len(diff_ids)} diff_ids for "
                                        f"{len(all_layers)} layers"))
            for d, want, have in zip(all_layers, diff_ids, computed, strict=False):
                if have is not None and want != have:
                    problems.append(Problem(raw.digest, d.digest,
                                            f"layer's diff_id is {have}, the config says "
                                            f"{want}"))
        return problems, 1 + len(layers)

    def _config(
        self, raw: RawManifest, config: Descriptor, problems: list[Problem]
    ) -> Flow[bytes | None]:
        if config.size > self._limit:
            problems.append(Problem(raw.digest, config.digest,
                                    f"config of {config.size} bytes is over the "
                                    f"{self._limit}-byte limit"))
            return None
        parts: list[bytes] = []
        problem = yield from self._read(raw.digest, config, parts.append, "config")
        if problem is not None:
            problems.append(problem)
            return None
        return b"".join(parts)

    def _layer(
        self, manifest: str, d: Descriptor, is_image: bool
    ) -> Flow[tuple[Problem | None, str | None]]:
        """(a problem or None, the layer's diff_id when it is a readable tar)."""
        if not is_image or declared_compression(d.media_type) is None:
            # an artifact's files, or a layer whose type is no tar (a BuildKit
            # attestation's in-toto JSON, a WASM module): the image spec has tools ignore
            # a media type they do not know, so only digest and size count
            return (yield from self._read(manifest, d, lambda _: None, "blob")), None
        reader = LayerReader(d.media_type)
        problem = yield from self._read(manifest, d, reader.feed, "layer")
        if problem is not None:
            return problem, None
        try:
            return None, reader.finish()
        except LayerProblem as exc:
            return Problem(manifest, d.digest, f"layer is not a readable tar: {exc}"), None

    def _read(
        self, manifest: str, d: Descriptor, sink: Sink, what: str
    ) -> Flow[Problem | None]:
        try:
            yield from self._source.blob(d, sink)
        except _MISSING:
            return Problem(manifest, d.digest, f"{what} is missing")
        except DigestMismatchError as exc:
            return Problem(manifest, d.digest, f"{what} is corrupt ({exc})")
        except LayerProblem as exc:
            return Problem(manifest, d.digest, f"layer is not a readable tar: {exc}")
        return None


def _diff_ids(config: bytes) -> list[Any] | None:
    try:
        doc = loads(config)
    except ValueError:
        return None
    rootfs = doc.get("rootfs") if isinstance(doc, dict) else None
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    return ids if isinstance(ids, list) else None


class RegistrySource:
    """A :class:`Source` over a repository's manifest and blob flows."""

    def __init__(self, manifests: ManifestFlows, blobs: BlobFlows) -> None:
        self._manifests = manifests
        self._blobs = blobs

    def manifest(self, reference: str) -> Flow[RawManifest]:
        return self._manifests.get_raw(reference)

    def named(self, reference: str) -> str:
        return pinned_name(f"{self._manifests.domain}/{self._manifests.repository}", reference)

    def blob(self, descriptor: Descriptor, sink: Sink) -> Flow[None]:
        yield from self._blobs.fetch.read(descriptor.digest, sink,
                                          expected_size=descriptor.size)


# -- an OCI layout on disk ---------------------------------------------------------------


class LayoutSource:
    """A :class:`Source` over an OCI layout directory: every read is file work (Offload)."""

    def __init__(self, layout: OCILayout, limit: int) -> None:
        self._layout = layout
        self._limit = limit

    def manifest(self, reference: str) -> Flow[RawManifest]:
        def read() -> RawManifest:
            # strictly by name (validating "the only entry" for another name misleads),
            # a name first: "app:latest" (skopeo's oci:DIR:app:latest) is digest-shaped
            named = self._layout.digests_named(reference)
            if len(named) > 1:  # (as a push of the layout refuses it)
                raise LayoutError(f"{self._layout.root}: {reference!r} names {len(named)} "
                                  f"images ({', '.join(sorted(named))}): give one's digest")
            if named:
                digest = named.pop()
            elif is_valid_digest(reference):
                digest = reference
            else:
                raise LayoutError(f"{self._layout.root}: no image named {reference!r}")
            data = self._layout.read_blob(digest, self._limit)
            return RawManifest(data=data, media_type=manifest_media_type(data), digest=digest)

        raw: RawManifest = yield Offload(read)
        return raw

    def named(self, reference: str) -> str:
        return pinned_name(str(self._layout.root), reference)

    def blob(self, descriptor: Descriptor, sink: Sink) -> Flow[None]:
        def read() -> None:
            algo = descriptor.digest.split(":", 1)[0]
            h = hashlib.new(algo)
            with self._layout.open_blob(descriptor.digest, descriptor.size) as f:
                while block := f.read(1 << 20):
                    h.update(block)
                    sink(block)
            if f"{algo}:{h.hexdigest()}" != descriptor.digest:
                raise DigestMismatchError(
                    f"{self._layout.blob_path(descriptor.digest)}: content is "
                    f"{algo}:{h.hexdigest()}")

        yield Offload(read)


class _InPlace:
    """Performs a flow's file work in place (a layout needs no network)."""

    def perform(self, effect: Any) -> Any:
        if isinstance(effect, Offload):
            return effect.fn()
        if isinstance(effect, Gather):
            return [run(factory(), self) for factory in effect.flows]
        raise TypeError(f"a layout validation does not perform {type(effect).__name__}")


def validate_layout(
    directory: str | os.PathLike[str], reference: str | None = None,
    platform: str | Platform | None = None,
) -> ValidationReport:
    """Validate an image of an OCI image layout on disk, as ``images.validate`` does in a
    registry: every blob's digest and size, layers readable tar streams, the config's
    diff_ids those of the layers; every platform of an index, or ``platform``'s.

    ``reference`` is the ``org.opencontainers.image.ref.name`` of an ``index.json``
    entry or a manifest digest; None takes the only entry.

    Raises:
        LayoutNotFoundError: not a layout, or the manifest asked for is missing.
        LayoutError: no such entry, or ``index.json`` is malformed.
        PlatformNotFoundError: the index has no image of ``platform``.
    """
    layout = OCILayout(directory)
    limit = 4 << 20
    if reference is None:
        entry = layout.find("")
        digest = str(entry.get("digest", ""))
        reference = digest
    validator = Validator(LayoutSource(layout, limit), workers=1, body_limit=limit)
    return run(validator.validate(reference, platform), _InPlace())


__all__ = ["LayoutSource", "RegistrySource", "Source", "Validator", "validate_layout"]
