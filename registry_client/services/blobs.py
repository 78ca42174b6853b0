"""Blobs (layers, configs): check, read, stream, download, upload, mount and delete them.

:class:`BlobFlows` is the protocol, written once as flows; :class:`BlobService` runs them
with the blocking shell, ``registry_client.aio``'s ``AsyncBlobService`` with asyncio."""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from .._digest import registry_keyed
from .._events import skipped
from .._flow import Endpoint, Flow, Offload
from .._http import content_length
from .._lazy import cached_property
from .._log import log
from .._reader import CHUNK, check_ranged_read
from .._response import Answer
from ..errors import (
    AuthenticationError,
    AuthorizationError,
    DigestMismatchError,
    NotFoundError,
    RegistryResponseError,
)
from ..mediatypes import OCTET_STREAM
from ..models import Descriptor
from ..reference import check_digest, check_repository_name, hub_repository, scope
from ._base import Service, check_path, link_race
from ._blob_reader import BlobReader
from ._download import Downloader
from ._fetch import BlobFetch

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..progress import ProgressCallback
    from ._upload_sessions import UploadSessions
    from ._upload_source import Relayed, UploadSource

UploadData = bytes | BinaryIO | IO[bytes] | str | os.PathLike[str]
"""What ``upload`` takes: bytes, a binary file object or a file path."""


