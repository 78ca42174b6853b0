"""Tests for the transport: Requester, through Registry.

Every request goes to a requests-mock adapter mounted on the session handed to
``Registry``; ``adapter.request_history`` shows exactly what was sent.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import io
import json
import logging
import pydoc
import re
import socket
import ssl
import struct
import threading
import time
import traceback
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock
import urllib3

import registry_client._endpoint as endpoint_mod
import registry_client.requester as requester_mod
from registry_client import (
    BasicAuthenticator,
    NullAuthenticator,
    Registry,
    Requester,
    TokenAuthenticator,
    _calloff,
)
from registry_client._http import DEFAULT_BODY_LIMIT
from registry_client.auth import (
    Authenticator,
    BindableAuthenticator,
    TokenTransport,
    get_scopes,
)
from registry_client.errors import (
    AuthenticationError,
    AuthorizationError,
    InvalidReferenceError,
    NotFoundError,
    RegistryError,
    RegistryResponseError,
    RegistrySSLError,
    RegistryUnavailableError,
    TokenError,
)
from registry_client.services._schedule import parallel
from registry_client.testing import self_signed_certificate, tcp_server

DOMAIN = "registry.example"
BASE = f"https://{DOMAIN}"
REALM = "https://auth.example/token"
PASSWORD = "hunter2-PASSWORD-xyz"
TOKEN = "TOKEN-abc.def.SECRET"


def challenge(repo: str = "app", actions: str = "pull", realm: str = REALM) -> str:
    return f'Bearer realm="{realm}",service="reg",scope="repository:{repo}:{actions}"'


MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "1" * 64,
            "size": 2,
        },
        "layers": [],
    },
    separators=(",", ":"),
).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
MANIFEST_HEADERS = {
    "Content-Type": "application/vnd.oci.image.manifest.v1+json",
    "Docker-Content-Digest": MANIFEST_DIGEST,
}
MANIFEST_URL = f"{BASE}/v2/app/manifests/latest"


# -- fixtures and helpers ---------------------------------------------------------------
class Sleeps(list[float]):
    pass


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """Record every backoff sleep of the Requester instead of sleeping (a fake clock advances)."""
    recorded = Sleeps()
    clock = [time.monotonic()]

    def sleep(seconds: float) -> None:
        recorded.append(seconds)
        clock[0] += seconds

    fake_time = types.SimpleNamespace(
        sleep=sleep, monotonic=lambda: clock[0], time=time.time
    )
    monkeypatch.setattr(requester_mod, "time", fake_time)
    return recorded


def make(
    authenticator: Any = None, *, domain: str = DOMAIN, retries: int = 2, **kw: Any
) -> tuple[Registry, requests_mock.Adapter]:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    kw.setdefault("backoff", 0.0)
    reg = Registry(domain, session=session, authenticator=authenticator, retries=retries, **kw)
    return reg, adapter


def on_host(adapter: requests_mock.Adapter, host: str) -> list[Any]:
    return [r for r in adapter.request_history if r.hostname == host]


def auth_of(r: Any) -> str | None:
    return r.headers.get("Authorization")


def token_server(
    adapter: requests_mock.Adapter, tokens: list[str] | None = None, **extra: Any
) -> None:
    answers = [{"json": {"token": t, **extra}} for t in (tokens or [TOKEN])]
    adapter.register_uri("GET", REALM, answers)
    adapter.register_uri("POST", REALM, answers)


def bearer_registry(
    adapter: requests_mock.Adapter, url: str = MANIFEST_URL, *, accept: set[str] | None = None,
    method: str = "GET", body: bytes = MANIFEST, headers: dict[str, str] | None = None,
    status: int = 200, www: str | None = None,
) -> None:
    """A registry endpoint that wants ``Bearer <one of accept>`` and challenges otherwise."""
    good = {f"Bearer {t}" for t in (accept or {TOKEN})}

    def answer(request: Any, context: Any) -> bytes:
        if request.headers.get("Authorization") in good:
            context.status_code = status
            context.headers.update(headers if headers is not None else MANIFEST_HEADERS)
            return body
        context.status_code = 401
        context.headers["WWW-Authenticate"] = www or challenge()
        return b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'

    adapter.register_uri(method, url, content=answer)


# -- URLs -------------------------------------------------------------------------------
@pytest.mark.parametrize("domain", ["docker.io", "index.docker.io"])
def test_docker_hub_api_host(domain: str) -> None:
    reg, adapter = make(NullAuthenticator(), domain=domain)
    assert reg.requester.base_url == "https://registry-1.docker.io"
    adapter.register_uri(
        "GET", "https://registry-1.docker.io/v2/library/alpine/manifests/3.19",
        content=MANIFEST, headers=MANIFEST_HEADERS,
    )
    raw = reg.repository("library/alpine").manifests.get_raw("3.19")
    assert raw.digest == MANIFEST_DIGEST
    assert [r.url for r in adapter.request_history] == [
        "https://registry-1.docker.io/v2/library/alpine/manifests/3.19"
    ]


@pytest.mark.parametrize(
    ("domain", "protocol", "url"),
    [
        ("ghcr.io", "https", "https://ghcr.io/v2/a/b/tags/list"),
        ("localhost:5000", "http", "http://localhost:5000/v2/a/b/tags/list"),
        ("[::1]:5000", "http", "http://[::1]:5000/v2/a/b/tags/list"),
    ],
)
def test_url_building(domain: str, protocol: str, url: str) -> None:
    reg, _ = make(NullAuthenticator(), domain=domain, protocol=protocol)
    assert reg.requester.url("a/b/tags/list") == url
    assert reg.requester.url("/a/b/tags/list") == url


def test_ping_is_get_v2() -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("GET", f"{BASE}/v2/", json={})
    reg.ping()
    assert [(r.method, r.url) for r in adapter.request_history] == [("GET", f"{BASE}/v2/")]


def test_invalid_protocol() -> None:
    with pytest.raises(ValueError):
        Requester(DOMAIN, NullAuthenticator(), requests.Session(), "ftp")


@pytest.mark.parametrize("timeout", [-1, 0, (2, -5), (1, 2, 3), "5", True, ()])
def test_a_timeout_that_is_not_positive_seconds_is_refused_at_once(timeout: Any) -> None:
    """Not at the first request, from deep inside urllib3."""
    with pytest.raises(ValueError, match="timeout must be"):
        Registry(DOMAIN, timeout=timeout)


@pytest.mark.parametrize(("name", "why"), [
    ("Team/App", "must be lowercase"),
    ("app:1.0", "no tag or digest"),
    ("a" * 300, "300 characters long, at most 255"),
    ("app//x", "'/'-separated components"),
])
def test_a_bad_repository_name_says_what_is_wrong(name: str, why: str) -> None:
    with pytest.raises(InvalidReferenceError, match=why):
        Registry(DOMAIN).repository(name)


def test_a_reference_on_this_registry_matches_whatever_the_case_of_its_host() -> None:
    reg = Registry("localhost:5000", protocol="http")
    assert reg.repository_from_string("LOCALHOST:5000/app:1.0").name == "app"
    with pytest.raises(ValueError, match="on registry"):
        reg.repository_from_string("otherhost:5000/app")


def test_user_agent_sent() -> None:
    reg, adapter = make(NullAuthenticator(), user_agent="my-agent/1.0")
    adapter.register_uri("GET", f"{BASE}/v2/", json={})
    reg.ping()
    assert adapter.request_history[0].headers["User-Agent"] == "my-agent/1.0"
    assert reg.requester.session.headers["User-Agent"] != "my-agent/1.0"  # not set on it


def test_a_callers_session_keeps_its_headers_and_its_user_agent() -> None:
    session = requests.Session()
    session.headers["User-Agent"] = "my-app/2.0"
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    adapter.register_uri("GET", f"{BASE}/v2/", json={})
    reg = Registry(DOMAIN, session=session, authenticator=NullAuthenticator())
    reg.ping()
    assert adapter.request_history[0].headers["User-Agent"] == "my-app/2.0"
    assert dict(session.headers) == {**requests.utils.default_headers(),
                                     "User-Agent": "my-app/2.0"}
    plain, adapter = make(NullAuthenticator())  # requests' default UA: ours is sent
    adapter.register_uri("GET", f"{BASE}/v2/", json={})
    plain.ping()
    assert adapter.request_history[0].headers["User-Agent"].startswith("registry-client/")


# -- the auth loop ----------------------------------------------------------------------
def test_bearer_challenge_then_token_then_resend_then_cached() -> None:
    reg, adapter = make()  # authenticator=None: anonymous token auth
    token_server(adapter)
    bearer_registry(adapter)
    repo = reg.repository("app")
    assert repo.manifests.get_raw("latest").digest == MANIFEST_DIGEST
    first = adapter.request_history
    assert [(r.method, r.hostname) for r in first] == [
        ("GET", DOMAIN), ("GET", "auth.example"), ("GET", DOMAIN),
    ]
    assert auth_of(first[0]) is None
    assert auth_of(first[1]) is None  # anonymous token request
    assert first[1].qs["scope"] == ["repository:app:pull"]
    assert first[1].qs["service"] == ["reg"]
    assert auth_of(first[2]) == f"Bearer {TOKEN}"
    for _ in range(49):
        repo.manifests.get_raw("latest")
    assert len(on_host(adapter, "auth.example")) == 1
    registry_side = on_host(adapter, DOMAIN)
    assert len(registry_side) == 51
    assert all(auth_of(r) == f"Bearer {TOKEN}" for r in registry_side[1:])


def test_known_challenge_means_no_round_trip_for_new_scope() -> None:
    reg, adapter = make()
    token_server(adapter, ["t-app", "t-other"])
    bearer_registry(adapter, accept={"t-app"})
    other_url = f"{BASE}/v2/other/manifests/latest"
    bearer_registry(adapter, other_url, accept={"t-other"}, www=challenge("other"))
    reg.repository("app").manifests.get_raw("latest")
    before = len(adapter.request_history)
    reg.repository("other").manifests.get_raw("latest")
    new = adapter.request_history[before:]
    assert [(r.hostname, auth_of(r)) for r in new] == [
        ("auth.example", None), (DOMAIN, "Bearer t-other"),
    ]
    assert new[0].qs["scope"] == ["repository:other:pull"]


def test_registry_always_401_sends_at_most_one_resend() -> None:
    reg, adapter = make()
    token_server(adapter)
    bearer_registry(adapter, accept={"never"})
    with pytest.raises(AuthenticationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert len(on_host(adapter, DOMAIN)) == 2
    assert len(on_host(adapter, "auth.example")) == 1
    assert info.value.status_code == 401
    assert TOKEN not in str(info.value)
    assert "app" in str(info.value)
    assert DOMAIN in str(info.value)


def test_stale_token_is_replaced_exactly_once() -> None:
    reg, adapter = make()
    token_server(adapter, ["t1", "t2", "t3"])
    state = {"good": "t1"}

    def answer(request: Any, context: Any) -> bytes:
        if request.headers.get("Authorization") == f"Bearer {state['good']}":
            context.headers.update(MANIFEST_HEADERS)
            return MANIFEST
        context.status_code = 401
        context.headers["WWW-Authenticate"] = challenge()
        return b""

    adapter.register_uri("GET", MANIFEST_URL, content=answer)
    repo = reg.repository("app")
    repo.manifests.get_raw("latest")
    assert len(adapter.request_history) == 3
    state["good"] = "t2"  # the registry revokes t1
    repo.manifests.get_raw("latest")
    new = adapter.request_history[3:]
    assert [(r.hostname, auth_of(r)) for r in new] == [
        (DOMAIN, "Bearer t1"), ("auth.example", None), (DOMAIN, "Bearer t2"),
    ]
    repo.manifests.get_raw("latest")
    assert len(on_host(adapter, "auth.example")) == 2


def test_token_fetch_with_credentials_and_push_scope() -> None:
    reg, adapter = make(TokenAuthenticator("alice", PASSWORD))
    token_server(adapter)
    put_url = f"{BASE}/v2/app/manifests/v1"
    bearer_registry(
        adapter, put_url, method="PUT", status=201, body=b"",
        headers={"Docker-Content-Digest": MANIFEST_DIGEST}, www=challenge(actions="pull,push"),
    )
    from registry_client import RawManifest

    raw = RawManifest(MANIFEST, "application/vnd.oci.image.manifest.v1+json", MANIFEST_DIGEST)
    assert reg.repository("app").manifests.put("v1", raw) == MANIFEST_DIGEST
    [tok] = on_host(adapter, "auth.example")
    assert tok.qs["scope"] == ["repository:app:pull,push"]
    assert tok.qs["account"] == ["alice"]
    assert auth_of(tok) == BasicAuthenticator("alice", PASSWORD)._header
    puts = on_host(adapter, DOMAIN)
    assert len(puts) == 2
    assert puts[1].body == MANIFEST  # the body is sent again, unchanged


def test_token_server_refusing_credentials_is_authentication_error() -> None:
    reg, adapter = make(TokenAuthenticator("alice", PASSWORD))
    adapter.register_uri("GET", REALM, status_code=401, json={"details": "bad credentials"})
    bearer_registry(adapter)
    with pytest.raises(AuthenticationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert len(on_host(adapter, "auth.example")) == 1  # not retried
    assert PASSWORD not in str(info.value)


def test_token_server_5xx_is_retried() -> None:
    reg, adapter = make()
    adapter.register_uri("GET", REALM, [{"status_code": 503}, {"json": {"token": TOKEN}}])
    bearer_registry(adapter)
    assert reg.repository("app").manifests.get_raw("latest").digest == MANIFEST_DIGEST
    assert len(on_host(adapter, "auth.example")) == 2


def test_token_server_5xx_after_retries_is_unavailable() -> None:
    """Contract: "RegistryUnavailableError: ... 5xx after retries" -- for the token server too."""
    reg, adapter = make(retries=2)
    adapter.register_uri("GET", REALM, status_code=503)
    bearer_registry(adapter)
    with pytest.raises(RegistryUnavailableError):
        reg.repository("app").manifests.get_raw("latest")
    assert len(on_host(adapter, "auth.example")) == 3


def test_token_server_unreachable_is_unavailable() -> None:
    reg, adapter = make(retries=1)
    adapter.register_uri("GET", REALM, exc=requests.exceptions.ConnectionError)
    bearer_registry(adapter)
    with pytest.raises(RegistryUnavailableError):
        reg.repository("app").manifests.get_raw("latest")
    assert len(on_host(adapter, "auth.example")) == 2


def test_plain_http_realm_on_other_host_never_gets_credentials() -> None:
    reg, adapter = make(TokenAuthenticator("alice", PASSWORD))
    adapter.register_uri("GET", "http://auth.example/token", json={"token": TOKEN})
    bearer_registry(adapter, www=challenge(realm="http://auth.example/token"))
    with pytest.raises(TokenError):
        reg.repository("app").manifests.get_raw("latest")
    assert on_host(adapter, "auth.example") == []


def test_insufficient_scope_is_authorization_error() -> None:
    reg, adapter = make(TokenAuthenticator("alice", PASSWORD))  # anonymous: see test_auth_refusals
    token_server(adapter)
    www = challenge() + ',error="insufficient_scope"'
    adapter.register_uri(
        "GET", MANIFEST_URL, status_code=401, headers={"WWW-Authenticate": www},
    )
    with pytest.raises(AuthorizationError, match="may not do this") as info:
        reg.repository("app").manifests.get_raw("latest")
    assert info.value.status_code == 401


def test_basic_auth_flow() -> None:
    reg, adapter = make(BasicAuthenticator("alice", PASSWORD))
    header = BasicAuthenticator("alice", PASSWORD)._header

    def answer(request: Any, context: Any) -> bytes:
        if request.headers.get("Authorization") == header:
            context.headers.update(MANIFEST_HEADERS)
            return MANIFEST
        context.status_code = 401
        context.headers["WWW-Authenticate"] = 'Basic realm="Registry Realm"'
        return b""

    adapter.register_uri("GET", MANIFEST_URL, content=answer)
    repo = reg.repository("app")
    repo.manifests.get_raw("latest")
    assert [auth_of(r) for r in adapter.request_history] == [None, header]
    repo.manifests.get_raw("latest")
    assert [auth_of(r) for r in adapter.request_history] == [None, header, header]


def test_basic_wrong_password_does_not_loop() -> None:
    reg, adapter = make(BasicAuthenticator("alice", PASSWORD))
    adapter.register_uri(
        "GET", MANIFEST_URL, status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="Registry Realm"'},
    )
    with pytest.raises(AuthenticationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert len(adapter.request_history) == 2
    assert PASSWORD not in str(info.value)
    with pytest.raises(AuthenticationError):
        reg.repository("app").manifests.get_raw("latest")
    assert len(adapter.request_history) == 3


def test_null_authenticator_never_resends() -> None:
    reg, adapter = make(NullAuthenticator())
    bearer_registry(adapter)
    with pytest.raises(AuthenticationError):
        reg.repository("app").manifests.get_raw("latest")
    assert len(adapter.request_history) == 1


def test_concurrent_first_calls_fetch_one_token() -> None:
    reg, adapter = make(max_workers=16)
    token_server(adapter)
    bearer_registry(adapter)
    repo = reg.repository("app")
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            repo.manifests.get_raw("latest")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert errors == []
    assert len(on_host(adapter, "auth.example")) == 1


def test_the_first_request_s_slow_token_holds_up_no_other_scope() -> None:
    """The registry's first request goes alone until its 401 shows the challenge; it
    went on holding every other request back through its token fetch -- a token
    server slow for its scope (or failing, through every retry) held a request of
    another scope, whose token comes at once, for as long."""
    reg, adapter = make(max_workers=4)
    release = threading.Event()

    def token(request: Any, context: Any) -> dict[str, str]:
        if "repository:slow:pull" in request.qs.get("scope", []):
            release.wait(5)
        return {"token": TOKEN}

    adapter.register_uri("GET", REALM, json=token)
    for repo in ("slow", "fast"):
        bearer_registry(adapter, f"{BASE}/v2/{repo}/manifests/latest",
                        www=challenge(repo))
    slow = threading.Thread(
        target=lambda: reg.repository("slow").manifests.get_raw("latest"), daemon=True)
    slow.start()
    while not on_host(adapter, "auth.example"):  # the slow token is on its way
        time.sleep(0.01)
    try:
        started = time.monotonic()
        assert reg.repository("fast").manifests.get_raw("latest").digest == MANIFEST_DIGEST
        assert time.monotonic() - started < 2
        # the challenge was known: no 401 for the fast one, its token fetched up front
        fast = [r for r in adapter.request_history if r.path == "/v2/fast/manifests/latest"]
        assert [auth_of(r) for r in fast] == [f"Bearer {TOKEN}"]
    finally:
        release.set()
        slow.join(5)


# -- retries ----------------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retry_then_success(status: int, sleeps: Sleeps) -> None:
    reg, adapter = make(NullAuthenticator(), retries=2)
    adapter.register_uri(
        "GET", MANIFEST_URL,
        [{"status_code": status}, {"status_code": status},
         {"content": MANIFEST, "headers": MANIFEST_HEADERS}],
    )
    assert reg.repository("app").manifests.get_raw("latest").digest == MANIFEST_DIGEST
    assert len(adapter.request_history) == 3
    assert len(sleeps) == 2


def test_retries_exhausted_is_unavailable(sleeps: Sleeps) -> None:
    reg, adapter = make(NullAuthenticator(), retries=3)
    adapter.register_uri("GET", MANIFEST_URL, status_code=503)
    with pytest.raises(RegistryUnavailableError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert len(adapter.request_history) == 4  # retries=3: three retries after the first
    assert len(sleeps) == 3
    assert info.value.status_code == 503


def test_retries_zero_means_one_attempt() -> None:
    reg, adapter = make(NullAuthenticator(), retries=0)
    adapter.register_uri("GET", MANIFEST_URL, status_code=502)
    with pytest.raises(RegistryUnavailableError):
        reg.repository("app").manifests.get_raw("latest")
    assert len(adapter.request_history) == 1


def test_500_is_unavailable() -> None:
    reg, adapter = make(NullAuthenticator(), retries=2)
    adapter.register_uri("GET", MANIFEST_URL, status_code=500)
    with pytest.raises(RegistryUnavailableError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert info.value.status_code == 500


def test_retry_after_seconds_honoured(sleeps: Sleeps) -> None:
    reg, adapter = make(NullAuthenticator(), retries=3)
    adapter.register_uri(
        "GET", MANIFEST_URL,
        [{"status_code": 429, "headers": {"Retry-After": "7"}},
         {"status_code": 503, "headers": {"Retry-After": "2"}},
         {"content": MANIFEST, "headers": MANIFEST_HEADERS}],
    )
    reg.repository("app").manifests.get_raw("latest")
    assert sleeps == [7.0, 2.0]


def test_retry_after_http_date_honoured(sleeps: Sleeps) -> None:
    reg, adapter = make(NullAuthenticator(), retries=2)
    when = email.utils.formatdate(time.time() + 10, usegmt=True)
    adapter.register_uri(
        "GET", MANIFEST_URL,
        [{"status_code": 503, "headers": {"Retry-After": when}},
         {"content": MANIFEST, "headers": MANIFEST_HEADERS}],
    )
    reg.repository("app").manifests.get_raw("latest")
    assert len(sleeps) == 1
    assert 8.0 < sleeps[0] <= 10.0


def test_retry_after_capped_by_max_backoff(sleeps: Sleeps) -> None:
    reg, adapter = make(NullAuthenticator(), retries=1, max_backoff=30.0)
    adapter.register_uri(
        "GET", MANIFEST_URL,
        [{"status_code": 429, "headers": {"Retry-After": "86400"}},
         {"content": MANIFEST, "headers": MANIFEST_HEADERS}],
    )
    reg.repository("app").manifests.get_raw("latest")
    assert sleeps == [30.0]


def test_retry_after_non_ascii_digit_does_not_escape_as_value_error(sleeps: Sleeps) -> None:
    """http.client decodes headers as latin-1: byte 0xB2 arrives as '²', which isdigit()."""
    reg, adapter = make(NullAuthenticator(), retries=1)
    adapter.register_uri(
        "GET", MANIFEST_URL,
        [{"status_code": 503, "headers": {"Retry-After": "\u00b2"}},
         {"content": MANIFEST, "headers": MANIFEST_HEADERS}],
    )
    try:
        reg.repository("app").manifests.get_raw("latest")
    except RegistryError:
        pass
    except Exception as exc:
        pytest.fail(f"raw {type(exc).__name__} escaped: {exc}")
    assert len(adapter.request_history) == 2


def test_exponential_backoff_without_retry_after(sleeps: Sleeps) -> None:
    reg, adapter = make(NullAuthenticator(), retries=3, backoff=1.0, max_backoff=30.0)
    adapter.register_uri("GET", MANIFEST_URL, status_code=503)
    with pytest.raises(RegistryUnavailableError):
        reg.repository("app").manifests.get_raw("latest")
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps):
        base = 2.0**attempt
        assert base / 2 <= slept <= base


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError,
        requests.exceptions.ConnectTimeout,
        requests.exceptions.ReadTimeout,
        requests.exceptions.Timeout,
    ],
)
def test_connection_errors_retried_then_unavailable(exc: type[Exception], sleeps: Sleeps) -> None:
    reg, adapter = make(NullAuthenticator(), retries=2)
    adapter.register_uri("GET", MANIFEST_URL, exc=exc)
    with pytest.raises(RegistryUnavailableError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert len(adapter.request_history) == 3
    assert len(sleeps) == 2
    assert not isinstance(info.value, requests.RequestException)
    assert info.value.method == "GET"


def test_connection_error_then_success() -> None:
    reg, adapter = make(NullAuthenticator(), retries=2)
    adapter.register_uri(
        "GET", MANIFEST_URL,
        [{"exc": requests.exceptions.ConnectionError},
         {"content": MANIFEST, "headers": MANIFEST_HEADERS}],
    )
    assert reg.repository("app").manifests.get_raw("latest").digest == MANIFEST_DIGEST
    assert len(adapter.request_history) == 2


def test_ssl_error_is_registry_ssl_error_not_retried() -> None:
    reg, adapter = make(NullAuthenticator(), retries=2)
    adapter.register_uri("GET", MANIFEST_URL, exc=requests.exceptions.SSLError)
    with pytest.raises(RegistrySSLError):
        reg.repository("app").manifests.get_raw("latest")
    assert len(adapter.request_history) == 1


@pytest.mark.parametrize(
    "answer",
    [{"status_code": 503}, {"exc": requests.exceptions.ConnectionError},
     {"exc": requests.exceptions.ReadTimeout}],
)
def test_post_is_not_retried(answer: dict[str, Any], sleeps: Sleeps) -> None:
    reg, adapter = make(NullAuthenticator(), retries=3)
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", [answer, {"status_code": 202}])
    with pytest.raises(RegistryUnavailableError):
        reg.requester.send("POST", "app/blobs/uploads/", expected=(202,))
    assert len(adapter.request_history) == 1
    assert sleeps == []


def test_put_is_retried() -> None:
    reg, adapter = make(NullAuthenticator(), retries=2)
    adapter.register_uri(
        "PUT", f"{BASE}/v2/app/manifests/v1",
        [{"status_code": 503}, {"status_code": 201,
                                "headers": {"Docker-Content-Digest": MANIFEST_DIGEST}}],
    )
    from registry_client import RawManifest

    raw = RawManifest(MANIFEST, "application/vnd.oci.image.manifest.v1+json", MANIFEST_DIGEST)
    reg.repository("app").manifests.put("v1", raw)
    assert [r.body for r in adapter.request_history] == [MANIFEST, MANIFEST]


# -- status -> error mapping ------------------------------------------------------------
ERRORS_BODY = json.dumps(
    {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown",
                 "detail": {"Tag": "latest"}}]}
).encode()


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (403, AuthorizationError),
        (404, NotFoundError),
        (400, RegistryResponseError),
        (405, RegistryResponseError),
        (409, RegistryResponseError),
        (416, RegistryResponseError),
        (418, RegistryResponseError),
    ],
)
def test_status_maps_to_error(status: int, cls: type[RegistryError]) -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("GET", MANIFEST_URL, status_code=status, content=ERRORS_BODY)
    with pytest.raises(cls) as info:
        reg.repository("app").manifests.get_raw("latest")
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert err.method == "GET"
    assert err.url == MANIFEST_URL
    assert err.codes == ["MANIFEST_UNKNOWN"]
    assert err.errors[0]["message"] == "manifest unknown"
    assert "app" in str(err) and DOMAIN in str(err)


def test_404_errors_parsed() -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("GET", MANIFEST_URL, status_code=404, content=ERRORS_BODY)
    with pytest.raises(NotFoundError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert info.value.errors == [
        {"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {"Tag": "latest"}}
    ]


@pytest.mark.parametrize("body", [b"", b"<html>oops</html>", b'{"errors": "x"}', b"[1,2]"])
def test_error_without_usable_body(body: bytes) -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("GET", MANIFEST_URL, status_code=400, content=body)
    with pytest.raises(RegistryResponseError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert info.value.status_code == 400
    assert info.value.errors == []


def test_unexpected_success_status_is_response_error() -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("GET", MANIFEST_URL, status_code=204)
    with pytest.raises(RegistryResponseError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert info.value.status_code == 204


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError,
        requests.exceptions.ProxyError,
        requests.exceptions.SSLError,
        requests.exceptions.ConnectTimeout,
        requests.exceptions.ReadTimeout,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
        requests.exceptions.TooManyRedirects,
        requests.exceptions.InvalidURL,
        requests.exceptions.RetryError,
        requests.exceptions.RequestException,
    ],
)
def test_no_raw_requests_exception_escapes(exc: type[Exception]) -> None:
    reg, adapter = make(NullAuthenticator(), retries=1)
    adapter.register_uri("GET", MANIFEST_URL, exc=exc)
    with pytest.raises(RegistryError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert not isinstance(info.value, requests.RequestException)


def test_too_many_redirects_is_registry_error() -> None:
    reg, adapter = make(NullAuthenticator(), retries=0)
    adapter.register_uri(
        "GET", MANIFEST_URL, status_code=302, headers={"Location": MANIFEST_URL},
    )
    with pytest.raises(RegistryError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert not isinstance(info.value, requests.RequestException)


def test_body_read_cut_is_unavailable() -> None:
    reg, adapter = make(NullAuthenticator(), retries=0)

    class Cut(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            raise urllib3.exceptions.ProtocolError("connection broken")

    adapter.register_uri(
        "GET", MANIFEST_URL,
        raw=urllib3.HTTPResponse(body=Cut(), preload_content=False, status=200,
                                 headers=MANIFEST_HEADERS),
    )
    with pytest.raises(RegistryError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert not isinstance(info.value, requests.RequestException)


# -- body cap ---------------------------------------------------------------------------
def test_manifest_over_4_mib_is_refused_by_content_length() -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri(
        "GET", MANIFEST_URL, content=MANIFEST,
        headers={**MANIFEST_HEADERS, "Content-Length": str(DEFAULT_BODY_LIMIT + 1)},
    )
    with pytest.raises(RegistryResponseError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert "limit" in str(info.value)
    assert DEFAULT_BODY_LIMIT == 4 * 1024 * 1024


def test_body_cap_without_content_length_is_configurable() -> None:
    reg, adapter = make(NullAuthenticator(), body_limit=64)
    adapter.register_uri("GET", MANIFEST_URL, content=b"{" + b" " * 200 + b"}")
    with pytest.raises(RegistryResponseError):
        reg.repository("app").manifests.get_raw("latest")


def test_body_exactly_at_limit_is_accepted() -> None:
    reg, adapter = make(NullAuthenticator(), body_limit=len(MANIFEST))
    adapter.register_uri("GET", MANIFEST_URL, content=MANIFEST, headers=MANIFEST_HEADERS)
    assert reg.repository("app").manifests.get_raw("latest").data == MANIFEST


def test_head_answer_is_not_subject_to_body_cap() -> None:
    """A HEAD has no body: its Content-Length (the size of a big blob) must not be capped."""
    reg, adapter = make(NullAuthenticator())
    url = f"{BASE}/v2/app/blobs/sha256:{'a' * 64}"
    adapter.register_uri("HEAD", url, headers={"Content-Length": str(300 * 1024 * 1024)})
    resp = reg.requester.send("HEAD", url)
    assert resp.status_code == 200


# -- stats ------------------------------------------------------------------------------
def test_stats() -> None:
    reg, adapter = make(NullAuthenticator())
    assert reg.requester.stats == {
        "requests": 0, "by_method": {}, "bytes_sent": 0, "bytes_received": 0,
    }
    adapter.register_uri("GET", MANIFEST_URL, content=MANIFEST, headers=MANIFEST_HEADERS)
    adapter.register_uri(
        "PUT", f"{BASE}/v2/app/manifests/v1", status_code=201,
        headers={"Docker-Content-Digest": MANIFEST_DIGEST},
    )
    adapter.register_uri(
        "HEAD", MANIFEST_URL,
        headers={**MANIFEST_HEADERS, "Content-Length": str(len(MANIFEST))},
    )
    repo = reg.repository("app")
    raw = repo.manifests.get_raw("latest")
    repo.manifests.get_raw("latest")
    repo.manifests.put("v1", raw)
    repo.manifests.head("latest")
    stats = reg.requester.stats
    assert stats["requests"] == 4
    assert stats["by_method"] == {"GET": 2, "PUT": 1, "HEAD": 1}
    assert stats["bytes_sent"] == len(MANIFEST)
    assert stats["bytes_received"] == 2 * len(MANIFEST)
    stats["by_method"]["GET"] = 99  # a copy
    assert reg.requester.stats["by_method"]["GET"] == 2


def test_stats_count_every_request_sent() -> None:
    reg, adapter = make()
    token_server(adapter)
    bearer_registry(adapter)
    reg.repository("app").manifests.get_raw("latest")
    assert reg.requester.stats["requests"] == len(adapter.request_history) == 3


# -- redirects and other hosts ----------------------------------------------------------
BLOB = b"layer bytes"
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
BLOB_URL = f"{BASE}/v2/app/blobs/{BLOB_DIGEST}"


@pytest.mark.parametrize(
    "target",
    ["https://cdn.example/blobs/x?sig=1", "https://registry.example:8443/blobs/x",
     "http://registry.example/blobs/x"],
)
def test_redirect_to_other_host_drops_bearer(target: str) -> None:
    reg, adapter = make()
    token_server(adapter)
    bearer_registry(
        adapter, BLOB_URL, status=307, body=b"", headers={"Location": target},
        www=challenge(),
    )
    adapter.register_uri("GET", target, content=BLOB,
                         headers={"Content-Length": str(len(BLOB))})
    assert reg.repository("app").blobs.get(BLOB_DIGEST) == BLOB
    last = adapter.request_history[-1]
    assert last.url == target
    assert auth_of(last) is None
    assert auth_of(adapter.request_history[-2]) == f"Bearer {TOKEN}"
    assert reg.requester.stats["by_method"]["GET"] == len(
        [r for r in adapter.request_history if r.method == "GET"]
    )


def test_redirect_to_other_host_drops_basic() -> None:
    reg, adapter = make(BasicAuthenticator("alice", PASSWORD))
    header = BasicAuthenticator("alice", PASSWORD)._header

    def answer(request: Any, context: Any) -> bytes:
        if request.headers.get("Authorization") == header:
            context.status_code = 307
            context.headers["Location"] = "https://cdn.example/blob"
        else:
            context.status_code = 401
            context.headers["WWW-Authenticate"] = 'Basic realm="r"'
        return b""

    adapter.register_uri("GET", BLOB_URL, content=answer)
    adapter.register_uri("GET", "https://cdn.example/blob", content=BLOB,
                         headers={"Content-Length": str(len(BLOB))})
    assert reg.repository("app").blobs.get(BLOB_DIGEST) == BLOB
    cdn = on_host(adapter, "cdn.example")
    assert len(cdn) == 1
    assert auth_of(cdn[0]) is None


def test_redirect_target_challenge_never_gets_credentials() -> None:
    """A redirect target (another host) answering 401 with its own Bearer realm must not
    make the client send the user's credentials to that realm."""
    reg, adapter = make(TokenAuthenticator("alice", PASSWORD))
    token_server(adapter)
    head_url = BLOB_URL
    bearer_registry(adapter, head_url, method="HEAD", body=b"",
                    headers={"Content-Length": str(len(BLOB))})
    bearer_registry(adapter, BLOB_URL, status=307, body=b"",
                    headers={"Location": "https://cdn.example/blob"})
    adapter.register_uri("GET", "https://evil.example/token", json={"token": "evil"})
    adapter.register_uri(
        "GET", "https://cdn.example/blob", status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="https://evil.example/token",service="x"'},
    )
    repo = reg.repository("app")
    assert repo.blobs.exists(BLOB_DIGEST)  # the registry's challenge is now known
    with pytest.raises(RegistryError):
        repo.blobs.get(BLOB_DIGEST)
    user_credentials = {BasicAuthenticator("alice", PASSWORD)._header, f"Bearer {TOKEN}"}
    leaked = [(r.url, auth_of(r)) for r in adapter.request_history
              if r.hostname not in (DOMAIN, "auth.example") and auth_of(r) in user_credentials]
    assert leaked == []
    assert [r.url for r in on_host(adapter, "evil.example")] == []


