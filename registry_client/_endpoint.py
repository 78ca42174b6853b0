"""What a registry's requester is, without its I/O: :class:`RegistryEndpoint`.

The blocking :class:`~registry_client.requester.Requester` and the asyncio one build on
it: options checked once (with the same messages), the registry's identity and URLs,
its retry policies, what it learnt (capabilities, that it answers, a 429's pause, the
rate limit it reported), the stats, and the lock table of the exchange flow
(:mod:`registry_client._exchange`). A subclass adds the HTTP client: ``prepare``,
``respond`` and its clock.
"""

from __future__ import annotations

import abc
import re
import threading
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from ._auth_protocol import Authenticator, BindableAuthenticator, TokenTransport
from ._exchange import LockTable, Timeout
from ._forksafe import renew_after_fork
from ._http import DEFAULT_BODY_LIMIT, explain_failure, registry_warnings, same_origin
from ._log import log
from ._redact import hide_userinfo
from ._request import Body
from ._response import Response
from ._retry import CHUNK_POLICY, REGISTRY_POLICY, TOKEN_POLICY, RetryPolicy
from .auth import TokenAuthenticator, refusal_hint
from .errors import RegistryResponseError
from .ratelimit import RateLimit, parse_rate_limit
from .reference import DEFAULT_DOMAIN, DOCKER_HUB_API_HOST, canonical_domain, is_valid_domain
from .reference._grammar import port_out_of_range

__all__ = ["WARNINGS_KEPT", "RegistryEndpoint", "api_host", "check_timeout"]

WARNINGS_KEPT = 64
"""The most distinct warnings of one registry reported (and remembered, to say each
once)."""

_WARNED: set[tuple[str, str]] = set()
_WARNED_LOCK = threading.Lock()


def _warn_once(domain: str, what: str) -> bool:
    """Log ``what`` about ``domain`` once per process: a program making a Registry per
    request (or per thread) would otherwise repeat it for every one. True the first
    time."""
    key = (domain.lower(), what)
    with _WARNED_LOCK:
        if key in _WARNED:
            return False
        _WARNED.add(key)
    log.warning("registry %s: %s", domain, what, extra={"setup_notice": True})
    return True


def _quiet_unverified(host: str) -> None:
    """Filter urllib3's InsecureRequestWarning for ``host``, which the caller asked not to
    verify: urllib3 warns once per request (printed on stderr where nobody configured
    warnings), and the library never prints -- the log said it once instead. For the
    adapters of a session the caller handed in: the library's own never warn
    (``_transport._HTTPSPool``), whatever the caller's filters become."""
    warnings.filterwarnings(
        "ignore", category=urllib3.exceptions.InsecureRequestWarning,
        message=f"Unverified HTTPS request is being made to host '{re.escape(host)}'")


def api_host(domain: str) -> str:
    """The host that serves the API for ``domain`` (``docker.io`` -> ``registry-1.docker.io``)."""
    return DOCKER_HUB_API_HOST if canonical_domain(domain.lower()) == DEFAULT_DOMAIN else domain


def check_timeout(timeout: object) -> None:
    """Raise ValueError unless ``timeout`` is seconds > 0 or ``(connect, read)`` seconds."""
    parts = timeout if isinstance(timeout, tuple) else (timeout,)
    if not 1 <= len(parts) <= 2 or not all(
            isinstance(t, int | float) and not isinstance(t, bool) and t > 0 for t in parts):
        raise ValueError(f"timeout must be seconds > 0, or (connect, read) seconds > 0, "
                         f"not {timeout!r}")


