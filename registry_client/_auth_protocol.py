"""The contract between the Requester and a credentials strategy: :class:`Authenticator`.

:class:`Authenticator` names the two hooks every strategy has,
:class:`BindableAuthenticator` the optional third, and :func:`get_scopes` the token
scopes each request carries to them. Everything here is exported by
:mod:`registry_client.auth` too, next to the strategies.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import requests

__all__ = [
    "SCOPES_ATTRIBUTE",
    "Authenticator",
    "BindableAuthenticator",
    "FlowAuthenticator",
    "TokenTransport",
    "copy_for_resend",
    "get_scopes",
    "held_secrets",
    "set_scopes",
]

class TokenTransport(Protocol):
    """How an authenticator sends its own requests (to a token server), given by ``bind``.

    It goes through the registry's session, proxy and TLS settings, retries as the
    token policy says, and raises ``RegistryError`` when the server cannot be reached.
    """

    def __call__(
        self, method: str, url: str, *,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None, data: Mapping[str, str] | None = None,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """Send ``method url`` and return the answer as a streamed ``requests.Response``
        (read it, then close it). ``data`` is a form body (an OAuth2 token POST)."""


def held_secrets(authenticator: object) -> tuple[str, ...]:
    """The secrets ``authenticator`` holds, as they may show up in text: its password,
    the base64 it is sent as, its tokens. An error message built from what a registry
    says masks them (a registry or gateway may quote a request's credentials back).

    The built-in strategies have a ``_held_secrets()`` method; any other authenticator
    holds none that the library knows of.
    """
    held = getattr(authenticator, "_held_secrets", None)
    return tuple(held()) if callable(held) else ()


SCOPES_ATTRIBUTE = "registry_scopes"
"""The attribute of a ``PreparedRequest`` holding its token scopes (a tuple of str).

Set by the Requester on every request it sends (:func:`set_scopes`); read it with
:func:`get_scopes`, which also answers for a request that has none. It is an
attribute of the request, not a header: nothing of it is sent.
"""


def set_scopes(request: requests.PreparedRequest, scopes: Iterable[str]) -> None:
    """Record the token scopes ``request``'s operation needs (the Requester does this)."""
    setattr(request, SCOPES_ATTRIBUTE, tuple(scopes))


def get_scopes(request: requests.PreparedRequest | None) -> tuple[str, ...]:
    """The token scopes the operation of ``request`` needs; empty when none were recorded.

    Scopes are Docker token-spec strings: ``"repository:team/app:pull"``,
    ``"repository:team/app:pull,push"``, ``"registry:catalog:*"``. A ping asks none.
    """
    value = getattr(request, SCOPES_ATTRIBUTE, ())
    return value if isinstance(value, tuple) else ()


def copy_for_resend(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """The copy of ``request`` the Requester sends again after ``handle_response``
    asked for it: the same request and scopes, without its ``Authorization`` header
    (``handle_request`` adds the fresh one). ``request`` itself is left as sent."""
    again = request.copy()
    again.headers.pop("Authorization", None)
    set_scopes(again, get_scopes(request))
    return again


@runtime_checkable
class Authenticator(Protocol):
    """A strategy that adds credentials to requests and reacts to 401 answers.

    Any object with these two methods is an authenticator; no base class is needed
    (``NullAuthenticator`` is the smallest example). For every request the Requester:

    1. prepares it and records the token scopes its operation needs in the
       request's ``registry_scopes`` attribute, which ``get_scopes(request)`` returns
       (``("repository:team/app:pull",)``; empty for a ping) -- in both hooks
       (``get_scopes(response.request)`` in ``handle_response``);
    2. calls ``handle_request(request)``: set headers (``Authorization``) here;
    3. sends it; when the registry (its own scheme, host and port: never a
       redirect target) answers 401, calls ``handle_response(response)``. True
       sends the request once more -- a copy without the ``Authorization`` header,
       same scopes, passed to ``handle_request`` again. False, or a 401 to the
       copy, ends the request with that 401 as its error (``AuthenticationError``;
       ``AuthorizationError`` for an ``insufficient_scope`` challenge).
       A ``RegistryError`` raised there (``TokenError``...) ends it with that error.

    The hooks do not send registry requests themselves. One authenticator serves every thread
    of a Registry, and may be shared by several: keep its state thread-safe.

    Optional hook -- ``bind(transport, *, trusted_http_host=None, registry=None)``
    (see :class:`BindableAuthenticator`): an authenticator that must make HTTP
    requests of its own (to fetch tokens) gets each Requester's transport, once,
    when that Requester is built with it.

    The asyncio API (``registry_client.aio``) takes the same objects. The built-in
    strategies also have the hooks as flows, ``request_flow(request)`` and
    ``response_flow(response)`` (see :class:`FlowAuthenticator`), whose token
    requests the event loop performs; any other authenticator has its plain hooks
    called there as they are (on a ``requests.PreparedRequest`` and a
    ``requests.Response`` built for them), so hooks that block would block the loop.
    """

    def handle_request(self, request: requests.PreparedRequest) -> None:
        """Add credentials to ``request`` before it is sent (``get_scopes(request)``
        says what the operation needs)."""

    def handle_response(self, response: requests.Response) -> bool:
        """Look at a 401 answer; return True when the request should be sent again."""


@runtime_checkable
class BindableAuthenticator(Authenticator, Protocol):
    """An :class:`Authenticator` with the optional ``bind`` hook (``TokenAuthenticator``)."""

    def bind(
        self, transport: TokenTransport, *, trusted_http_host: str | None = None,
        registry: str | None = None,
    ) -> None:
        """Take the transport to send the authenticator's own requests through.

        Called once by each Requester built with this authenticator. ``transport`` is
        a :data:`TokenTransport` using that Requester's session, proxy and TLS settings;
        ``registry`` is the registry it serves (``https://ghcr.io``, ``scheme://host[:port]``):
        keep one transport per registry when the authenticator is shared.
        ``trusted_http_host`` is the registry's host name when it was configured
        with plain HTTP (``protocol="http"``), else None: a token server on that host
        may get credentials over plain HTTP, for that registry only.
        """


class FlowAuthenticator(Protocol):
    """The hooks of an :class:`Authenticator` written as flows (no I/O of their own).

    A flow yields the effects of :mod:`registry_client._exchange` -- a token request
    is a ``TokenCall``, a single-flight fetch an ``Exclusive`` -- and gets their
    results back, so the blocking Requester and the asyncio shell both run it; the
    blocking hooks of the built-in strategies run these same flows. The exchange
    uses them when an authenticator has them, its plain hooks otherwise.
    """

    def request_flow(self, request: requests.PreparedRequest) -> Generator[Any, Any, None]:
        """``handle_request`` as a flow."""

    def response_flow(self, response: requests.Response) -> Generator[Any, Any, bool]:
        """``handle_response`` as a flow: True when the request should be sent again."""


# help() and error messages name the public module these are exported from.
for _public in (Authenticator, BindableAuthenticator, TokenTransport):
    _public.__module__ = "registry_client.auth"
