"""OCI image layout on disk: ``oci-layout``, ``index.json`` and ``blobs/<alg>/<hex>``.

https://github.com/opencontainers/image-spec/blob/main/image-layout.md
Every write is atomic (a temp file renamed into place); every digest is
checked against the grammar before it becomes a file name.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any, BinaryIO

from . import mediatypes
from ._json import loads
from ._locks import claim_fresh, forget, locked_directory, remove_unheld
from .errors import DigestMismatchError, LayoutError, LayoutNotFoundError
from .reference import is_valid_digest, one_named, require_verifiable

__all__ = ["REF_NAME", "OCILayout"]

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
"""The full name ``docker save`` (Docker 25 and later) gives each ``index.json`` entry."""
_LAYOUT = {"imageLayoutVersion": "1.0.0"}


def _umask() -> int:
    """The process umask, read without changing it where Linux tells it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic read-and-restore
    os.umask(mask)
    return mask


_NAME_MAX = 255
"""The most bytes of a file name (Linux, macOS and Windows file systems alike)."""


def _fitted_name(name: str, room: int) -> str:
    """``name``, or, when it and ``room`` bytes more exceed :data:`_NAME_MAX`, its start and
    a digest of the whole (``NAME~1a2b3c4d5e6f``): what the library keeps beside a
    user's file (``.partial``, temp files, work folders) is named after it, and must fit
    wherever the user's own name does -- and stay apart for two long names."""
    raw = os.fsencode(name)
    if len(raw) + room <= _NAME_MAX:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:12]
    start = name
    while len(os.fsencode(start)) > _NAME_MAX - room - len(digest) - 1:
        start = start[:-1]  # (whole characters: a UTF-8 name stays UTF-8)
    return start + "~" + digest


_RANDOM_CHARS = 8
"""The random part of a name ``tempfile`` makes."""


def _temp_file_beside(path: Path) -> tuple[int, str]:
    """A new hidden temp file in ``path``'s directory, to be renamed to ``path``: its
    descriptor and name. An error creating it (a read-only file system, no write
    permission) names ``path``, the file the user asked for, not the temp file.

    The file is locked (``flock``) while its descriptor is open -- keep it open until
    the rename -- so that the temp files of ``path`` a killed writer left (SIGKILL, or
    SIGTERM: ``docker stop``, ``timeout``, a cancelled CI job), up to a whole archive
    each, are told from those a writer is at: they are removed here first.
    """
    prefix = f".{_fitted_name(path.name, 2 + _RANDOM_CHARS + 4)}."
    _remove_stale_temps(path.parent, prefix)
    while True:
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
        except OSError as exc:
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None
        claimed = claim_fresh(fd)
        forget(fd)  # (a file object closes it, and the lock with it)
        if claimed:
            return fd, tmp
        os.close(fd)  # removed by another sweep before the lock: make another


def _remove_stale_temps(folder: Path, prefix: str) -> None:
    """Remove ``folder``'s temp files named ``<prefix>XXXXXXXX.tmp`` no writer holds
    locked (where locks do not work, one in use and one left behind look alike: none)."""
    length = len(prefix) + _RANDOM_CHARS + len(".tmp")
    remove_unheld(folder, lambda e: len(e.name) == length and e.name.startswith(prefix)
                  and e.name.endswith(".tmp") and e.is_file(follow_symlinks=False),
                  _unlink_quietly)


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):  # (gone meanwhile, or not ours to remove)
        os.unlink(path)


def _refuse_loop(path: Path, name: str | None = None) -> None:
    """Raise ELOOP naming ``name`` (default: ``path``) when ``path`` is a symlink loop:
    ``realpath`` hands back the looping link itself, and what is written there would
    replace the link, or a ``mkdir`` of it say "File exists"."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP),
                          str(path) if name is None else name) from None


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path`` when it names no file (a full disk while the bytes are
    written): same type, same errno. (For every file the library writes for a user.)"""
    if exc.errno is None or exc.filename is not None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a regular file of exactly ``data`` (a small blob: a manifest)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


