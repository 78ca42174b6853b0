"""Shared helpers of the write-side integration tests (blobs, manifests, images, skopeo).

Imported by the ``test_*_write.py`` / ``test_images_transfer.py`` / ``test_skopeo_interop.py``
modules after putting this folder on ``sys.path`` (the tests folder is not a package).

* :func:`client_of` - a :class:`Registry` for a :class:`LocalRegistry`: anonymous in
  anonymous mode, the admin's credentials otherwise (``TokenAuthenticator`` / Basic), so
  deletes are allowed.
* :func:`build_image` / :func:`build_index` - images built in memory from random layers, a
  real-looking config (``architecture``/``os``/``rootfs.diff_ids``) and Docker or OCI
  manifests; :func:`upload_image` pushes one with ``blobs.upload`` + ``manifests.put``;
  :func:`write_layout` writes one as an OCI image layout; :func:`layout_blobs` reads one back.
* :class:`LogWindow` - the access-log entries of one repository since a mark.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from registry_client import (
    BasicAuthenticator,
    RawManifest,
    Registry,
    Repository,
    TokenAuthenticator,
)
from registry_client.testing import AccessLogEntry, LocalRegistry

MiB = 1024 * 1024

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
_TYPES = {
    "docker": (DOCKER_MANIFEST, DOCKER_LIST, DOCKER_CONFIG, DOCKER_LAYER),
    "oci": (OCI_MANIFEST, OCI_INDEX, OCI_CONFIG, OCI_LAYER),
}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MiB):
            h.update(block)
    return "sha256:" + h.hexdigest()


# -- clients ------------------------------------------------------------------------------


def client_of(reg: LocalRegistry, *, host: str | None = None, **kw: Any) -> Registry:
    """A Registry for ``reg`` (or for a proxy ``host`` in front of it) as its admin."""
    if reg.admin is not None and "authenticator" not in kw:
        user, password = reg.admin
        kw["authenticator"] = (
            TokenAuthenticator(user, password) if reg.auth == "token"
            else BasicAuthenticator(user, password)
        )
    return Registry(host or reg.host, protocol="http", **kw)


def find_skopeo() -> str:
    """The skopeo binary; the test fails (never skips) where it is not installed."""
    found = shutil.which("skopeo")
    if found is None:
        pytest.fail("skopeo is not installed (apt-get install skopeo)", pytrace=False)
    return found


def run_skopeo(skopeo: str, *args: str) -> str:
    """Run ``skopeo --insecure-policy ARGS``; its stdout (it must succeed)."""
    result = subprocess.run(
        [skopeo, "--insecure-policy", *args], capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"skopeo {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def skopeo_creds(reg: LocalRegistry, side: str) -> list[str]:
    """``--src-creds``/``--dest-creds admin:pass`` for an authenticated registry, else []."""
    if reg.admin is None:
        return []
    return [f"--{side}-creds", f"{reg.admin[0]}:{reg.admin[1]}"]


# -- images built in memory -----------------------------------------------------------------


@dataclasses.dataclass
class BuiltImage:
    """An image manifest (with its config and layers) or an index (with ``children``)."""

    manifest: bytes
    media_type: str
    platform: str | None = None
    config_digest: str | None = None
    layers: list[str] = dataclasses.field(default_factory=list)
    blobs: dict[str, bytes] = dataclasses.field(default_factory=dict)
    """Config and layers (of every child, for an index): digest -> bytes."""
    children: list[BuiltImage] = dataclasses.field(default_factory=list)

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def is_index(self) -> bool:
        return bool(self.children)

    def manifests(self) -> dict[str, bytes]:
        """Every manifest (children first, then this one): digest -> bytes."""
        found = {c.digest: c.manifest for c in self.children}
        found[self.digest] = self.manifest
        return found

    def child(self, platform: str) -> BuiltImage:
        return next(c for c in self.children if c.platform == platform)

    def raw(self) -> RawManifest:
        return RawManifest(data=self.manifest, media_type=self.media_type, digest=self.digest)


def _platform(platform: str) -> dict[str, str]:
    os_, arch, *variant = platform.split("/")
    result = {"architecture": arch, "os": os_}
    if variant:
        result["variant"] = variant[0]
    return result


def build_image(
    layer_sizes: Sequence[int] = (4096,),
    *,
    platform: str = "linux/amd64",
    media: str = "oci",
    layers: Sequence[bytes] | None = None,
    label: str = "",
    gzipped: bool = False,
) -> BuiltImage:
    """An image with random layers of ``layer_sizes`` (or the given ``layers``).

    The manifest is indented (not canonical JSON), so keeping its exact bytes matters.
    Layers are raw random bytes; with ``gzipped`` they are real gzip streams, as skopeo
    wants them (it compresses a layer it finds uncompressed, which changes its digest).
    """
    manifest_type, _, config_type, layer_type = _TYPES[media]
    blobs = list(layers) if layers is not None else [os.urandom(n) for n in layer_sizes]
    if gzipped:
        blobs = [gzip.compress(b, compresslevel=1, mtime=0) for b in blobs]
    digests = [sha256(b) for b in blobs]
    config = json.dumps({
        **_platform(platform),
        "created": "2024-01-02T03:04:05Z",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"test": label} if label else {}},
        "rootfs": {"type": "layers", "diff_ids": digests},
        "history": [{"created_by": f"ADD layer {i}"} for i in range(len(blobs))],
    }, separators=(",", ":"), sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config_type, "size": len(config), "digest": sha256(config)},
        "layers": [
            {"mediaType": layer_type, "size": len(b), "digest": d}
            for b, d in zip(blobs, digests, strict=True)
        ],
    }, indent=3).encode()
    all_blobs = dict(zip(digests, blobs, strict=True))
    all_blobs[sha256(config)] = config
    return BuiltImage(manifest=manifest, media_type=manifest_type, platform=platform,
                      config_digest=sha256(config), layers=digests, blobs=all_blobs)


def build_index(children: Sequence[BuiltImage], *, media: str = "oci") -> BuiltImage:
    index_type = _TYPES[media][1]
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": index_type,
        "manifests": [
            {"mediaType": c.media_type, "size": len(c.manifest), "digest": c.digest,
             "platform": _platform(c.platform or "linux/amd64")}
            for c in children
        ],
    }, indent=3).encode()
    blobs = {d: b for c in children for d, b in c.blobs.items()}
    return BuiltImage(manifest=manifest, media_type=index_type, blobs=blobs,
                      children=list(children))


def two_platform_index(
    media: str = "docker", layer_size: int = 64 * 1024, *, gzipped: bool = False
) -> BuiltImage:
    """An index of linux/amd64 and linux/arm64/v8 images (two layers each, all distinct)."""
    children = [
        build_image((layer_size, 1000), platform=p, media=media, gzipped=gzipped)
        for p in ("linux/amd64", "linux/arm64/v8")
    ]
    return build_index(children, media=media)


def upload_image(
    repo: Repository, image: BuiltImage, tag: str | None,
    *, chunk_sizes: Mapping[str, int] | None = None,
) -> str:
    """Push with ``blobs.upload`` and ``manifests.put(RawManifest)``; return the digest."""
    for digest, data in image.blobs.items():
        size = (chunk_sizes or {}).get(digest)
        desc = repo.blobs.upload(data, digest=digest, chunk_size=size)
        assert desc.digest == digest
    for child in image.children:
        assert repo.manifests.put(child.digest, child.raw()) == child.digest
    return repo.manifests.put(tag or image.digest, image.raw())


# -- OCI layouts ------------------------------------------------------------------------------


def write_layout(directory: Path, image: BuiltImage, tag: str) -> Path:
    """Write ``image`` as an OCI image layout whose index.json names it ``tag``."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    for digest, data in {**image.blobs, **image.manifests()}.items():
        (blobs / digest.split(":", 1)[1]).write_bytes(data)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": image.media_type, "digest": image.digest,
            "size": len(image.manifest), "annotations": {REF_NAME: tag},
        }],
    }
    (directory / "index.json").write_text(json.dumps(index))
    return directory


