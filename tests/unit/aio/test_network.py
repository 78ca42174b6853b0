"""BlockBackend / BlockStream: AsyncTransport's sockets read in large blocks, a blob's
body read past h11 -- against a loopback server that answers byte for byte as scripted.
LinearPool: httpcore's rules for giving requests connections, in one pass -- the same
random pool states handed to httpcore's own pool and to it must come out the same, with
a connection promised to a request kept for it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import random
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpcore
import httpcore._async.connection_pool
import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # (tests/: _sockets)

from _sockets import read_head

from registry_client._flow import Call, Drain, Flow
from registry_client._request import Relay, Request
from registry_client._response import Response
from registry_client.aio import _network as network
from registry_client.aio import _transport as transport_module
from registry_client.aio._network import BlockTransport, LinearPool
from registry_client.aio._run import arun
from registry_client.aio._shell import AsyncShell
from registry_client.aio._transport import AsyncTransport
from registry_client.errors import RegistryUnavailableError
from registry_client.testing import tcp_server

MiB = 1 << 20
Script = Callable[[socket.socket], None]




def _answer(*pieces: bytes, pause: float = 0.0, requests: int = 1) -> Script:
    """Answer each of ``requests`` requests on one connection with ``pieces``, sent one
    by one (``pause`` seconds apart), then hang up."""
    def handle(conn: socket.socket) -> None:
        for _ in range(requests):
            read_head(conn)
            for piece in pieces:
                conn.sendall(piece)
                if pause:
                    time.sleep(pause)
    return handle


def _head(length: int | None, extra: bytes = b"") -> bytes:
    size = b"" if length is None else b"Content-Length: %d\r\n" % length
    return b"HTTP/1.1 200 OK\r\n" + size + extra + b"\r\n"


@pytest.fixture
def server() -> Iterator[Callable[[Script], int]]:
    stack: list[object] = []

    def start(script: Script) -> int:
        cm = tcp_server(script)
        stack.append(cm)
        return cm.__enter__()

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)  # type: ignore[attr-defined]


class _Sender:
    """The requester's part the shell uses, over a real AsyncTransport."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.transport = AsyncTransport(self.base, timeout=timeout, verify=True, proxy=None,
                                        user_agent=None, pool_size=4)
        self.received = 0

    async def send_request(self, request: Request) -> Response:
        return await self.transport.send(request.verb, f"{self.base}/v2/{request.target}",
                                         headers=request.headers)

    def count_received(self, n: int) -> None:
        self.received += n


@pytest.fixture
async def sender_for() -> AsyncIterator[Callable[..., _Sender]]:
    made: list[_Sender] = []

    def make(port: int, **kw: float) -> _Sender:
        made.append(_Sender(port, **kw))
        return made[-1]

    yield make
    for sender in made:
        await sender.transport.aclose()
    # a connection closed after a failure ends on the loop's next turn: let it, before
    # the test's loop closes (else its transport is garbage-collected unclosed later)
    await asyncio.sleep(0.01)


async def _get(sender: _Sender, path: str) -> tuple[int, bytes]:
    """GET ``path`` of the sender's server: the status and the whole body."""
    resp = await sender.transport.send("GET", f"{sender.base}{path}")
    body = b""
    while block := await resp.aread1(MiB):
        body += block
    await resp.aclose()
    return resp.status_code, body


def _download(sink: Callable[[bytes], None], limit: int | None = None) -> Flow[int]:
    resp = yield Call(Request("GET", "app/blobs/sha256:ab", stream=True))
    try:
        n: int = yield Drain(resp, sink, limit=limit)
    finally:
        resp.close()
    return n


@pytest.mark.anyio
async def test_a_blob_body_comes_in_whole_blocks_past_h11(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender],
) -> None:
    body = os.urandom(5 * MiB) + b"\r\n\r\n" + os.urandom(1000)  # a head's end inside
    # the head's end split over two sends: the body must not start early
    port = server(_answer(_head(len(body))[:-1], _head(len(body))[-1:] + body, pause=0.05))
    sender = sender_for(port)
    resp = await sender.transport.send("GET", f"{sender.base}/v2/app/blobs/x")
    sizes = []
    got = bytearray()
    while block := await resp.aread1(MiB):
        sizes.append(len(block))
        got += block
    await resp.aclose()
    assert bytes(got) == body
    assert sizes[:5] == [MiB] * 5  # a whole block per read: nothing joined, nothing split


@pytest.mark.anyio
async def test_the_read_size_is_what_one_socket_read_hands_to_h11(
    server: Callable[[Script], int],
) -> None:
    body = os.urandom(4 * MiB)
    port = server(_answer(_head(None, b"Transfer-Encoding: chunked\r\n"),
                          b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"))
    transport = BlockTransport(verify=True, limits=httpx.Limits(), read_size=256 * 1024)
    async with httpx.AsyncClient(transport=transport) as client, \
            client.stream("GET", f"http://127.0.0.1:{port}/") as resp:
        sizes = [len(chunk) async for chunk in resp.aiter_raw()]
    assert sum(sizes) == len(body)
    assert max(sizes) <= 256 * 1024
    assert max(sizes) > 64 * 1024  # more than httpcore asks for (h11 takes any amount)


@pytest.mark.anyio
async def test_answers_read_by_h11_keep_the_connection_for_the_next(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender],
) -> None:
    connections: list[int] = []
    serve = _answer(_head(2), b"{}", requests=3)

    def counted(conn: socket.socket) -> None:
        connections.append(1)
        serve(conn)

    sender = sender_for(server(counted))
    for _ in range(3):
        assert await _get(sender, "/v2/") == (200, b"{}")
    await sender.transport.aclose()
    assert connections == [1]


@pytest.mark.anyio
@pytest.mark.parametrize("extra", [_head(7) + b"SMUGGLE", b"junk that is not HTTP"],
                         ids=["an-answer", "junk"])
async def test_bytes_past_an_answer_s_length_are_never_the_next_request_s_answer(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender], extra: bytes,
) -> None:
    """A server that sent more than an answer's Content-Length left the rest in h11's
    buffer on the kept-alive connection: the next request read it as its own answer
    (another manifest, served as the one asked for) or failed on it. Plain httpx does
    the same; urllib3 drops such a connection, and so does the pool now."""
    def handle(conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(_head(2) + b"{}" + extra)  # one write: all of it arrives at once
        read_head(conn)
        conn.sendall(_head(2) + b"{}")

    sender = sender_for(server(handle))
    for _ in range(3):
        assert await _get(sender, "/v2/app/manifests/v1") == (200, b"{}")


@pytest.mark.anyio
@pytest.mark.parametrize("length", [MiB, 8 * MiB], ids=["through-h11", "direct"])
async def test_a_cut_body_raises_the_typed_error_after_the_sink_had_what_arrived(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender], length: int,
) -> None:
    port = server(_answer(_head(length) + b"a" * 300_000))
    got = bytearray()
    with pytest.raises(RegistryUnavailableError) as caught:
        await arun(_download(got.extend), AsyncShell(sender_for(port)))
    assert bytes(got) == b"a" * 300_000
    assert str(caught.value) == ("connection broken after 300000 bytes of the body: the "
                                 "connection broke in the middle of the answer")


