"""The exchange of one registry request, written once as a flow: what both shells run.

:func:`exchange` is what a :class:`~registry_client._flow.Call` does: it adds
credentials (the authenticator's hooks), sends the very first request to a registry
alone, answers a 401 with at most one re-send, retries as the registry's
:class:`~registry_client._retry.RetryPolicy` says (429 pauses every request to the
registry together), takes a lost answer followed by a 404 as done for a DELETE, and
turns unexpected answers and connection failures into typed errors with the same
messages in both flavours. :func:`token_request` is the same for a token server's
request (the token policy's retries). Every one of those decisions is here; a shell
only performs the low-level effects below, one at a time, sending each result back
into the flow (or throwing its error in, at the ``yield``).

The blocking shell is :class:`~registry_client.requester.Requester` (requests,
threads); the asyncio one lives in ``registry_client.aio`` (httpx, tasks). Both run
the flows with ``_flow.run`` / ``aio._run.arun``.

Effects (what a shell implements)
---------------------------------

:class:`Transmit` ``(prepared, allow_redirects, timeout)``
    Send the prepared registry request (a ``requests.PreparedRequest``, as the
    authenticator's hooks saw it, body included) with the registry's session, proxy
    and TLS settings (``timeout`` None: the registry's), following redirects when
    asked (the flow counts it). *Result*: the answer, its body left on the wire:
    an object with ``status_code``, ``headers`` (case-insensitive), ``url`` (after
    redirects), ``history`` (the redirect answers, each with a ``url`` and its
    ``request.method``), ``request`` (the prepared request that got it) and
    ``close()`` -- a ``requests.Response`` or a look-alike (the authenticators'
    ``handle_response`` hook gets it as such).
    *Errors*: :class:`TransmitError` for a failure of the HTTP client (never its own
    exception types: the flow decides retries from ``kind``); ``RegistryError`` the
    shell raises itself (a CA bundle that does not exist: ``RegistrySSLError``); a
    ``ValueError`` from the caller's own code (a body's progress callback) as is.

:class:`TokenAttempt` ``(call)``
    Send one request to a token server, as :class:`TokenCall` describes it
    (``form`` is a urlencoded body), with the registry's session, proxy and TLS
    settings; no retries. *Result*: the answer, body on the wire, as for Transmit.
    *Errors*: :class:`TransmitError` (every failure may be retried).

:class:`TokenCall` ``(method, url, params, headers, form, allow_redirects)``
    A token-server request *with* the token policy's retries and its body read:
    the hooks of a built-in authenticator ask it. A registry's shell runs
    ``token_call(endpoint, call)`` (this module) for it; the blocking hooks of an
    authenticator call the transport it was bound to. *Result*: a
    :class:`TokenAnswer`. *Errors*: ``RegistryError`` (unreachable token server,
    TLS failure).

:class:`ReadBody` ``(answer, cap)``
    Read the whole body of ``answer`` (Content-Encoding undone), refusing more than
    ``cap`` bytes, then release the connection (always, on error too). *Result*:
    the bytes. *Errors*: ``RegistryResponseError`` (over ``cap``, shorter or longer
    than its ``Content-Length``); ``RegistryUnavailableError`` (the connection broke
    or timed out while reading). Blocking shell: ``_http.read_capped``.

:class:`Discard` ``(answer)``
    Drain a small unwanted body (at most 64 KiB) and release the connection, so it
    goes back to the pool. *Result*: None. Never raises.

:class:`Sleep` ``(seconds)``
    Wait (``time.sleep`` / ``asyncio.sleep``): a backoff, or the pause every request
    to a registry waits out after a 429. *Result*: None.

:class:`Exclusive` ``(locks, key, flow)``
    Run the sub-flow ``flow`` to its end holding the lock of ``key`` in the
    :class:`LockTable` ``locks`` (``locks.lock(key, threading.Lock)`` in the blocking
    shell, ``locks.lock(key, asyncio.Lock)`` in the asyncio one), performing its
    effects as usual. *Result*: the sub-flow's; its error is raised. Used for the
    first request to a registry (sent alone: nobody knows the challenge yet) and for
    single-flight token fetches (one fetch per (realm, service, scope)).

Besides the effects
-------------------

The flow reads and records the registry through an :class:`ExchangeEndpoint` (a
``_endpoint.RegistryEndpoint`` subclass), whose shell-specific part is three
methods: ``prepare`` (a ``requests.PreparedRequest`` with the session's defaults and
the User-Agent; a URL the client cannot use is a :class:`TransmitError` of kind
``url``, or of a connection kind with ``connection=False``), ``respond(answer,
body)`` (the library's :class:`~registry_client._response.Response`: with ``body``,
or with a stream over the answer when ``body`` is None) and ``_now()`` (the
monotonic clock of the 429 pause). A :class:`TransmitError`'s ``kind`` and
``words`` follow ``_http.connection_failure``; its ``sent`` (may the registry
have acted?) is decided here from ``kind``, never by a shell.
"""

