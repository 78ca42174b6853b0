"""docker-archive and oci-archive tars on disk: what they are, and read into an OCI layout
(``_archive_write`` writes them).

Blocking file work only (flows run it through ``Offload``). Every layer streams through
a temp file, never whole in memory.

* A **docker-archive** is what ``docker save`` writes and ``docker load`` reads, as
  skopeo (containers/image ``docker/internal/tarfile``) writes it: ``manifest.json``
  (``[{"Config": "<hex>.json", "RepoTags": [...], "Layers": ["<diff_id hex>.tar", ...]}]``),
  the config file and each layer as an *uncompressed* tar named by its diff_id.
* An **oci-archive** is a tar of an OCI image layout (``oci-layout``, ``index.json``,
  ``blobs/<alg>/<hex>``), what ``skopeo copy ... oci-archive:FILE`` writes.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
import posixpath
import re
import stat
import tarfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from .. import mediatypes
from .._json import loads
from .._tarfs import gzip_file
from ..errors import (
    ArchiveError,
    DigestMismatchError,
    LayoutNotFoundError,
    RegistryResponseError,
)
from ..layout import OCILayout
from ..reference import is_valid_digest, one_named, path_and_tag
from . import _light
from ._layers import GZIP_MAGIC, ZSTD_MAGIC, LayerProblem, LayerReader

ArchiveKind = Literal["layout", "docker-archive", "oci-archive"]

_COPY = 1 << 20
_MAX_LINKS = 40
"""At most this many links are followed to reach a member (Linux's MAXSYMLINKS)."""
_DAMAGED = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError)
"""What reading a truncated or corrupt tar (or its compression) raises."""
_BLOB_MEMBER = re.compile(r"blobs/([a-z0-9]+)/([a-f0-9]+)\Z")


def config_diff_ids(config: bytes, what: str) -> list[str]:
    """The config's ``rootfs.diff_ids``.

    Raises:
        ArchiveError: the config is not a JSON object, or lists no valid diff_ids.
    """
    try:
        doc = _light.json_object(config, what)
    except RegistryResponseError as exc:  # (a file of the archive, not an answer)
        raise ArchiveError(exc.message) from None
    rootfs = doc.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(is_valid_digest(i) for i in ids):
        raise ArchiveError(f"{what}: no valid rootfs.diff_ids list")
    return [str(i) for i in ids]


def archive_kind(source: Path) -> ArchiveKind:
    """What ``source`` is: an OCI layout directory, a docker-archive or an oci-archive tar
    (decided by what the tar holds, not by its name).

    Raises:
        LayoutNotFoundError: ``source`` does not exist (a FileNotFoundError too).
        ArchiveError: a file that is no tar, or a tar that is neither kind.
    """
    if source.is_dir():
        return "layout"
    if not source.exists():
        raise LayoutNotFoundError(f"{source}: no such file or directory")
    with _reading(source) as tar:
        names = set(_members(tar))
    if "oci-layout" in names and "index.json" in names:
        return "oci-archive"
    if "manifest.json" in names:
        return "docker-archive"
    raise ArchiveError(f"{source} is neither a docker-archive (no manifest.json) nor an "
                       "oci-archive (no oci-layout and index.json)")


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


@contextmanager
def _reading(source: Path) -> Iterator[tarfile.TarFile]:
    """The tar ``source`` open for reading. Every archive is read inside this boundary:
    a truncated or corrupt tar (a header cut short, a member claiming more bytes than the
    file has, a broken compression stream) is an ArchiveError naming the file, wherever
    in the reading tarfile finds out."""
    try:
        tar = tarfile.open(source, mode="r:*")
    except _DAMAGED as exc:
        raise ArchiveError(f"{source} is not a tar archive ({exc})") from exc
    try:
        with tar:
            yield tar
    except _DAMAGED as exc:
        raise ArchiveError(f"{source} is truncated or corrupt: {exc}") from exc


def _members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    """Every member by its clean name. A header cut short after the last whole member is
    an error, as for Go's archive/tar (tarfile would take it for the end of the archive
    and the members after the cut would just be missing)."""
    members = {_clean(m.name): m for m in tar.getmembers()}
    fileobj = tar.fileobj
    if fileobj is not None:
        fileobj.seek(tar.offset)
        if 0 < len(fileobj.read(tarfile.BLOCKSIZE)) < tarfile.BLOCKSIZE:
            raise tarfile.ReadError(f"a header cut short at byte {tar.offset}")
    return members


def _link_target(member: tarfile.TarInfo, members: dict[str, tarfile.TarInfo],
                 what: str) -> tarfile.TarInfo:
    """The member a symbolic or hard link names, which must be inside the archive."""
    if member.issym():
        target = posixpath.join(posixpath.dirname(_clean(member.name)), member.linkname)
    else:
        target = member.linkname
    target = posixpath.normpath(target)
    found = None
    if not (target.startswith(("/", "../")) or target == ".."):
        found = members.get(_clean(target))
    if found is None:
        raise ArchiveError(f"{what}: {member.name} cannot be read (a link out of the "
                           f"archive, to {member.linkname})")
    return found


