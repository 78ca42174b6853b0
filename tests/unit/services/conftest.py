"""Shared set-up of the service unit tests: a Registry on a requests-mock adapter, no sleeps."""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from typing import Any

import pytest
import requests
import requests_mock

import registry_client.requester as requester_mod
from registry_client import NullAuthenticator, Registry, TokenAuthenticator
from registry_client._flow import Effect
from registry_client.services._shell import BlockingShell

MockedRegistry = tuple[Registry, requests_mock.Adapter]


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries back off without sleeping."""
    fake = types.SimpleNamespace(sleep=lambda s: None, monotonic=time.monotonic, time=time.time)
    monkeypatch.setattr(requester_mod, "time", fake)


@pytest.fixture
def mocked_registry() -> Callable[..., MockedRegistry]:
    """``mocked_registry(retries=1)``: ``Registry("registry.example")`` on a fresh adapter."""

    def make(*, retries: int = 1) -> MockedRegistry:
        session = requests.Session()
        adapter = requests_mock.Adapter()
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        reg = Registry("registry.example", session=session, authenticator=NullAuthenticator(),
                       retries=retries, backoff=0.0, max_workers=4)
        return reg, adapter

    return make


TokenChallenged = Callable[[str], tuple[Registry, requests_mock.Adapter, Callable[..., bytes]]]


@pytest.fixture
def token_challenged() -> TokenChallenged:
    """``token_challenged(scope)``: a token-auth Registry on a fresh adapter, plus an answer.

    The answer (a requests-mock ``content`` callback) is 201 for ``Bearer t`` and
    otherwise a 401 whose challenge asks for ``scope``; the realm hands out ``t``.
    """

    def make(scope: str) -> tuple[Registry, requests_mock.Adapter, Callable[..., bytes]]:
        session = requests.Session()
        adapter = requests_mock.Adapter()
        session.mount("https://", adapter)
        reg = Registry("registry.example", session=session,
                       authenticator=TokenAuthenticator(), backoff=0.0)
        adapter.register_uri("GET", "https://auth.example/token", json={"token": "t"})

        def answer(request: Any, context: Any) -> bytes:
            if request.headers.get("Authorization") == "Bearer t":
                context.status_code = 201
            else:
                context.status_code = 401
                context.headers["WWW-Authenticate"] = (
                    f'Bearer realm="https://auth.example/token",service="reg",scope="{scope}"'
                )
            return b""

        return reg, adapter, answer

    return make


@pytest.fixture
def performed(monkeypatch: pytest.MonkeyPatch) -> list[Effect]:
    """The effects the blocking shell performs from now on, in order (a flow's requests,
    reads and file work: each file work is a hop to a worker thread in the asyncio API)."""
    seen: list[Effect] = []
    perform = BlockingShell.perform

    def spy(self: BlockingShell, effect: Effect) -> Any:
        seen.append(effect)
        return perform(self, effect)

    monkeypatch.setattr(BlockingShell, "perform", spy)
    return seen