def test_absolute_location_on_other_host_never_gets_credentials() -> None:
    """An upload Location (or any absolute URL) on another host that answers with its
    own Bearer challenge must not receive the user's credentials, directly or via a realm."""
    reg, adapter = make(TokenAuthenticator("alice", PASSWORD))
    adapter.register_uri("GET", "https://evil.example/token", json={"token": "evil"})
    adapter.register_uri(
        "PUT", "https://storage.example/upload/1", status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="https://evil.example/token",service="x"'},
    )
    with pytest.raises(RegistryError):
        reg.requester.send("PUT", "https://storage.example/upload/1", data=b"x",
                           expected=(201,))
    basic = BasicAuthenticator("alice", PASSWORD)._header
    leaked = [(r.url, auth_of(r)) for r in adapter.request_history if auth_of(r) == basic]
    assert leaked == []


def test_redirect_to_presigned_url_error_is_redacted() -> None:
    reg, adapter = make(NullAuthenticator())
    s3 = ("https://bucket.s3.amazonaws.com/layer?X-Amz-Algorithm=AWS4-HMAC-SHA256"
          "&X-Amz-Credential=AKIAEXAMPLE%2F20240101&X-Amz-Security-Token=SESSIONTOKENSECRET"
          "&X-Amz-Signature=SIGNATURESECRET")
    adapter.register_uri("GET", BLOB_URL, status_code=307, headers={"Location": s3})
    adapter.register_uri("GET", s3, status_code=403, text="<Error>AccessDenied</Error>")
    with pytest.raises(AuthorizationError) as info:
        reg.repository("app").blobs.get(BLOB_DIGEST)
    text = f"{info.value} {info.value.url}"
    assert "SIGNATURESECRET" not in text
    assert "SESSIONTOKENSECRET" not in text


