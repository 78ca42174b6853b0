"""The blocking shell: a Call goes to the registry its flow names (a copy talks to two)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
import requests_mock

from registry_client import NullAuthenticator, Registry
from registry_client._flow import Call, Flow, run
from registry_client._request import Request
from registry_client._response import Response
from registry_client.services._shell import BlockingShell

MockedRegistry = tuple[Registry, requests_mock.Adapter]


def test_a_call_naming_another_registry_is_sent_there(
    mocked_registry: Callable[..., MockedRegistry],
) -> None:
    here, here_adapter = mocked_registry()
    session = requests.Session()
    there_adapter = requests_mock.Adapter()
    session.mount("https://", there_adapter)
    there = Registry("other.example", session=session, authenticator=NullAuthenticator())
    here_adapter.register_uri("GET", "https://registry.example/v2/a/tags/list", text="here")
    there_adapter.register_uri("GET", "https://other.example/v2/a/tags/list", text="there")

    def flow() -> Flow[tuple[str, str]]:
        mine: Response = yield Call(Request("GET", "a/tags/list"))
        theirs: Response = yield Call(Request("GET", "a/tags/list"), there.requester)
        return mine.content.decode(), theirs.content.decode()

    assert run(flow(), BlockingShell(here.requester)) == ("here", "there")
    assert [r.hostname for r in there_adapter.request_history] == ["other.example"]


def test_a_blocking_call_to_something_else_is_refused(
    mocked_registry: Callable[..., MockedRegistry],
) -> None:
    reg, _ = mocked_registry()

    def flow() -> Flow[None]:
        yield Call(Request("GET", "a/tags/list"), object())  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="asyncio registry"):
        run(flow(), BlockingShell(reg.requester))