def _atomic_write(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write ``data`` to a temp file, then move it to ``path`` in one step.

    With ``replace=False`` an existing ``path`` is kept (created only if missing,
    atomically: a concurrent writer's file is never overwritten).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_file_beside(path)
    try:
        # mkstemp makes 0600 files: give the file the mode of the one it replaces, or
        # what the umask allows a new file (0644 usually), as skopeo and crane do.
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            mode = 0o666 & ~_umask()
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:  # (open, so locked, until renamed)
            f.write(data)
            f.flush()
            if replace:
                os.replace(tmp, path)
            else:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    pass
                except OSError:  # a filesystem without hard links: the best it allows
                    if not path.exists():
                        os.replace(tmp, path)
                Path(tmp).unlink(missing_ok=True)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and (found := _named(exc, path)) is not exc:
            raise found from None  # (a full disk: say which file)
        raise


MAX_INDEX_JSON = 64 << 20
"""The largest ``index.json`` read (~250,000 entries): a larger one is refused before it
is read, as a manifest over the body limit is."""


def _read_regular(path: Path, what: str, limit: int | None = None) -> bytes:
    """The bytes of the layout file ``path``, which must be a regular file.

    Opened without blocking first, so a FIFO put in its place is refused at once
    instead of waiting forever for a writer.

    Raises:
        FileNotFoundError: it is missing.
        LayoutError: it is a FIFO, a device or a directory.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:  # where opening a directory read-only fails
        raise LayoutError(f"{path}: {what} is not a regular file (a directory)") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LayoutError(f"{path}: {what} is not a regular file")
        if limit is not None and info.st_size > limit:
            raise LayoutError(f"{path}: {what} is {info.st_size} bytes, over the "
                              f"{limit}-byte limit")
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as f:
            fd = -1
            return f.read()
    finally:
        if fd >= 0:
            os.close(fd)


def _tag_of(name: object) -> str | None:
    """The tag of a ref.name that is a full reference (``example.com/foo/bar:one``, as
    skopeo's ``oci:DIR:REFERENCE`` writes it): None for a bare name or a digest."""
    if not isinstance(name, str) or "@" in name:
        return None
    repository, colon, tag = name.rpartition(":")
    return tag if colon and repository and "/" not in tag else None


def _full_names(entry: dict[str, Any]) -> list[str]:
    """The names of an entry that are full references: its ref.name when it is one, and
    its ``io.containerd.image.name`` (docker save, Docker 25 and later)."""
    annotations = entry.get("annotations")
    if not isinstance(annotations, dict):
        return []
    ref, full = annotations.get(REF_NAME), annotations.get(CONTAINERD_NAME)
    names = [ref] if isinstance(ref, str) and _tag_of(ref) else []
    return names + ([full] if isinstance(full, str) else [])


def _ref_name(entry: dict[str, Any]) -> object:
    """The entry's ``org.opencontainers.image.ref.name`` (None when absent or malformed)."""
    annotations = entry.get("annotations")
    return annotations.get(REF_NAME) if isinstance(annotations, dict) else None


class OCILayout:
    """An OCI image layout directory (created on first write)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = Path(directory)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OCILayout({str(self.root)!r})"

    def check_writable(self) -> None:
        """Refuse a directory that is not a layout to write into (nothing is changed).

        A file is "not a directory"; a directory holding an ``index.json`` but no
        ``oci-layout`` file belongs to something else (a ``package.json``-style
        ``index.json``) and is never written over; a layout whose ``index.json``
        is malformed is refused before anything is downloaded into it.

        Raises:
            LayoutError: the directory cannot be written as a layout (a ValueError too).
        """
        if self.root.exists() and not self.root.is_dir():
            raise LayoutError(f"{self.root}: not a directory (a layout is a directory)")
        index = self.root / "index.json"
        marker = self.root / "oci-layout"
        has_index = index.exists() or index.is_symlink()
        if has_index and not (marker.exists() or marker.is_symlink()):
            raise LayoutError(
                f"{self.root} holds an index.json but no oci-layout file: it is not an OCI "
                "image layout, and its index.json is left as it is (choose another directory)")
        if marker.exists() or marker.is_symlink():
            self._check_marker()
        if has_index:
            doc = self.read_index()
            if doc.get("schemaVersion") != 2 or not isinstance(doc.get("manifests"), list):
                raise LayoutError(
                    f"{index} is not an image index (no schemaVersion 2 and manifests "
                    "list): it is not an OCI image layout's, and is left as it is")

    def _check_marker(self) -> None:
        """Refuse an ``oci-layout`` file that is not a 1.x layout's (left as it is)."""
        marker = self.root / "oci-layout"
        data = _read_regular(marker, "oci-layout")
        try:
            doc = loads(data)
        except ValueError:
            doc = None
        version = doc.get("imageLayoutVersion") if isinstance(doc, dict) else None
        if not (isinstance(version, str) and version.split(".")[0] == "1"):
            raise LayoutError(
                f"{marker} does not say imageLayoutVersion 1.x: {self.root} is not an OCI "
                "image layout this client can write, and is left as it is")

    def init(self) -> None:
        """Create ``oci-layout`` and an empty ``index.json`` when they are missing.

        Raises:
            LayoutError: the directory is a file, or holds an ``index.json`` that is
                not a layout's (see :meth:`check_writable`).
        """
        self.check_writable()
        _refuse_loop(self.root)
        # through a symlink to a directory still to be made (as a download does)
        Path(os.path.realpath(self.root)).mkdir(parents=True, exist_ok=True)
        marker = self.root / "oci-layout"
        if not marker.exists():
            _atomic_write(marker, json.dumps(_LAYOUT).encode(), replace=False)
        index = self.root / "index.json"
        if not index.exists():  # never over an index.json another writer just made
            empty = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": []}
            _atomic_write(index, json.dumps(empty, indent=2).encode(), replace=False)

    def blob_path(self, digest: str) -> Path:
        """Where the blob ``digest`` lives; the digest is validated first.

        Raises:
            LayoutError: the digest is malformed (so it can never escape the layout);
                also a ValueError.
            UnsupportedDigestError: a valid digest of an algorithm the client cannot
                verify: no file name is made of it.
        """
        if not is_valid_digest(digest):
            raise LayoutError(f"{self.root}: invalid digest {digest[:100]!r}")
        require_verifiable(digest, where=str(self.root))
        algo, hexpart = digest.split(":", 1)
        return self.root / "blobs" / algo / hexpart

    def inside(self, path: Path) -> Path:
        """The real path of ``path`` (symlinks followed), which must be in the layout.

        Raises:
            LayoutError: ``path`` leads outside the layout directory (a symlink out of
                it, say); also a ValueError.
        """
        real = Path(os.path.realpath(path))
        root = Path(os.path.realpath(self.root))
        if real != root and root not in real.parents:
            raise LayoutError(f"{path} leads outside the layout {self.root} (to {real}): "
                              "refused")
        return real

    def checked_blob_path(self, digest: str) -> Path:
        """:meth:`blob_path`, refused when it leads outside the layout (a symlink out).

        Raises:
            LayoutError: the digest is malformed, or the path leads outside the layout.
        """
        path = self.blob_path(digest)
        self.inside(path)
        return path

    def writable_blob_path(self, digest: str) -> Path:
        """:meth:`checked_blob_path` for a blob about to be written: a layout blob is a
        regular file, so a FIFO, device or socket found there is removed (blobs/ is
        the layout's own) and never written into.

        Raises:
            LayoutError: the digest is malformed, the path leads outside the layout,
                or a directory is in the blob's place.
        """
        path = self.blob_path(digest)
        real = self.inside(path)
        try:
            mode = os.lstat(real).st_mode
        except FileNotFoundError:
            return path
        if stat.S_ISDIR(mode):
            raise LayoutError(f"{path}: blob {digest} is not a regular file (a directory)")
        if not stat.S_ISREG(mode):
            real.unlink()
        return path

    def open_blob(self, digest: str, size: int | None = None) -> BinaryIO:
        """Open a blob file for reading, after checking it is the layout's own.

        The path must resolve inside the layout, be a regular file (not a FIFO or a
        device) and, when ``size`` is given, hold that many bytes.

        Raises:
            LayoutNotFoundError: the blob file is missing (a FileNotFoundError too).
            LayoutError: it leads outside the layout or is not a regular file.
            DigestMismatchError: its size is not ``size``.
        """
        path = self.blob_path(digest)
        real = self.inside(path)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            # O_NONBLOCK: a FIFO put there opens at once (and is refused below)
            fd = os.open(real, flags | getattr(os, "O_NONBLOCK", 0))
        except (FileNotFoundError, NotADirectoryError):  # (blobs/ a file: none is there)
            raise LayoutNotFoundError(f"{self.root}: blob {digest} is missing") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # swapped for a symlink since it was resolved
                raise LayoutError(f"{path}: changed while it was opened, refused") from None
            raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):  # checked before fdopen, which refuses a dir
                raise LayoutError(f"{path}: blob {digest} is not a regular file")
        except BaseException:
            os.close(fd)
            raise
        f = os.fdopen(fd, "rb")
        try:
            if size is not None and info.st_size != size:
                raise DigestMismatchError(
                    f"{path}: blob {digest} has {info.st_size} bytes, its descriptor "
                    f"says {size}")
            if hasattr(os, "O_NONBLOCK"):
                os.set_blocking(fd, True)
        except BaseException:
            f.close()
            raise
        return f

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        """True when the blob is present and its content matches its digest."""
        path = self.blob_path(digest)
        try:
            if size is not None and path.stat().st_size != size:
                return False
            algo = digest.split(":", 1)[0]
            h = hashlib.new(algo)
            # never blocks on a FIFO put there; only a regular file counts as the blob
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                         | getattr(os, "O_CLOEXEC", 0))
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                return False
            if hasattr(os, "O_NONBLOCK"):
                os.set_blocking(fd, True)
            with os.fdopen(fd, "rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
        except OSError:
            return False
        return f"{algo}:{h.hexdigest()}" == digest

    def remove_stale_partials(self) -> None:
        """Remove the ``.partial`` files in ``blobs/`` that no download holds.

        A pull killed in the middle of a blob leaves ``blobs/<alg>/<hex>.partial`` for
        the next pull of that blob to resume; when none comes (the tag moved on), it
        stays for good, and tools that read every file there as a blob refuse the
        layout (``umoci gc``: "invalid digest"). A pull calls this when it is done. A
        download in progress holds a lock on its own, which is kept; only real
        directories inside the layout are looked in (``blobs`` a symlink: none).
        """
        blobs = self.root / "blobs"
        try:
            if blobs.is_symlink():
                return
            folders = [e.path for e in os.scandir(blobs) if e.is_dir(follow_symlinks=False)]
        except OSError:
            return
        for folder in folders:
            remove_unheld(Path(folder), lambda e: e.name.endswith(".partial")
                          and e.is_file(follow_symlinks=False), _unlink_quietly)

    def write_blob(self, digest: str, data: bytes) -> Path:
        """Store ``data`` as blob ``digest`` after checking it.

        Raises:
            DigestMismatchError: ``data`` does not match ``digest``.
            LayoutError: a directory is in the blob's place (it is left as it is), or the
                path leads outside the layout (``blobs/sha256`` a symlink out of it).
        """
        path = self.writable_blob_path(digest)
        algo = digest.split(":", 1)[0]
        actual = f"{algo}:{hashlib.new(algo, data).hexdigest()}"
        if actual != digest:
            raise DigestMismatchError(f"blob content is {actual}, expected {digest}")
        if not _holds(path, data):  # (what is there already is kept: a read-only layout)
            _atomic_write(path, data)
        return path

    def read_blob(self, digest: str, limit: int | None = None) -> bytes:
        """Read a blob and check it against its digest.

        Raises:
            LayoutNotFoundError: the layout lacks the blob (a FileNotFoundError too).
            DigestMismatchError: the file is corrupt (the error names the file).
            LayoutError: it is larger than ``limit``, leads outside the layout or is
                not a regular file (a ValueError too).
        """
        path = self.blob_path(digest)
        with self.open_blob(digest) as f:
            if limit is not None and os.fstat(f.fileno()).st_size > limit:
                raise LayoutError(f"{self.root}: blob {digest} is larger than {limit} bytes")
            data = f.read()
        algo = digest.split(":", 1)[0]
        actual = f"{algo}:{hashlib.new(algo, data).hexdigest()}"
        if actual != digest:
            raise DigestMismatchError(
                f"{path}: layout blob {digest} is corrupt (content is {actual})")
        return data

    def read_index(self) -> dict[str, Any]:
        """The parsed ``index.json``.

        Raises:
            LayoutNotFoundError: this is not an OCI layout (a FileNotFoundError too).
            LayoutError: ``index.json`` is malformed (a ValueError too).
        """
        marker = self.root / "oci-layout"
        if not (marker.exists() or marker.is_symlink()):
            raise LayoutNotFoundError(
                f"{self.root} is not an OCI image layout (no oci-layout file)")
        if not marker.is_file():
            raise LayoutError(f"{marker}: oci-layout is not a regular file")
        try:
            data = _read_regular(self.root / "index.json", "index.json", MAX_INDEX_JSON)
        except FileNotFoundError:
            raise LayoutNotFoundError(f"{self.root} is not an OCI image layout "
                                      "(no index.json)") from None
        try:
            doc = loads(data.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError is a ValueError
            raise LayoutError(f"{self.root}/index.json is not valid JSON ({exc})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("manifests", []), list):
            raise LayoutError(f"{self.root}/index.json is not an image index")
        return doc

    def write_index(self, doc: dict[str, Any]) -> None:
        """Replace ``index.json`` atomically.

        Raises:
            LayoutError: it holds a number JSON cannot (``1e400`` read as infinite):
                written back, it would be the non-JSON ``Infinity``; left as it is.
        """
        try:
            data = json.dumps(doc, indent=2, allow_nan=False).encode()
        except ValueError as exc:
            raise LayoutError(f"{self.root}/index.json holds a number JSON cannot ({exc}): "
                              "left as it is") from None
        _atomic_write(self.root / "index.json", data)

    def add_manifest(self, descriptor: dict[str, Any], ref_name: str) -> None:
        """Record a manifest in ``index.json`` under ``ref_name`` (replacing that name).

        Safe against other writers of the same layout, in this process or another:
        the read-modify-write of ``index.json`` holds a lock on the layout directory.
        """
        self.init()
        with self._lock, locked_directory(self.root):
            doc = self.read_index()
            entries = [
                m for m in doc.get("manifests", [])
                if not (isinstance(m, dict)
                        and _ref_name(m) == ref_name)
            ]
            entry = dict(descriptor)
            own = entry.get("annotations")
            entry["annotations"] = {**(own if isinstance(own, dict) else {}), REF_NAME: ref_name}
            if len(entries) == len(doc.get("manifests", [])) - 1 and entry in doc["manifests"]:
                return  # recorded so already: nothing written (a read-only layout, a full disk)
            entries.append(entry)
            doc["manifests"] = entries
            doc.setdefault("schemaVersion", 2)
            self.write_index(doc)

    def digests_named(self, ref_name: str) -> set[str]:
        """The digests of the ``index.json`` entries whose ref.name is exactly ``ref_name``
        (no tag of a full name, no "only image": see :meth:`find` for those)."""
        return {str(m.get("digest", "")) for m in self.read_index().get("manifests", [])
                if isinstance(m, dict) and _ref_name(m) == ref_name}

    def find(self, ref_name: str, *, repository: str | None = None) -> dict[str, Any]:
        """The ``index.json`` entry named ``ref_name``, or the only image.

        An entry named by a full reference (``example.com/foo/bar:one``, as skopeo's
        ``oci:DIR:REFERENCE`` writes it) is also found by its tag (``one``) when no entry
        has that exact name. Of several with the name (or the tag), a push to
        ``repository`` takes the one whose full name -- that reference, or the
        ``io.containerd.image.name`` annotation ``docker save`` writes since Docker 25 --
        is that repository with that tag, whatever the registry host (``x`` is
        ``library/x``). When no entry has the name, a layout of one image (under one or
        more names) gives that image.

        Raises:
            LayoutError: no entry has that name (and the layout holds more than one
                image), or several have it and none alone names ``repository``; also a
                ValueError.
        """
        entries = [m for m in self.read_index().get("manifests", []) if isinstance(m, dict)]
        named = [m for m in entries if _ref_name(m) == ref_name]
        if not named and ref_name:
            named = [m for m in entries if _tag_of(_ref_name(m)) == ref_name]
        # the images with the name: an image is one digest, under one name or several
        images: dict[str, list[dict[str, Any]]] = {}
        for m in named:
            images.setdefault(str(m.get("digest")), []).append(m)
        if named:
            found = one_named(list(images.values()),
                              lambda image: [n for m in image for n in _full_names(m)],
                              repository, ref_name)
            if found is not None:
                return found[0]
            advice = ("push to the repository one of them names" if repository is not None
                      else "keep one, or name it in full")
            raise LayoutError(f"{self.root}: {ref_name!r} names {len(images)} images ("
                              + ", ".join(sorted(n for m in named for n in _full_names(m)
                                                 or [str(_ref_name(m))]))
                              + f"): {advice}")
        if len({str(m.get("digest")) for m in entries}) == 1:
            return entries[0]
        names = ", ".join(sorted(str(_ref_name(m) or m.get("digest")) for m in entries))
        if not ref_name:
            raise LayoutError(f"{self.root} holds {len(entries)} images: name one "
                              f"(have: {names or 'none'})")
        raise LayoutError(f"{self.root}: no image named {ref_name!r} (have: {names})")
