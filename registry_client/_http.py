"""Status-to-error mapping and capped body reads (one place for each)."""

from __future__ import annotations

import contextlib
import email.utils
import errno
import http.client
import math
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from ._challenge import ChallengeParseError, parse_challenges
from ._inflate import InflateCut, InflateError, InflateLimit, Inflater, codings_to_undo
from ._json import loads
from ._redact import Redactor, redact_url
from ._response import Answer, Response
from ._text import printable
from .errors import (
    AuthenticationError,
    AuthorizationError,
    InsufficientScopeError,
    NotFoundError,
    RegistryError,
    RegistryResponseError,
    RegistryUnavailableError,
)
from .reference import is_digest

DEFAULT_BODY_LIMIT = 4 * 1024 * 1024
TIMEOUT_HINT = "raise timeout= for a slow registry"
"""The advice a timeout's message ends with (the CLI swaps in its flag)."""
HTTPS_PORT_HINT = "is it an HTTPS port? use protocol='https'"
"""The advice when a plain-HTTP request gets no answer (the CLI swaps in its words)."""
UNASKED_SWITCH = "101 Switching Protocols, which the client did not ask for"
"""What an answer of 101 is called: this client never asks for another protocol (it
sends no ``Upgrade``), so whatever follows a 101 is no HTTP answer to its request."""
ERROR_BODY_LIMIT = 64 * 1024
"""The most of an error answer's body read for its message."""


def is_digits(value: str) -> bool:
    """True for a non-empty string of ASCII digits (``"²".isdigit()`` is True, this is not)."""
    return value.isascii() and value.isdigit()


def content_length(headers: Mapping[str, str], *, decoded: bool = True) -> int | None:
    """An answer's ``Content-Length``; None when it is absent or unusable (differing
    values, a sign, anything but ASCII digits). Whitespace around it is dropped, and
    the header sent twice with one value -- ``415, 415``, as clients join repeated
    headers -- is that value (RFC 9110, 8.6). With ``decoded`` (the default) it is None
    too for a body sent with a ``Content-Encoding``: it counts the encoded bytes then,
    not the content's (a compressing proxy in front of a registry)."""
    value = headers.get("Content-Length")
    if value is None:
        return None
    if decoded and (headers.get("Content-Encoding") or "identity").strip().lower() \
            != "identity":
        return None
    values = {v.strip() for v in value.split(",")}
    one = values.pop() if len(values) == 1 else ""
    return int(one) if is_digits(one) else None


def has_no_body(status: int) -> bool:
    """Whether an answer of ``status`` has no body, whatever its headers say (1xx, 204,
    304: RFC 9112, 6.3)."""
    return status < 200 or status in (204, 304)


def same_origin(url: str, other: str) -> bool:
    """True when two URLs have the same scheme, host and port (a scheme's default port
    counts as written): where credentials, tokens and a registry's own rules may go.
    A URL whose port is unusable (``:99999``) is nobody's origin."""
    try:
        a, b = urlsplit(url), urlsplit(other)
        ports = (a.port or _DEFAULT_PORTS.get(a.scheme.lower()),
                 b.port or _DEFAULT_PORTS.get(b.scheme.lower()))
    except ValueError:
        return False
    return (a.scheme.lower(), a.hostname, ports[0]) == (b.scheme.lower(), b.hostname, ports[1])


