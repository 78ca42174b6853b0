"""The Requester: the one funnel every registry request goes through.

:meth:`Requester.send_request` (and its keyword form :meth:`Requester.send`) adds
credentials, answers 401s (at most one re-send), retries as the
:class:`~registry_client._retry.RetryPolicy` says, turns unexpected answers into
typed errors and keeps the stats. The HTTP session underneath is the
:class:`~registry_client._transport.Transport`'s; services get the library's own
:class:`~registry_client._response.Response`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from . import _http
from ._auth_protocol import Authenticator, BindableAuthenticator
from ._authloop import AuthLoop, TokenRequests
from ._http import (
    DEFAULT_BODY_LIMIT,
    connection_failure,
    discard,
    failure_cause,
    raise_for_status,
    read_capped,
    retry_after,
)
from ._log import log
from ._redact import hide_userinfo, redact_url
from ._request import Body, Replay, Request
from ._response import Response
from ._retry import CHUNK_POLICY, REGISTRY_POLICY, TOKEN_POLICY, RetryPolicy
from ._transport import HTTPS_PORT_HINT, TLS_HINT, Transport, is_url_error, tls_reason, to_response
from .auth import TokenAuthenticator, refusal_hint
from .errors import (
    RegistryError,
    RegistryResponseError,
    RegistrySSLError,
    RegistryUnavailableError,
)
from .ratelimit import RateLimit
from .reference import DEFAULT_DOMAIN, DOCKER_HUB_API_HOST, canonical_domain, is_valid_domain

__all__ = ["HTTPS_PORT_HINT", "TIMEOUT_HINT", "TLS_HINT", "Requester", "Response", "api_host",
           "tls_reason"]


# A gateway's 502/504 says the registry's own answer never came back: it may have acted.
_MAYBE_DONE_STATUSES = frozenset({502, 504})
# Failures before a byte of the request left: the registry cannot have acted on it.
_NOT_SENT = frozenset({"refused", "dns", "connect", "connect-timeout", "proxy"})

TIMEOUT_HINT = _http.TIMEOUT_HINT
"""The advice a timeout's message ends with (the CLI swaps in its flag)."""


_WARNED: set[tuple[str, str]] = set()
_WARNED_LOCK = threading.Lock()


def _warn_once(domain: str, what: str) -> None:
    """Log ``what`` about ``domain`` once per process: a program making a Registry per
    request (or per thread) would otherwise repeat it for every one."""
    key = (domain.lower(), what)
    with _WARNED_LOCK:
        if key in _WARNED:
            return
        _WARNED.add(key)
    log.warning("registry %s: %s", domain, what, extra={"setup_notice": True})


def api_host(domain: str) -> str:
    """The host that serves the API for ``domain`` (``docker.io`` -> ``registry-1.docker.io``)."""
    return DOCKER_HUB_API_HOST if canonical_domain(domain) == DEFAULT_DOMAIN else domain