class RegistryEndpoint(abc.ABC):
    """One registry as its requester sees it, I/O aside (see the module docstring).

    Satisfies :class:`~registry_client._flow.Endpoint` and
    :class:`~registry_client._exchange.ExchangeEndpoint`. Arguments as for
    :class:`~registry_client.requester.Requester`.

    Raises:
        ValueError: ``protocol``, ``timeout`` or ``domain`` is not usable.
    """

    def __init__(
        self,
        domain: str,
        authenticator: Authenticator | None,
        protocol: str,
        *,
        timeout: Timeout,
        retries: int,
        backoff: float,
        max_backoff: float,
        body_limit: int = DEFAULT_BODY_LIMIT,
    ) -> None:
        if protocol not in ("http", "https"):
            raise ValueError(f"protocol must be 'http' or 'https', not {protocol!r}")
        check_timeout(timeout)
        if not is_valid_domain(domain):
            raise ValueError(
                f"registry domain {hide_userinfo(domain)[:100]!r} is not host[:port]: give "
                "e.g. 'ghcr.io' or "
                "'localhost:5000' (no scheme, no path; protocol='http' for plain HTTP)"
            )
        port = port_out_of_range(domain)
        if port is not None:
            raise ValueError(f"registry domain {domain[:100]!r}: port {port} is out of "
                             "range (1-65535)")
        self.domain = domain
        self.protocol = protocol
        self.host = api_host(domain)
        self.base_url = f"{protocol}://{self.host}"
        self.authenticator: Authenticator = (
            authenticator if authenticator is not None else TokenAuthenticator()
        )
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
        self.primed = False
        """An answer came back: the auth challenge is known (the first request goes alone)."""
        self.locks = LockTable()
        """The exchange flow's locks (the first request)."""
        self.answered = False
        """The registry answered once (a plain-HTTP request to an HTTPS port never is)."""
        self._timeout = timeout
        self._paused_until = 0.0
        self._pause_lock = threading.Lock()
        self._rate_limit: RateLimit | None = None
        self._stats_lock = threading.Lock()
        self._warned: set[str] = set()
        self._stats: dict[str, Any] = {
            "requests": 0, "by_method": {}, "bytes_sent": 0, "bytes_received": 0,
        }
        renew_after_fork(self)

    def renew_locks(self) -> None:
        """In a child just forked: its locks anew (a parent's thread may have held one;
        the exchange's lock table renews itself)."""
        self._pause_lock = threading.Lock()
        self._stats_lock = threading.Lock()

    def _bind_authenticator(self, transport: TokenTransport) -> None:
        """Hand an authenticator with the optional ``bind`` hook the token transport."""
        if isinstance(self.authenticator, BindableAuthenticator):
            self.authenticator.bind(
                transport, registry=self.base_url,
                trusted_http_host=urlsplit(self.base_url).hostname
                if self.protocol == "http" else None)

    def _warn_insecure(self, verify: bool | str) -> None:
        """Log (once per process and registry) that traffic is not protected."""
        if self.protocol == "http":
            _warn_once(self.domain, "plain HTTP, traffic is not encrypted")
        elif verify is False:
            _warn_once(self.domain, "TLS certificate verification is disabled")
            _quiet_unverified(urlsplit(self.base_url).hostname or "")  # (each time: idempotent)

    # -- options ------------------------------------------------------------------------
    @property
    def timeout(self) -> Timeout:
        """The ``(connect, read)`` seconds of every request (or one number for both)."""
        return self._timeout

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
        return same_origin(url, self.base_url)

    # -- stats ----------------------------------------------------------------------------
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

    def count_request(self, method: str, sent: int = 0) -> None:
        """Count one request sent (``sent`` bytes of body known up front)."""
        with self._stats_lock:
            self._stats["requests"] += 1
            by = self._stats["by_method"]
            by[method] = by.get(method, 0) + 1
            self._stats["bytes_sent"] += sent

    @property
    def rate_limit(self) -> RateLimit | None:
        """The rate limit the registry last reported (Docker Hub headers), or None."""
        with self._stats_lock:
            return self._rate_limit

    def note_answer(self, prepared: requests.PreparedRequest, answer: Any) -> None:
        """Record what an answer to ``prepared`` says: the request (and the redirects on
        its way) counted, that the registry answers, the rate limit it reported."""
        body = prepared.body
        self.count_request(prepared.method or "", len(body) if isinstance(body, bytes | str)
                           else 0)
        for hop in answer.history:
            self.count_request(hop.request.method or "")
        if answer.status_code != 400 or answer.headers:
            # Go's TLS port answers a plain-HTTP GET with a bare 400 (not one header) and
            # hangs up on other methods: that 400 keeps the HTTPS-port hint alive.
            self.answered = True
        if "ratelimit-limit" in answer.headers:
            limit = parse_rate_limit(answer.headers)
            if limit is not None:
                with self._stats_lock:
                    self._rate_limit = limit
        if "warning" in answer.headers:
            self._report_warnings(answer.headers["warning"])

    def _report_warnings(self, value: str) -> None:
        """Log each registry warning (distribution spec, "Warnings": reported to the
        user unobtrusively, repeats once, no action taken) the first time this registry
        sends it; after :data:`WARNINGS_KEPT` distinct ones, no more."""
        for text in registry_warnings(value):
            with self._stats_lock:
                if text in self._warned or len(self._warned) >= WARNINGS_KEPT:
                    continue
                self._warned.add(text)
            log.warning("%s: the registry warns: %s", self.domain, text)

    # -- what the exchange flow asks --------------------------------------------------
    def explain(self, kind: str, words: str, url: str, timeout: Timeout | None) -> str:
        """A connection failure of a request to ``url`` in words, with the advice."""
        return explain_failure(kind, words, url, timeout if timeout is not None else self.timeout,
                               answered=self.answered)

    def refusal_hint(self, answer: Any) -> str | None:
        """What to change when the registry refused this requester's credentials."""
        return refusal_hint(self.authenticator, answer)

    def pause_all(self, seconds: float) -> None:
        """Make every request to this registry wait ``seconds`` from now (after a 429)."""
        with self._pause_lock:
            self._paused_until = max(self._paused_until, self._now() + seconds)

    def paused_for(self) -> float:
        """Seconds left of the pause after a 429 (0 when none)."""
        with self._pause_lock:
            return max(0.0, self._paused_until - self._now())

    # -- the shell's part ---------------------------------------------------------------
    @abc.abstractmethod
    def _now(self) -> float:
        """The shell's monotonic clock, in seconds."""

    @abc.abstractmethod
    def prepare(self, method: str, url: str, *, params: Any, headers: Mapping[str, str] | None,
                data: Body | None) -> requests.PreparedRequest:
        """The request ready to send: session defaults and the User-Agent merged in."""

    @abc.abstractmethod
    def respond(self, answer: Any, body: bytes | None) -> Response:
        """The library's answer for ``answer``: with ``body``, or streamed when None."""