@pytest.mark.anyio
@pytest.mark.parametrize("length", [MiB, 8 * MiB], ids=["through-h11", "direct"])
async def test_a_stalled_body_raises_a_read_timeout(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender], length: int,
) -> None:
    port = server(_answer(_head(length) + b"a" * 1000, b"", pause=1.0))
    got = bytearray()
    with pytest.raises(RegistryUnavailableError) as caught:
        await arun(_download(got.extend), AsyncShell(sender_for(port, timeout=0.3)))
    assert len(got) == 1000
    assert "read timed out" in str(caught.value)


@pytest.mark.anyio
async def test_a_pipelined_drain_sinks_large_blocks_in_order_in_one_thread(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender],
) -> None:
    body = os.urandom(16 * MiB)
    port = server(_answer(_head(len(body)) + body))
    hasher = hashlib.sha256()
    threads: set[int] = set()

    def sink(block: bytes) -> None:
        threads.add(threading.get_ident())
        hasher.update(block)

    n = await arun(_download(sink), AsyncShell(sender_for(port)))
    assert n == len(body)
    assert hasher.hexdigest() == hashlib.sha256(body).hexdigest()
    assert len(threads) == 1 and threading.get_ident() not in threads


@pytest.mark.anyio
async def test_a_long_body_drained_in_a_thread_stops_at_the_limit(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender],
) -> None:
    body = os.urandom(8 * MiB)
    port = server(_answer(_head(len(body)) + body))
    got = bytearray()
    n = await arun(_download(got.extend, 5 * MiB + 1), AsyncShell(sender_for(port)))
    assert n == len(got) == 5 * MiB + 1
    assert bytes(got) == body[: 5 * MiB + 1]


@pytest.mark.anyio
async def test_a_cancelled_thread_drain_stops_soon_and_before_the_clean_up(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender],
) -> None:
    """The thread reading the socket sees the cancel within 0.1 s, even while the server
    sends nothing; the flow's clean-up runs after it has stopped."""
    port = server(_answer(_head(8 * MiB) + b"a" * MiB, b"", pause=2.0))
    events: list[str] = []

    def sink(block: bytes) -> None:
        events.append(f"sink {threading.get_ident() != main}")

    def flow() -> Flow[None]:
        resp = yield Call(Request("GET", "app/blobs/sha256:ab", stream=True))
        try:
            yield Drain(resp, sink)
        finally:
            events.append("clean-up")
            resp.close()

    main = threading.get_ident()
    task = asyncio.ensure_future(arun(flow(), AsyncShell(sender_for(port, timeout=30))))
    await asyncio.sleep(0.3)
    assert events and set(events) == {"sink True"}  # the first MiB, in a thread; then
    sunk = len(events)  # the server sends nothing more
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - t0 < 0.5
    assert events[sunk:] == ["clean-up"]


@pytest.mark.anyio
async def test_a_connection_buffer_stays_small_until_an_answer_fills_it(
    server: Callable[[Script], int],
) -> None:
    """Many gathered small requests open many connections: each holds 64 KiB, not 1 MiB."""
    body = os.urandom(2 * MiB)
    port = server(_answer(_head(2), b"{}", requests=1))
    big = server(_answer(_head(len(body)) + body))
    transport = BlockTransport(verify=True, limits=httpx.Limits())
    async with httpx.AsyncClient(transport=transport) as client:
        async with client.stream("GET", f"http://127.0.0.1:{port}/") as resp:
            assert await resp.aread() == b"{}"
            small = len(resp.extensions["network_stream"]._reader.buffer)
        async with client.stream("GET", f"http://127.0.0.1:{big}/") as resp:
            assert await resp.aread() == body
            grown = len(resp.extensions["network_stream"]._reader.buffer)
    assert (small, grown) == (64 * 1024, MiB)