from __future__ import annotations

import io
import urllib.parse
from collections.abc import Generator, Mapping
from http import HTTPStatus
from typing import Any, NamedTuple, Protocol, TypeVar

import requests

from ._auth_protocol import copy_for_resend, held_secrets, set_scopes
from ._flow import Endpoint, Exclusive, LockTable, Sleep, back_off
from ._http import ERROR_BODY_LIMIT, retry_after, status_error
from ._log import log
from ._redact import redact_url
from ._request import Body, Replay, Request
from ._response import Response
from ._retry import RetryPolicy
from .errors import (
    AuthenticationError,
    RegistryError,
    RegistryResponseError,
    RegistrySSLError,
    RegistryUnavailableError,
)

__all__ = [
    "MAYBE_DONE_STATUSES",
    "NOT_RETRIED",
    "NOT_SENT",
    "TLS_CLOSED",
    "TOKEN_BODY_LIMIT",
    "Discard",
    "Exchange",
    "ExchangeEndpoint",
    "Exclusive",
    "LockTable",
    "ReadBody",
    "Sleep",
    "Step",
    "TokenAnswer",
    "TokenAttempt",
    "TokenCall",
    "Transmit",
    "TransmitError",
    "authorize",
    "back_off",
    "challenged",
    "exchange",
    "token_answer",
    "token_call",
    "token_request",
]

T = TypeVar("T")

Timeout = float | tuple[float, float]

# A gateway's 502/504 says the registry's own answer never came back: it may have acted.
MAYBE_DONE_STATUSES = frozenset({502, 504})
"""Answers after which the registry may have done what was asked."""
NOT_SENT = frozenset({"refused", "dns", "connect", "connect-timeout", "proxy", "tls",
                      "proxy-tls"})
"""Failure kinds of a request that never left: the registry cannot have acted on it."""
NOT_RETRIED = frozenset({"client", "tls", "proxy-tls", "url", "malformed", "proxy-refused"})
"""Failure kinds never worth another try: the client's own, TLS (the registry's or the
proxy's), an unusable URL, an answer that is not valid HTTP (the server answers so every
time), a proxy's refusal of the tunnel (407, 403: the same credentials get the same
answer)."""
TLS_CLOSED = "tls-closed"
"""The kind of a TLS connection that ended right after its handshake, or later
("EOF occurred in violation of protocol"): a network drop (a proxy's tunnel cut), retried
as any -- or, when every attempt of a request without a body ends so, a registry that
wants a client certificate (TLS 1.3 says so after the handshake, and its alert may be
lost to the close): then a RegistrySSLError."""
TOKEN_BODY_LIMIT = 1 << 20
"""The largest token-server answer read."""
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


