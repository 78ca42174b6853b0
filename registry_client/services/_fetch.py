"""Reading one blob as a flow: the GET from an offset, then its body drained through a
:class:`~registry_client._reader.BlobReceiver`, resumed with ``Range`` after a cut."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._flow import Drain, Flow, back_off
from .._http import content_length
from .._reader import BlobReceiver, blob_headers
from .._response import Response
from ..errors import RegistryResponseError, RegistryUnavailableError
from ._base import Service, link_race

Sink = Callable[[bytes], None]
"""Takes the blob's next bytes (verified ones when they complete it)."""


class BlobFetch(Service):
    """The flows that read the blobs of one repository: for ``get``, ``download`` and the
    image workflows (pull, copy), in both flavours of the API."""

    def receiver(
        self, digest: str, *, start: int = 0, hasher: Any = None,
        expected_size: int | None = None,
    ) -> BlobReceiver:
        """A receiver for ``digest`` from byte ``start`` (``hasher`` has seen the bytes
        before it), resuming as often as the registry's requests retry."""
        return BlobReceiver(
            digest, start=start, hasher=hasher, expected_size=expected_size,
            max_resumes=self._endpoint.retries,
            what=f"blob {digest} of {self.domain}/{self.repository}",
        )

    def get(self, digest: str, offset: int = 0) -> Flow[Response]:
        """GET the blob's bytes from ``offset`` on: the streamed answer, unchecked (a
        reader with receiver rules of its own takes it in)."""
        resp: Response = yield from self._call(
            "GET", f"blobs/{digest}", operation=f"get blob {digest}",
            expected=(200, 206), headers=blob_headers(offset), stream=True,
            retry_if=link_race,
        )
        return resp

    def open(self, rx: BlobReceiver) -> Flow[Response]:
        """GET the blob from ``rx.offset`` on: the streamed answer, its headers checked.

        Raises:
            NotFoundError: the repository has no such blob.
            RegistryResponseError: 416 and other refusals of the GET.
        """
        resp = yield from self.get(rx.digest, rx.offset)
        try:
            rx.opened(resp)
            if rx.expected_size is None:
                rx.expected_size = yield from self.size(rx.digest)
        except BaseException:
            resp.close()
            raise
        return resp

    def size(self, digest: str) -> Flow[int]:
        """The size the registry gives a blob it answered without one (no
        Content-Length, no expected size): one HEAD, so no body of unknown length is
        read -- a hostile registry's could be endless.

        Raises:
            RegistryResponseError: the HEAD names no size either.
        """
        resp = yield from self._call(
            "HEAD", f"blobs/{digest}", operation=f"head blob {digest}", retry_if=link_race)
        length = content_length(resp.headers, decoded=False)  # (see BlobReceiver)
        if length is None:
            raise RegistryResponseError(
                f"get blob {digest} ({self.domain}/{self.repository}): the registry gives "
                "its size neither in the answer nor to a HEAD: a body of unknown length "
                "is not read")
        return length

    def pump(
        self, rx: BlobReceiver, resp: Response, sink: Sink, *, keeps_blocks: bool = True,
    ) -> Flow[None]:
        """Read the blob to its end from ``resp`` (an answer of :meth:`open`) into ``sink``;
        a cut or short body is resumed with a new GET from where it got to.

        A ``sink`` that is done with each block when it returns (writes it to a file)
        says ``keeps_blocks=False``: the blocks are then received straight into the
        hasher's reused buffers (see ``Drain.lend``), with no copy for the hashing.

        Raises:
            DigestMismatchError: the content (or its size) is not the blob's; the block
                that would complete wrong content never reaches ``sink``.
            RegistryUnavailableError: cut more often than the registry's retries.
        """
        yield from self.pump_some(rx, resp, sink, None, keeps_blocks=keeps_blocks)

    def pump_some(
        self, rx: BlobReceiver, resp: Response, sink: Sink, limit: int | None, *,
        keeps_blocks: bool = True,
    ) -> Flow[Response | None]:
        """:meth:`pump`, stopping once ``limit`` bytes were received (None: no limit) --
        a file-like reader's ``read(n)``. The answer to read on from, or None at the
        blob's end (verified, its answer closed).
        """
        got = 0  # bytes received (those a server ignoring Range sends again included)
        lend = None if keeps_blocks else getattr(rx.hasher, "lend", None)

        def hand(block: bytes) -> None:
            nonlocal got
            got += len(block)
            data = rx.take(block)
            if data:
                sink(data)

        try:
            while limit is None or got < limit:
                try:
                    yield Drain(resp, hand, None if limit is None else limit - got, lend=lend)
                except RegistryUnavailableError as exc:
                    resp.close()
                    if exc.status_code is not None:
                        raise
                    yield from self._resume(rx, exc)
                    resp = yield from self.open(rx)
                    continue
                except BaseException:
                    resp.close()
                    raise
                if limit is not None and got >= limit:
                    break
                resp.close()
                if rx.ended():
                    return None
                yield from self._resume(rx, None)
                resp = yield from self.open(rx)
        except BaseException:
            rx.hasher.stopped()  # (not read to its end: see HashThread.stopped)
            raise
        return resp

    def _resume(self, rx: BlobReceiver, cut: RegistryUnavailableError | None) -> Flow[None]:
        """Allow ``rx`` one more GET after a cut, backing off first when it asks to."""
        attempt = rx.resume(cut)
        if attempt is not None:
            yield from back_off(self._endpoint.policy, attempt, None)

    def read(
        self, digest: str, sink: Sink, *, expected_size: int | None = None,
    ) -> Flow[BlobReceiver]:
        """Read the whole blob into ``sink``, verified; the receiver (size, offset)."""
        rx = self.receiver(digest, expected_size=expected_size)
        resp = yield from self.open(rx)
        yield from self.pump(rx, resp, sink)
        return rx