@pytest.mark.anyio
async def test_a_body_a_worker_thread_takes_over_is_not_received_by_the_loop_first(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A blob's answer fills the connection's first buffer with its head and the body's
    start: reading pauses there (the thread that drains the body reads the socket), no
    1 MiB buffer is made and filled by the loop only to be copied out again."""
    body = os.urandom(8 * MiB)
    port = server(_answer(_head(len(body)) + body))
    sizes: list[int] = []
    updated = network._Reader.buffer_updated

    def spy(self: Any, nbytes: int) -> None:
        updated(self, nbytes)
        sizes.append(len(self.buffer))

    monkeypatch.setattr(network._Reader, "buffer_updated", spy)
    got = hashlib.sha256()
    n = await arun(_download(got.update), AsyncShell(sender_for(port)))
    assert n == len(body) and got.digest() == hashlib.sha256(body).digest()
    assert sizes and max(sizes) == 64 * 1024


@pytest.mark.anyio
@pytest.mark.parametrize("hang_up", [False, True])
async def test_an_idle_connection_is_judged_by_what_the_loop_received_without_a_poll(
    server: Callable[[Script], int], monkeypatch: pytest.MonkeyPatch, hang_up: bool,
) -> None:
    """httpcore asks every idle pooled connection whether it is readable each time it
    places a request. The loop reads our sockets, so the reader knows: a kept-alive
    connection is reused and one the server hung up on is replaced -- no poll() each."""
    polls: list[object] = []
    monkeypatch.setattr(network, "is_socket_readable", lambda sock: polls.append(sock))
    port = server(_answer(_head(2), b"{}", requests=1 if hang_up else 2))
    transport = BlockTransport(verify=True, limits=httpx.Limits())
    async with httpx.AsyncClient(transport=transport) as client:
        ports = []
        for _ in range(2):
            resp = await client.get(f"http://127.0.0.1:{port}/")
            assert resp.content == b"{}"
            ports.append(resp.extensions["network_stream"].get_extra_info("client_addr")[1])
            await asyncio.sleep(0.05)  # a hang-up reaches the loop
    assert (ports[0] != ports[1]) is hang_up
    assert polls == []


def test_the_first_request_imports_nothing_the_asyncio_api_did_not_load_up_front(
    server: Callable[[Script], int],
) -> None:
    """httpcore's locks load anyio's asyncio backend at first use (30-50 ms): the import
    of the asyncio API loads it, as the blocking API loads requests, not the application's
    first await."""
    port = server(_answer(_head(2), b"{}"))
    code = (
        "import asyncio, sys\n"
        "from registry_client.aio import AsyncRegistry\n"
        "before = set(sys.modules)\n"
        "async def main():\n"
        f"    async with AsyncRegistry('127.0.0.1:{port}', protocol='http') as reg:\n"
        "        await reg.ping()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in\n"
        "             ('anyio', 'sniffio', 'httpcore', 'httpx', 'h11')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"


# -- LinearPool: the pool's assignments --------------------------------------------------

ORIGINS = [httpcore.URL("http://127.0.0.1:5000/").origin,
           httpcore.URL("https://127.0.0.1:5001/").origin]


class _Connection:
    """A connection in one of the states the pool asks about (and counts the asking).

    ``promised``: a request holds it. Where promises ``settle``, it then answers as a
    connection busy with its request (neither idle nor available); where they do not,
    as a real HTTP/1.1 connection does until the request's task starts on it: with the
    state it had."""

    asked = 0

    def __init__(self, name: str, origin: Any, *, closed: bool = False, expired: bool = False,
                 idle: bool = False, available: bool = False, settles: bool = False) -> None:
        self.name, self.origin = name, origin
        self.closed, self.expired, self.idle, self.available = closed, expired, idle, available
        self.settles, self.promised = settles, False

    @staticmethod
    def _answer(value: bool) -> bool:
        _Connection.asked += 1
        return value

    def is_closed(self) -> bool:
        return self._answer(self.closed)

    def has_expired(self) -> bool:
        return self._answer(self.expired)

    def is_idle(self) -> bool:
        return self._answer(self.idle and not (self.settles and self.promised))

    def is_available(self) -> bool:
        return self._answer(self.available and not (self.settles and self.promised))

    def can_handle_request(self, origin: Any) -> bool:
        return self._answer(bool(origin == self.origin))


class _PoolRequest:
    def __init__(self, name: str, origin: Any, connection: _Connection | None) -> None:
        self.name, self.connection = name, None
        self.request = httpcore.Request("GET", httpcore.URL(
            scheme=origin.scheme, host=origin.host, port=origin.port, target=b"/"))
        if connection is not None:
            self.assign_to_connection(connection)

    def is_queued(self) -> bool:
        return self.connection is None

    def assign_to_connection(self, connection: Any) -> None:
        self.connection = connection
        connection.promised = True


def _pool(cls: type[httpcore.AsyncConnectionPool], seed: int, settles: bool = False) -> Any:
    """A pool of ``cls`` in the random state ``seed`` picks (the same for both classes);
    ``settles``: see :class:`_Connection`."""
    rnd = random.Random(seed)
    pool: Any = cls(max_connections=rnd.choice([1, 2, 4, 10, None]),
               max_keepalive_connections=rnd.choice([0, 1, 3, 10]))
    pool._connections = [
        _Connection(f"c{i}", rnd.choice(ORIGINS), closed=rnd.random() < 0.15,
                    expired=rnd.random() < 0.15, idle=rnd.random() < 0.5,
                    available=rnd.random() < 0.4, settles=settles)
        for i in range(rnd.randrange(0, 14))
    ]
    pool._requests = []
    for i in range(rnd.randrange(0, 8)):
        origin, held = rnd.choice(ORIGINS), rnd.random() < 0.3
        connection = rnd.choice(pool._connections) if held and pool._connections else None
        pool._requests.append(_PoolRequest(f"r{i}", origin, connection))
    made = iter(range(100))

    def create_connection(origin: Any) -> _Connection:
        return _Connection(f"new{next(made)}", origin, settles=settles)

    pool.create_connection = create_connection
    return pool


def _outcome(pool: Any, closing: list[Any]) -> tuple[Any, ...]:
    return ([c.name for c in closing], [c.name for c in pool._connections],
            [(r.name, r.connection and r.connection.name) for r in pool._requests])


def test_the_pool_is_used_for_the_httpcore_it_was_checked_against() -> None:
    assert httpcore.__version__.startswith("1.0.")  # else: check LinearPool against it
    assert network._pool_class() is LinearPool
    transport = network.BlockTransport(
        verify=False, limits=httpx.Limits(max_connections=None, max_keepalive_connections=10))
    assert type(transport._pool) is LinearPool


@pytest.mark.parametrize("block", range(10))
def test_linear_pool_assigns_as_httpcore_would_with_promises_kept(block: int) -> None:
    # httpcore's own method, in a world where a connection turns busy the moment a
    # request is promised it, against ours in the real one (it turns busy only when
    # the request starts): the same outcome, so ours never gives one connection to two
    for seed in range(block * 300, block * 300 + 300):
        theirs = _pool(httpcore.AsyncConnectionPool, seed, settles=True)
        ours = _pool(LinearPool, seed)
        expected = _outcome(theirs, httpcore.AsyncConnectionPool.
                            _assign_requests_to_connections(theirs))
        assert _outcome(ours, ours._assign_requests_to_connections()) == expected, seed


def test_linear_pool_promises_an_idle_connection_to_one_queued_request() -> None:
    pool: Any = LinearPool(max_connections=1, max_keepalive_connections=10)
    idle = _Connection("c0", ORIGINS[0], idle=True, available=True)
    pool._connections = [idle]
    pool._requests = [_PoolRequest(f"r{i}", ORIGINS[0], None) for i in range(3)]
    assert pool._assign_requests_to_connections() == []
    # httpcore's own gives c0 to all three: two of them wake up to find it taken
    assert [r.connection for r in pool._requests] == [idle, None, None]
    # and a later pass, before r0 has started on c0, does not hand it out again
    assert pool._assign_requests_to_connections() == []
    assert [r.connection for r in pool._requests] == [idle, None, None]


def test_linear_pool_is_http11_only() -> None:
    with pytest.raises(ValueError, match=r"HTTP/1\.1"):
        LinearPool(http2=True)


def test_linear_pool_asks_each_connection_a_bounded_number_of_questions() -> None:
    pool: Any = LinearPool(max_connections=None, max_keepalive_connections=10)
    pool._connections = [_Connection(f"c{i}", ORIGINS[0], idle=True, available=True)
                         for i in range(10)]
    pool._requests = [_PoolRequest("r", ORIGINS[0], None)]
    _Connection.asked = 0
    pool._assign_requests_to_connections()
    # three questions each in the sweep, two for the first that takes the request;
    # httpcore's own pool asks 10 more of every idle connection (160 questions here)
    assert _Connection.asked <= 3 * 10 + 2


@pytest.mark.anyio
async def test_closing_the_pool_closes_every_connection_no_request_holds() -> None:
    """A connection made for a request that was cancelled before it sent anything
    (httpcore's NEW state: neither idle nor busy) stayed open after aclose(), until the
    loop's end."""
    pool: Any = LinearPool(max_connections=None, max_keepalive_connections=10)
    fresh = _Connection("fresh", ORIGINS[0])  # (connected, no request on it: NEW)
    idle = _Connection("idle", ORIGINS[0], idle=True, available=True)
    busy = _Connection("busy", ORIGINS[0])
    pool._connections = [fresh, idle, busy]
    pool._requests = [_PoolRequest("r", ORIGINS[0], busy)]
    closed: list[str] = []

    async def record(closing: list[Any]) -> None:
        closed.extend(c.name for c in closing)

    pool._close_connections = record
    await pool.aclose()
    assert closed == ["fresh", "idle"]
    assert [c.name for c in pool._connections] == ["busy"]


@contextlib.asynccontextmanager
async def _ok_server(pause: float = 0.0) -> AsyncIterator[int]:
    """A loopback server answering every request 200 ``ok`` on kept-alive connections
    (after ``pause`` seconds); its port."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                if pause:
                    await asyncio.sleep(pause)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except asyncio.IncompleteReadError:  # the client hung up
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def _pooled(connections: int) -> BlockTransport:
    return BlockTransport(verify=False, limits=httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections))


@pytest.mark.anyio
async def test_gathered_requests_each_get_a_connection_on_the_first_try(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 30 requests at once over 3 keep-alive connections: each request is handed a
    # connection once; httpcore's own rules hand a freed connection to every queued
    # request, and all but one go back to the queue (ConnectionNotAvailable)
    retried = 0
    pool_request = httpcore._async.connection_pool.AsyncPoolRequest  # httpcore 1.0's
    original = pool_request.clear_connection

    def counting(self: Any) -> None:
        nonlocal retried
        retried += 1
        original(self)

    monkeypatch.setattr(pool_request, "clear_connection", counting)

    async with _ok_server(pause=0.001) as port, \
            httpx.AsyncClient(transport=_pooled(3)) as client:
        answers = await asyncio.gather(*(client.get(f"http://127.0.0.1:{port}/{i}")
                                         for i in range(30)))
    assert [a.text for a in answers] == ["ok"] * 30
    assert retried == 0


# -- quicken: httpcore's locks without a trip round the event loop --------------------------
class _FakeAsyncLock:
    """httpcore 1.0's AsyncLock as quicken sees it (backend chosen on first use)."""

    def __init__(self, backend: str = "", inner: Any = None) -> None:
        self._backend, self._anyio_lock = backend, inner


class _Held:
    def locked(self) -> bool:
        return True


class _Free:
    def locked(self) -> bool:
        return False


def test_quicken_gives_a_free_or_unused_lock_an_asyncio_lock() -> None:
    for lock in (_FakeAsyncLock(), _FakeAsyncLock("asyncio", _Free())):
        assert network.quicken(lock)
        assert isinstance(lock._anyio_lock, asyncio.Lock) and lock._backend == "asyncio"
        same = lock._anyio_lock
        assert network.quicken(lock) and lock._anyio_lock is same  # once


def test_quicken_leaves_a_held_lock_and_other_backends_alone() -> None:
    held, trio = _Held(), _Free()
    assert not network.quicken(lock := _FakeAsyncLock("asyncio", held))
    assert lock._anyio_lock is held  # whoever holds it releases that one
    assert not network.quicken(lock := _FakeAsyncLock("trio", trio))
    assert lock._anyio_lock is trio
    assert not network.quicken(None)


@pytest.mark.anyio
async def test_kept_alive_connections_take_their_locks_without_yielding() -> None:
    # every lock a request on a pooled connection takes is an asyncio.Lock once the
    # connection has answered once; anyio's yields to the loop on each acquire
    transport = _pooled(2)
    async with _ok_server() as port, httpx.AsyncClient(transport=transport) as client:
        for _ in range(3):
            answers = await asyncio.gather(*(client.get(f"http://127.0.0.1:{port}/{i}")
                                             for i in range(4)))
            assert [a.text for a in answers] == ["ok"] * 4
        pool: Any = transport._pool
        assert len(pool._connections) == 2
        for connection in pool._connections:
            assert isinstance(connection._request_lock._anyio_lock, asyncio.Lock)
            assert isinstance(connection._connection._state_lock._anyio_lock, asyncio.Lock)


# -- ThreadWriter: a long request body sent by a worker thread ------------------------------
def _receive(bodies: list[bytes], requests: int = 1, status: bytes = b"201 Created",
             read_body: bool = True) -> Script:
    """Read ``requests`` requests on one connection, each body of its Content-Length into
    ``bodies`` (unless not ``read_body``: answer after the head, then hang up)."""
    def handle(conn: socket.socket) -> None:
        for _ in range(requests):
            data = read_head(conn)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            if not read_body:
                conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
                conn.shutdown(socket.SHUT_RDWR)
                return
            got = bytearray(body)
            while len(got) < length and (part := conn.recv(MiB)):
                got += part
            bodies.append(bytes(got))
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
    return handle


class _SpiedFile:
    """A file whose reads are recorded with the thread that made them."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)
        self.readers: list[int] = []
        self.closed_for_good = False

    def read(self, n: int = -1) -> bytes:
        assert not self.closed_for_good, "read after the send was called off"
        self.readers.append(threading.get_ident())
        return self._f.read(n)


@pytest.fixture(params=[True, False], ids=["thread-sent", "through-h11"])
def thread_path(request: Any, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run a body test twice: sent by a ThreadWriter, and through h11 (the thread path
    switched off) -- the two must fail alike."""
    if not request.param:
        monkeypatch.setattr(transport_module, "_thread_writer", lambda length: None)
    return bool(request.param)


def _stall(conn: socket.socket) -> None:
    """Read a request's head, then nothing for 2 s: the socket's buffers fill."""
    read_head(conn)
    time.sleep(2.0)


async def _put_long(sender: _Sender, body: Any = None) -> Response:
    """PUT a 64 MiB body (``body``: a file of it, else one of x's) with its length."""
    return await sender.transport.send(
        "PUT", f"{sender.base}/v2/x",
        body=body or _SpiedFile(b"x" * (64 * MiB)),  # type: ignore[arg-type]  # read() only
        headers={"Content-Length": str(64 * MiB)})


@pytest.mark.anyio
async def test_a_long_file_body_is_sent_by_its_reading_thread_and_the_connection_goes_on(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender],
    thread_sends: list[int],
) -> None:
    """A file body of 4 MiB or more with a Content-Length goes from the thread that reads
    it straight to the socket; h11 only counts it, and the connection serves the next
    request (its state is right)."""
    body = os.urandom(9 * MiB + 5)
    bodies: list[bytes] = []
    connections: list[int] = []
    serve = _receive(bodies, requests=2)

    def counted(conn: socket.socket) -> None:
        connections.append(1)
        serve(conn)

    sender = sender_for(server(counted))
    f = _SpiedFile(body)
    resp = await sender.transport.send("PUT", f"{sender.base}/v2/x", body=f,  # type: ignore[arg-type]
                                       headers={"Content-Length": str(len(body))})
    assert resp.status_code == 201
    assert await resp.aread1(MiB) == b""  # read to its end: the connection is reusable
    await resp.aclose()
    resp = await sender.transport.send("PUT", f"{sender.base}/v2/y", body=b"small")
    await resp.aclose()
    assert bodies == [body, b"small"]
    assert connections == [1]
    assert sum(thread_sends) == len(body)  # every byte by the thread, none through h11
    assert threading.get_ident() not in f.readers


@pytest.mark.anyio
async def test_a_long_relayed_body_goes_from_socket_to_socket_in_one_thread(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender],
    thread_sends: list[int],
) -> None:
    blob = os.urandom(6 * MiB + 3)
    source = sender_for(server(_answer(_head(len(blob)) + blob)))
    bodies: list[bytes] = []
    target = sender_for(server(_receive(bodies)))
    seen: list[tuple[int, int]] = []
    answer = await source.transport.send("GET", f"{source.base}/v2/app/blobs/x")
    relay = Relay(answer, lambda b: seen.append((len(b), threading.get_ident())))
    resp = await target.transport.send("PUT", f"{target.base}/v2/x", body=relay,
                                       headers={"Content-Length": str(len(blob))})
    await answer.aclose()
    assert resp.status_code == 201
    assert bodies == [blob]
    assert sum(n for n, _ in seen) == sum(thread_sends) == len(blob)
    assert {t for _, t in seen} != {threading.get_ident()}
    assert len({t for _, t in seen}) == 1  # read, shown to the sink and sent in one thread


