"""The asyncio Requester: the exchange flow performed with httpx and asyncio.

:class:`AsyncRequester` is the blocking :class:`~registry_client.requester.Requester`'s
twin. Both are a :class:`~registry_client._endpoint.RegistryEndpoint` (options,
identity, URLs, policies, the 429 pause) and run the same flow,
:func:`registry_client._exchange.exchange`: credentials, the first request alone, one
re-send after a 401, retries, typed errors with the same messages. This one performs
the flow's effects on the event loop: requests through its
:class:`~registry_client.aio._transport.AsyncTransport`, ``asyncio.sleep``,
``asyncio.Lock`` (per key and event loop), token requests on the same client.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import weakref
from collections.abc import Mapping
from typing import Any

import httpx
import requests

from .._auth_protocol import Authenticator
from .._blocking import BlockingSteps, TokenRequests
from .._endpoint import RegistryEndpoint
from .._exchange import (
    SOCKS_MISSING,
    UNSENDABLE_AGAIN,
    Discard,
    Exclusive,
    ReadBody,
    Sleep,
    TokenAttempt,
    TokenCall,
    Transmit,
    TransmitError,
    exchange,
    token_call,
    unusable_url,
)
from .._http import DEFAULT_BODY_LIMIT, CappedBody, UnwantedBody, through_proxy
from .._inflate import InflateLimit
from .._request import Body, Relay, Request
from .._response import Response
from .._transport import Transport, prepared_bodyless, tls_reason
from ..errors import RegistryResponseError
from ..requester import transmit_error
from ._run import arun, arun_exclusive
from ._transport import (
    AsyncAnswer,
    AsyncTransport,
    SocksMissing,
    failure,
    failure_cause,
    is_proxy_tls_failure,
    is_tls_failure,
)

__all__ = ["AsyncRequester"]

_URL_ERRORS = (httpx.InvalidURL, httpx.UnsupportedProtocol)


def _transmit_error(
    exc: httpx.HTTPError | httpx.InvalidURL | httpx.StreamError, *, proxied: bool = False,
) -> TransmitError:
    """httpx's failure ``exc`` in the exchange flow's words (as ``requester.transmit_error``
    says requests' failures); ``proxied``: the request went to a proxy."""
    if isinstance(exc, httpx.StreamError):  # a redirect (307/308) of a one-pass body
        return TransmitError("client", UNSENDABLE_AGAIN)
    if isinstance(exc, SocksMissing):
        return TransmitError("client", SOCKS_MISSING)
    if is_tls_failure(exc):
        proxy = is_proxy_tls_failure(exc)
        request = exc._request if isinstance(exc, httpx.RequestError) else None
        return TransmitError("proxy-tls" if proxy else "tls", tls_reason(exc, proxy=proxy),
                             cause=failure_cause(exc),
                             host=request.url.netloc.decode() if request is not None else None)
    if isinstance(exc, _URL_ERRORS):
        return unusable_url(str(exc.request.url) if isinstance(exc, httpx.RequestError)
                            and exc._request is not None else None)
    if isinstance(exc, httpx.RemoteProtocolError) and str(exc).startswith(
            "Invalid URL in location header"):
        return unusable_url(None)  # httpx's word for a Location it cannot parse
    kind, words = failure(exc)  # whether it is worth another try: TransmitError.connection
    if proxied:
        kind, words = through_proxy(kind, words,
                                    connecting=isinstance(exc, httpx.ConnectError))
    return TransmitError(kind, words, cause=failure_cause(exc))


class _Steps:
    """Performs the exchange flow's effects for one AsyncRequester, on the event loop."""

    __slots__ = ("_requester",)

    def __init__(self, requester: AsyncRequester) -> None:
        self._requester = requester

    async def perform(self, effect: Any) -> Any:
        """Do what ``effect`` asks (see :mod:`registry_client._exchange`)."""
        requester = self._requester
        transport = requester.transport
        if isinstance(effect, Transmit):
            prepared = effect.prepared
            body = prepared.body
            try:
                return await transport.transmit(
                    prepared.method or "GET", prepared.url or "", headers=prepared.headers,
                    body=body.encode() if isinstance(body, str) else body,
                    allow_redirects=effect.allow_redirects, timeout=effect.timeout,
                    request=prepared)
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
                raise _transmit_error(
                    exc, proxied=transport.proxied(prepared.url or "")) from None
            except ssl.SSLError as exc:  # (a TLS 1.3 alert after the handshake: not httpx's)
                raise TransmitError("tls", tls_reason(exc), cause=exc) from None
        if isinstance(effect, ReadBody):
            return await _read_capped(effect.answer, effect.cap)
        if isinstance(effect, Discard):
            await _discard(effect.answer)
            return None
        if isinstance(effect, Sleep):
            await asyncio.sleep(effect.seconds)
            return None
        if isinstance(effect, Exclusive):
            return await arun_exclusive(effect, self)
        if isinstance(effect, TokenCall):
            # Token requests have a bound of their own: the request slots are taken to
            # send, and a request holding one may wait for the token another is fetching
            async with requester._slot(requester._token_slots):
                return await arun(token_call(requester, effect), self)
        if isinstance(effect, TokenAttempt):
            call = effect.call
            headers, form = call.encoded()
            try:
                return await transport.transmit(
                    call.method, call.url, params=call.params, headers=headers, body=form,
                    allow_redirects=call.allow_redirects)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise _transmit_error(exc, proxied=transport.proxied(call.url)) from None
            except ssl.SSLError as exc:
                raise TransmitError("tls", tls_reason(exc), cause=exc) from None
        raise TypeError(f"{type(self).__name__} cannot perform {effect!r}")


class _Slotted:
    """Performs one exchange's effects for :meth:`AsyncRequester.send_request`: takes a
    slot of the loop's bound when the request is first sent (a Transmit) and holds it
    to the exchange's end; what comes before -- its token, awaited under the token's
    lock (the fetch has a bound of its own), a rate-limit pause -- takes none."""

    __slots__ = ("_held", "_slots", "_steps")

    def __init__(self, steps: _Steps, slots: asyncio.Semaphore) -> None:
        self._steps = steps
        self._slots = slots
        self._held = False

    async def perform(self, effect: Any) -> Any:
        """Do what ``effect`` asks, as :class:`_Steps` does."""
        if isinstance(effect, Exclusive):  # (its sub-flow's sends are this exchange's)
            return await arun_exclusive(effect, self)
        if not self._held and isinstance(effect, Transmit):
            await self._slots.acquire()
            self._held = True
        return await self._steps.perform(effect)

    def release(self) -> None:
        """Give the slot back, if one was taken."""
        if self._held:
            self._held = False
            self._slots.release()


async def _read_capped(answer: AsyncAnswer, cap: int) -> bytes:
    """Read a whole body (decoded) under ``_http.CappedBody``'s rules, then release it.
    Asked again (a 401 read for an authenticator's hook, then for its error), the same
    bytes: a body on the wire is read once."""
    if answer.read is not None:
        return answer.read
    try:
        capped = CappedBody(answer, cap)
    except RegistryResponseError:
        await answer.aclose()
        raise
    try:
        async for chunk in answer.body.decoded(cap):
            capped.add(chunk)
        answer.read = capped.result()
        return answer.read
    except InflateLimit:
        raise capped.over_limit() from None
    except httpx.HTTPError as exc:
        raise capped.broken(*failure(exc)) from failure_cause(exc)
    finally:
        await answer.aclose()


async def _discard(answer: AsyncAnswer) -> None:
    """Drain a small unwanted body by ``_http.UnwantedBody``'s rule, then close."""
    rule = UnwantedBody()
    with contextlib.suppress(Exception):  # nothing in it matters
        while rule.more(await answer.body.aread1(rule.BLOCK)):
            pass
    await answer.aclose()


class _TokenSteps(BlockingSteps):
    """Token requests of an authenticator's *blocking* hooks (a custom bindable
    authenticator, or a built-in one called outside the asyncio API): sent with
    requests over a session of the same settings, never on the event loop's client."""

    def __init__(self, requester: AsyncRequester) -> None:
        self._requester = requester
        self._transport: Transport | None = None

    def perform(self, effect: Any) -> Any:
        if not isinstance(effect, TokenAttempt):
            return super().perform(effect)
        requester = self._requester
        if self._transport is None:
            self._transport = Transport(
                None, timeout=requester.timeout, verify=requester.verify,
                proxy=requester.transport.proxy, user_agent=requester.transport.user_agent,
                pool_size=1)
        call = effect.call
        headers, form = call.encoded()
        try:
            return self._transport.request(
                call.method, call.url, params=call.params, headers=headers,
                data=form, allow_redirects=call.allow_redirects)
        except (requests.RequestException, ValueError) as exc:  # (see requester.perform)
            raise transmit_error(exc) from None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class AsyncRequester(RegistryEndpoint):
    """Sends every request of one registry on the event loop: one pooled
    ``httpx.AsyncClient``, auth, retries, error mapping, stats -- as the blocking
    ``Requester`` does, with the same arguments (no ``session``: httpx has none).

    Arguments as for :class:`~registry_client.requester.Requester` (the same
    authenticator objects configure both; ``proxy`` None: HTTP(S)_PROXY / NO_PROXY),
    without ``session``, plus ``transport``: an httpx transport to send through
    (tests: ``httpx.MockTransport``).

    Raises:
        ValueError: ``protocol``, ``timeout`` or ``domain`` is not usable.
    """

    def __init__(
        self,
        domain: str,
        authenticator: Authenticator | None = None,
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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(domain, authenticator, protocol, timeout=timeout, retries=retries,
                         backoff=backoff, max_backoff=max_backoff, body_limit=body_limit)
        self.transport = AsyncTransport(self.base_url, timeout=timeout, verify=verify,
                                        proxy=proxy, user_agent=user_agent,
                                        pool_size=pool_size, transport=transport)
        self._steps = _Steps(self)
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = \
            weakref.WeakKeyDictionary()
        self._token_slots: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
        self._token_steps = _TokenSteps(self)
        self._bind_authenticator(TokenRequests(self, self._token_steps))
        self._warn_insecure(self.transport.verify)

    def __repr__(self) -> str:
        return f"AsyncRequester(domain={self.domain!r}, protocol={self.protocol!r})"

    @property
    def verify(self) -> bool | str:
        """TLS verification in use: True, False or a CA bundle path."""
        return self.transport.verify

    # -- the shell's part of the endpoint --------------------------------------------
    def _now(self) -> float:
        return time.monotonic()

    def prepare(self, method: str, url: str, *, params: Any, headers: Mapping[str, str] | None,
                data: Body | None) -> requests.PreparedRequest:
        """The request as the authenticators' hooks see it (a ``requests``
        ``PreparedRequest``: its URL, headers and ``Content-Length`` are what httpx
        sends, as the blocking API sends them). A file, blocks or a relay stay the body
        as they are, for the transport to stream."""
        relay = isinstance(data, Relay)
        try:
            if data is None:
                prepared = prepared_bodyless(method, url, params, dict(headers or {}))
            else:
                prepared = requests.Request(
                    method, url, params=params, headers=dict(headers or {}),
                    data=None if relay else data).prepare()
        except (requests.RequestException, ValueError) as exc:
            raise transmit_error(exc) from None
        if relay:
            # streamed as it arrives: its length is the caller's to say, never requests' 0
            if "Content-Length" not in requests.structures.CaseInsensitiveDict(headers or {}):
                prepared.headers.pop("Content-Length", None)
            prepared.body = data  # type: ignore[assignment]  # streamed by AsyncTransport
        return prepared

    def respond(self, answer: Any, body: bytes | None) -> Response:
        """The library's answer for ``answer``: with ``body``, or streamed when None."""
        assert isinstance(answer, AsyncAnswer)
        return answer.response(body)

    # -- sending ------------------------------------------------------------------------
    async def send_request(self, request: Request) -> Response:
        """Async form of :meth:`Requester.send_request
        <registry_client.requester.Requester.send_request>`: the same flow, the same
        answers and errors. A streamed answer's body is read with ``aread1`` (or a
        :class:`~registry_client._flow.Drain`) and closed with ``aclose``.

        At most ``pool_size`` requests whose answers are read whole are sent at once
        (the rest wait their turn), so 200 gathered ``manifests.get`` share a pool of
        connections instead of opening one each. A request takes its slot when it is
        first sent, not while it waits for its token, so tasks waiting for one scope's
        token hold up no other scope. Streamed answers (blobs) are not counted: their
        holder may send another request before it closes one, and a bound on them
        could wait forever."""
        if request.stream:
            return await arun(exchange(self, request), self._steps)
        slotted = _Slotted(self._steps, self._slot(self._slots))
        try:
            return await arun(exchange(self, request), slotted)
        finally:
            slotted.release()

    def _slot(self, table: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                    asyncio.Semaphore]) -> asyncio.Semaphore:
        """The running loop's bound of ``table`` (requests answered whole, or token
        requests): ``pool_size`` at once, one bound per loop (an asyncio primitive
        belongs to one event loop)."""
        loop = asyncio.get_running_loop()
        slots = table.get(loop)
        if slots is None:
            slots = table[loop] = asyncio.Semaphore(self.transport.pool_size)
        return slots

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self.transport.aclose()
        self._token_steps.close()

