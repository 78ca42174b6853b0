"""Layer tarballs on disk: pack a directory reproducibly, prepare a layer file, merge layers.

Everything here is blocking file work, streamed through files (never a whole layer in
memory), used by ``mutate`` (append, flatten) and ``images.export``:

* :func:`prepare_layer` turns a directory, a ``.tar`` or a ``.tar.gz`` into a gzip layer
  blob with its digest, size and ``diff_id`` (the sha256 of the uncompressed tar);
* :func:`pack_directory` writes a directory as a tar that is the same, byte for byte,
  on every run and machine: entries sorted, mtime 0, uid/gid 0, no user or group
  names, permissions reduced to 0755/0644, no host metadata (xattrs, atime, inode);
* :func:`merge_layers` writes the root filesystem that layers make, whiteouts
  (``.wh.NAME``) and opaque directories (``.wh..wh..opq``) applied (OCI image-spec
  ``layer.md``): what ``flatten`` puts in its one layer and ``export`` writes.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Protocol

import attrs

from .errors import LayerError

__all__ = [
    "GZIP_LEVEL", "PreparedLayer", "flatten_layers", "gzip_file", "merge_layers",
    "pack_directory",
    "prepare_layer", "tar_entries",
]

GZIP_LEVEL = 6
"""zlib's default level, as Docker and go-containerregistry compress layers."""

_BLOCK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ENCODING, ERRORS = "utf-8", "surrogateescape"
"""How tar names are read and written: UTF-8 (bytes that are not kept as they are),
whatever the locale, so the same tree gives the same bytes everywhere."""
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


@attrs.frozen
class PreparedLayer:
    """A gzip layer blob in a file: its digest and size (what the manifest lists) and its
    ``diff_id`` (what the config's ``rootfs`` lists)."""

    path: Path
    digest: str
    size: int
    diff_id: str


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class _Hashing:
    """A binary sink that hashes (sha256) and counts what passes to ``target`` (if any)."""

    def __init__(self, target: _Writable | None = None) -> None:
        self.target = target
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        if self.target is not None:
            self.target.write(data)
        return len(data)

    def flush(self) -> None:
        flush = getattr(self.target, "flush", None)
        if flush is not None:
            flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


class _HashingReader:
    """Reads ``source`` and hashes every byte read."""

    def __init__(self, source: _Readable) -> None:
        self.source = source
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        self.hash.update(data)
        return data

    def drain(self) -> str:
        """Read to the end (a tar reader stops at its end marker); the digest of it all."""
        while self.read(_BLOCK):
            pass
        return "sha256:" + self.hash.hexdigest()


def _gzip_writer(sink: _Writable) -> gzip.GzipFile:
    """A deterministic gzip stream into ``sink``: no file name, mtime 0, level 6."""
    return gzip.GzipFile(filename="", mode="wb", fileobj=sink,  # type: ignore[call-overload,no-any-return]
                         mtime=0, compresslevel=GZIP_LEVEL)


def gzip_file(source: IO[bytes], dest: Path) -> tuple[str, int, str]:
    """Compress the tar stream ``source`` into ``dest`` deterministically.

    Returns ``(digest, size, diff_id)``: the compressed file's digest and size, and the
    sha256 of the uncompressed bytes.
    """
    with open(dest, "wb") as out:
        blob = _Hashing(out)
        with _gzip_writer(blob) as gz:
            plain = _Hashing(gz)
            shutil.copyfileobj(source, plain, _BLOCK)
    return blob.digest, blob.size, plain.digest


def _mode(mode: int) -> int:
    """Permissions that do not depend on the umask: 0755 when anyone may run it, else 0644."""
    return 0o755 if mode & 0o111 else 0o644


def _utf8(name: str) -> str:
    """A file system name as UTF-8 text, whatever the locale decoded it with (in the C
    locale ``é`` comes as two escaped bytes; bytes that are no UTF-8 stay escaped)."""
    return os.fsencode(name).decode(ENCODING, ERRORS)