@pytest.mark.anyio
async def test_a_long_body_the_server_refuses_gets_its_answer(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender], thread_path: bool,
) -> None:
    """A server that answers after the head and hangs up (a 413, a 401): its answer
    (httpcore reads the answer after a write error), whoever sent the body."""
    sender = sender_for(server(_receive([], status=b"413 Too Large", read_body=False)))
    resp = await _put_long(sender)
    assert resp.status_code == 413
    await resp.aclose()


@pytest.mark.anyio
async def test_a_long_body_nobody_reads_times_out(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender], thread_path: bool,
) -> None:
    sender = sender_for(server(_stall), timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(httpx.WriteTimeout):
        await _put_long(sender)
    assert time.monotonic() - t0 < 1.8


@pytest.mark.anyio
async def test_a_cancelled_thread_send_stops_soon_and_reads_the_file_no_more(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender],
    thread_sends: list[int],
) -> None:
    sender = sender_for(server(_stall), timeout=30)
    f = _SpiedFile(b"x" * (64 * MiB))
    task = asyncio.ensure_future(_put_long(sender, f))
    await asyncio.sleep(0.3)
    assert thread_sends  # the thread is sending (and the socket takes nothing more)
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - t0 < 0.5
    f.closed_for_good = True  # the thread has stopped: a read now fails the test
    await asyncio.sleep(0.3)