def test_link_with_explicit_default_port_is_followed() -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("GET", f"{BASE}/v2/app/tags/list", [
        {"json": {"name": "app", "tags": ["a"]},
         "headers": {"Link": '<https://REGISTRY.example:443/v2/app/tags/list?last=a>; '
                             'rel="next"'}},
    ])
    adapter.register_uri("GET", "https://registry.example:443/v2/app/tags/list?last=a",
                         json={"name": "app", "tags": ["b"]})
    assert reg.repository("app").tags.get_all() == ["a", "b"]
    assert len(adapter.request_history) == 2


# -- Link headers ------------------------------------------------------------------------
TAGS_URL = f"{BASE}/v2/app/tags/list"


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/v2/app/tags/list?last=b",
        "http://registry.example/v2/app/tags/list?last=b",
        "https://registry.example:444/v2/app/tags/list?last=b",
        "//evil.example/v2/app/tags/list?last=b",
    ],
)
def test_tag_link_to_other_host_is_refused(link: str) -> None:
    reg, adapter = make()
    token_server(adapter)
    bearer_registry(
        adapter, TAGS_URL, body=b'{"name":"app","tags":["a","b"]}',
        headers={"Link": f'<{link}>; rel="next"'},
    )
    target = link if "://" in link else f"https:{link}"
    adapter.register_uri("GET", target, json={"name": "app", "tags": ["c"]})
    with pytest.raises(RegistryResponseError):
        reg.repository("app").tags.get_all()
    assert {r.hostname for r in adapter.request_history} == {DOMAIN, "auth.example"}
    assert all(r.port in (443, None) and r.scheme == "https" for r in adapter.request_history)


