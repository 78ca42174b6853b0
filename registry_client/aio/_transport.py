"""The asyncio transport seam: the only module that sends with httpx and reads its answers.

:class:`AsyncTransport` owns one pooled ``httpx.AsyncClient`` per registry (proxies,
TLS settings, User-Agent, limits) and turns its answers into the library's own
:class:`~registry_client._response.Response`, with the body left on the wire as an
:class:`~registry_client._response.AsyncStream`. Its failures are classified by the
same code as the blocking transport's (:func:`failure`), so errors read the same in
both flavours.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import ssl
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from typing import IO, Any, NamedTuple

import httpcore
import httpx
import requests
from requests.utils import select_proxy

from .._http import FailureTypes, connection_failure, content_length, exception_chain, of
from .._inflate import InflateCut, InflateError, Inflater, codings_to_undo
from .._log import log
from .._redact import done_sending, redact_url, sending, watch_foreign_logs
from .._request import Body, Relay
from .._response import Response, auth_scheme_sent
from .._transport import EnvSettings, Timeout, ca_locations, tls_settings, with_scheme
from ._network import (
    BlockStream,
    BlockTransport,
    Stopped,
    ThreadReader,
    ThreadWriter,
    request_stream,
)
from ._pulls import PinnedPulls, stoppable

__all__ = ["HTTPX_FAILURES", "AsyncAnswer", "AsyncTransport", "failure", "failure_cause",
           "is_tls_failure"]

_DEFAULT_UA = "registry-client/0.1 (+python-httpx)"
_FILE_BLOCK = 1 << 20

_H11_MALFORMED = ("illegal ", "conflicting ", "bad Content-Length", "Only Transfer-Encoding",
                  "Receive buffer too long", "Response status_code",
                  "Received server _SWITCH_UPGRADE")  # (a 101 nobody asked for)
"""How h11 begins its messages about an answer that is not valid HTTP."""

HTTPX_FAILURES = FailureTypes(
    dns=of(),
    proxy=of(httpx.ProxyError),
    connect_timeout=of(httpx.ConnectTimeout),
    read_timeout=of(httpx.ReadTimeout, httpx.WriteTimeout),
    # httpcore's words for a server that hung up before the status line
    closed=lambda e: isinstance(e, httpx.RemoteProtocolError)
    and "without sending a response" in str(e),
    broken=of(httpx.RemoteProtocolError, httpx.ReadError),
    connect=of(httpx.ConnectError),
    client=lambda e: isinstance(e, httpx.HTTPError) and not isinstance(e, httpx.TransportError),
    undecodable=of(httpx.DecodingError),
    # h11's refusals of the answer itself ("illegal status line: ...", "conflicting
    # Content-Length headers"), not its words for a connection that ended early
    malformed=lambda e: isinstance(e, httpx.RemoteProtocolError)
    and str(e).startswith(_H11_MALFORMED),
)
"""How httpx spells the connection failures (see ``_http.connection_failure``)."""


def failure(exc: BaseException) -> tuple[str, str]:
    """``(kind, words)`` of an httpx failure, as ``_http.connection_failure`` says them."""
    return connection_failure(exc, HTTPX_FAILURES)


def is_tls_failure(exc: BaseException) -> bool:
    """True when ``exc`` (an httpx failure) is a TLS handshake's. An SSLWantReadError
    (or Write) is none: anyio's word for "more to read", left in the chain of a reset
    or a timeout in the middle of a handshake -- a connection failure, as the blocking
    flavour reads it."""
    return any(isinstance(e, ssl.SSLError)
               and not isinstance(e, ssl.SSLWantReadError | ssl.SSLWantWriteError)
               for e in exception_chain(exc))


def is_proxy_tls_failure(exc: BaseException) -> bool:
    """True when ``exc`` (an httpx failure) is the TLS handshake with an https:// proxy
    (see :class:`_ProxyHandshake`), not the registry's behind it."""
    return any(getattr(e, _PROXY_HANDSHAKE, False) for e in exception_chain(exc))


_PROXY_HANDSHAKE = "registry_client_proxy_handshake"


class _ProxyHandshake(ssl.SSLObject):
    """The TLS of a connection to an https:// proxy: a handshake that fails is marked
    as the proxy's. A registry's handshake through the proxy's tunnel fails with the
    same exceptions, and the blocking flavour names whose certificate it was (urllib3
    wraps the proxy's in its ProxyError): the asyncio flavour tells them apart so."""

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise  # (a non-blocking handshake under way)
        except ssl.SSLError as exc:
            setattr(exc, _PROXY_HANDSHAKE, True)
            raise


def _proxy_context(verify: ssl.SSLContext) -> ssl.SSLContext:
    """A context for an https:// proxy's own connection that checks as ``verify`` does
    (its CA bundle, or nothing), its failed handshakes marked as the proxy's."""
    context = (CAOnFirstUse(verify.cafile, verify.capath) if isinstance(verify, CAOnFirstUse)
               else httpx.create_ssl_context(verify=False))
    context.sslobject_class = _ProxyHandshake
    return context


