"""The Requester: the one funnel every registry request goes through (the blocking shell).

:meth:`Requester.send_request` (and its keyword form :meth:`Requester.send`) runs the
exchange flow (:func:`registry_client._exchange.exchange`): it adds credentials,
answers 401s (at most one re-send), retries as the
:class:`~registry_client._retry.RetryPolicy` says, turns unexpected answers into
typed errors and keeps the stats. The Requester performs the flow's effects with the
:class:`~registry_client._transport.Transport`'s pooled ``requests`` session and
threads; what it is apart from that I/O is its base,
:class:`~registry_client._endpoint.RegistryEndpoint`, shared with the asyncio
requester. Services get the library's own :class:`~registry_client._response.Response`.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from . import _http
from ._auth_protocol import Authenticator
from ._blocking import BlockingSteps, TokenRequests
from ._calloff import check_cancelled, current
from ._endpoint import RegistryEndpoint, api_host
from ._exchange import (
    SOCKS_MISSING,
    TLS_CLOSED,
    UNSENDABLE_AGAIN,
    TokenAttempt,
    TokenCall,
    Transmit,
    TransmitError,
    back_off,
    exchange,
    token_call,
    unusable_url,
)
from ._flow import run
from ._http import (
    DEFAULT_BODY_LIMIT,
    HTTPS_PORT_HINT,
    connection_failure,
    exception_chain,
    failure_cause,
    through_proxy,
)
from ._request import Body, Request
from ._response import Response
from ._retry import RetryPolicy
from ._transport import (
    CLIENT_CERT_HINT,
    TLS_HINT,
    VERIFY_HINT,
    Transport,
    is_url_error,
    tls_reason,
    to_response,
)
from .errors import RegistryError

__all__ = ["HTTPS_PORT_HINT", "TIMEOUT_HINT", "TLS_HINT", "VERIFY_HINT", "Requester", "Response",
           "api_host", "tls_reason"]


TIMEOUT_HINT = _http.TIMEOUT_HINT
"""The advice a timeout's message ends with (the CLI swaps in its flag)."""


SLICE = 0.1
"""Seconds a retry's wait in a transfer sleeps at most before it looks for a call-off."""