def layout_index(directory: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((directory / "index.json").read_text())
    return doc


def layout_entry(directory: Path, tag: str | None = None) -> dict[str, Any]:
    """The index.json entry named ``tag`` (or the only one)."""
    entries = layout_index(directory)["manifests"]
    if tag is None:
        assert len(entries) == 1, entries
        return dict(entries[0])
    named = [e for e in entries if (e.get("annotations") or {}).get(REF_NAME) == tag]
    assert len(named) == 1, entries
    return dict(named[0])


def layout_blobs(directory: Path) -> dict[str, Path]:
    """Every blob file of a layout, checked against its name: digest -> path."""
    found: dict[str, Path] = {}
    for path in sorted((directory / "blobs" / "sha256").iterdir()):
        digest = f"sha256:{path.name}"
        assert file_digest(path) == digest, f"{path} does not match its name"
        found[digest] = path
    return found


def layout_manifest_closure(directory: Path, digest: str) -> set[str]:
    """Digests of a manifest/index in a layout and of everything it references."""
    blobs = directory / "blobs" / "sha256"
    doc = json.loads((blobs / digest.split(":", 1)[1]).read_bytes())
    found = {digest}
    for child in doc.get("manifests", []):
        found |= layout_manifest_closure(directory, child["digest"])
    if "config" in doc:
        found.add(doc["config"]["digest"])
    found.update(layer["digest"] for layer in doc.get("layers", []))
    return found


# -- access log -------------------------------------------------------------------------------


class LogWindow:
    """The access-log entries about one repository from now on (``.entries()``)."""

    def __init__(self, reg: LocalRegistry, repository: str) -> None:
        self.reg = reg
        self.prefix = f"/v2/{repository}/"
        reg.sync_access_log()
        self._start = len(reg.access_log_entries())

    def entries(self) -> list[AccessLogEntry]:
        self.reg.sync_access_log()
        return [e for e in self.reg.access_log_entries()[self._start:]
                if e.path.startswith(self.prefix)]

    def count(self, method: str | None = None, contains: str = "",
              status: int | None = None) -> int:
        return sum(
            1 for e in self.entries()
            if (method is None or e.method == method) and contains in e.uri
            and (status is None or e.status == status)
        )

    def upload_writes(self) -> list[AccessLogEntry]:
        """POST/PATCH/PUT requests on ``blobs/uploads/`` (what moving blob bytes takes)."""
        return [e for e in self.entries()
                if e.method in ("POST", "PATCH", "PUT") and "/blobs/uploads/" in e.path]

    def blob_reads(self) -> list[AccessLogEntry]:
        """GET requests of blobs."""
        return [e for e in self.entries()
                if e.method == "GET" and "/blobs/sha256:" in e.path]


class Stats:
    """The client's ``requester.stats`` counters from now on."""

    def __init__(self, client: Registry) -> None:
        self.client = client
        self.start = client.requester.stats

    def delta(self, key: str) -> int:
        return int(self.client.requester.stats[key]) - int(self.start[key])
