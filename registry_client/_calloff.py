"""Calling a transfer off: the flag its worker threads look at, and the errors they stop with.

A fan-out of blob transfers (``services._schedule``) gives each of its threads a
:class:`CallOff` flag; a failure or a Ctrl-C sets it, and every loop a worker runs --
the bytes of a blob, and the retries of a request (``requester``) -- stops at its
next step with :class:`Cancelled` (:class:`Interrupted` for Ctrl-C: what was
received is worth keeping). Standard library only: the transport layer asks it too.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

__all__ = ["CallOff", "Cancelled", "Interrupted", "check_cancelled", "current", "enter",
           "watching"]


class Cancelled(Exception):
    """Raised in a worker whose transfer was called off (another one failed, or Ctrl-C)."""


class Interrupted(Cancelled):
    """Raised in a worker whose transfer the caller interrupted (Ctrl-C): what it has
    received is worth keeping for a resume."""


class CallOff(threading.Event):
    """A fan-out's cancel flag, and whether an interrupt of the caller set it.

    A fan-out started inside an item of another one (the blobs of each image of a
    ``sync()``) is called off with it: ``parent`` is the outer one's flag.
    """

    interrupted = False

    def __init__(self, parent: CallOff | None = None) -> None:
        super().__init__()
        self.parent = parent
        # the sockets its workers wait on right now (see ``watching``)
        self._waits: set[socket.socket] = set()
        self._waits_lock = threading.Lock()

    def set(self) -> None:
        """Call the work off: set the flag, and cut the connections its workers are
        blocked on, so that they stop now, not when the registry answers or the read
        timeout runs out (a stalled blob GET held a Ctrl-C for the whole timeout)."""
        super().set()
        with self._waits_lock:
            waits = list(self._waits)
        for sock in waits:
            _cut(sock)

    def chain(self) -> list[CallOff]:
        """This flag and the flags of the fan-outs it runs in."""
        flags: list[CallOff] = []
        flag: CallOff | None = self
        while flag is not None:
            flags.append(flag)
            flag = flag.parent
        return flags

    def reason(self) -> type[Cancelled] | None:
        """Why the work stops: :class:`Interrupted`, :class:`Cancelled`, or None (it goes on)."""
        if self.is_set():
            return Interrupted if self.interrupted else Cancelled
        return None if self.parent is None else self.parent.reason()

    def raise_if_called_off(self) -> None:
        """Raise :class:`Interrupted` or :class:`Cancelled` when the work is to stop."""
        why = self.reason()
        if why is not None:
            raise why("transfer interrupted" if why is Interrupted else "transfer called off")


_local = threading.local()


def current() -> CallOff | None:
    """The call-off flag of the transfer this thread works for, or None."""
    return getattr(_local, "cancel", None)


def enter(flag: CallOff | None) -> None:
    """Make ``flag`` this thread's call-off flag (None: it works for no transfer)."""
    _local.cancel = flag


def _cut(sock: socket.socket) -> None:
    """End ``sock``'s traffic both ways (a blocked read returns, a blocked send fails);
    shut down, not closed: its descriptor stays its connection's to close."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def watching(sock: socket.socket | None) -> Iterator[None]:
    """While this thread blocks on ``sock`` (sends a request, waits for an answer,
    reads its body), a call-off of the transfer it works for cuts the connection. Outside
    a transfer, or without a socket, it does nothing."""
    flag = current()
    if flag is None or sock is None:
        yield
        return
    chain = flag.chain()
    for each in chain:
        with each._waits_lock:
            each._waits.add(sock)
    try:
        if flag.reason() is not None:  # called off before it was watched: now
            _cut(sock)
        yield
    finally:
        for each in chain:
            with each._waits_lock:
                each._waits.discard(sock)


def check_cancelled() -> None:
    """In a transfer worker, stop (raise :class:`Cancelled`) once the transfer is called off.

    The byte loops (download, upload bodies) call it per block, so a failure or an
    interrupt stops every running blob within a block instead of letting them finish.
    Outside a transfer it does nothing.
    """
    event = current()
    if event is not None:
        event.raise_if_called_off()
