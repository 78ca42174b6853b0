"""httpcore's sockets, read in large blocks: the network backend of :class:`AsyncTransport`.

httpcore's own asyncio backend (anyio) hands the HTTP layer at most 64 KiB per read,
often less, and pauses and resumes the socket's reader around each one: draining a
256 MiB blob takes some 8000 trips through anyio, httpcore, h11 and httpx, and the
event loop spends more time on them than the blocking API spends reading, hashing and
writing the blob. :class:`BlockBackend` reads each socket into a buffer of its own
(``read_size`` bytes, 1 MiB) as data arrives, and hands over all that has arrived --
up to ``read_size`` bytes, more than httpcore asks for (h11 takes any amount) -- in
one read: a few hundred trips for the same blob, each short enough for the loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import socket
import ssl
import sys
import threading
import time
import typing
from collections.abc import Callable

# httpcore's pool locks run on anyio under asyncio, and anyio imports its asyncio backend
# at the first lock: 30-50 ms inside the application's first request. Imported here,
# with the rest of the HTTP stack, as the blocking API imports requests up front.
import anyio._backends._asyncio  # noqa: F401
import httpcore
import httpx
from httpcore._utils import is_socket_readable

__all__ = ["READ_SIZE", "BlockBackend", "BlockStream", "BlockTransport", "LinearPool", "Stopped",
           "ThreadReader", "ThreadWriter", "quicken", "request_stream"]

_T = typing.TypeVar("_T")

READ_SIZE = 1 << 20
"""Bytes one read may hand over (and the receive buffer of each connection)."""

_FIRST_BUFFER = 64 * 1024
"""A connection's receive buffer until a body the loop reads fills it."""

_HEAD_SEARCH = 64 * 1024
"""How far into a read an answer's head is looked for (a longer head goes through h11
with its body)."""

_Sockopts = typing.Iterable[
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]]


def _check_status_line(first: bytes) -> None:
    """Refuse an answer whose first bytes are no HTTP status line (an SSH banner, a
    database's greeting) at once, as http.client does: h11 waits for a whole head
    first, and a server that sent one line and waits would be a read timeout.

    Raises:
        httpcore.RemoteProtocolError: in h11's words ("illegal status line: ...").
    """
    start = first.lstrip(b"\r\n")
    if start[:5] == b"HTTP/"[:len(start[:5])]:  # HTTP/..., or too little to tell
        return
    line = start.split(b"\r\n", 1)[0][:200]
    raise httpcore.RemoteProtocolError(f"illegal status line: {bytearray(line)!r}")


def _tls_failure(reason: str) -> ssl.SSLError:
    """The SSLError OpenSSL raises for ``reason`` in a handshake (``WRONG_VERSION_NUMBER``:
    the server's first bytes are no TLS; ``UNEXPECTED_EOF_WHILE_READING``: it hung up)."""
    failure = ssl.SSLError(1, f"[SSL: {reason}] {reason.lower().replace('_', ' ')}")
    failure.library, failure.reason = "SSL", reason
    return failure



async def _wait_for(aw: typing.Awaitable[_T], timeout: float | None) -> _T:
    """``asyncio.wait_for(aw, timeout)``, which never drops a cancel.

    Before Python 3.12, ``wait_for`` returned the result and dropped a cancel that came
    in the loop turn the awaited thing ended in (gh-86296): an ``asyncio.timeout()`` or
    ``task.cancel()`` around a download went unheeded while its bytes kept coming.
    There, a timer cancels what is awaited instead, and a cancel of the caller goes on.

    Raises:
        asyncio.TimeoutError: ``timeout`` seconds passed first.
    """
    if sys.version_info >= (3, 12) or timeout is None:
        return await (asyncio.wait_for(aw, timeout) if timeout is not None else aw)
    cancelling = getattr(asyncio.current_task(), "cancelling", None)
    if cancelling is None:
        return await _wait_for_uncounted(aw, timeout)
    inner = asyncio.ensure_future(aw)
    expired = False
    before = cancelling()  # (the caller's cancels so far)

    def expire() -> None:
        nonlocal expired
        expired = True
        inner.cancel()

    timer = asyncio.get_running_loop().call_later(max(timeout, 0.0), expire)
    try:
        return await inner
    except asyncio.CancelledError:
        if expired and not cancelling() > before:
            raise asyncio.TimeoutError from None
        raise
    finally:
        timer.cancel()


