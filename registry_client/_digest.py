"""Hashing helpers: hash content by a digest's algorithm, compute a digest.

The digest grammar itself (``is_valid_digest``, ``is_verifiable_digest``,
``require_verifiable``) belongs to :mod:`registry_client.reference`: import it from there.
"""

from __future__ import annotations

import collections
import hashlib
import os
import threading
from typing import Any

from . import _threads
from .reference import require_verifiable

__all__ = ["REGISTRY_ALGORITHM", "HashThread", "compute_digest", "new_hasher", "overlapped",
           "registry_keyed"]

REGISTRY_ALGORITHM = "sha256"
"""The algorithm registries key content by: the digest they compute and answer with."""


def registry_keyed(digest: str) -> bool:
    """True when ``digest`` is of the algorithm registries key content by (sha256).

    Such a digest names content as the registry does: it is the registry's own
    ``Docker-Content-Digest``, and a blob linked under it is there. A digest of another
    algorithm (``sha512:…``) is only the client's name: the registry answers with the
    sha256 of the same bytes, and may accept it without linking anything.
    """
    return digest.startswith(f"{REGISTRY_ALGORITHM}:")


def new_hasher(digest: str) -> Any:
    """A hashlib object for the algorithm of ``digest``.

    Raises:
        UnsupportedDigestError: not an algorithm the client can verify.
    """
    require_verifiable(digest)
    return hashlib.new(digest.split(":", 1)[0])


def compute_digest(data: bytes, algorithm: str = REGISTRY_ALGORITHM) -> str:
    """The ``algo:hex`` digest of ``data``."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


OVERLAP_MIN = 64 * 1024
"""Blocks at least this large are hashed on a worker thread (hashlib lets go of the GIL
for them); smaller ones, while nothing waits to be hashed, in the caller's thread."""

HASH_BLOCK = 1 << 20
"""The size of a :class:`HashThread`'s buffers (a larger block gets a larger one)."""

HASH_AHEAD = 16
"""Blocks a :class:`HashThread` may hold not yet hashed: how far the reading runs ahead
(with 1 MiB blocks, 16 MiB of memory at most). The reader and the hashing share the
cores with the registry: a reader that can run further ahead waits less when the
hashing thread is not scheduled for a while (1 GiB on /dev/shm, interleaved runs:
0.977 s with 4, 0.959 s with 8, 0.911 s with 16; peak RSS 35, 39, 47 MiB)."""

POOL_KEEP = 16
"""Buffers kept for the next hashings once theirs are done (16 MiB): what the shared
pool holds whatever the number of cores."""


class _Slots:
    """How many hashings may run beside their readers at once: one core less than the
    machine has (at least one), the one the readers themselves use, and none while more
    blobs are being read than that (their readers keep the cores busy already); and the
    buffers they copy blocks into, used again from one blob to the next."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                 else os.cpu_count() or 2)
        self.limit = max(1, cores - 1)
        self.taken = 0
        self.streams = 0  # blobs being read in large blocks (see HashThread._stream)
        self._buffers: list[bytearray] = []

    def buffer(self) -> bytearray:
        """A buffer given back earlier, or an empty one (the caller sizes it)."""
        with self._lock:
            return self._buffers.pop() if self._buffers else bytearray(0)

    def count(self, n: int) -> None:
        """One more (``n`` = 1) or one fewer (-1) blob being read."""
        with self._lock:
            self.streams += n

    def take(self) -> bool:
        """A slot for a hashing beside its reader, if one is free and worth it."""
        with self._lock:
            if self.taken >= self.limit or self.streams > self.limit:
                return False
            self.taken += 1
            return True

    def give_back(self, buffers: list[bytearray]) -> None:
        """Give back a slot taken, and the buffers its hashing used."""
        with self._lock:
            self.taken -= 1
        self.keep(buffers)

    def keep(self, buffers: list[bytearray]) -> None:
        """Keep ``buffers`` for the next hashings (as many as they may use at once)."""
        with self._lock:
            room = min(self.limit * HASH_AHEAD, POOL_KEEP) - len(self._buffers)
            self._buffers.extend([b for b in buffers if len(b) == HASH_BLOCK][:max(0, room)])


_overlap = _Slots()


def _reset_after_fork() -> None:
    """A forked child runs none of its parent's hashings (and may find the lock held)."""
    global _overlap
    _overlap = _Slots()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


