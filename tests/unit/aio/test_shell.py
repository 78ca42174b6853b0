"""AsyncShell: the flow effects performed with httpx answers and asyncio tasks."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import hashlib
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _loop_stall import longest_stall

from registry_client._flow import Call, Drain, Flow, Gather, Offload
from registry_client._request import Request
from registry_client._response import Response
from registry_client.aio._run import arun
from registry_client.aio._shell import AsyncShell, SinkThread
from registry_client.aio._transport import AsyncTransport
from registry_client.errors import RegistryUnavailableError
from registry_client.services._schedule import transfer

BASE = "https://registry.example"


class _Sender:
    """The requester's part the shell uses: sends through an AsyncTransport."""

    def __init__(self, handler: Callable[[httpx.Request], Any]) -> None:
        self.transport = AsyncTransport(BASE, timeout=(2, 5), verify=True, proxy=None,
                                        user_agent=None, pool_size=4,
                                        transport=httpx.MockTransport(handler))
        self.received = 0

    async def send_request(self, request: Request) -> Response:
        return await self.transport.send(request.verb, f"{BASE}/v2/{request.target}",
                                         headers=request.headers, body=request.body)

    def count_received(self, n: int) -> None:
        self.received += n


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes], *, then: Exception | None = None,
                 pause: float = 0.0) -> None:
        self._chunks, self._then, self._pause = chunks, then, pause

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            if self._pause:
                await asyncio.sleep(self._pause)
            yield chunk
        if self._then is not None:
            raise self._then


