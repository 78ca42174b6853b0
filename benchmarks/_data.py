"""Test data: incompressible images written as OCI layouts, and seeding them into registries.

Layers are gzip streams made of *stored* (level 0) deflate blocks around random bytes:
they are valid ``tar+gzip`` blobs as far as any client can tell (skopeo sees the gzip
magic and does not try to compress them again), and nothing can compress them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import zlib
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
import requests.adapters

from registry_client.testing import LocalRegistry

#: requests sent by the benchmark harness itself carry this User-Agent prefix, which the
#: testing plugin leaves out of every request count.
INTERNAL_UA = "registry-client-testing/bench"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
MIB = 1 << 20


@dataclasses.dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    path: Path

    @property
    def hex(self) -> str:
        return self.digest.split(":", 1)[1]


@dataclasses.dataclass(frozen=True)
class LocalImage:
    """An image in an OCI layout on disk (one manifest, tagged ``tag`` in index.json)."""

    layout: Path
    tag: str
    manifest: bytes
    manifest_digest: str
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def blobs(self) -> tuple[Blob, ...]:
        """Config first, then the layers (the order of a pull)."""
        return (self.config, *self.layers)

    @property
    def blob_bytes(self) -> int:
        return sum(b.size for b in self.blobs)

    @property
    def manifest_path(self) -> Path:
        return self.layout / "blobs" / "sha256" / self.manifest_digest.split(":", 1)[1]


def _write_blob(layout: Path, data: bytes) -> Blob:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest[7:]
    path.write_bytes(data)
    return Blob(digest, len(data), path)


def _write_random_gzip_layer(layout: Path, payload: int) -> Blob:
    """A gzip stream of stored blocks holding ``payload`` random bytes."""
    tmp = layout / "blobs" / "sha256" / f".tmp-{os.getpid()}"
    h = hashlib.sha256()
    size = 0
    comp = zlib.compressobj(level=0, wbits=31)  # gzip container, no compression
    with open(tmp, "wb") as f:
        left = payload
        while left > 0:
            n = min(left, 16 * MIB)
            out = comp.compress(os.urandom(n))
            left -= n
            if out:
                f.write(out)
                h.update(out)
                size += len(out)
        out = comp.flush()
        f.write(out)
        h.update(out)
        size += len(out)
    digest = "sha256:" + h.hexdigest()
    path = tmp.with_name(digest[7:])
    os.replace(tmp, path)
    return Blob(digest, size, path)


def make_image(layout: Path, tag: str, layer_payloads: Sequence[int],
               created: str = "2024-01-02T03:04:05Z") -> LocalImage:
    """Write an OCI layout with random (incompressible) gzip layers of the given payloads."""
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    layers = tuple(_write_random_gzip_layer(layout, n) for n in layer_payloads)
    config_doc = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {"Cmd": ["/bin/sh"], "Labels": {"bench": tag}},
        "rootfs": {"type": "layers", "diff_ids": [b.digest for b in layers]},
        "history": [{"created_by": f"bench layer {i}"} for i in range(len(layers))],
    }
    config = _write_blob(layout, json.dumps(config_doc, sort_keys=True).encode())
    manifest_doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config.digest, "size": config.size},
        "layers": [{"mediaType": OCI_LAYER, "digest": b.digest, "size": b.size} for b in layers],
    }
    manifest = json.dumps(manifest_doc, indent=2).encode()
    mblob = _write_blob(layout, manifest)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST, "digest": mblob.digest, "size": mblob.size,
            "annotations": {REF_NAME: tag},
        }],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return LocalImage(layout, tag, manifest, mblob.digest, config, layers)


# -- seeding (raw requests, internal User-Agent: never counted) ---------------------------

class _BigWrites(requests.adapters.HTTPAdapter):
    """Send file bodies in 1 MiB writes (http.client's default is 8 KiB)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blocksize", MIB)
        super().init_poolmanager(*args, **kwargs)


def _session(reg: LocalRegistry, repositories: Iterable[str]) -> requests.Session:
    s = requests.Session()
    s.mount("http://", _BigWrites())
    s.headers["User-Agent"] = f"{INTERNAL_UA}/seed"
    s.headers.update(reg.admin_headers(list(repositories)))
    return s


def _check(resp: requests.Response, want: int, what: str) -> None:
    if resp.status_code != want:
        raise RuntimeError(f"seeding: {what} answered {resp.status_code}: {resp.text[:300]}")


def upload_blob_file(s: requests.Session, base: str, repo: str, blob: Blob) -> None:
    r = s.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=30)
    _check(r, 202, f"POST upload {repo}")
    location = urljoin(base + "/", r.headers["Location"])
    with open(blob.path, "rb") as f:
        r = s.put(location, params={"digest": blob.digest}, data=f, timeout=600,
                  headers={"Content-Type": "application/octet-stream",
                           "Content-Length": str(blob.size)})
    _check(r, 201, f"PUT blob {blob.digest} to {repo}")