_DEFAULT_PORTS = {"https": 443, "http": 80}


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it wraps (args, cause, context, urllib3's ``reason``,
    an exception group's members)."""
    seen: set[int] = set()
    out: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        out.append(e)
        todo.extend(e.args)
        todo.extend((e.__cause__, e.__context__, getattr(e, "reason", None)))
        todo.extend(getattr(e, "exceptions", None) or ())
    return out


Match = Callable[[BaseException], bool]
"""Whether one exception of a chain is of a kind."""


def of(*types: type[BaseException]) -> Match:
    """A :data:`Match` for exceptions of ``types``."""
    return lambda e: isinstance(e, types)


class FailureTypes(NamedTuple):
    """Which exceptions of one HTTP library mean which connection failure.

    :func:`connection_failure` decides the kinds, in one order, for every HTTP
    library; this says how each library spells them (the operating system's own
    errors -- refused, reset, a name that does not resolve -- need no spelling).
    """

    dns: Match
    proxy: Match
    connect_timeout: Match
    read_timeout: Match
    closed: Match
    broken: Match
    connect: Match
    """No connection made (a failure of another kind may be inside it)."""
    client: Match
    """A failure of the HTTP client itself, not of the connection: too many redirects,
    a body it cannot decode, a request it cannot send."""
    malformed: Match = lambda e: False
    """An answer that is not valid HTTP: no status line, conflicting lengths, a head
    over the client's limits (the server answers so every time: not retried)."""
    undecodable: Match = lambda e: False
    """A body that does not decode as its Content-Encoding says (a client failure, said
    in the decoder's words: the same in both flavours, whose inflater is shared)."""


REQUESTS_FAILURES = FailureTypes(
    dns=of(urllib3.exceptions.NameResolutionError),
    proxy=of(requests.exceptions.ProxyError, urllib3.exceptions.ProxyError),
    connect_timeout=lambda e: isinstance(e, requests.exceptions.ConnectTimeout) or (
        isinstance(e, urllib3.exceptions.ConnectTimeoutError)
        and not isinstance(e, urllib3.exceptions.NewConnectionError)),
    read_timeout=of(requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError),
    closed=of(http.client.RemoteDisconnected),
    broken=of(requests.exceptions.ChunkedEncodingError, http.client.IncompleteRead,
              urllib3.exceptions.ProtocolError),
    connect=of(urllib3.exceptions.NewConnectionError),
    client=lambda e: isinstance(e, requests.RequestException)
    and not isinstance(e, requests.ConnectionError | requests.Timeout),
    undecodable=of(requests.exceptions.ContentDecodingError),
    # http.client's own: a BadStatusLine that is not a hang-up (RemoteDisconnected is
    # one), a head line over 64 KiB, "got more than 100 headers"; conflicting
    # Content-Length values (urllib3's and requests' InvalidHeader)
    malformed=lambda e: (isinstance(e, http.client.BadStatusLine | http.client.LineTooLong)
                         and not isinstance(e, http.client.RemoteDisconnected))
    or type(e) is http.client.HTTPException
    or isinstance(e, requests.exceptions.InvalidHeader | urllib3.exceptions.InvalidHeader),
)
"""How ``requests`` and urllib3 spell the connection failures."""


def connection_failure(
    exc: BaseException, types: FailureTypes = REQUESTS_FAILURES,
) -> tuple[str, str]:
    """Why a connection failed, as ``(kind, words)``: the cause the user can act on.

    ``kind`` is one of ``refused``, ``dns``, ``connect`` (no connection made, for
    another reason), ``connect-timeout``, ``read-timeout``,
    ``closed`` (the server hung up without answering), ``reset``, ``broken-pipe``,
    ``proxy``, ``proxy-closed`` (the proxy hung up without answering, the request sent),
    ``proxy-refused`` (a proxy answered a CONNECT with a 4xx: not retried),
    ``broken`` (cut mid-answer), ``client`` (a failure of the HTTP client
    itself, not of the connection) or ``other``; ``words`` say it plainly
    ("connection refused"). Never a URL: requests' own messages carry the query string.
    ``types`` says how the HTTP library underneath spells them (default: requests').
    """
    chain = exception_chain(exc)

    def has(match: Match) -> bool:
        return any(match(e) for e in chain)

    def has_errno(*codes: int) -> bool:
        return any(isinstance(e, OSError) and e.errno in codes for e in chain)

    refused = has(of(ConnectionRefusedError)) or has_errno(errno.ECONNREFUSED)
    if has(types.proxy):  # first: a refused or unknown proxy is not the registry's doing
        said = next((m for e in chain if (m := _TUNNEL_STATUS.search(str(e)))), None)
        if said is not None:  # it answered the CONNECT with no tunnel: what it said
            status = int(said["status"])
            return ("proxy-refused" if 400 <= status < 500 else "proxy",
                    f"the proxy refused the tunnel ({printable(said['said'])[:80]})")
        if has(types.closed):  # (urllib3's ProxyError for a hang-up after the request)
            return PROXY_CLOSED
        return proxy_failure(refused=refused)
    if refused:
        return "refused", "connection refused"
    gai = next((e for e in chain if isinstance(e, socket.gaierror)), None)
    if gai is not None or has(types.dns):
        why = getattr(gai, "strerror", None)
        return "dns", "name resolution failed" + (f" ({why})" if why else "")
    if has(types.connect_timeout) or has(
            lambda e: isinstance(e, TimeoutError) and "handshake" in str(e)):
        # (a TLS handshake runs under the connect timeout; urllib3 calls it a read timeout)
        return "connect-timeout", "connect timed out"
    if has(types.read_timeout) or has(of(socket.timeout, TimeoutError)):
        return "read-timeout", "read timed out"
    if has(types.closed):
        return "closed", "the server closed the connection without answering"
    if has(of(ConnectionResetError)) or has_errno(errno.ECONNRESET):
        return "reset", "connection reset by peer"
    if has(of(BrokenPipeError)) or has_errno(errno.EPIPE):
        return "broken-pipe", "the server closed the connection while the request was sent"
    bad = next((e for e in chain if types.malformed(e)), None)
    if bad is not None:
        return "malformed", _said(bad)
    if has(types.broken):
        return "broken", "the connection broke in the middle of the answer"
    os_error = next((e for e in chain if isinstance(e, OSError) and e.errno), None)
    why = os.strerror(os_error.errno).lower() if os_error and os_error.errno else ""
    if has(types.connect):
        return "connect", "could not connect" + (f" ({why})" if why else "")
    undecodable = next((e for e in chain if types.undecodable(e)), None)
    if undecodable is not None:
        return "client", f"the body does not decode ({printable(str(undecodable))[:120]})"
    if has(types.client):
        return "client", why or type(exc).__name__
    return "other", why or type(exc).__name__


_H11_STATUS_LINE = re.compile(
    r"illegal status line: bytearray\(b(?P<q>['\"])(?P<line>.*)(?P=q)\)$", re.DOTALL)
_CONFLICTING_LENGTHS = "Content-Length contained multiple unmatching values"
_H11_SWITCH = "Received server _SWITCH_UPGRADE event without a pending proposal"
_NO_CONNECTION = frozenset({"refused", "dns", "connect", "connect-timeout"})


_TUNNEL_STATUS = re.compile(
    r"(?:^|Tunnel connection failed: )"
    r"(?P<said>(?P<status>[1-5]\d\d)(?: [A-Za-z][\w .-]*\w)?)(?!\w)")
"""A proxy's answer to a CONNECT, in urllib3's words ("Tunnel connection failed: 407
Proxy Authentication Required") or httpcore's ("407 Proxy Authentication Required")."""


PROXY_CLOSED = "proxy-closed", "the proxy closed the connection without answering"
"""A proxy's hang-up after the request was sent: it may have passed it on, so the
registry may have acted (not :data:`_NO_CONNECTION`: sent, as any server's)."""


def proxy_failure(*, refused: bool = False) -> tuple[str, str]:
    """The ``(kind, words)`` of a proxy that could not be reached or failed."""
    return "proxy", "the proxy could not be reached or failed" + (
        " (connection refused)" if refused else "")


def through_proxy(kind: str, words: str, *, connecting: bool = False) -> tuple[str, str]:
    """A failure of a request sent through a proxy: when no connection was made, or it
    failed while being made (``connecting``: a reset in the proxy's TLS handshake), it
    is the proxy's -- as urllib3 says it (its ProxyError); an HTTP library may not say
    so (httpx's ``ConnectError``). A hang-up without an answer is the proxy's too, but
    after the request went: :data:`PROXY_CLOSED`."""
    if kind in _NO_CONNECTION or connecting:
        return proxy_failure(refused=kind == "refused")
    if kind == "closed":
        return PROXY_CLOSED
    return kind, words


def _said(exc: BaseException) -> str:
    """What an HTTP parser said of an answer, in the same words whichever HTTP library
    parsed it, shown safely (the server's bytes may be in it: control characters
    escaped, at most 120 characters)."""
    text = str(exc).strip() or type(exc).__name__
    line = _H11_STATUS_LINE.match(text)
    if line is not None:  # h11's words for http.client's BadStatusLine(line)
        text = line["line"].removesuffix("\\r\\n").removesuffix("\\n")
    elif text.startswith(_CONFLICTING_LENGTHS):  # urllib3's words for h11's
        text = "conflicting Content-Length headers"
    elif text.startswith(_H11_SWITCH):  # h11's words for an unasked-for 101
        text = UNASKED_SWITCH
    text = printable(text)
    return text if len(text) <= 120 else text[:117] + "..."


def explain_failure(
    kind: str, words: str, url: str, timeout: float | tuple[float, float], *, answered: bool,
) -> str:
    """A connection failure (``kind``, ``words`` from :func:`connection_failure`) of a
    request to ``url`` in words, with the advice that fits it.

    ``timeout`` is the request's ``(connect, read)`` seconds; ``answered`` says whether
    the registry ever answered (a plain-HTTP request to an HTTPS port never is).
    """
    parts = urlsplit(url)
    where = parts.netloc.rsplit("@", 1)[-1]
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if kind == "refused":
        return f"{words} (is a registry listening on {where}?)"
    if kind == "dns":
        return f"{parts.hostname}: {words}"
    if kind == "connect-timeout":
        return f"{words} (no connection to {where} within {connect:g} s; {TIMEOUT_HINT})"
    if kind == "read-timeout":
        return f"{words} (no answer within {read:g} s; {TIMEOUT_HINT})"
    if kind in ("closed", "reset") and parts.scheme == "http" and not answered:
        return f"{words} ({HTTPS_PORT_HINT})"
    return words


class BodyCutError(RegistryUnavailableError):
    """A streamed body cut after ``received`` bytes, ``words`` saying why (from
    :func:`connection_failure`): the one error both shells raise for it, so what
    follows (a resume, its message) never asks the HTTP library again."""

    def __init__(self, received: int, words: str) -> None:
        super().__init__(f"connection broken after {received} bytes of the body: {words}")
        self.received = received
        self.words = words


def body_broken(received: int, words: str) -> BodyCutError:
    """The error of a streamed body cut after ``received`` bytes (``words``: why, from
    :func:`connection_failure`), whichever shell read it."""
    return BodyCutError(received, words)


class BodyReading:
    """The accounting of one ``Drain`` (a streamed body read block by block into its
    sink), the same whichever shell reads: how much to read next, the bytes received,
    and the error when the connection breaks. A shell only reads, hands on and counts.
    """

    __slots__ = ("block_size", "limit", "total")

    def __init__(self, block_size: int, limit: int | None) -> None:
        self.block_size = block_size
        self.limit = limit
        self.total = 0

    def want(self, held: int = 0) -> int:
        """The most to read next: a block less the ``held`` bytes received but not yet
        handed on, never past the limit; 0 once the limit is reached."""
        room = self.block_size - held
        return room if self.limit is None else min(room, self.limit - self.total)

    def took(self, n: int) -> None:
        """``n`` more bytes were received."""
        self.total += n

    def broken(self, words: str) -> BodyCutError:
        """The error of the body cut now (``words``: why, from :func:`connection_failure`)."""
        return body_broken(self.total, words)


def failure_cause(exc: BaseException) -> BaseException | None:
    """The exception to chain a connection error to: the low-level cause, without a URL.

    requests wraps urllib3's ``MaxRetryError``, whose message names the URL with its
    query (a pre-signed storage URL carries credentials there); what it wraps --
    ``NewConnectionError``, ``ProtocolError``, ``ReadTimeoutError``, an ``OSError`` --
    names only host and port.
    """
    inner: BaseException | None = exc
    while isinstance(inner, requests.RequestException | urllib3.exceptions.MaxRetryError):
        if isinstance(inner, urllib3.exceptions.MaxRetryError):
            inner = inner.reason
            continue
        wrapped = next((a for a in inner.args if isinstance(a, BaseException)), None)
        if wrapped is None:
            break
        inner = wrapped
    if inner is None or "://" in str(inner):
        return None
    return inner


def body_blocks(resp: Answer, size: int, limit: int | None = None) -> Iterator[bytes]:
    """The body of ``resp`` in blocks of about ``size`` bytes, Content-Encoding undone.

    For the library's own :class:`Response` its ``iter_body``; for an answer of the
    HTTP library, urllib3's public ``stream()``, with its failures raised as requests'
    exceptions (exactly as ``requests`` itself does). gzip and deflate are undone here,
    in bounded steps (:class:`~registry_client._inflate.Inflater`: ``limit`` is the
    most the reader takes), not by urllib3, which before 2.6 inflates each block whole.

    Raises:
        requests.RequestException: the connection broke, timed out or sent garbage.
    """
    if isinstance(resp, Response):
        yield from resp.iter_body(size, limit)
        return
    raw = getattr(resp, "raw", None)
    if raw is None:
        return
    if not hasattr(raw, "stream"):  # a plain file object (a test double)
        while block := raw.read(size):
            yield block
        return
    codings = codings_to_undo(resp.headers.get("Content-Encoding"))
    try:
        if codings is None:  # (a coding urllib3 may know: brotli, zstd)
            yield from raw.stream(size, True)  # True: undo the Content-Encoding
            return
        inflater = Inflater(codings, limit)
        for block in raw.stream(size, False):
            yield from inflater.feed(block)
        yield from inflater.flush()
    except InflateCut as exc:  # (a body cut short, as a broken connection cuts one)
        raise requests.exceptions.ChunkedEncodingError(str(exc)) from None
    except InflateError as exc:
        raise requests.exceptions.ContentDecodingError(str(exc)) from None
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc


class CappedBody:
    """The rules of reading a whole (small) body, whichever client reads it: refuse one
    announced or grown over ``limit`` bytes before it grows in memory, or one longer or
    shorter than its ``Content-Length`` (undecoded bodies only). Feed it the blocks
    (Content-Encoding undone) with :meth:`add`, take the body with :meth:`result`.

    Raises:
        RegistryResponseError: the ``Content-Length`` is invalid or over ``limit``.
    """

    def __init__(self, resp: Answer, limit: int) -> None:
        self._resp = resp
        self._limit = limit
        announced = content_length(resp.headers, decoded=False)
        if has_no_body(resp.status_code):
            announced = None  # (whatever it says: there is no body)
        elif announced is None and "Content-Length" in resp.headers:
            raise RegistryResponseError(
                f"invalid Content-Length {resp.headers['Content-Length'][:40]!r}",
                url=redact_url(resp.url))
        elif announced is not None and announced > limit:
            raise RegistryResponseError(
                f"response body of {announced} bytes exceeds the {limit}-byte limit",
                status_code=resp.status_code, url=redact_url(resp.url),
            )
        # With a Content-Encoding the decoded size legitimately differs from the header.
        encoding = (resp.headers.get("Content-Encoding") or "").strip().lower()
        self._exact = announced if encoding in ("", "identity") else None
        self._chunks: list[bytes] = []
        self._total = 0

    def add(self, chunk: bytes) -> None:
        """Take the next block.

        Raises:
            RegistryResponseError: the body is now over the limit or its Content-Length.
        """
        resp, exact = self._resp, self._exact
        self._total += len(chunk)
        if self._total > self._limit:
            raise self.over_limit()
        if exact is not None and self._total > exact:
            raise RegistryResponseError(
                f"response body is longer than its Content-Length of {exact} bytes",
                status_code=resp.status_code, url=redact_url(resp.url),
            )
        self._chunks.append(chunk)

    def result(self) -> bytes:
        """The whole body, once every block was added.

        Raises:
            RegistryResponseError: the body is shorter than its Content-Length.
        """
        exact = self._exact
        if exact is not None and self._total < exact:
            raise RegistryResponseError(
                f"response body of {self._total} bytes is shorter than its Content-Length "
                f"of {exact} bytes",
                status_code=self._resp.status_code, url=redact_url(self._resp.url),
            )
        return b"".join(self._chunks)

    def over_limit(self) -> RegistryResponseError:
        """The error of a body over the limit (also one whose Content-Encoding stage took
        in more than a body under it could be encoded as: ``_inflate.InflateLimit``)."""
        return RegistryResponseError(
            f"response body exceeds the {self._limit}-byte limit",
            status_code=self._resp.status_code, url=redact_url(self._resp.url),
        )

    def broken(self, kind: str, words: str) -> RegistryError:
        """The error of a read that failed (``kind``, ``words``: :func:`connection_failure`):
        RegistryUnavailableError when the connection failed (a retry may read it), a
        RegistryResponseError when the HTTP client refused the body (``client``: one that
        does not decode, which the registry sends every time)."""
        url = redact_url(self._resp.url)
        said = f"reading the response from {url} failed: {words}"
        if kind == "client":
            return RegistryResponseError(said, status_code=self._resp.status_code, url=url)
        return RegistryUnavailableError(
            said + (f" ({TIMEOUT_HINT})" if kind == "read-timeout" else ""), url=url)


def read_capped(resp: Answer, limit: int = DEFAULT_BODY_LIMIT) -> bytes:
    """Read a whole (small) body, refusing one over ``limit`` bytes before it grows in memory.

    Raises:
        RegistryResponseError: the body is larger than ``limit`` or shorter than announced.
    """
    try:
        capped = CappedBody(resp, limit)
    except RegistryResponseError:
        resp.close()
        raise
    try:
        for chunk in body_blocks(resp, 256 * 1024, limit):
            capped.add(chunk)
        return capped.result()
    except InflateLimit:
        raise capped.over_limit() from None
    except requests.RequestException as exc:
        # requests reports a read timeout while streaming as a ConnectionError
        raise capped.broken(*connection_failure(exc)) from failure_cause(exc)
    finally:
        resp.close()


DISCARD_LIMIT = 64 * 1024
"""The most of an unwanted body read to keep its connection (more: the connection closes)."""


def _short_text(headers: Mapping[str, str], body: bytes) -> str:
    """A plain-text error body worth showing (one short printable line), else ""."""
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype not in ("", "text/plain") or not body or len(body) > 300:
        return ""
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        return ""
    return text if text.isprintable() and "\n" not in text else ""


class UnwantedBody:
    """How an unwanted body (a 401 challenge, a HEAD, a retried 503) is drained, by
    either shell: read in blocks of :attr:`BLOCK` to its end, so the connection goes
    back to the pool -- but no more than ``limit`` bytes (then closing is cheaper).
    A failure while reading it does not matter: the answer is closed either way.
    """

    BLOCK = 16 * 1024

    def __init__(self, limit: int = DISCARD_LIMIT) -> None:
        self._left = limit

    def more(self, block: bytes) -> bool:
        """After reading ``block`` (b"": the end): True to read on, False to close."""
        self._left -= len(block)
        return bool(block) and self._left >= 0


def discard(resp: Answer, limit: int = DISCARD_LIMIT) -> None:
    """Drain an unwanted small body, then close: the connection goes back to the pool.

    Closing a streamed response whose body was not read closes its socket, so every
    401 challenge, HEAD or retried 503 would cost a new TCP connection (keep-alive lost).
    """
    rule = UnwantedBody(limit)
    with contextlib.suppress(Exception):  # nothing in it matters
        for block in body_blocks(resp, rule.BLOCK, limit):
            if not rule.more(block):
                break
    resp.close()


def parse_json(data: bytes, *, what: str) -> Any:
    """Decode JSON, turning any failure into RegistryResponseError."""
    try:
        return loads(data)
    except ValueError:
        raise RegistryResponseError(f"{what}: the registry sent malformed JSON") from None


def error_list(data: bytes) -> list[dict[str, Any]]:
    """The registry's ``errors`` list from an error body, or [] when there is none."""
    try:
        doc = loads(data)
    except ValueError:
        return []
    errs = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errs, list):
        return []
    return [
        {k: e.get(k) for k in ("code", "message", "detail") if k in e}
        for e in errs
        if isinstance(e, dict)
    ]