def _walk(root: Path, prefix: str = "") -> Iterator[tuple[str, os.DirEntry[str]]]:
    """``(name in the tar, entry)`` of everything under ``root``, sorted, parents first."""
    with os.scandir(root) as it:
        entries = sorted(it, key=lambda e: e.name.encode("utf-8", "surrogateescape"))
    for entry in entries:
        name = prefix + _utf8(entry.name)
        yield name, entry
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), name + "/")


def pack_directory(root: str | os.PathLike[str], out: IO[bytes]) -> None:
    """Write the tree under ``root`` to ``out`` as a reproducible tar (see the module).

    Names are relative to ``root`` (``app/main.py``: the directory's contents land at
    the image's ``/``). Symlinks are kept as links; hard links are stored as files.

    Raises:
        LayerError: ``root`` is not a directory, or holds a socket, FIFO or device, or a
            name starting with ``.wh.`` (a whiteout, in a layer).
    """
    base = Path(root)
    if not base.is_dir():
        raise LayerError(f"{base}: not a directory")
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT,
                      encoding=ENCODING, errors=ERRORS) as tar:
        for name, entry in _walk(base):
            if entry.name.startswith(WHITEOUT):
                raise LayerError(
                    f"{entry.path}: a name starting with {WHITEOUT} is a whiteout in a layer "
                    "(it deletes files of the layers below) and no file may have it; to "
                    "delete files deliberately, give a tar")
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            st = entry.stat(follow_symlinks=False)
            if entry.is_symlink():
                info.type, info.mode = tarfile.SYMTYPE, 0o777
                info.linkname = _utf8(os.readlink(entry.path))
                tar.addfile(info)
            elif stat.S_ISDIR(st.st_mode):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                info.mode, info.size = _mode(st.st_mode), st.st_size
                with open(entry.path, "rb") as f:
                    tar.addfile(info, f)
            else:
                raise LayerError(f"{entry.path}: a socket, FIFO or device cannot go in a layer")


class _Tail:
    """Reads ``source``, counting the bytes and keeping the last ones read (enough to look
    back at the block a tar reader stopped at)."""

    KEEP = 1 << 16

    def __init__(self, source: _Readable) -> None:
        self.source = source
        self.total = 0
        self.window = bytearray()
        self.start = 0  # the stream offset of window[0]

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        self.total += len(data)
        self.window += data
        if len(self.window) > 2 * self.KEEP:
            drop = len(self.window) - self.KEEP
            del self.window[:drop]
            self.start += drop
        return data

    def block_at(self, offset: int) -> bytes | None:
        """The 512 bytes at ``offset`` (fewer at the end of the stream; None when they
        have left the window)."""
        while self.total < offset + 512 and self.read(512):
            pass
        if offset < self.start:
            return None
        return bytes(self.window[offset - self.start:offset - self.start + 512])


def _check_tar(stream: IO[bytes], what: str) -> None:
    """Read ``stream`` as a tar archive to its end, or raise LayerError.

    Python's tarfile takes a cut-off header, or a member cut off inside its data, for the
    end of the archive; GNU tar and container runtimes do not. So the archive must end
    with an end-of-archive zero block, or exactly after its last member's data.
    """
    tail = _Tail(stream)
    try:
        with tarfile.open(fileobj=tail, mode="r|", encoding=ENCODING, errors=ERRORS) as tar:  # type: ignore[call-overload]
            last = ""
            for info in tar:
                last = info.name
            end = tar.offset
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise LayerError(f"{what}: not a readable tar archive ({exc})") from None
    block = tail.block_at(end)
    if block is None or (block == bytes(len(block)) and (len(block) == 512 or not block)):
        if tail.total >= end:
            return
        raise LayerError(f"{what}: the tar archive is cut off inside {last!r}")
    if len(block) < 512 and not any(block):
        raise LayerError(f"{what}: the tar archive is cut off after {last!r}")
    raise LayerError(f"{what}: a cut-off or unreadable tar header after {last!r}")


