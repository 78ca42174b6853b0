"""The blocking performers of the exchange vocabulary (:mod:`registry_client._exchange`).

:class:`BlockingSteps` performs the effects every blocking runner shares (a body read
or drained, a sleep, a sub-flow under a ``threading.Lock``); the Requester's shell adds
the registry's own requests, an authenticator's blocking hooks its bound transport.
:class:`TokenRequests` is the :class:`~registry_client._auth_protocol.TokenTransport`
a Requester binds its authenticator with: the token policy's retries
(``_exchange.token_request``) over the Requester's pooled session.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

import requests

from ._exchange import (
    Discard,
    ExchangeEndpoint,
    Exclusive,
    ReadBody,
    Sleep,
    TokenCall,
    token_request,
)
from ._flow import run, run_exclusive
from ._http import discard, read_capped
from ._retry import RetryPolicy

__all__ = ["BlockingSteps", "TokenRequests"]


class BlockingSteps:
    """Performs :class:`~registry_client._exchange.ReadBody`, ``Discard``, ``Sleep`` and
    ``Exclusive`` in the calling thread; a subclass adds the effects that send."""

    def perform(self, effect: Any) -> Any:
        """Do what ``effect`` asks (see :mod:`registry_client._exchange`)."""
        if isinstance(effect, ReadBody):
            return read_capped(effect.answer, effect.cap)
        if isinstance(effect, Discard):
            discard(effect.answer)
            return None
        if isinstance(effect, Sleep):
            self.sleep(effect.seconds)
            return None
        if isinstance(effect, Exclusive):
            return run_exclusive(effect, self)
        raise TypeError(f"{type(self).__name__} cannot perform {effect!r}")

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        time.sleep(seconds)


class _Performer(Protocol):
    def perform(self, effect: Any) -> Any: ...


class TokenRequests:
    """``transport(method, url, **kw)`` for token servers: the pooled session, retried as
    the registry's token policy says, connection failures and TLS errors typed.

    Args:
        endpoint: the registry whose token policy and words apply.
        shell: performs the flow's effects (its ``TokenAttempt`` sends on the session).
    """

    def __init__(self, endpoint: ExchangeEndpoint, shell: _Performer) -> None:
        self._endpoint = endpoint
        self._shell = shell

    @property
    def policy(self) -> RetryPolicy:
        """How token requests are retried."""
        return self._endpoint.token_policy

    def __call__(
        self, method: str, url: str, *,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None, data: Mapping[str, str] | None = None,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """Send a token-server request; the answer's body is left to read."""
        call = TokenCall(method, url, params=params, headers=headers, form=data,
                         allow_redirects=allow_redirects)
        answer: requests.Response = run(token_request(self._endpoint, call), self._shell)
        return answer
