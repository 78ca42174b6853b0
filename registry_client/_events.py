"""Progress events, made only for a caller that gave a ``progress=`` callback: every
transfer sends its events through these functions.

The event classes (``registry_client.progress``, attrs classes) are imported with the
first event sent, not with every transfer's modules: a pull or download without a
callback never loads them (~5 ms of a cold pull's first-use imports), and builds no
event per block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .progress import ProgressCallback

__all__ = ["Resent", "advanced", "finished", "mounted", "skipped", "started"]


def started(progress: ProgressCallback | None, digest: str, total: int | None,
            action: str = "download") -> None:
    """``BlobStarted(digest, total, action)`` to ``progress``, when given."""
    if progress is not None:
        from .progress import BlobStarted  # with the first event (see the module)

        progress(BlobStarted(digest, total, action))


def advanced(progress: ProgressCallback | None, digest: str, moved: int, done: int,
             total: int | None) -> None:
    """``BlobAdvanced(digest, moved, done, total)`` to ``progress``, when given."""
    if progress is not None:
        from .progress import BlobAdvanced  # with the first event (see the module)

        progress(BlobAdvanced(digest, moved, done, total))


def finished(progress: ProgressCallback | None, digest: str, size: int) -> None:
    """``BlobFinished(digest, size)`` to ``progress``, when given."""
    if progress is not None:
        from .progress import BlobFinished  # with the first event (see the module)

        progress(BlobFinished(digest, size))


def skipped(progress: ProgressCallback | None, digest: str, size: int) -> None:
    """``BlobSkipped(digest, size)`` to ``progress``, when given."""
    if progress is not None:
        from .progress import BlobSkipped  # with the first event (see the module)

        progress(BlobSkipped(digest, size))


def mounted(progress: ProgressCallback | None, digest: str, size: int,
            from_repository: str) -> None:
    """``BlobMounted(digest, size, from_repository)`` to ``progress``, when given."""
    if progress is not None:
        from .progress import BlobMounted  # with the first event (see the module)

        progress(BlobMounted(digest, size, from_repository))


class Resent:
    """The ``progress`` of one blob that may be sent again from its start (a copy's
    relayed upload after a cut): its first ``BlobStarted`` passes, later ones do not,
    and :meth:`restart` takes back the bytes counted (a negative ``BlobAdvanced`` to
    ``done`` 0), so a bar adding up ``advanced`` shows what the target holds."""

    def __init__(self, progress: ProgressCallback, digest: str) -> None:
        self._progress = progress
        self._digest = digest
        self._started = False
        self._done = 0
        self._total: int | None = None

    def __call__(self, event: object) -> None:
        from .progress import BlobAdvanced, BlobStarted  # (events are made: loaded)

        if getattr(event, "digest", None) == self._digest:
            if isinstance(event, BlobStarted):
                if self._started:
                    return
                self._started = True
            elif isinstance(event, BlobAdvanced):
                self._done, self._total = event.done, event.total
        self._progress(event)  # type: ignore[arg-type]

    def restart(self) -> None:
        """Before the blob is sent again: ``done`` back to 0."""
        if self._done:
            advanced(self._progress, self._digest, -self._done, 0, self._total)
            self._done = 0