class BlobFlows(Service):
    """The blob operations of one repository as flows (see ``registry_client._flow``):
    the same names and arguments as :class:`BlobService`, for both flavours of the API
    and for the image workflows (``yield from blobs.download(...)``)."""

    def __init__(self, requester: Endpoint, repository: str) -> None:
        super().__init__(requester, repository)
        self.fetch = BlobFetch(requester, repository)
        """The flows that read blobs (GET, resume, verify)."""
        self._downloader = Downloader(self.fetch)

    @cached_property
    def _sessions(self) -> UploadSessions:
        """The upload sessions' protocol, imported on the first upload: a pull never
        loads the upload machinery (~7 ms of a cold pull's first-use imports)."""
        from ._upload_sessions import UploadSessions  # with the first upload

        return UploadSessions(self._endpoint, self.repository, present=self._present_for_push)

    def head(self, digest: str) -> Flow[Descriptor]:
        """Size and media type of a blob, without its body."""
        return self._head(digest, "pull")

    def _head(self, digest: str, actions: str) -> Flow[Descriptor]:
        resp = yield from self._head_answer(digest, actions)
        length = content_length(resp.headers, decoded=False)  # (its bytes as stored)
        if length is None:
            raise RegistryResponseError(
                f"head blob {digest}: no usable Content-Length "
                f"({resp.headers.get('Content-Length', '')[:40]!r})"
            )
        media = (resp.headers.get("Content-Type") or OCTET_STREAM).split(";", 1)[0].strip()
        return Descriptor(media_type=media, digest=digest, size=length)

    def _head_answer(self, digest: str, actions: str) -> Flow[Answer]:
        check_digest(digest)
        return (yield from self._call(
            "HEAD", f"blobs/{digest}", actions=actions, operation=f"head blob {digest}",
            retry_if=link_race,
        ))

    def exists(self, digest: str, *, for_push: bool = False) -> Flow[bool]:
        """True when the repository has the blob (one HEAD request: its 200 says so,
        with or without a Content-Length)."""
        try:
            yield from self._head_answer(digest, "pull,push" if for_push else "pull")
        except NotFoundError:
            return False
        return True

    def size(self, digest: str) -> Flow[int]:
        """The blob's size in bytes."""
        descriptor = yield from self.head(digest)
        return descriptor.size

    def get(self, digest: str, *, expected_size: int | None = None) -> Flow[bytes]:
        """The whole blob in memory, verified."""
        check_digest(digest)
        parts: list[bytes] = []
        yield from self.fetch.read(digest, parts.append, expected_size=expected_size)
        return b"".join(parts)

    def download(
        self, digest: str, path: str | os.PathLike[str], *,
        progress: ProgressCallback | None = None, expected_size: int | None = None,
        guard: Callable[[], object] | None = None,
    ) -> Flow[Path]:
        """Save a blob to ``path``: streamed, verified, renamed into place only when right
        (``guard()``: run first, in the download's first file work)."""
        check_digest(digest)
        check_path(path, "the download's destination")
        return (yield from self._downloader.download(
            digest, path, progress=progress, expected_size=expected_size, guard=guard))

    def upload(
        self, data: UploadData, *, digest: str | None = None, chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        state_file: str | os.PathLike[str] | None = None,
    ) -> Flow[Descriptor]:
        """Upload a blob unless the repository already has it; its descriptor."""
        # the upload machinery loads with the first upload, not with every pull
        from ._upload import check_state_path
        from ._upload_source import UploadSource

        if digest is not None:
            check_digest(digest)
        if chunk_size is not None and (isinstance(chunk_size, bool)
                                       or not isinstance(chunk_size, int) or chunk_size < 0):
            raise ValueError(f"chunk_size {chunk_size!r}: want a number of bytes, an int "
                             ">= 0 (0: chunks of the default size)")
        if state_file is not None:  # written all along: refused before any request
            yield Offload(functools.partial(check_state_path, Path(state_file)))
        source: UploadSource = yield Offload(functools.partial(
            UploadSource.from_data, data, digest))
        try:
            present = (yield from self._skip_present(source.digest, progress, state_file,
                                                     size=source.size)
                       ) if source.digest else None
            if present is not None:
                return present
            return (yield from self._send(source, chunk_size, progress, state_file))
        finally:
            yield from self._close(source)

    def upload_opened(
        self, digest: str, open_source: Callable[[], UploadSource], *,
        progress: ProgressCallback | None = None,
    ) -> Flow[Descriptor]:
        """:meth:`upload` of the blob ``digest`` unless the repository has it, from the
        source ``open_source()`` makes -- only then, in one file work (an image push opens
        a layout's blob file, checks it and makes its source there)."""
        present = yield from self._skip_present(digest, progress, None)
        if present is not None:
            return present
        source: UploadSource = yield Offload(open_source)
        try:
            return (yield from self._send(source, None, progress, None))
        finally:
            yield from self._close(source)

    def _skip_present(
        self, digest: str, progress: ProgressCallback | None,
        state_file: str | os.PathLike[str] | None, *, size: int | None = None,
    ) -> Flow[Descriptor | None]:
        """The blob's descriptor when the repository has it (reported skipped), else None.

        Raises:
            DigestMismatchError: the content to upload is ``size`` bytes and the blob
                its digest names another size: it is not that blob.
        """
        present = yield from self._present(digest)
        if present == -1:  # (a registry that leaves its HEAD's length out: the content's)
            present = size
        if present is None:  # (absent, or present of a size unknown: sent, to be sure)
            return None
        if size is not None and present != size:
            raise DigestMismatchError(
                f"blob {digest}: the registry has it with {present} bytes, the "
                f"content given has {size}")
        if state_file is not None:  # a session saved by an earlier run is not needed
            yield from self._sessions.forget_state(state_file)
        skipped(progress, digest, present)
        return Descriptor(media_type=OCTET_STREAM, digest=digest, size=present)

    def _send(
        self, source: UploadSource, chunk_size: int | None, progress: ProgressCallback | None,
        state_file: str | os.PathLike[str] | None,
    ) -> Flow[Descriptor]:
        from ._upload import Uploader  # with the first upload (see upload)

        uploader = Uploader(self._endpoint, self._sessions, source, chunk_size, progress,
                            state_file)
        return (yield from uploader.run())

    @staticmethod
    def _close(source: UploadSource) -> Flow[None]:
        if source.owned:  # else closing it is its opener's: no file work here
            yield Offload(source.close, cleanup=True)

    def upload_stream(
        self, stream: io.RawIOBase | BlobFetch | Relayed, *, digest: str, size: int,
        progress: ProgressCallback | None = None, session: Answer | None = None,
    ) -> Flow[Descriptor]:
        """Upload the blob ``digest`` of ``size`` bytes, read once from ``stream``.

        ``stream`` may be another repository's :class:`BlobFetch` (``blobs.flows.fetch``,
        of this registry or another): the blob is then read from there as it is sent,
        verified on the way (a copy, in either flavour of the API); or a
        :class:`Relayed` of one, made by a caller that keeps the bytes passing.
        ``session``: the answer that opened an upload session already (a mount's 202,
        :meth:`mount_or_session`), used instead of a new one.
        """
        # the upload machinery loads with the first upload, not with every pull
        from ._upload import MONOLITHIC_MAX, Uploader
        from ._upload_source import Relayed, UploadSource

        body: io.RawIOBase | io.BufferedReader | Relayed
        if isinstance(stream, BlobFetch):
            body = Relayed(stream, digest, size)
        elif isinstance(stream, Relayed):
            body = stream
        else:
            # One PUT streams the reader as it arrives; chunked uploads (large blobs) need
            # whole chunks, which a buffered reader assembles.
            body = stream if size <= MONOLITHIC_MAX else io.BufferedReader(stream, CHUNK)
        source = UploadSource(body, size, digest, owned=False)  # type: ignore[arg-type]
        try:
            return (yield from Uploader(self._endpoint, self._sessions, source, None,
                                        progress, opened=session).run())
        finally:
            if isinstance(body, Relayed):
                body.close()

    def _present(self, digest: str) -> Flow[int | None]:
        """The blob's size (-1: not said) when the repository has it, else None."""
        try:
            resp = yield from self._head_answer(digest, "pull,push")
        except NotFoundError:
            return None
        length = content_length(resp.headers, decoded=False)
        return -1 if length is None else length

    def _present_for_push(self, digest: str) -> Flow[bool]:
        """Whether the repository has the blob, asked with the push scope (after an
        upload's final PUT whose answer was lost: then its presence is success)."""
        return self.exists(digest, for_push=True)

    def mount(self, digest: str, from_repository: str) -> Flow[bool]:
        """Link a blob from another repository of this registry; False: upload it instead.
        (On Docker Hub ``alpine`` is ``library/alpine``, as ``Registry.repository`` names
        it.) The upload session a registry may answer with instead is cancelled."""
        got = yield from self.mount_or_session(digest, from_repository)
        if isinstance(got, bool):
            return got
        yield from self._sessions.cancel(
            self._endpoint.resolve(got.headers["Location"], got.url or None))
        return False

    def mount_or_session(self, digest: str, from_repository: str) -> Flow[bool | Answer]:
        """:meth:`mount`, but a 202's upload session (the answer, its ``Location`` set) is
        handed back for the blob's upload -- the spec lets a client go on with it -- not
        cancelled: :meth:`upload_stream`'s ``session``."""
        check_digest(digest)
        check_repository_name(from_repository)
        from_repository = hub_repository(from_repository, self.domain, self._endpoint.host)
        try:
            resp = yield from self._call(
                "POST", "blobs/uploads/", actions="pull,push",
                extra_scopes=(scope(from_repository, "pull"),),
                operation=f"mount blob {digest} from {from_repository}",
                params={"mount": digest, "from": from_repository}, expected=(201, 202),
                idempotent=True,  # sent again, it links the same blob (or opens a session
                # more, cancelled or left to expire: as a new session's POST is retried)
            )
        except (AuthenticationError, AuthorizationError, NotFoundError) as exc:
            log.debug("mount of %s from %s refused (%s): will upload", digest,
                      from_repository, exc.status_code)
            return False
        if resp.status_code == 201:
            if registry_keyed(digest):
                return True
            # Distribution 2.8 answers 201 to a mount of a sha512 blob without linking it
            # (a manifest naming it is then refused with MANIFEST_BLOB_UNKNOWN): for the
            # digests a registry does not key its storage by, one HEAD makes sure.
            if (yield from self.exists(digest)):
                return True
            log.debug("mount of %s from %s answered 201 but linked nothing: will upload",
                      digest, from_repository)
            return False
        return resp if resp.headers.get("Location") else False

    def delete(self, digest: str) -> Flow[None]:
        """Delete a blob from the repository."""
        check_digest(digest)
        yield from self._call(
            "DELETE", f"blobs/{digest}", actions="delete",
            operation=f"delete blob {digest}", expected=(200, 202, 204),
        )