def failure_cause(exc: BaseException) -> BaseException | None:
    """The exception to chain a connection error to: the low-level cause (an ``OSError``,
    httpcore's), never httpx's own, which holds the request (its URL and headers)."""
    inner = next((e for e in exception_chain(exc) if not isinstance(e, httpx.HTTPError)),
                 None)
    if inner is None or "://" in str(inner):
        return None
    return inner


class _AsyncBody:
    """An httpx answer's body still on the wire: ``aread1`` as served (never decoded),
    or :meth:`decoded` (Content-Encoding undone, for JSON and error bodies).

    A body of known length on a :class:`~registry_client.aio._network.BlockStream`
    is read from the connection's buffer directly (:class:`_DirectBody`), not through
    h11, httpcore and httpx, which copy each byte four times on its way.
    """

    __slots__ = ("_buffer", "_chunks", "_direct", "_loop", "_resp")

    def __init__(self, resp: httpx.Response) -> None:
        self._resp = resp
        self._loop = asyncio.get_running_loop()
        self._chunks: AsyncIterator[bytes] | None = None
        self._buffer = b""
        self._direct: _DirectBody | None = None

    async def aread1(self, amt: int) -> bytes:
        if self._direct is None and self._chunks is None:
            self._direct = _DirectBody.of(self._resp)
        if self._direct is not None:
            return await self._direct.read(amt)
        if not self._buffer:
            if self._chunks is None:
                self._chunks = self._resp.aiter_raw()
            try:
                self._buffer = await self._chunks.__anext__()
            except StopAsyncIteration:
                return b""
        block, self._buffer = self._buffer[:amt], self._buffer[amt:]
        return block

    async def thread_reader(self) -> _ThreadBody | None:
        """A blocking reader (``read1(amt, stop)``, ``close()``) of the rest of the body
        for a worker thread (a long body on a plain-TCP connection of ours, nothing of
        it read yet), or None."""
        if self._direct is None and self._chunks is None:
            self._direct = _DirectBody.of(self._resp)
        return None if self._direct is None else await self._direct.thread_reader()

    async def decoded(self, limit: int | None = None) -> AsyncIterator[bytes]:
        """The body in blocks, Content-Encoding undone (read it this way or by aread1).

        gzip and deflate (one coding or two) are inflated here in bounded steps
        (:class:`~registry_client._inflate.Inflater`; with ``limit``, no stage takes in
        more than a body that long could be encoded as): httpx inflates each received
        block whole, so one 64 KiB block of a compression bomb would cost ~64 MiB
        before any cap could see it. Other codings are httpx's to undo.
        """
        codings = codings_to_undo(self._resp.headers.get("Content-Encoding"))
        if codings is None or self._resp.is_stream_consumed:
            async for block in self._resp.aiter_bytes():
                yield block
            return
        try:
            inflater = Inflater(codings, limit)
            async for raw in self._resp.aiter_raw():
                for block in inflater.feed(raw):
                    yield block
            for block in inflater.flush():
                yield block
        except InflateCut as exc:  # (a body cut short, as a broken connection cuts one)
            raise httpx.ReadError(str(exc)) from None
        except InflateError as exc:  # (as httpx words a body that does not decode)
            raise httpx.DecodingError(str(exc)) from None

    async def aclose(self) -> None:
        await self._resp.aclose()

    def close(self) -> None:
        if self._resp.is_closed:
            return
        # from plain code (a flow's clean-up, maybe in a worker thread): closed on the loop
        with contextlib.suppress(RuntimeError):  # the loop is closed: so is the connection
            self._loop.call_soon_threadsafe(_close_soon, self._resp)


DIRECT_MIN = 4 << 20
"""Bodies this long are read past h11 (:class:`_DirectBody`); their connection is not
reused after them, which costs less than the copies saved (a TLS handshake: a few ms).
Over plain TCP from :data:`DIRECT_MIN_PLAIN` on."""

DIRECT_MIN_PLAIN = 1 << 20
"""Bodies this long on a plain-TCP connection are read past h11 (by a worker thread):
a new connection costs ~0.6 ms, and a 1 MiB blob through h11 cost 5.2 ms of CPU against
3.3 ms past it (2.2 ms for the blocking flavour); at 512 KiB, h11 costs less."""


