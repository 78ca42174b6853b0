"""Blob downloads to a path: streamed, verified, resumed from a ``.partial`` file, renamed
into place only when right (or streamed into a FIFO or device)."""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import stat
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .._calloff import Cancelled, Interrupted
from .._digest import new_hasher
from .._events import advanced, finished, skipped, started
from .._flow import Flow, Offload, Sleep
from .._locks import locked_file
from .._log import log
from .._reader import CHUNK
from ..errors import DigestMismatchError, RegistryResponseError
from ..layout import _fitted_name, _refuse_loop
from ._destination import descriptor_of, is_special, make_parent, open_stream
from ._fetch import BlobFetch

if TYPE_CHECKING:
    from ..progress import ProgressCallback

LOCK_POLL = 0.02
"""Seconds between two tries of a download's lock another download holds."""


class Downloader:
    """Saves the blobs of one repository to files, as flows: every file operation is an
    :class:`~registry_client._flow.Offload`, the bytes go through a ``Drain`` whose sink
    hashes, writes and reports them; ``fetch`` reads the blobs."""

    def __init__(self, fetch: BlobFetch) -> None:
        self._fetch = fetch

    def download(
        self, digest: str, path: str | os.PathLike[str], *,
        progress: ProgressCallback | None = None, expected_size: int | None = None,
        guard: Callable[[], object] | None = None,
    ) -> Flow[Path]:
        """Save a blob to ``path``: streamed, verified, and renamed into place only when right.

        Bytes go to a ``.partial`` file next to the destination first; a partial
        file left by an interrupted run is resumed with ``Range``. A file already
        at ``path`` with the right content is kept and nothing is downloaded.
        ``path`` is written through as the user has it (see ``BlobService.download``):
        a symlink's target is replaced keeping its mode, a FIFO or device gets the
        bytes streamed into it, ``/dev/stdout`` and ``/dev/fd/N`` are the open
        descriptor, a missing parent directory is created, ``dir/`` must exist.

        An interrupted download (Ctrl-C, a cancelled task) keeps its ``.partial`` for
        the next run; one called off because another transfer failed removes it.

        ``guard()``, when given, runs first, in the same file work (an image pull checks
        its layout's rules there): what it raises is raised.

        Raises:
            NotFoundError: the repository has no such blob.
            DigestMismatchError: the content does not match (nothing is left at ``path``;
                a FIFO or device has had the bytes already).
            OSError: the destination cannot be written (same type and errno, naming
                ``path``).
        """
        dest = Path(path)
        descriptor = descriptor_of(dest)
        # One hop to a worker thread for all the looking and the lock (the asyncio API
        # pays for each hop, several milliseconds when the other transfers keep the
        # interpreter busy): the guard, the destination, the file in place, the lock.
        looked: _Looked = yield Offload(functools.partial(
            _prepare, os.fspath(path), dest, digest, descriptor, guard))
        dest, real, kept, taken = looked
        if real is None:
            try:
                yield from self._stream_into(digest, dest, progress, expected_size, descriptor)
            except OSError as exc:
                raise _naming(exc, dest, dest) from None
            return dest
        # Through a symlink (or a chain of them) to the file it names: that file is
        # replaced, in its own directory (a rename cannot cross filesystems), and
        # the link stays as the user made it.
        if kept is not None:
            self._check_kept(digest, kept, expected_size)
            skipped(progress, digest, kept)
            return dest
        partial = partial_of(real)
        try:
            yield from self._download_to(digest, real, partial, progress, expected_size, taken)
        except OSError as exc:
            raise _naming(exc, partial, dest) from None
        return dest

    def _download_to(
        self, digest: str, real: Path, partial: Path, progress: ProgressCallback | None,
        expected_size: int | None, taken: _Taken | None,
    ) -> Flow[None]:
        # One download of ``real`` at a time (threads, tasks or processes): the others
        # wait, then find the file in place and keep it. ``taken``: the lock, taken by
        # the first look (None: another download held it then).
        while taken is None:
            # Another download of it holds the lock. Waiting in flock would hold a
            # worker thread all along: six asyncio pulls into one layout would take
            # every thread of the loop's pool, the holder's file work among them. A
            # Sleep stops when the transfer is called off (Ctrl-C, a task cancelled):
            # the holder may be a process stopped for good
            yield Sleep(LOCK_POLL)
            taken = yield Offload(functools.partial(_try_lock, real, partial, digest))
        lock, out, kept, hasher, held = taken
        try:
            if kept is not None:
                yield Offload(partial.unlink)
                self._check_kept(digest, kept, expected_size)
                skipped(progress, digest, kept)
                return
            try:
                yield from self._download_locked(digest, real, partial, out, progress,
                                                 expected_size, hasher, held, lock)
            except GeneratorExit:
                raise
            except BaseException as exc:
                # Kept for a resume: the bytes of a cut or interrupted download (Ctrl-C,
                # a cancelled task). Not kept: nothing, or a download called off because
                # its transfer failed elsewhere.
                called_off = isinstance(exc, Cancelled) and not isinstance(exc, Interrupted)
                if not lock.released:  # else the file is in place (a progress callback raised)
                    yield Offload(functools.partial(_drop_partial, out, partial,
                                                    always=called_off))
                raise
        finally:
            if not lock.released:  # else released by the rename that ended the download
                yield Offload(lock.release, cleanup=True)

    def _check_kept(self, digest: str, kept: int, expected_size: int | None) -> None:
        """Refuse the blob found in place for a descriptor that gives another size: the
        bytes of a digest have one size, so the descriptor is wrong -- as a download
        would have refused it (the registry announcing the bytes it has)."""
        if expected_size is not None and kept != expected_size:
            raise DigestMismatchError(
                f"blob {digest} of {self._fetch.domain}/{self._fetch.repository}: the "
                f"blob is {kept} bytes, expected {expected_size}")

    def _stream_into(
        self, digest: str, dest: Path, progress: ProgressCallback | None,
        expected_size: int | None, descriptor: int | None = None,
    ) -> Flow[None]:
        """Write the blob into a FIFO or device as it arrives: no partial file, no rename.

        The registry is asked first, so a missing blob never opens the FIFO for
        writing; a reader already waiting on it is let go with an end of file. A
        mismatch raises at the end, when the reader has had the bytes.
        """
        rx = self._fetch.receiver(digest, expected_size=expected_size)
        try:
            resp = yield from self._fetch.open(rx)
        except GeneratorExit:
            raise
        except BaseException:
            if descriptor is None:
                yield Offload(functools.partial(_release_fifo_reader, dest))
            raise
        total = rx.expected_size
        try:
            started(progress, digest, total, "download")
            out: BinaryIO = yield Offload(functools.partial(open_stream, dest, descriptor))
        except BaseException:
            resp.close()
            raise

        def write(block: bytes) -> None:
            write_out(out, block)
            advanced(progress, digest, len(block), rx.offset, total)

        try:
            yield from self._fetch.pump(rx, resp, write, keeps_blocks=False)
        finally:
            yield Offload(out.close, cleanup=True)
        finished(progress, digest, rx.offset)

    def _download_locked(
        self, digest: str, dest: Path, partial: Path, out: BinaryIO,
        progress: ProgressCallback | None, expected_size: int | None, hasher: Any,
        held: int, lock: _Held,
    ) -> Flow[None]:
        """Download into ``out`` (the locked ``partial``), whose ``held`` bytes, left by an
        earlier run, ``hasher`` has hashed; rename it to ``dest`` (releasing ``lock``)."""
        start = held
        if expected_size is not None and start > expected_size:
            hasher, start = new_hasher(digest), 0
        elif start and f"{digest.split(':', 1)[0]}:{hasher.copy().hexdigest()}" == digest:
            # complete and verified, but the run stopped before the rename
            yield Offload(functools.partial(_put_in_place, out, partial, dest, lock))
            skipped(progress, digest, start)
            return
        shown = _Shown()
        while True:
            try:
                yield from self._receive(digest, out, hasher, start, progress, expected_size,
                                         shown, held)
            except DigestMismatchError:
                if start:
                    # The bytes kept from an earlier run were not the blob's: start over.
                    log.debug("download %s: the partial file was wrong, starting over", digest)
                    hasher, start, held = new_hasher(digest), 0, -1
                    continue
                yield Offload(functools.partial(partial.unlink, missing_ok=True))
                raise
            break
        size = yield Offload(functools.partial(_put_in_place, out, partial, dest, lock))
        finished(progress, digest, size)

    def _receive(
        self, digest: str, out: BinaryIO, hasher: object, start: int,
        progress: ProgressCallback | None, expected_size: int | None, shown: _Shown,
        held: int = -1,
    ) -> Flow[None]:
        """Append the blob from ``start`` to ``out`` (which holds its first ``start`` bytes;
        ``held``: its size, with the position at its end, when known -- -1 when not).

        Progress: one BlobStarted per download; the bytes a resume keeps are reported
        once (as an upload's resume does), and a start-over takes back what was reported
        with a negative ``advanced``, so the events always add up to the blob's size.
        """
        fetch = self._fetch
        rx = fetch.receiver(digest, start=start, hasher=hasher, expected_size=expected_size)
        try:
            resp = yield from fetch.open(rx)
        except RegistryResponseError as exc:
            if not start or exc.status_code != 416:
                raise
            # 416: the partial file is longer than the blob, so it is not a prefix of it
            start = 0
            rx = fetch.receiver(digest, hasher=new_hasher(digest), expected_size=expected_size)
            resp = yield from fetch.open(rx)
        total = rx.expected_size
        try:
            if not shown.started:
                shown.started = True
                started(progress, digest, total, "download")
            if shown.done != start:  # kept from an earlier run, or taken back on a start-over
                advanced(progress, digest, start - shown.done, start, total)
                shown.done = start
            if held != start:  # more than the bytes kept: cut the rest off
                yield Offload(functools.partial(_cut_at, out, start))
        except BaseException:
            resp.close()
            raise

        at = start  # where ``out`` is: counted, not asked (tell() is a syscall a block)

        def write(block: bytes) -> None:
            nonlocal at
            pos = rx.offset - len(block)
            if at != pos:  # the server ignored Range: starting over
                out.seek(pos)
                out.truncate()
            write_out(out, block)
            at = pos + len(block)
            if pos != shown.done:  # the server ignored Range: the count starts over too
                advanced(progress, digest, pos - shown.done, pos, total)
            shown.done = rx.offset
            advanced(progress, digest, len(block), rx.offset, total)

        yield from fetch.pump(rx, resp, write, keeps_blocks=False)