async def _wait_for_uncounted(aw: typing.Awaitable[_T], timeout: float) -> _T:
    """:func:`_wait_for` where tasks do not count their cancels (Python 3.10).

    The timer cancelling what is awaited and a cancel of the caller in the same loop
    turn both reach the caller as that thing's CancelledError: the caller waits on a
    future of its own instead, which the end of the awaited thing or the timer settles,
    and which only the caller's cancel can cancel.
    """
    loop = asyncio.get_running_loop()
    inner = asyncio.ensure_future(aw)
    woken: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        _settle(woken)

    timer = loop.call_later(max(timeout, 0.0), wake)
    inner.add_done_callback(wake)
    try:
        await woken
    except asyncio.CancelledError:  # the caller's: it goes on, whatever inner did
        await _cancelled(inner)
        raise
    finally:
        timer.cancel()
        inner.remove_done_callback(wake)
    if not inner.done():  # the time is up
        await _cancelled(inner)
        if inner.cancelled():
            raise asyncio.TimeoutError
    return inner.result()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _cancelled(fut: asyncio.Future[typing.Any]) -> None:
    """Cancel ``fut`` and wait until it has ended (its error, if it ended so, taken)."""
    if not fut.done():
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda _: _settle(ended))
        fut.cancel()
        await ended
    if not fut.cancelled():
        fut.exception()  # (not logged as never retrieved: the cancel is what goes on)

def _reading(transport: asyncio.Transport, on: bool) -> None:
    """Resume (``on``) or pause the reading of ``transport``. Python 3.10's TLS transport
    raises AttributeError once it lost its connection (its protocol's transport gone,
    before the reader is told): nothing is left to read then -- the reader hears of the
    loss next."""
    try:
        if on:
            transport.resume_reading()
        else:
            transport.pause_reading()
    except (AttributeError, RuntimeError):
        pass