def test_tag_link_loop_is_refused() -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri(
        "GET", TAGS_URL, json={"name": "app", "tags": ["a"]},
        headers={"Link": '</v2/app/tags/list?last=a>; rel="next"'},
    )
    with pytest.raises(RegistryResponseError):
        reg.repository("app").tags.get_all()
    assert [r.url for r in adapter.request_history] == [TAGS_URL, f"{TAGS_URL}?last=a"]


def test_tag_link_self_loop_is_refused() -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri(
        "GET", TAGS_URL, json={"name": "app", "tags": ["a"]},
        headers={"Link": f'<{TAGS_URL}>; rel="next"'},
    )
    with pytest.raises(RegistryResponseError):
        reg.repository("app").tags.get_all()
    assert len(adapter.request_history) == 1


def test_catalog_pages_followed_and_other_host_refused() -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri(
        "GET", f"{BASE}/v2/_catalog",
        [{"json": {"repositories": ["a", "b"]},
          "headers": {"Link": '</v2/_catalog?last=b&n=2>; rel="next"'}},
         {"json": {"repositories": ["c"]},
          "headers": {"Link": '<https://evil.example/v2/_catalog?last=c>; rel="next"'}}],
    )
    with pytest.raises(RegistryResponseError):
        reg.repositories()
    assert [r.url for r in adapter.request_history] == [
        f"{BASE}/v2/_catalog", f"{BASE}/v2/_catalog?last=b&n=2",
    ]


# -- secrets ----------------------------------------------------------------------------
def test_no_secret_in_messages_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    auth = TokenAuthenticator("alice", PASSWORD)
    reg, adapter = make(auth, retries=1)
    token_server(adapter)
    bearer_registry(adapter)
    texts: list[str] = []
    for status in (403, 404, 400, 503):
        url = f"{BASE}/v2/app/manifests/s{status}"
        bearer_registry(adapter, url, status=status, body=ERRORS_BODY, headers={})
        with pytest.raises(RegistryError) as info:
            reg.repository("app").manifests.get_raw(f"s{status}")
        texts += [str(info.value), repr(info.value), str(vars(info.value))]
    bearer_registry(adapter, accept={"never"}, url=f"{BASE}/v2/app/manifests/never")
    with pytest.raises(AuthenticationError) as info:
        reg.repository("app").manifests.get_raw("never")
    texts += [str(info.value), repr(info.value), str(vars(info.value))]
    texts += [repr(reg), repr(reg.requester), repr(auth), str(reg.requester.stats),
              repr(reg.repository("app")), repr(reg.repository("app").manifests)]
    texts.append(caplog.text)
    basic = BasicAuthenticator("alice", PASSWORD)._header.split()[1]
    for text in texts:
        assert PASSWORD not in text
        assert TOKEN not in text
        assert basic not in text


def test_url_credentials_redacted_in_errors() -> None:
    reg, adapter = make(NullAuthenticator())
    url = f"{BASE}/v2/app/blobs/uploads/x?_state=SECRETSTATE&token=SECRETTOKEN"
    adapter.register_uri("GET", url, status_code=400)
    with pytest.raises(RegistryResponseError) as info:
        reg.requester.send("GET", url)
    assert "SECRETSTATE" not in str(info.value)
    assert "SECRETTOKEN" not in str(info.value)
    assert "SECRET" not in (info.value.url or "")