class _DirectBody:
    """A body of ``Content-Length`` bytes read from its connection's
    :class:`BlockStream` as it arrives (an answer whose head h11 read, and nothing
    after it). A connection that ends early raises httpx's error for a cut body, in
    httpcore's words; the connection is closed with the answer (h11 never saw its end,
    so httpcore does not pool it)."""

    __slots__ = ("_left", "_length", "_stream", "_timeout")

    def __init__(self, stream: BlockStream, length: int, timeout: float | None) -> None:
        self._stream = stream
        self._length = self._left = length
        self._timeout = timeout

    @classmethod
    def of(cls, resp: httpx.Response) -> _DirectBody | None:
        """The direct reader of ``resp``'s body, or None when h11 must read it (a body
        without a length, chunked, or on another kind of connection)."""
        stream = resp.extensions.get("network_stream")
        if not isinstance(stream, BlockStream) or not stream.at_body:
            return None
        if resp.request.method == "HEAD" or resp.status_code not in (200, 206):
            return None
        length = content_length(resp.headers, decoded=False)
        least = DIRECT_MIN if stream.get_extra_info("ssl_object") is not None \
            else DIRECT_MIN_PLAIN
        if "Transfer-Encoding" in resp.headers or length is None or length < least:
            return None
        timeout = resp.request.extensions.get("timeout", {}).get("read")
        return cls(stream, length, timeout)

    async def thread_reader(self) -> _ThreadBody | None:
        """The body's blocking reader for a worker thread (see ``BlockStream.thread_reader``),
        with the same errors as :meth:`read`."""
        if self._left != self._length:
            return None
        reader = await self._stream.thread_reader(self._timeout)
        return None if reader is None else _ThreadBody(self, reader)

    def _cut(self) -> httpx.RemoteProtocolError:
        return httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body "
            f"(received {self._length - self._left} bytes, expected {self._length})")

    async def read(self, amt: int) -> bytes:
        if not self._left or amt <= 0:
            return b""
        try:
            data = await self._stream.read_body(min(amt, self._left), self._timeout)
        except httpcore.ReadTimeout as exc:
            raise httpx.ReadTimeout(str(exc)) from exc
        except httpcore.ReadError as exc:
            raise httpx.ReadError(str(exc)) from exc
        if not data:
            raise self._cut()
        self._left -= len(data)
        return data


def _read_error(exc: OSError) -> httpx.HTTPError:
    """A worker thread's socket failure in httpx's words (a stall: ReadTimeout)."""
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(str(exc) or "timed out")
    return httpx.ReadError(str(exc))


class _ThreadBody:
    """A :class:`_DirectBody` read by a worker thread: ``read1(amt, stop)``, ``close()``."""

    __slots__ = ("_body", "_reader")

    def __init__(self, body: _DirectBody, reader: ThreadReader) -> None:
        self._body = body
        self._reader = reader

    def read1(self, amt: int, stop: threading.Event) -> bytes:
        """Up to ``amt`` bytes of the body; b"" at its end.

        Raises:
            httpx.HTTPError: as :meth:`_DirectBody.read` (a cut, a stall, a failure).
            Stopped: ``stop`` was set.
        """
        body = self._body
        if not body._left or amt <= 0:
            return b""
        try:
            data = self._reader.read1(min(amt, body._left), stop)
        except OSError as exc:  # TimeoutError too
            raise _read_error(exc) from exc
        if not data:
            raise body._cut()
        body._left -= len(data)
        return data

    def readinto(self, view: memoryview, stop: threading.Event) -> int:
        """Fill ``view`` with the next bytes of the body (fewer only at its end or before
        a failure, which the next call raises), received straight into it.

        Raises:
            httpx.HTTPError: as :meth:`read1`.
            Stopped: ``stop`` was set.
        """
        body = self._body
        want = min(len(view), body._left)
        got = 0
        while got < want:
            try:
                n = self._reader.readinto(view[got:want], stop)
            except Stopped:
                if got:  # the bytes received first (a cancel keeps them); stop next call
                    return got
                raise
            except OSError as exc:  # TimeoutError too
                if got:  # the bytes before the failure first; it comes again next call
                    return got
                raise _read_error(exc) from exc
            if not n:
                if got:
                    return got
                raise body._cut()
            got += n
            body._left -= n
        return got

    def close(self) -> None:
        """Let go of the socket (the connection closes with the answer)."""
        self._reader.close()


_CLOSING: set[asyncio.Task[None]] = set()


def _close_soon(resp: httpx.Response) -> None:
    task = asyncio.ensure_future(resp.aclose())
    _CLOSING.add(task)  # kept alive until done
    task.add_done_callback(_CLOSING.discard)