def retry_after(resp: Answer, cap: float) -> float | None:
    """Seconds asked for by ``Retry-After`` (seconds or an HTTP date), capped."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if is_digits(value):
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, min(when.timestamp() - time.time(), cap))


_WARNING = re.compile(r'([0-9]{3})[ \t]+[^ \t,]+[ \t]+"((?:[^"\\]|\\.)*)"')
_QUOTED_PAIR = re.compile(r"\\(.)")
WARNING_TEXT_LIMIT = 300
"""The most of a registry warning's text reported (a longer one is cut)."""


def registry_warnings(value: str) -> list[str]:
    """The texts of the registry's warnings in a ``Warning`` header's value (several
    headers arrive joined by commas): code 299 only, as the distribution spec has a
    registry send them (``299 - "text"``); a cache's codes (110, 199...) are not the
    registry's."""
    return [_QUOTED_PAIR.sub(r"\1", text)[:WARNING_TEXT_LIMIT]
            for code, text in _WARNING.findall(value) if code == "299"]


def unknown_named(exc: RegistryError) -> frozenset[str]:
    """The digests a ``MANIFEST_BLOB_UNKNOWN`` refusal names (Distribution puts each in an
    error's ``detail``); empty when it names none."""
    return frozenset(str(e["detail"]) for e in exc.errors
                     if e.get("code") == "MANIFEST_BLOB_UNKNOWN"
                     and isinstance(e.get("detail"), str) and is_digest(e["detail"]))