# -- environment: proxies and CA bundle, as for requests.get ------------------------------
class _Recorder(requests.adapters.BaseAdapter):
    """Answers 200 to everything and records the proxies/verify each send got."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict[str, str], object]] = []

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:
        self.seen.append((request.url or "", dict(kw.get("proxies") or {}), kw.get("verify")))
        resp = requests.Response()
        resp.status_code = 200
        resp.raw = io.BytesIO(b"{}")
        resp.url = request.url or ""
        resp.request = request
        resp.headers["Content-Type"] = "application/json"
        return resp

    def close(self) -> None:
        """Nothing to close."""


def _recording_registry(**kw: Any) -> tuple[Registry, _Recorder]:
    session = requests.Session()
    rec = _Recorder()
    session.mount("https://", rec)
    session.mount("http://", rec)
    return Registry("registry.example", session=session, authenticator=NullAuthenticator(),
                    **kw), rec


def test_proxy_and_ca_bundle_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    reg, rec = _recording_registry()
    reg.ping()
    reg.ping()
    assert [(p.get("https"), v) for _, p, v in rec.seen] == [
        ("http://proxy.example:3128", str(bundle))] * 2


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_ssl_cert_file_and_dir_name_the_ca_bundle_when_requests_variables_do_not(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OpenSSL's (and Go's: crane, skopeo) variables, after requests' own; the asyncio
    flavour reads the same settings."""
    bundle = tmp_path / ("ca.pem" if variable == "SSL_CERT_FILE" else "certs")
    bundle.mkdir() if variable == "SSL_CERT_DIR" else bundle.write_text("")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(bundle))
    reg, rec = _recording_registry()
    reg.ping()
    assert rec.seen[-1][2] == str(bundle)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "requests.pem"))
    (tmp_path / "requests.pem").write_text("")
    reg, rec = _recording_registry()
    reg.ping()
    assert rec.seen[-1][2] == str(tmp_path / "requests.pem")  # requests' own comes first
    reg, rec = _recording_registry(verify=False)
    reg.ping()
    assert rec.seen[-1][2] is False


def test_an_ssl_cert_file_that_does_not_exist_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Go skips an SSL_CERT_FILE it cannot read (and reads SSL_CERT_DIR): a stale one
    must not make every HTTPS registry fail with "the CA bundle does not exist"."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    certs = tmp_path / "certs"
    certs.mkdir()
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "gone.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(certs))
    reg, rec = _recording_registry()
    reg.ping()
    assert rec.seen[-1][2] == str(certs)
    monkeypatch.delenv("SSL_CERT_DIR")
    reg, rec = _recording_registry()
    reg.ping()
    assert rec.seen[-1][2] is True  # requests' own default then


def test_no_proxy_and_explicit_settings_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "registry.example")
    reg, rec = _recording_registry()
    reg.ping()
    assert rec.seen[-1][1].get("https") is None
    monkeypatch.delenv("NO_PROXY")
    reg, rec = _recording_registry(proxy="http://mine.example:8080", verify=False)
    reg.ping()
    assert (rec.seen[-1][1].get("https"), rec.seen[-1][2]) == ("http://mine.example:8080", False)


@pytest.mark.parametrize("domain", ["https://quay.io", "", "quay.io/", "quay.io/ns", "a b",
                                    "host:port", "-bad.example"])
def test_a_registry_domain_that_is_not_host_port_is_refused_up_front(domain: str) -> None:
    with pytest.raises(ValueError, match="not host"):
        Registry(domain)


@pytest.mark.parametrize("domain", ["quay.io", "localhost:5000", "[::1]:5000",
                                    "127.0.0.1:5000", "docker.io", "Registry.Example:443"])
def test_registry_domains_as_references_write_them(domain: str) -> None:
    assert Registry(domain, authenticator=NullAuthenticator()).domain == domain


def test_a_refused_token_names_the_operation_it_stopped() -> None:
    """Errors name the registry, the repository and the operation -- a token refusal too."""
    reg, adapter = make(TokenAuthenticator("alice", PASSWORD))
    adapter.register_uri("GET", REALM, status_code=401, json={"details": "bad credentials"})
    bearer_registry(adapter)
    with pytest.raises(AuthenticationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    message = str(info.value)
    assert "app" in message and "latest" in message and DOMAIN in message
    assert "refused the credentials of alice" in message
    assert info.value.method == "GET" and info.value.url == MANIFEST_URL
    assert PASSWORD not in message


def test_an_unreachable_token_server_names_the_operation_it_stopped() -> None:
    reg, adapter = make(retries=0)
    adapter.register_uri("GET", REALM, exc=requests.exceptions.ConnectionError)
    bearer_registry(adapter)
    with pytest.raises(RegistryUnavailableError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert "latest" in str(info.value) and "auth.example" in str(info.value)
    assert info.value.method == "GET"


@pytest.mark.parametrize("source", ["verify", "REQUESTS_CA_BUNDLE"])
def test_a_ca_bundle_that_does_not_exist_is_a_tls_error(
    source: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests raises a bare OSError for a missing CA bundle; we raise RegistrySSLError."""
    missing = str(tmp_path / "no-such-ca.pem")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    if source == "verify":
        reg = Registry(DOMAIN, verify=missing, retries=0)
    else:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", missing)
        reg = Registry(DOMAIN, retries=0)
    with pytest.raises(RegistrySSLError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert missing in str(info.value) and "latest" in str(info.value)
    reg.close()


def test_a_password_put_in_the_domain_is_not_repeated_in_the_error() -> None:
    with pytest.raises(ValueError, match=r"\*\*\*@127\.0\.0\.1:5000") as info:
        Registry("bob:s3cret@127.0.0.1:5000", protocol="http")
    assert "s3cret" not in str(info.value)


def test_a_body_that_stalls_is_a_read_timeout_naming_the_operation() -> None:
    """A loopback server sends the headers and part of a manifest, then nothing."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        conns = []
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{\"schemaVersion\"")
            conns.append(conn)  # kept open, silent
        for c in conns:
            c.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        reg = Registry(f"127.0.0.1:{port}", protocol="http", authenticator=NullAuthenticator(),
                       timeout=(1, 0.3), retries=1, backoff=0.0)
        with pytest.raises(RegistryUnavailableError) as info:
            reg.repository("app").manifests.get_raw("latest")
        message = str(info.value)
        assert "latest" in message and "2 attempt(s)" in message and "read timed out" in message
        assert info.value.method == "GET"
        reg.close()
    finally:
        stop.set()
        thread.join(5)
        listener.close()


# -- deletes whose answer was lost --------------------------------------------------------
DIGEST = "sha256:" + "d" * 64
MANIFEST_404 = {"status_code": 404,
                "json": {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}}


def _delete_calls(reg: Registry) -> dict[str, tuple[str, Any]]:
    repo = reg.repository("app")
    return {
        "manifests.delete": (f"{BASE}/v2/app/manifests/{DIGEST}",
                             lambda: repo.manifests.delete(DIGEST)),
        "images.delete_by_digest": (f"{BASE}/v2/app/manifests/{DIGEST}",
                                    lambda: repo.images.delete_by_digest(DIGEST)),
        "blobs.delete": (f"{BASE}/v2/app/blobs/{DIGEST}", lambda: repo.blobs.delete(DIGEST)),
        "tags.delete": (f"{BASE}/v2/app/manifests/v1", lambda: repo.tags.delete("v1")),
    }


DELETES = ["manifests.delete", "images.delete_by_digest", "blobs.delete", "tags.delete"]


def _manifest_read_before_delete(
    adapter: requests_mock.Adapter, call: str, url: str,
) -> list[str]:
    """A manifest delete reads the manifest first (its referrers tag entry, if it has a
    subject, goes with it): here it is gone already. The methods it costs."""
    if call not in ("manifests.delete", "images.delete_by_digest"):
        return []
    adapter.register_uri("GET", url, [MANIFEST_404])
    return ["GET"]


# answers that may come after the registry acted: the connection broke once the request
# was sent, the answer timed out, a gateway lost the registry's answer
def _refused() -> requests.exceptions.ConnectionError:
    """What requests raises for a refused connection (urllib3 2: the OSError as cause)."""
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as exc:
            raise urllib3.exceptions.NewConnectionError(
                None, f"Failed to establish a new connection: {exc}") from exc
    except urllib3.exceptions.NewConnectionError as exc:
        return requests.exceptions.ConnectionError(
            urllib3.exceptions.MaxRetryError(None, "/v2/?secret=s3cr3t", exc))


class _CutBody(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        raise urllib3.exceptions.ProtocolError("connection broken")


LOST = [
    {"exc": requests.exceptions.ReadTimeout},
    {"exc": requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "x")))},
    {"raw": "cut"},
    {"status_code": 504},
    {"status_code": 502},
]


def _answers(lost: dict[str, Any]) -> list[dict[str, Any]]:
    if lost.get("raw") == "cut":  # a 202 whose body broke off: a fresh response each time
        lost = {"raw": urllib3.HTTPResponse(body=_CutBody(), preload_content=False,
                                            status=202, headers={"Content-Length": "10"})}
    return [lost, MANIFEST_404]


@pytest.mark.parametrize("lost", LOST, ids=["read-timeout", "reset", "cut", "504", "502"])
@pytest.mark.parametrize("call", DELETES)
def test_a_delete_found_gone_after_its_answer_was_lost_is_done(
    call: str, lost: dict[str, Any]
) -> None:
    reg, adapter = make(NullAuthenticator(), retries=2)
    url, delete = _delete_calls(reg)[call]
    adapter.register_uri("DELETE", url, _answers(lost))
    reads = _manifest_read_before_delete(adapter, call, url)
    delete()  # no NotFoundError: the first attempt did it
    assert [r.method for r in adapter.request_history] == [*reads, "DELETE", "DELETE"]


@pytest.mark.parametrize("call", DELETES)
def test_a_delete_answered_404_at_once_is_not_found(call: str) -> None:
    reg, adapter = make(NullAuthenticator(), retries=2)
    url, delete = _delete_calls(reg)[call]
    adapter.register_uri("DELETE", url, [MANIFEST_404])
    _manifest_read_before_delete(adapter, call, url)
    with pytest.raises(NotFoundError):
        delete()


@pytest.mark.parametrize("never_sent", [
    {"exc": requests.exceptions.ConnectTimeout},
    {"exc": _refused()},
    {"status_code": 503},
    {"status_code": 429},
], ids=["connect-timeout", "refused", "503", "429"])
def test_a_404_after_an_attempt_that_never_reached_the_registry_is_not_found(
    never_sent: dict[str, Any]
) -> None:
    reg, adapter = make(NullAuthenticator(), retries=2)
    adapter.register_uri("DELETE", f"{BASE}/v2/app/manifests/{DIGEST}",
                         [never_sent, MANIFEST_404])
    reads = _manifest_read_before_delete(adapter, "manifests.delete",
                                         f"{BASE}/v2/app/manifests/{DIGEST}")
    with pytest.raises(NotFoundError):
        reg.repository("app").manifests.delete(DIGEST)
    assert len(adapter.request_history) == len(reads) + 2


def test_a_get_found_gone_after_a_lost_answer_is_still_not_found() -> None:
    reg, adapter = make(NullAuthenticator(), retries=2)
    adapter.register_uri("GET", MANIFEST_URL,
                         [{"exc": requests.exceptions.ReadTimeout}, MANIFEST_404])
    with pytest.raises(NotFoundError):
        reg.repository("app").manifests.get_raw("latest")


# -- connection errors keep their cause ----------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _causes(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cause = exc.__cause__
    while cause is not None and cause not in out:
        out.append(cause)
        cause = cause.__cause__ or cause.__context__
    return out


def test_a_refused_connection_says_refused_and_chains_the_os_error() -> None:
    port = _closed_port()
    reg = Registry(f"127.0.0.1:{port}", protocol="http", authenticator=NullAuthenticator(),
                   retries=1, backoff=0.0)
    with pytest.raises(RegistryUnavailableError) as caught:
        reg.ping()
    err = caught.value
    assert "connection refused" in str(err) and f"127.0.0.1:{port}" in str(err)
    assert "2 attempt(s)" in str(err)
    assert any(isinstance(c, ConnectionRefusedError) for c in _causes(err))


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_refused_proxy_is_named_as_the_proxy_not_the_registry(scheme: str) -> None:
    """The registry was never reached: "is a registry listening on HOST?" sends the user
    to the wrong machine. The proxy's address is not repeated (it may hold a password)."""
    port = _closed_port()
    reg = Registry("registry.example.test:5000", protocol=scheme, retries=0,
                   authenticator=NullAuthenticator(),
                   proxy=f"http://user:pa55@127.0.0.1:{port}")
    with pytest.raises(RegistryUnavailableError) as caught:
        reg.ping()
    message = str(caught.value)
    assert "proxy" in message and "connection refused" in message
    assert "is a registry listening" not in message and "pa55" not in message


def _hang_up(conn: socket.socket) -> None:
    conn.recv(65536)  # read the request, answer nothing


def _reset(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _tls_only(certfile: str, keyfile: str) -> Callable[[socket.socket], None]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)

    def handle(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            context.wrap_socket(conn, server_side=True)  # a plain-HTTP request: no handshake

    return handle


@pytest.mark.parametrize(("handler", "words"), [
    (_hang_up, "the server closed the connection without answering"),
    (_reset, "connection reset by peer"),
])
def test_a_plain_http_request_to_a_port_that_hangs_up_suggests_https(
    handler: Callable[[socket.socket], None], words: str,
) -> None:
    with tcp_server(handler) as port:
        reg = Registry(f"127.0.0.1:{port}", protocol="http", authenticator=NullAuthenticator(),
                       retries=0)
        with pytest.raises(RegistryUnavailableError) as caught:
            reg.ping()
    message = str(caught.value)
    assert words in message and "HTTPS port? use protocol='https'" in message
    assert _causes(caught.value)


def test_plain_http_to_a_tls_port_says_so(tmp_path: Any) -> None:
    from registry_client.testing import self_signed_certificate

    cert, key = self_signed_certificate(tmp_path)
    with tcp_server(_tls_only(str(cert), str(key))) as port:
        reg = Registry(f"127.0.0.1:{port}", protocol="http", authenticator=NullAuthenticator(),
                       retries=0)
        with pytest.raises(RegistryError) as caught:
            reg.ping()
    assert "use protocol='https'" in str(caught.value)


def test_nginx_answering_plain_http_on_its_https_port_says_so() -> None:
    reg, adapter = make(NullAuthenticator(), retries=0)
    adapter.register_uri(
        "GET", f"{BASE}/v2/", status_code=400, headers={"Content-Type": "text/html"},
        text="<html><head><title>400 The plain HTTP request was sent to HTTPS port</title>",
    )
    with pytest.raises(RegistryResponseError, match="speaks HTTPS"):
        reg.ping()


def _name_resolution_error() -> requests.exceptions.ConnectionError:
    try:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except OSError as exc:
            raise urllib3.exceptions.NameResolutionError("nope.example", None, exc) from exc  # type: ignore[arg-type]
    except urllib3.exceptions.NameResolutionError as exc:
        return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(
            None, "/v2/?token=SECRET-IN-URL", exc))  # type: ignore[arg-type]


@pytest.mark.parametrize(("raised", "words"), [
    (_name_resolution_error(), "name resolution failed (Name or service not known)"),
    (requests.exceptions.ConnectTimeout(urllib3.exceptions.ConnectTimeoutError(
        None, "timed out")), "connect timed out (no connection to registry.example within 2 s; "
     "raise timeout= for a slow registry)"),
    (requests.exceptions.ReadTimeout(urllib3.exceptions.ReadTimeoutError(
        None, "/v2/?token=SECRET-IN-URL", "Read timed out.")),  # type: ignore[arg-type]
     "read timed out (no answer within 5 s; raise timeout= for a slow registry)"),
    (requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))),
     "connection reset by peer"),
], ids=["dns", "connect-timeout", "read-timeout", "reset"])
def test_connection_errors_say_their_cause_and_chain_it(raised: Exception, words: str) -> None:
    reg, adapter = make(NullAuthenticator(), retries=1)
    adapter.register_uri("GET", MANIFEST_URL, exc=raised)
    with pytest.raises(RegistryUnavailableError) as caught:
        reg.repository("app").manifests.get_raw("latest")
    err = caught.value
    assert words in str(err)
    assert err.__cause__ is not None
    text = "".join(traceback.format_exception(err))
    assert "SECRET-IN-URL" not in text  # the cause chained is the one without the URL


