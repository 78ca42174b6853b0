"""Images made of real tar layers (gzip or plain), for the archive, validation and index tests.

Imported by ``test_archives.py``, ``test_validate.py``, ``test_images_index.py`` and the CLI
tests after putting this folder on ``sys.path`` (the tests folder is not a package).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Mapping, Sequence

from registry_client import RawManifest, Repository

DOCKER = ("application/vnd.docker.distribution.manifest.v2+json",
          "application/vnd.docker.container.image.v1+json",
          "application/vnd.docker.image.rootfs.diff.tar.gzip",
          "application/vnd.docker.image.rootfs.diff.tar")
OCI = ("application/vnd.oci.image.manifest.v1+json",
       "application/vnd.oci.image.config.v1+json",
       "application/vnd.oci.image.layer.v1.tar+gzip",
       "application/vnd.oci.image.layer.v1.tar")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of(files: Mapping[str, bytes]) -> bytes:
    """A tar stream holding ``files`` (name -> content)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class TarImage:
    """A single-platform image: config, tar layers (gzip unless ``plain``), manifest."""

    def __init__(
        self, layers: Sequence[Mapping[str, bytes]] | None = None, *, platform: str = "linux/amd64",
        media: str = "oci", plain: bool = False, indent: int | None = None,
    ) -> None:
        manifest_type, config_type, gz_type, tar_type = OCI if media == "oci" else DOCKER
        files = layers if layers is not None else [
            {"etc/os-release": b"ID=test\n"}, {"app/data.bin": os.urandom(3000)}]
        self.tars = [tar_of(f) for f in files]
        self.diff_ids = [sha256(t) for t in self.tars]
        self.blobs_of_layers = [t if plain else gzip.compress(t, mtime=0) for t in self.tars]
        os_, arch, *variant = platform.split("/")
        config: dict[str, object] = {
            "architecture": arch, "os": os_, "created": "2024-01-02T03:04:05Z",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": self.diff_ids},
        }
        if variant:
            config["variant"] = variant[0]
        self.config = json.dumps(config, sort_keys=True).encode()
        manifest = {
            "schemaVersion": 2, "mediaType": manifest_type,
            "config": {"mediaType": config_type, "size": len(self.config),
                       "digest": sha256(self.config)},
            "layers": [{"mediaType": tar_type if plain else gz_type, "size": len(b),
                        "digest": sha256(b)} for b in self.blobs_of_layers],
        }
        self.media_type = manifest_type
        self.manifest = json.dumps(manifest, indent=indent).encode()
        self.digest = sha256(self.manifest)
        self.config_digest = sha256(self.config)
        self.layer_digests = [sha256(b) for b in self.blobs_of_layers]

    def push(self, repo: Repository, tag: str) -> str:
        for blob in (self.config, *self.blobs_of_layers):
            repo.blobs.upload(blob)
        return repo.manifests.put(tag, RawManifest(self.manifest, self.media_type, self.digest))