# -- the vocabulary ---------------------------------------------------------------------
class TransmitError(Exception):
    """A request failed in the HTTP client: the shell's words for it, no library types.

    Attributes:
        kind: what failed, one of ``_http.connection_failure``'s kinds (``refused``,
            ``dns``, ``connect``, ``connect-timeout``, ``read-timeout``, ``closed``,
            ``reset``, ``broken-pipe``, ``proxy``, ``broken``, ``other``), or
            ``tls`` (the TLS handshake: ``words`` is ``_transport.tls_reason``), or
            ``tls-closed`` (:data:`TLS_CLOSED`: retried, then a TLS error), or
            ``proxy-tls`` (the TLS handshake with an https:// proxy: the same words), or
            ``url`` (a URL the registry sent, a redirect's ``Location``, is unusable:
            ``words`` are :func:`unusable_url`'s), or ``malformed`` (the answer is not
            valid HTTP: ``words`` is what the parser said).
        words: what went wrong, plainly, never a URL.
        cause: the low-level exception to chain the typed error to
            (``_http.failure_cause``), or None.
    """

    def __init__(self, kind: str, words: str, *, cause: BaseException | None = None,
                 host: str | None = None) -> None:
        super().__init__(kind, words)
        self.kind = kind
        self.words = words
        self.cause = cause
        self.host = host
        """The host (``name:port``) of the request that failed, when the shell knows it:
        a redirect's target (a blob's storage) is not the registry."""

    @property
    def connection(self) -> bool:
        """True for a connection failure or a timeout (worth another try); False for a
        failure of the client itself, TLS or an unusable URL (never retried) -- decided
        from :attr:`kind` alone, the same for every shell."""
        return self.kind not in NOT_RETRIED

    @property
    def sent(self) -> bool:
        """True when the request may have reached the registry (it may have acted)."""
        return self.kind not in NOT_SENT


SOCKS_MISSING = ("a SOCKS proxy needs SOCKS support installed: requests[socks] for the "
                 "blocking API, httpx[socks] for the asyncio one")
"""The words of a request to a SOCKS proxy the HTTP library cannot speak (both flavours)."""


UNSENDABLE_AGAIN = ("the registry redirected a request whose body is read once (a blob "
                    "streamed from another registry): it cannot be sent again there")
"""The words of a 307/308 redirect of a request whose body cannot be rewound."""


def unusable_url(url: str | None) -> TransmitError:
    """A URL the registry sent (a redirect's ``Location``) that no request can go to, in
    the same words whichever HTTP library refused it: the scheme when it is not HTTP(S)
    (``file://``, ``ftp://``), else "an unusable URL" (a port out of range, a broken
    IPv6 address). ``url``: the refused URL, when the library says which."""
    try:
        scheme = urllib.parse.urlsplit(url or "").scheme.lower()
    except ValueError:
        scheme = ""
    if scheme and scheme not in ("http", "https"):
        return TransmitError("url", f"a URL of the scheme {scheme!r} cannot be followed")
    return TransmitError("url", "an unusable URL")


class Transmit(NamedTuple):
    """Send a prepared registry request; result: the answer, body on the wire."""

    prepared: requests.PreparedRequest
    allow_redirects: bool = True
    timeout: Timeout | None = None


class TokenCall(NamedTuple):
    """A token-server request, retried as the token policy says; result: a TokenAnswer."""

    method: str
    url: str
    params: Mapping[str, str] | list[tuple[str, str]] | None = None
    headers: Mapping[str, str] | None = None
    form: Mapping[str, str] | None = None
    allow_redirects: bool = True

    def encoded(self) -> tuple[dict[str, str], bytes | None]:
        """The headers and body to send: the form URL-encoded, with its Content-Type
        (one encoding for every shell); no body without a form."""
        headers = dict(self.headers or {})
        if self.form is None:
            return headers, None
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return headers, urllib.parse.urlencode(self.form).encode()


class TokenAttempt(NamedTuple):
    """One try of a :class:`TokenCall`; result: the answer, body on the wire."""

    call: TokenCall


class TokenAnswer(NamedTuple):
    """A token server's answer, its body read (None: over the cap or unreadable)."""

    status_code: int
    headers: Mapping[str, str]
    url: str
    body: bytes | None

    @property
    def is_redirect(self) -> bool:
        """True for a redirect with a ``Location`` to follow."""
        return self.status_code in _REDIRECTS and "location" in {
            k.lower() for k in self.headers}


class ReadBody(NamedTuple):
    """Read an answer's whole body, at most ``cap`` bytes; result: the bytes."""

    answer: Any
    cap: int


class Discard(NamedTuple):
    """Drain a small unwanted body and release the connection; result: None."""

    answer: Any


Step = Transmit | TokenCall | TokenAttempt | ReadBody | Discard | Sleep | Exclusive
"""What an exchange flow may yield."""

Exchange = Generator[Step, Any, T]
"""A flow over the exchange vocabulary, returning ``T``."""


