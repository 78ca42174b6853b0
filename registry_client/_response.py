"""The library's own answer type: what services get back from the Requester.

Services read an answer's status, headers, URL and body (read whole, or streamed
for a blob) through :class:`Response`, never through the HTTP library underneath,
so that library can change without them noticing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

__all__ = ["Answer", "AsyncStream", "Response", "Stream", "auth_scheme_sent"]


def auth_scheme_sent(answer: object) -> str:
    """The scheme of the credentials the request that got ``answer`` carried
    (``"basic"``, ``"bearer"``; ``""``: none) -- never the credentials.

    After redirects that is the last hop's request (``Authorization`` never follows a
    redirect to another host), so a refusal by a storage host is not blamed on
    credentials it never saw. ``answer``: the library's :class:`Response` or the
    asyncio answer (which know it), or an answer of requests or httpx (whose
    ``request`` is the last hop's).
    """
    known = getattr(answer, "sent_auth_scheme", None)
    if isinstance(known, str):
        return known
    headers = getattr(getattr(answer, "request", None), "headers", None) or {}
    sent = str(headers.get("Authorization", ""))
    return sent.split(" ", 1)[0].lower() if " " in sent else ""


class Answer(Protocol):
    """What reading an answer's status and headers needs: a :class:`Response`, or the
    HTTP library's own answer inside the transport and the auth layer."""

    @property
    def status_code(self) -> int:
        """The HTTP status."""

    @property
    def headers(self) -> Mapping[str, str]:
        """The headers (case-insensitive)."""

    @property
    def url(self) -> str:
        """The URL that answered."""

    def close(self) -> None:
        """Release the connection."""


class Stream(Protocol):
    """A body still on the wire, as the transport hands it over."""

    def read(self, amt: int) -> bytes:
        """Up to ``amt`` bytes as served (Content-Encoding never undone); b"" at the end."""

    def read1(self, amt: int) -> bytes:
        """What has arrived, at most ``amt`` bytes, as served; b"" at the end."""

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` with the next bytes as served (fewer only at the end); 0 at the
        end. A cut loses the part of the block received so far."""

    def iter_body(self, size: int, limit: int | None = None) -> Iterator[bytes]:
        """The body in blocks, Content-Encoding undone (for JSON and manifests): in
        bounded steps, no more taken in than a body of ``limit`` bytes is encoded as
        (``_inflate.Inflater``)."""

    def close(self) -> None:
        """Release the connection (closing it when the body was not read to its end)."""


class AsyncStream(Protocol):
    """A body still on the wire of an asyncio transport (``registry_client.aio``)."""

    async def aread1(self, amt: int) -> bytes:
        """What has arrived, at most ``amt`` bytes, as served; b"" at the end."""

    async def aclose(self) -> None:
        """Release the connection (closing it when the body was not read to its end)."""

    def close(self) -> None:
        """Release the connection soon, from plain code (a flow's clean-up)."""


class Response:
    """An answer of the registry: status, headers, the URL that answered, and its body.

    The body was read whole (``content``) unless the request asked for a stream; a
    streamed body is read with ``read``/``read1``/``readinto`` (the bytes as served,
    never decoded: a blob's digest is of the stored bytes) and must be closed.

    Attributes:
        status_code: the HTTP status.
        headers: the headers, a case-insensitive mapping.
        url: the URL that answered (after redirects).
        history: the URLs of the redirects followed on the way, first to last.
        sent_auth_scheme: the scheme of the credentials the request that got this
            answer carried (``"basic"``, ``"bearer"``; ``""``: none), never the
            credentials: what a refusal refused.
    """

    __slots__ = ("_astream", "_body", "_stream", "headers", "history", "sent_auth_scheme",
                 "status_code", "url")

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str],
        url: str,
        body: bytes | None = None,
        *,
        stream: Stream | None = None,
        history: tuple[str, ...] = (),
        sent_auth_scheme: str = "",
        astream: AsyncStream | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.url = url
        self.history = history
        self.sent_auth_scheme = sent_auth_scheme
        self._body = body
        self._stream = stream
        self._astream = astream

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"

    @property
    def content(self) -> bytes:
        """The whole body (a streamed one is read to its end first, Content-Encoding undone)."""
        if self._body is None:
            self._body = b"".join(self.iter_body(256 * 1024)) if self._stream else b""
        return self._body

    def iter_body(self, size: int, limit: int | None = None) -> Iterator[bytes]:
        """The body in blocks of about ``size`` bytes, Content-Encoding undone (see
        :meth:`Stream.iter_body` for ``limit``)."""
        if self._stream is None:
            if self._body:
                yield self._body
            return
        yield from self._stream.iter_body(size, limit)

    def read(self, amt: int = -1) -> bytes:
        """Up to ``amt`` bytes of a streamed body as served (all when ``amt`` < 0)."""
        stream = self._stream
        if stream is None:
            return b""
        if amt >= 0:
            return stream.read(amt)
        parts: list[bytes] = []
        while block := stream.read(1 << 20):
            parts.append(block)
        return b"".join(parts)

    def read1(self, amt: int) -> bytes:
        """What has arrived of a streamed body, at most ``amt`` bytes, as served.

        A cut connection loses nothing already received: the bytes before it come back
        from this call, the error from the next one.
        """
        if self._stream is None:
            return b""
        return self._stream.read1(amt)

    def readinto(self, buffer: Any) -> int:
        """Read up to ``len(buffer)`` bytes of a streamed body (as served) into ``buffer``
        (fewer only at the end; 0 at the end). A cut loses the part of the block
        received so far (:meth:`read1` loses nothing)."""
        stream = self._stream
        if stream is None:
            return 0
        view = memoryview(buffer).cast("B")
        into = getattr(stream, "readinto", None)
        if into is not None:
            n: int = into(view)
            return n
        data = stream.read(len(view))
        view[: len(data)] = data
        return len(data)

    async def aread1(self, amt: int) -> bytes:
        """What has arrived of an asyncio streamed body, at most ``amt`` bytes, as served
        (b"" at the end, or when the body was read whole).

        As with :meth:`read1`, a cut loses nothing already received.
        """
        if self._astream is None:
            return b""
        return await self._astream.aread1(amt)

    async def thread_reader(self) -> Any:
        """For an asyncio streamed body: a blocking reader a worker thread may read the
        rest of the body with -- ``read1(amt, stop)`` (raising as :meth:`aread1` does,
        or ``Stopped`` once the ``threading.Event`` ``stop`` is set) and ``close()`` --
        or None when the body must be read with :meth:`aread1`."""
        get = getattr(self._astream, "thread_reader", None)
        return None if get is None else await get()

    async def aclose(self) -> None:
        """Release the connection of a streamed body, awaiting it (asyncio)."""
        if self._astream is not None:
            await self._astream.aclose()
        self.close()

    def close(self) -> None:
        """Release the connection (needed for a streamed body not read to its end)."""
        if self._stream is not None:
            self._stream.close()
        if self._astream is not None:
            self._astream.close()