@pytest.mark.anyio
async def test_a_stream_counts_what_a_thread_sent_and_refuses_more(
    server: Callable[[Script], int],
) -> None:
    port = server(_answer(_head(0), requests=1))
    backend = network.BlockBackend()
    stream = await backend.connect_tcp("127.0.0.1", port)
    assert isinstance(stream, network.BlockStream)
    assert stream.thread_writer() is None  # no request head written yet
    await stream.write(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
    assert network.request_stream() is stream
    assert network.request_stream() is None  # taken once
    writer = stream.thread_writer()
    assert writer is not None
    writer.close()
    stream.sent_ahead(10)
    await stream.write(b"\0" * 4)  # counted: nothing goes out
    with pytest.raises(httpcore.WriteError):
        await stream.write(b"\0" * 7)
    await stream.aclose()


@pytest.mark.anyio
async def test_a_connection_whose_body_timed_out_is_closed_at_once(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender],
    monkeypatch: pytest.MonkeyPatch, thread_path: bool,
) -> None:
    """Bytes the peer never took do not hold the socket open after the failure (asyncio's
    close() waits for them to be sent: for ever, or until the peer hangs up)."""
    streams: list[network.BlockStream] = []
    connect = network.BlockBackend.connect_tcp

    async def kept(self: network.BlockBackend, *args: Any, **kwargs: Any) -> Any:
        stream = await connect(self, *args, **kwargs)
        assert isinstance(stream, network.BlockStream)
        streams.append(stream)
        return stream

    monkeypatch.setattr(network.BlockBackend, "connect_tcp", kept)
    sender = sender_for(server(_stall), timeout=0.5)
    with pytest.raises(httpx.WriteTimeout):
        await _put_long(sender)
    for _ in range(3):
        await asyncio.sleep(0)
    assert [s._reader.eof for s in streams] == [True]  # the transport let go of the socket


