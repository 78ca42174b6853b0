"""One blob upload as a flow: monolithic (POST + PUT) or chunked (PATCH ... PUT), with
resume and cancel. Chunk bodies are bytes, or a file-like and iterable view of the source
the shell sends (the asyncio shell iterates it in a worker thread)."""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from .._calloff import check_cancelled
from .._events import advanced, finished, started
from .._flow import Endpoint, Flow, Offload, back_off
from .._http import is_digits
from .._log import log
from .._reader import CHUNK
from .._redact import redact_url
from .._request import Body
from ..errors import (
    DigestMismatchError,
    NotFoundError,
    RegistryError,
    RegistryResponseError,
    RegistryUnavailableError,
)
from ..layout import _temp_file_beside
from ..mediatypes import OCTET_STREAM
from ..models import Descriptor
from ..quirks import chunk_size_limit
from ._upload_sessions import UploadSessions, kept_end, range_end
from ._upload_source import CheckedFile, CountingBody, Relayed, UploadSource, read_full

if TYPE_CHECKING:  # annotations only: progress events load with a callback
    from ..progress import ProgressCallback

MONOLITHIC_MAX = 64 * 1024 * 1024
DEFAULT_CHUNK = 16 * 1024 * 1024  # chunks read into memory (a stream that can't rewind)
STREAM_CHUNK = 64 * 1024 * 1024  # chunks streamed from a file