def put_manifest(s: requests.Session, base: str, repo: str, ref: str, data: bytes) -> None:
    r = s.put(f"{base}/v2/{repo}/manifests/{ref}", data=data,
              headers={"Content-Type": OCI_MANIFEST}, timeout=30)
    _check(r, 201, f"PUT manifest {repo}:{ref}")


def seed_local_image(reg: LocalRegistry, repo: str, image: LocalImage,
                     tags: Sequence[str] | None = None) -> None:
    """Upload ``image`` to ``repo`` and tag it (``tags`` default: the image's tag)."""
    tags = list(tags) if tags is not None else [image.tag]
    with _session(reg, [repo]) as s:
        for blob in image.blobs:
            upload_blob_file(s, reg.url, repo, blob)
        put_manifest(s, reg.url, repo, tags[0], image.manifest)
    put_tags(reg, repo, image.manifest, tags[1:])


def put_tags(reg: LocalRegistry, repo: str, manifest: bytes, tags: Sequence[str],
             workers: int = 4) -> None:
    """PUT the same manifest under many tags (a few threads, keep-alive sessions)."""
    if not tags:
        return
    chunks = [list(tags[i::workers]) for i in range(workers)]

    def work(part: list[str]) -> None:
        with _session(reg, [repo]) as s:
            for tag in part:
                put_manifest(s, reg.url, repo, tag, manifest)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, chunks))


def link_tags(reg: LocalRegistry, repo: str, tags: Mapping[str, str]) -> None:
    """Tag manifests that are already in ``repo`` by writing the registry's tag links.

    Distribution's filesystem storage keeps a tag as two one-line files,
    ``_manifests/tags/<tag>/current/link`` and ``.../index/sha256/<hex>/link``, both
    holding the digest: what a manifest PUT by tag writes.  Fast seeding for many tags;
    the result is checked through the API (a tag list, and one HEAD per image).
    """
    tags_dir = (reg.storage_dir / "docker" / "registry" / "v2" / "repositories" / repo
                / "_manifests" / "tags")
    if not tags_dir.is_dir():
        raise RuntimeError(f"seeding: {tags_dir} does not exist (push one tag first)")
    for tag, digest in tags.items():
        algo, hexd = digest.split(":", 1)
        for d in (tags_dir / tag / "current", tags_dir / tag / "index" / algo / hexd):
            d.mkdir(parents=True, exist_ok=True)
            (d / "link").write_text(digest)
    with _session(reg, [repo]) as s:
        r = s.get(f"{reg.url}/v2/{repo}/tags/list", timeout=60)
        _check(r, 200, f"tags/list {repo}")
        listed = set(r.json().get("tags") or [])
        missing = set(tags) - listed
        if missing:
            raise RuntimeError(f"seeding: {len(missing)} linked tags not listed, e.g. "
                               f"{sorted(missing)[:3]}")
        for digest, tag in {d: t for t, d in tags.items()}.items():  # one tag per image
            r = s.head(f"{reg.url}/v2/{repo}/manifests/{digest}", timeout=30,
                       headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
            _check(r, 200, f"HEAD {repo}:{tag}")
            r = s.head(f"{reg.url}/v2/{repo}/manifests/{tag}", timeout=30,
                       headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
            _check(r, 200, f"HEAD {repo}:{tag}")
            if r.headers.get("Docker-Content-Digest") != digest:
                raise RuntimeError(f"seeding: {repo}:{tag} -> "
                                   f"{r.headers.get('Docker-Content-Digest')}, not {digest}")


def manifest_exists(reg: LocalRegistry, repo: str, ref: str) -> bool:
    """HEAD the manifest as the admin (internal UA): did a push/copy really land?"""
    with _session(reg, [repo]) as s:
        r = s.head(f"{reg.url}/v2/{repo}/manifests/{ref}", timeout=30,
                   headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
    return r.status_code == 200
