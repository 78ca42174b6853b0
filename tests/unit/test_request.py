"""The request value: which requests may repeat, and a body made again for each try."""

from __future__ import annotations

import io
from typing import Any

import requests
import requests_mock

from registry_client import NullAuthenticator, Registry
from registry_client._request import Request

BASE = "https://registry.example"


def make(**kw: Any) -> tuple[Registry, requests_mock.Adapter]:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry("registry.example", session=session, authenticator=NullAuthenticator(),
                   backoff=0.0, **kw)
    return reg, adapter


def test_a_body_factory_replays_a_body_that_cannot_seek() -> None:
    reg, adapter = make(retries=2)
    adapter.register_uri("PUT", f"{BASE}/v2/r/manifests/v1",
                         [{"status_code": 503}, {"status_code": 201}])
    made: list[int] = []

    def body() -> Any:
        made.append(1)
        return iter([b"{", b"}"])  # a generator: sent once, never rewound

    resp = reg.requester.send_request(Request(
        "PUT", "r/manifests/v1", expected=frozenset({201}), body_factory=body))
    assert resp.status_code == 201 and len(made) == 2
    # each attempt got a fresh, whole body (requests-mock keeps the iterator it was given)
    assert [b"".join(r.body) for r in adapter.request_history] == [b"{}", b"{}"]


def test_which_requests_may_repeat() -> None:
    assert Request("GET", "x").may_repeat
    assert not Request("POST", "x").may_repeat
    assert Request("POST", "x", idempotent=True).may_repeat
    assert not Request("PUT", "x", body=iter([b"a"])).may_repeat  # cannot be replayed
    assert Request("PUT", "x", body_factory=lambda: iter([b"a"])).may_repeat
    assert Request("PUT", "x", body=io.BytesIO(b"a")).may_repeat
    assert Request("delete", "x").gone_is_done and not Request("GET", "x").gone_is_done
