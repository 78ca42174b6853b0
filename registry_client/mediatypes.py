"""Media types of manifests and blobs, and the Accept header for manifests."""

from __future__ import annotations

DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCTET_STREAM = "application/octet-stream"
"""Bytes of no particular type: an uploaded blob's type, an artifact file's default."""

SCHEMA1_TYPES = frozenset({DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED})
INDEX_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
IMAGE_MANIFEST_TYPES = frozenset({DOCKER_MANIFEST_V2, OCI_MANIFEST})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_MANIFEST_TYPES

# Registries fall back to schema1 (and may even convert on the fly) when the
# Accept header does not list the newer types, so list every type we parse.
# See https://github.com/distribution/distribution/blob/main/docs/spec/manifest-v2-2.md
MANIFEST_ACCEPT = ", ".join(
    [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST_V2]
)
