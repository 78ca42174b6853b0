"""Authentication strategies: the ``Authenticator`` protocol and its implementations.

The :class:`~registry_client.requester.Requester` owns the auth loop: before it
sends a request it calls ``handle_request`` (add credentials); on a 401 answer it
calls ``handle_response``, which returns True when the request should be sent
once more with fresh credentials. Strategies never send registry requests
themselves; one that needs HTTP of its own (the token strategy) implements the
optional ``bind`` hook and gets the Requester's transport (one connection pool).
See :class:`Authenticator` for the whole contract.

The built-in strategies also have their hooks as flows (``request_flow``,
``response_flow``: :class:`~registry_client._auth_protocol.FlowAuthenticator`), the
form the asyncio API runs; their blocking hooks run the same flows.

The contract lives in ``_auth_protocol.py``, the null and Basic strategies in
``_auth_basic.py``, the token strategy here; this module exports them all.
"""

from __future__ import annotations

import contextlib
import copy
import math
import re
import threading
import time
from collections.abc import Iterable
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urljoin, urlsplit

import requests

from ._auth_basic import (
    BasicAuthenticator,
    NullAuthenticator,
    basic_header,
    basic_secrets,
    host_of,
    require_username,
)
from ._auth_protocol import (
    SCOPES_ATTRIBUTE,
    Authenticator,
    BindableAuthenticator,
    TokenTransport,
    get_scopes,
    set_scopes,
)
from ._blocking import BlockingSteps
from ._challenge import Challenge, ChallengeParseError, parse_challenges
from ._exchange import (
    TOKEN_BODY_LIMIT,
    Exchange,
    Exclusive,
    LockTable,
    TokenAnswer,
    TokenCall,
    token_answer,
)
from ._flow import run
from ._forksafe import renew_after_fork
from ._http import connection_failure, failure_cause, said_in, same_origin
from ._json import loads
from ._redact import REDACTED, Redactor, redact_url
from ._response import Response, auth_scheme_sent
from ._retry import TOKEN_POLICY
from ._rfc3339 import parse_rfc3339
from ._text import is_utf8
from .errors import (
    AuthenticationError,
    AuthorizationError,
    RegistryError,
    RegistryUnavailableError,
    TokenError,
)

__all__ = [
    "SCOPES_ATTRIBUTE",
    "Authenticator",
    "BasicAuthenticator",
    "BindableAuthenticator",
    "NullAuthenticator",
    "TokenAuthenticator",
    "TokenTransport",
    "get_scopes",
    "set_scopes",
]


DEFAULT_EXPIRES_IN = 60

NO_CREDENTIALS_HINT = (
    "no credentials were given: pass authenticator=TokenAuthenticator(username, password) "
    "or use Registry.from_docker_config(domain)"
)
"""Added to the error of an anonymous request the registry refused (401/403)."""

BEARER_HINT = (
    "the registry asks for a Bearer token, which BasicAuthenticator does not fetch: "
    "use TokenAuthenticator(username, password) (it answers Basic challenges too)"
)
"""Added to the error of a BasicAuthenticator request refused with a Bearer challenge."""


REFUSAL_REUSE = 1.0
"""Seconds a token server's refusal of the credentials answers further requests for the
same token without asking again (the workers of one burst get one failed login)."""


class _Token(NamedTuple):
    """A token and when it stops being used (monotonic seconds)."""

    value: str
    expires_at: float


class _Learnt(NamedTuple):
    """What a 401 says to fetch: its challenge, the scopes, the registry host, and the
    token it refused (None: none was sent)."""

    challenge: Challenge
    scopes: tuple[str, ...]
    host: str
    stale: str | None


def _scope_key(scopes: Iterable[str]) -> str:
    return " ".join(sorted(set(s for s in scopes if s)))


