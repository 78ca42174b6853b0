"""Flows: the protocol written once, run by the blocking API or by asyncio.

A *flow* is a generator that does no I/O itself. It yields *effects* -- what it
needs from the outside world: an API request sent (:class:`Call`), a streamed body
read (:class:`Drain`), blocking file work done (:class:`Offload`), other flows run
side by side (:class:`Gather`), a wait before a retry (:class:`Sleep`), a sub-flow run
holding a lock (:class:`Exclusive`) -- and gets
each effect's result sent back (or its exception thrown in). Every protocol decision
(which request, what an answer means, when to resume, what to verify) lives in the
flow; a *shell* only performs effects. The blocking shell (``services._shell``) runs
them with ``requests`` and threads, the asyncio one (``registry_client.aio``) with
httpx and tasks, so both flavours of the API share one implementation::

    def get_raw(self, reference: str) -> Flow[RawManifest]:
        resp = yield Call(Request("GET", f"{self.repository}/manifests/{reference}"))
        return RawManifest(...)

Flows compose with ``yield from``: ``raw = yield from manifests.get_raw("1.0")``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Generator, Hashable, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar

from ._calloff import CallOff, check_cancelled, current, enter
from ._forksafe import renew_after_fork
from ._log import log
from ._request import Request
from ._response import Response
from ._retry import RetryPolicy

__all__ = [
    "Call",
    "Drain",
    "Effect",
    "Endpoint",
    "Exclusive",
    "Flow",
    "Gather",
    "LockTable",
    "Offload",
    "Performer",
    "Sleep",
    "back_off",
    "run",
    "run_exclusive",
]

T = TypeVar("T")
L = TypeVar("L")


class Call(NamedTuple):
    """Send ``request`` through the registry's Requester (auth, retries, typed errors).

    ``endpoint`` is the requester of the registry to send it to (a service's flows
    name their own): None is the shell's own registry. A flow may so talk to two
    registries -- a copy reads the source and writes the target -- in one shell.

    Result: the :class:`~registry_client._response.Response` (a streamed one when
    ``request.stream``: read it with :class:`Drain`, and close it).
    """

    request: Request
    endpoint: Endpoint | None = None


class Drain(NamedTuple):
    """Read a streamed answer's body (as served, never decoded), handing each block to
    ``sink`` as it arrives, until the end or ``limit`` bytes.

    ``sink`` is plain blocking code (hash, write to a file, count, report progress);
    it is called from the thread or task that reads, one block at a time, in order.
    Between blocks the shell stops a transfer that was called off
    (``services._schedule.Cancelled``, or the asyncio task's cancellation).

    Result: the number of bytes read. A broken connection raises
    ``RegistryUnavailableError`` after ``sink`` has had every byte received before it.

    ``lend``, when given, is where a shell may receive each block: ``lend(n)`` gives a
    buffer of at least ``n`` bytes (a hasher's, see ``_digest.HashThread.lend``), and
    the block handed to ``sink`` is a memoryview of it, valid during that call only.
    Blocks are then filled whole (fewer bytes only at the end), and a cut loses the part
    of a block received so far: the sink of such a drain must not keep blocks, and the
    reader resumes from what the sink took. A shell may ignore it.
    """

    response: Response
    sink: Callable[[bytes], None]
    limit: int | None = None
    block_size: int = 1 << 20
    lend: Callable[[int], bytearray] | None = None


class Offload(NamedTuple):
    """Run ``fn()``: blocking work (opening, locking, hashing or renaming files).

    The blocking shell runs it in place; the asyncio shell in a worker thread, so
    the event loop keeps running. Result: what ``fn`` returns (or raises).

    ``cleanup``: the release of what an earlier step took (in a ``finally``): a cancel
    the asyncio runner holds back for the flow's next step (``aio._run.arun``) is
    delivered after it, never instead of it.
    """

    fn: Callable[[], Any]
    cleanup: bool = False


class Gather(NamedTuple):
    """Run flows side by side, at most ``workers`` at once; each factory makes its flow
    when a slot is free.

    Result: the flows' results, in order. The first failure stops the others (those
    running stop at their next block) and is raised. ``transfer`` orders the work as
    blob transfers want it (factories sorted largest first: one slot takes the small
    ones first, see ``services._schedule.transfer``).
    """

    flows: Sequence[Callable[[], Flow[Any]]]
    workers: int
    transfer: bool = False


class Sleep(NamedTuple):
    """Wait ``seconds`` (a retry's backoff): awaited by the asyncio shell, so a cancel
    stops it; result: None."""

    seconds: float


class Exclusive(NamedTuple):
    """Run ``flow`` holding the lock of ``key`` in ``locks``; result: the flow's.

    One flow of a key at a time, among the threads (blocking shell) or the tasks
    (asyncio shell) of this process: a read-modify-write of a registry's document (a
    referrers tag) by the workers of one copy, or the first request to a registry.
    The requests' exchange flows use it too (``_exchange``)."""

    locks: LockTable
    key: Hashable
    flow: Generator[Any, Any, Any]


class LockTable:
    """Locks by key, made on first use, one kind of lock per shell.

    ``lock(key, threading.Lock)`` is the blocking shell's lock of ``key``,
    ``lock(key, asyncio.Lock, loop=loop)`` the asyncio shell's (an asyncio.Lock serves
    one event loop): an object serving both flavours keeps both, each excluding the
    tasks or threads of its own flavour. A closed loop's locks are forgotten (one
    AsyncRegistry may serve one loop after another).

    ``weak``: a key's lock is kept only while it is held or waited for (a table of
    many short-lived keys -- one per blob -- does not grow for the life of the
    process). ``thread_lock`` is the blocking shell's kind of lock (``threading.RLock``:
    a thread holding a key may take it again).
    """

    def __init__(self, *, weak: bool = False,
                 thread_lock: Callable[[], Any] = threading.Lock) -> None:
        self.thread_lock = thread_lock
        self._table: Callable[[], Any] = weakref.WeakValueDictionary if weak else dict
        self._guard = threading.Lock()
        self._locks: Any = self._table()
        self._of_loop: dict[Any, Any] = {}
        self._holders: dict[Hashable, list[CallOff | None]] = {}  # blocking holders' flags
        renew_after_fork(self)

    def renew_locks(self) -> None:
        """In a child just forked: no lock is held, none of the parent's is kept."""
        self._guard = threading.Lock()
        self._locks = self._table()
        self._of_loop = {}
        self._holders = {}

    def taken(self, key: Hashable, flag: CallOff | None) -> None:
        """A blocking worker took ``key``'s lock, for the transfer whose flag is ``flag``."""
        with self._guard:
            self._holders.setdefault(key, []).append(flag)

    def given_back(self, key: Hashable) -> None:
        """The last :meth:`taken` of ``key`` gave its lock back."""
        with self._guard:
            held = self._holders.get(key)
            if held:
                held.pop()
                if not held:
                    del self._holders[key]

    def holder(self, key: Hashable) -> CallOff | None:
        """The transfer flag of the worker holding ``key``'s lock first, if any."""
        with self._guard:
            held = self._holders.get(key)
            return held[0] if held else None

    def lock(self, key: Hashable, factory: Callable[[], L], *, loop: Any = None) -> L:
        """The lock of ``key`` of the kind ``factory`` makes (made on first use); with
        ``loop``, that event loop's."""
        with self._guard:
            locks = self._locks
            if loop is not None:
                for closed in [x for x in self._of_loop if x.is_closed()]:
                    del self._of_loop[closed]
                locks = self._of_loop.get(loop)
                if locks is None:
                    locks = self._of_loop[loop] = self._table()
            found: L | None = locks.get((factory, key))
            if found is None:
                found = locks[(factory, key)] = factory()
            return found


def back_off(policy: RetryPolicy, attempt: int, wait: float | None, *,
             pause: Callable[[float], None] | None = None) -> Generator[Sleep, Any, None]:
    """Wait before retry number ``attempt + 1`` as ``policy`` says: ``wait`` (a
    Retry-After) when given, else backoff with jitter. ``pause`` (a 429's
    ``endpoint.pause_all``) makes every request to the registry wait it out too. A flow
    of requests (``_exchange``) and of services alike."""
    delay = policy.delay(attempt, wait)
    if pause is not None:
        # A 429 is about this host, not this request: every worker waits it out
        # together instead of each discovering the limit on its own.
        pause(delay)
    log.debug("retrying in %.2fs (attempt %d)", delay, attempt + 1)
    yield Sleep(delay)


Effect = Call | Drain | Offload | Gather | Sleep | Exclusive
"""What a flow may yield."""

Flow = Generator[Effect, Any, T]
"""A generator of effects whose return value is the operation's result."""


class Endpoint(Protocol):
    """What flows may read of the registry they talk to (no I/O): the Requester's
    identity, limits and what it learnt. Both flavours' requesters have it."""

    domain: str
    host: str
    protocol: str
    base_url: str
    body_limit: int
    capabilities: dict[str, bool]
    policy: RetryPolicy
    chunk_policy: RetryPolicy
    locks: LockTable  # (see Exclusive)

    @property
    def retries(self) -> int:
        """Retries after the first attempt of a request that may repeat."""

    def url(self, path: str) -> str:
        """The absolute URL of an API path."""

    def resolve(self, location: str, base: str | None = None) -> str:
        """Resolve a ``Location`` or ``Link`` target against the API."""

    def same_origin(self, url: str) -> bool:
        """True when ``url`` has the registry's own scheme, host and port."""

    def count_received(self, n: int) -> None:
        """Add ``n`` bytes to the received counter."""

    def count_sent(self, n: int) -> None:
        """Add ``n`` bytes to the sent counter."""

    def pause_all(self, seconds: float) -> None:
        """Make every request to the registry wait ``seconds`` from now (a 429)."""


class Performer(Protocol):
    """A blocking shell: performs one effect and returns its result."""

    def perform(self, effect: Any) -> Any:
        """Do what ``effect`` asks; return its result or raise its error (an :data:`Effect`,
        or a step of ``_exchange`` for the performers of that vocabulary)."""


def run(flow: Generator[Any, Any, T], performer: Performer) -> T:
    """Run ``flow`` to its end with a blocking ``performer``; its return value.

    An effect's exception is thrown into the flow at its ``yield`` (its ``try``
    blocks see it as if the call had raised there), so clean-up and recovery are
    written once, in the flow.
    """
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            error = None  # the flow has it (a raise from the flow is the flow's own)
        try:
            value = performer.perform(effect)
        except BaseException as exc:  # thrown into the flow, which decides what it means
            value, error = None, exc


def run_exclusive(effect: Exclusive, performer: Performer) -> Any:
    """Perform ``effect`` in a blocking shell: its sub-flow, holding the threads' lock
    of its key. A worker of a transfer waits in slices: called off meanwhile (Ctrl-C,
    another blob failed), it stops waiting -- the holder may be sending a large blob."""
    table, key = effect.locks, effect.key
    lock = table.lock(key, table.thread_lock)
    mine = current()
    while not lock.acquire(timeout=_LOCK_SLICE):
        check_cancelled()
        holder = table.holder(key)
        if mine is not None and holder is not None and holder in mine.chain():
            # A fan-out inside the holder's own work (a progress callback that copies
            # an image sharing the blob being sent): the holder waits for this very
            # work. Without the lock, as it went before there was one.
            return run(effect.flow, performer)
    # The holder gets a flag of its own while it holds the lock, a child of its
    # transfer's (called off with it): what it starts inside descends from it and is
    # known as its own (the check above), while its sibling workers, which share the
    # transfer's flag, wait -- a token one of them fetches is not fetched by each.
    ours = CallOff(mine)
    enter(ours)
    table.taken(key, ours)
    try:
        return run(effect.flow, performer)
    finally:
        table.given_back(key)
        lock.release()
        enter(mine)


_LOCK_SLICE = 0.05
"""Seconds a blocking worker waits for an Exclusive's lock between looks at its flag."""