class Requester:
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
        if protocol not in ("http", "https"):
            raise ValueError(f"protocol must be 'http' or 'https', not {protocol!r}")
        parts = timeout if isinstance(timeout, tuple) else (timeout,)
        if not 1 <= len(parts) <= 2 or not all(
                isinstance(t, int | float) and not isinstance(t, bool) and t > 0 for t in parts):
            raise ValueError(f"timeout must be seconds > 0, or (connect, read) seconds > 0, "
                             f"not {timeout!r}")
        if not is_valid_domain(domain):
            raise ValueError(
                f"registry domain {hide_userinfo(domain)[:100]!r} is not host[:port]: give "
                "e.g. 'ghcr.io' or "
                "'localhost:5000' (no scheme, no path; protocol='http' for plain HTTP)"
            )
        self.domain = domain
        self.protocol = protocol
        self.host = api_host(domain)
        self.base_url = f"{protocol}://{self.host}"
        self.authenticator: Authenticator = (
            authenticator if authenticator is not None else TokenAuthenticator()
        )
        self.transport = Transport(session, timeout=timeout, verify=verify, proxy=proxy,
                                   user_agent=user_agent, pool_size=pool_size)
        self.policy: RetryPolicy = REGISTRY_POLICY.tuned(
            retries=retries, backoff=backoff, max_backoff=max_backoff)
        """How registry requests are retried (``retries``, ``backoff``, ``max_backoff``)."""
        self.token_policy: RetryPolicy = TOKEN_POLICY.tuned(
            retries=retries, backoff=backoff, max_backoff=max_backoff)
        """How token requests are retried: as registry requests, and on 500 too."""
        self.chunk_policy: RetryPolicy = CHUNK_POLICY.tuned(
            retries=retries, backoff=backoff, max_backoff=max_backoff)
        """How a blob upload's chunk PATCHes are retried (after asking where it stands)."""
        self.body_limit = body_limit
        self.capabilities: dict[str, bool] = {}
        self._paused_until = 0.0
        self._pause_lock = threading.Lock()
        self._auth = AuthLoop(self.authenticator, self.transport, same_origin=self.same_origin,
                              before_send=self._wait_for_budget)
        if isinstance(self.authenticator, BindableAuthenticator):  # the optional hook
            self.authenticator.bind(
                TokenRequests(self.transport, self.token_policy, self.back_off),
                registry=self.base_url,
                trusted_http_host=urlsplit(self.base_url).hostname if protocol == "http" else None)
        if protocol == "http" or self.transport.verify is False:
            _warn_once(domain, "plain HTTP, traffic is not encrypted" if protocol == "http"
                       else "TLS certificate verification is disabled")

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

    @property
    def timeout(self) -> float | tuple[float, float]:
        """The ``(connect, read)`` seconds of every request (or one number for both)."""
        return self.transport.timeout

    @property
    def retries(self) -> int:
        """Retries after the first attempt of a request that may repeat."""
        return self.policy.retries

    @property
    def backoff(self) -> float:
        """The first backoff wait, in seconds (doubling with each retry)."""
        return self.policy.backoff

    @property
    def max_backoff(self) -> float:
        """The longest wait between retries, ``Retry-After`` included."""
        return self.policy.max_backoff

    # -- stats ------------------------------------------------------------------------
    @property
    def stats(self) -> dict[str, Any]:
        """Counters for your monitoring: requests (total and by method), bytes sent/received."""
        return self.transport.stats

    def count_received(self, n: int) -> None:
        """Add ``n`` bytes to the received counter (used by streaming readers)."""
        self.transport.count_received(n)

    def count_sent(self, n: int) -> None:
        """Add ``n`` bytes to the sent counter (used by streaming uploads)."""
        self.transport.count_sent(n)

    @property
    def rate_limit(self) -> RateLimit | None:
        """The rate limit the registry last reported (Docker Hub headers), or None."""
        return self.transport.rate_limit

    # -- urls ---------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """The absolute URL of an API path (``"library/alpine/tags/list"`` -> ``.../v2/...``)."""
        return f"{self.base_url}/v2/{path.lstrip('/')}"

    def resolve(self, location: str, base: str | None = None) -> str:
        """Resolve a ``Location`` or ``Link`` target (relative or absolute) against the API.

        Raises:
            RegistryResponseError: the target is not a usable URL (``http://[::1``,
                a port out of range).
        """
        try:
            url = urljoin(base or self.base_url + "/v2/", location)
            urlsplit(url).port  # noqa: B018 -- a port out of range raises here, not later
        except ValueError as exc:
            raise RegistryResponseError(
                f"the registry sent an unusable URL {location[:100]!r} ({exc})") from None
        return url

    def same_origin(self, url: str) -> bool:
        """True when ``url`` has the registry's own scheme, host and port."""
        try:
            a, b = urlsplit(url), urlsplit(self.base_url)
            a.port  # noqa: B018 -- may raise
        except ValueError:
            return False
        return (a.scheme, a.hostname, a.port or _default_port(a.scheme)) == (
            b.scheme, b.hostname, b.port or _default_port(b.scheme)
        )

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
            AuthenticationError, AuthorizationError, NotFoundError, RegistryUnavailableError,
            RegistrySSLError, RegistryResponseError: the answer was not expected.
        """
        method = request.verb
        url = request.target if "://" in request.target else self.url(request.target)
        ok = request.expected
        context = request.operation or f"{method.lower()} on {self.domain}"
        can_retry = request.may_repeat
        policy = self.policy
        replay = Replay(request)
        maybe_done = False  # an earlier attempt may have been acted on, its answer lost
        attempt = 0
        while True:
            try:
                resp = self._auth.send(request, url, replay)
            except requests.exceptions.SSLError as exc:
                raise RegistrySSLError(
                    f"{context}: TLS error talking to {self.host}: {tls_reason(exc)}",
                    method=method, url=redact_url(url),
                ) from failure_cause(exc)
            except RegistryError as exc:
                # raised on the way (token server, CA bundle): say which operation it stopped
                if exc.method is None:
                    exc.with_context(f"{context}: {exc.message}", method=method,
                                     url=redact_url(url))
                raise
            except (requests.ConnectionError, requests.Timeout) as exc:
                kind, words = connection_failure(exc)
                if kind not in _NOT_SENT:
                    maybe_done = True
                if can_retry and request.retry_connection_errors \
                        and policy.should_retry(attempt):
                    log.debug("%s %s: %s", method, redact_url(url), words)
                    self.back_off(attempt, None)
                    attempt += 1
                    continue
                raise RegistryUnavailableError(
                    f"{context}: {method} {redact_url(url)} failed after {attempt + 1} "
                    f"attempt(s): {self.transport.explain(kind, words, url, request.timeout)}",
                    method=method, url=redact_url(url),
                ) from failure_cause(exc)
            except requests.RequestException as exc:
                kind, words = connection_failure(exc)
                raise RegistryUnavailableError(
                    f"{context}: {method} {redact_url(url)} failed: "
                    f"{self.transport.explain(kind, words, url, request.timeout)}",
                    method=method, url=redact_url(url),
                ) from failure_cause(exc)
            except ValueError as exc:
                # requests parsing a URL the registry sent (a redirect's Location):
                # "Invalid IPv6 URL", "Port out of range". Anything else (a caller's
                # progress callback raising while the body is sent) is not ours to wrap.
                if not is_url_error(exc):
                    raise
                raise RegistryResponseError(
                    f"{context}: {method} {redact_url(url)}: could not use the registry's "
                    f"answer ({exc})", method=method, url=redact_url(url),
                ) from None
            status = resp.status_code
            if status == 404 and maybe_done and request.gone_is_done and 404 not in ok:
                # The registry did it on an attempt whose answer was lost: done, not "not
                # found" (a retried DELETE would otherwise report its own success as failure).
                discard(resp)
                log.info("%s %s: 404 after an attempt whose answer was lost: taken as done",
                         method, redact_url(url))
                return to_response(resp, b"")
            if status in ok:
                if method == "HEAD":
                    discard(resp)
                    return to_response(resp, b"")
                if request.stream:
                    return to_response(resp, None)
                try:
                    body = read_capped(resp, self.body_limit)
                except RegistryUnavailableError as exc:
                    # the connection broke while reading the body: same as any
                    # connection error, so an idempotent request is sent again
                    maybe_done = True
                    if can_retry and policy.should_retry(attempt):
                        self.back_off(attempt, None)
                        attempt += 1
                        continue
                    exc.with_context(f"{context}: {method} {redact_url(url)} failed after "
                                     f"{attempt + 1} attempt(s): {exc.message}", method=method)
                    raise
                except RegistryResponseError as exc:  # over the body cap, or short
                    exc.with_context(f"{context}: {method} {redact_url(url)}: {exc.message}",
                                     method=method)
                    raise
                self.count_received(len(body))
                return to_response(resp, body)
            if status in _MAYBE_DONE_STATUSES:
                maybe_done = True
            if can_retry and policy.should_retry(attempt, status):
                wait = retry_after(resp, policy.max_backoff)
                discard(resp)
                self.back_off(attempt, wait, shared=status == 429)
                attempt += 1
                continue
            try:
                raise_for_status(resp, context=context, method=method,
                                 hint=refusal_hint(self.authenticator, resp))
            except RegistryError as exc:
                if request.retry_if is None or not can_retry \
                        or not policy.should_retry(attempt) or not request.retry_if(exc):
                    raise
                # a transient failure the caller knows (the registry may have acted)
                maybe_done = True
                self.back_off(attempt, exc.retry_after)
                attempt += 1
                continue

    def back_off(self, attempt: int, wait: float | None, *, shared: bool = False,
                 policy: RetryPolicy | None = None) -> None:
        """Sleep before retry number ``attempt + 1`` as ``policy`` (default: :attr:`policy`)
        says: ``wait`` (a Retry-After) when given, else backoff with jitter. With ``shared``
        (a 429) every request to this registry waits until then too."""
        wait = (policy or self.policy).delay(attempt, wait)
        if shared:
            # A 429 is about this host, not this request: every worker waits it out
            # together instead of each discovering the limit on its own.
            with self._pause_lock:
                self._paused_until = max(self._paused_until, time.monotonic() + wait)
        log.debug("retrying in %.2fs (attempt %d)", wait, attempt + 1)
        time.sleep(wait)

    def _wait_for_budget(self) -> None:
        with self._pause_lock:
            delay = self._paused_until - time.monotonic()
        if delay > 0:
            time.sleep(min(delay, self.max_backoff))

    def close(self) -> None:
        """Close the session's pooled connections (when the Requester created the session)."""
        self.transport.close()


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