class _Reader(asyncio.BufferedProtocol):
    """Receives a connection's bytes straight into a buffer of up to ``size`` bytes (a
    small one until a body the loop reads fills it: most answers are small, many
    connections may be open, and a worker thread reads a long body from the socket);
    the reader pauses while the buffer is full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.buffer = bytearray(min(size, _FIRST_BUFFER))
        self.start = 0  # buffer[start:filled] was received, not yet taken
        self.filled = 0
        self.eof = False
        self.error: BaseException | None = None
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.want = 1  # bytes a reader waits for
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._write_paused = False
        self.head = False  # a request went out: the bytes to come start an answer
        self.fresh = False  # ... and none of them was handed over yet
        self.tail = b""  # the last bytes handed over while reading a head
        self.at_body = False  # the last read ended with an answer's head, nothing since

    # -- asyncio's side ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (no isinstance check: uvloop's transports do all an asyncio.Transport does
        # without being one)
        self.transport = typing.cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.filled == len(self.buffer):
            # No room: a transport handing over more after it was asked to pause --
            # Python 3.10's TLS one hands over all it decrypted (an empty buffer failed
            # the connection). What is held moves to the front, or the buffer grows.
            if self.start:
                rest = self.available
                self.buffer[:rest] = self.buffer[self.start:self.filled]
                self.start, self.filled = 0, rest
            else:  # (a new one: the last view handed out may still be held)
                grown = bytearray(len(self.buffer) + max(sizehint, _FIRST_BUFFER))
                grown[:self.filled] = memoryview(self.buffer)[:self.filled]
                self.buffer = grown
        return memoryview(self.buffer)[self.filled:]

    def buffer_updated(self, nbytes: int) -> None:
        self.filled += nbytes
        full = self.filled == len(self.buffer)
        if full and len(self.buffer) < self.size and self._waiter is not None \
                and not self.head:
            # a long body the loop reads: the full-size buffer. Else (an answer's head
            # waited for, or nobody waiting) reading pauses: a worker thread that takes
            # a long body over reads the socket itself, and needs none of it copied here
            grown = bytearray(self.size)
            grown[: self.available] = memoryview(self.buffer)[self.start:self.filled]
            self.buffer, self.start, self.filled = grown, 0, self.available
            full = False
        if full and self.transport is not None:
            _reading(self.transport, False)
            self.paused = True
        if full or self.available >= self.want:
            self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.error = exc
        self.eof = True
        self._wake()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # -- the stream's side -------------------------------------------------------------
    async def wait_readable(self, timeout: float | None, want: int = 1) -> None:
        """Wait until ``want`` bytes arrived (fewer when the buffer is full) or the peer
        closed; TimeoutError when nothing arrives for ``timeout`` seconds."""
        want = max(1, min(want, self.size))
        if self.start + want > len(self.buffer) and self.start:
            self._compact()
        while self.available < want and not self.eof and not self.paused:
            self.want = want
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait_for(self._waiter, timeout)
            except asyncio.TimeoutError:
                if not self.available:  # nothing at all for ``timeout``
                    raise TimeoutError("timed out") from None
                break  # some came, slowly: hand over that
            finally:
                self._waiter = None
                self.want = 1

    @property
    def available(self) -> int:
        """Bytes received, not yet taken."""
        return self.filled - self.start

    def take(self, amt: int) -> bytes:
        """Up to ``amt`` bytes from the front of what was received."""
        end = min(self.start + amt, self.filled)
        data = bytes(memoryview(self.buffer)[self.start:end])
        if end == self.filled:  # all taken: the buffer fills from its start again
            self.start = self.filled = 0
            if self.paused and self.transport is not None:
                self.paused = False
                _reading(self.transport, True)
        else:
            self.start = end
        return data

    def _compact(self) -> None:
        """Move what was not taken to the buffer's start (room for a whole block)."""
        rest = self.available
        self.buffer[:rest] = self.buffer[self.start:self.filled]
        self.start, self.filled = 0, rest
        if self.paused and self.transport is not None:
            self.paused = False
            _reading(self.transport, True)

    async def drained(self, timeout: float | None) -> None:
        """Wait while the transport's write buffer is over its limit."""
        if self._write_paused and self.transport is not None \
                and not self.transport.is_closing():
            self._drained = asyncio.get_running_loop().create_future()
            try:
                await _wait_for(self._drained, timeout)
            except asyncio.TimeoutError:
                raise TimeoutError("timed out") from None
            finally:
                self._drained = None


_WRITTEN: contextvars.ContextVar[BlockStream | None] = contextvars.ContextVar(
    "registry_client_written", default=None)
"""The connection the running task wrote a request head to last (see :func:`request_stream`)."""


def request_stream() -> BlockStream | None:
    """For a request body being sent: the connection its head just went out on, when a
    worker thread may send the body straight to the socket (:meth:`BlockStream.thread_writer`);
    None otherwise (httpcore's own streams, TLS, or a head not written here)."""
    stream = _WRITTEN.get()
    _WRITTEN.set(None)
    return stream


def _unsent(transport: asyncio.Transport) -> int:
    """The bytes ``transport`` holds that the peer has not taken. (0 for Python 3.10's TLS
    transport once the connection is lost, which raises AttributeError for it.)"""
    try:
        return transport.get_write_buffer_size()
    except AttributeError:
        return 0


