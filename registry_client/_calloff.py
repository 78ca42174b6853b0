"""Calling a transfer off: the flag its worker threads look at, and the errors they stop with.

A fan-out of blob transfers (``services._schedule``) gives each of its threads a
:class:`CallOff` flag; a failure or a Ctrl-C sets it, and every loop a worker runs --
the bytes of a blob, and the retries of a request (``requester``) -- stops at its
next step with :class:`Cancelled` (:class:`Interrupted` for Ctrl-C: what was
received is worth keeping). Standard library only: the transport layer asks it too.
"""

from __future__ import annotations

import threading

__all__ = ["CallOff", "Cancelled", "Interrupted", "check_cancelled", "current", "enter"]


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


def check_cancelled() -> None:
    """In a transfer worker, stop (raise :class:`Cancelled`) once the transfer is called off.

    The byte loops (download, upload bodies) call it per block, so a failure or an
    interrupt stops every running blob within a block instead of letting them finish.
    Outside a transfer it does nothing.
    """
    event = current()
    if event is not None:
        event.raise_if_called_off()