FILE_WRITE = 256 * 1024
"""The most one ``write()`` puts into a file. Linux 6.x gives a file's page cache large
folios sized by the write: on ext4, 1 GiB written in 1 MiB writes took 0.63-1.48 CPU-s,
in 256 KiB writes 0.215 CPU-s (64 KiB: 0.26, 16 KiB: 0.42; on tmpfs 0.38 whatever the
size) -- measured with one process writing a 1 MiB buffer over and over."""


def write_out(out: BinaryIO, block: bytes) -> None:
    """Write ``block`` (a bytes-like object) to ``out`` in pieces of :data:`FILE_WRITE`."""
    if len(block) <= FILE_WRITE:
        out.write(block)
        return
    view = memoryview(block)
    for at in range(0, len(view), FILE_WRITE):
        out.write(view[at:at + FILE_WRITE])


def _prepare(
    raw: str, dest: Path, digest: str, descriptor: int | None,
    guard: Callable[[], object] | None = None,
) -> _Looked:
    """What a download of ``digest`` to the user's ``raw`` path (``dest``) does: the path
    it writes, the file that path leads to (None: stream into a FIFO, device or
    ``descriptor``), the size of that file when it already holds the blob (None:
    download it, into a directory that is made now) and, for a download, its lock taken
    (None: another download holds it). ``guard()`` runs first."""
    if guard is not None:
        guard()
    if descriptor is not None:
        return dest, None, None, None
    dest = _destination(raw, dest, digest)
    if is_special(dest):
        return dest, None, None, None
    real = Path(os.path.realpath(dest))
    make_parent(real, dest)  # (first: a file in the way, even before a "..", is refused)
    kept = _in_place(real, digest)
    if kept is not None:
        return dest, real, kept, None
    partial = partial_of(real)
    try:
        taken = _try_lock(real, partial, digest)
    except OSError as exc:
        raise _naming(exc, partial, dest) from None
    return dest, real, None, taken


