"""Typed progress events passed to the ``progress=`` callables of transfers.

A progress callable receives one event at a time, possibly from several worker
threads at once (make it thread-safe)::

    def show(event: ProgressEvent) -> None:
        if isinstance(event, BlobAdvanced):
            print(event.digest, event.done, "/", event.total)
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

__all__ = [
    "BlobAdvanced",
    "BlobFinished",
    "BlobMounted",
    "BlobSkipped",
    "BlobStarted",
    "ProgressCallback",
    "ProgressEvent",
]


@attrs.frozen
class BlobStarted:
    """A blob transfer begins; ``total`` is its size in bytes when known."""

    digest: str
    total: int | None
    action: str = "download"


@attrs.frozen
class BlobAdvanced:
    """``advanced`` more bytes of a blob moved; ``done`` of ``total`` so far.

    ``advanced`` is negative when bytes already counted are sent again (an upload
    chunk re-sent after the registry refused it, a download restarted from its
    start): ``done`` then goes back by as much, so a bar that adds up ``advanced``
    always shows what the destination really holds.
    """

    digest: str
    advanced: int
    done: int
    total: int | None


@attrs.frozen
class BlobFinished:
    """A blob was moved and verified."""

    digest: str
    size: int


@attrs.frozen
class BlobSkipped:
    """A blob was already at the destination, so nothing moved."""

    digest: str
    size: int


@attrs.frozen
class BlobMounted:
    """A blob was mounted from another repository of the same registry (no bytes moved)."""

    digest: str
    size: int
    from_repository: str


ProgressEvent = BlobStarted | BlobAdvanced | BlobFinished | BlobSkipped | BlobMounted
ProgressCallback = Callable[[ProgressEvent], None]