class Uploader:
    """One blob upload, from POST to the final PUT (cancelled on failure), as a flow.

    ``requester`` counts the bytes, resolves URLs and paces retries; ``sessions`` sends
    the requests of the repository's upload sessions.
    """

    def __init__(
        self,
        requester: Endpoint,
        sessions: UploadSessions,
        source: UploadSource,
        chunk_size: int | None,
        progress: ProgressCallback | None,
        state_file: str | os.PathLike[str] | None = None,
        opened: Any = None,
    ) -> None:
        self.state_file = Path(state_file) if state_file is not None else None
        self._opened = opened  # the answer of a POST that opened a session already
        self.requester = requester
        self.sessions = sessions
        self.source = source
        self.chunk_size = chunk_size
        self.progress = progress
        self.done = 0
        self.location: str | None = None
        self.effective_chunk: int = chunk_size or DEFAULT_CHUNK
        self._tail_joins = False  # a small last chunk goes with the one before (see below)
        self._session_lost = False
        self._resumed = False  # this session was resumed (a failed chunk, a saved state)

    def advance(self, n: int, *, count: bool = True) -> None:
        """Account for ``n`` bytes sent (negative after a rewind)."""
        self.done += n
        if n > 0 and count:
            self.requester.count_sent(n)
        if n:
            advanced(self.progress, self.source.digest or "", n, self.done, self.source.size)

    @property
    def _operation(self) -> str:
        return f"upload blob {self.source.digest or ''}".strip()

    @property
    def _where(self) -> str:
        return f"{self.sessions.domain}/{self.sessions.repository}"

    @property
    def _session_url(self) -> str | None:
        """The session's URL, said in its errors: they are about the target registry's
        answers, which a copy's source must not be named for (``services._base``)."""
        return redact_url(self.location) if self.location else None

    def _set_location(self, resp: Any) -> None:
        # A Location sent twice (a proxy repeating it) reaches us joined, "loc, loc": the
        # first is the session, as Go's Header.Get reads it (no URL holds ", ").
        location = (resp.headers.get("Location") or "").split(", ", 1)[0].strip()
        if not location:
            raise RegistryResponseError(
                f"upload to {self._where}: the registry sent no Location for the session",
                url=redact_url(resp.url or "") or None)
        # relative to the URL of the request it answers (RFC 7231), not to /v2/
        self.location = self.requester.resolve(location, resp.url or None)

    def run(self) -> Flow[Descriptor]:
        """Do the upload and return the blob's descriptor.

        A failure cancels the session, unless a state file keeps it for the next run or
        the caller was interrupted (Ctrl-C, a cancelled task): then nothing more is sent
        and the registry expires the session itself."""
        src = self.source
        # One streamed PUT for small blobs, and for a stream of known size and digest
        # that cannot be rewound (a copy from another registry): chunking it would buy
        # no resume, only requests. Large files go in chunks streamed from the file. A
        # layout's blob file (nothing on disk is trusted) is checked before its upload
        # is committed: one its opener read into memory (CheckedFile.preload, up to
        # IN_MEMORY) before any request, a larger one in PATCHes hashed as they go, so
        # the committing PUT is never sent for bad bytes (one PATCH more than a single
        # PUT would cost).
        unchecked = isinstance(src.stream, CheckedFile) and not src.stream.preloaded
        monolithic = (
            self.chunk_size is None and self.state_file is None and src.size is not None
            and src.digest is not None
            and (src.size <= MONOLITHIC_MAX or not src.stream.seekable())
            and not unchecked
        )
        started(self.progress, src.digest or "", src.size, "upload")
        resumed = yield from self._resume_from_state()
        if not resumed:
            opened, self._opened = self._opened, None
            if opened is not None:  # a mount's 202: the session to go on with
                self._set_location(opened)
            else:
                opened = yield from self._start_session("start blob upload")
            self._note_chunk_limits(opened)
        try:
            digest = yield from (self._monolithic() if monolithic else self._chunked(resumed))
        except Exception:
            # With a state file the session is kept for the next run to resume; an
            # interrupt (Ctrl-C, a cancelled task: no Exception) sends nothing more.
            if self.location and self.state_file is None:
                yield from self.sessions.cancel(self.location)
            raise
        if self.state_file is not None:
            yield Offload(functools.partial(self.state_file.unlink, missing_ok=True))
        size = self.source.size if self.source.size is not None else self.done
        finished(self.progress, digest, size)
        return Descriptor(media_type=OCTET_STREAM, digest=digest, size=size)

    def _put_final(
        self, digest: str, body: Any, length: int, *, retry_cuts: bool = True
    ) -> Flow[None]:
        assert self.location is not None
        try:
            resp = yield from self.sessions.send(
                "PUT", self.location, params={"digest": digest}, data=body,
                headers={"Content-Type": OCTET_STREAM, "Content-Length": str(length)},
                expected=(201, 204), retry_connection_errors=retry_cuts, operation=self._operation,
            )
        except (NotFoundError, RegistryUnavailableError):
            # A PUT whose answer was lost may have completed: the retried PUT then
            # finds the session gone (404 BLOB_UPLOAD_UNKNOWN). The registry only
            # stores a blob under the digest it verified, so its presence is success.
            if (yield from self._blob_present(digest)):
                log.debug("upload: the final PUT's answer was lost, but the blob is there")
                self.location = None
                return
            raise
        except RegistryResponseError as exc:
            if "DIGEST_INVALID" in exc.codes:  # the bytes sent do not hash to ``digest``
                raise exc.with_context(
                    f"upload to {self._where}: the registry found the content does not "
                    f"match {digest} ({exc.message})", kind=DigestMismatchError,
                ) from None
            raise
        if resp.history and not (yield from self._blob_present(digest)):
            # a 302 or 303 turned the PUT into a GET, which any session answers 204
            raise RegistryResponseError(
                f"upload to {self._where}: the registry redirected the final PUT (to "
                f"{redact_url(resp.url)[:120]}) and does not hold {digest}",
                url=self._session_url)
        remote = (resp.headers.get("Docker-Content-Digest") or "").strip()
        # A registry names what it stored by its canonical digest (sha256) whatever the
        # algorithm of the one sent (sha512...): only digests of one algorithm compare.
        same_algorithm = remote.split(":", 1)[0] == digest.split(":", 1)[0]
        if remote and same_algorithm and remote != digest:
            raise DigestMismatchError(
                f"upload to {self._where}: registry stored {remote[:100]}, sent {digest}")
        self.location = None

    def _blob_present(self, digest: str) -> Flow[bool]:
        try:
            present: bool = yield from self.sessions.present(digest)
        except RegistryError:
            return False
        return present

    def _monolithic(self) -> Flow[str]:
        """PUT the blob in one request; after a cut, PUT it again in a new session.

        A PUT cut in the middle of its body leaves Distribution's session unusable (every
        later request on it is 404 BLOB_UPLOAD_INVALID), so sending the body to the same
        session again would only move it for nothing: a cut goes straight to a new
        session (the old one is cancelled), at most ``retries`` times. 429/502/503/504
        answers are retried on the same session by the requester as usual.
        """
        src = self.source
        assert src.size is not None and src.digest is not None
        restarts = self.requester.retries if src.stream.seekable() else 0
        while True:
            try:
                if isinstance(src.stream, Relayed):
                    relay = yield from src.stream.relay(self.advance)
                    yield from self._put_final(src.digest, relay, src.size, retry_cuts=False)
                    src.stream.check()
                    return src.digest
                body = CountingBody(src.stream, src.size, self.advance)
                try:
                    yield from self._put_final(src.digest, body, src.size, retry_cuts=False)
                finally:
                    body.raise_failed()
                return src.digest
            except (NotFoundError, RegistryUnavailableError) as exc:
                cut = isinstance(exc, RegistryUnavailableError) and exc.status_code is None
                if restarts <= 0 or not (cut or isinstance(exc, NotFoundError)):
                    raise
                if cut and self.location:
                    yield from self.sessions.cancel(self.location)
            restarts -= 1
            self.location = None
            log.debug("upload: the PUT was cut or its session lost, starting a new session")
            yield Offload(functools.partial(src.stream.seek, src.start))
            self.advance(-self.done)
            yield from self._start_session("restart blob upload")

    def _start_session(self, operation: str) -> Flow[Any]:
        """POST a new upload session (retried like an idempotent request: an unused
        session costs nothing) and remember its Location."""
        resp = yield from self.sessions.start(operation)
        self._set_location(resp)
        return resp

    # -- crash-safe resume ------------------------------------------------------------------
    def _save_state(self, offset: int) -> Flow[None]:
        if self.state_file is None or self.location is None:
            return
        doc = {"location": self.location, "offset": offset, "digest": self.source.digest,
               "size": self.source.size, "chunk_size": self.effective_chunk,
               "repository": self.sessions.repository, "registry": self.sessions.domain}
        yield Offload(functools.partial(_write_state, self.state_file, doc))

    def _resume_from_state(self) -> Flow[int | None]:
        """Continue the session a killed run left in the state file; None: start afresh.

        The state must name the same blob (digest and size), registry and repository,
        and the registry must still have the session; the source is re-read up to the
        offset the registry reports, so the digest covers every byte.
        """
        if self.state_file is None or not (yield Offload(self.state_file.is_file)):
            return None
        src = self.source
        saved = yield from self.sessions.saved_session(self.state_file)
        if saved is None:
            return None
        doc, location = saved
        wanted = {"digest": src.digest, "size": src.size,
                  "repository": self.sessions.repository, "registry": self.sessions.domain}
        if (src.digest is None or not src.stream.seekable()
                or any(doc.get(k) != v for k, v in wanted.items())):
            return None
        self.location = location
        at = doc.get("offset")
        try:
            offset = yield from self._status(at if isinstance(at, int) else 0)
        except RegistryError:
            log.debug("upload: the saved session is gone, starting a new one")
            self.location = None
            return None
        chunk = doc.get("chunk_size")
        self.effective_chunk = chunk if isinstance(chunk, int) and chunk > 0 else DEFAULT_CHUNK
        log.debug("upload: resuming a saved session at byte %d", offset)
        return offset

    def _chunked(self, resumed: int | None = None) -> Flow[str]:
        """Upload in chunks; start over in a new session once when the session was lost.

        Distribution 2.8 keeps the bytes of a PATCH whose connection was cut, but its
        upload state (the ``_state`` in ``Location``) still names the chunk's start, so
        every later request on that session fails with 404 BLOB_UPLOAD_INVALID and the
        session is gone: the only way on is a new session (if the source can rewind).
        """
        restarts = self.requester.retries if self.source.stream.seekable() else 0
        while True:
            # a session a killed run saved answered its status GET, but may be gone by
            # the PATCH (dropped late, or resumed by another process first)
            self._session_lost, self._resumed = False, resumed is not None
            try:
                return (yield from self._chunked_once(resumed or 0))
            except (NotFoundError, RegistryResponseError) as exc:
                # a 404 after a resume: Distribution drops a session whose PATCH was cut,
                # but not at once -- its status GET may still answer, and the next request
                # finds it gone (BLOB_UPLOAD_INVALID)
                if not (self._session_lost
                        or (self._resumed and isinstance(exc, NotFoundError))):
                    raise
                if isinstance(exc, NotFoundError):
                    self.location = None  # already gone: nothing to cancel
                if restarts <= 0:
                    # The cause is the connection, not a missing blob or repository.
                    raise exc.with_context(
                        f"upload blob {self.source.digest or ''} to {self._where}: the "
                        "chunk upload failed (cut or refused) and the registry's upload "
                        f"session could not be resumed ({exc.message})",
                        kind=RegistryUnavailableError,
                    ) from exc
            restarts -= 1
            resumed = None
            log.debug("upload: the registry dropped the upload session, starting over")
            if self.location:
                yield from self.sessions.cancel(self.location)
            yield Offload(functools.partial(self.source.stream.seek, self.source.start))
            self.advance(-self.done)
            yield from self._start_session("restart blob upload")

    def _note_chunk_limits(self, resp: Any) -> None:
        """Fit the chunk size to the registry: OCI-Chunk-Min-Length and known host limits."""
        host = self.requester.host
        size = self.chunk_size or (STREAM_CHUNK if self._streams_views() else DEFAULT_CHUNK)
        limit = chunk_size_limit(host)
        if limit is not None:
            size = min(size, limit)
        minimum = (resp.headers.get("OCI-Chunk-Min-Length") or "").strip()
        if is_digits(minimum):
            size = max(size, int(minimum))
        self.effective_chunk = size
        self._tail_joins = self.chunk_size is None and limit is None

    def _streams_views(self) -> bool:
        """True when chunks can be sent straight from the source (seekable, digest known).

        Crash-safe uploads (a state file) send whole chunks from memory instead, so the
        state is saved after each chunk before the next one starts: Distribution drops a
        session whose PATCH was cut mid-body, so only a stop between chunks can resume.
        """
        src = self.source
        return (self.state_file is None and src.stream.seekable()
                and src.digest is not None and src.size is not None)

    def _chunked_views(self, start: int) -> Flow[str]:
        """PATCH chunks streamed from the file itself: nothing held in memory, no hashing.

        The digest was computed before (it decided whether to upload at all) and the
        registry checks it on the final PUT.
        """
        src = self.source
        assert src.digest is not None and src.size is not None
        offset = start
        if start:
            self.advance(start, count=False)
        while offset < src.size:
            length = min(self.effective_chunk, src.size - offset)
            if self._tail_joins and src.size - offset - length < self.effective_chunk // 4:
                # a tail under a quarter chunk is not worth a request of its own (a
                # 64 MiB + 20 KiB layer went as PATCH, PATCH, PUT): it goes with this chunk,
                # unless the caller or a known registry limit fixed the size
                length = src.size - offset
            yield from self._patch(None, offset, length)
            offset += length
        if isinstance(src.stream, CheckedFile):
            # a layout's file: nothing is committed unless it is right (a file work only
            # when a resume skipped bytes the hash still needs read; else a comparison)
            if src.stream.complete:
                src.stream.check()
            else:
                yield Offload(src.stream.check)
        yield from self._put_final(src.digest, b"", 0)
        return src.digest

    def _chunked_once(self, start: int = 0) -> Flow[str]:
        if self._streams_views():
            return (yield from self._chunked_views(start))
        src = self.source
        chunk_size = self.effective_chunk
        algo = (src.digest or "sha256").split(":", 1)[0]
        hasher = hashlib.new(algo)
        offset = 0
        if start:
            # the registry has these bytes: hash them, send nothing
            offset = yield Offload(functools.partial(
                _hash_prefix, src.stream, src.start, start, hasher))
            if offset < start:
                raise RegistryResponseError(f"upload to {self._where}: the source is "
                                            "shorter than the "
                                            "offset the registry reports",
                                            url=self._session_url)
            self.advance(offset, count=False)
        # A source of known size (a file: its size when the upload began, which its
        # digest is of) is read to that size, not on to the end of a file that grows.
        while src.size is None or offset < src.size:
            check_cancelled()
            want = chunk_size if src.size is None else min(chunk_size, src.size - offset)
            # read and hashed in one Offload: a 16 MiB chunk's hash never holds up a loop
            chunk = yield Offload(functools.partial(_read_hashed, src.stream, want, hasher))
            if not chunk:
                break
            yield from self._patch(chunk, offset, len(chunk))
            offset += len(chunk)
        digest = f"{algo}:{hasher.hexdigest()}"
        if src.digest is not None and digest != src.digest:
            raise DigestMismatchError(
                f"upload to {self._where}: content is {digest}, expected {src.digest}")
        yield from self._put_final(digest, b"", 0)
        return digest

    def _patch(self, chunk: bytes | None, offset: int, length: int) -> Flow[None]:
        """Send bytes ``offset .. offset+length`` (``chunk``, or streamed from the source
        when None); after a cut, resume from the offset the registry reports."""
        policy = self.requester.chunk_policy
        tries = 0  # retries used
        sent_from = offset
        while True:
            size = offset + length - sent_from
            end = sent_from + size - 1
            body: bytes | CountingBody
            if chunk is None:
                # moved to its place by the thread that reads it (no hop to one for that)
                body = CountingBody(self.source.stream, size, self.advance,
                                    at=self.source.start + sent_from)
            else:
                body = chunk[sent_from - offset:]
            try:
                try:
                    resp = yield from self.sessions.send(  # a CountingBody: a file, or blocks
                        "PATCH", self.location or "", data=cast(Body, body), idempotent=False,
                        headers={"Content-Type": OCTET_STREAM,
                                 "Content-Range": f"{sent_from}-{end}",
                                 "Content-Length": str(size)},
                        expected=(202, 204), operation=self._operation,
                    )
                finally:
                    if isinstance(body, CountingBody):
                        body.raise_failed()
            except (RegistryUnavailableError, RegistryResponseError) as exc:
                # 416: the registry holds another offset than this chunk starts at
                # (Distribution); ask where it stands, as after a cut
                status = exc.status_code
                cut = isinstance(exc, RegistryUnavailableError) and status is None
                if not cut and status not in policy.statuses:
                    raise
                if isinstance(body, CountingBody):
                    self.advance(-body.tell())  # counted while streaming; recounted below
                if not policy.should_retry(tries):
                    raise
                if status is not None and status != 416:
                    # 429/5xx: wait as the requester does for any request (Retry-After,
                    # backoff, a 429 pausing every worker) before asking where it stands.
                    yield from back_off(
                        policy, tries, exc.retry_after,
                        pause=self.requester.pause_all if status == 429 else None)
                tries += 1
                self._session_lost = True  # until the registry shows it still has it
                reported = yield from self._status(sent_from)
                if not offset <= reported <= offset + length:
                    raise RegistryResponseError(
                        f"upload to {self._where}: the registry reports offset {reported}, "
                        "outside the chunk "
                        f"{offset}-{offset + length}", url=self._session_url,
                    ) from None
                self._session_lost = False
                self._resumed = True  # a 404 from now on: the session was dropped after all
                log.debug("upload: resuming chunk at byte %d", reported)
                self.advance(reported - sent_from)
                sent_from = reported
                if sent_from == offset + length:
                    yield from self._save_state(sent_from)
                    return
                continue
            self._set_location(resp)
            kept = kept_end(resp, sent_from, offset + length)
            if kept is not None and policy.should_retry(tries):
                # The answer says the registry kept less of this chunk than was sent.
                # Its session's status says it for sure: Distribution appends whatever a
                # PATCH's Content-Range says, so the rest sent on an answer that said
                # less than it held (a proxy's rewrite) was held twice.
                tries += 1
                held = yield from self._status(kept)
                if not kept <= held <= offset + length:
                    raise RegistryResponseError(
                        f"upload to {self._where}: the registry reports offset {held}, "
                        f"outside the chunk {offset}-{offset + length}",
                        url=self._session_url)
                log.debug("upload: the registry kept the chunk up to byte %d of %d",
                          held, offset + length)
                if isinstance(body, CountingBody):  # counted while streaming
                    self.advance(held - (offset + length))
                else:
                    self.advance(held - sent_from, count=False)
                sent_from = held
                if sent_from == offset + length:  # it had the whole chunk after all
                    yield from self._save_state(sent_from)
                    return
                continue
            yield from self._save_state(offset + length)  # before anyone hears of progress
            if not isinstance(body, CountingBody):
                self.advance(size, count=False)  # the requester counted the bytes body
            return

    def _status(self, known: int) -> Flow[int]:
        """Ask the registry how many bytes of the upload it has.

        ``Range: 0-N`` names the last byte held, so ``0-0`` is ambiguous: Distribution
        answers it for an empty session as well as for one byte. ``known`` (the offset
        the client last saw confirmed) decides: 0 when nothing was confirmed yet.
        """
        resp = yield from self.sessions.send("GET", self.location or "",
                                             operation=self._operation, expected=(204, 200))
        self._set_location(resp)
        end = range_end(resp)
        if end is None:
            raise RegistryResponseError(
                f"upload status of {self._where}: unusable Range "
                f"{resp.headers.get('Range', '')[:60]!r}"
            )
        if end == 0 and known == 0:
            return 0
        return end + 1