class BlobService(Service):
    """Read and write the blobs (layers, configs) of one repository.

    Every read is verified against the blob's digest before you can rely on it.
    """

    def __init__(self, requester: Endpoint, repository: str) -> None:
        super().__init__(requester, repository)
        self.flows = BlobFlows(requester, repository)
        """The protocol of these operations, as flows (for the image workflows)."""

    def head(self, digest: str) -> Descriptor:
        """Size and media type of a blob, without its body.

        Raises:
            NotFoundError: the repository has no such blob.
        """
        return self._run(self.flows.head(digest))

    def exists(self, digest: str, *, for_push: bool = False) -> bool:
        """True when the repository has the blob (one HEAD request).

        ``for_push=True`` asks for the push scope up front, so the upload that
        usually follows reuses the same token.
        """
        return self._run(self.flows.exists(digest, for_push=for_push))

    def size(self, digest: str) -> int:
        """The blob's size in bytes.

        Raises:
            NotFoundError: the repository has no such blob.
        """
        return self._run(self.flows.size(digest))

    def open(
        self, digest: str, *, start: int = 0, hasher: object = None,
        expected_size: int | None = None,
    ) -> BinaryIO:
        """Stream a blob: a file object whose reads raise DigestMismatchError at EOF if wrong.

        A cut connection is resumed with ``Range``. Close it (or use ``with``) when done.

        Args:
            digest: the blob's digest.
            start: read from this byte on (a ``Range`` request), for a caller that
                holds the first ``start`` bytes already; give their hash as ``hasher``.
            hasher: the hashlib object that has seen the first ``start`` bytes; the
                rest are added to it and the digest is checked at the end.
            expected_size: the size a descriptor gives; another is an error.

        Raises:
            NotFoundError: the repository has no such blob.
            ValueError: ``start`` without ``hasher`` (nothing to check the digest with).
        """
        check_digest(digest)
        check_ranged_read(start, hasher)
        fetch = self.flows.fetch
        rx = fetch.receiver(digest, start=start, hasher=hasher, expected_size=expected_size)
        return BlobReader(fetch, rx, self._run)  # type: ignore[return-value]

    def get(self, digest: str, *, expected_size: int | None = None) -> bytes:
        """The whole blob in memory, verified.

        ``expected_size`` (from a descriptor) makes a registry announcing or sending
        another size an error before the bytes are read. An answer that gives no size
        (no Content-Length) is bounded by the size a HEAD gives (one request more; none
        given: RegistryResponseError) -- a body of unknown length is never read.

        Raises:
            NotFoundError: the repository has no such blob.
            DigestMismatchError: the content does not match ``digest`` (or its size).
        """
        return self._run(self.flows.get(digest, expected_size=expected_size))

    def download(
        self, digest: str, path: str | os.PathLike[str], *,
        progress: ProgressCallback | None = None, expected_size: int | None = None,
    ) -> Path:
        """Save a blob to ``path``: streamed, verified, and renamed into place only when right.

        Bytes go to a ``.partial`` file next to the destination first; a partial
        file left by an interrupted run is resumed with ``Range``. A file already
        at ``path`` with the right content is kept and nothing is downloaded.
        ``path`` is written through as the user has it: a symlink's target is
        replaced (the link stays a link, the file keeps its mode), a FIFO or device
        (``/dev/null``) gets the bytes streamed into it, ``/dev/stdout``,
        ``/dev/stderr`` and ``/dev/fd/N`` are written as the open descriptor they
        name (a ``>> log`` keeps appending), a missing parent directory is created.
        Returns ``path`` (in a directory: ``path/<algorithm>_<hex>``; a path ending
        in a separator must be an existing directory).

        Raises:
            NotFoundError: the repository has no such blob.
            DigestMismatchError: the content does not match (nothing is left at ``path``;
                a FIFO or device has had the bytes already).
            OSError: the destination cannot be written: a full disk, a FIFO's reader
                gone (BrokenPipeError), a symlink loop (ELOOP), ``dir/`` with no such
                directory (IsADirectoryError)... The error keeps its type and errno and
                names ``path``.
        """
        return self._run(self.flows.download(digest, path, progress=progress,
                                             expected_size=expected_size))

    def upload(
        self,
        data: UploadData,
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

        With ``digest``, a blob the repository has is not uploaded again and its
        content is not read: only its size is held against the registry's.

        Raises:
            DigestMismatchError: ``digest`` was given and the content does not match
                (or, for a blob the repository has, is another size).
            RegistryResponseError: the registry refused the upload.
            OSError: ``state_file`` cannot be written there (a directory in its place,
                its directory missing or read-only), before any request.
        """
        return self._run(self.flows.upload(data, digest=digest, chunk_size=chunk_size,
                                           progress=progress, state_file=state_file))

    def upload_stream(
        self, stream: io.RawIOBase, *, digest: str, size: int,
        progress: ProgressCallback | None = None,
    ) -> Descriptor:
        """Upload the blob ``digest`` of ``size`` bytes, read once from ``stream``.

        For a copy from another registry: the caller knows the repository lacks the
        blob (no HEAD first), and ``stream`` cannot be rewound, so any upload failure
        is raised (the caller sends the blob again from a fresh stream).
        """
        return self._run(self.flows.upload_stream(stream, digest=digest, size=size,
                                                  progress=progress))

    def mount(self, digest: str, from_repository: str) -> bool:
        """Link a blob from another repository of this registry; no bytes move.

        Returns False when the registry answered with an upload session instead
        (that session is cancelled), or refused the mount with 401/403/404 as
        Harbor does for a source it cannot read (see ``registry_client.quirks``):
        the caller then uploads the blob, which fails clearly if it is not allowed.
        A mount of a non-sha256 blob is confirmed with a HEAD (Distribution answers
        201 to a sha512 mount without linking the blob), False when it is not there.

        Raises:
            InvalidReferenceError: ``digest`` is no digest, or ``from_repository`` no
                repository name (``team/app``), before any request.
        """
        return self._run(self.flows.mount(digest, from_repository))

    def delete(self, digest: str) -> None:
        """Delete a blob from the repository.

        Raises:
            NotFoundError: no such blob.
            RegistryResponseError: the registry does not allow deletes.
        """
        self._run(self.flows.delete(digest))