def _sniff(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(4)


def prepare_layer(source: str | os.PathLike[str], dest: Path) -> PreparedLayer:
    """A gzip layer blob, written to ``dest``, from a directory, a tar or a tar.gz file.

    A directory is packed reproducibly and compressed deterministically, so the same
    tree gives the same digest; a tar is compressed the same way; a tar.gz is used as
    it is (its own bytes are the blob). Either way the content is read as a tar to its
    end, and the diff_id computed from the uncompressed bytes.

    Raises:
        LayerError: no such file, not a tar (or gzip of one), or zstd (not supported).
    """
    path = Path(source)
    if path.is_dir():
        plain = dest.with_name(dest.name + ".tar")
        with open(plain, "wb") as out:
            pack_directory(path, out)
        with open(plain, "rb") as f:
            digest, size, diff_id = gzip_file(f, dest)
        plain.unlink()
        return PreparedLayer(dest, digest, size, diff_id)
    if path.exists() and not path.is_file():
        # a pipe (crane's `append -f <(tar -c dir)`: /dev/fd/63) or another stream,
        # readable once: its bytes are kept, then read as a file is
        copy = dest.with_name(dest.name + ".in")
        try:
            with open(path, "rb") as stream, open(copy, "wb") as out:
                shutil.copyfileobj(stream, out, _BLOCK)
            return _prepare_file(copy, dest, str(path))
        finally:
            copy.unlink(missing_ok=True)
    if not path.is_file():
        raise LayerError(f"{path}: no such layer file or directory")
    return _prepare_file(path, dest, str(path))


def _prepare_file(path: Path, dest: Path, shown: str) -> PreparedLayer:
    """:func:`prepare_layer` of the tar or tar.gz file ``path`` (``shown``: its name in
    errors)."""
    magic = _sniff(path)
    if magic.startswith(_ZSTD_MAGIC):
        raise LayerError(f"{shown}: zstd-compressed layers are not supported; give a tar "
                         "or a tar.gz")
    if magic.startswith(_GZIP_MAGIC):
        with open(path, "rb") as f:
            whole = _Hashing()
            shutil.copyfileobj(f, whole, _BLOCK)
        with gzip.open(path, "rb") as gz:
            reader = _HashingReader(gz)
            _check_tar(reader, shown)  # type: ignore[arg-type]
            try:
                diff_id = reader.drain()
            except (OSError, EOFError, zlib.error) as exc:
                raise LayerError(f"{shown}: broken gzip stream ({exc})") from None
        shutil.copyfile(path, dest)
        return PreparedLayer(dest, whole.digest, whole.size, diff_id)
    with open(path, "rb") as f:
        _check_tar(f, shown)
    with open(path, "rb") as f:
        digest, size, diff_id = gzip_file(f, dest)
    return PreparedLayer(dest, digest, size, diff_id)


# -- merging layers ---------------------------------------------------------------------
def clean_name(name: str) -> str:
    """A tar entry name as a path below the root: ``./a//b/`` -> ``a/b``, ``/../x`` ->
    ``x`` (never above the root); ``""`` for the root itself."""
    cleaned = posixpath.normpath("/" + name).lstrip("/")
    return "" if cleaned == "." else cleaned


def _open_layer(path: Path) -> gzip.GzipFile | io.BufferedReader:
    """A layer blob's uncompressed tar stream (gzip or plain tar)."""
    magic = _sniff(path)
    if magic.startswith(_ZSTD_MAGIC):
        raise LayerError(f"{path.name}: a zstd-compressed layer (not supported)")
    if magic.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(path, "rb")
    return open(path, "rb")


def tar_entries(path: Path) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Each entry of a layer blob, in order, with the open archive to read its data from.

    Raises:
        LayerError: the blob is not a (gzip) tar stream.
    """
    try:
        with _open_layer(path) as stream:
            if not stream.peek(1):  # no bytes: an archive of no entries, as Go reads it
                return
            with tarfile.open(fileobj=stream, mode="r|", encoding=ENCODING,
                              errors=ERRORS) as tar:
                for info in tar:
                    yield info, tar
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise LayerError(f"layer {path.name}: not a readable tar stream ({exc})") from None


def _ancestors(name: str) -> Iterator[str]:
    """The directories holding ``name``, innermost first, down to the root ``""``."""
    while "/" in name:
        name = name.rsplit("/", 1)[0]
        yield name
    yield ""


def _whiteout(name: str) -> tuple[str, bool] | None:
    """What the whiteout entry ``name`` hides in the layers below it, as ``(path,
    itself)``: for ``DIR/.wh..wh..opq`` what DIR holds (``""``: the root), for
    ``DIR/.wh.NAME`` the path DIR/NAME and what it holds; a bare ``.wh.`` names nothing
    (``None``). Check :func:`_is_whiteout` first."""
    parent, _, base = name.rpartition("/")
    if base == OPAQUE:
        return parent, False
    gone = base[len(WHITEOUT):]
    return (posixpath.join(parent, gone), True) if gone else None


def _is_whiteout(name: str) -> bool:
    """Whether ``name`` is a whiteout entry (an opaque marker too): never a file."""
    return name.rpartition("/")[2].startswith(WHITEOUT)


def _below(name: str, path: str) -> bool:
    """Whether ``name`` is inside the directory ``path`` (the root ``""`` holds every
    name: a layer's ``.wh..wh..opq`` at its top makes the root opaque)."""
    return name.startswith(path + "/") if path else bool(name)


class _Visibility:
    """Which entries of which layer survive, decided from the top layer down."""

    def __init__(self) -> None:
        self.taken: dict[str, bool] = {}  # path -> it hides what is below it (a non-dir)
        self.masked: set[str] = set()  # whited out: the path and all below it, lower down
        self.opaque: set[str] = set()  # opaque dirs: what is below them, lower down

    def hidden(self, name: str) -> bool:
        if name in self.taken or name in self.masked:
            return True
        return any(self.taken.get(a) or a in self.masked or a in self.opaque
                   for a in _ancestors(name))

    def layer(self, entries: list[tuple[str, bool]]) -> set[int]:
        """The ordinals of one layer's entries (``(clean name, is_dir)``) that survive."""
        keep: set[int] = set()
        hides: list[tuple[str, bool]] = []
        for ordinal in range(len(entries) - 1, -1, -1):  # within a layer the last one wins
            name, is_dir = entries[ordinal]
            if not name:
                continue
            if _is_whiteout(name):
                hidden = _whiteout(name)
                if hidden is not None:
                    hides.append(hidden)
            elif not self.hidden(name):
                self.taken[name] = not is_dir
                keep.add(ordinal)
        # A layer's whiteouts and opaque markers hide what the layers below it hold.
        for path, itself in hides:
            (self.masked if itself else self.opaque).add(path)
        return keep


@attrs.frozen
class _Listed:
    """What the merge needs to know of one entry before reading any data."""

    name: str
    is_dir: bool
    link: str | None  # a hard link's cleaned target
    symlink: str | None = None  # a symbolic link's target, as written


def _list_layer(path: Path) -> list[_Listed]:
    return [_Listed(clean_name(info.name), info.isdir(),
                    clean_name(info.linkname) if info.islnk() else None,
                    info.linkname if info.issym() else None)
            for info, _ in tar_entries(path)]


_MAX_HOPS = 40  # symbolic links followed for one name (Linux's ELOOP limit)


def _resolve(name: str, links: Mapping[str, tuple[int, str]], *, last: bool = False,
             hops: int = 0) -> tuple[str, int]:
    """``name`` with its directories' symbolic links followed inside the root (an
    absolute target starts at the root, ``..`` never leaves it), and its last part too
    with ``last``; and the links followed so far.

    Raises:
        LayerError: more than 40 links followed (a loop).
    """
    parts = [p for p in name.split("/") if p]
    done = ""
    for i, part in enumerate(parts):
        path = f"{done}/{part}" if done else part
        found = links.get(path)
        if found is None or (i == len(parts) - 1 and not last):
            done = path
            continue
        hops += 1
        if hops > _MAX_HOPS:
            raise LayerError(f"{name}: too many levels of symbolic links")
        target = found[1]
        base = "" if target.startswith("/") else done
        done, hops = _resolve(clean_name(posixpath.join("/" + base, target)), links,
                              last=True, hops=hops)
    return done, hops


def _resolve_names(listing: list[list[_Listed]]) -> list[list[_Listed]]:
    """The listing with each name (and hard link target) as a runtime unpacks it: through
    the symbolic links to directories that the entries before it made (``lnk -> /etc``
    then ``lnk/passwd`` writes ``etc/passwd``), as umoci and Docker do."""
    links: dict[str, tuple[int, str]] = {}  # path -> (layer it was made in, target)

    def drop(layer: int, path: str, *, itself: bool = True) -> None:
        for name in [n for n, (made, _) in links.items() if made < layer
                     and (_below(n, path) or (itself and n == path))]:
            del links[name]

    if not any(e.symlink is not None for entries in listing for e in entries):
        return listing
    result: list[list[_Listed]] = []
    for i, entries in enumerate(listing):
        resolved: list[_Listed] = []
        for entry in entries:
            name = _resolve(entry.name, links)[0] if entry.name else ""
            link = None if entry.link is None else _resolve(entry.link, links)[0]
            resolved.append(attrs.evolve(entry, name=name, link=link))
            if not name:
                continue
            if _is_whiteout(name):
                hidden = _whiteout(name)
                if hidden is not None:
                    drop(i, hidden[0], itself=hidden[1])
            elif entry.symlink is not None:
                drop(i + 1, name)
                links[name] = (i, entry.symlink)
            elif entry.is_dir:
                links.pop(name, None)  # a directory replaces a link
            else:
                drop(i + 1, name)  # a file replaces a link, and hides what is below it
        result.append(resolved)
    return result


EntryId = tuple[int, int]
"""An entry of a merge: (layer number, ordinal in its layer)."""


def _link_sources(listing: list[list[_Listed]]) -> dict[EntryId, EntryId]:
    """For each hard link, the entry whose content it shares: its target as it was when
    the link was made (a chain of links followed), even if a later layer deletes or
    replaces that target. A link to nothing has no entry here."""
    targets = {e.link for entries in listing for e in entries if e.link is not None}
    current: dict[str, tuple[int, EntryId]] = {}  # target path -> (layer set in, source)

    def drop_below(layer: int, prefix: str, *, itself: bool) -> None:
        for name in [n for n, (set_in, _) in current.items() if set_in < layer
                     and (_below(n, prefix) or (itself and n == prefix))]:
            del current[name]

    sources: dict[EntryId, EntryId] = {}
    for i, entries in enumerate(listing):
        for ordinal, entry in enumerate(entries):
            if _is_whiteout(entry.name):
                hidden = _whiteout(entry.name)
                if hidden is not None:
                    drop_below(i, hidden[0], itself=hidden[1])
                continue
            if entry.name and not entry.is_dir:
                drop_below(i + 1, entry.name, itself=False)
            source: EntryId | None = (i, ordinal)
            if entry.link is not None:
                found = current.get(entry.link)
                source = found[1] if found else None
                if source is not None:
                    sources[(i, ordinal)] = source
            if entry.name in targets:
                if source is None:
                    current.pop(entry.name, None)
                else:
                    current[entry.name] = (i, source)
    return sources


def _write_entry(merged: tarfile.TarFile, info: tarfile.TarInfo, listed: _Listed,
                 data: IO[bytes] | None, link_to: str | None = None) -> None:
    """Write ``info`` under its cleaned and resolved name (a hard link: to ``link_to`` or
    its resolved target)."""
    info.name = listed.name
    if info.islnk():
        info.linkname = link_to or listed.link or clean_name(info.linkname)
    # tarfile writes a pax path over the name: the cleaned name must win
    info.pax_headers = {k: v for k, v in info.pax_headers.items()
                        if k not in ("path", "linkpath")}
    if info.issparse():
        # GNU tar -S: a sparse file is read expanded (holes as zeros), so it is written
        # as the plain file it is -- under its sparse header (type S, GNU.sparse.* pax
        # records) the expanded bytes would be a tar Go's archive/tar refuses.
        info.type, info.sparse = tarfile.REGTYPE, None
        info.pax_headers = {k: v for k, v in info.pax_headers.items()
                            if not k.startswith("GNU.sparse.")}
    merged.addfile(info, data)


def merge_layers(layers: Iterable[Path], out: _Writable) -> None:
    """Write to ``out`` the root filesystem that ``layers`` (blobs, bottom first) make.

    Each layer is read twice: from the top one down to decide which entries survive
    (a later entry replaces an earlier one, a non-directory hides what was below it,
    ``.wh.NAME`` deletes NAME from the layers below, ``.wh..wh..opq`` empties its
    directory of what the layers below put there), then from the bottom up to write the
    survivors in layer order. Whiteout files are not written; entry metadata is kept,
    names are cleaned (``./a`` -> ``a``).

    A hard link is written after the file it links to. When a later layer deletes or
    replaces its target, the link becomes a regular file with the content the target
    had when the link was made (what umoci unpacks); other links to that same content
    then link to it.

    Raises:
        LayerError: a layer is not a (gzip) tar stream.
    """
    paths = list(layers)
    listing = _resolve_names([_list_layer(p) for p in paths])
    visibility = _Visibility()
    keep = [set[int]() for _ in paths]
    for i in range(len(paths) - 1, -1, -1):
        keep[i] = visibility.layer([(e.name, e.is_dir) for e in listing[i]])
    sources = _link_sources(listing)
    # Decide, in writing order, what each surviving link becomes: a link to the first
    # survivor that holds its content, or (there being none yet) that content itself.
    holder: dict[EntryId, str] = {}  # a content's source -> the name written with it
    link_to: dict[EntryId, str] = {}
    copy_of: dict[EntryId, EntryId] = {}
    for i, entries in enumerate(listing):
        for ordinal in sorted(keep[i]):
            here = (i, ordinal)
            source = sources.get(here)
            if source is None:
                holder.setdefault(here, entries[ordinal].name)
            elif source in holder:
                link_to[here] = holder[source]
            else:
                copy_of[here] = source
                holder[source] = entries[ordinal].name
    stash_ids = set(copy_of.values())
    with tempfile.TemporaryDirectory(dir=paths[0].parent if paths else None) as spare, \
            tarfile.open(fileobj=out, mode="w|",  # type: ignore[call-overload]
                         format=tarfile.PAX_FORMAT, encoding=ENCODING, errors=ERRORS) as merged:
        stashed: dict[EntryId, tuple[tarfile.TarInfo, Path | None]] = {}
        for i, path in enumerate(paths):
            for ordinal, (info, tar) in enumerate(tar_entries(path)):
                here = (i, ordinal)
                if here in stash_ids:
                    kept_data: Path | None = None
                    if info.isreg():
                        kept_data = Path(spare, f"{i}-{ordinal}")
                        with tar.extractfile(info) as src, open(kept_data, "wb") as f:  # type: ignore[union-attr]
                            shutil.copyfileobj(src, f, _BLOCK)
                    stashed[here] = (copy.copy(info), kept_data)
                if ordinal not in keep[i]:
                    continue
                listed = listing[i][ordinal]
                if here in copy_of:
                    original, kept_data = stashed[copy_of[here]]
                    info = copy.copy(original)
                    if kept_data is None:
                        _write_entry(merged, info, listed, None)
                    else:
                        with open(kept_data, "rb") as data:
                            _write_entry(merged, info, listed, data)
                    continue
                _write_entry(merged, info, listed,
                             tar.extractfile(info) if info.isreg() else None,
                             link_to.get(here))


def flatten_layers(layers: Iterable[Path], dest: Path) -> PreparedLayer:
    """One gzip layer blob at ``dest`` holding the root filesystem ``layers`` make
    (:func:`merge_layers`), compressed deterministically."""
    with open(dest, "wb") as out:
        blob = _Hashing(out)
        with _gzip_writer(blob) as gz:
            plain = _Hashing(gz)
            merge_layers(layers, plain)
    return PreparedLayer(dest, blob.digest, blob.size, plain.digest)
