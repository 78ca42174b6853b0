"""Tests for registry_client._auth_protocol: the scopes a request carries to its authenticator."""

from __future__ import annotations

import requests

from registry_client._auth_protocol import (
    SCOPES_ATTRIBUTE,
    copy_for_resend,
    get_scopes,
    set_scopes,
)

REGISTRY = "https://registry.example"


def make_request(
    *, headers: dict[str, str] | None = None, scopes: tuple[str, ...] | None = None,
) -> requests.PreparedRequest:
    prepared = requests.Request(
        "GET", f"{REGISTRY}/v2/app/manifests/latest", headers=headers or {}).prepare()
    if scopes is not None:
        set_scopes(prepared, scopes)
    return prepared


def test_scopes_are_the_documented_attribute_of_the_request() -> None:
    req = make_request(scopes=("repository:app:pull",))
    assert get_scopes(req) == ("repository:app:pull",)
    assert getattr(req, SCOPES_ATTRIBUTE) == ("repository:app:pull",)
    assert SCOPES_ATTRIBUTE == "registry_scopes"
    assert get_scopes(make_request()) == ()  # another request has none
    assert "registry_scopes" not in str(make_request(scopes=("x",)).headers)  # never sent


def test_a_copy_to_send_again_keeps_the_scopes_and_drops_the_credentials() -> None:
    req = make_request(scopes=("repository:app:pull,push",), headers={
        "Authorization": "Bearer old", "Accept": "application/json"})
    again = copy_for_resend(req)
    assert again is not req and again.url == req.url and again.method == req.method
    assert get_scopes(again) == ("repository:app:pull,push",)
    assert "Authorization" not in again.headers and again.headers["Accept"] == "application/json"
    assert req.headers["Authorization"] == "Bearer old"  # the request sent is left as it was
