"""The two simple strategies: :class:`NullAuthenticator` and :class:`BasicAuthenticator`.

Exported by :mod:`registry_client.auth`; the helpers here (``host_of``,
``basic_header``, ``require_username``) serve the token strategy too.
"""

from __future__ import annotations

import abc
import base64
import threading
from collections.abc import Generator
from typing import Any
from urllib.parse import urlsplit

import requests

from ._challenge import ChallengeParseError, parse_challenges
from ._forksafe import renew_after_fork
from ._redact import REDACTED

__all__ = ["BasicAuthenticator", "NullAuthenticator", "basic_header", "basic_secrets",
           "host_of", "require_username"]


def host_of(url: str | None) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased: what credentials are kept per."""
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}".lower()


class _PlainHooksAsFlows(abc.ABC):
    """The flow forms of hooks that need no I/O: they call the hooks (see
    ``_auth_protocol.FlowAuthenticator``)."""

    @abc.abstractmethod
    def handle_request(self, request: requests.PreparedRequest) -> None:
        """Add credentials to ``request`` (the strategy's own rule)."""

    @abc.abstractmethod
    def handle_response(self, response: requests.Response) -> bool:
        """Look at a 401 answer; True sends the request once more."""

    def request_flow(self, request: requests.PreparedRequest) -> Generator[Any, Any, None]:
        """:meth:`handle_request` as a flow (it needs no I/O)."""
        self.handle_request(request)
        yield from ()

    def response_flow(self, response: requests.Response) -> Generator[Any, Any, bool]:
        """:meth:`handle_response` as a flow (it needs no I/O)."""
        yield from ()
        return self.handle_response(response)


class NullAuthenticator(_PlainHooksAsFlows):
    """Send no credentials and never retry: for open registries."""

    def handle_request(self, request: requests.PreparedRequest) -> None:
        """Leave the request as it is."""

    def handle_response(self, response: requests.Response) -> bool:
        """Never ask for a re-send."""
        return False

    def __repr__(self) -> str:
        return "NullAuthenticator()"


def require_username(username: str | None, password: str | None) -> None:
    """Raise ValueError for a password without a username (it would never be sent)."""
    if password is not None and not username:
        raise ValueError(
            "a password was given without a username: give both (the password would "
            "otherwise never be sent)"
        )


def basic_header(username: str, password: str) -> str:
    """The ``Authorization`` value of HTTP Basic credentials (UTF-8; bytes that are not,
    read from a docker config, as they were: ``surrogateescape``)."""
    raw = f"{username}:{password}".encode("utf-8", "surrogateescape")
    return "Basic " + base64.b64encode(raw).decode("ascii")


def basic_secrets(header: str) -> tuple[str, ...]:
    """What a Basic ``Authorization`` value gives away: the base64 and the password."""
    encoded = header.removeprefix("Basic ")
    password = base64.b64decode(encoded).decode("utf-8", "surrogateescape").split(":", 1)[1]
    return encoded, password


class BasicAuthenticator(_PlainHooksAsFlows):
    """HTTP Basic credentials, sent after the registry asks for them and then up front.

    The first request to a registry goes without credentials; once the registry
    answers 401 with a ``Basic`` challenge, every following request to that host
    carries them (one round trip saved per request).
    """

    def __init__(self, username: str, password: str) -> None:
        """Raises ValueError when ``username`` is empty or None."""
        require_username(username, password)
        self.username = username
        self._header = basic_header(username, password)
        self._hosts: set[str] = set()
        self._lock = threading.Lock()
        renew_after_fork(self)

    def renew_locks(self) -> None:
        """In a child just forked: its lock anew (a parent's thread may have held it)."""
        self._lock = threading.Lock()

    def handle_request(self, request: requests.PreparedRequest) -> None:
        """Add the Basic header when this host is known to want it."""
        with self._lock:
            known = host_of(request.url) in self._hosts
        if known:
            request.headers["Authorization"] = self._header

    def handle_response(self, response: requests.Response) -> bool:
        """On a Basic challenge, remember the host and ask for one re-send."""
        if response.status_code != 401:
            return False
        req = response.request
        if req is not None and req.headers.get("Authorization") == self._header:
            return False  # our credentials were refused
        header = response.headers.get("WWW-Authenticate", "")
        try:
            challenges = parse_challenges(header)
        except ChallengeParseError:
            return False
        if not any(c.scheme == "basic" for c in challenges):
            return False
        with self._lock:
            self._hosts.add(host_of(response.url or (req.url if req else "")))
        return True

    def _held_secrets(self) -> tuple[str, ...]:
        """The password and the base64 it is sent as (see ``held_secrets``)."""
        return basic_secrets(self._header)

    def __repr__(self) -> str:
        return f"BasicAuthenticator(username={self.username!r}, password={REDACTED})"