def _extract(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo],
             member: tarfile.TarInfo, what: str) -> IO[bytes]:
    """The bytes of a regular member; links within the tar are followed, a bounded number
    of times (a loop of links is an error, not an endless recursion)."""
    start = member
    for _ in range(_MAX_LINKS):
        if not (member.issym() or member.islnk()):
            break
        member = _link_target(member, members, what)
    else:
        raise ArchiveError(f"{what}: {start.name}: too many links (more than {_MAX_LINKS}; "
                           "a loop of links?)")
    if not member.isfile():
        raise ArchiveError(f"{what}: {start.name} is not a regular file")
    f = tar.extractfile(member)
    if f is None:
        raise ArchiveError(f"{what}: {start.name} cannot be read")
    return f


def _read_member(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str,
                 what: str, limit: int) -> bytes:
    member = members.get(_clean(name))
    if member is None:
        raise ArchiveError(f"{what}: the archive has no {name}")
    if member.size > limit:
        raise ArchiveError(f"{what}: {name} is larger than {limit} bytes")
    with _extract(tar, members, member, what) as f:
        data = f.read(limit + 1)
    if len(data) > limit:  # a link to a larger member
        raise ArchiveError(f"{what}: {name} is larger than {limit} bytes")
    return data


def _copy_out(src: IO[bytes], dest: Path, sink: Callable[[bytes], None] | None = None) -> None:
    with open(dest, "wb") as out:
        while block := src.read(_COPY):
            if sink is not None:
                sink(block)
            out.write(block)


def oci_archive_to_layout(source: Path, work: Path, limit: int) -> None:
    """Unpack the oci-archive ``source`` into the layout directory ``work``: only
    ``oci-layout``, ``index.json`` and blob files named by a valid digest are taken (the
    push verifies every blob's content as it is sent)."""
    with _reading(source) as tar:
        members = _members(tar)
        what = str(source)
        work.mkdir(parents=True, exist_ok=True)
        (work / "oci-layout").write_bytes(
            _read_member(tar, members, "oci-layout", what, limit))
        (work / "index.json").write_bytes(
            _read_member(tar, members, "index.json", what, limit))
        for name, member in members.items():
            match = _BLOB_MEMBER.match(name)
            if match is None or not is_valid_digest(f"{match[1]}:{match[2]}"):
                continue
            folder = work / "blobs" / match[1]
            folder.mkdir(parents=True, exist_ok=True)
            with _extract(tar, members, member, what) as f:
                _copy_out(f, folder / match[2])