def _insufficient_scope(resp: Answer) -> bool:
    try:
        challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
    except ChallengeParseError:
        return False
    return any(c.params.get("error") == "insufficient_scope" for c in challenges)


def said_in(headers: Mapping[str, str], body: bytes,
            mask: Callable[[str], str]) -> tuple[str, list[dict[str, Any]]]:
    """What an error answer says, with ``mask`` applied, and the registry's ``errors``
    list (masked): its items as ``CODE: message``; else a token server's own words
    (Docker's auth server's ``details``, OAuth2's ``error: error_description``); else a
    short plain-text body. "" when it says nothing worth showing."""
    errors = [_masked(e, mask) for e in error_list(body)]
    detail = "; ".join(
        f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors
    )
    if not detail:  # masked whole, then cut: a secret the cut split is not recognised
        detail = mask(_token_server_words(body) or _short_text(headers, body))[:300]
    return printable(detail), errors


def _token_server_words(body: bytes) -> str:
    """A token server's reason in an error body: ``details`` (Docker's auth server),
    or OAuth2's ``error`` with its ``error_description`` (RFC 6749, 5.2); else ""."""
    try:
        doc = loads(body)
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    details = doc.get("details")
    if isinstance(details, str) and details:
        return details
    said = [v for v in (doc.get("error"), doc.get("error_description"))
            if isinstance(v, str) and v]
    return ": ".join(said)