def _stream(chunks: list[bytes], **kw: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(200, stream=_Chunks(chunks, **kw))


def _download(sink: Callable[[bytes], None], limit: int | None = None) -> Flow[int]:
    resp = yield Call(Request("GET", "app/blobs/sha256:ab", stream=True))
    try:
        n: int = yield Drain(resp, sink, limit=limit)
    finally:
        resp.close()
    return n


@pytest.mark.anyio
async def test_a_drain_hands_every_byte_to_the_sink_in_order() -> None:
    chunks = [bytes([i]) * 70_000 for i in range(40)]
    sender = _Sender(_stream(chunks))
    got = bytearray()
    n = await arun(_download(got.extend), AsyncShell(sender))
    assert bytes(got) == b"".join(chunks)
    assert n == sender.received == len(got)


@pytest.mark.anyio
async def test_a_drain_stops_at_its_limit() -> None:
    got = bytearray()
    n = await arun(_download(got.extend, limit=100_001),
                   AsyncShell(_Sender(_stream([b"x" * 65_536] * 4))))
    assert n == len(got) == 100_001


@pytest.mark.anyio
async def test_a_cut_body_raises_after_the_sink_had_every_byte_received() -> None:
    cut = httpx.RemoteProtocolError("peer closed connection without sending complete message "
                                    "body (received 300000 bytes, expected 999999)")
    got = bytearray()
    with pytest.raises(RegistryUnavailableError) as caught:
        await arun(_download(got.extend), AsyncShell(_Sender(_stream([b"a" * 100_000] * 3,
                                                                     then=cut))))
    assert len(got) == 300_000
    assert str(caught.value) == ("connection broken after 300000 bytes of the body: the "
                                 "connection broke in the middle of the answer")


@pytest.mark.anyio
async def test_the_loop_stays_responsive_while_a_slow_sink_takes_large_blocks() -> None:
    """A sink that takes 150 ms a block (hashing 1 MiB blocks on a slow disk) never
    stalls the loop: a heartbeat sees no gap over 100 ms that a plain thread's heartbeat
    does not share (a busy machine holds up both; tests/_loop_stall.py)."""
    hasher = hashlib.sha256()
    sink_threads: set[int] = set()

    def slow_sink(block: bytes) -> None:
        sink_threads.add(threading.get_ident())
        hasher.update(block)
        time.sleep(0.15)

    chunks = [bytes([i % 251]) * 65_536 for i in range(16 * 8)]  # 8 MiB
    n, stall = await longest_stall(
        lambda: arun(_download(slow_sink), AsyncShell(_Sender(_stream(chunks)))))
    assert n == 8 << 20
    assert hasher.hexdigest() == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert threading.get_ident() not in sink_threads
    assert stall.ours < 0.1, str(stall)


@pytest.mark.anyio
async def test_an_offload_runs_in_a_worker_thread() -> None:
    def flow() -> Flow[int]:
        ident: int = yield Offload(threading.get_ident)
        return ident

    assert await arun(flow(), AsyncShell(_Sender(_stream([])))) != threading.get_ident()


_TASK_VALUE: contextvars.ContextVar[str] = contextvars.ContextVar("test_task_value")


@pytest.mark.anyio
async def test_an_offload_skips_the_default_executor_and_sees_the_task_s_context() -> None:
    """Not on the loop's default executor, which starts a thread per new job and waits
    for it to run (milliseconds inside a pull); the task's context goes along, as with
    ``asyncio.to_thread``."""
    submitted: list[object] = []

    class Spy(concurrent.futures.ThreadPoolExecutor):
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            submitted.append(args[0])
            return super().submit(*args, **kwargs)

    spy = Spy(max_workers=1)
    asyncio.get_running_loop().set_default_executor(spy)
    _TASK_VALUE.set("the task's")

    def flow() -> Flow[str]:
        value: str = yield Offload(_TASK_VALUE.get)
        return value

    assert await arun(flow(), AsyncShell(_Sender(_stream([])))) == "the task's"
    assert submitted == []


# -- Gather ---------------------------------------------------------------------------------

class _Tracker:
    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.started: list[int] = []
        self.outcome: dict[int, str] = {}

    def flow(self, i: int, *, fail: bool = False, steps: int = 5) -> Callable[[], Flow[int]]:
        def make() -> Flow[int]:
            self.started.append(i)
            self.running += 1
            self.most = max(self.most, self.running)
            try:
                for _ in range(steps):
                    yield Offload(lambda: time.sleep(0.01))
                if fail:
                    raise ValueError(f"flow {i} failed")
                self.outcome[i] = "done"
                return i * 10
            except BaseException as exc:
                self.outcome[i] = type(exc).__name__
                raise
            finally:
                self.running -= 1
        return make


@pytest.mark.anyio
async def test_a_gather_runs_at_most_workers_at_once_and_keeps_the_order() -> None:
    t = _Tracker()
    results = await arun(_gather([t.flow(i) for i in range(7)], workers=3),
                         AsyncShell(_Sender(_stream([]))))
    assert results == [i * 10 for i in range(7)]
    assert t.most == 3
    assert t.started[:3] == [0, 1, 2]


def _gather(flows: list[Callable[[], Flow[Any]]], workers: int,
            transfer: bool = False) -> Flow[list[Any]]:
    results: list[Any] = yield Gather(flows, workers, transfer=transfer)
    return results


@pytest.mark.anyio
async def test_a_transfer_takes_its_flows_in_the_blocking_order() -> None:
    """Sizes largest first; one slot from the small end, as services._schedule.transfer."""
    t = _Tracker()
    await arun(_gather([t.flow(i) for i in range(6)], workers=3, transfer=True),
               AsyncShell(_Sender(_stream([]))))
    blocking: list[int] = []
    lock = threading.Lock()

    def record(i: int) -> None:
        with lock:
            blocking.append(i)
        time.sleep(0.05)

    transfer(record, list(range(6)), 3)
    assert sorted(t.started[:3]) == sorted(blocking[:3]) == [0, 1, 5]
    assert t.most == 3


@pytest.mark.anyio
async def test_the_first_failure_calls_the_others_off_and_is_raised() -> None:
    t = _Tracker()
    flows = [t.flow(0, steps=50), t.flow(1, fail=True, steps=2), t.flow(2, steps=50),
             t.flow(3)]
    with pytest.raises(ValueError, match="flow 1 failed"):
        await arun(_gather(flows, workers=3), AsyncShell(_Sender(_stream([]))))
    assert t.running == 0  # every flow ended before the error reached the caller
    # called off, not interrupted: as the blocking Cancelled (nothing kept for a resume)
    assert t.outcome == {0: "Cancelled", 1: "ValueError", 2: "Cancelled"}
    assert 3 not in t.started


@pytest.mark.anyio
async def test_a_cancelled_caller_cancels_every_flow_and_waits_for_their_clean_up() -> None:
    t = _Tracker()
    task = asyncio.ensure_future(arun(_gather([t.flow(i, steps=100) for i in range(4)],
                                              workers=2, transfer=True),
                                      AsyncShell(_Sender(_stream([])))))
    while len(t.started) < 2:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert t.running == 0
    # interrupted: as Ctrl-C in the blocking API (what was received is kept)
    assert set(t.outcome.values()) == {"CancelledError"}
    assert len(t.started) == 2


@pytest.mark.anyio
async def test_a_nested_gather_of_a_called_off_flow_is_called_off_too() -> None:
    t = _Tracker()

    def outer_ok() -> Flow[Any]:
        result: list[Any] = yield Gather([t.flow(10, steps=50), t.flow(11, steps=50)], 2)
        return result

    with pytest.raises(ValueError, match="flow 1 failed"):
        await arun(_gather([outer_ok, t.flow(1, fail=True, steps=2)], workers=2),
                   AsyncShell(_Sender(_stream([]))))
    assert t.outcome[10] == t.outcome[11] == "Cancelled"


@pytest.mark.anyio
async def test_a_cancel_waits_for_the_file_work_in_a_thread_before_the_clean_up() -> None:
    events: list[str] = []

    def slow_write() -> None:
        time.sleep(0.2)
        events.append("written")

    def flow() -> Flow[None]:
        try:
            yield Offload(slow_write)
        finally:
            events.append("clean-up")

    task = asyncio.ensure_future(arun(flow(), AsyncShell(_Sender(_stream([])))))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events == ["written", "clean-up"]


@pytest.mark.anyio
async def test_a_sink_thread_stops_at_the_first_error_and_raises_it() -> None:
    """The block that failed is the last the sink sees; the error comes out of put or
    finish, in the loop."""
    seen: list[bytes] = []

    def sink(block: bytes) -> None:
        if block == b"3":
            raise ValueError("bad block")
        seen.append(block)

    pipe = SinkThread(sink, ahead=2)
    with pytest.raises(ValueError, match="bad block"):
        for i in range(10):
            await pipe.put(str(i).encode())
        await pipe.finish()
    await pipe.finish(drop=True, quiet=True)
    assert seen == [b"0", b"1", b"2"]


@pytest.mark.anyio
async def test_a_cancelled_drain_keeps_what_arrived_as_ctrl_c_does() -> None:
    """A cancelled task is Ctrl-C for the blocking API, which keeps every block it read:
    the bytes received but not yet a whole block are handed to the sink too, so a
    resume asks only for the rest."""
    got = bytearray()
    chunks = [bytes([i]) * 100_000 for i in range(40)]  # a block is 1 MiB: ~10 chunks
    sent: list[int] = []

    class Counted(_Chunks):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for chunk in super().__aiter__():
                sent.append(len(chunk))
                yield chunk

    sender = _Sender(lambda request: httpx.Response(200, stream=Counted(chunks, pause=0.03)))
    task = asyncio.ensure_future(arun(_download(got.extend), AsyncShell(sender)))
    await asyncio.sleep(0.25)  # some chunks read, not yet a whole block
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 0 < len(got) == sum(sent) < 1 << 20  # every byte read is kept, in order
    assert bytes(got) == b"".join(chunks)[:len(got)]


@pytest.mark.anyio
async def test_a_cancelled_drain_ends_its_sink_thread_before_the_clean_up() -> None:
    """The blocks received are sunk (as above), and only then does the flow's clean-up
    (closing the file the sink writes) run: nothing is sunk after it."""
    events: list[str] = []

    def slow_sink(block: bytes) -> None:
        events.append("sink")
        time.sleep(0.1)
        events.append("sunk")

    def flow() -> Flow[None]:
        resp = yield Call(Request("GET", "app/blobs/sha256:ab", stream=True))
        try:
            yield Drain(resp, slow_sink)
        finally:
            events.append("clean-up")
            resp.close()

    chunks = [bytes([i]) * (1 << 20) for i in range(20)]
    task = asyncio.ensure_future(arun(flow(), AsyncShell(_Sender(_stream(chunks)))))
    await asyncio.sleep(0.15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events[-1] == "clean-up" and events[-2] == "sunk"
    assert 1 <= events.count("sunk") < len(chunks)
    time.sleep(0.15)  # the thread has ended: nothing is sunk after the clean-up
    assert events[-1] == "clean-up"


# -- a Call names its registry ----------------------------------------------------------------
@pytest.mark.anyio
async def test_a_call_naming_another_registry_is_sent_there() -> None:
    # a copy between registries: one flow, one shell, the target's calls go to the target
    here = _Sender(lambda request: httpx.Response(200))
    there = _Sender(lambda request: httpx.Response(203))

    def flow() -> Flow[tuple[int, int]]:
        mine: Response = yield Call(Request("GET", "a/tags/list"))
        theirs: Response = yield Call(Request("GET", "a/tags/list"), there)  # type: ignore[arg-type]
        return mine.status_code, theirs.status_code

    assert await arun(flow(), AsyncShell(here)) == (200, 203)


@pytest.mark.anyio
async def test_an_asyncio_call_to_a_blocking_registry_is_refused() -> None:
    from registry_client import Registry

    shell = AsyncShell(_Sender(lambda request: httpx.Response(200)))
    with Registry("registry.example") as blocking:
        def flow() -> Flow[None]:
            yield Call(Request("GET", "a/tags/list"), blocking.requester)

        with pytest.raises(TypeError, match="blocking registry"):
            await arun(flow(), shell)