def test_a_token_server_that_refuses_connections_says_so() -> None:
    port = _closed_port()
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    adapter.register_uri("GET", MANIFEST_URL, status_code=401, headers={
        "WWW-Authenticate": challenge(realm=f"http://127.0.0.1:{port}/token")})
    reg = Registry(DOMAIN, session=session, authenticator=TokenAuthenticator(), retries=1,
                   backoff=0.0)
    # the realm is plain HTTP on another host: allowed for an anonymous token
    session.mount("http://", requests.adapters.HTTPAdapter())
    with pytest.raises(RegistryUnavailableError) as caught:
        reg.repository("app").manifests.get_raw("latest")
    assert "connection refused" in str(caught.value)
    assert any(isinstance(c, ConnectionRefusedError) for c in _causes(caught.value))


# -- ping proves a registry ----------------------------------------------------------------
V2 = f"{BASE}/v2/"
API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


@pytest.mark.parametrize("answer", [
    {"status_code": 200, "headers": {"Content-Type": "text/html"},
     "text": "<!DOCTYPE html><html><body>Welcome to nginx!</body></html>"},
    {"status_code": 200, "headers": {"Content-Type": "text/plain"}, "text": "OK"},
    {"status_code": 200, "json": ["not", "an", "object"]},
    {"status_code": 200, "text": ""},
    {"status_code": 401, "headers": {"WWW-Authenticate": "Negotiate"}, "text": "<html>"},
    {"status_code": 401, "text": "go away"},
    {"status_code": 404, "headers": {"Content-Type": "text/html"}, "text": "<h1>Not Found</h1>"},
    {"status_code": 403, "headers": {"Content-Type": "text/html"}, "text": "<h1>Forbidden</h1>"},
    {"status_code": 200, "json": {"service": "billing-api", "version": 2, "status": "ok"}},
], ids=["html", "text", "json-list", "empty", "401-negotiate", "401-no-challenge", "404-html",
        "403-html", "json-api"])
def test_ping_refuses_a_server_that_is_not_a_registry(answer: dict[str, Any]) -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("GET", V2, **answer)
    with pytest.raises(RegistryResponseError) as caught:
        reg.ping()
    err = caught.value
    assert type(err) is RegistryResponseError
    assert "not a container registry" in str(err) and V2 in str(err)
    assert "Docker-Distribution-API-Version" in str(err)
    assert (err.status_code, err.method, err.url) == (answer["status_code"], "GET", V2)


@pytest.mark.parametrize("answer", [
    {"status_code": 200, "json": {}},  # no header, but the registry's answer
    {"status_code": 200, "headers": API_VERSION, "text": ""},
    {"status_code": 200, "headers": {**API_VERSION, "Content-Type": "text/html"}, "text": "<p>"},
], ids=["json-object", "header-empty-body", "header-html"])
def test_ping_accepts_what_answers_like_a_registry(answer: dict[str, Any]) -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("GET", V2, **answer)
    reg.ping()


@pytest.mark.parametrize("answer", [
    {"status_code": 401, "headers": {"WWW-Authenticate": 'Basic realm="registry"'}},
    {"status_code": 401, "headers": {"WWW-Authenticate": challenge()}},
    {"status_code": 401, "headers": API_VERSION},
], ids=["basic", "bearer", "header-only"])
def test_ping_of_a_registry_that_refuses_credentials_is_an_authentication_error(
    answer: dict[str, Any],
) -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("GET", V2, **answer)
    with pytest.raises(AuthenticationError):
        reg.ping()


def test_ping_names_the_body_of_a_json_api_with_an_article() -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("GET", V2, json={"status": "ok"},
                         headers={"Content-Type": "application/json"})
    with pytest.raises(RegistryResponseError, match="with an application/json body"):
        reg.ping()


def test_anonymous_ping_refused_says_how_to_give_credentials() -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("GET", V2, status_code=401, json={"errors": [
        {"code": "UNAUTHORIZED", "message": "authentication required"}]},
        headers={**API_VERSION, "WWW-Authenticate": 'Basic realm="registry"'})
    with pytest.raises(AuthenticationError) as caught:
        reg.ping()
    assert caught.value.status_code == 401
    assert "no credentials were given" in str(caught.value)


def test_ping_of_a_registry_answering_404_with_its_header_is_not_found() -> None:
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("GET", V2, status_code=404, headers=API_VERSION,
                         json={"errors": [{"code": "NOT_FOUND", "message": "x"}]})
    with pytest.raises(NotFoundError):
        reg.ping()


# -- errors that name the user's call --------------------------------------------------------
@pytest.mark.parametrize(("name", "host"), [
    ("localhost:5000/app", "localhost:5000"),
    ("registry.example/team/app", "registry.example"),
    ("REGISTRY.example/team/app", "REGISTRY.example"),
    ("ghcr.io:443/org/app", "ghcr.io:443"),
])
def test_a_repository_name_with_a_registry_host_says_so(name: str, host: str) -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        Registry(DOMAIN).repository(name)
    message = str(caught.value)
    assert f"registry host {host!r}" in message
    assert "repository_from_string" in message


@pytest.mark.parametrize(("name", "path"), [
    ("http://localhost:5000/app", "app"),
    ("https://registry.example/team/app", "team/app"),
])
def test_a_repository_name_with_a_scheme_says_so(name: str, path: str) -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        Registry(DOMAIN).repository(name)
    message = str(caught.value)
    assert "scheme and host" in message and f"({path!r})" in message
    assert "repository_from_string" in message
    assert "tag or digest" not in message


@pytest.mark.parametrize("name", [
    "index.docker.io/library/alpine", "docker.io/library/alpine",
    "registry-1.docker.io/library/alpine",
])
def test_a_docker_hub_repository_name_with_any_hub_host_says_so(name: str) -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        Registry("docker.io").repository(name)
    assert f"registry host {name.split('/')[0]!r}" in str(caught.value)


def test_tags_delete_of_a_digest_points_at_delete_by_digest() -> None:
    reg, adapter = make(NullAuthenticator())
    with pytest.raises(InvalidReferenceError) as caught:
        reg.repository("app").tags.delete(MANIFEST_DIGEST)
    assert f"expected a tag, got the digest {MANIFEST_DIGEST!r}" in str(caught.value)
    assert "images.delete_by_digest" in str(caught.value)
    assert adapter.request_history == []


