"""Credentials on the wire: the auth loop of registry requests, and token requests' transport.

:class:`AuthLoop` adds the authenticator's credentials to each registry request,
answers a 401 with at most one re-send, and sends the very first request alone.
:class:`TokenRequests` is what an authenticator's token requests go through: the
same pooled session, retried as :data:`~registry_client._retry.TOKEN_POLICY` says.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import requests

from ._auth_protocol import Authenticator, copy_for_resend, set_scopes
from ._http import connection_failure, discard, failure_cause, retry_after
from ._redact import redact_url
from ._request import Replay, Request
from ._retry import RetryPolicy
from ._transport import Transport, tls_reason
from .errors import AuthenticationError, RegistrySSLError, RegistryUnavailableError

__all__ = ["AuthLoop", "TokenRequests"]

BackOff = Callable[..., None]
"""``back_off(attempt, retry_after, policy=...)``: the Requester's wait before a retry."""


class AuthLoop:
    """Sends registry requests with credentials, answering a 401 by one re-send.

    Args:
        authenticator: adds credentials and reads challenges.
        transport: sends the prepared requests.
        same_origin: True for a URL on the registry itself (a 401 from anywhere else,
            a storage host, is never answered with the registry's credentials).
        before_send: called before every send (the Requester's pause after a 429).
    """

    def __init__(self, authenticator: Authenticator, transport: Transport, *,
                 same_origin: Callable[[str], bool], before_send: Callable[[], None]) -> None:
        self.authenticator = authenticator
        self._transport = transport
        self._same_origin = same_origin
        self._before_send = before_send
        self._primed = False
        self._prime_lock = threading.Lock()

    def send(self, request: Request, url: str, replay: Replay) -> requests.Response:
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
                        return self._send(request, url, replay)
                    finally:
                        self._primed = True
        return self._send(request, url, replay)

    def _send(self, request: Request, url: str, replay: Replay) -> requests.Response:
        method = request.verb
        prepared = self._transport.prepare(method, url, params=request.params,
                                           headers=request.headers, data=replay.body())
        set_scopes(prepared, request.scopes)
        for round_ in range(2):
            self.authenticator.handle_request(prepared)
            self._before_send()
            resp = self._transport.send(prepared, allow_redirects=request.allow_redirects,
                                        timeout=request.timeout)
            if resp.status_code != 401 or round_ == 1:
                return resp
            if not self._same_origin(resp.url or url):
                # A 401 from a redirect target (a storage host) or a foreign Location is
                # never answered with our credentials.
                return resp
            if not self.authenticator.handle_response(resp):
                return resp
            if not request.replayable:
                resp.close()
                raise AuthenticationError(
                    f"{method} {redact_url(url)}: the registry asked to authenticate in the "
                    "middle of a streamed body that cannot be sent again",
                    status_code=401, method=method, url=redact_url(url),
                )
            discard(resp)
            body = replay.body()
            prepared = copy_for_resend(prepared)
            if request.body_factory is not None:
                prepared.prepare_body(body, None)
        raise AssertionError("unreachable")  # pragma: no cover


class TokenRequests:
    """``transport(method, url, **kw)`` for token servers: the pooled session, retried as
    ``policy`` says, connection failures and TLS errors typed."""

    def __init__(self, transport: Transport, policy: RetryPolicy, back_off: BackOff) -> None:
        self._transport = transport
        self.policy = policy
        self._back_off = back_off

    def __call__(self, method: str, url: str, **kw: Any) -> requests.Response:
        """Send a token-server request; the answer's body is left to read."""
        attempt = 0
        policy = self.policy
        kw.setdefault("allow_redirects", True)
        while True:
            try:
                resp = self._transport.request(method, url, **kw)
            except requests.exceptions.SSLError as exc:
                raise RegistrySSLError(
                    f"TLS error talking to token server {redact_url(url)}: {tls_reason(exc)}"
                ) from failure_cause(exc)
            except requests.RequestException as exc:
                kind, words = connection_failure(exc)
                if policy.should_retry(attempt):
                    self._back_off(attempt, None, policy=policy)
                    attempt += 1
                    continue
                explained = self._transport.explain(kind, words, url, None).replace(
                    "is a registry listening", "is the token server listening")
                raise RegistryUnavailableError(
                    f"token server {redact_url(url)} unreachable after {attempt + 1} "
                    f"attempt(s): {explained}"
                ) from failure_cause(exc)
            if policy.should_retry(attempt, resp.status_code):
                wait = retry_after(resp, policy.max_backoff)
                discard(resp)
                self._back_off(attempt, wait, policy=policy)
                attempt += 1
                continue
            return resp