class _WholeClose(httpx.AsyncByteStream):
    """An answer's stream whose close runs to its end whatever cancel comes meanwhile.

    httpcore gives a connection back to its pool at the end of the close of its answer,
    past awaits that its cancel shield (anyio's) does not guard from an asyncio cancel:
    cut there -- a pull under ``asyncio.wait_for``, cancelled as httpx closed the answer
    it had read to the end -- the connection stayed busy for good, one socket lost with
    each such cancel (26 after 200), which ``aclose()`` left open too.

    The close runs in the caller's task, as httpcore wants (its cancel scopes belong to
    the task that entered them): it nearly always ends without waiting (a kept-alive
    connection's locks are free asyncio locks, see ``quicken``); what it waits for when
    it does is waited for shielded, a cancel of the caller held back until the close has
    ended -- a task of its own for every close cost ~5 % of a manifest GET's CPU.
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inner.__aiter__()

    async def aclose(self) -> None:
        await _to_the_end(self._inner.aclose())


async def _to_the_end(work: Awaitable[None]) -> None:
    """Await ``work`` in this task to its end, whatever cancel comes meanwhile; the cancel
    is raised then (its cause the error ``work`` ended with, if any). (A task runs a
    coroutine by stepping it and waiting, between steps, for the future it yields; here
    each such wait is shielded.)"""
    steps = work.__await__()
    cancelled: asyncio.CancelledError | None = None
    try:
        while True:
            try:
                waits_for = steps.send(None)
            except StopIteration:
                break
            while True:  # until what it waits for is done (its result or error is its own)
                try:
                    if waits_for is None:  # a bare yield (asyncio.sleep(0)): one loop turn
                        await asyncio.sleep(0)
                    else:
                        await asyncio.shield(waits_for)
                except asyncio.CancelledError as exc:
                    if waits_for is not None and waits_for.cancelled():
                        break  # (its own cancel, not the caller's: work reads it)
                    cancelled = cancelled or exc
                    if waits_for is not None and not waits_for.done():
                        continue
                except Exception:  # (the future's error: work reads it)
                    pass
                break
    except Exception as exc:
        if cancelled is None:
            raise
        raise cancelled from exc
    finally:
        steps.close()  # (work cut short -- this task destroyed -- ends too)
    if cancelled is not None:
        raise cancelled


class _Hop:
    """A redirect followed on the way, as the exchange flow and the authenticators' hooks
    read it: its ``url`` and the ``request`` (with its ``method``) that got it."""

    __slots__ = ("request", "url")

    def __init__(self, hop: httpx.Response) -> None:
        self.url = str(hop.url)
        self.request = hop.request


class AsyncAnswer:
    """An httpx answer, body on the wire, as the exchange flow and the authenticators'
    hooks see it (the shape of a ``requests.Response``): ``status_code``, ``headers``
    (case-insensitive), ``url``, ``history`` (each hop with its ``url``), ``request``
    (the prepared request it answers, None for a token server's).
    """

    __slots__ = ("body", "headers", "history", "read", "request", "sent_auth_scheme",
                 "status_code", "url")

    def __init__(self, resp: httpx.Response, request: Any) -> None:
        self.status_code = resp.status_code
        self.headers: Mapping[str, str] = resp.headers
        self.url = str(resp.url)
        self.history = [_Hop(hop) for hop in resp.history]
        self.request = request
        self.sent_auth_scheme = auth_scheme_sent(resp)  # the last hop's request
        self.body = _AsyncBody(resp)
        self.read: bytes | None = None
        """The whole body once it was read (see ``_requester._read_capped``)."""

    def response(self, body: bytes | None) -> Response:
        """The library's answer: with ``body`` (read), or streamed when None."""
        return Response(
            self.status_code, self.headers, self.url, body,
            astream=self.body if body is None else None,
            history=tuple(hop.url for hop in self.history),
            sent_auth_scheme=self.sent_auth_scheme,
        )

    def close(self) -> None:
        """Release the connection soon (from plain code)."""
        self.body.close()

    async def aclose(self) -> None:
        """Release the connection."""
        await self.body.aclose()


async def _file_blocks(stream: IO[bytes]) -> AsyncIterator[bytes]:
    """A file's blocks, read on a thread of the body's own (the loop never waits on a
    disk; see :mod:`._pulls`)."""
    reads = PinnedPulls(functools.partial(stream.read, _FILE_BLOCK))
    try:
        while block := await reads.next():
            yield block
    finally:
        reads.close()


_SENT = bytes(_FILE_BLOCK)
"""What h11 is given for the bytes of a body a worker thread sent: it only counts them
(:meth:`BlockStream.write` writes nothing for them)."""


class _Target(NamedTuple):
    """Where a worker thread sends a body: the connection, its writer, the body's length."""

    on: BlockStream
    writer: ThreadWriter
    length: int


def _thread_writer(length: int | None) -> _Target | None:
    """For a body of ``length`` bytes (its Content-Length; None: chunked) whose request head
    just went out: the connection and a worker thread's writer of its socket, when the
    body is long and the connection one a thread may write (plain TCP, see
    :meth:`BlockStream.thread_writer`); else None."""
    on = request_stream()
    if on is None or length is None or length < DIRECT_MIN:
        return None
    writer = on.thread_writer()
    return None if writer is None else _Target(on, writer, length)


async def _thread_sent(target: _Target, read: Callable[[int, threading.Event], bytes],
                       ) -> AsyncIterator[bytes]:
    """A body sent on a worker thread straight to the socket its request head went out
    on: each block ``read(at_most, stop)`` gives (b"" at its end) is sent, until the
    Content-Length -- read, hashed and sent in one thread, as the blocking API sends, with
    no trip through the event loop, httpx, httpcore and h11 per block. h11 is then given
    as many bytes to count (fewer than the Content-Length: h11 raises its error, as for a
    short body given it). A cancel stops the thread within 0.1 s (see :func:`stoppable`).
    """
    on, writer, length = target

    def work(stop: threading.Event) -> int:
        sent = 0
        try:  # the writer's errors are httpcore's, the source's its own
            while sent < length and (block := read(length - sent, stop)):
                writer.send(block, stop)
                sent += len(block)
        finally:
            writer.close()
        return sent

    sent = await stoppable(work)
    on.sent_ahead(sent)
    while sent:
        n = min(sent, _FILE_BLOCK)
        yield _SENT if n == _FILE_BLOCK else _SENT[:n]
        sent -= n


async def _sized_blocks(stream: IO[bytes], length: int) -> AsyncIterator[bytes]:
    """A file body of ``length`` bytes (its Content-Length): sent by a worker thread when
    the connection allows it (:func:`_thread_sent`), else read on one."""
    target = _thread_writer(length)
    blocks = _file_blocks(stream) if target is None else _thread_sent(
        target, lambda at_most, stop: stream.read(min(_FILE_BLOCK, at_most)))
    async for block in blocks:
        yield block


async def _iterated(blocks: Iterable[bytes]) -> AsyncIterator[bytes]:
    """An iterable's blocks, pulled on a thread of the body's own (a generator reading a
    file)."""
    it: Iterator[bytes] = iter(blocks)
    done = object()
    pulls: PinnedPulls[object] = PinnedPulls(functools.partial(next, it, done))
    try:
        while (block := await pulls.next()) is not done:
            assert isinstance(block, bytes | bytearray | memoryview)
            yield bytes(block)
    finally:
        pulls.close()


async def _relayed(relay: Relay, length: int | None) -> AsyncIterator[bytes]:
    """A :class:`~registry_client._request.Relay` body (``length``: its Content-Length):
    each block read from the source answer as it arrives and shown to the relay's sink
    on its way. A long one goes from socket to socket on a worker thread when both
    connections allow it (:func:`_thread_sent`)."""
    target = _thread_writer(length)
    try:
        source = None if target is None else await relay.response.thread_reader()
    except BaseException:  # (a cancel): the duplicate socket is not left to the GC
        if target is not None:
            target.writer.close()
        raise
    if target is not None and source is not None:
        def read(at_most: int, stop: threading.Event) -> bytes:
            block: bytes = source.read1(min(relay.block_size, at_most), stop)
            if block:
                relay.sink(block)
            return block

        try:
            async for block in _thread_sent(target, read):
                yield block
        finally:
            source.close()
        return
    if target is not None:
        target.writer.close()
    while block := await relay.response.aread1(relay.block_size):
        relay.sink(block)
        yield block


def content(body: Body | None, headers: dict[str, str]) -> Any:
    """``body`` as httpx content: bytes as they are, files, iterables and relays as async
    blocks. A seekable file's remaining length becomes its ``Content-Length`` (as
    requests sends it), so it is not sent chunked."""
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if isinstance(body, Relay):
        return _relayed(body, _length(headers))
    read = getattr(body, "read", None)
    if callable(read):
        stream: IO[bytes] = body  # type: ignore[assignment]
        if "content-length" not in {k.lower() for k in headers}:
            try:
                if stream.seekable():
                    start = stream.tell()
                    headers["Content-Length"] = str(os.fstat(stream.fileno()).st_size - start)
            except (OSError, AttributeError, ValueError):
                pass
        size = _length(headers)

        def blocks() -> AsyncIterator[bytes]:
            return _file_blocks(stream) if size is None else _sized_blocks(stream, size)

        return _Resendable(stream, blocks) if _is_seekable(stream) else blocks()
    assert not isinstance(body, str)
    return _iterated(body)


def _is_seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (OSError, AttributeError, ValueError):
        return False


class _Resendable:
    """A seekable file's body that httpx may send again -- following a 307 or 308, which
    keep the method and the body -- from where it started, as requests rewinds one. (An
    async generator is sent once: httpx raises StreamConsumed on a redirect.)"""

    def __init__(self, stream: IO[bytes], blocks: Callable[[], AsyncIterator[bytes]]) -> None:
        self._stream = stream
        self._blocks = blocks
        self._start: int | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._start is None:
            self._start = self._stream.tell()
        else:  # (a seek: no disk I/O for the loop to wait on)
            self._stream.seek(self._start)
        return self._blocks()


def _length(headers: Mapping[str, str]) -> int | None:
    """The Content-Length of ``headers`` (None: none, the body goes chunked)."""
    length = next((v for k, v in headers.items() if k.lower() == "content-length"), "")
    return int(length) if length.isdigit() else None


def _with_params(url: str, params: Any) -> str:
    """``url`` with ``params`` added to its query as the blocking API adds them (requests'
    own encoding; httpx's ``params=`` would replace the query a ``Location`` carries)."""
    if not params:
        return url
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, params)
    return prepared.url or url


