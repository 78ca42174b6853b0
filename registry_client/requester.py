"""The Requester: one pooled session, URL building, the auth loop, retries and stats.

Every request of a :class:`~registry_client.Registry` goes through
:meth:`Requester.send`, the single funnel where credentials are added, 401s are
answered (at most one re-send), idempotent requests are retried with backoff,
and unexpected answers become typed errors.
"""

from __future__ import annotations

import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters

from . import _http
from ._auth_protocol import Authenticator, BindableAuthenticator, copy_for_resend, set_scopes
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
from .auth import TokenAuthenticator, refusal_hint
from .errors import (
    AuthenticationError,
    RegistryError,
    RegistryResponseError,
    RegistrySSLError,
    RegistryUnavailableError,
)
from .ratelimit import RateLimit, parse_rate_limit
from .reference import is_valid_domain

__all__ = ["Requester", "api_host"]


_RETRY_STATUSES = frozenset({429, 502, 503, 504})
# A gateway's 502/504 says the registry's own answer never came back: it may have acted.
_MAYBE_DONE_STATUSES = frozenset({502, 504})
# Failures before a byte of the request left: the registry cannot have acted on it.
_NOT_SENT = frozenset({"refused", "dns", "connect", "connect-timeout", "proxy"})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_DEFAULT_UA = "registry-client/0.1 (+python-requests)"


TLS_HINT = ("verify= names a CA bundle to trust, verify=False skips the check; "
            "protocol='http' is for a plain-HTTP registry")
"""The advice a TLS failure's message ends with (the CLI swaps in its flags)."""

TIMEOUT_HINT = _http.TIMEOUT_HINT
"""The advice a timeout's message ends with (the CLI swaps in its flag)."""

HTTPS_PORT_HINT = "is it an HTTPS port? use protocol='https'"
"""The advice when a plain-HTTP request gets no answer (the CLI swaps in its words)."""


class _Adapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter whose connections send request bodies in 1 MiB writes (not 16 KiB)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blocksize", 1 << 20)
        super().init_poolmanager(*args, **kwargs)


_URL_ERRORS = ("Invalid IPv6 URL", "Port out of range", "Port could not be cast",
               "does not appear to be an IPv4 or IPv6 address")


def _is_url_error(exc: ValueError) -> bool:
    """True for the ValueErrors urllib.parse / ipaddress raise for a URL they can't read."""
    return type(exc) is ValueError and any(m in str(exc) for m in _URL_ERRORS)


