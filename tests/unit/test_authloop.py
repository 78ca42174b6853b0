"""The auth loop: a 401 answered by one re-send, with the body made again."""

from __future__ import annotations

from typing import Any

import requests
import requests_mock

from registry_client import BasicAuthenticator, Registry
from registry_client._request import Request

BASE = "https://registry.example"


def make(authenticator: Any) -> tuple[Registry, requests_mock.Adapter]:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry("registry.example", session=session, authenticator=authenticator,
                   backoff=0.0)
    return reg, adapter


def test_a_body_factory_makes_the_body_again_for_the_answer_to_a_401() -> None:
    reg, adapter = make(BasicAuthenticator("user", "pw"))
    adapter.register_uri("PUT", f"{BASE}/v2/r/manifests/v1", [
        {"status_code": 401, "headers": {"WWW-Authenticate": 'Basic realm="r"'}},
        {"status_code": 201},
    ])
    resp = reg.requester.send_request(Request(
        "PUT", "r/manifests/v1", expected=frozenset({201}),
        body_factory=lambda: iter([b"{", b"}"])))
    assert resp.status_code == 201
    first, second = adapter.request_history
    assert "Authorization" not in first.headers and second.headers["Authorization"]
    assert b"".join(second.body) == b"{}"