def _write_state(path: Path, doc: dict[str, Any]) -> None:
    """Save a crash-safe upload's state at ``path`` (atomically: a crash leaves the old).

    Through a new temp file (0600: the upload's URL is in it), never one of a name
    known in advance, which a symlink put there first would have written through."""
    fd, tmp = _temp_file_beside(path)
    try:
        with os.fdopen(fd, "w") as f:  # (open, so locked, until renamed)
            f.write(json.dumps(doc))
            f.flush()
            os.replace(tmp, path)
    except OSError as exc:  # (a full disk: which file, said)
        Path(tmp).unlink(missing_ok=True)
        raise type(exc)(exc.errno, f"cannot write the upload's state file ({exc.strerror})",
                        str(path)) from None


def check_state_path(path: Path) -> None:
    """Raise the OSError (naming ``path``) a state file there would meet: a directory in
    its place, or a directory to hold it that is missing or cannot be written."""
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not an upload's state file",
                                str(path))
    if path.exists() and not path.is_file():  # (replaced by the state, then deleted)
        raise OSError(errno.EINVAL, "is a device, a pipe or a socket, not an upload's "
                      "state file", str(path))
    try:
        fd, probe = _temp_file_beside(path)  # (a new file: no symlink followed)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write the upload's state file there "
                        f"({exc.strerror})", str(path)) from None
    Path(probe).unlink(missing_ok=True)
    os.close(fd)


def _hash_prefix(stream: IO[bytes], base: int, length: int, hasher: Any) -> int:
    """Hash the first ``length`` bytes of ``stream`` from ``base``; how many there were."""
    stream.seek(base)
    done = 0
    while done < length:
        block = stream.read(min(CHUNK, length - done))
        if not block:
            break
        hasher.update(block)
        done += len(block)
    return done


def _read_hashed(stream: IO[bytes], size: int, hasher: Any) -> bytes:
    """The next chunk of ``stream`` (``size`` bytes, fewer only at its end), hashed."""
    chunk = read_full(stream, size)
    hasher.update(chunk)
    return chunk