class BlockStream(httpcore.AsyncNetworkStream):
    """One connection, read in blocks of up to ``read_size`` bytes (see the module)."""

    def __init__(self, transport: asyncio.Transport, reader: _Reader, read_size: int) -> None:
        self._transport = transport
        self._reader = reader
        self._read_size = read_size
        self._sent_ahead = 0  # body bytes a ThreadWriter sent that h11 has not written yet
        self._owner: asyncio.Task[typing.Any] | None = None  # the task that wrote last
        self._write_timeout: float | None = None  # httpcore's, at that write

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        reader = self._reader
        reader.at_body = False
        if not reader.available:
            await self._wait(timeout)
        if reader.available:
            if reader.head:
                return self._head()
            return reader.take(max(max_bytes, self._read_size))
        if reader.error is not None:
            raise httpcore.ReadError(reader.error) from reader.error
        return b""

    def _head(self) -> bytes:
        """The bytes up to the end of the answer's head (when it is in the buffer): the
        body stays here, for :meth:`read_body` to hand over without h11."""
        reader = self._reader
        seen = reader.tail
        window = bytes(memoryview(reader.buffer)[
            reader.start:reader.start + min(reader.available, _HEAD_SEARCH)])
        if reader.fresh:
            reader.fresh = False
            _check_status_line(window)
        end = (seen + window).find(b"\r\n\r\n")
        if end < 0:  # not yet: hand over the window, look on from there next time
            data = reader.take(len(window))
            reader.tail = (seen + data)[-3:]
            return data
        reader.head, reader.tail, reader.at_body = False, b"", True
        return reader.take(end + 4 - len(seen))

    @property
    def at_body(self) -> bool:
        """True while nothing of the answer's body has been read (h11 has its head only):
        :meth:`read_body` may read it."""
        return self._reader.at_body

    async def read_body(self, amt: int, timeout: float | None = None) -> bytes:
        """Up to ``amt`` bytes of the body that follows the head (b"" when the peer closed).

        For a body read here, not through h11: the connection is not reused after it
        (httpcore closes an answer whose body h11 did not see end).
        """
        reader = self._reader
        if reader.available < amt:  # a whole block when it comes fast enough (no join)
            await self._wait(timeout, amt)
        if reader.available:
            return reader.take(amt)
        if reader.error is not None:
            raise httpcore.ReadError(reader.error) from reader.error
        return b""

    async def _wait(self, timeout: float | None, want: int = 1) -> None:
        try:
            await self._reader.wait_readable(timeout, want)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(exc) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._sent_ahead:  # sent by a ThreadWriter already: h11 only counts it
            if len(buffer) > self._sent_ahead:
                raise httpcore.WriteError("more body than the worker thread sent")
            self._sent_ahead -= len(buffer)
            return
        reader = self._reader
        reader.head, reader.tail, reader.at_body = True, b"", False
        reader.fresh = True
        if reader.error is not None or self._transport.is_closing():
            raise httpcore.WriteError(reader.error or "connection closed")
        # A view: what the socket does not take at once is copied into the transport's
        # buffer either way, but asyncio (3.11) first slices the rest of a bytes object
        # into a new one -- up to 1 MiB allocated and copied again per block of a body.
        self._transport.write(memoryview(buffer))
        try:
            await reader.drained(timeout)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(exc) from exc
        if reader.error is not None:
            raise httpcore.WriteError(reader.error) from reader.error
        self._owner = asyncio.current_task()
        self._write_timeout = timeout
        _WRITTEN.set(self)

    def thread_writer(self) -> ThreadWriter | None:
        """A worker thread's writer of the body of the request this task just sent the
        head of (plain TCP, the head wholly handed to the socket, no answer yet), or None.

        What it sends goes to :meth:`sent_ahead` before h11 is given as many bytes.
        """
        transport, reader = self._transport, self._reader
        if self._owner is not asyncio.current_task() or not reader.head or reader.available \
                or reader.eof or transport.get_extra_info("ssl_object") is not None \
                or transport.is_closing() or _unsent(transport):
            return None
        sock = transport.get_extra_info("socket")
        if sock is None or sock.fileno() < 0:
            return None
        return ThreadWriter(socket.socket(fileno=os.dup(sock.fileno())), self._write_timeout)

    def sent_ahead(self, n: int) -> None:
        """The next ``n`` bytes h11 writes went out already (by a :class:`ThreadWriter`)."""
        self._sent_ahead += n

    async def aclose(self) -> None:
        transport = self._transport
        if _unsent(transport) or self._reader.paused \
                or transport.get_extra_info("ssl_object") is not None:
            # bytes the peer never took (a body that timed out): asyncio's close() would
            # hold the socket open until they are sent -- for ever, or until the peer
            # hangs up. Nobody wants them any more: httpcore closes a connection when its
            # exchange is over or failed. Likewise a paused reading (a body left unread),
            # and TLS: asyncio's TLS close waits for the server's close_notify -- for
            # ever on Python 3.10 when the server stalls, 30 s on 3.11 -- which HTTP,
            # its answers framed, does not need
            transport.abort()
        else:
            transport.close()

    async def thread_reader(self, timeout: float | None) -> ThreadReader | None:
        """Hand the rest of the connection to a worker thread (plain TCP only): asyncio
        stops reading it, and the thread reads what was received, then the socket.

        The connection is not usable by asyncio afterwards; close it.
        """
        if self._transport.get_extra_info("ssl_object") is not None:
            return None
        sock = self._transport.get_extra_info("socket")
        if sock is None or sock.fileno() < 0:
            return None
        self._transport.pause_reading()
        self._reader.paused = False  # never resumed: the thread owns the socket now
        await asyncio.sleep(0)  # a receive already scheduled lands in the buffer first
        try:
            # (the hang-up that receive brought may have closed the socket meanwhile:
            # then the loop reads what arrived, and the cut is the loop's to report)
            copy = os.dup(sock.fileno())
        except OSError:
            return None
        return ThreadReader(self._reader, socket.socket(fileno=copy), timeout)

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        reader = self._reader
        if reader.available or reader.eof:
            # What the server sent before our hello (an SSH or SMTP greeting), or its
            # hang-up, reached the plain reader: the handshake would never see it and wait
            # out the timeout. OpenSSL's words for each, as the blocking flavour hears them.
            self._transport.close()
            raise httpcore.ConnectError(_tls_failure(
                "WRONG_VERSION_NUMBER" if reader.available else "UNEXPECTED_EOF_WHILE_READING"))
        starting = asyncio.ensure_future(loop.start_tls(
            self._transport, reader, ssl_context, server_hostname=server_hostname))
        try:
            tls = await _wait_for(starting, timeout)
        except asyncio.CancelledError:
            # the TLS connection made, or the TCP one (which asyncio closes only for a
            # handshake under way; httpcore never closes a stream whose start_tls failed)
            made = _made(starting)
            (made if made is not None else self._transport).close()
            raise
        except asyncio.TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout(exc) from exc
        except ConnectionResetError as exc:
            self._transport.close()
            if exc.errno is None:  # asyncio's word for a FIN in the handshake, not a reset
                raise httpcore.ConnectError(_tls_failure("UNEXPECTED_EOF_WHILE_READING")) \
                    from exc
            raise httpcore.ConnectError(exc) from exc
        except (OSError, ssl.SSLError) as exc:  # SSLError is an OSError; said for the reader
            self._transport.close()
            raise httpcore.ConnectError(exc) from exc
        tls = typing.cast(asyncio.Transport, tls)  # (uvloop's: see _Reader.connection_made)
        self._reader.transport = tls
        return BlockStream(tls, self._reader, self._read_size)

    def get_extra_info(self, info: str) -> typing.Any:
        transport = self._transport
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        if info == "is_readable":
            # an idle pooled connection with something to read was closed by the server
            reader = self._reader
            if reader.available or reader.eof:
                return True
            if not reader.paused:
                try:
                    reading = transport.is_reading()
                except RuntimeError:  # (3.10's TLS transport, its connection lost: gone)
                    return True
                if reading:
                    # the loop reads this socket whenever it is readable: what came (a
                    # hang-up included) is in the reader. httpcore asks for every idle
                    # connection each time it places a request; a poll() each is the
                    # largest part of 200 gathered manifest GETs' pool work
                    return False
            sock = transport.get_extra_info("socket")
            return sock is not None and is_socket_readable(sock)
        return None