def test_a_repository_whose_first_component_has_a_dot_is_still_a_repository() -> None:
    # legal on any registry (mirrors keep "docker.io/library/alpine" as a path)
    assert Registry(DOMAIN).repository("mirror.example/library/alpine").name == (
        "mirror.example/library/alpine")


REPO_CALLS: dict[str, Callable[[Any, str], Any]] = {
    "manifests.get_raw": lambda repo, ref: repo.manifests.get_raw(ref),
    "manifests.head": lambda repo, ref: repo.manifests.head(ref),
    "images.get_by_tag": lambda repo, ref: repo.images.get_by_tag(ref),
    "tags.delete": lambda repo, ref: repo.tags.delete(ref),
    "manifests.delete": lambda repo, ref: repo.manifests.delete(ref),
    "blobs.get": lambda repo, ref: repo.blobs.get(ref),
}


@pytest.mark.parametrize(("call", "wanted"), [
    ("manifests.get_raw", "a tag or digest"),
    ("manifests.head", "a tag or digest"),
    ("images.get_by_tag", "a tag"),
    ("tags.delete", "a tag"),
    ("manifests.delete", "a digest"),
    ("blobs.get", "a digest"),
])
@pytest.mark.parametrize("reference", [
    "team/app:1.0", "localhost:5000/team/app:1.0", "app:1.0", f"app@{MANIFEST_DIGEST}",
])
def test_a_full_reference_where_a_tag_or_digest_belongs_says_so(
    call: str, wanted: str, reference: str,
) -> None:
    reg, adapter = make(NullAuthenticator())
    with pytest.raises(InvalidReferenceError) as caught:
        REPO_CALLS[call](reg.repository("app"), reference)
    assert f"expected {wanted}, got the reference {reference!r}" in str(caught.value)
    assert adapter.request_history == []


@pytest.mark.parametrize("value", ["sha256:abc", "-bad", "sha512:" + "z" * 128])
def test_a_malformed_tag_or_digest_is_not_called_a_reference(value: str) -> None:
    reg, _ = make(NullAuthenticator())
    with pytest.raises(InvalidReferenceError) as caught:
        reg.repository("app").manifests.get_raw(value)
    assert "got the reference" not in str(caught.value)


# -- the plain-HTTP / no-verification warning: once per host per process --------------------
def test_the_insecure_warning_is_logged_once_per_host_per_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(endpoint_mod, "_WARNED", set())
    caplog.set_level(logging.WARNING, logger="registry_client")

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "registry_client"]

    for _ in range(3):
        Registry("localhost:5000", protocol="http")
    Registry("LOCALHOST:5000", protocol="http")
    assert warnings() == ["registry localhost:5000: plain HTTP, traffic is not encrypted"]
    Registry("localhost:5001", protocol="http")
    for _ in range(2):
        Registry("localhost:5000", verify=False)
    assert warnings()[1:] == [
        "registry localhost:5001: plain HTTP, traffic is not encrypted",
        "registry localhost:5000: TLS certificate verification is disabled",
    ]


def test_a_bare_400_to_a_plain_http_head_suggests_https() -> None:
    # Go's TLS server answers a plain-HTTP request with "HTTP/1.0 400" and no header
    reg, adapter = make(NullAuthenticator(), protocol="http", retries=0)
    adapter.register_uri("HEAD", f"http://{DOMAIN}/v2/app/manifests/latest", status_code=400)
    with pytest.raises(RegistryResponseError, match="speaks HTTPS"):
        reg.repository("app").manifests.head("latest")


# -- the Authenticator contract, as a custom authenticator sees it --------------------------
class _HeaderAuth:
    """A custom authenticator written from help(Authenticator) alone: two hooks, no bind."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[str, ...], str | None]] = []
        self.challenged = False

    def handle_request(self, request: requests.PreparedRequest) -> None:
        self.seen.append(("request", get_scopes(request), request.headers.get("Authorization")))
        request.headers["Authorization"] = "Custom " + ("fresh" if self.challenged else "stale")

    def handle_response(self, response: requests.Response) -> bool:
        self.seen.append(("response", get_scopes(response.request), None))
        if self.challenged:
            return False
        self.challenged = True
        return True


def test_a_custom_authenticator_with_the_two_hooks_sees_scopes_and_one_resend() -> None:
    auth = _HeaderAuth()
    assert isinstance(auth, Authenticator) and not isinstance(auth, BindableAuthenticator)
    reg, adapter = make(auth)
    adapter.register_uri("GET", f"{BASE}/v2/app/tags/list", [
        {"status_code": 401, "headers": {"WWW-Authenticate": "Custom"}},
        {"json": {"name": "app", "tags": ["1"]}},
    ])
    assert reg.repository("app").tags.get_all() == ["1"]
    scope = ("repository:app:pull",)
    assert auth.seen == [("request", scope, None), ("response", scope, None),
                         ("request", scope, None)]  # the re-sent copy: no old Authorization
    assert [r.headers["Authorization"] for r in adapter.request_history] == [
        "Custom stale", "Custom fresh"]


class _BindingAuth(NullAuthenticator):
    def __init__(self) -> None:
        self.bound: list[dict[str, Any]] = []

    def bind(self, transport: TokenTransport, *, trusted_http_host: str | None = None,
             registry: str | None = None) -> None:
        self.bound.append({"transport": transport, "trusted_http_host": trusted_http_host,
                           "registry": registry})


def test_an_authenticator_with_bind_is_handed_the_requesters_transport() -> None:
    auth = _BindingAuth()
    assert isinstance(auth, BindableAuthenticator)
    _reg, adapter = make(auth, domain="localhost:5000")
    assert [(b["registry"], b["trusted_http_host"]) for b in auth.bound] == [
        ("https://localhost:5000", None)]
    adapter.register_uri("GET", "https://auth.example/token", json={"token": "t"})
    resp = auth.bound[0]["transport"]("GET", "https://auth.example/token", params=[])
    assert resp.status_code == 200 and adapter.request_history[-1].hostname == "auth.example"
    plain = _BindingAuth()
    Registry("localhost:5000", protocol="http", authenticator=plain)
    assert [(b["registry"], b["trusted_http_host"]) for b in plain.bound] == [
        ("http://localhost:5000", "localhost")]


def test_help_on_the_authenticator_protocol_names_every_hook() -> None:
    text = pydoc.render_doc(Authenticator, renderer=pydoc.plaintext)
    for name in ("handle_request", "handle_response", "bind", "get_scopes",
                 "BindableAuthenticator", "thread"):
        assert name in text, name
    bind_text = pydoc.render_doc(BindableAuthenticator, renderer=pydoc.plaintext)
    assert "trusted_http_host" in bind_text and "registry" in bind_text


# -- an answer that is not HTTP ----------------------------------------------------------
NOT_HTTP = {
    "status-line": (b"HELLO THERE\r\n\r\n", "HELLO THERE"),
    "two-lengths": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5000000\r\n\r\n{}",
                    "Content-Length"),
    "many-headers": (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(120))
                     + b"Content-Length: 2\r\n\r\n{}", "100 headers"),
    "long-header": (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\nContent-Length: 2\r\n\r\n{}",
                    "65536 bytes"),
    # a protocol switch the client never asked for (it sends no Upgrade): what follows
    # is no HTTP answer
    "unasked-switch": (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
                       b"Connection: Upgrade\r\n\r\n", "101"),
}


@pytest.mark.parametrize("case", sorted(NOT_HTTP))
def test_an_answer_that_is_not_http_is_a_response_error_not_retried(case: str) -> None:
    """A server that does not speak HTTP (or breaks its rules) answers the same way
    every time: a malformed answer, with its cause, not a broken connection to retry."""
    answer, cause = NOT_HTTP[case]
    connections: list[int] = []

    def handle(conn: socket.socket) -> None:
        connections.append(1)
        conn.recv(65536)
        conn.sendall(answer)

    with tcp_server(handle) as port:
        reg = Registry(f"127.0.0.1:{port}", protocol="http", authenticator=NullAuthenticator(),
                       retries=2, backoff=0.0)
        with pytest.raises(RegistryResponseError) as caught:
            reg.repository("app").tags.get_all()
    assert type(caught.value) is RegistryResponseError
    assert "not valid HTTP" in str(caught.value) and cause in str(caught.value)
    assert len(connections) == 1


def test_a_location_this_client_cannot_follow_is_a_response_error() -> None:
    """An upload Location of file:///etc/passwd: the registry's answer is unusable."""
    reg, adapter = make(NullAuthenticator())
    adapter.register_uri("HEAD", re.compile(r".*/blobs/sha256:.*"), status_code=404)
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
                         headers={"Location": "file:///etc/passwd"})
    with pytest.raises(RegistryResponseError) as caught:
        reg.repository("app").blobs.upload(b"x" * 10)
    assert type(caught.value) is RegistryResponseError
    assert "InvalidSchema" not in str(caught.value)


# -- a transfer called off -------------------------------------------------------------------
def test_a_request_of_a_called_off_transfer_is_not_tried_again() -> None:
    """Ctrl-C (or another blob's failure) calls a transfer off: a worker waiting out a
    503 or a cut stops at its next retry instead of going through all of them."""
    reg, adapter = make(NullAuthenticator(), retries=5)
    sent, failed = threading.Event(), threading.Event()

    def busy(request: Any, context: Any) -> bytes:
        sent.set()
        failed.wait(5)
        context.status_code = 503
        return b""

    adapter.register_uri("GET", f"{BASE}/v2/app/tags/list", content=busy)

    def job(n: int) -> None:
        if n == 0:
            sent.wait(5)  # the other one's request is on its way
            try:
                raise RuntimeError("another blob failed")
            finally:
                failed.set()
        reg.repository("app").tags.get_all()

    with pytest.raises(RuntimeError, match="another blob failed"):
        parallel(job, [0, 1], 2)
    assert adapter.call_count == 1