class _FailingFile(_SpiedFile):
    """A file whose read fails after ``good`` bytes (a disk that went away)."""

    def __init__(self, data: bytes, good: int) -> None:
        super().__init__(data)
        self._good = good

    def read(self, n: int = -1) -> bytes:
        if self._f.tell() >= self._good:
            raise OSError(5, "Input/output error")
        return super().read(n)


@pytest.mark.anyio
async def test_a_file_that_fails_mid_body_raises_its_own_error(
    server: Callable[[Script], int], sender_for: Callable[..., _Sender], thread_path: bool,
) -> None:
    """The file's OSError, not a write error of the connection (which httpcore would
    swallow to wait for an answer the server never sends: a timeout in the end)."""
    def reads(conn: socket.socket) -> None:
        read_head(conn)
        while conn.recv(MiB):
            pass

    sender = sender_for(server(reads), timeout=2)
    t0 = time.monotonic()
    with pytest.raises(OSError, match="Input/output error"):
        await _put_long(sender, _FailingFile(b"x" * (64 * MiB), 3 * MiB))
    assert time.monotonic() - t0 < 1.0


class _LostTLSTransport:
    """Python 3.10's TLS transport once the connection is lost: its inner transport is
    None, and get_write_buffer_size() raises AttributeError (3.11 rewrote it)."""

    def __init__(self) -> None:
        self.closed = self.aborted = False

    def get_write_buffer_size(self) -> int:
        raise AttributeError("'NoneType' object has no attribute 'get_write_buffer_size'")

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return object() if name == "ssl_object" else default

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


def test_a_tls_connection_the_server_closed_is_closed_on_python_3_10_too() -> None:
    """An HTTPS registry answering "Connection: close", or dropping an idle keep-alive
    connection: on 3.10 every later close of that connection raised AttributeError out
    of the asyncio API (AsyncRegistry.ping, the second of two)."""
    from registry_client.aio._network import BlockStream, _Reader

    transport = _LostTLSTransport()
    stream = BlockStream(transport, _Reader(1024), 1024)  # type: ignore[arg-type]

    async def main() -> None:
        assert stream.thread_writer() is None  # a TLS connection: never a worker's writer
        await stream.aclose()

    asyncio.run(main())
    assert transport.closed or transport.aborted