def tls_reason(exc: BaseException) -> str:
    """What went wrong in a TLS handshake, in words, with the hint that fits it."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen or not isinstance(e, BaseException):
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError):
            why = e.verify_message or e.reason or "certificate verify failed"
            return f"certificate not trusted ({why}); {TLS_HINT}"
        if isinstance(e, ssl.SSLError):
            why = str(e.reason or e)
            if e.reason in ("WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST"):
                return f"{why}: is it a plain-HTTP registry? use protocol='http'"
            return f"{why}; {TLS_HINT}"
        todo.extend(a for a in e.args if isinstance(a, BaseException))
        todo.extend(x for x in (e.__cause__, e.__context__, getattr(e, "reason", None))
                    if x is not None)
    return TLS_HINT


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
    if domain in ("docker.io", "index.docker.io"):
        return "registry-1.docker.io"
    return domain


def _rewind(data: Any) -> Any:
    """Return a replayable position marker for a body, or None when it cannot be replayed."""
    if data is None or isinstance(data, bytes | bytearray | str):
        return 0
    tell = getattr(data, "tell", None)
    seekable = getattr(data, "seekable", None)
    if callable(tell) and callable(seekable) and seekable():
        return tell()
    return None


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
        self._own_session = session is None
        self.session = session if session is not None else requests.Session()
        if self._own_session:
            adapter = _Adapter(pool_connections=4, pool_maxsize=pool_size)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
        # Sent with each request, not set on the session: a session the caller handed
        # in keeps its own headers (and its own User-Agent unless ``user_agent`` is given).
        keeps_own = self.session.headers.get("User-Agent") not in (
            None, requests.utils.default_user_agent())
        self._user_agent = user_agent or (None if keeps_own else _DEFAULT_UA)
        self.timeout = timeout
        if session is not None and verify is True and session.verify is not True and isinstance(
                session.verify, bool | str | os.PathLike):
            verify = session.verify  # a caller's session keeps its own TLS setting
        self.verify = os.fspath(verify) if isinstance(verify, os.PathLike) else verify
        self.proxies = {"http": proxy, "https": proxy} if proxy else {}
        self._env_settings: dict[tuple[str, str], tuple[dict[str, str], bool | str]] = {}
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.body_limit = body_limit
        self.capabilities: dict[str, bool] = {}
        self._paused_until = 0.0
        self._primed = False
        self._answered = False  # a registry's answer came back (the plain-HTTP hint needs none)
        self._prime_lock = threading.Lock()
        self._rate_limit: RateLimit | None = None
        self._stats_lock = threading.Lock()
        self._stats: dict[str, Any] = {
            "requests": 0, "by_method": {}, "bytes_sent": 0, "bytes_received": 0,
        }
        if isinstance(self.authenticator, BindableAuthenticator):  # the optional hook
            self.authenticator.bind(
                self._token_transport, registry=self.base_url,
                trusted_http_host=urlsplit(self.base_url).hostname if protocol == "http" else None)
        if protocol == "http" or verify is False:
            _warn_once(domain, "plain HTTP, traffic is not encrypted" if protocol == "http"
                       else "TLS certificate verification is disabled")

    def __repr__(self) -> str:
        return f"Requester(domain={self.domain!r}, protocol={self.protocol!r})"

    # -- stats --------------------------------------------------------------------------
    @property
    def stats(self) -> dict[str, Any]:
        """Counters for your monitoring: requests (total and by method), bytes sent/received."""
        with self._stats_lock:
            return {**self._stats, "by_method": dict(self._stats["by_method"])}

    def count_received(self, n: int) -> None:
        """Add ``n`` bytes to the received counter (used by streaming readers)."""
        with self._stats_lock:
            self._stats["bytes_received"] += n

    def count_sent(self, n: int) -> None:
        """Add ``n`` bytes to the sent counter (used by streaming uploads)."""
        with self._stats_lock:
            self._stats["bytes_sent"] += n

    def _count_request(self, method: str, sent: int) -> None:
        with self._stats_lock:
            self._stats["requests"] += 1
            by = self._stats["by_method"]
            by[method] = by.get(method, 0) + 1
            self._stats["bytes_sent"] += sent

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
        data: bytes | IO[bytes] | Iterable[bytes] | None = None,
        stream: bool = False,
        allow_redirects: bool = True,
        idempotent: bool | None = None,
        timeout: float | tuple[float, float] | None = None,
        retry_connection_errors: bool = True,
        done_if_gone: bool | None = None,
        retry_if: Callable[[RegistryError], bool] | None = None,
    ) -> requests.Response:
        """Send one API request and return the answer when its status is in ``expected``.

        ``path_or_url`` is an API path (``"repo/manifests/tag"``) or an absolute
        URL on the registry (a ``Location``). Credentials are added by the
        authenticator; a 401 is answered by at most one re-send; idempotent
        requests are retried on connection errors, timeouts, 429, 502, 503, 504
        (``retry_connection_errors=False``: only on the statuses, for a caller
        that must recover from a cut itself, as a blob upload does), and on any
        error answer ``retry_if`` accepts.

        ``done_if_gone`` (default: True for DELETE): a 404 to a retry, after an
        attempt the registry may have acted on without its answer arriving (the
        connection broke or timed out once the request was sent, a gateway's 502/504,
        an answer ``retry_if`` accepted), means what was asked is done: that 404
        answer is returned instead of raising NotFoundError.

        Raises:
            AuthenticationError, AuthorizationError, NotFoundError, RegistryUnavailableError,
            RegistrySSLError, RegistryResponseError: the answer was not expected.
        """
        method = method.upper()
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        ok = set(expected)
        context = context or f"{method.lower()} on {self.domain}"
        can_retry = (method in _IDEMPOTENT) if idempotent is None else idempotent
        start_pos = _rewind(data)
        if start_pos is None:
            can_retry = False
        scopes = tuple(scopes)
        if done_if_gone is None:
            done_if_gone = method == "DELETE"
        maybe_done = False  # an earlier attempt may have been acted on, its answer lost
        attempt = 0
        while True:
            if attempt and start_pos is not None and hasattr(data, "seek"):
                data.seek(start_pos)  # type: ignore[union-attr]
            try:
                resp = self._send_with_auth(
                    method, url, scopes=scopes, params=params, headers=headers, data=data,
                    stream=stream, allow_redirects=allow_redirects, timeout=timeout,
                    replayable=start_pos is not None,
                )
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
                if can_retry and retry_connection_errors and attempt < self.retries:
                    log.debug("%s %s: %s", method, redact_url(url), words)
                    self.back_off(attempt, None)
                    attempt += 1
                    continue
                raise RegistryUnavailableError(
                    f"{context}: {method} {redact_url(url)} failed after {attempt + 1} "
                    f"attempt(s): {self._explain(kind, words, url, timeout)}",
                    method=method, url=redact_url(url),
                ) from failure_cause(exc)
            except requests.RequestException as exc:
                kind, words = connection_failure(exc)
                raise RegistryUnavailableError(
                    f"{context}: {method} {redact_url(url)} failed: "
                    f"{self._explain(kind, words, url, timeout)}",
                    method=method, url=redact_url(url),
                ) from failure_cause(exc)
            except ValueError as exc:
                # requests parsing a URL the registry sent (a redirect's Location):
                # "Invalid IPv6 URL", "Port out of range". Anything else (a caller's
                # progress callback raising while the body is sent) is not ours to wrap.
                if not _is_url_error(exc):
                    raise
                raise RegistryResponseError(
                    f"{context}: {method} {redact_url(url)}: could not use the registry's "
                    f"answer ({exc})", method=method, url=redact_url(url),
                ) from None
            if resp.status_code == 404 and maybe_done and done_if_gone and 404 not in ok:
                # The registry did it on an attempt whose answer was lost: done, not "not
                # found" (a retried DELETE would otherwise report its own success as failure).
                discard(resp)
                log.info("%s %s: 404 after an attempt whose answer was lost: taken as done",
                         method, redact_url(url))
                resp._content = b""
                return resp
            if resp.status_code in ok:
                if method == "HEAD":
                    discard(resp)
                    resp._content = b""
                elif not stream:
                    try:
                        resp._content = read_capped(resp, self.body_limit)
                    except RegistryUnavailableError as exc:
                        # the connection broke while reading the body: same as any
                        # connection error, so an idempotent request is sent again
                        maybe_done = True
                        if can_retry and attempt < self.retries:
                            self.back_off(attempt, None)
                            attempt += 1
                            continue
                        exc.with_context(f"{context}: {method} {redact_url(url)} failed after "
                                         f"{attempt + 1} attempt(s): {exc.message}",
                                         method=method)
                        raise
                    except RegistryResponseError as exc:  # over the body cap, or short
                        exc.with_context(f"{context}: {method} {redact_url(url)}: {exc.message}",
                                         method=method)
                        raise
                    self.count_received(len(resp._content))
                return resp
            if resp.status_code in _MAYBE_DONE_STATUSES:
                maybe_done = True
            if resp.status_code in _RETRY_STATUSES and can_retry and attempt < self.retries:
                wait = retry_after(resp, self.max_backoff)
                discard(resp)
                self.back_off(attempt, wait, shared=resp.status_code == 429)
                attempt += 1
                continue
            try:
                raise_for_status(resp, context=context, method=method,
                                 hint=refusal_hint(self.authenticator, resp))
            except RegistryError as exc:
                if retry_if is None or not can_retry or attempt >= self.retries \
                        or not retry_if(exc):
                    raise
                # a transient failure the caller knows (the registry may have acted)
                maybe_done = True
                self.back_off(attempt, exc.retry_after)
                attempt += 1
                continue

    def _explain(self, kind: str, words: str, url: str,
                 timeout: float | tuple[float, float] | None) -> str:
        """A connection failure in words, with the advice that fits it."""
        parts = urlsplit(url)
        where = parts.netloc.rsplit("@", 1)[-1]
        limits = timeout if timeout is not None else self.timeout
        connect, read = limits if isinstance(limits, tuple) else (limits, limits)
        if kind == "refused":
            return f"{words} (is a registry listening on {where}?)"
        if kind == "dns":
            return f"{parts.hostname}: {words}"
        if kind == "connect-timeout":
            return f"{words} (no connection to {where} within {connect:g} s; {TIMEOUT_HINT})"
        if kind == "read-timeout":
            return f"{words} (no answer within {read:g} s; {TIMEOUT_HINT})"
        if kind in ("closed", "reset") and parts.scheme == "http" and not self._answered:
            return f"{words} ({HTTPS_PORT_HINT})"
        return words

    def back_off(self, attempt: int, wait: float | None, *, shared: bool = False) -> None:
        """Sleep before retry number ``attempt + 1``: ``wait`` (a Retry-After) when given,
        else exponential backoff with jitter, never more than ``max_backoff``. With
        ``shared`` (a 429) every request to this registry waits until then too."""
        if wait is not None:
            wait = min(wait, self.max_backoff)
        if wait is None:
            wait = min(self.max_backoff, self.backoff * (2**attempt))
            wait = wait / 2 + random.uniform(0, wait / 2)
        if shared:
            # A 429 is about this host, not this request: every worker waits it out
            # together instead of each discovering the limit on its own.
            with self._stats_lock:
                self._paused_until = max(self._paused_until, time.monotonic() + wait)
        log.debug("retrying in %.2fs (attempt %d)", wait, attempt + 1)
        time.sleep(wait)

    def _wait_for_budget(self) -> None:
        with self._stats_lock:
            delay = self._paused_until - time.monotonic()
        if delay > 0:
            time.sleep(min(delay, self.max_backoff))

    @property
    def rate_limit(self) -> RateLimit | None:
        """The rate limit the registry last reported (Docker Hub headers), or None."""
        with self._stats_lock:
            return self._rate_limit

    def _send_with_auth(self, method: str, url: str, **kw: Any) -> requests.Response:
        """Send with credentials; the very first request to the registry goes alone.

        Until one answer has come back nobody knows the registry's auth challenge, so
        parallel workers would each be refused with a 401 and fetch a token of their
        own. The first request is sent while the others wait; once it is answered the
        challenge is known and everyone asks for tokens up front.
        """
        if not self._primed:
            with self._prime_lock:
                if not self._primed:
                    try:
                        return self._send_once_with_auth(method, url, **kw)
                    finally:
                        self._primed = True
        return self._send_once_with_auth(method, url, **kw)

    def _send_once_with_auth(
        self, method: str, url: str, *, scopes: tuple[str, ...], replayable: bool,
        params: Any, headers: Any, data: Any, stream: bool, allow_redirects: bool,
        timeout: Any,
    ) -> requests.Response:
        merged = dict(headers or {})
        if self._user_agent is not None:
            merged.setdefault("User-Agent", self._user_agent)
        req = requests.Request(method, url, params=params, headers=merged, data=data)
        prepared = self.session.prepare_request(req)
        set_scopes(prepared, scopes)
        start = _rewind(data)
        for round_ in range(2):
            self.authenticator.handle_request(prepared)
            resp = self._transmit(prepared, stream, allow_redirects, timeout)
            if resp.status_code != 401 or round_ == 1:
                return resp
            if not self.same_origin(resp.url or url):
                # A 401 from a redirect target (a storage host) or a foreign Location is
                # never answered with our credentials.
                return resp
            if not self.authenticator.handle_response(resp):
                return resp
            if not replayable:
                resp.close()
                raise AuthenticationError(
                    f"{method} {redact_url(url)}: the registry asked to authenticate in the "
                    "middle of a streamed body that cannot be sent again",
                    status_code=401, method=method, url=redact_url(url),
                )
            discard(resp)
            if start is not None and hasattr(data, "seek"):
                data.seek(start)
            prepared = copy_for_resend(prepared)
        raise AssertionError("unreachable")  # pragma: no cover

    def _transmit(
        self, prepared: requests.PreparedRequest, stream: bool, allow_redirects: bool,
        timeout: Any,
    ) -> requests.Response:
        self._wait_for_budget()
        t0 = time.monotonic()
        body = prepared.body
        sent = len(body) if isinstance(body, bytes | str) else 0
        proxies, verify = self._settings_for(prepared.url or "")
        resp = self.session.send(
            prepared,
            stream=True,
            timeout=timeout if timeout is not None else self.timeout,
            verify=verify,
            proxies=proxies,
            allow_redirects=allow_redirects,
        )
        if resp.status_code != 400 or resp.headers:
            # Go's TLS port answers a plain-HTTP GET with a bare 400 (not one header) and
            # hangs up on other methods: that 400 keeps the HTTPS-port hint alive.
            self._answered = True
        self._count_request(prepared.method or "", sent)
        for hop in resp.history:
            self._count_request(hop.request.method or "", 0)
        if "ratelimit-limit" in resp.headers:
            limit = parse_rate_limit(resp.headers)
            if limit is not None:
                with self._stats_lock:
                    self._rate_limit = limit
        log.debug(
            "%s %s -> %s in %.3fs (sent %d bytes, length %s)",
            prepared.method, redact_url(prepared.url), resp.status_code,
            time.monotonic() - t0, sent, resp.headers.get("Content-Length", "?"),
        )
        return resp

    def _settings_for(self, url: str) -> tuple[dict[str, str], bool | str]:
        """Proxies and TLS verification for ``url``, as ``requests.request`` would use them.

        ``proxy=`` and ``verify=`` win; otherwise, when the session trusts the
        environment (requests' default), HTTP(S)_PROXY / NO_PROXY and
        REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE apply, exactly as for a plain
        ``requests.get``. Worked out once per scheme and host.
        """
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._env_settings.get(key)
        if found is None:
            merged = self.session.merge_environment_settings(
                url, dict(self.proxies), True, self.verify, None)
            verify = merged["verify"]
            if isinstance(verify, os.PathLike):
                verify = os.fspath(verify)
            found = (dict(merged["proxies"]), True if verify is None else verify)
            if parts.scheme == "https" and isinstance(verify, str) and not os.path.exists(verify):
                # requests would raise a bare OSError for this, deep inside the send
                raise RegistrySSLError(
                    f"the CA bundle {verify!r} for {parts.netloc} does not exist "
                    "(from verify= or REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE)"
                )
            self._env_settings[key] = found
        return found

    def _token_transport(self, method: str, url: str, **kw: Any) -> requests.Response:
        """Send a token-server request through the pooled session, with retries on 5xx."""
        attempt = 0
        kw.setdefault("allow_redirects", True)
        if self._user_agent is not None:
            kw["headers"] = {"User-Agent": self._user_agent, **(kw.get("headers") or {})}
        self._settings_for(url)  # a CA bundle that does not exist is a typed error
        while True:
            try:
                resp = self.session.request(
                    method, url, timeout=self.timeout, verify=self.verify,
                    proxies=self.proxies, stream=True, **kw,
                )
                self._count_request(method, 0)
            except requests.exceptions.SSLError as exc:
                raise RegistrySSLError(
                    f"TLS error talking to token server {redact_url(url)}: {tls_reason(exc)}"
                ) from failure_cause(exc)
            except requests.RequestException as exc:
                kind, words = connection_failure(exc)
                if attempt < self.retries:
                    self.back_off(attempt, None)
                    attempt += 1
                    continue
                explained = self._explain(kind, words, url, None).replace(
                    "is a registry listening", "is the token server listening")
                raise RegistryUnavailableError(
                    f"token server {redact_url(url)} unreachable after {attempt + 1} "
                    f"attempt(s): {explained}"
                ) from failure_cause(exc)
            if resp.status_code in (429, 500, 502, 503, 504) and attempt < self.retries:
                wait = retry_after(resp, self.max_backoff)
                discard(resp)
                self.back_off(attempt, wait)
                attempt += 1
                continue
            return resp

    def close(self) -> None:
        """Close the session's pooled connections (when the Requester created the session)."""
        if self._own_session:
            self.session.close()


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80