class TokenAuthenticator:
    """Docker token auth (Bearer challenges), with Basic as a fallback.

    With no credentials it fetches anonymous tokens, as ``docker pull`` does.
    Tokens are cached per (realm, service, scope) until ``expires_in`` (default
    60 s) runs out, shared by every thread. Once a registry's challenge is
    known, tokens are fetched before the request, so there is no challenge
    round trip per operation. A refused cached token is replaced once.
    """

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        refresh_token: str | None = None,
    ) -> None:
        """Raises ValueError for a ``password`` without a ``username``."""
        require_username(username, password)
        self.username = username
        self._password = password
        self._refresh: dict[tuple[str, str], str] = {}
        # (realm, service) of token servers that take no OAuth2 POST: asked with GET only
        self._get_only: set[tuple[str, str]] = set()
        self._initial_refresh = refresh_token
        self._challenges: dict[str, Challenge] = {}
        self._basic_hosts: set[str] = set()
        # scopes a registry asked for beyond what an operation named: (host, key) -> scopes
        self._widened: dict[tuple[str, str], tuple[str, ...]] = {}
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._key_locks = LockTable()  # one token fetch per key at a time
        # per key: how many fetches have ended, and the last failure (its end number,
        # when it came, the error)
        self._ended: dict[tuple[str, str, str], int] = {}
        self._failures: dict[tuple[str, str, str], tuple[int, float, RegistryError]] = {}
        self._lock = threading.Lock()
        renew_after_fork(self)
        self._transport: TokenTransport | None = None
        self._transports: dict[str, TokenTransport] = {}  # registry -> its transport
        # registry (scheme://host:port) -> its host name, for registries configured with
        # plain HTTP: a realm on that host may get the credentials over HTTP too
        self._trusted_http: dict[str, str] = {}
        self.token_requests = 0
        # why it has no credentials when it was meant to have some (docker's stored
        # ones could not be read: a credential helper failed): the refusal says so
        self._no_credentials_why: str | None = None

    def _no_credentials_hint(self) -> str:
        """What a refusal of its anonymous request adds: what to pass, or why the stored
        credentials it was made for are missing."""
        why = self._no_credentials_why
        return (NO_CREDENTIALS_HINT if why is None
                else f"no credentials were sent, docker's stored ones could not be read: {why}")

    def renew_locks(self) -> None:
        """In a child just forked: its lock anew (a parent's thread may have held it;
        the token fetches' lock table renews itself)."""
        self._lock = threading.Lock()

    def _held_secrets(self) -> tuple[str, ...]:
        """The password, the base64 it is sent as, the refresh tokens and the tokens
        cached now (see ``held_secrets``)."""
        held: list[str] = []
        if self.username is not None and self._password is not None:
            held.extend(basic_secrets(basic_header(self.username, self._password)))
        with self._lock:
            held.extend(self._refresh.values())
            held.extend(token.value for token in self._tokens.values())
        if self._initial_refresh:
            held.append(self._initial_refresh)
        return tuple(held)

    def __repr__(self) -> str:
        secret = REDACTED if self._password or self._initial_refresh else None
        return f"TokenAuthenticator(username={self.username!r}, password={secret!r})"

    # -- wiring -------------------------------------------------------------------------
    def bind(
        self, transport: TokenTransport, *, trusted_http_host: str | None = None,
        registry: str | None = None,
    ) -> None:
        """Use ``transport`` to reach token servers (the Requester's pooled session).

        ``registry`` (``scheme://host[:port]``) ties the transport to the registry it
        serves: one authenticator shared by several ``Registry`` objects fetches each
        registry's tokens through that registry's own session, proxy and TLS settings.
        ``trusted_http_host`` is the registry's own host name when it was
        configured with plain HTTP: a realm on that host may receive the
        credentials over HTTP too -- for that registry's tokens only (a shared
        authenticator does not lend the trust to its other registries).
        """
        self._transport = transport
        if registry:
            with self._lock:
                self._transports[registry.lower()] = transport
        if trusted_http_host and registry:
            with self._lock:
                self._trusted_http[registry.lower()] = trusted_http_host.lower()

    @property
    def has_credentials(self) -> bool:
        """True when a username/password or refresh token was given."""
        return bool(self._password is not None or self._initial_refresh)

    # -- hooks --------------------------------------------------------------------------
    def handle_request(self, request: requests.PreparedRequest) -> None:
        """Add a Bearer token (fetched or cached) when the host's challenge is known."""
        run(self.request_flow(request), _HookSteps(self, host_of(request.url)))

    def handle_response(self, response: requests.Response) -> bool:
        """On a 401 challenge, learn it and ask for one re-send with a fresh token.

        Raises:
            TokenError: the challenge is malformed, has no realm or an unknown scheme.
            AuthenticationError: the token server refused the credentials.
        """
        req = response.request
        registry = host_of(response.url or (req.url if req else ""))
        again: bool = run(self.response_flow(response), _HookSteps(self, registry))
        return again

    # -- the hooks as flows -----------------------------------------------------------
    def request_flow(self, request: requests.PreparedRequest) -> Exchange[None]:
        """:meth:`handle_request` as a flow (see :mod:`registry_client._exchange`): a
        token request is a ``TokenCall``, one fetch per token at a time an ``Exclusive``.
        The hook of a non-blocking shell."""
        host = host_of(request.url)
        with self._lock:
            challenge = self._challenges.get(host)
            basic = host in self._basic_hosts
        if challenge is not None:
            scopes = get_scopes(request) or tuple(
                s for s in (challenge.scope or "").split(" ") if s
            )
            with self._lock:
                scopes = self._widened.get((host, _scope_key(scopes)), scopes)
            token = yield from self._token_for(challenge, scopes, stale=None, registry=host)
            request.headers["Authorization"] = f"Bearer {token}"
        elif basic and self.username is not None and self._password is not None:
            request.headers["Authorization"] = basic_header(self.username, self._password)

    def response_flow(self, response: requests.Response) -> Exchange[bool]:
        """:meth:`handle_response` as a flow (see :meth:`request_flow`)."""
        learnt = self._learnt(response)
        if isinstance(learnt, bool):
            return learnt
        yield from self._token_for(learnt.challenge, learnt.scopes, stale=learnt.stale,
                                   registry=learnt.host)
        return True

    def learn_challenge(self, response: requests.Response) -> None:
        """Learn the registry's challenge from ``response`` (its first 401) without
        answering it: requests sent from now on fetch their tokens up front. The
        registry's first request is the only one sent until then; this lets the others
        go while its own token is fetched. A challenge it cannot use is left for
        :meth:`response_flow` to refuse."""
        with contextlib.suppress(TokenError):
            self._learnt(response)

    def _learnt(self, response: requests.Response) -> _Learnt | bool:
        """The Bearer challenge of ``response`` (a 401) and the token it asks for,
        recorded for its host (the challenge, and scopes it adds to the request's) -- or,
        with none to answer by a token, :meth:`response_flow`'s answer (True: send again
        with Basic, which is recorded for the host).

        Raises:
            TokenError: a challenge that is malformed, or no Bearer or Basic one.
        """
        if response.status_code != 401:
            return False
        header = response.headers.get("WWW-Authenticate")
        req = response.request
        if not header:
            return False
        # quoted in errors as the registry's other words are: its echo of our
        # credentials masked (a gateway may repeat the request's Authorization)
        shown = repr(Redactor(self._held_secrets())(header))
        try:
            challenges = parse_challenges(header)
        except ChallengeParseError as exc:
            raise TokenError(f"malformed WWW-Authenticate header {shown}: {exc}") from None
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        host = host_of(response.url or (req.url if req else ""))
        if response.history and host_of(response.history[0].url) != host:
            return False  # a redirect target's challenge never gets our credentials
        sent = (req.headers.get("Authorization") or "") if req is not None else ""
        if bearer is None:
            if any(c.scheme == "basic" for c in challenges):
                if self.username is None or self._password is None or sent.startswith("Basic"):
                    return False
                with self._lock:
                    self._basic_hosts.add(host)
                return True
            raise TokenError(f"unsupported auth challenge {shown} (want Bearer or Basic)")
        if not bearer.realm:
            raise TokenError(f"Bearer challenge without realm: {shown}")
        try:
            realm_parts = urlsplit(bearer.realm)
            realm_parts.port  # noqa: B018 -- a port out of range raises here, not later
        except ValueError:  # "http://[::1": not a URL
            raise TokenError(f"Bearer challenge with an unusable realm: {shown}") from None
        if realm_parts.scheme not in ("http", "https") or not realm_parts.netloc:
            raise TokenError(f"Bearer challenge with an unusable realm: {shown}")
        with self._lock:
            self._challenges[host] = bearer
        asked = get_scopes(req)
        scopes = set(asked)
        if asked:  # the scopes this request's token was cached under (request_flow's)
            with self._lock:
                scopes.update(self._widened.get((host, _scope_key(asked)), ()))
        if bearer.scope:
            scopes.update(s for s in bearer.scope.split(" ") if s)
        if asked and scopes != set(asked):
            with self._lock:
                self._widened[(host, _scope_key(asked))] = tuple(sorted(scopes))
        stale = sent[7:] if sent.startswith("Bearer ") else None
        return _Learnt(bearer, tuple(scopes), host, stale)

    # -- tokens -------------------------------------------------------------------------
    def _token_for(
        self, challenge: Challenge, scopes: Iterable[str], stale: str | None,
        registry: str = "",
    ) -> Exchange[str]:
        realm = challenge.realm or ""
        service = challenge.service or ""
        key = (realm, service, _scope_key(scopes))
        with self._lock:
            seen = self._ended.get(key, 0)
        # one fetch per token at a time: those who wait find it cached (or refused)
        token: str = yield Exclusive(self._key_locks, key,
                                     self._cached_or_fetched(key, stale, registry, seen))
        return token

    def _cached_or_fetched(
        self, key: tuple[str, str, str], stale: str | None, registry: str, seen: int,
    ) -> Exchange[str]:
        realm, service, scope = key
        with self._lock:
            cached = self._tokens.get(key)
            failure = self._failures.get(key)
        now = time.monotonic()
        if failure is not None and (failure[0] > seen or (
                isinstance(failure[2], AuthenticationError | AuthorizationError)
                and now - failure[1] < REFUSAL_REUSE)):
            # The fetch this request waited for failed: the same answer, not one more
            # try per worker -- a token server may lock an account out after a burst of
            # failed logins, and one that is down has just had its retries. A refusal
            # also answers those asking a moment later.
            raise _own_copy(failure[2])
        if cached is not None and cached.expires_at > now and cached.value != stale:
            return cached.value
        try:
            token = yield from self._fetch(realm, service, scope.split(" ") if scope else [],
                                           registry)
        except (AuthenticationError, AuthorizationError, RegistryUnavailableError) as exc:
            with self._lock:
                ended = self._ended[key] = self._ended.get(key, 0) + 1
                # a copy: the error raised is reworded on its way up (with_context), and
                # the calls it answers next are others, named in their own words
                self._failures[key] = (ended, time.monotonic(), _own_copy(exc))
            raise
        with self._lock:
            self._ended[key] = self._ended.get(key, 0) + 1
            self._failures.pop(key, None)
            self._tokens[key] = token
        return token.value

    def _credentials_allowed(self, realm: str, registry: str) -> bool:
        parts = urlsplit(realm)
        if parts.scheme == "https":
            return True
        with self._lock:
            trusted = self._trusted_http.get(registry.lower())
        return trusted is not None and (parts.hostname or "").lower() == trusted

    def _fetch(
        self, realm: str, service: str, scopes: list[str], registry: str = "",
    ) -> Exchange[_Token]:
        headers: dict[str, str] = {}
        refresh = self._refresh.get((realm, service)) or self._initial_refresh
        use_creds = self.has_credentials
        if use_creds and not self._credentials_allowed(realm, registry):
            raise TokenError(
                f"refusing to send credentials to token realm {realm} over plain HTTP "
                "(use https, or a realm on the registry's own host with protocol='http')"
            )
        if refresh:
            resp = yield from self._post_refresh(realm, service, scopes, refresh)
            server_issued = refresh != self._initial_refresh
            # oauth.md: a token server answering the POST 404 (or 405) takes GET only --
            # one that hands out refresh tokens unasked, too: they are not used again.
            # Not for an identity the caller gave as a refresh token: a GET cannot carry
            # it, and an anonymous one would stand in for it silently.
            no_post = (resp.status_code in (404, 405) and server_issued
                       and self._initial_refresh is None)
            if no_post or (resp.status_code in (400, 401) and server_issued
                           and use_creds and self._password is not None):
                # The refresh token the server handed out was refused (revoked or
                # expired) or cannot be used: forget it, ask again with GET.
                with self._lock:
                    self._refresh.pop((realm, service), None)
                    if no_post:
                        self._get_only.add((realm, service))
            else:
                return self._parse_token_response(resp, realm, service,
                                                  what="the refresh token of")
        params: list[tuple[str, str]] = []
        if service:
            params.append(("service", service))
        params.extend(("scope", s) for s in scopes)
        if use_creds and self.username is not None and self._password is not None:
            headers["Authorization"] = basic_header(self.username, self._password)
            if is_utf8(self.username):
                # (bytes that are no UTF-8, from a docker config, go in the Basic header
                # only: a query holds text; ``account`` is optional)
                params.append(("account", self.username))
        with self._lock:
            self.token_requests += 1
        answer: TokenAnswer = yield TokenCall("GET", realm, params=params, headers=headers)
        return self._parse_token_response(answer, realm, service)

    def _post_refresh(
        self, realm: str, service: str, scopes: list[str], refresh: str,
    ) -> Exchange[TokenAnswer]:
        """POST the refresh-token grant; redirects are followed only on the realm's origin.

        The token is in the body, which requests would re-send to any host on a
        307/308: a redirect to another scheme, host or port is refused instead.
        """
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "service": service,
            "client_id": "registry-client",
            "scope": " ".join(scopes),
        }
        url = realm
        for _ in range(_MAX_TOKEN_REDIRECTS + 1):
            with self._lock:
                self.token_requests += 1
            resp: TokenAnswer = yield TokenCall("POST", url, headers={}, form=form,
                                                allow_redirects=False)
            location = resp.headers.get("Location") if resp.is_redirect else None
            if not location:
                return resp
            target = urljoin(url, location)
            if not same_origin(target, realm):
                raise TokenError(
                    f"token server {realm} redirected a refresh-token request to another "
                    "host: not followed (the token would go with it)"
                )
            url = target
        raise TokenError(f"token server {realm}: too many redirects")

    def _parse_token_response(
        self, resp: TokenAnswer, realm: str, service: str,
        what: str = "the credentials of",
    ) -> _Token:
        if resp.status_code != 200:
            raise self._refusal(resp, realm, what)
        body = resp.body
        if body is None or len(body) > TOKEN_BODY_LIMIT:
            raise TokenError(f"token server {realm} sent an oversized or unreadable answer")
        doc: Any = _MALFORMED
        with contextlib.suppress(ValueError):
            doc = loads(body)
        if doc is _MALFORMED:  # (raised here, not in the handler: the decoder's error,
            # which would be its context, holds the whole answer -- maybe credentials)
            raise TokenError(f"token server {realm} sent malformed JSON")
        if not isinstance(doc, dict):
            raise TokenError(f"token server {realm} sent JSON that is not an object")
        value = doc.get("token") or doc.get("access_token")
        if not isinstance(value, str) or not _TOKEN_RE.fullmatch(value):
            raise TokenError(f"token server {realm} sent no usable token")
        expires_in = max(_seconds(doc.get("expires_in")), 1.0)
        margin = min(5.0, expires_in / 10)
        # token.md: the lifetime counts from issued_at when the answer has it (a caching
        # token server hands out tokens issued earlier); a token about to expire still
        # serves the request that asked for it, re-sent after its challenge
        left = max(expires_in - _age(doc.get("issued_at"), expires_in) - margin,
                   min(1.0, expires_in - margin))
        refresh = doc.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            with self._lock:
                if (realm, service) not in self._get_only:
                    self._refresh[(realm, service)] = refresh
        return _Token(value, time.monotonic() + left)

    def _refusal(self, resp: TokenAnswer, realm: str, what: str) -> RegistryError:
        """The error for a token server's answer other than 200, quoting what it says
        (the credentials held masked in it)."""
        status = resp.status_code
        said, errors = said_in(resp.headers, resp.body or b"", Redactor(self._held_secrets()))
        words = f": {said}" if said else ""
        if status in (401, 403) and not self.has_credentials:
            cls = AuthenticationError if status == 401 else AuthorizationError
            return cls(
                f"token server {realm} refused an anonymous token ({status}{words}) -- "
                f"{self._no_credentials_hint()}",
                status_code=status, errors=errors,
            )
        if status == 401 or (status == 400 and what != "the credentials of"):
            return AuthenticationError(
                f"token server {realm} refused {what} "
                f"{self.username or 'anonymous'} ({status}{words})",
                status_code=status, errors=errors,
            )
        if status == 403:
            return AuthorizationError(
                f"token server {realm} denied access (403{words})", status_code=403,
                errors=errors,
            )
        if status in TOKEN_POLICY.statuses:  # still, after the transport's retries
            return RegistryUnavailableError(
                f"token server {realm} kept failing ({status}{words})", status_code=status,
                errors=errors,
            )
        return TokenError(f"token server {realm} answered {status}{words}",
                          status_code=status, errors=errors)