@pytest.mark.anyio
async def test_a_connection_a_closed_pool_makes_is_closed_once_free(
    server: Callable[[Script], int],
) -> None:
    """An AsyncRegistry closed while a pull and gathered GETs ran (an app shutting down):
    their retries went on, on connections the closed pool made and kept, never closed
    (a ResourceWarning each when the loop ended)."""
    hung_up: list[bool] = []

    def handle(conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(_head(2) + b"{}")
        conn.settimeout(5)
        hung_up.append(conn.recv(1) == b"")  # the client closes it, once it is free

    port = server(handle)
    transport = BlockTransport(verify=True, limits=httpx.Limits(max_keepalive_connections=4))
    async with httpx.AsyncClient(transport=transport) as client:
        await transport.aclose()  # (the requests in flight fail, and are retried:)
        answers = await asyncio.gather(*(client.get(f"http://127.0.0.1:{port}/v2/")
                                         for _ in range(3)))
        assert [a.content for a in answers] == [b"{}"] * 3
        deadline = time.monotonic() + 5
        while len(hung_up) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    assert hung_up == [True, True, True]


@pytest.mark.anyio
async def test_a_request_running_when_its_pool_closes_ends_then_its_connection_closes(
    server: Callable[[Script], int],
) -> None:
    """A request opening or using its connection when the pool closed: httpcore closed
    the connections it could and forgot the rest -- one still opening stayed open for
    good (a ResourceWarning when the loop ended); one in use was cut, and its retry
    opened another that nobody closed."""
    hung_up: list[bool] = []

    def handle(conn: socket.socket) -> None:
        read_head(conn)
        time.sleep(0.3)  # the pool is closed meanwhile
        conn.sendall(_head(2) + b"{}")
        conn.settimeout(5)
        hung_up.append(conn.recv(1) == b"")

    port = server(handle)
    transport = BlockTransport(verify=True, limits=httpx.Limits(max_keepalive_connections=4))
    async with httpx.AsyncClient(transport=transport) as client:
        running = asyncio.ensure_future(client.get(f"http://127.0.0.1:{port}/v2/"))
        await asyncio.sleep(0.1)
        await transport.aclose()
        assert (await running).content == b"{}"
        deadline = time.monotonic() + 5
        while not hung_up and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    assert hung_up == [True]


@pytest.mark.anyio
async def test_a_pool_closed_for_good_closes_its_busy_connections_too(
    server: Callable[[Script], int],
) -> None:
    """When the loop shuts down, its pool closes for good: a connection still busy -- an
    answer the user never read to its end nor closed (a blobs.open reader kept) -- was
    left open after the loop was gone (a ResourceWarning later)."""
    hung_up: list[bool] = []

    def handle(conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(_head(1000) + b"x" * 10)  # the rest never comes
        conn.settimeout(5)
        hung_up.append(conn.recv(1) == b"")

    port = server(handle)
    transport = BlockTransport(verify=True, limits=httpx.Limits(max_keepalive_connections=4))
    client = httpx.AsyncClient(transport=transport)
    request = client.build_request("GET", f"http://127.0.0.1:{port}/v2/")
    kept = await client.send(request, stream=True)  # never read, never closed
    await transport.aclose_for_good()
    deadline = time.monotonic() + 5
    while not hung_up and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert hung_up == [True]
    del kept


WaitFor = Callable[[Any, float], Any]
WAITS = pytest.mark.parametrize("wait_for", [
    network._wait_for,
    network._wait_for_uncounted,  # (Python 3.10's, which runs anywhere)
], ids=["wait_for", "uncounted"])


@pytest.mark.anyio
@pytest.mark.parametrize(("paused", "tls"), [(True, False), (False, False), (False, True)])
async def test_a_connection_closed_while_its_reading_is_paused_is_closed_at_once(
    paused: bool, tls: bool,
) -> None:
    """Python 3.10's TLS transport, closed, waits for the server's close_notify -- which
    a paused reading never reads: a blob reader closed early (or cancelled) over HTTPS
    left its connection open for good, aclose() too (one socket a time). A paused
    connection is aborted: nobody wants what it holds."""
    done: list[str] = []

    class Transport:
        def get_write_buffer_size(self) -> int:
            return 0

        def get_extra_info(self, name: str) -> Any:
            return object() if tls and name == "ssl_object" else None

        def close(self) -> None:
            done.append("close")

        def abort(self) -> None:
            done.append("abort")

    reader = network._Reader(1024)
    reader.paused = paused
    await network.BlockStream(Transport(), reader, 1024).aclose()  # type: ignore[arg-type]
    # (a TLS close waits for the server's close_notify: for ever on 3.10 when it stalls,
    # 30 s on 3.11 -- HTTP needs none: what a connection closed holds is unwanted)
    assert done == ["abort" if paused or tls else "close"]


def test_a_reader_whose_tls_transport_lost_its_connection_is_read_to_its_end() -> None:
    """Python 3.10's TLS transport, its connection gone in the read that filled the
    reader (a server's close_notify after a 64-256 KiB answer), raised AttributeError
    from resume_reading: blobs.get and blobs.open failed with it, bare, every retry."""
    class Gone:
        def pause_reading(self) -> None:
            pass

        def resume_reading(self) -> None:  # (3.10: self._ssl_protocol._transport is None)
            raise AttributeError("'NoneType' object has no attribute 'resume_reading'")

    reader = network._Reader(64 << 10)
    reader.connection_made(Gone())  # type: ignore[arg-type]
    data = bytes(range(256)) * 256  # (64 KiB: it fills the reader, which pauses)
    asyncio.protocols._feed_data_to_buffered_proto(reader, data)  # type: ignore[attr-defined]
    assert reader.paused
    assert reader.take(len(data)) == data  # (it would resume: the transport is gone)


def test_an_idle_tls_connection_whose_transport_is_gone_is_expired() -> None:
    """3.10's TLS transport raised RuntimeError ("SSL transport has not been initialized
    yet") from is_reading() between losing its connection and telling the reader: the
    pool's has_expired() let it out of a request, bare (107 in 4,795 requests to a server
    closing idle connections the TLS way)."""
    class Gone:
        def is_reading(self) -> bool:
            raise RuntimeError("SSL transport has not been initialized yet")

        def get_extra_info(self, name: str) -> Any:
            return None

    stream = network.BlockStream(Gone(), network._Reader(1024), 1024)  # type: ignore[arg-type]
    assert stream.get_extra_info("is_readable") is True


def test_bytes_delivered_after_the_reader_paused_are_kept() -> None:
    """Python 3.10's TLS transport hands over all it decrypted in one go, through
    get_buffer, after the reader asked it to pause: an empty buffer then failed the
    connection ("get_buffer() returned an empty buffer"), and a blob over ~256 KiB could
    not be read over HTTPS with Python 3.10."""
    paused: list[bool] = []

    class Transport:
        def pause_reading(self) -> None:
            paused.append(True)

        def resume_reading(self) -> None:
            paused.append(False)

    reader = network._Reader(64 << 10)
    reader.connection_made(Transport())  # type: ignore[arg-type]
    data = bytes(range(256)) * 1024  # 256 KiB: four times the most the reader holds
    asyncio.protocols._feed_data_to_buffered_proto(reader, data)  # type: ignore[attr-defined]
    assert paused and paused[-1] is True  # (it asked to pause, and got the rest anyway)
    assert reader.take(len(data)) == data


@pytest.mark.anyio
async def test_a_connection_whose_handshake_is_cancelled_before_it_began_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cancelled before asyncio's start_tls took its first step, nothing closed the TCP
    connection (asyncio closes it for a handshake under way; httpcore never closes a
    stream whose start_tls failed): a socket lost per such cancel, over TLS."""
    loop = asyncio.get_running_loop()

    async def never_begun(*args: Any, **kw: Any) -> Any:
        raise AssertionError("the handshake began")

    monkeypatch.setattr(loop, "start_tls", never_begun)

    class Transport:
        closed = False

        def close(self) -> None:
            self.closed = True

    plain = Transport()
    stream = network.BlockStream(plain, network._Reader(1024), 1024)  # type: ignore[arg-type]
    handshake = asyncio.ensure_future(stream.start_tls(ssl.create_default_context(),
                                                       "registry.example", 5))
    await asyncio.sleep(0)  # (it waits for asyncio's start_tls, which has not run yet)
    handshake.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handshake
    assert plain.closed


@pytest.mark.anyio
@pytest.mark.parametrize("step", ["connect", "tls"])
async def test_a_connection_made_as_its_connect_is_cancelled_is_closed(
    monkeypatch: pytest.MonkeyPatch, step: str,
) -> None:
    """The connect (or the TLS handshake) ended and the caller was cancelled in the same
    loop turn: the cancel goes on (_wait_for), and the connection made was left open --
    an asyncio transport nobody held ("unclosed transport" when collected), one per
    such cancel."""
    loop = asyncio.get_running_loop()
    made: asyncio.Future[Any] = loop.create_future()

    class Transport:
        closed = False

        def close(self) -> None:
            self.closed = True

    transport = Transport()
    if step == "connect":
        monkeypatch.setattr(loop, "create_connection", lambda *args, **kw: made)
        connecting = asyncio.ensure_future(
            network.BlockBackend().connect_tcp("127.0.0.1", 5000, timeout=5))
        result: Any = (transport, None)
    else:
        monkeypatch.setattr(loop, "start_tls", lambda *args, **kw: made)
        plain = Transport()
        stream = network.BlockStream(plain, network._Reader(1024), 1024)  # type: ignore[arg-type]
        connecting = asyncio.ensure_future(stream.start_tls(ssl.create_default_context(),
                                                            "registry.example", 5))
        result = transport
    await asyncio.sleep(0)
    made.set_result(result)
    connecting.cancel()  # (the same turn)
    with pytest.raises(asyncio.CancelledError):
        await connecting
    assert transport.closed


@pytest.mark.anyio
@WAITS
async def test_a_cancel_in_the_turn_the_wait_ends_is_never_dropped(wait_for: WaitFor) -> None:
    """asyncio.wait_for before 3.12 returned the result and dropped a cancel that came
    in the same loop turn (gh-86296): asyncio.timeout() or task.cancel() around a
    download went unheeded (7 in 150 timeouts, measured) while its bytes kept coming."""
    arrived = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(wait_for(arrived, 10))
    await asyncio.sleep(0)
    arrived.set_result(b"data")
    waiting.cancel()  # (the same turn)
    with pytest.raises(asyncio.CancelledError):
        await waiting


@pytest.mark.anyio
@WAITS
async def test_a_cancel_in_the_turn_the_wait_times_out_is_never_dropped(
    monkeypatch: pytest.MonkeyPatch, wait_for: WaitFor,
) -> None:
    """The timer fires and the caller is cancelled in the same loop turn: the cancel
    goes on (Python 3.10, which has no ``Task.cancelling``, took it for the timeout, and
    the library for a read timeout, to retry)."""
    loop = asyncio.get_running_loop()
    timers: list[Callable[[], object]] = []
    real_at = loop.call_at

    def at(when: float, fn: Callable[..., object], *args: Any, **kw: Any) -> Any:
        # (every timer: call_later sets one with call_at, as 3.12's asyncio.timeout does)
        timers.append(lambda: fn(*args))
        return real_at(when + 3600, fn, *args, **kw)

    monkeypatch.setattr(loop, "call_at", at)
    never = loop.create_future()
    waiting = asyncio.ensure_future(wait_for(never, 10))
    await asyncio.sleep(0)
    assert len(timers) == 1
    timers[0]()  # the timeout...
    waiting.cancel()  # ... and the caller's cancel, before the waiting task runs again
    with pytest.raises(asyncio.CancelledError):
        await waiting


@pytest.mark.anyio
@WAITS
async def test_a_cancelled_wait_cancels_what_it_waits_for(wait_for: WaitFor) -> None:
    never = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(wait_for(never, 10))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert never.cancelled()


@pytest.mark.anyio
@WAITS
async def test_the_wait_times_out_as_wait_for_does(wait_for: WaitFor) -> None:
    never = asyncio.get_running_loop().create_future()
    with pytest.raises(asyncio.TimeoutError):
        await wait_for(never, 0.01)
    assert never.cancelled()
    assert await wait_for(asyncio.sleep(0, "done"), 1) == "done"
    assert await network._wait_for(asyncio.sleep(0, "done"), None) == "done"

    async def failing() -> None:
        raise OSError("reset")

    with pytest.raises(OSError, match="reset"):
        await wait_for(failing(), 1)


@pytest.mark.anyio
@WAITS
async def test_a_timeout_after_a_cancel_the_task_handled_is_still_a_timeout(
    wait_for: WaitFor,
) -> None:
    # (Python 3.11: the task's cancel count was read as "the caller was cancelled")
    task = asyncio.current_task()
    assert task is not None
    with contextlib.suppress(asyncio.CancelledError):
        task.cancel()
        await asyncio.sleep(1)
    never = asyncio.get_running_loop().create_future()
    with pytest.raises(asyncio.TimeoutError):
        await wait_for(never, 0.01)
