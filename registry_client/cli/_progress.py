"""Progress bars for pull, push and copy: one bar per blob in flight and one for the total.

Bars are drawn with tqdm (imported only when a bar is shown) on stderr, and
only when stderr is a terminal. The library calls the callback from several
worker threads, so every update happens under one lock.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, TextIO

from registry_client.progress import (
    BlobAdvanced,
    BlobFinished,
    BlobMounted,
    BlobSkipped,
    BlobStarted,
    ProgressEvent,
)

__all__ = ["ProgressBars"]


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12] or "blob"


class ProgressBars:
    """A thread-safe ``progress=`` callback drawing tqdm bars on ``stream``.

    The total bar grows as blobs start (their sizes are learnt one by one);
    skipped and mounted blobs count as done at once. Call :meth:`close` when
    the transfer is over.
    """

    def __init__(self, stream: TextIO, verb: str) -> None:
        # Imported here, not at the top: keeps ``import registry_client.cli`` cheap.
        self._tqdm: Any = importlib.import_module("tqdm").tqdm
        self._stream = stream
        self._lock = threading.Lock()
        self._bars: dict[str, Any] = {}
        self._done: set[str] = set()
        self._total = self._tqdm(
            total=0, desc=verb, unit="B", unit_scale=True, unit_divisor=1024,
            file=stream, position=0, leave=True, dynamic_ncols=True,
        )

    def __call__(self, event: ProgressEvent) -> None:
        """Update the bars for one library progress event."""
        with self._lock:
            if isinstance(event, BlobStarted):
                self._start(event)
            elif isinstance(event, BlobAdvanced):
                self._advance(event)
            elif isinstance(event, BlobFinished):
                self._finish(event.digest, event.size)
            elif isinstance(event, BlobSkipped | BlobMounted):
                self._skip(event.digest, event.size, event)

    def _start(self, event: BlobStarted) -> None:
        old = self._bars.pop(event.digest, None)
        if old is not None:  # a restarted transfer: forget what it had counted
            self._total.update(-old.n)
            self._total.total -= old.total or 0
            old.close()
        if event.total:
            self._total.total += event.total
            self._total.refresh()
        self._bars[event.digest] = self._tqdm(
            total=event.total, desc=f"{event.action} {_short(event.digest)}", unit="B",
            unit_scale=True, unit_divisor=1024, file=self._stream, leave=False,
            dynamic_ncols=True,
        )

    def _advance(self, event: BlobAdvanced) -> None:
        bar = self._bars.get(event.digest)
        if bar is None:
            return
        step = event.done - bar.n  # ``done`` is authoritative (resumes can step back)
        if step:
            bar.update(step)
            self._total.update(step)

    def _finish(self, digest: str, size: int) -> None:
        bar = self._bars.pop(digest, None)
        if bar is None:
            self._total.total += size
            self._total.update(size)
        else:
            if not bar.total:
                self._total.total += size
            self._total.update(size - bar.n)
            bar.close()
        self._done.add(digest)

    def _skip(self, digest: str, size: int, event: ProgressEvent) -> None:
        if digest in self._done:
            return
        self._done.add(digest)
        self._total.total += size
        self._total.update(size)
        note = "mounted" if isinstance(event, BlobMounted) else "exists"
        self._total.set_postfix_str(f"{_short(digest)} {note}", refresh=True)

    def close(self) -> None:
        """Close every bar (the total stays on screen)."""
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            self._bars.clear()
            self._total.set_postfix_str("", refresh=False)
            self._total.close()