class ExchangeEndpoint(Endpoint, Protocol):
    """What the exchange flow reads of, and records on, the registry it talks to
    (no I/O): :class:`~registry_client._endpoint.RegistryEndpoint` has it, for both
    flavours. ``prepare`` and ``respond`` build the shell's own objects."""

    authenticator: Any
    policy: RetryPolicy
    token_policy: RetryPolicy
    primed: bool
    locks: LockTable

    @property
    def max_backoff(self) -> float:
        """The longest wait between retries, the 429 pause included."""

    def prepare(self, method: str, url: str, *, params: Any, headers: Mapping[str, str] | None,
                data: Body | None) -> requests.PreparedRequest:
        """The request ready to send: session defaults and User-Agent merged in.

        Raises :class:`TransmitError` for a request the HTTP client cannot make (an
        unusable URL), as :class:`Transmit` would."""

    def respond(self, answer: Any, body: bytes | None) -> Response:
        """The library's answer for ``answer``: with ``body``, or streamed when None."""

    def explain(self, kind: str, words: str, url: str, timeout: Timeout | None) -> str:
        """A connection failure of a request to ``url`` in words, with advice."""

    def refusal_hint(self, answer: Any) -> str | None:
        """What to change when the registry refused the credentials (401/403)."""

    def note_answer(self, prepared: requests.PreparedRequest, answer: Any) -> None:
        """Record an answer: the request counted, that the registry answers, its rate limit."""

    def count_request(self, method: str, sent: int = 0) -> None:
        """Count one request sent (``sent`` bytes of body known up front)."""

    def pause_all(self, seconds: float) -> None:
        """Make every request to the registry wait ``seconds`` from now (a 429)."""

    def paused_for(self) -> float:
        """Seconds left of the pause after a 429 (0 when none)."""


