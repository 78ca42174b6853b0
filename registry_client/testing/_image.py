"""The images :func:`seed_image` builds: :class:`SeededImage` and the manifest builders.

Layers are random (incompressible) bytes, deterministic from a seed; the config blob is a
real-looking image config whose ``rootfs.diff_ids`` are the layer digests (the layers are
not actual tarballs).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from typing import Any, Literal

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

_TYPES = {
    "docker": (DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_CONFIG, DOCKER_LAYER),
    "oci": (OCI_MANIFEST, OCI_INDEX, OCI_CONFIG, OCI_LAYER),
}
DEFAULT_CREATED = "2024-01-02T03:04:05Z"
DEFAULT_PLATFORM = "linux/amd64"

MediaFlavor = Literal["docker", "oci"]
MEDIA_FLAVORS: tuple[MediaFlavor, ...] = ("docker", "oci")


@dataclasses.dataclass(frozen=True)
class SeededImage:
    """What :func:`seed_image` pushed: an image manifest, or an index with ``children``."""

    repository: str
    tag: str | None
    digest: str
    """Digest of :attr:`manifest` (the top-level manifest: the index for multi-platform)."""
    media_type: str
    manifest: bytes
    """The exact manifest bytes that were PUT."""
    blobs: dict[str, bytes]
    """Every blob pushed (layers and configs, children's included): digest -> bytes."""
    children: list[SeededImage] = dataclasses.field(default_factory=list)
    """Per-platform image manifests of an index (empty for a single image)."""
    config_digest: str | None = None
    """Digest of the config blob (None for an index)."""
    layers: list[str] = dataclasses.field(default_factory=list)
    """Layer digests in manifest order (empty for an index)."""
    platform: str | None = None
    """``os/arch[/variant]`` of an image manifest (None for an index)."""

    @property
    def size(self) -> int:
        """Length of :attr:`manifest` in bytes."""
        return len(self.manifest)

    @property
    def reference(self) -> str:
        """``repository:tag``, or ``repository@digest`` when untagged."""
        return f"{self.repository}:{self.tag}" if self.tag else self.pinned

    @property
    def pinned(self) -> str:
        """``repository@digest``."""
        return f"{self.repository}@{self.digest}"

    @property
    def manifest_json(self) -> dict[str, Any]:
        """The manifest, parsed."""
        parsed: dict[str, Any] = json.loads(self.manifest)
        return parsed

    def child(self, platform: str) -> SeededImage:
        """The child image manifest for ``platform`` (e.g. ``"linux/arm64/v8"``)."""
        for child in self.children:
            if child.platform == platform:
                return child
        raise KeyError(platform)


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def format_created(created: str | datetime.datetime | None) -> str:
    if created is None:
        return DEFAULT_CREATED
    if isinstance(created, str):
        return created
    if created.tzinfo is None:
        created = created.replace(tzinfo=datetime.timezone.utc)
    text = created.astimezone(datetime.timezone.utc).isoformat()
    return text.replace("+00:00", "Z")


def _platform_object(platform: str) -> dict[str, str]:
    parts = platform.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform must look like 'os/arch[/variant]', not {platform!r}")
    result = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        result["variant"] = parts[2]
    return result


def _dump(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=3).encode()


RANDBYTES_MAX = 1 << 28
"""random.randbytes takes fewer bytes than this (their bit count is a C int)."""


def random_bytes(rng: random.Random, size: int) -> bytes:
    """``size`` random bytes of ``rng``: ``rng.randbytes(size)`` (the same bytes) up to
    its limit, in parts of ``RANDBYTES_MAX - 1`` bytes beyond it."""
    step = RANDBYTES_MAX - 1
    if size <= step:
        return rng.randbytes(size)
    return b"".join(rng.randbytes(min(step, size - at)) for at in range(0, size, step))


def build_image(
    repository: str,
    platform: str,
    media: MediaFlavor,
    layer_sizes: Sequence[int],
    rng: random.Random,
    labels: Mapping[str, str] | None,
    created: str,
) -> SeededImage:
    manifest_type, _, config_type, layer_type = _TYPES[media]
    layer_blobs = [random_bytes(rng, size) for size in layer_sizes]
    layer_digests = [sha256_digest(blob) for blob in layer_blobs]
    config = {
        **_platform_object(platform),
        "created": created,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
            "Labels": dict(labels or {}),
        },
        "rootfs": {"type": "layers", "diff_ids": layer_digests},
        "history": [
            {"created": created, "created_by": f"/bin/sh -c #(nop) ADD file:{d[7:19]} in / "}
            for d in layer_digests
        ],
    }
    config_blob = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
    config_digest = sha256_digest(config_blob)
    manifest = _dump(
        {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "size": len(config_blob), "digest": config_digest},
            "layers": [
                {"mediaType": layer_type, "size": len(blob), "digest": digest}
                for blob, digest in zip(layer_blobs, layer_digests, strict=True)
            ],
        }
    )
    blobs = dict(zip(layer_digests, layer_blobs, strict=True))
    blobs[config_digest] = config_blob
    return SeededImage(
        repository=repository,
        tag=None,
        digest=sha256_digest(manifest),
        media_type=manifest_type,
        manifest=manifest,
        blobs=blobs,
        config_digest=config_digest,
        layers=layer_digests,
        platform=platform,
    )


def build_index(repository: str, media: MediaFlavor, children: list[SeededImage]) -> SeededImage:
    index_type = _TYPES[media][1]
    manifest = _dump(
        {
            "schemaVersion": 2,
            "mediaType": index_type,
            "manifests": [
                {
                    "mediaType": child.media_type,
                    "size": child.size,
                    "digest": child.digest,
                    "platform": _platform_object(child.platform or DEFAULT_PLATFORM),
                }
                for child in children
            ],
        }
    )
    blobs = {digest: data for child in children for digest, data in child.blobs.items()}
    return SeededImage(
        repository=repository,
        tag=None,
        digest=sha256_digest(manifest),
        media_type=index_type,
        manifest=manifest,
        blobs=blobs,
        children=children,
    )
