"""Referrers (OCI 1.1): list them, attach artifacts, copy them along with an image.

Two ways to find the manifests whose ``subject`` is a digest:

* the referrers API, ``GET /v2/<name>/referrers/<digest>``, which answers an
  OCI index (an empty one when nothing refers to the digest);
* where a registry lacks it (it answers 404: Distribution 2.8 does), the
  referrers tag schema: an OCI index kept under the tag ``<alg>-<hex>`` that
  clients update themselves whenever they push a manifest with a ``subject``.

See https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#listing-referrers
and ``#referrers-tag-schema``. A registry that lacks the API is remembered in
``requester.capabilities["referrers_api"]``, so the 404 costs one round trip
per registry. Updates of a fallback index are read-modify-write without a lock:
when two clients attach to the same subject at once, the last writer wins and
the other entry is lost from the index (the artifact itself stays pushed).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urlencode

import attrs

from .. import mediatypes
from .._digest import compute_digest
from .._log import log
from .._pagination import follow_pages, next_link
from ..errors import NotFoundError, RegistryResponseError
from ..models import (
    Descriptor,
    OCIIndex,
    OCIManifest,
    RawManifest,
    manifest_from_bytes,
    manifest_to_bytes,
)
from ..progress import ProgressCallback
from ..reference import referrers_tag

if TYPE_CHECKING:
    from ..repository import Repository
    from ._plan import CopyPlan
    from .blobs import BlobService
    from .images import ImageService
    from .manifests import ManifestService


CAPABILITY = "referrers_api"
TITLE = "org.opencontainers.image.title"
EMPTY_JSON = b"{}"
EMPTY_DESCRIPTOR = Descriptor(
    media_type=mediatypes.OCI_EMPTY, digest=compute_digest(EMPTY_JSON), size=len(EMPTY_JSON)
)
_OCTET = "application/octet-stream"

Blob: TypeAlias = bytes | str | os.PathLike[str]
ArtifactItem: TypeAlias = Blob | tuple[Blob, str]
"""One layer of an artifact: bytes or a file path, alone or as ``(data, media_type)``."""


def _index_of(data: bytes, what: str) -> OCIIndex:
    index = manifest_from_bytes(data, mediatypes.OCI_INDEX)
    if not isinstance(index, OCIIndex):  # pragma: no cover - the content type decides
        raise RegistryResponseError(f"{what}: not an OCI index")
    return index


def _filters_applied(value: str | None) -> set[str]:
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


def _of_type(found: list[Descriptor], artifact_type: str | None) -> list[Descriptor]:
    if artifact_type is None:
        return found
    return [d for d in found if d.artifact_type == artifact_type]


# -- listing -------------------------------------------------------------------------------
def _from_api(
    manifests: ManifestService, digest: str, artifact_type: str | None
) -> list[Descriptor] | None:
    """The referrers from the API, every page; None when the registry has no such API."""
    requester = manifests._requester
    first = requester.url(f"{manifests.repository}/referrers/{digest}")
    if artifact_type is not None:
        first += "?" + urlencode({"artifactType": artifact_type})
    what = f"referrers of {digest} in {manifests.domain}/{manifests.repository}"
    pages = 0

    def fetch(url: str) -> tuple[list[Descriptor], str | None]:
        nonlocal pages
        resp = manifests._request(
            "GET", url, absolute=True, operation=f"list referrers of {digest}",
            headers={"Accept": mediatypes.OCI_INDEX},
        )
        pages += 1
        found = _index_of(resp.content, what).manifests
        if "artifacttype" not in _filters_applied(resp.headers.get("OCI-Filters-Applied")):
            # The registry did not filter (it need not): do it here.
            found = _of_type(found, artifact_type)
        return found, next_link(resp)

    try:
        found = [
            d for page in follow_pages(
                first, fetch, same_origin=requester.same_origin, resolve=requester.resolve,
            ) for d in page
        ]
    except NotFoundError as exc:
        # A registry with the API answers 200 and an empty index when nothing refers to
        # the digest, so a 404 means: no API (Distribution 2.8's plain "404 page not
        # found") -- unless the registry says the repository is unknown (NAME_UNKNOWN).
        if pages or "NAME_UNKNOWN" in exc.codes:
            raise
        requester.capabilities[CAPABILITY] = False
        log.debug("%s: no referrers API, using the referrers tag schema", manifests.domain)
        return None
    requester.capabilities[CAPABILITY] = True
    # Registries filter on the server as they like; never hand back another type.
    return _of_type(found, artifact_type)


def fallback_index(manifests: ManifestService, digest: str) -> OCIIndex | None:
    """The referrers tag schema's index for ``digest``; None when there is no such tag.

    Raises:
        RegistryResponseError: the tag holds something other than an OCI index.
    """
    tag = referrers_tag(digest)
    try:
        raw = manifests.get_raw(tag)
    except NotFoundError:
        return None
    if raw.media_type != mediatypes.OCI_INDEX:
        raise RegistryResponseError(
            f"tag {tag} of {manifests.domain}/{manifests.repository} holds a "
            f"{raw.media_type[:100]}, not the OCI index of the referrers tag schema"
        )
    return _index_of(raw.data, f"referrers tag {tag}")


def _complete(manifests: ManifestService, entry: Descriptor) -> Descriptor:
    """Fill in ``artifact_type``/``annotations`` that another client left out of the index.

    go-containerregistry writes fallback entries without them; the manifest has both.
    """
    if entry.artifact_type is not None or entry.media_type != mediatypes.OCI_MANIFEST:
        return entry
    try:
        manifest = manifests.get(entry.digest)
    except NotFoundError:
        return entry
    if not isinstance(manifest, OCIManifest):
        return entry
    return attrs.evolve(
        entry, artifact_type=manifest.artifact_type or manifest.config.media_type,
        annotations=entry.annotations if entry.annotations is not None else manifest.annotations,
    )


def list_referrers(
    manifests: ManifestService, digest: str, artifact_type: str | None
) -> list[Descriptor]:
    """The referrers of ``digest``: from the API, else from the referrers tag schema."""
    if manifests._requester.capabilities.get(CAPABILITY) is not False:
        found = _from_api(manifests, digest, artifact_type)
        if found is not None:
            return found
    index = fallback_index(manifests, digest)
    if index is None:
        return []
    return _of_type([_complete(manifests, d) for d in index.manifests], artifact_type)


def has_referrers_api(manifests: ManifestService, digest: str) -> bool:
    """Whether the registry has the referrers API (asked once per registry)."""
    known = manifests._requester.capabilities.get(CAPABILITY)
    if known is None:
        known = _from_api(manifests, digest, None) is not None
    return known


# -- writing -------------------------------------------------------------------------------
def add_to_fallback(manifests: ManifestService, subject: str, entry: Descriptor) -> None:
    """Add ``entry`` to the referrers tag schema's index of ``subject`` (GET, add, PUT).

    An entry with the same digest is not added twice. Last writer wins: there is no
    lock between the read and the write.
    """
    index = fallback_index(manifests, subject) or OCIIndex(manifests=[])
    if any(d.digest == entry.digest for d in index.manifests):
        return
    index.manifests.append(entry)
    data = manifest_to_bytes(index)
    raw = RawManifest(data=data, media_type=mediatypes.OCI_INDEX, digest=compute_digest(data))
    manifests.put(referrers_tag(subject), raw)


def _layer(blobs: BlobService, item: ArtifactItem) -> Descriptor:
    data, media_type = item if isinstance(item, tuple) else (item, _OCTET)
    if isinstance(data, bytes | bytearray | memoryview):
        uploaded = blobs.upload(bytes(data))
        return Descriptor(media_type=media_type, digest=uploaded.digest, size=uploaded.size)
    path = Path(data)
    uploaded = blobs.upload(path)
    return Descriptor(
        media_type=media_type, digest=uploaded.digest, size=path.stat().st_size,
        annotations={TITLE: path.name},
    )


def attach_artifact(
    images: ImageService, subject: str, artifact_type: str, items: Iterable[ArtifactItem],
    annotations: Mapping[str, str] | None,
) -> Descriptor:
    """Push an artifact manifest whose subject is ``subject``; list it where needed."""
    manifests, blobs = images._manifests, images._blobs
    head = manifests.head(subject)
    subject_desc = Descriptor(media_type=head.media_type, digest=head.digest, size=head.size)
    layers = [_layer(blobs, item) for item in items]
    blobs.upload(EMPTY_JSON)
    artifact = OCIManifest(
        artifact_type=artifact_type, config=EMPTY_DESCRIPTOR,
        # image-spec: an artifact without files SHOULD carry the empty descriptor as layer
        layers=layers or [EMPTY_DESCRIPTOR],
        subject=subject_desc, annotations=dict(annotations) if annotations else None,
    )
    data = manifest_to_bytes(artifact)
    digest, headers = manifests._put(
        compute_digest(data),
        RawManifest(data=data, media_type=mediatypes.OCI_MANIFEST, digest=compute_digest(data)),
    )
    entry = Descriptor(
        media_type=mediatypes.OCI_MANIFEST, digest=digest, size=len(data),
        artifact_type=artifact_type, annotations=artifact.annotations,
    )
    if headers.get("OCI-Subject"):
        # The registry indexed the subject itself: it has the referrers API.
        manifests._requester.capabilities[CAPABILITY] = True
    else:
        # No OCI-Subject header: the client MUST keep the referrers tag up to date.
        add_to_fallback(manifests, subject_desc.digest, entry)
    return entry


def copy_referrers(
    images: ImageService, subjects: Iterable[str], target: Repository, *,
    progress: ProgressCallback | None,
) -> list[Descriptor]:
    """Copy the referrers of each subject to ``target`` (one level, not their referrers)."""
    from ._transfer import copy_image

    copied: list[Descriptor] = []
    for subject in dict.fromkeys(subjects):
        for entry in images._manifests.referrers(subject):
            try:
                copy_image(images, entry.digest, target, None, progress=progress)
            except NotFoundError:
                # A stale fallback index may list an artifact deleted since.
                log.warning("referrer %s of %s is gone; not copied", entry.digest, subject)
                continue
            if not has_referrers_api(target.manifests, subject):
                add_to_fallback(target.manifests, subject, entry)
            copied.append(entry)
    return copied


def plan_referrers(
    images: ImageService, subjects: Iterable[str], target: Repository,
    arriving: Iterable[str] = (),
) -> tuple[CopyPlan, ...]:
    """The copy plan of each referrer :func:`copy_referrers` would copy (nothing written).

    ``arriving`` names blobs the copy brings to the target before the referrers
    (the image's own): a transfer of those, or of a blob an earlier referrer brings,
    is planned as a skip -- the copy finds them there by then, so they move once.
    """
    from ._transfer import plan_copy

    there = set(arriving)
    plans: list[CopyPlan] = []
    for subject in dict.fromkeys(subjects):
        for entry in images._manifests.referrers(subject):
            try:
                plan = plan_copy(images, entry.digest, target, None)
            except NotFoundError:
                continue  # a stale fallback index entry: copy_referrers skips it too
            blobs = tuple(attrs.evolve(b, action="skip")
                          if b.digest in there and b.action == "transfer" else b
                          for b in plan.blobs)
            there.update(b.digest for b in blobs)
            plans.append(attrs.evolve(plan, blobs=blobs))
    return tuple(plans)