def _self_signed_registry(tmp_path: Path) -> Callable[[socket.socket], None]:
    """A connection handler answering ``GET /v2/`` with 200 over TLS with a self-signed
    certificate (one request per connection)."""
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))

    def registry(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(65536)
            tls.sendall(b"HTTP/1.1 200 OK\r\nDocker-Distribution-API-Version: registry/2.0\r\n"
                        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")

    return registry


def test_verify_false_is_said_once_in_the_log_never_as_a_warning_per_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder,
) -> None:
    """The library never prints: urllib3's InsecureRequestWarning (one per request, to
    stderr when nobody filters warnings) is not raised for a registry the caller asked
    not to verify -- the log says it once per host instead."""
    monkeypatch.setattr(endpoint_mod, "_WARNED", set())
    with tcp_server(_self_signed_registry(tmp_path)) as port:
        reg = Registry(f"127.0.0.1:{port}", verify=False, authenticator=NullAuthenticator(),
                       retries=0)
        for _ in range(3):
            reg.ping()
    insecure = [w for w in recwarn if issubclass(w.category,
                                                 urllib3.exceptions.InsecureRequestWarning)]
    assert insecure == []


def test_verify_false_stays_quiet_after_the_callers_warning_filters_are_reset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The warning was kept quiet by a process-wide filter added with the first Registry
    of a host: once the caller's filters were restored (pytest does it around every
    test; ``warnings.catch_warnings``), later requests warned on stderr again, or raised
    InsecureRequestWarning -- no RegistryError -- under ``-W error``."""
    monkeypatch.setattr(endpoint_mod, "_WARNED", set())
    with tcp_server(_self_signed_registry(tmp_path)) as port:
        # (a module's fixture: made once, used by tests that each get their own filters)
        reg = Registry(f"127.0.0.1:{port}", verify=False, authenticator=NullAuthenticator(),
                       retries=0)
        for _ in range(2):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                reg.ping()
                Registry(f"127.0.0.1:{port}", verify=False, authenticator=NullAuthenticator(),
                         retries=0).ping()


def test_a_worker_of_a_called_off_transfer_sends_no_token_request() -> None:
    """Another blob failed while this worker waited for the first request's challenge:
    it went on to ask the token server once before its first retry's wait noticed the
    call-off -- one wasted token request per worker (11 for 8 workers against a token
    server that kept failing, where the asyncio API sent 4)."""
    reg, adapter = make(TokenAuthenticator("alice", PASSWORD))
    token_server(adapter)
    bearer_registry(adapter)
    other = f"{BASE}/v2/other/manifests/1.0"
    bearer_registry(adapter, url=other, www=challenge("other"))
    reg.repository("app").manifests.get_raw("latest")  # the challenge is known
    asked = len(on_host(adapter, "auth.example"))
    call_off = _calloff.CallOff()
    call_off.set()
    _calloff.enter(call_off)
    try:
        with pytest.raises(_calloff.Cancelled):
            reg.repository("other").manifests.get_raw("1.0")
    finally:
        _calloff.enter(None)
    assert len(on_host(adapter, "auth.example")) == asked


@pytest.mark.parametrize("domain", ["127.0.0.1:99999", "[::1]:70000", "registry.example:0",
                                    "127.0.0.1:" + "9" * 30])
def test_a_port_no_connection_can_use_is_refused_when_the_registry_is_made(domain: str) -> None:
    """The reference grammar takes any digits for a port (as Docker's); a request to it
    failed later, saying the registry's answer was unusable -- no registry had answered."""
    with pytest.raises(ValueError, match=r"port .* is out of range \(1-65535\)"):
        Registry(domain)


def _wrapped_ssl_error(inner: ssl.SSLError) -> requests.exceptions.SSLError:
    """``inner`` as requests raises it: its SSLError, from urllib3's, from ssl's."""
    inner.reason = getattr(inner, "reason", None)  # (set by _ssl itself when it raises)
    if isinstance(inner, ssl.SSLCertVerificationError):
        inner.verify_message = "self-signed certificate"
    try:
        try:
            raise inner
        except ssl.SSLError as exc:
            raise urllib3.exceptions.SSLError(exc) from exc
    except urllib3.exceptions.SSLError as exc:
        return requests.exceptions.SSLError(exc)


def test_a_tls_connection_closed_after_its_handshake_is_a_connection_failure() -> None:
    """An EOF in the middle of TLS after the handshake (a server, or a proxy's tunnel,
    that hung up while an upload was sent: "EOF occurred in violation of protocol") was
    taken for a handshake failure: not retried, and the advice was verify= or
    verify=False -- for a network drop, where the asyncio flavour retried. It is a
    connection that closed now, retried as any; a handshake's failure stays TLS's."""
    eof = ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:2427)")
    lost = requester_mod.transmit_error(_wrapped_ssl_error(eof))
    assert (lost.kind, lost.connection, lost.sent) == ("tls-closed", True, True)
    assert "verify" not in lost.words and "client certificate" in lost.words
    def do_handshake() -> None:  # (where ssl raises a handshake's errors)
        raise ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:1006)")

    try:
        do_handshake()
    except ssl.SSLError as exc:
        at_handshake = exc
    failed = requester_mod.transmit_error(_wrapped_ssl_error(at_handshake))
    assert (failed.kind, failed.connection) == ("tls", False)
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    assert requester_mod.transmit_error(_wrapped_ssl_error(untrusted)).kind == "tls"


def test_a_tls_handshake_s_failure_is_marked_by_the_connection(tmp_path: Path) -> None:
    """The marker :func:`transmit_error` reads: set by the library's HTTPS connection on
    an error of its handshake (an untrusted certificate here)."""
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))

    def registry(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
            pass

    with tcp_server(registry) as port, pytest.raises(RegistrySSLError, match="not trusted"):
        Registry(f"127.0.0.1:{port}", authenticator=NullAuthenticator(), retries=2,
                 backoff=0.0).ping()


def test_a_tls_failure_at_a_redirect_s_target_names_that_host() -> None:
    """A blob redirected to storage (S3, a CDN) whose certificate is not trusted said
    "TLS error talking to <the registry>": the registry's certificate was fine (the
    manifest came just before), and the user went to fix the wrong one."""
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    blob = "sha256:" + "b" * 64
    adapter.register_uri("GET", f"https://registry.example/v2/app/blobs/{blob}",
                         status_code=307,
                         headers={"Location": "https://storage.example:8443/b?sig=1"})

    def untrusted(request: Any, context: Any) -> bytes:
        raise requests.exceptions.SSLError("certificate verify failed", request=request)

    adapter.register_uri("GET", "https://storage.example:8443/b?sig=1", content=untrusted)
    reg = Registry("registry.example", session=session, authenticator=NullAuthenticator(),
                   retries=0)
    with pytest.raises(RegistrySSLError) as info:
        reg.repository("app").blobs.get(blob)
    assert ("TLS error talking to storage.example:8443, where registry.example redirected"
            in str(info.value)), str(info.value)


def test_tls_ended_on_every_attempt_is_a_tls_error_unless_a_body_was_cut() -> None:
    """A bodyless request whose every attempt ends in the middle of TLS: a registry that
    wants a client certificate whose TLS 1.3 alert was lost to the close (the blocking
    flavour mostly reads an EOF there) -- a RegistrySSLError saying so, after the
    retries. A body cut on its way stays a connection failure, which an upload resumes
    from (RegistryUnavailableError)."""
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)

    def cut(request: Any, context: Any) -> bytes:
        raise _wrapped_ssl_error(
            ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:2427)"))

    adapter.register_uri("GET", "https://registry.example/v2/", content=cut)
    adapter.register_uri("HEAD", re.compile(r".*/blobs/sha256:.*"), status_code=404)
    adapter.register_uri("POST", "https://registry.example/v2/app/blobs/uploads/",
                         status_code=202, headers={"Location": "/v2/app/blobs/uploads/u1"})
    adapter.register_uri("PUT", re.compile(r".*/blobs/uploads/u1.*"), content=cut)
    reg = Registry("registry.example", session=session, authenticator=NullAuthenticator(),
                   retries=1, backoff=0.0)
    with pytest.raises(RegistrySSLError, match=r"after 2 attempt\(s\).*client certificate"):
        reg.ping()
    with pytest.raises(RegistryUnavailableError) as upload:
        reg.repository("app").blobs.upload(b"x" * 100)
    assert not isinstance(upload.value, RegistrySSLError)


def test_a_proxy_hanging_up_on_the_connect_reads_alike_in_both_flavours() -> None:
    """A proxy that reads the CONNECT and hangs up without answering (an https-only proxy
    given as http://): the blocking flavour said "the server closed the connection
    without answering", the asyncio one "the proxy closed ..." -- it was the proxy."""
    with tcp_server(lambda conn: conn.recv(65536)) as port:
        reg = Registry("registry.example.test", proxy=f"http://127.0.0.1:{port}", retries=0)
        with pytest.raises(RegistryUnavailableError) as info:
            reg.ping()
    assert "the proxy closed the connection without answering" in str(info.value)


@pytest.mark.parametrize("session", ["own", "callers"])
def test_a_handshake_cut_and_a_proxy_hanging_up_read_alike_with_any_session(
    session: str, tmp_path: Path,
) -> None:
    """How a TLS error and a proxy's hang-up are told apart was marked by the library's
    own HTTPS connection only: with a session of the caller's (the CLI's -v, or its
    client certificate; Registry(session=...)) a handshake cut was retried three times
    as an EOF after it, with the client-certificate hint, and a proxy hanging up on the
    CONNECT was "the server". They read as with the library's own session now."""
    def cut_in_handshake(conn: socket.socket) -> None:
        conn.recv(65536)  # (the ClientHello), then a hang-up

    attempts: list[int] = []

    def counted(conn: socket.socket) -> None:
        attempts.append(1)
        cut_in_handshake(conn)

    caller = requests.Session() if session == "callers" else None
    with tcp_server(counted) as port:
        reg = Registry(f"127.0.0.1:{port}", session=caller, authenticator=NullAuthenticator(),
                       retries=3, backoff=0.0)
        with pytest.raises(RegistrySSLError) as cut:
            reg.ping()
    assert len(attempts) == 1 and "attempt" not in str(cut.value), str(cut.value)
    with tcp_server(lambda conn: conn.recv(65536)) as port:
        reg = Registry("registry.example.test", proxy=f"http://127.0.0.1:{port}",
                       session=requests.Session() if session == "callers" else None,
                       retries=0)
        with pytest.raises(RegistryUnavailableError) as hung_up:
            reg.ping()
    assert "the proxy closed the connection without answering" in str(hung_up.value)


@pytest.mark.parametrize("location", ["http://[::1", "http://a b/"])
def test_a_token_server_redirect_to_a_malformed_url_is_a_typed_error(location: str) -> None:
    """requests raises a bare ValueError (from urlparse) following a redirect to a URL
    it cannot read: for a token request it reached the caller untyped ("Invalid IPv6
    URL", naming neither the token server nor the call), where the same Location from
    the registry, and either in the asyncio flavour, is a RegistryUnavailableError."""
    def handle(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            head = conn.recv(65536)  # (a request line and headers: one small packet)
            port = conn.getsockname()[1]
            if b" /token" in head:
                conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\n"
                             "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
            else:
                conn.sendall(b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="'
                             + f"http://127.0.0.1:{port}/token".encode()
                             + b'",service="reg"\r\nContent-Length: 0\r\nConnection: close'
                             b"\r\n\r\n")

    with tcp_server(handle) as port, Registry(f"127.0.0.1:{port}", protocol="http",
                                              retries=0, timeout=(2, 2)) as reg:
        with pytest.raises(RegistryUnavailableError, match="token server"):
            reg.repository("app").tags.get_all()
