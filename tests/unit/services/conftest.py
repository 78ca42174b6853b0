"""Shared set-up of the service unit tests: a Registry on a requests-mock adapter, no sleeps."""

from __future__ import annotations

import time
import types
from collections.abc import Callable

import pytest
import requests
import requests_mock

import registry_client.requester as requester_mod
from registry_client import NullAuthenticator, Registry

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