class Stopped(Exception):
    """A :class:`ThreadReader`'s read was called off (its ``stop`` event was set)."""


class ThreadReader:
    """The rest of a body, read by a worker thread: first what the connection's buffer
    holds, then the socket itself (a duplicate of its descriptor), as the blocking API
    reads -- received, hashed and written in one thread, with no hop to the loop.

    ``read1`` waits in short slices so a ``stop`` event is seen within 0.1 s.
    """

    _SLICE = 0.1

    def __init__(self, reader: _Reader, sock: socket.socket, timeout: float | None) -> None:
        self._reader = reader
        self._sock = sock
        self._timeout = timeout
        sock.settimeout(self._SLICE)

    def read1(self, amt: int, stop: threading.Event) -> bytes:
        """Up to ``amt`` bytes (b"" when the peer closed).

        Raises:
            TimeoutError: nothing came for the read timeout.
            OSError: the connection failed.
            Stopped: ``stop`` was set.
        """
        held = self._held(amt)
        if held is not None:
            return bytes(held)
        return self._receive(lambda: self._sock.recv(amt), stop)

    def readinto(self, view: memoryview, stop: threading.Event) -> int:
        """:meth:`read1` into ``view`` (as many bytes as arrived, at most its length):
        received straight into it, no block allocated."""
        held = self._held(len(view))
        if held is not None:
            view[:len(held)] = held
            return len(held)
        return self._receive(lambda: self._sock.recv_into(view), stop)

    def _held(self, amt: int) -> memoryview | None:
        """The next bytes the connection's buffer holds (at most ``amt``, taken from it;
        empty at the end of the stream), or None when the socket must be read.

        Raises:
            OSError: the stream ended with this error.
        """
        reader = self._reader
        if reader.available:
            end = min(reader.start + amt, reader.filled)
            held = memoryview(reader.buffer)[reader.start:end]
            reader.start = end
            return held
        if reader.eof:
            if reader.error is not None:
                raise reader.error
            return memoryview(b"")
        return None

    def _receive(self, recv: Callable[[], _T], stop: threading.Event) -> _T:
        """``recv()`` on the socket, waiting in slices so ``stop`` is seen within 0.1 s."""
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            if stop.is_set():
                raise Stopped("read called off")
            try:
                return recv()
            except TimeoutError:  # one slice: look at stop, then wait on
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError("timed out") from None

    def close(self) -> None:
        """Close the duplicate descriptor (the connection itself closes with its answer)."""
        self._sock.close()