class _HookSteps(BlockingSteps):
    """Runs a TokenAuthenticator's flows for its blocking hooks: a ``TokenCall`` goes
    through the transport bound for ``registry``, the rest as every blocking runner."""

    def __init__(self, auth: TokenAuthenticator, registry: str) -> None:
        self._auth = auth
        self._registry = registry

    def perform(self, effect: Any) -> Any:
        """Do what ``effect`` asks (see :mod:`registry_client._exchange`)."""
        if not isinstance(effect, TokenCall):
            return super().perform(effect)
        auth = self._auth
        with auth._lock:
            transport = auth._transports.get(self._registry) or auth._transport
        transport = transport or _default_transport()
        kw: dict[str, Any] = {}
        if effect.params is not None:
            kw["params"] = effect.params
        if effect.headers is not None:
            kw["headers"] = effect.headers
        if effect.form is not None:
            kw["data"] = effect.form
        if not effect.allow_redirects:
            kw["allow_redirects"] = False
        answer = transport(effect.method, effect.url, **kw)
        return run(token_answer(answer), self)


def refusal_hint(authenticator: object, response: requests.Response | Response) -> str | None:
    """What to change when ``authenticator``'s request was refused with ``response``.

    A registry that asks for Basic again after it was sent a username and
    password refused them: the hint names the user (never the password), as a
    token server's refusal does. None when there is nothing to add (the status
    is not 401/403, or a 403 to credentials that were sent).
    """
    if response.status_code not in (401, 403):
        return None
    if isinstance(authenticator, NullAuthenticator):
        return NO_CREDENTIALS_HINT
    if isinstance(authenticator, TokenAuthenticator) and not authenticator.has_credentials:
        return authenticator._no_credentials_hint()
    if isinstance(authenticator, BasicAuthenticator | TokenAuthenticator) \
            and response.status_code == 401:
        try:
            schemes = {c.scheme for c in parse_challenges(
                response.headers.get("WWW-Authenticate", ""))}
        except ChallengeParseError:
            return None
        if isinstance(authenticator, BasicAuthenticator) \
                and "bearer" in schemes and "basic" not in schemes:
            return BEARER_HINT
        sent = auth_scheme_sent(response)
        if "basic" in schemes and sent == "basic" and authenticator.username:
            return f"the registry refused the credentials of {authenticator.username}"
    return None