def _try_lock(real: Path, partial: Path, digest: str) -> _Taken | None:
    """Take the lock on ``partial`` and look (:func:`_lock_and_look`); None when another
    download holds it."""
    lock = _Held(locked_file(partial, wait=False))
    try:
        return (lock, *_lock_and_look(lock, real, digest))
    except BlockingIOError:
        return None


class _Held:
    """A download's lock on its ``.partial`` file, released once: by the rename that ends
    the download, or when the download stops."""

    __slots__ = ("_lock", "released")

    def __init__(self, lock: AbstractContextManager[BinaryIO]) -> None:
        self._lock = lock
        self.released = False

    def take(self) -> BinaryIO:
        return self._lock.__enter__()

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._lock.__exit__(None, None, None)


_Taken = tuple[_Held, BinaryIO, int | None, Any, int]
"""A download's lock on its ``.partial`` file, taken, and what :func:`_lock_and_look` saw."""

_Looked = tuple[Path, Path | None, int | None, _Taken | None]
"""What :func:`_prepare` found: the path written, the file it leads to, the size of that
file when it holds the blob, the lock when it was free."""


def _lock_and_look(lock: _Held, real: Path, digest: str) -> tuple[BinaryIO, int | None, Any, int]:
    """Take ``lock`` (the ``.partial`` file, opened), then look whether ``real`` holds the
    blob now (another download put it there): the file, and that size or None; else a
    hasher that has hashed the bytes an earlier run left in the file, and their number."""
    out = lock.take()
    try:
        kept = _in_place(real, digest)
        if kept is not None:
            return out, kept, None, 0
        hasher = new_hasher(digest)
        return out, None, hasher, _hash_stream(out, hasher)
    except BaseException:
        lock.release()
        raise