class ThreadWriter:
    """A request body sent by a worker thread straight to the connection's socket (a
    duplicate of its descriptor), as the blocking API sends: read, hashed and sent in
    one thread, with no hop to the event loop per block. ``send`` waits in short slices
    so a ``stop`` event is seen within 0.1 s."""

    _SLICE = 0.1

    def __init__(self, sock: socket.socket, timeout: float | None) -> None:
        self._sock = sock
        self._timeout = timeout
        sock.settimeout(self._SLICE)

    def send(self, data: bytes, stop: threading.Event) -> None:
        """Send all of ``data``.

        Raises:
            httpcore.WriteTimeout: the socket took nothing for the write timeout.
            httpcore.WriteError: the connection failed (as :meth:`BlockStream.write`
                says it: httpcore then reads the answer a refusing server sent).
            Stopped: ``stop`` was set.
        """
        view = memoryview(data)
        timeout = self._timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while view:
            if stop.is_set():
                raise Stopped("send called off")
            try:
                n = self._sock.send(view)
            except TimeoutError:  # one slice: look at stop, then wait on
                if deadline is not None and time.monotonic() >= deadline:
                    raise httpcore.WriteTimeout("timed out") from None
                continue
            except OSError as exc:
                raise httpcore.WriteError(exc) from exc
            view = view[n:]
            if timeout is not None:
                deadline = time.monotonic() + timeout

    def close(self) -> None:
        """Close the duplicate descriptor (the connection stays open)."""
        self._sock.close()


def _made(making: asyncio.Future[_T]) -> _T | None:
    """What ``making`` made (a connection), when it ended so: the caller was cancelled
    in the loop turn it ended in, and the cancel goes on (:func:`_wait_for`) -- nobody
    else holds it, for the caller to close."""
    if making.done() and not making.cancelled() and making.exception() is None:
        return making.result()
    return None


class BlockBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend for :class:`AsyncTransport`: TCP connections made by
    asyncio, read by :class:`BlockStream` (Unix sockets and socket options are left to
    httpcore's own backend)."""

    def __init__(self, read_size: int = READ_SIZE) -> None:
        self.read_size = read_size
        self._fallback = httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,
        local_address: str | None = None, socket_options: _Sockopts | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if socket_options:
            return await self._fallback.connect_tcp(
                host, port, timeout=timeout, local_address=local_address,
                socket_options=socket_options)
        loop = asyncio.get_running_loop()
        connecting = asyncio.ensure_future(loop.create_connection(
            lambda: _Reader(self.read_size), host, port,
            local_addr=(local_address, 0) if local_address else None))
        try:
            transport, reader = await _wait_for(connecting, timeout)
        except asyncio.TimeoutError as exc:
            raise httpcore.ConnectTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ConnectError(exc) from exc
        except asyncio.CancelledError:
            made = _made(connecting)
            if made is not None:
                made[0].close()
            raise
        return BlockStream(transport, reader, self.read_size)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: _Sockopts | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._fallback.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class LinearPool(httpcore.AsyncConnectionPool):
    """httpcore's connection pool, deciding which request gets which connection by the
    same rules in one pass over the connections, and never promising one HTTP/1.1
    connection to two requests.

    httpcore 1.0 re-counts its connections for every idle one it looks at
    (``len([c.is_idle() for c in connections])``, always the number of connections),
    each time a request comes in and each time an answer is closed: with the 10
    connections an AsyncRegistry keeps, ~160 state questions a time, a tenth of the
    asyncio API's CPU for 200 gathered manifest GETs. The rules are httpcore's: drop
    closed connections, close expired ones and idle ones beyond
    ``max_keepalive_connections``; give each queued request the first connection that
    can take it, else a new one (within ``max_connections``), else a new one in place
    of the first idle one.

    One difference: a connection given to a request that has not started on it yet
    still says it is idle and available (it turns busy when the request's task runs),
    and httpcore gives it to the next queued requests too -- every request but one
    then wakes up to find it taken, and queues again (about two futile rounds per
    request for 200 gathered GETs). Here a promised connection is neither available
    nor idle to anyone else, as it would be once its request starts. HTTP/1.1 only
    (one request per connection): :class:`BlockTransport` never enables HTTP/2.
    """

    def __init__(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        if kwargs.get("http2"):
            raise ValueError("LinearPool promises a connection to one request at a time: "
                             "HTTP/1.1 only")
        super().__init__(*args, **kwargs)
        self._shut = False

    async def aclose(self) -> None:
        """Close the connections no request holds; those requests still use (the client
        closed while a pull runs) or are opening are each closed as they come free. httpcore's pool
        closed them all and forgot them: a request that was opening its connection
        kept it open for good, and the requests it aborted opened more (their retries),
        which nobody closed either."""
        self._shut = True
        with self._optional_thread_lock:
            # (not only idle ones: one made for a request cancelled before it sent
            # anything is neither idle nor busy -- httpcore's NEW)
            held = {id(r.connection) for r in self._requests if r.connection is not None}
            closing = [c for c in self._connections
                       if id(c) not in held or c.is_closed() or c.has_expired()]
            self._connections = [c for c in self._connections if c not in closing]
        await self._close_connections(closing)

    async def aclose_for_good(self) -> None:
        """Close every connection, busy ones too: the loop they belong to is shutting
        down (an answer the user never read to its end nor closed stays open otherwise,
        after its loop is gone)."""
        self._shut = True
        await super().aclose()

    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        connection = super().create_connection(origin)
        quicken(getattr(connection, "_request_lock", None))
        return connection

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        closing: list[httpcore.AsyncConnectionInterface] = []
        connections = self._connections
        # every connection a request holds: busy with it, or promised to it
        held = {id(r.connection) for r in self._requests if r.connection is not None}
        for connection in list(connections):
            # its HTTP/1.1 state lock, made at connect (quicken returns at once after)
            quicken(getattr(getattr(connection, "_connection", None), "_state_lock", None))
            if connection.is_closed():
                connections.remove(connection)
            elif connection.has_expired() or (
                    id(connection) not in held and connection.is_idle()
                    and (self._shut or len(connections) > self._max_keepalive_connections
                         or _overfed(connection))):
                connections.remove(connection)
                closing.append(connection)
        for pool_request in [r for r in self._requests if r.is_queued()]:
            origin = pool_request.request.url.origin
            chosen = next((c for c in connections if id(c) not in held
                           and c.can_handle_request(origin) and c.is_available()), None)
            if chosen is None:
                if len(connections) >= self._max_connections:
                    idle = next((c for c in connections
                                 if id(c) not in held and c.is_idle()), None)
                    if idle is None:
                        continue  # the request waits for a connection to come free
                    connections.remove(idle)
                    closing.append(idle)
                chosen = self.create_connection(origin)
                connections.append(chosen)
            pool_request.assign_to_connection(chosen)
            held.add(id(chosen))
        return closing

    async def _close_connections(self, closing: list[httpcore.AsyncConnectionInterface]) -> None:
        # called after every assignment above; nearly always with nothing to close, when
        # httpcore's own would still set up a cancellation shield (an anyio scope)
        if closing:
            await super()._close_connections(closing)


def _overfed(connection: httpcore.AsyncConnectionInterface) -> bool:
    """Whether an idle HTTP/1.1 connection's parser holds bytes past the last answer: the
    server sent more than the answer's length, and the next request would read them as
    its own answer (httpcore reuses such a connection; urllib3 does not). What the
    reader holds beyond h11 makes the connection expired already (``is_readable``)."""
    state = getattr(getattr(connection, "_connection", None), "_h11_state", None)
    trailing = getattr(state, "trailing_data", None)
    return isinstance(trailing, tuple) and bool(trailing and trailing[0])


def quicken(lock: object) -> bool:
    """Give one of httpcore's ``AsyncLock``s an ``asyncio.Lock``, unless it is in use;
    True when it has one now.

    httpcore takes anyio's lock under asyncio, which yields to the event loop each time
    it is taken, free or not (a cancellation checkpoint, under a shielded cancel scope):
    three times a request on a kept-alive connection (the connection's request lock, its
    HTTP/1.1 state lock at the start and when the answer is closed), each a trip round
    the loop for every task while the registry waits for the request. An
    ``asyncio.Lock`` that is free is taken at once. A lock that is held (or waited for:
    then it is held) keeps its own: whoever holds it releases that one.
    """
    inner = getattr(lock, "_anyio_lock", None)
    if isinstance(inner, asyncio.Lock):
        return True
    if lock is None or getattr(lock, "_backend", None) not in ("", "asyncio") or (
            inner is not None and inner.locked()):
        return False
    lock._backend = "asyncio"  # type: ignore[attr-defined]  # httpcore 1.0's AsyncLock
    lock._anyio_lock = asyncio.Lock()  # type: ignore[attr-defined]
    return True


def _pool_class() -> type[httpcore.AsyncConnectionPool]:
    """:class:`LinearPool` for the httpcore 1.0 series it was checked against (whose pool
    has the method it replaces); httpcore's own pool for any other version."""
    base = httpcore.AsyncConnectionPool
    if (httpcore.__version__.startswith("1.0.")
            and callable(getattr(base, "_assign_requests_to_connections", None))):
        return LinearPool
    return base


class BlockTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (pool, limits, TLS, error mapping), its connections made by
    :class:`BlockBackend`. No proxy: a proxied registry keeps httpx's transport."""

    def __init__(self, *, verify: ssl.SSLContext | bool, limits: httpx.Limits,
                 read_size: int | None = None) -> None:
        context = httpx.create_ssl_context(verify=verify)
        super().__init__(verify=context, limits=limits)
        self.backend = BlockBackend(read_size or READ_SIZE)
        # the same pool httpx builds (AsyncHTTPTransport.__init__), with our backend:
        # httpx has no argument for it
        self._pool = _pool_class()(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )

    def idle(self) -> bool:
        """Whether no connection of the pool is left (all closed, none busy)."""
        return not self._pool.connections

    async def aclose_for_good(self) -> None:
        """Close the pool's connections, busy ones too (see ``LinearPool.aclose_for_good``;
        another httpcore's pool closes them all anyway)."""
        pool = self._pool
        if isinstance(pool, LinearPool):
            await pool.aclose_for_good()
        else:
            await pool.aclose()