def _masked(value: Any, mask: Callable[[str], str]) -> Any:
    """``value`` (an error's JSON: its message, its ``detail`` of any shape) with every
    string masked, keys included."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {_masked(k, mask): _masked(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, mask) for v in value]
    return value


def _answered_elsewhere(resp: Answer) -> str | None:
    """The host that answered, when redirects led there from another origin (a blob's
    storage: S3, GCS, a CDN); else None."""
    hops = getattr(resp, "history", None)  # (ours: URLs; requests': its answers)
    if not hops:
        return None
    first = hops[0] if isinstance(hops[0], str) else getattr(hops[0], "url", None)
    if not isinstance(first, str) or same_origin(first, resp.url):
        return None
    return urlsplit(resp.url).netloc or None


_STORAGE_ERROR_RE = re.compile(r"<(Code|Message)>([^<]{1,200})</\1>")


def _storage_error(body: bytes) -> str:
    """What an object store's XML error body says (S3, GCS, Azure: ``<Code>`` and
    ``<Message>``), or ""."""
    text = body[:4096].decode("utf-8", "replace")
    found = {m[1]: m[2] for m in _STORAGE_ERROR_RE.finditer(text)}
    return ": ".join(found[k] for k in ("Code", "Message") if k in found)


def status_error(
    resp: Answer,
    body: bytes,
    *,
    context: str,
    method: str,
    hint: str | None = None,
    secrets: Iterable[str] = (),
) -> RegistryError:
    """The typed error for an unexpected answer whose (error) body was ``body``.

    ``hint`` (from :func:`registry_client.auth.refusal_hint`) says what to change
    when a 401/403 is about the credentials that were, or were not, sent. What the
    registry says is quoted with credentials masked: ``secrets`` (those the
    authenticator holds, see ``held_secrets``) and anything that looks like one
    (``Basic ...``, ``Bearer ...``, a JWT) -- a registry or gateway may quote a
    request's credentials back. No I/O: both flavours of the API read the body their
    own way and ask this.
    """
    status = resp.status_code
    url = redact_url(resp.url)
    mask = Redactor(secrets)
    detail, errors = said_in(resp.headers, body, mask)
    elsewhere = _answered_elsewhere(resp)
    if not detail and elsewhere:
        detail = printable(mask(_storage_error(body)))
    message = f"{context}: {method} {url} -> {status}" + (f" ({detail})" if detail else "")
    if elsewhere and status in (401, 403):  # no credential of ours was ever sent there
        hint = (f"the registry redirected the request to {elsewhere}, which refused it: a "
                "signed URL that expired or is not valid (asked again, the registry gives "
                "a new one); credentials are never sent there")
    # Go's TLS servers answer a plain-HTTP request with this text, nginx with an HTML page;
    # to a HEAD, Go's answer is a bare "HTTP/1.0 400" without a single header
    if status == 400 and ("HTTP request to an HTTPS server" in detail
                          or b"plain HTTP request was sent to HTTPS port" in body
                          or (method == "HEAD" and url.startswith("http:")
                              and not resp.headers)):
        message += " -- the registry speaks HTTPS: drop protocol='http' (--plain-http)"
    if status == 407:  # only a proxy answers so (a plain-HTTP registry's, in its place)
        message += (" -- a proxy between here and the registry wants credentials: give "
                    "them in its URL (http://USER:PASSWORD@HOST:PORT)")
    kw: dict[str, Any] = {"status_code": status, "errors": errors, "method": method, "url": url,
                          "retry_after": retry_after(resp, math.inf)}
    cls: type[RegistryError]
    scope_refused = status == 401 and _insufficient_scope(resp)
    if hint and status in (401, 403):
        message += f" -- {hint}" + (" (insufficient_scope)" if scope_refused else "")
    if scope_refused:
        # Distribution's text for this is "authentication required": say what it means
        cls = InsufficientScopeError
        if not hint:
            message += " -- these credentials may not do this (insufficient_scope)"
    elif status == 401:
        cls = AuthenticationError
    elif status == 403:
        cls = AuthorizationError
    elif status == 404:
        cls = NotFoundError
    elif status in (429, 500, 502, 503, 504):
        cls = RegistryUnavailableError
    else:
        cls = RegistryResponseError
    return cls(message, **kw)
