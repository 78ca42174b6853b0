"""The request value: everything the Requester needs to send one API request (and again)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any, NamedTuple

from ._response import Response
from .errors import RegistryError

__all__ = ["Body", "Relay", "Request"]


class Relay(NamedTuple):
    """A request body that is another answer's streamed body (a blob copied between
    registries): each block is passed to ``sink`` on its way (to hash and count it).
    Sent once: it cannot be replayed."""

    response: Response
    sink: Callable[[bytes], None]
    block_size: int = 1 << 20


Body = bytes | IO[bytes] | Iterable[bytes] | Relay
"""A request body: bytes, a file object (rewound for a re-send when it can seek), an
iterable of blocks or a :class:`Relay` (both sent once: they cannot be replayed)."""

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class Request(NamedTuple):
    """One registry API request, as :meth:`Requester.send_request` sends it.

    Attributes:
        method: the HTTP method (any case).
        target: an API path (``"library/alpine/manifests/3.19"``) or an absolute URL on
            the registry (a ``Location``).
        scopes: the token scopes the request needs.
        expected: the statuses that are a success; any other raises a typed error.
        operation: what the request is for, in the user's words ("get manifest 3.19 of
            ..."): the start of every error message about it.
        params: the query parameters.
        headers: extra headers.
        body: the body; a seekable file is rewound to where it was for a re-send.
        body_factory: makes a fresh body for each attempt (instead of ``body``): a body
            that cannot seek is then replayable too.
        stream: leave the answer's body on the wire (a blob): read it from the answer.
        allow_redirects: follow redirects (a blob GET goes to its storage host).
        idempotent: may be sent again after a failure (default: by method).
        timeout: ``(connect, read)`` seconds for this request (default: the registry's).
        retry_connection_errors: retry after a cut or a timeout (False: only the retry
            statuses, for a caller that recovers from a cut itself, as a blob upload).
        done_if_gone: a 404 to a retry after an attempt that may have been acted on
            means done (default: for DELETE).
        retry_if: also retry the error answers this accepts.
    """

    method: str
    target: str
    scopes: tuple[str, ...] = ()
    expected: frozenset[int] = frozenset({200})
    operation: str = ""
    params: Mapping[str, str] | list[tuple[str, str]] | None = None
    headers: Mapping[str, str] | None = None
    body: Body | None = None
    body_factory: Callable[[], Body] | None = None
    stream: bool = False
    allow_redirects: bool = True
    idempotent: bool | None = None
    timeout: float | tuple[float, float] | None = None
    retry_connection_errors: bool = True
    done_if_gone: bool | None = None
    retry_if: Callable[[RegistryError], bool] | None = None

    @property
    def verb(self) -> str:
        """The method in upper case."""
        return self.method.upper()

    @property
    def may_repeat(self) -> bool:
        """True when the request may be sent again: idempotent, with a replayable body."""
        idempotent = self.verb in _IDEMPOTENT if self.idempotent is None else self.idempotent
        return idempotent and self.replayable

    @property
    def replayable(self) -> bool:
        """True when the body can be sent again (none, bytes, a seekable file, a factory)."""
        return self.body_factory is not None or _position(self.body) is not None

    @property
    def gone_is_done(self) -> bool:
        """True when a 404 after a maybe-acted-on attempt means done (default: DELETE)."""
        return self.verb == "DELETE" if self.done_if_gone is None else self.done_if_gone


class Replay:
    """The body of a :class:`Request` for each attempt: rewound, or made afresh."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._start = _position(request.body)
        self._sent = False

    def body(self) -> Body | None:
        """The body to send now (the same file rewound, or a new one from the factory)."""
        req = self._request
        if req.body_factory is not None:
            return req.body_factory()
        data = req.body
        seek = getattr(data, "seek", None)
        if self._sent and self._start is not None and callable(seek):
            seek(self._start)
        self._sent = True
        return data


def _position(data: Any) -> Any:
    """A replayable position marker for a body, or None when it cannot be replayed."""
    if data is None or isinstance(data, bytes | bytearray | str):
        return 0
    tell = getattr(data, "tell", None)
    seekable = getattr(data, "seekable", None)
    if callable(tell) and callable(seekable) and seekable():
        return tell()
    return None