class CAOnFirstUse(ssl.SSLContext):
    """A client TLS context whose CA bundle is loaded at the first handshake, not when
    the client is made: loading one takes tens of milliseconds of the event loop, which
    a plain-HTTP registry never needs. ``cafile`` / ``capath``: the bundle to trust
    (neither: certifi's, as requests trusts by default)."""

    def __new__(cls, cafile: str | None = None, capath: str | None = None) -> CAOnFirstUse:
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self, cafile: str | None = None, capath: str | None = None) -> None:
        self.cafile, self.capath = cafile, capath
        self.loaded = False
        tls_settings(self)  # (the blocking flavour's: one certificate, one verdict)

    def _load(self) -> None:
        if self.loaded:
            return
        cafile, capath = self.cafile, self.capath
        if cafile is None and capath is None:
            # (SSL_CERT_FILE / SSL_CERT_DIR are read with the other variables, for both
            # flavours: EnvSettings)
            import certifi  # httpx's own dependency; requests' default bundle too

            cafile = certifi.where()
        self.load_verify_locations(cafile=cafile, capath=capath)
        self.loaded = True

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self._load()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._load()
        return super().wrap_socket(*args, **kwargs)


def _verify_context(verify: bool | str) -> ssl.SSLContext:
    """``verify`` as one context for every transport of the client (its CA bundle loaded
    at the first handshake)."""
    where = ca_locations(verify)
    if where is None:
        return httpx.create_ssl_context(verify=False)
    return CAOnFirstUse(*where)


