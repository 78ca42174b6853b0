"""Parsing of the access log Distribution prints on its standard output.

Distribution 2.8 logs every request in the Apache "combined" format (gorilla/handlers)::

    127.0.0.1 - - [23/Nov/2026:15:56:29 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1"

The line is written when the registry's handler returns, i.e. typically just before the
last bytes of the response reach the client, and our reader thread picks it up from the
pipe a moment later.  :meth:`LocalRegistry.request_count` therefore synchronises with the
log (see there) before counting.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from ._util import INTERNAL_USER_AGENT

#: User-Agent prefix of the marker requests of :meth:`LocalRegistry.sync_access_log`.
SYNC_PREFIX = f"{INTERNAL_USER_AGENT}/sync-"

_LINE = re.compile(
    r"^(?P<remote>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]*)\] "
    r'"(?P<method>[A-Z]+) (?P<uri>\S+) (?P<proto>[^"]*)" '
    r"(?P<status>\d{3}) (?P<size>\d+|-)"
    r'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?\s*$'
)


@dataclasses.dataclass(frozen=True)
class AccessLogEntry:
    """One request as recorded in the registry's access log."""

    method: str
    """HTTP method, e.g. ``"GET"``."""
    uri: str
    """Request target exactly as logged: path plus query string, e.g. ``/v2/x/tags/list?n=2``."""
    status: int
    """HTTP status code of the response."""
    size: int
    """Number of body bytes written (0 when logged as ``-``)."""
    user_agent: str
    """The client's User-Agent header ('' when absent)."""
    time: str
    """Timestamp as printed by the registry (``23/Nov/2026:15:56:29 +0000``)."""
    raw: str
    """The unparsed log line."""

    @property
    def path(self) -> str:
        """The request path without the query string."""
        return urlsplit(self.uri).path

    @property
    def query(self) -> str:
        """The raw query string ('' when there is none)."""
        return urlsplit(self.uri).query

    @property
    def internal(self) -> bool:
        """True for requests sent by the testing helpers themselves (probes, seeding)."""
        return self.user_agent.startswith(INTERNAL_USER_AGENT)

    def __str__(self) -> str:
        return f"{self.method} {self.uri}"


def parse_access_log_line(line: str) -> AccessLogEntry | None:
    """Parse one access log line; return None when the line is not an access log line."""
    match = _LINE.match(line.rstrip("\r\n"))
    if match is None:
        return None
    size = match.group("size")
    return AccessLogEntry(
        method=match.group("method"),
        uri=match.group("uri"),
        status=int(match.group("status")),
        size=0 if size == "-" else int(size),
        user_agent=match.group("agent") or "",
        time=match.group("time"),
        raw=line.rstrip("\r\n"),
    )


class LogCapture:
    """Thread-safe store of a registry's output: access log entries and other lines."""

    def __init__(self, keep_lines: int = 500) -> None:
        self._cond = threading.Condition()
        self._entries: list[AccessLogEntry] = []
        self._markers: set[str] = set()
        self._output: collections.deque[str] = collections.deque(maxlen=keep_lines)

    def feed(self, line: str) -> None:
        """Record one line of the registry's stdout or stderr."""
        entry = parse_access_log_line(line)
        with self._cond:
            if entry is not None and entry.user_agent.startswith(SYNC_PREFIX):
                self._markers.add(entry.user_agent)
                self._cond.notify_all()
            elif entry is not None:
                self._entries.append(entry)
            else:
                self._output.append(line.rstrip("\n"))

    def entries(self) -> list[AccessLogEntry]:
        """A snapshot of the access log entries (sync markers excluded)."""
        with self._cond:
            return list(self._entries)

    def clear_entries(self) -> None:
        """Forget the access log entries."""
        with self._cond:
            self._entries.clear()

    def clear_output(self) -> None:
        """Forget the non-access-log lines."""
        with self._cond:
            self._output.clear()

    def tail(self, lines: int) -> str:
        """The last ``lines`` non-access-log lines."""
        with self._cond:
            return "\n".join(list(self._output)[-lines:])

    def wait_for_marker(self, marker: str, timeout: float, alive: Callable[[], bool]) -> None:
        """Wait until the access log line with User-Agent ``marker`` has been read."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while marker not in self._markers:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not alive():
                    raise TimeoutError("access log line of the sync request did not show up")
                self._cond.wait(min(remaining, 0.1))
            self._markers.discard(marker)
