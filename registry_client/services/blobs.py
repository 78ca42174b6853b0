"""BlobService: check, read, stream, download, upload, mount and delete blobs."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from typing import IO, TYPE_CHECKING, BinaryIO

import requests

from .._digest import new_hasher
from .._http import is_digits
from .._locks import locked_file
from .._log import log
from .._reader import CHUNK, VerifyingReader
from ..errors import (
    AuthenticationError,
    AuthorizationError,
    DigestMismatchError,
    NotFoundError,
    RegistryResponseError,
)
from ..models import Descriptor
from ..progress import (
    BlobAdvanced,
    BlobFinished,
    BlobSkipped,
    BlobStarted,
    ProgressCallback,
    emit,
)
from ..reference import check_digest, scope
from ._base import Service
from ._schedule import Cancelled, Interrupted, check_cancelled

if TYPE_CHECKING:
    from pathlib import Path

_OCTET = "application/octet-stream"


class BlobService(Service):
    """Read and write the blobs (layers, configs) of one repository.

    Every read is verified against the blob's digest before you can rely on it.
    """

    def head(self, digest: str) -> Descriptor:
        """Size and media type of a blob, without its body.

        Raises:
            NotFoundError: the repository has no such blob.
        """
        return self._head(digest, "pull")

    def _head(self, digest: str, actions: str) -> Descriptor:
        check_digest(digest)
        resp = self._request(
            "HEAD", f"blobs/{digest}", actions=actions, operation=f"head blob {digest}"
        )
        length = resp.headers.get("Content-Length", "")
        if not is_digits(length):
            raise RegistryResponseError(
                f"head blob {digest}: no usable Content-Length ({length[:40]!r})"
            )
        media = (resp.headers.get("Content-Type") or _OCTET).split(";", 1)[0].strip()
        return Descriptor(media_type=media, digest=digest, size=int(length))

    def exists(self, digest: str, *, for_push: bool = False) -> bool:
        """True when the repository has the blob (one HEAD request).

        ``for_push=True`` asks for the push scope up front, so the upload that
        usually follows reuses the same token.
        """
        try:
            self._head(digest, "pull,push" if for_push else "pull")
        except NotFoundError:
            return False
        return True

    def size(self, digest: str) -> int:
        """The blob's size in bytes.

        Raises:
            NotFoundError: the repository has no such blob.
        """
        return self.head(digest).size

    def _opener(self, digest: str) -> object:
        def open_at(offset: int) -> requests.Response:
            # The blob is the bytes as served: never a decoded Content-Encoding (a storage
            # backend serving a gzip layer "Content-Encoding: gzip" must not be unzipped).
            headers = {"Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            return self._request(
                "GET", f"blobs/{digest}", operation=f"get blob {digest}",
                expected=(200, 206), headers=headers, stream=True,
            )
        return open_at

    def open(
        self, digest: str, *, start: int = 0, hasher: object = None,
        expected_size: int | None = None,
    ) -> BinaryIO:
        """Stream a blob: a file object whose reads raise DigestMismatchError at EOF if wrong.

        A cut connection is resumed with ``Range``. Close it (or use ``with``) when done.

        Raises:
            NotFoundError: the repository has no such blob.
        """
        check_digest(digest)
        reader = VerifyingReader(
            self._opener(digest),  # type: ignore[arg-type]
            digest,
            start=start,
            hasher=hasher,
            expected_size=expected_size,
            max_resumes=self._requester.retries,
            on_bytes=self._requester.count_received,
            what=f"blob {digest} of {self.domain}/{self.repository}",
        )
        return reader  # type: ignore[return-value]

    def get(self, digest: str, *, expected_size: int | None = None) -> bytes:
        """The whole blob in memory, verified.

        ``expected_size`` (from a descriptor) makes a registry announcing or sending
        another size an error before the bytes are read.

        Raises:
            NotFoundError: the repository has no such blob.
            DigestMismatchError: the content does not match ``digest`` (or its size).
        """
        with self.open(digest, expected_size=expected_size) as f:
            assert isinstance(f, VerifyingReader)
            return f.read_all()

    def download(
        self, digest: str, path: str | os.PathLike[str], *,
        progress: ProgressCallback | None = None, expected_size: int | None = None,
    ) -> Path:
        """Save a blob to ``path``: streamed, verified, and renamed into place only when right.

        Bytes go to a ``.partial`` file next to the destination first; a partial
        file left by an interrupted run is resumed with ``Range``. A file already
        at ``path`` with the right content is kept and nothing is downloaded.
        ``path`` is written through as the user has it: a symlink's target is
        replaced (the link stays a link), a FIFO or device (``/dev/null``) gets the
        bytes streamed into it, a missing parent directory is created. Returns
        ``path`` (in a directory: ``path/<algorithm>_<hex>``).

        Raises:
            NotFoundError: the repository has no such blob.
            DigestMismatchError: the content does not match (nothing is left at ``path``;
                a FIFO or device has had the bytes already).
            OSError: the destination cannot be written (the error names ``path``).
        """
        from pathlib import Path

        check_digest(digest)
        dest = Path(path)
        if dest.is_dir():
            dest = dest / digest.replace(":", "_")
        if _is_special(dest):
            self._stream_into(digest, dest, progress, expected_size)
            return dest
        # Through a symlink (or a chain of them) to the file it names: that file is
        # replaced, in its own directory (a rename cannot cross filesystems), and
        # the link stays as the user made it.
        real = Path(os.path.realpath(dest))
        if real.is_file() and _file_digest(real, digest) == digest:
            emit(progress, BlobSkipped(digest, real.stat().st_size))
            return dest
        partial = real.with_name(real.name + ".partial")
        try:
            _make_parent(real, dest)
            self._download_to(digest, real, partial, progress, expected_size)
        except OSError as exc:
            raise _naming(exc, partial, dest) from None
        return dest

    def _download_to(
        self, digest: str, real: Path, partial: Path, progress: ProgressCallback | None,
        expected_size: int | None,
    ) -> None:
        # One download of ``real`` at a time (threads or processes): the others wait,
        # then find the file in place and keep it.
        with locked_file(partial) as out:
            if real.is_file() and _file_digest(real, digest) == digest:
                partial.unlink()
                emit(progress, BlobSkipped(digest, real.stat().st_size))
                return
            try:
                self._download_locked(digest, real, partial, out, progress, expected_size)
            except BaseException as exc:
                # Kept for a resume: the bytes of a cut or interrupted download (Ctrl-C
                # included). Not kept: nothing, or a download called off because its
                # transfer failed elsewhere.
                called_off = isinstance(exc, Cancelled) and not isinstance(exc, Interrupted)
                if called_off or os.fstat(out.fileno()).st_size == 0:
                    partial.unlink(missing_ok=True)
                raise

    def _stream_into(
        self, digest: str, dest: Path, progress: ProgressCallback | None,
        expected_size: int | None,
    ) -> None:
        """Write the blob into a FIFO or device as it arrives: no partial file, no rename.

        The registry is asked first, so a missing blob never leaves a FIFO's reader
        waiting; a mismatch raises at the end, when the reader has had the bytes.
        """
        with self.open(digest, expected_size=expected_size) as reader:
            assert isinstance(reader, VerifyingReader)
            total = reader.expected_size
            emit(progress, BlobStarted(digest, total, "download"))
            # no O_CREAT, no O_TRUNC: what is there is written to, never replaced
            fd = os.open(dest, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
            with open(fd, "wb") as out:
                buffer = bytearray(CHUNK)
                while block := reader.read_into(buffer):
                    check_cancelled()
                    out.write(block)
                    emit(progress, BlobAdvanced(digest, len(block), reader.offset, total))
        emit(progress, BlobFinished(digest, reader.offset))

    def _download_locked(
        self, digest: str, dest: Path, partial: Path, out: BinaryIO,
        progress: ProgressCallback | None, expected_size: int | None,
    ) -> None:
        hasher = new_hasher(digest)
        start = _hash_stream(out, hasher)  # what an interrupted run left
        if expected_size is not None and start > expected_size:
            hasher, start = new_hasher(digest), 0
        elif start and f"{digest.split(':', 1)[0]}:{hasher.copy().hexdigest()}" == digest:
            # complete and verified, but the run stopped before the rename
            os.replace(partial, dest)
            emit(progress, BlobSkipped(digest, start))
            return
        shown = _Shown()
        while True:
            try:
                self._receive(digest, out, hasher, start, progress, expected_size, shown)
            except DigestMismatchError:
                if start:
                    # The bytes kept from an earlier run were not the blob's: start over.
                    log.debug("download %s: the partial file was wrong, starting over", digest)
                    hasher, start = new_hasher(digest), 0
                    continue
                partial.unlink(missing_ok=True)
                raise
            break
        os.replace(partial, dest)
        emit(progress, BlobFinished(digest, dest.stat().st_size))

    def _receive(
        self, digest: str, out: BinaryIO, hasher: object, start: int,
        progress: ProgressCallback | None, expected_size: int | None, shown: _Shown,
    ) -> None:
        """Append the blob from ``start`` to ``out`` (which holds its first ``start`` bytes).

        Progress: one BlobStarted per download; the bytes a resume keeps are reported
        once (as an upload's resume does), and a start-over takes back what was reported
        with a negative ``advanced``, so the events always add up to the blob's size.
        """
        try:
            reader = self.open(digest, start=start, hasher=hasher, expected_size=expected_size)
        except RegistryResponseError as exc:
            if not start or exc.status_code != 416:
                raise
            # 416: the partial file is longer than the blob, so it is not a prefix of it
            start = 0
            reader = self.open(digest, hasher=new_hasher(digest), expected_size=expected_size)
        assert isinstance(reader, VerifyingReader)
        total = reader.expected_size
        if not shown.started:
            shown.started = True
            emit(progress, BlobStarted(digest, total, "download"))
        if shown.done != start:  # kept from an earlier run, or taken back on a start-over
            emit(progress, BlobAdvanced(digest, start - shown.done, start, total))
            shown.done = start
        with reader:
            out.seek(start)
            out.truncate()
            buffer = bytearray(CHUNK)
            while block := reader.read_into(buffer):
                check_cancelled()  # another blob of the same transfer failed: stop
                pos = reader.offset - len(block)
                if out.tell() != pos:  # the server ignored Range: starting over
                    out.seek(pos)
                    out.truncate()
                out.write(block)
                if pos != shown.done:  # the server ignored Range: the count starts over too
                    emit(progress, BlobAdvanced(digest, pos - shown.done, pos, total))
                shown.done = reader.offset
                emit(progress, BlobAdvanced(digest, len(block), reader.offset, total))
            out.truncate()
            out.flush()

    def upload(
        self,
        data: bytes | BinaryIO | IO[bytes] | str | os.PathLike[str],
        *,
        digest: str | None = None,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        state_file: str | os.PathLike[str] | None = None,
    ) -> Descriptor:
        """Upload a blob unless the repository already has it; return its descriptor.

        ``data`` is bytes, a binary file object or a file path. Small blobs go
        in one request; large ones (over 64 MiB) or any upload with
        ``chunk_size`` go in chunks, resumed from the registry's offset when a
        chunk is cut. The digest is computed while reading.

        With ``state_file`` the upload is chunked and crash-safe: after every
        chunk the session URL and offset are saved there, and a later run with
        the same file and content resumes that session (the registry permitting;
        a session that expired means a fresh upload). The file is removed once
        the blob is stored, and kept (with the session) when the upload fails.

        Raises:
            DigestMismatchError: ``digest`` was given and the content does not match.
            RegistryResponseError: the registry refused the upload.
        """
        if digest is not None:
            check_digest(digest)
        from ._upload import Uploader, UploadSource, forget_state  # loaded on first upload

        source = UploadSource.from_data(data, digest)
        try:
            present = self._present(source.digest) if source.digest is not None else None
            if present is not None:
                if state_file is not None:  # a session saved by an earlier run is not needed
                    forget_state(self, state_file)
                emit(progress, BlobSkipped(present.digest, present.size))
                return Descriptor(media_type=_OCTET, digest=present.digest, size=present.size)
            return Uploader(self, source, chunk_size, progress, state_file).run()
        finally:
            source.close()

    def _present(self, digest: str) -> Descriptor | None:
        """The blob's descriptor (size from the registry) when the repository has it."""
        try:
            return self._head(digest, "pull,push")
        except NotFoundError:
            return None

    def mount(self, digest: str, from_repository: str) -> bool:
        """Link a blob from another repository of this registry; no bytes move.

        Returns False when the registry answered with an upload session instead
        (that session is cancelled), or refused the mount with 401/403/404 as
        Harbor does for a source it cannot read (see ``registry_client.quirks``):
        the caller then uploads the blob, which fails clearly if it is not allowed.
        """
        check_digest(digest)
        try:
            resp = self._request(
                "POST", "blobs/uploads/", actions="pull,push",
                extra_scopes=(scope(from_repository, "pull"),),
                operation=f"mount blob {digest} from {from_repository}",
                params={"mount": digest, "from": from_repository}, expected=(201, 202),
            )
        except (AuthenticationError, AuthorizationError, NotFoundError) as exc:
            log.debug("mount of %s from %s refused (%s): will upload", digest,
                      from_repository, exc.status_code)
            return False
        if resp.status_code == 201:
            return True
        location = resp.headers.get("Location")
        if location:  # relative to the POST's URL (RFC 7231), not to /v2/
            self._cancel(self._requester.resolve(location, resp.url or None))
        return False

    def _cancel(self, location: str) -> None:
        """Cancel an upload session: best effort, one short try (no retries)."""
        try:
            self._request(
                "DELETE", location, actions="pull,push",
                operation="cancel upload", expected=(200, 202, 204, 404), absolute=True,
                idempotent=False, retry_connection_errors=False, timeout=(2, 2),
            )
        except Exception:
            pass

    def delete(self, digest: str) -> None:
        """Delete a blob from the repository.

        Raises:
            NotFoundError: no such blob.
            RegistryResponseError: the registry does not allow deletes.
        """
        check_digest(digest)
        self._request(
            "DELETE", f"blobs/{digest}", actions="delete",
            operation=f"delete blob {digest}", expected=(200, 202, 204),
        )


def _is_special(path: Path) -> bool:
    """True for what a download streams into: an existing FIFO, device or other non-file
    (after symlinks); False for a regular file, a directory or nothing."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _make_parent(real: Path, dest: Path) -> None:
    """Create the directory ``real`` goes in (as ``pull`` does); a file in the way is
    a NotADirectoryError naming the user's ``dest``."""
    parent = real.parent
    for ancestor in (parent, *parent.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise NotADirectoryError(
                    errno.ENOTDIR, f"{ancestor} is not a directory", str(dest))
            break
    parent.mkdir(parents=True, exist_ok=True)


def _naming(exc: OSError, partial: Path, dest: Path) -> OSError:
    """``exc`` as the user would read it: naming their ``dest``, never the ``.partial``
    file the library writes first."""
    if str(partial) not in (str(exc.filename), str(exc.filename2)):
        return exc
    return type(exc)(exc.errno, exc.strerror, str(dest))


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