class HashThread:
    """A hashlib object fed by one thread and hashed on another: a blob's bytes are hashed
    while the next ones are received and written, so hashing costs no time of its own.

    The same methods as the hashlib object it wraps (``update``, ``digest``,
    ``hexdigest``, ``copy``, ``name``); the answers wait until every byte given is hashed.
    ``update`` copies a large block into one of the HashThread's own buffers (used again
    and again): the caller may reuse or drop its block at once.
    An error of the hashing (none is expected of hashlib) is raised by the next call.

    Blocks are hashed beside the reading while a core is spare (at most one hashing
    thread fewer than the machine's cores at once, see :class:`_Slots`); otherwise, as
    small blocks are, in the caller's thread.

    The worker thread only exists while blocks wait (see :mod:`registry_client._threads`):
    a HashThread that is dropped half-way leaves nothing running once its blocks are
    hashed.
    """

    __slots__ = ("_ahead", "_blocks", "_busy", "_changed", "_done", "_error", "_free",
                 "_hasher", "_in_use", "_lent", "_made", "_resume", "_stream", "name")

    def __init__(self, hasher: Any, ahead: int = HASH_AHEAD) -> None:
        self._stream = False  # counted in _overlap.streams: large blocks came, no digest yet
        self._done = False  # stopped for good: counted no more
        self._hasher = hasher
        self.name: str = hasher.name
        # ``ahead`` buffers, used again and again: a block kept until the other thread
        # has hashed it would be a fresh allocation each time, and the allocator hands
        # such memory back to the system and faults it in again (0.2 CPU-s a GiB)
        self._free: list[bytearray] = []
        self._made = 0  # buffers made so far: at most ``ahead``
        self._ahead = max(1, ahead)
        self._resume = (self._ahead + 1) // 2
        self._blocks: collections.deque[tuple[bytearray, memoryview]] = collections.deque()
        self._lent: bytearray | None = None  # see lend()
        # the buffer taken over last: its reader may use it until it asks for the next
        self._in_use: bytearray | None = None
        self._busy = False  # a worker is hashing (or about to hash) the blocks
        self._changed = threading.Condition(threading.Lock())
        self._error: BaseException | None = None

    def __del__(self) -> None:
        if getattr(self, "_stream", False):  # dropped half-way: no longer read
            self._stream = False
            _overlap.count(-1)

    def stopped(self, *, for_good: bool = False) -> None:
        """The reading stopped before the blob's end (a failure, a cancel): the blob no
        longer counts as one being read, so other hashings may run beside their
        readers again (without waiting for the garbage collector to free this one).
        A later large block counts it again -- unless it stopped ``for_good`` (a reader
        closed, maybe while another thread's read still hands over its last block)."""
        with self._changed:
            if for_good:
                self._done = True
            if self._stream:
                self._stream = False
                _overlap.count(-1)

    def lend(self, size: int) -> bytearray:
        """A buffer of at least ``size`` bytes to receive the next block into.

        :meth:`update` of a memoryview of it (or of a slice of one) takes the buffer
        over instead of copying the block: it is hashed where it is, and lent again
        once hashed. After that :meth:`update` the caller may still read the block
        (write it out) until its next ``lend``, never change it; the buffer goes to no
        one else before that call. A buffer lent and never given to :meth:`update` is
        lent again.
        """
        changed = self._changed
        with changed:
            self._in_use = None  # the reader is done with the block before
            self._raise()
            buffer = self._lent
            if buffer is None or len(buffer) < size:
                self._wait_for_room()
                buffer = self._take_buffer()
        if len(buffer) < size:
            buffer = bytearray(max(size, HASH_BLOCK))
        self._lent = buffer
        return buffer

    def _take_buffer(self) -> bytearray:
        """A free buffer of this hashing, else one of the pool's (under the lock, with
        room: see :meth:`_wait_for_room`); the caller sizes it."""
        if self._free:
            return self._free.pop()
        self._made += 1
        return _overlap.buffer()

    def _wait_for_room(self) -> None:
        """Wait (under the lock) until a buffer may be taken; raise the hashing's error."""
        if not self._room():
            # wait until half the buffers are free, not one: a wake-up per block
            # costs a thread switch per block on a busy machine
            while self._room() < self._resume and self._error is None:
                self._changed.wait()
        self._raise()

    def update(self, data: Any) -> None:
        """Hash ``data`` after every block given before it."""
        n = len(data)
        if not n:
            return
        lent = self._lent
        if lent is not None and isinstance(data, memoryview) and data.obj is lent:
            self._take_over(lent, data)
            return
        changed = self._changed
        with changed:
            self._raise()
            if self._here(n):
                # nothing in flight: the hasher is the caller's alone. A thread hop costs
                # more than hashing a small block, and while other hashings take every
                # spare core, one more only adds the hops
                self._hasher.update(data)
                return
            slot = not self._busy  # taken just now, for the worker about to start
            try:
                self._wait_for_room()
            except BaseException:
                if slot:
                    _overlap.give_back([])
                raise
            buffer = self._take_buffer()
        if len(buffer) < n:
            buffer = bytearray(max(n, HASH_BLOCK))
        buffer[:n] = data  # the caller's block is let go of at once (see the class)
        view = memoryview(buffer)[:n]
        with changed:
            if self._busy:  # the worker is on it, and takes this block too
                self._blocks.append((buffer, view))
                return
            if not slot and not _overlap.take():
                # the worker ended meanwhile, and no spare core is left: hash it here
                self._hasher.update(view)
                self._made -= 1
                _overlap.keep([buffer])
                return
            self._blocks.append((buffer, view))
            self._busy = True
        _threads.submit(self._work)

    def _here(self, n: int) -> bool:
        """Whether a block of ``n`` bytes is hashed in the caller's thread (under the lock):
        nothing in flight, and the block is small or no core is spare. Takes a slot for a
        worker otherwise (when none runs), and counts the blob as read in large blocks."""
        if n >= OVERLAP_MIN and not self._stream and not self._done:
            self._stream = True
            _overlap.count(1)
        return not self._busy and (n < OVERLAP_MIN or not _overlap.take())

    def _take_over(self, buffer: bytearray, view: memoryview) -> None:
        """:meth:`update` of ``view``, a block received into the lent ``buffer``: no copy."""
        changed = self._changed
        with changed:
            self._raise()
            if self._here(len(view)):
                # hashed here (see update); the buffer stays lent, for the next block
                self._hasher.update(view)
                return
            self._lent = None  # the worker's until hashed, then in _free again
            self._in_use = buffer
            self._blocks.append((buffer, view))
            if self._busy:
                return
            self._busy = True
        _threads.submit(self._work)

    def _work(self) -> None:
        changed, blocks = self._changed, self._blocks
        while True:
            with changed:
                if not blocks or self._error is not None:
                    self._free.extend(buffer for buffer, _ in blocks)
                    blocks.clear()
                    self._busy = False
                    # the buffers go back with the slot: the memory held is bounded by
                    # the hashings running, not by the blobs being read. Not the one
                    # taken over last: its reader may still be writing it out
                    held = self._in_use
                    _overlap.give_back([b for b in self._free if b is not held])
                    self._free = [b for b in self._free if b is held]
                    self._made = len(self._free)
                    changed.notify_all()
                    return
                buffer, view = blocks.popleft()
            try:
                # hashlib lets go of the GIL for a large block: this runs beside the reading
                self._hasher.update(view)
            except BaseException as exc:  # raised by the caller's next call
                with changed:
                    self._error = exc
            with changed:
                self._free.append(buffer)
                if self._room() == self._resume:
                    changed.notify_all()

    def _room(self) -> int:
        """Blocks :meth:`update` may take before it waits (under the lock)."""
        return len(self._free) + self._ahead - self._made

    def _settled(self) -> Any:
        """The hasher, once every block given is hashed (or the error of hashing them)."""
        changed = self._changed
        with changed:
            while self._busy:
                changed.wait()
            if self._stream:  # read to its end (or as far as the caller reads)
                self._stream = False
                _overlap.count(-1)
            self._raise()
        return self._hasher

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def digest(self) -> bytes:
        """The digest of every byte given (waits for their hashing)."""
        value: bytes = self._settled().digest()
        return value

    def hexdigest(self) -> str:
        """The hex digest of every byte given (waits for their hashing)."""
        value: str = self._settled().hexdigest()
        return value

    def copy(self) -> Any:
        """A plain hashlib copy of the state after every byte given."""
        return self._settled().copy()


def overlapped(hasher: Any) -> Any:
    """``hasher`` hashing on a worker thread (a :class:`HashThread`; one already is kept)."""
    return hasher if isinstance(hasher, HashThread) else HashThread(hasher)