class SocksMissing(httpx.TransportError):
    """httpx cannot speak to a SOCKS proxy: socksio is not installed."""


def _proxy_transport(proxy: str, *, verify: ssl.SSLContext,
                     limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's transport through ``proxy``; SocksMissing for a SOCKS one httpx cannot
    speak (httpx raises a bare ImportError)."""
    # An https:// proxy's own certificate is checked as the registry's is (verify=, the
    # CA bundle variables), as requests does: httpx checks it against its defaults else.
    via: str | httpx.Proxy = (httpx.Proxy(proxy, ssl_context=_proxy_context(verify))
                              if proxy.lower().startswith("https://") else proxy)
    try:
        return httpx.AsyncHTTPTransport(verify=verify, limits=limits, proxy=via)
    except ImportError as exc:
        raise SocksMissing(str(exc)) from None


def _answered(resp: httpx.Response) -> httpx.Response:
    """``resp`` as every answer is read: closed whole (:class:`_WholeClose`), and without
    its ``Location`` when that is empty -- a redirect to nowhere is no redirect, as
    requests reads it (the 3xx is the final answer); httpx would follow it back to the
    same URL, 20 times."""
    if isinstance(resp.stream, httpx.AsyncByteStream):
        resp.stream = _WholeClose(resp.stream)
    if "Location" in resp.headers and not resp.headers["Location"].strip():
        del resp.headers["Location"]
    return resp


class _Answers(httpx.AsyncBaseTransport):
    """A transport whose answers go through :func:`_answered`."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return _answered(await self.inner.handle_async_request(request))

    async def aclose(self) -> None:
        await self.inner.aclose()


class _EnvRoutes(httpx.AsyncBaseTransport):
    """The transport of every request not to the registry's own origin (a token realm, a
    blob's storage): straight, or through the proxy the environment names for its URL,
    decided by the blocking flavour's rules (``EnvSettings``: HTTP(S)_PROXY / NO_PROXY as
    requests reads them, and this machine's hosts -- all of 127.0.0.0/8, ``::1``,
    ``localhost`` -- never proxied). A URL no connection can be made to (a redirect to
    port 99999) is refused up front, as requests refuses it; httpx would fail deep in
    the connect with an untyped error."""

    def __init__(self, env: EnvSettings, *, verify: ssl.SSLContext,
                 limits: httpx.Limits) -> None:
        self._env = env
        self._verify = verify
        self._limits = limits
        self._direct = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
        self._proxied: dict[str, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        port = request.url.port
        if port is not None and not 0 < port < 65536:
            raise httpx.InvalidURL("Port out of range")
        url = str(request.url)
        # (settings_for gives "proxy.corp:3128" as http://, as requests and httpx read it)
        proxy = select_proxy(url, self._env.settings_for(url)[0])
        if not proxy:
            return await self._direct.handle_async_request(request)
        route = self._proxied.get(proxy)
        if route is None:
            route = self._proxied[proxy] = _proxy_transport(
                proxy, verify=self._verify, limits=self._limits)
        return await route.handle_async_request(request)

    async def aclose(self) -> None:
        for route in (self._direct, *self._proxied.values()):
            await route.aclose()


_HTTPX_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2",
                  "httpcore.proxy", "httpcore.socks")
"""The loggers httpx and httpcore log a request to: its URL at INFO (httpx), an answer's
headers -- a redirect's signed ``Location`` -- at DEBUG (httpcore)."""


class _Pool:
    """The pooled client of one event loop, its transport to the registry's own origin,
    and what closes it with its loop."""

    __slots__ = ("block", "client", "guard")

    def __init__(self) -> None:
        self.client: httpx.AsyncClient | None = None
        self.block: BlockTransport | None = None
        self.guard: AsyncGenerator[None, None] | None = None


class AsyncTransport:
    """The pooled ``httpx.AsyncClient`` of one registry, with its proxies, TLS and
    User-Agent (what went over it is counted by the exchange flow, as for the blocking
    ``Transport``).

    Args:
        base_url: ``scheme://host[:port]`` of the registry (its TLS settings are the
            client's).
        timeout: ``(connect, read)`` seconds, or one number for both.
        verify: TLS verification: True, False or a CA bundle path (REQUESTS_CA_BUNDLE /
            CURL_CA_BUNDLE apply as for the blocking API).
        proxy: one proxy URL for http and https (default: HTTP(S)_PROXY / NO_PROXY).
        user_agent: the User-Agent header value.
        pool_size: connections kept per host.
        transport: an httpx transport to send through (tests: ``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: Timeout,
        verify: bool | str | os.PathLike[str],
        proxy: str | None,
        user_agent: str | None,
        pool_size: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.verify: bool | str = os.fspath(verify) if isinstance(verify, os.PathLike) else verify
        # a proxy written without a scheme is http://, as requests reads it
        self.proxy = with_scheme(proxy) if proxy else proxy
        self.proxies = {"http": self.proxy, "https": self.proxy} if self.proxy else {}
        self.user_agent = user_agent or _DEFAULT_UA
        self.pool_size = pool_size
        # requests' reading of the environment, so both flavours honour the same variables
        self._env = EnvSettings(requests.Session(), self.proxies, self.verify)
        watch_foreign_logs(*_HTTPX_LOGGERS)
        self._mock = transport
        # a pooled client per event loop (connections belong to the loop they were opened
        # on): one loop after another, or several at once in threads of their own
        self._pools: dict[asyncio.AbstractEventLoop | None, _Pool] = {}

    def __repr__(self) -> str:
        return f"AsyncTransport({redact_url(self.base_url)!r})"

    @staticmethod
    def _timeout(value: Timeout) -> httpx.Timeout:
        connect, read = value if isinstance(value, tuple) else (value, value)
        # pool=None: waiting for a free connection of our own pool is not the network's fault
        return httpx.Timeout(connect=connect, read=read, write=read, pool=None)

    def proxied(self, url: str) -> bool:
        """Whether a request to ``url`` goes through a proxy (``proxy=``, or
        HTTP(S)_PROXY / NO_PROXY)."""
        return self._mock is None and bool(select_proxy(url, self._env.settings_for(url)[0]))

    @property
    def client(self) -> httpx.AsyncClient:
        """The pooled client, made on first use (when the CA bundle is checked).

        Raises:
            RegistrySSLError: the CA bundle to use does not exist.
        """
        pool = self._pool()
        if pool.client is None:
            proxies, verify = self._env.settings_for(self.base_url)
            context = _verify_context(verify)
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=self.pool_size)
            mounts: dict[str, httpx.AsyncBaseTransport] = {}
            if self._mock is None and not select_proxy(self.base_url, proxies):
                # the registry's own origin, reached directly: read in large blocks
                mounts[self.base_url] = pool.block = BlockTransport(verify=context,
                                                                    limits=limits)
            routes = None
            if self._mock is None and not self.proxy:
                # HTTP(S)_PROXY / NO_PROXY as the blocking flavour reads them (this
                # machine's hosts never proxied, as Go's ProxyFromEnvironment does)
                routes = _EnvRoutes(self._env, verify=context, limits=limits)
            if self.proxy and self._mock is None:  # proxy= is for every host, ours too
                mounts["all://"] = _proxy_transport(self.proxy, verify=context, limits=limits)
            default = self._mock or routes
            pool.client = httpx.AsyncClient(
                verify=context,
                trust_env=False,  # (the environment is read by EnvSettings, for both)
                timeout=self._timeout(self.timeout),
                limits=limits,
                headers={"User-Agent": self.user_agent},
                transport=None if default is None else _Answers(default),
                mounts={k: _Answers(v) for k, v in mounts.items()} or None,
            )
        return pool.client

    def _pool(self) -> _Pool:
        """The running event loop's pool (None's outside any loop), made on first use."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools.setdefault(loop, _Pool())
        return pool

    async def send(
        self, method: str, url: str, *, params: Any = None,
        headers: Mapping[str, str] | None = None, body: Body | None = None,
        allow_redirects: bool = True, timeout: Timeout | None = None,
    ) -> Response:
        """Send one request; the answer's body is left on the wire (``aread1`` it, or
        ``aclose`` it). Redirects are followed when ``allow_redirects`` (a blob GET to its
        storage host; ``Authorization`` is never sent to another origin).

        Raises:
            httpx.HTTPError: the request failed (see :func:`failure`).
            RegistrySSLError: the CA bundle to use does not exist.
        """
        answer = await self.transmit(method, url, params=params, headers=headers, body=body,
                                     allow_redirects=allow_redirects, timeout=timeout)
        return answer.response(None)

    async def transmit(
        self, method: str, url: str, *, params: Any = None,
        headers: Mapping[str, str] | None = None, body: Body | None = None,
        allow_redirects: bool = True, timeout: Timeout | None = None, request: Any = None,
    ) -> AsyncAnswer:
        """:meth:`send`, the answer as the exchange flow and authenticators see it
        (``request``: the prepared request it answers, for the authenticator's hooks)."""
        t0 = time.monotonic()
        await self._on_this_loop()
        client = self.client
        merged = dict(headers or {})
        data = content(body, merged)
        sent = len(data) if isinstance(data, bytes) else 0
        built = client.build_request(
            method, _with_params(url, params), headers=merged, content=data,
            timeout=self._timeout(timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT)
        resp = None
        token = sending()  # (httpx's and httpcore's records of it masked)
        try:
            if data is None and built.method in ("GET", "HEAD"):
                resp = await self._send_alone(client, built, allow_redirects)
            if resp is None:
                resp = await client.send(built, stream=True, follow_redirects=allow_redirects)
        finally:
            done_sending(token)
        log.debug(
            "%s %s -> %s in %.3fs (sent %d bytes, length %s)",
            method.upper(), redact_url(url), resp.status_code, time.monotonic() - t0, sent,
            resp.headers.get("Content-Length", "?"),
        )
        return AsyncAnswer(resp, request)

    async def _send_alone(self, client: httpx.AsyncClient, request: httpx.Request,
                          allow_redirects: bool) -> httpx.Response | None:
        """``client.send(request, stream=True)`` for a GET or HEAD to the registry itself
        (not a blob, which a registry may redirect to its storage), straight to the
        transport; None when ``client.send`` must send it.

        The client's steps around the transport -- auth and redirect loops, the transport
        looked up among the mounts, every answer's cookies parsed, its stream wrapped --
        are a fifth of the CPU of a manifest GET, and none applies here: the client has
        no auth and no hooks, a cookie the registry sets is still kept. An answer that
        redirects after all is closed and the request goes through ``client.send``
        (sent twice: a GET or HEAD may be).
        """
        block = self._pool().block
        if (block is None or client.auth is not None or any(client.event_hooks.values())
                or not str(request.url).startswith(self.base_url + "/")
                or "/blobs/" in request.url.path):
            return None
        resp = _answered(await block.handle_async_request(request))
        resp.request = request
        if "set-cookie" in resp.headers:
            client.cookies.extract_cookies(resp)
        if allow_redirects and resp.has_redirect_location:
            await resp.aclose()
            return None
        return resp

    async def _on_this_loop(self) -> None:
        """Make sure the running event loop's pool closes with the loop.

        Connections belong to the loop they were opened on: one AsyncRegistry used from
        a new loop (``asyncio.run`` again, a test runner's loop per test, a loop in
        another thread) gets a pool of that loop's own, closed when that loop finalizes
        its async generators (``asyncio.run`` and ``asyncio.Runner`` do, before closing).
        The pools of loops that closed otherwise are dropped, never awaited on a loop
        that is gone.
        """
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is not None and pool.guard is not None:
            return
        self._drop_closed_loops()
        pool = self._pool()
        pool.guard = guard = self._closed_with(loop, pool)
        await guard.__anext__()

    def _drop_closed_loops(self) -> None:
        """Forget the pools of loops closed without shutting them down (never awaited on
        a loop that is gone: their sockets close when collected)."""
        for loop in list(self._pools):
            if loop is not None and loop.is_closed():
                self._pools.pop(loop, None)

    async def _closed_with(self, loop: asyncio.AbstractEventLoop,
                           pool: _Pool) -> AsyncGenerator[None, None]:
        """Suspended while ``loop`` runs; finalized as it shuts down, it closes ``pool``
        (the loop's, or one :meth:`aclose` closed while requests still used it): its
        connections, busy ones too -- none left to the garbage collector."""
        try:
            yield
        finally:
            if self._pools.get(loop) is pool:
                self._pools.pop(loop, None)
            if pool.client is not None:
                await pool.client.aclose()
            if pool.block is not None:  # busy connections too: the loop goes
                await pool.block.aclose_for_good()

    async def aclose(self) -> None:
        """Close the pooled connections of the running loop (those of loops that ended
        are dropped; those of loops still running close with them)."""
        loop = asyncio.get_running_loop()
        self._drop_closed_loops()
        self._pools.pop(None, None)  # (a client made outside any loop has no connection)
        pool = self._pools.pop(loop, None)
        if pool is None:
            return
        if pool.client is not None:
            await pool.client.aclose()  # (requests still running end first)
        if pool.guard is not None and (pool.block is None or pool.block.idle()):
            await pool.guard.aclose()
        # else its guard stays: it closes what requests still use when the loop goes
