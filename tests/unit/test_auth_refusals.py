"""Authenticators refuse half credentials."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import requests_mock

from registry_client import (
    BasicAuthenticator,
    Registry,
    TokenAuthenticator,
)

DOMAIN = "registry.example"
REALM = "https://auth.example/token"
MANIFEST_URL = f"https://{DOMAIN}/v2/app/manifests/latest"
BEARER = f'Bearer realm="{REALM}",service="reg",scope="repository:app:pull"'
DENIED = BEARER + ',error="insufficient_scope"'
UNAUTHORIZED = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'


def make(authenticator: Any) -> tuple[Registry, requests_mock.Adapter]:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry(DOMAIN, session=session, authenticator=authenticator, retries=0)
    return reg, adapter


# -- half credentials ---------------------------------------------------------------------------
@pytest.mark.parametrize("username", [None, ""], ids=["none", "empty"])
def test_token_authenticator_refuses_a_password_without_username(username: str | None) -> None:
    with pytest.raises(ValueError, match="without a username") as info:
        TokenAuthenticator(username=username, password="s3cret-pw")
    assert "s3cret-pw" not in str(info.value)


@pytest.mark.parametrize("username", [None, ""], ids=["none", "empty"])
def test_basic_authenticator_refuses_a_password_without_username(username: Any) -> None:
    with pytest.raises(ValueError, match="without a username") as info:
        BasicAuthenticator(username, "s3cret-pw")
    assert "s3cret-pw" not in str(info.value)


def test_username_alone_and_refresh_token_alone_stay_valid() -> None:
    assert not TokenAuthenticator(username="alice").has_credentials
    assert TokenAuthenticator(refresh_token="refresh-xyz").has_credentials
    assert TokenAuthenticator("alice", "pw").has_credentials
