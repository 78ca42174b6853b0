"""Authenticators refuse half credentials, and a refused request says what to change."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import requests_mock

from registry_client import (
    AuthenticationError,
    AuthorizationError,
    BasicAuthenticator,
    NullAuthenticator,
    Registry,
    TokenAuthenticator,
)
from registry_client.auth import NO_CREDENTIALS_HINT

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


# -- anonymous requests refused -----------------------------------------------------------------
@pytest.mark.parametrize(
    "authenticator", [TokenAuthenticator(), NullAuthenticator()], ids=["anonymous-token", "null"],
)
def test_anonymous_insufficient_scope_says_no_credentials_were_given(
    authenticator: Any,
) -> None:
    reg, adapter = make(authenticator)
    adapter.register_uri("GET", REALM, json={"token": "anon-token"})
    adapter.register_uri("GET", MANIFEST_URL, status_code=401, content=UNAUTHORIZED,
                         headers={"WWW-Authenticate": DENIED})
    with pytest.raises(AuthorizationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    message = str(info.value)
    assert NO_CREDENTIALS_HINT in message
    assert "from_docker_config" in message and "insufficient_scope" in message
    assert "these credentials" not in message
    assert info.value.status_code == 401


def test_anonymous_basic_challenge_says_no_credentials_were_given() -> None:
    reg, adapter = make(TokenAuthenticator())
    adapter.register_uri("GET", MANIFEST_URL, status_code=401, content=UNAUTHORIZED,
                         headers={"WWW-Authenticate": 'Basic realm="Registry Realm"'})
    with pytest.raises(AuthenticationError, match="no credentials were given"):
        reg.repository("app").manifests.get_raw("latest")


def test_credentials_without_rights_keep_the_insufficient_scope_message() -> None:
    reg, adapter = make(TokenAuthenticator("alice", "pw"))
    adapter.register_uri("GET", REALM, json={"token": "alice-token"})
    adapter.register_uri("GET", MANIFEST_URL, status_code=401, content=UNAUTHORIZED,
                         headers={"WWW-Authenticate": DENIED})
    with pytest.raises(AuthorizationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert "these credentials may not do this" in str(info.value)
    assert "no credentials" not in str(info.value)


# -- Basic against a Bearer registry ------------------------------------------------------------
def test_basic_authenticator_against_bearer_says_use_token_authenticator() -> None:
    reg, adapter = make(BasicAuthenticator("alice", "s3cret-pw"))
    adapter.register_uri("GET", MANIFEST_URL, status_code=401, content=UNAUTHORIZED,
                         headers={"WWW-Authenticate": BEARER})
    with pytest.raises(AuthenticationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    message = str(info.value)
    assert "TokenAuthenticator" in message and "Bearer" in message
    assert "s3cret-pw" not in message
    assert [r.hostname for r in adapter.request_history] == [DOMAIN]  # no token server asked


def test_basic_authenticator_wrong_password_has_no_bearer_hint() -> None:
    reg, adapter = make(BasicAuthenticator("alice", "wrong"))
    adapter.register_uri("GET", MANIFEST_URL, status_code=401, content=UNAUTHORIZED,
                         headers={"WWW-Authenticate": 'Basic realm="Registry Realm"'})
    with pytest.raises(AuthenticationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert "TokenAuthenticator" not in str(info.value)
    assert "no credentials" not in str(info.value)


@pytest.mark.parametrize("authenticator", [BasicAuthenticator, TokenAuthenticator],
                         ids=["basic", "token-with-basic-fallback"])
def test_a_basic_registry_refusing_a_password_names_the_user(authenticator: Any) -> None:
    reg, adapter = make(authenticator("alice", "s3cret-pw"))
    adapter.register_uri("GET", MANIFEST_URL, status_code=401, content=UNAUTHORIZED,
                         headers={"WWW-Authenticate": 'Basic realm="Registry Realm"'})
    with pytest.raises(AuthenticationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    message = str(info.value)
    assert "the registry refused the credentials of alice" in message, message
    assert "s3cret-pw" not in message and NO_CREDENTIALS_HINT not in message
    assert info.value.status_code == 401
    # the credentials were sent (and refused), not just challenged for
    assert adapter.request_history[-1].headers["Authorization"].startswith("Basic ")


def test_token_server_refusing_an_anonymous_token_says_no_credentials_were_given() -> None:
    reg, adapter = make(TokenAuthenticator())
    adapter.register_uri("GET", REALM, status_code=401,
                         json={"errors": [{"code": "UNAUTHORIZED"}]})
    adapter.register_uri("GET", MANIFEST_URL, status_code=401, headers={"WWW-Authenticate": BEARER})
    with pytest.raises(AuthenticationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    message = str(info.value)
    assert NO_CREDENTIALS_HINT in message and "anonymous" in message
    assert "credentials of" not in message


def test_token_server_refusing_a_password_names_the_user() -> None:
    reg, adapter = make(TokenAuthenticator("alice", "s3cret-pw"))
    adapter.register_uri("GET", REALM, status_code=401)
    adapter.register_uri("GET", MANIFEST_URL, status_code=401, headers={"WWW-Authenticate": BEARER})
    with pytest.raises(AuthenticationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert "alice" in str(info.value) and "s3cret-pw" not in str(info.value)
    assert NO_CREDENTIALS_HINT not in str(info.value)