# -- flows ----------------------------------------------------------------------------
def exchange(endpoint: ExchangeEndpoint, request: Request) -> Exchange[Response]:
    """Send ``request`` and return the answer when its status is one it expects.

    The flow of :meth:`Requester.send_request
    <registry_client.requester.Requester.send_request>` (see it for the contract).
    """
    method = request.verb
    url = request.target if "://" in request.target else endpoint.url(request.target)
    ok = request.expected
    context = request.operation or f"{method.lower()} on {endpoint.domain}"
    can_retry = request.may_repeat
    policy = endpoint.policy
    replay = Replay(request)
    maybe_done = False  # an earlier attempt may have been acted on, its answer lost
    attempt = 0
    while True:
        try:
            resp = yield from _send_first_alone(endpoint, request, url, replay)
        except TransmitError as exc:
            if exc.kind in ("tls", "proxy-tls"):
                raise RegistrySSLError(
                    f"{context}: TLS error talking to {_tls_party(endpoint, exc)}: "
                    f"{exc.words}", method=method, url=redact_url(url),
                ) from exc.cause
            if exc.kind == "url":
                # a URL the registry sent (a redirect's Location): "Invalid IPv6 URL",
                # "Port out of range"
                raise RegistryResponseError(
                    f"{context}: {method} {redact_url(url)}: could not use the registry's "
                    f"answer ({exc.words})", method=method, url=redact_url(url),
                ) from None
            if exc.kind == "malformed":
                raise RegistryResponseError(
                    f"{context}: {method} {redact_url(url)}: the answer is not valid HTTP "
                    f"({exc.words})", method=method, url=redact_url(url),
                ) from exc.cause
            explained = endpoint.explain(exc.kind, exc.words, url, request.timeout)
            if not exc.connection:
                raise RegistryUnavailableError(
                    f"{context}: {method} {redact_url(url)} failed: {explained}",
                    method=method, url=redact_url(url),
                ) from exc.cause
            if exc.sent:
                maybe_done = True
            if can_retry and request.retry_connection_errors and policy.should_retry(attempt):
                log.debug("%s %s: %s", method, redact_url(url), exc.words)
                yield from back_off(policy, attempt, None)
                attempt += 1
                continue
            if exc.kind == TLS_CLOSED and request.body is None \
                    and request.body_factory is None:
                # every attempt, with nothing but a head sent: a client certificate wanted
                # (a body cut on its way is a connection failure: an upload resumes)
                raise RegistrySSLError(
                    f"{context}: TLS error talking to {_tls_party(endpoint, exc)} after "
                    f"{attempt + 1} attempt(s): {exc.words}", method=method,
                    url=redact_url(url),
                ) from exc.cause
            raise RegistryUnavailableError(
                f"{context}: {method} {redact_url(url)} failed after {attempt + 1} "
                f"attempt(s): {explained}",
                method=method, url=redact_url(url),
            ) from exc.cause
        except RegistryError as exc:
            # raised on the way (token server, CA bundle): say which operation it stopped
            if exc.method is None:
                exc.with_context(f"{context}: {exc.message}", method=method,
                                 url=redact_url(url))
            raise
        status = resp.status_code
        if status == 404 and maybe_done and request.gone_is_done and 404 not in ok:
            # The registry did it on an attempt whose answer was lost: done, not "not
            # found" (a retried DELETE would otherwise report its own success as failure).
            yield Discard(resp)
            log.info("%s %s: 404 after an attempt whose answer was lost: taken as done",
                     method, redact_url(url))
            return endpoint.respond(resp, b"")
        if status in ok:
            if method == "HEAD":
                yield Discard(resp)
                return endpoint.respond(resp, b"")
            if request.stream:
                return endpoint.respond(resp, None)
            try:
                body: bytes = yield ReadBody(resp, endpoint.body_limit)
            except RegistryUnavailableError as exc:
                # the connection broke while reading the body: same as any
                # connection error, so an idempotent request is sent again
                maybe_done = True
                if can_retry and policy.should_retry(attempt):
                    yield from back_off(policy, attempt, None)
                    attempt += 1
                    continue
                exc.with_context(f"{context}: {method} {redact_url(url)} failed after "
                                 f"{attempt + 1} attempt(s): {exc.message}", method=method)
                raise
            except RegistryResponseError as exc:  # over the body cap, or short
                exc.with_context(f"{context}: {method} {redact_url(url)}: {exc.message}",
                                 method=method)
                raise
            endpoint.count_received(len(body))
            return endpoint.respond(resp, body)
        if status in MAYBE_DONE_STATUSES:
            maybe_done = True
        if can_retry and policy.should_retry(attempt, status):
            wait = retry_after(resp, policy.max_backoff)
            yield Discard(resp)
            yield from back_off(policy, attempt, wait,
                                pause=endpoint.pause_all if status == 429 else None)
            attempt += 1
            continue
        hint = endpoint.refusal_hint(resp)
        error = status_error(resp, (yield from _error_body(resp, method)), context=context,
                             method=method, hint=hint,
                             secrets=held_secrets(endpoint.authenticator))
        if request.retry_if is None or not can_retry \
                or not policy.should_retry(attempt) or not request.retry_if(error):
            raise error
        # a transient failure the caller knows (the registry may have acted)
        maybe_done = True
        yield from back_off(policy, attempt, error.retry_after)
        attempt += 1


def _tls_party(endpoint: ExchangeEndpoint, exc: TransmitError) -> str:
    """Whose TLS failed: the proxy's, a redirect target's (a blob's storage), or the
    registry's. A storage host whose certificate is not trusted was called the registry,
    whose own had just been trusted for the manifest: the user went to fix the wrong
    one (the shells give the failed request's host: :attr:`TransmitError.host`)."""
    if exc.kind == "proxy-tls":
        return "the proxy"
    if exc.host is None or exc.host.lower() == endpoint.host.lower():
        return endpoint.host
    return f"{exc.host}, where {endpoint.host} redirected the request"


def _error_body(resp: Any, method: str) -> Exchange[bytes]:
    """The body of an error answer, for its message (none for a HEAD; b"" when unreadable)."""
    if method == "HEAD":
        yield Discard(resp)  # no body: keep the connection
        return b""
    try:
        body: bytes = yield ReadBody(resp, ERROR_BODY_LIMIT)
    except RegistryError:
        return b""
    return body


_PRIME = "prime"


class _First(NamedTuple):
    """The priming request as it was sent, and its answer: a 401 whose challenge the
    authenticator has learnt, not answered yet."""

    prepared: requests.PreparedRequest
    answer: Any


