"""docker-archive and oci-archive tars written from an OCI layout (blocking file work:
flows run it through ``Offload``); read back by ``_archive_files``.

Every layer streams through a temp file, never whole in memory; an archive is written to
a temp file next to its destination and renamed into place only once complete (a FIFO or
device, ``/dev/stdout``, is streamed into: ``_destination``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..errors import ArchiveError, DigestMismatchError, LayoutError, NotAnImageError
from ..layout import OCILayout
from ..models import IMAGE_CONFIG_TYPES, RawManifest, manifest_media_type
from . import _light
from ._archive_files import config_diff_ids
from ._destination import prepare, written_to
from ._layers import LayerProblem, LayerReader

_COPY = 1 << 20


def check_archive_dest(dest: Path) -> None:
    """Before anything is downloaded: refuse a folder as an archive's destination, and
    see the archive can be written where it goes (its directory made, after symlinks:
    :func:`~._destination.prepare`).

    Raises:
        ArchiveError: ``dest`` is a directory.
        OSError: the archive cannot be written there (read-only, a file in the way).
    """
    if dest.is_dir():
        raise ArchiveError(f"{dest} is a directory: an archive is written to a file")
    prepare(dest, make_parents=True)


@contextmanager
def _atomic_file(dest: Path) -> Iterator[IO[bytes]]:
    """Where the archive's bytes go (``_destination.written_to``: a temp file renamed
    into place when the block ends without error, or a FIFO or device streamed into --
    so the tar is written as a stream, ``w|``, never seeking)."""
    check_archive_dest(dest)
    with written_to(dest) as out:
        yield out


def _info(name: str, size: int = 0, *, directory: bool = False) -> tarfile.TarInfo:
    """A member header with no host metadata: mode 0644 (0755 for a directory), owner 0,
    time 0 -- the same bytes on every machine."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if directory else 0o644
    if directory:
        info.type = tarfile.DIRTYPE
    return info


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    with open(path, "rb") as f:
        tar.addfile(_info(name, os.fstat(f.fileno()).st_size), f)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


def _only_entry(layout: OCILayout, limit: int) -> tuple[str, bytes]:
    entries = [m for m in layout.read_index().get("manifests", []) if isinstance(m, dict)]
    if len(entries) != 1:
        raise LayoutError(f"{layout.root}: expected one image in index.json, found "
                          f"{len(entries)}")
    digest = str(entries[0].get("digest", ""))
    return digest, layout.read_blob(digest, limit)


def write_oci_archive(layout_dir: Path, dest: Path) -> None:
    """Pack the OCI layout ``layout_dir`` into the tar ``dest`` (sorted, no host metadata)."""
    root = Path(layout_dir)
    blobs = sorted(p for p in (root / "blobs").rglob("*") if p.is_file())
    with _atomic_file(Path(dest)) as out, tarfile.open(
            fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_file(tar, "oci-layout", root / "oci-layout")
        _add_file(tar, "index.json", root / "index.json")
        tar.addfile(_info("blobs", directory=True))
        for algo_dir in sorted({p.parent for p in blobs}):
            tar.addfile(_info(f"blobs/{algo_dir.name}", directory=True))
        for p in blobs:
            _add_file(tar, f"blobs/{p.parent.name}/{p.name}", p)


def write_docker_archive(
    layout_dir: Path, dest: Path, repo_tags: list[str], limit: int
) -> None:
    """Write the only image of the OCI layout ``layout_dir`` as the docker-archive ``dest``.

    Each layer is decompressed into a temp file on the way, its diff_id checked against
    the config's.

    Raises:
        NotAnImageError: the image is an index or an artifact (a docker-archive holds one
            image of one platform).
        DigestMismatchError: a layer is not the one its config's diff_ids name.
        ArchiveError: a layer is no readable tar stream.
    """
    layout = OCILayout(layout_dir)
    digest, data = _only_entry(layout, limit)
    is_index, descs = _light.read(_light_raw(digest, data))
    if is_index:
        raise NotAnImageError(f"{digest} is an index: a docker-archive holds one platform's "
                              "image (choose a platform)")
    config, layers = descs[0], descs[1:]
    if config.media_type not in IMAGE_CONFIG_TYPES:
        raise NotAnImageError(f"{digest} is an artifact ({config.media_type}), not an image")
    config_data = layout.read_blob(config.digest, limit)
    diff_ids = config_diff_ids(config_data, f"image config {config.digest}")
    if len(diff_ids) != len(layers):
        raise DigestMismatchError(f"image config {config.digest} lists {len(diff_ids)} "
                                  f"diff_ids for {len(layers)} layers")
    work = Path(tempfile.mkdtemp(dir=layout.root, prefix=".layers."))
    try:
        names: list[str] = []
        files: dict[str, Path] = {}
        for d, want in zip(layers, diff_ids, strict=True):
            name = f"{want.split(':', 1)[1]}.tar"
            names.append(name)
            if name in files:
                continue
            plain = work / name
            with layout.open_blob(d.digest, d.size) as src, open(plain, "wb") as out:
                reader = LayerReader(d.media_type, out.write)
                while block := src.read(_COPY):
                    reader.feed(block)
                try:
                    have = reader.finish()
                except LayerProblem as exc:
                    raise ArchiveError(f"layer {d.digest}: {exc}") from None
            if have != want:
                raise DigestMismatchError(f"layer {d.digest} unpacks to {have}, its config "
                                          f"says {want}")
            files[name] = plain
        config_name = f"{config.digest.split(':', 1)[1]}.json"
        doc = [{"Config": config_name, "RepoTags": repo_tags, "Layers": names}]
        with _atomic_file(Path(dest)) as archive, tarfile.open(
                fileobj=archive, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, config_name, config_data)
            for name, path in files.items():
                _add_file(tar, name, path)
            _add_bytes(tar, "manifest.json", json.dumps(doc, separators=(",", ":")).encode())
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _light_raw(digest: str, data: bytes) -> RawManifest:
    return RawManifest(data=data, media_type=manifest_media_type(data), digest=digest)