def _in_place(real: Path, digest: str) -> int | None:
    """The size of the file ``real`` when it is there with the blob's content, else None."""
    if real.is_file() and _file_digest(real, digest) == digest:
        return real.stat().st_size
    return None


def _drop_partial(out: BinaryIO, partial: Path, *, always: bool) -> None:
    """Remove a stopped download's ``.partial`` when ``always`` or when it holds nothing."""
    if always or os.fstat(out.fileno()).st_size == 0:
        partial.unlink(missing_ok=True)


def _cut_at(out: BinaryIO, start: int) -> None:
    """Keep the first ``start`` bytes of ``out``, positioned after them."""
    out.seek(start)
    out.truncate()


def _put_in_place(out: BinaryIO, partial: Path, dest: Path, lock: _Held) -> int:
    """End ``out`` where the writing stopped, hand its bytes to the system, rename the
    verified ``partial`` to ``dest`` (with the mode of the file it replaces) and release
    ``lock``; the size."""
    out.truncate()
    out.flush()
    _keep_mode(out, dest)
    os.replace(partial, dest)
    size = dest.stat().st_size
    lock.release()
    return size


def _naming(exc: OSError, partial: Path, dest: Path) -> OSError:
    """``exc`` as the user would read it: naming their ``dest``, never the ``.partial``
    file the library writes first; a write error that names no file (a full disk, a
    FIFO's reader gone) gets ``dest`` too. Same type, same errno."""
    if exc.errno is None:  # not a file error (a requests exception is an OSError too)
        return exc
    if exc.filename is not None and str(partial) not in (str(exc.filename),
                                                         str(exc.filename2)):
        return exc
    return type(exc)(exc.errno, exc.strerror, str(dest))


def partial_of(real: Path) -> Path:
    """The ``.partial`` file a download to ``real`` writes first (``NAME.partial``; a
    name too long for that is cut, see :func:`~registry_client.layout._fitted_name`)."""
    return real.with_name(_fitted_name(real.name, len(".partial")) + ".partial")


def _destination(raw: str, dest: Path, digest: str) -> Path:
    """The file a download of ``digest`` to the user's ``raw`` path writes.

    A directory gets ``<algorithm>_<hex>`` in it; a path ending in a separator names a
    directory, which must be there (as ``curl -o dir/``): never a file named ``dir``.
    A symlink loop is an ELOOP error, never replaced by a file.
    """
    _refuse_loop(dest, raw)
    if dest.is_dir():
        return dest / digest.replace(":", "_")
    if raw.endswith(tuple(s for s in (os.sep, os.altsep) if s)):
        if os.path.lexists(dest):
            raise NotADirectoryError(
                errno.ENOTDIR, "not a directory (the path ends with a separator)", raw)
        raise IsADirectoryError(
            errno.EISDIR, "the path ends with a separator, so it names a directory, and "
            "there is none: create it first, or drop the trailing separator", raw)
    return dest


def _release_fifo_reader(dest: Path) -> None:
    """End the wait of a reader blocked on the FIFO ``dest`` (it reads an end of file);
    nothing when it is no FIFO or nobody reads it (ENXIO)."""
    try:
        if not stat.S_ISFIFO(os.stat(dest).st_mode):
            return
        os.close(os.open(dest, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)))
    except OSError:
        pass


def _keep_mode(out: BinaryIO, dest: Path) -> None:
    """Give the download the mode of the file it is about to replace (a 0600 file stays
    0600), as layout writes do; a new file keeps the umask's mode."""
    try:
        mode = stat.S_IMODE(os.stat(dest).st_mode)
    except OSError:
        return
    os.fchmod(out.fileno(), mode)


def _hash_stream(f: BinaryIO, hasher: object) -> int:
    """Hash ``f`` from its start to its end; the number of bytes (the position is at the end)."""
    f.seek(0)
    size = 0
    while block := f.read(CHUNK):
        hasher.update(block)  # type: ignore[attr-defined]
        size += len(block)
    return size


def _hash_file(path: Path, hasher: object) -> int:
    with open(path, "rb") as f:
        return _hash_stream(f, hasher)


def _file_digest(path: Path, digest: str) -> str:
    algo = digest.split(":", 1)[0]
    h = hashlib.new(algo)
    _hash_file(path, h)
    return f"{algo}:{h.hexdigest()}"


class _Shown:
    """What a download's progress events have reported so far."""

    __slots__ = ("done", "started")

    def __init__(self) -> None:
        self.started = False
        self.done = 0