def _send_first_alone(endpoint: ExchangeEndpoint, request: Request, url: str,
                      replay: Replay) -> Exchange[Any]:
    """Send with credentials; the very first request to the registry goes alone.

    Until one answer has come back nobody knows the registry's auth challenge, so
    parallel workers would each be refused with a 401 and fetch a token of their
    own. The first request is sent while the others wait; once it is answered the
    challenge is known and everyone asks for tokens up front.
    """
    if not endpoint.primed:
        first = yield Exclusive(endpoint.locks, _PRIME, _prime(endpoint, request, url, replay))
        if isinstance(first, _First):  # (its token is fetched with the lock given back)
            return (yield from _authorized(endpoint, request, url, replay, first))
        if first is not None:
            return first
    return (yield from _authorized(endpoint, request, url, replay))


def _prime(endpoint: ExchangeEndpoint, request: Request, url: str,
           replay: Replay) -> Exchange[Any]:
    """The first request, under the priming lock; None when another went first (this one
    is then sent outside the lock).

    An authenticator that can learn a challenge apart from answering it (the token
    authenticator: ``learn_challenge``) gives the lock back once the first answer is
    in and its challenge learnt: the token it needs (a slow token server, its retries)
    then holds up no request of another scope; the caller goes on with the
    :class:`_First` returned. Any other's 401 is answered under the lock.
    """
    if endpoint.primed:
        return None
    try:
        learn = getattr(endpoint.authenticator, "learn_challenge", None)
        if learn is None:
            return (yield from _authorized(endpoint, request, url, replay))
        prepared = _prepared(endpoint, request, url, replay)
        resp = yield from _sent(endpoint, request, prepared)
        if resp.status_code == 401 and endpoint.same_origin(resp.url or url):
            learn(resp)
        return _First(prepared, resp)
    finally:
        endpoint.primed = True


def _prepared(endpoint: ExchangeEndpoint, request: Request, url: str,
              replay: Replay) -> requests.PreparedRequest:
    """The request as the authenticators see it."""
    prepared = endpoint.prepare(request.verb, url, params=request.params,
                                headers=request.headers, data=replay.body())
    set_scopes(prepared, request.scopes)
    return prepared


def _sent(endpoint: ExchangeEndpoint, request: Request,
          prepared: requests.PreparedRequest) -> Exchange[Any]:
    """Send ``prepared`` once with the authenticator's credentials (after a pause the
    registry asked for); its answer."""
    yield from authorize(endpoint.authenticator, prepared)
    pause = endpoint.paused_for()
    if pause > 0:
        yield Sleep(min(pause, endpoint.max_backoff))
    resp = yield Transmit(prepared, request.allow_redirects, request.timeout)
    endpoint.note_answer(prepared, resp)
    return resp


def _authorized(endpoint: ExchangeEndpoint, request: Request, url: str,
                replay: Replay, first: _First | None = None) -> Exchange[Any]:
    """Send with the authenticator's credentials, answering a 401 by one re-send
    (``first``: the priming request's send, already answered)."""
    method = request.verb
    auth = endpoint.authenticator
    prepared = first.prepared if first is not None else _prepared(endpoint, request, url,
                                                                  replay)
    for round_ in range(2):
        if round_ == 0 and first is not None:
            resp = first.answer
        else:
            resp = yield from _sent(endpoint, request, prepared)
        if resp.status_code != 401 or round_ == 1:
            return resp
        if not endpoint.same_origin(resp.url or url):
            # A 401 from a redirect target (a storage host) or a foreign Location is
            # never answered with our credentials.
            return resp
        try:
            again = yield from challenged(auth, resp)
        except Exception:
            yield Discard(resp)  # (its connection back to the pool, not left open)
            raise
        except BaseException:
            resp.close()
            raise
        if not again:
            return resp
        if not request.replayable:
            yield Discard(resp)
            raise AuthenticationError(
                f"{method} {redact_url(url)}: the registry asked to authenticate in the "
                "middle of a streamed body that cannot be sent again",
                status_code=401, method=method, url=redact_url(url),
            )
        yield Discard(resp)
        body = replay.body()
        prepared = copy_for_resend(prepared)
        if request.body_factory is not None:
            prepared.prepare_body(body, None)
    raise AssertionError("unreachable")  # pragma: no cover