class _Shell(BlockingSteps):
    """Performs the exchange flow's effects for a Requester: its transport sends, the
    calling thread waits and reads, ``threading.Lock`` excludes."""

    __slots__ = ("_requester",)

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    def perform(self, effect: Any) -> Any:
        """Do what ``effect`` asks (see :mod:`registry_client._exchange`)."""
        requester = self._requester
        if isinstance(effect, Transmit):
            check_cancelled()  # a retry of a transfer called off (Ctrl-C) is not sent
            try:
                return requester.transport.send(
                    effect.prepared, allow_redirects=effect.allow_redirects,
                    timeout=effect.timeout)
            except (requests.RequestException, ValueError) as exc:
                raise transmit_error(exc, effect.prepared.url or "") from None
        if isinstance(effect, TokenAttempt):
            check_cancelled()  # a worker of a transfer called off asks no token either
            call = effect.call
            headers, form = call.encoded()
            try:
                return requester.transport.request(
                    call.method, call.url, params=call.params, headers=headers,
                    data=form, allow_redirects=call.allow_redirects)
            except (requests.RequestException, ValueError) as exc:  # (as a Transmit's:
                # urlparse's ValueError for a redirect to a URL it cannot read)
                raise transmit_error(exc, call.url) from None
        if isinstance(effect, TokenCall):
            return run(token_call(requester, effect), self)
        return super().perform(effect)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (this module's clock: tests replace it); in a transfer, in
        slices, stopping (``Cancelled``) as soon as the transfer is called off."""
        if current() is None:
            time.sleep(seconds)
            return
        while seconds > 0:
            check_cancelled()
            time.sleep(min(seconds, SLICE))
            seconds -= SLICE
        check_cancelled()


_QUOTED = re.compile(r"'([^']*)'")


def _tls_closed(exc: BaseException) -> TransmitError:
    """A TLS connection's EOF after its handshake (see ``_exchange.TLS_CLOSED``)."""
    why = next((str(e.strerror or e) for e in exception_chain(exc)
                if isinstance(e, ssl.SSLError)), "EOF")
    return TransmitError(TLS_CLOSED, f"the connection ended in the middle of TLS ({why}): "
                         f"cut on the way, or {CLIENT_CERT_HINT}", cause=failure_cause(exc),
                         host=_host_of(getattr(exc, "request", None)))


def _host_of(request: Any) -> str | None:
    """The ``host:port`` a failed request (requests' exception's) went to: a redirect's
    hop, maybe not the registry."""
    url = getattr(request, "url", None)
    return urlsplit(url).netloc or None if isinstance(url, str) else None


_HANDSHAKE_FRAMES = frozenset({"do_handshake", "ssl_wrap_socket", "wrap_socket",
                               "_ssl_wrap_socket_and_match_hostname"})
"""Where ssl and urllib3 make a TLS connection: an error raised in one is the handshake's."""


def _raised_in(exc: BaseException, names: frozenset[str]) -> bool:
    """Whether ``exc``, or an exception in its chain, was raised in a function of one of
    ``names`` (its traceback shows how far it came: whatever session or adapter sent the
    request, urllib3 and ssl name their steps so)."""
    for e in exception_chain(exc):
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_name in names:
                return True
            tb = tb.tb_next
    return False


def _ended_after_handshake(exc: BaseException) -> bool:
    """Whether ``exc`` (requests' SSLError) is an EOF of a TLS connection whose handshake
    was done: none of its errors came from the handshake."""
    return (any(isinstance(e, ssl.SSLEOFError | ssl.SSLZeroReturnError)
                for e in exception_chain(exc))
            and not _raised_in(exc, _HANDSHAKE_FRAMES))


def transmit_error(exc: requests.RequestException | ValueError, url: str = "") -> TransmitError:
    """``requests``' failure ``exc`` of a request to ``url`` in the exchange flow's words.

    Raises ``exc`` itself for a ValueError that is not about a URL (a caller's progress
    callback raising while the body is sent is not ours to wrap).
    """
    if isinstance(exc, requests.exceptions.SSLError):
        if _ended_after_handshake(exc):
            # a connection that ended in the middle of TLS (a reset, a proxy's tunnel
            # cut while an upload was sent): retried as any, no check of ours failed
            return _tls_closed(exc)
        return TransmitError("tls", tls_reason(exc), cause=failure_cause(exc),
                             host=_host_of(exc.request))
    if isinstance(exc, requests.exceptions.ProxyError) and any(
            isinstance(e, ssl.SSLError) for e in exception_chain(exc)):
        # urllib3 wraps the handshake with an https:// proxy in its ProxyError (one with
        # the registry behind it is an SSLError): the proxy's certificate, say so
        return TransmitError("proxy-tls", tls_reason(exc, proxy=True),
                             cause=failure_cause(exc))
    if isinstance(exc, requests.exceptions.UnrewindableBodyError):
        return TransmitError("client", UNSENDABLE_AGAIN)
    if isinstance(exc, requests.exceptions.InvalidSchema) and "SOCKS" in str(exc):
        return TransmitError("client", SOCKS_MISSING)  # ("Missing dependencies for SOCKS")
    if isinstance(exc, requests.exceptions.InvalidSchema | requests.exceptions.MissingSchema
                  | requests.exceptions.InvalidURL):
        # a URL the registry sent (a Location) this client cannot follow: file://...;
        # requests names it in its message ("No connection adapters were found for '...'")
        quoted = _QUOTED.findall(str(exc))
        return unusable_url(quoted[-1] if quoted else url)
    if isinstance(exc, requests.RequestException):
        kind, words = connection_failure(exc)
        if kind == "closed" and _raised_in(exc, frozenset({"_tunnel"})):
            # the proxy hung up on the CONNECT (urllib3 calls it a ProtocolError)
            kind, words = through_proxy(kind, words)
        return TransmitError(kind, words, cause=failure_cause(exc))
    # requests parsing a URL the registry sent (a redirect's Location):
    # "Invalid IPv6 URL", "Port out of range".
    if not is_url_error(exc):
        raise exc
    return unusable_url(None)


class Requester(RegistryEndpoint):
    """Sends every request of one registry: session, auth, retries, error mapping, stats.

    Args:
        domain: the registry domain as in image references (``docker.io``, ``localhost:5000``).
        authenticator: the credentials strategy (default: anonymous token auth).
        session: a ``requests.Session`` to use (default: a new pooled one, closed by ``close``).
        protocol: ``"https"`` (default) or ``"http"`` for local / insecure registries.
        timeout: ``(connect, read)`` seconds; default ``(2, 5)``.
        verify: TLS verification: True, False or a CA bundle path.
        proxy: one proxy URL for http and https.
        retries: retries after the first attempt of an idempotent request (default 3).
        user_agent: the User-Agent header value.
        pool_size: connections kept per host (default 10).
        backoff: base of the exponential backoff, in seconds (default 0.25).
        body_limit: largest manifest or JSON body read into memory (default 4 MiB).
    """

    def __init__(
        self,
        domain: str,
        authenticator: Authenticator | None = None,
        session: requests.Session | None = None,
        protocol: str = "https",
        *,
        timeout: float | tuple[float, float] = (2, 5),
        verify: bool | str = True,
        proxy: str | None = None,
        retries: int = 3,
        user_agent: str | None = None,
        pool_size: int = 10,
        backoff: float = 0.25,
        max_backoff: float = 30.0,
        body_limit: int = DEFAULT_BODY_LIMIT,
    ) -> None:
        super().__init__(domain, authenticator, protocol, timeout=timeout, retries=retries,
                         backoff=backoff, max_backoff=max_backoff, body_limit=body_limit)
        self.transport = Transport(session, timeout=timeout, verify=verify, proxy=proxy,
                                   user_agent=user_agent, pool_size=pool_size)
        self._shell = _Shell(self)
        self._bind_authenticator(TokenRequests(self, self._shell))
        self._warn_insecure(self.transport.verify)

    def __repr__(self) -> str:
        return f"Requester(domain={self.domain!r}, protocol={self.protocol!r})"

    @property
    def session(self) -> requests.Session:
        """The ``requests.Session`` underneath (the transport's)."""
        return self.transport.session

    @property
    def verify(self) -> bool | str:
        """TLS verification in use: True, False or a CA bundle path."""
        return self.transport.verify

    # -- the shell's part of the endpoint --------------------------------------------
    def _now(self) -> float:
        return time.monotonic()

    def prepare(self, method: str, url: str, *, params: Any, headers: Mapping[str, str] | None,
                data: Body | None) -> requests.PreparedRequest:
        """The request ready to send: the session's defaults and the User-Agent merged in."""
        try:
            return self.transport.prepare(method, url, params=params, headers=headers,
                                          data=data)
        except (requests.RequestException, ValueError) as exc:
            raise transmit_error(exc, url) from None

    def respond(self, answer: Any, body: bytes | None) -> Response:
        """The library's answer for ``answer``: with ``body``, or streamed when None."""
        return to_response(answer, body)

    # -- sending ------------------------------------------------------------------------
    def send(
        self,
        method: str,
        path_or_url: str,
        *,
        scopes: Iterable[str] = (),
        expected: Iterable[int] = (200,),
        context: str = "",
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Body | None = None,
        stream: bool = False,
        allow_redirects: bool = True,
        idempotent: bool | None = None,
        timeout: float | tuple[float, float] | None = None,
        retry_connection_errors: bool = True,
        done_if_gone: bool | None = None,
        retry_if: Callable[[RegistryError], bool] | None = None,
    ) -> Response:
        """Send one API request and return the answer when its status is in ``expected``.

        The keyword form of :meth:`send_request` (see :class:`~registry_client._request.
        Request` for what each argument means; ``context`` is its ``operation``).
        """
        return self.send_request(Request(
            method, path_or_url, scopes=tuple(scopes), expected=frozenset(expected),
            operation=context, params=params, headers=headers, body=data, stream=stream,
            allow_redirects=allow_redirects, idempotent=idempotent, timeout=timeout,
            retry_connection_errors=retry_connection_errors, done_if_gone=done_if_gone,
            retry_if=retry_if,
        ))

    def send_request(self, request: Request) -> Response:
        """Send ``request`` and return the answer when its status is one it expects.

        ``request.target`` is an API path (``"repo/manifests/tag"``) or an absolute
        URL on the registry (a ``Location``). Credentials are added by the
        authenticator; a 401 is answered by at most one re-send; requests that may
        repeat are retried as :attr:`policy` says (connection errors and timeouts too,
        unless ``retry_connection_errors=False``: for a caller that must recover from
        a cut itself, as a blob upload does), and on any error answer ``retry_if``
        accepts.

        A 404 to a retry, after an attempt the registry may have acted on without its
        answer arriving (the connection broke or timed out once the request was sent,
        a gateway's 502/504, an answer ``retry_if`` accepted), means what was asked is
        done when ``request.gone_is_done`` (a DELETE): that 404 answer is returned
        instead of raising NotFoundError.

        Raises:
            RegistryError: the answer was not expected -- AuthenticationError,
                AuthorizationError, NotFoundError, RegistryUnavailableError,
                RegistrySSLError or RegistryResponseError.
        """
        return run(exchange(self, request), self._shell)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` before a retry; in a transfer, in slices, stopping
        (``Cancelled``) as soon as the transfer is called off (Ctrl-C)."""
        self._shell.sleep(seconds)

    def back_off(self, attempt: int, wait: float | None, *, shared: bool = False,
                 policy: RetryPolicy | None = None) -> None:
        """Sleep before retry number ``attempt + 1`` as ``policy`` (default: :attr:`policy`)
        says: ``wait`` (a Retry-After) when given, else backoff with jitter. With ``shared``
        (a 429) every request to this registry waits until then too."""
        run(back_off(policy or self.policy, attempt, wait,
                     pause=self.pause_all if shared else None), self._shell)

    def close(self) -> None:
        """Close the session's pooled connections (when the Requester created the session)."""
        self.transport.close()

