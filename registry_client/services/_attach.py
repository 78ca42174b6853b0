"""Attaching an artifact (SBOM, signature...) to an image: OCI 1.1 ``subject`` manifests."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeAlias

from .. import mediatypes
from .._digest import compute_digest
from .._flow import Flow, Offload
from ..models import Descriptor, OCIManifest, RawManifest, manifest_to_bytes
from .blobs import BlobFlows
from .manifests import ManifestFlows

TITLE = "org.opencontainers.image.title"
EMPTY_JSON = b"{}"
EMPTY_DESCRIPTOR = Descriptor(
    media_type=mediatypes.OCI_EMPTY, digest=compute_digest(EMPTY_JSON), size=len(EMPTY_JSON)
)

Blob: TypeAlias = bytes | str | os.PathLike[str]
ArtifactItem: TypeAlias = Blob | tuple[Blob, str]
"""One layer of an artifact: bytes or a file path, alone or as ``(data, media_type)``."""


class Attacher:
    """Pushes artifacts into one repository: its blobs and its manifest (whose put keeps
    the referrers tag schema's index where the registry lacks the referrers API)."""

    def __init__(self, *, manifests: ManifestFlows, blobs: BlobFlows) -> None:
        self._manifests = manifests
        self._blobs = blobs

    def _layer(self, item: ArtifactItem) -> Flow[Descriptor]:
        data, media_type = item if isinstance(item, tuple) else (item, mediatypes.OCTET_STREAM)
        if isinstance(data, bytes | bytearray | memoryview):
            uploaded = yield from self._blobs.upload(bytes(data))
            return Descriptor(media_type=media_type, digest=uploaded.digest, size=uploaded.size)
        path = Path(data)
        uploaded = yield from self._blobs.upload(path)
        size: int = yield Offload(lambda: path.stat().st_size)
        return Descriptor(
            media_type=media_type, digest=uploaded.digest, size=size,
            annotations={TITLE: path.name},
        )

    def attach(
        self, subject: str, artifact_type: str, items: Iterable[ArtifactItem],
        annotations: Mapping[str, str] | None,
    ) -> Flow[Descriptor]:
        """Push an artifact manifest whose subject is ``subject``; list it where needed."""
        head = yield from self._manifests.head(subject)
        subject_desc = Descriptor(media_type=head.media_type, digest=head.digest,
                                  size=head.size)
        layers: list[Descriptor] = []
        for item in items:
            layers.append((yield from self._layer(item)))
        yield from self._blobs.upload(EMPTY_JSON)
        artifact = OCIManifest(
            artifact_type=artifact_type, config=EMPTY_DESCRIPTOR,
            # image-spec: an artifact without files SHOULD carry the empty descriptor as layer
            layers=layers or [EMPTY_DESCRIPTOR],
            subject=subject_desc, annotations=dict(annotations) if annotations else None,
        )
        data = manifest_to_bytes(artifact)
        # (the put lists it in the referrers tag where the registry lacks the API)
        digest = yield from self._manifests.put(
            compute_digest(data),
            RawManifest(data=data, media_type=mediatypes.OCI_MANIFEST,
                        digest=compute_digest(data)),
        )
        return Descriptor(
            media_type=mediatypes.OCI_MANIFEST, digest=digest, size=len(data),
            artifact_type=artifact_type, annotations=artifact.annotations,
        )