def authorize(authenticator: Any, prepared: requests.PreparedRequest) -> Exchange[None]:
    """Let ``authenticator`` add credentials: its ``request_flow`` when it has one (the
    built-ins), else its plain ``handle_request`` hook."""
    flow = getattr(authenticator, "request_flow", None)
    if flow is None:
        authenticator.handle_request(prepared)
        return
    yield from flow(prepared)


def challenged(authenticator: Any, answer: Any) -> Exchange[bool]:
    """Show ``authenticator`` a 401: its ``response_flow`` when it has one, else its
    plain ``handle_response`` hook -- on a ``requests.Response``, as the hook is promised
    in either flavour of the API (the asyncio shell's answer is read into one). True:
    send the request once more."""
    flow = getattr(authenticator, "response_flow", None)
    if flow is None:
        if not isinstance(answer, requests.Response):
            answer = yield from _as_requests_response(answer)
        return bool(authenticator.handle_response(answer))
    again: bool = yield from flow(answer)
    return again


def _as_requests_response(answer: Any) -> Exchange[requests.Response]:
    """A ``requests.Response`` of an answer of another HTTP library (its body read, at
    most ``ERROR_BODY_LIMIT`` bytes; b"" when it cannot be)."""
    try:
        body: bytes = yield ReadBody(answer, ERROR_BODY_LIMIT)
    except RegistryError:
        body = b""
    resp = requests.Response()
    resp.status_code = answer.status_code
    resp.headers = requests.structures.CaseInsensitiveDict(answer.headers)
    resp.url = answer.url
    resp.reason = _reason(answer.status_code)
    resp.request = answer.request
    resp.encoding = requests.utils.get_encoding_from_headers(resp.headers)
    resp.raw = io.BytesIO(body)  # (read as requests reads any file-like body)
    return resp


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def token_request(endpoint: ExchangeEndpoint, call: TokenCall) -> Exchange[Any]:
    """Send ``call`` to its token server, retried as ``endpoint.token_policy`` says;
    the answer, its body on the wire.

    Raises:
        RegistrySSLError: the TLS handshake failed.
        RegistryUnavailableError: the server could not be reached, every attempt.
    """
    policy = endpoint.token_policy
    url = call.url
    attempt = 0
    while True:
        try:
            resp = yield TokenAttempt(call)
            endpoint.count_request(call.method)
        except TransmitError as exc:
            if exc.kind in ("tls", "proxy-tls"):
                whose = "the proxy to token server" if exc.kind == "proxy-tls" else \
                    "token server"
                raise RegistrySSLError(
                    f"TLS error talking to {whose} {redact_url(url)}: {exc.words}"
                ) from exc.cause
            if policy.should_retry(attempt):
                yield from back_off(policy, attempt, None)
                attempt += 1
                continue
            if exc.kind == TLS_CLOSED:
                raise RegistrySSLError(f"TLS error talking to token server {redact_url(url)} "
                                       f"after {attempt + 1} attempt(s): {exc.words}"
                                       ) from exc.cause
            explained = endpoint.explain(exc.kind, exc.words, url, None).replace(
                "is a registry listening", "is the token server listening")
            raise RegistryUnavailableError(
                f"token server {redact_url(url)} unreachable after {attempt + 1} "
                f"attempt(s): {explained}"
            ) from exc.cause
        if policy.should_retry(attempt, resp.status_code):
            wait = retry_after(resp, policy.max_backoff)
            yield Discard(resp)
            yield from back_off(policy, attempt, wait)
            attempt += 1
            continue
        return resp


def token_answer(answer: Any) -> Exchange[TokenAnswer]:
    """Read a token server's ``answer`` (at most :data:`TOKEN_BODY_LIMIT` bytes)."""
    try:
        body: bytes | None = yield ReadBody(answer, TOKEN_BODY_LIMIT)
    except RegistryError:
        body = None  # over the cap, or the connection broke: no usable token in it
    return TokenAnswer(answer.status_code, answer.headers, answer.url or "", body)


def token_call(endpoint: ExchangeEndpoint, call: TokenCall) -> Exchange[TokenAnswer]:
    """What a registry's shell runs for a :class:`TokenCall`: the request with the
    token policy's retries, then its body read."""
    answer = yield from token_request(endpoint, call)
    return (yield from token_answer(answer))