_MAX_TOKEN_REDIRECTS = 5
_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,65536}")
"""A token goes into an ``Authorization: Bearer`` header: visible ASCII, no spaces."""


_E = TypeVar("_E", bound=BaseException)


def _own_copy(exc: _E) -> _E:
    """A copy of ``exc`` with attributes of its own, reworded without touching ``exc``
    (``with_context``): ``copy.copy`` of an exception may share its ``__dict__`` --
    tblib's pickling support, which dask's distributed installs on import for every
    exception class, makes it so."""
    twin = copy.copy(exc)
    twin.__dict__ = dict(exc.__dict__)
    return twin


_MALFORMED = object()
"""What a token server's answer is when it is no JSON (``null`` is JSON)."""


def _seconds(value: object) -> float:
    """``expires_in`` as finite seconds; the default lifetime when it is missing or absurd."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float(DEFAULT_EXPIRES_IN)
    try:
        seconds = float(value)
    except OverflowError:
        return float(DEFAULT_EXPIRES_IN)
    return seconds if math.isfinite(seconds) else float(DEFAULT_EXPIRES_IN)


def _age(issued_at: object, expires_in: float) -> float:
    """Seconds since a token answer's ``issued_at``; 0 when it is absent or no RFC 3339
    time, and when the clocks disagree: ahead of this machine's (a skew never lengthens
    ``expires_in``), or before the token's whole lifetime (no server issues a token
    already expired: its clock is behind, and honouring it would fetch a token per
    request)."""
    when = parse_rfc3339(issued_at) if isinstance(issued_at, str) else None
    age = 0.0 if when is None else time.time() - when.timestamp()
    return age if 0.0 < age < expires_in else 0.0


def _default_transport() -> TokenTransport:
    session = requests.Session()

    def send(method: str, url: str, **kw: Any) -> requests.Response:
        try:
            return session.request(method, url, timeout=(5, 30), stream=True, **kw)
        except requests.RequestException as exc:
            raise RegistryError(f"token request to {redact_url(url)} failed: "
                                f"{connection_failure(exc)[1]}") from failure_cause(exc)
        except ValueError:  # urlparse's, for a redirect to a URL it cannot read
            raise RegistryError(f"token request to {redact_url(url)} failed: an unusable "
                                "URL") from None

    return send