def docker_archive_to_layout(source: Path, work: Path, tag: str, limit: int, *,
                             repository: str = "") -> None:
    """Turn the docker-archive ``source`` into an OCI layout at ``work`` holding a Docker
    schema2 image named ``tag``, the manifest skopeo and docker would push for it.

    The image is the archive's only one; or the one whose RepoTags name ``repository``
    (the path in the registry pushed to, whatever the host) with the tag ``tag``; or,
    failing that, the only one with the tag ``tag``.
    The config is kept byte for byte (the image ID stays). Uncompressed layers are gzip
    compressed (level 6, no name, time 0: the same bytes on every run); gzip layers are
    kept as they are. Every layer's diff_id is checked against the config's.

    Raises:
        ArchiveError: no manifest.json entry fits, a file it names is missing, a layer is
            no readable tar (or zstd, which a Docker manifest cannot type).
        DigestMismatchError: a layer is not the one the config's diff_ids name.
    """
    what = str(source)
    layout = OCILayout(work)
    layout.init()
    with _reading(source) as tar:
        members = _members(tar)
        entry = _docker_entry(_read_member(tar, members, "manifest.json", what, limit),
                              repository, tag, what)
        config = _read_member(tar, members, entry["Config"], what, limit)
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        layout.write_blob(config_digest, config)
        diff_ids = config_diff_ids(config, f"{what}: {entry['Config']}")
        if len(diff_ids) != len(entry["Layers"]):
            raise DigestMismatchError(f"{what}: the config lists {len(diff_ids)} diff_ids, "
                                      f"manifest.json {len(entry['Layers'])} layers")
        layers = [_docker_layer(tar, members, name, want, work, what)
                  for name, want in zip(entry["Layers"], diff_ids, strict=True)]
    manifest = {
        "schemaVersion": 2, "mediaType": mediatypes.DOCKER_MANIFEST_V2,
        "config": {"mediaType": mediatypes.DOCKER_CONFIG, "size": len(config),
                   "digest": config_digest},
        "layers": [{"mediaType": mediatypes.DOCKER_LAYER, "size": size, "digest": digest}
                   for digest, size in layers],
    }
    # Compact, in Go's field order (mediaType, size, digest): the bytes skopeo and docker
    # write for the same blobs.
    data = json.dumps(manifest, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    layout.write_blob(digest, data)
    layout.add_manifest({"mediaType": mediatypes.DOCKER_MANIFEST_V2, "digest": digest,
                         "size": len(data)}, tag)


def _docker_entry(data: bytes, repository: str, tag: str, what: str) -> dict[str, Any]:
    try:
        doc = loads(data)
    except ValueError:
        raise ArchiveError(f"{what}: manifest.json is not JSON") from None
    if not isinstance(doc, list) or not doc:
        raise ArchiveError(f"{what}: manifest.json lists no image")
    for entry in doc:
        if not (isinstance(entry, dict) and isinstance(entry.get("Config"), str)
                and isinstance(entry.get("Layers"), list)
                and all(isinstance(n, str) for n in entry["Layers"])):
            raise ArchiveError(f"{what}: manifest.json entry without Config and Layers")
    tagged = [e for e in doc if any(path_and_tag(t)[1] == tag for t in _tags(e))]
    found = doc[0] if len(doc) == 1 else one_named(tagged, _tags, repository or None, tag)
    if found is not None:
        return dict(found)
    names = ", ".join(sorted(t for e in doc for t in _tags(e))) or "untagged images"
    if len(tagged) > 1:
        why = (f"several have the tag {tag!r}"
               + (f", and not one alone is tagged {repository}:{tag}" if repository else ""))
    else:
        why = f"none has the tag {tag!r}"
    raise ArchiveError(f"{what} holds {len(doc)} images and {why}: push to the repository "
                       f"and tag of one of its RepoTags (have: {names})")


def _tags(entry: dict[str, Any]) -> list[str]:
    tags = entry.get("RepoTags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def _docker_layer(
    tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str, want: str,
    work: Path, what: str,
) -> tuple[str, int]:
    """Store one docker-archive layer as a gzip blob of ``work``; (digest, size)."""
    member = members.get(_clean(name))
    if member is None:
        raise ArchiveError(f"{what}: the archive has no layer {name}")
    tmp = work / f".layer.{want.split(':', 1)[1]}"
    reader = LayerReader("", None)
    with _extract(tar, members, member, what) as src:
        layer = _unpacked(src, f"{what}: layer {name}")
        head = layer.read(len(ZSTD_MAGIC))
        checked = _Checked(layer, reader, head)
        if head.startswith(GZIP_MAGIC):  # a gzip layer is kept as it is
            h = hashlib.sha256()
            with open(tmp, "wb") as out:
                while block := checked.read(_COPY):
                    h.update(block)
                    out.write(block)
            digest = f"sha256:{h.hexdigest()}"
        else:  # compressed as mutate.append compresses a tar (one decision, in _tarfs)
            digest, _, _ = gzip_file(checked, tmp)  # type: ignore[arg-type]
    try:
        have = reader.finish()
    except LayerProblem as exc:
        tmp.unlink(missing_ok=True)
        raise ArchiveError(f"{what}: layer {name}: {exc}") from None
    if reader.compression == "zstd":
        raise ArchiveError(f"{what}: layer {name} is zstd-compressed; a Docker manifest "
                           "cannot say so")
    if have != want:
        raise DigestMismatchError(f"{what}: layer {name} is {have}, the config says {want}")
    size = os.stat(tmp).st_size
    dest = work / "blobs" / "sha256" / digest.split(":", 1)[1]
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, dest)
    if not stat.S_ISREG(os.stat(dest).st_mode):
        raise ArchiveError(f"{dest}: not a regular file")
    return digest, size


_XZ_MAGIC = b"\xfd7zXZ\x00"
_BZIP2_MAGIC = b"BZh"


class _Reads(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def _unpacked(src: IO[bytes], what: str) -> _Reads:
    """The layer ``src``, its tar decompressed when it is xz or bzip2 -- which ``docker
    load`` and skopeo read, and a Docker manifest cannot type: such a layer is stored as
    gzip, as a plain tar is. A broken stream is an ArchiveError naming ``what``."""
    magic = src.peek(len(_XZ_MAGIC))[:len(_XZ_MAGIC)]  # type: ignore[attr-defined]
    if magic.startswith(_XZ_MAGIC):
        return _Unpacking(lzma.LZMAFile(src), what, "xz")
    if magic.startswith(_BZIP2_MAGIC):
        return _Unpacking(bz2.BZ2File(src), what, "bzip2")
    return src


class _Unpacking:
    """Reads a decompressing file; its errors (a broken or cut stream) are ArchiveErrors."""

    def __init__(self, f: IO[bytes], what: str, kind: str) -> None:
        self._f, self._what, self._kind = f, what, kind

    def read(self, n: int = -1) -> bytes:
        try:
            return self._f.read(n)
        except (lzma.LZMAError, OSError, EOFError) as exc:
            raise ArchiveError(f"{self._what}: a broken {self._kind} stream ({exc})") from None


class _Checked:
    """Reads a layer (``head``, then ``source``), handing every byte to ``reader`` too."""

    def __init__(self, source: _Reads, reader: LayerReader, head: bytes) -> None:
        self._source = source
        self._reader = reader
        self._head = head

    def read(self, n: int = -1) -> bytes:
        if self._head:
            data, self._head = self._head, b""
        else:
            data = self._source.read(n)
        if data:
            self._reader.feed(data)
        return data
