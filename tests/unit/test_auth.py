"""Tests for registry_client.auth: the strategies, driven by hand-built requests objects;
at the end, refusals of half credentials and what a refused request says, through a
Registry on requests-mock."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import types
from collections.abc import Callable
from typing import Any

import pytest
import requests
import requests_mock
import urllib3

import registry_client.auth as auth_mod
from registry_client import Registry, docker_config
from registry_client._http import exception_chain
from registry_client.auth import (
    NO_CREDENTIALS_HINT,
    Authenticator,
    BasicAuthenticator,
    NullAuthenticator,
    TokenAuthenticator,
    get_scopes,
    set_scopes,
)
from registry_client.errors import (
    AuthenticationError,
    AuthorizationError,
    RegistryError,
    RegistryUnavailableError,
    TokenError,
)

REGISTRY = "https://registry.example"
REALM = "https://auth.example/token"
CHALLENGE = f'Bearer realm="{REALM}",service="reg",scope="repository:app:pull"'
PASSWORD = "pa55-w0rd-SECRET"


# -- helpers ----------------------------------------------------------------------------
def make_request(
    url: str = f"{REGISTRY}/v2/app/manifests/latest",
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    scopes: tuple[str, ...] | None = None,
) -> requests.PreparedRequest:
    prepared = requests.Request(method, url, headers=headers or {}).prepare()
    if scopes is not None:
        set_scopes(prepared, scopes)
    return prepared


def make_response(
    status: int = 200,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    request: requests.PreparedRequest | None = None,
    url: str | None = None,
) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.raw = urllib3.HTTPResponse(body=io.BytesIO(body), preload_content=False)
    r.headers.update(headers or {})
    r.request = request  # type: ignore[assignment]
    r.url = url if url is not None else (request.url if request is not None else REGISTRY)
    return r


def challenge_401(
    request: requests.PreparedRequest, header: str | None = CHALLENGE
) -> requests.Response:
    headers = {"WWW-Authenticate": header} if header is not None else {}
    return make_response(401, headers=headers, request=request)


def token_body(token: str = "tok-1", **extra: Any) -> bytes:
    return json.dumps({"token": token, **extra}).encode()


class FakeTransport:
    """Records token requests and answers them from a callable or a queue of answers."""

    def __init__(
        self,
        answers: list[tuple[int, bytes]] | Callable[[int], tuple[int, bytes]] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.calls: list[dict[str, Any]] = []
        self._answers = answers
        self._delay = delay
        self._lock = threading.Lock()

    def __call__(self, method: str, url: str, **kw: Any) -> requests.Response:
        with self._lock:
            n = len(self.calls)
            self.calls.append({"method": method, "url": url, **kw})
        if self._delay:
            time.sleep(self._delay)
        if self._answers is None:
            status, body = 200, token_body(f"tok-{n + 1}")
        elif callable(self._answers):
            status, body = self._answers(n)
        else:
            status, body = self._answers[min(n, len(self._answers) - 1)]
        return make_response(status, body=body, url=url)

    def params(self, i: int = -1) -> list[tuple[str, str]]:
        return list(self.calls[i].get("params") or [])

    def scopes(self, i: int = -1) -> list[str]:
        return [v for k, v in self.params(i) if k == "scope"]


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    c = FakeClock()
    fake_time = types.SimpleNamespace(monotonic=c.monotonic, time=time.time, sleep=time.sleep)
    monkeypatch.setattr(auth_mod, "time", fake_time)
    return c


def bound_token_auth(
    transport: FakeTransport, username: str | None = None, password: str | None = None,
    **kw: Any,
) -> TokenAuthenticator:
    auth = TokenAuthenticator(username, password, **kw)
    auth.bind(transport)
    return auth


def learn(auth: TokenAuthenticator, scopes: tuple[str, ...] = ("repository:app:pull",)) -> str:
    """Run one challenge round trip; return the Authorization the re-sent request carries."""
    req = make_request(scopes=scopes)
    auth.handle_request(req)
    assert "Authorization" not in req.headers
    assert auth.handle_response(challenge_401(req)) is True
    again = make_request(scopes=scopes)
    auth.handle_request(again)
    return again.headers["Authorization"]


# -- scopes -----------------------------------------------------------------------------
def test_set_and_get_scopes() -> None:
    req = make_request()
    assert get_scopes(req) == ()
    set_scopes(req, ["repository:a:pull", "repository:b:pull,push"])
    assert get_scopes(req) == ("repository:a:pull", "repository:b:pull,push")
    assert get_scopes(None) == ()


# -- protocol ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "auth",
    [NullAuthenticator(), BasicAuthenticator("u", "p"), TokenAuthenticator()],
    ids=["null", "basic", "token"],
)
def test_strategies_satisfy_protocol(auth: object) -> None:
    assert isinstance(auth, Authenticator)


# -- NullAuthenticator ------------------------------------------------------------------
def test_null_sends_nothing_and_never_retries() -> None:
    auth = NullAuthenticator()
    req = make_request()
    auth.handle_request(req)
    assert "Authorization" not in req.headers
    assert auth.handle_response(challenge_401(req)) is False
    assert auth.handle_response(challenge_401(req, 'Basic realm="r"')) is False
    assert repr(auth) == "NullAuthenticator()"


# -- BasicAuthenticator -----------------------------------------------------------------
def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_sends_nothing_before_a_challenge() -> None:
    auth = BasicAuthenticator("alice", PASSWORD)
    req = make_request()
    auth.handle_request(req)
    assert "Authorization" not in req.headers


def test_basic_after_challenge_sends_header_up_front() -> None:
    auth = BasicAuthenticator("alice", PASSWORD)
    req = make_request()
    auth.handle_request(req)
    assert auth.handle_response(challenge_401(req, 'Basic realm="Registry Realm"')) is True
    again = make_request()
    auth.handle_request(again)
    assert again.headers["Authorization"] == _basic("alice", PASSWORD)
    # every later request to that host carries it, any path
    other = make_request(f"{REGISTRY}/v2/other/tags/list")
    auth.handle_request(other)
    assert other.headers["Authorization"] == _basic("alice", PASSWORD)


def test_basic_only_for_the_challenging_host() -> None:
    auth = BasicAuthenticator("alice", PASSWORD)
    req = make_request()
    auth.handle_response(challenge_401(req, 'Basic realm="r"'))
    for url in (
        "https://other.example/v2/",
        "http://registry.example/v2/",  # other scheme
        "https://registry.example:8443/v2/",  # other port
    ):
        r = make_request(url)
        auth.handle_request(r)
        assert "Authorization" not in r.headers, url


def test_basic_refuses_to_loop_when_its_credentials_are_refused() -> None:
    auth = BasicAuthenticator("alice", PASSWORD)
    req = make_request(headers={"Authorization": _basic("alice", PASSWORD)})
    assert auth.handle_response(challenge_401(req, 'Basic realm="r"')) is False


@pytest.mark.parametrize(
    "header",
    [None, CHALLENGE, 'Bearer realm="unterminated', "Digest realm=\"x\", nonce=\"y\""],
)
def test_basic_ignores_other_challenges(header: str | None) -> None:
    auth = BasicAuthenticator("alice", PASSWORD)
    req = make_request()
    assert auth.handle_response(challenge_401(req, header)) is False


@pytest.mark.parametrize("status", [200, 403, 404, 500])
def test_basic_ignores_non_401(status: int) -> None:
    auth = BasicAuthenticator("alice", PASSWORD)
    req = make_request()
    resp = make_response(status, headers={"WWW-Authenticate": 'Basic realm="r"'}, request=req)
    assert auth.handle_response(resp) is False


def test_basic_repr_hides_password() -> None:
    auth = BasicAuthenticator("alice", PASSWORD)
    text = repr(auth)
    assert "alice" in text
    assert PASSWORD not in text
    assert base64.b64encode(f"alice:{PASSWORD}".encode()).decode() not in text


# -- TokenAuthenticator: fetching -------------------------------------------------------
def test_token_anonymous_fetch() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    header = learn(auth)
    assert header == "Bearer tok-1"
    assert len(t.calls) == 1
    call = t.calls[0]
    assert call["method"] == "GET"
    assert call["url"] == REALM
    assert "Authorization" not in (call.get("headers") or {})
    assert ("service", "reg") in t.params()
    assert t.scopes() == ["repository:app:pull"]
    assert "account" not in dict(t.params())
    assert auth.has_credentials is False


def test_token_fetch_with_credentials() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t, "alice", PASSWORD)
    assert learn(auth) == "Bearer tok-1"
    call = t.calls[0]
    assert call["method"] == "GET"
    assert call["headers"]["Authorization"] == _basic("alice", PASSWORD)
    assert ("account", "alice") in t.params()
    assert ("service", "reg") in t.params()
    assert auth.has_credentials is True


def test_a_username_that_is_no_utf8_goes_in_the_basic_header_only() -> None:
    # bytes a docker config held (surrogateescape): a query holds text, and the
    # token request failed with a bare UnicodeEncodeError
    t = FakeTransport()
    auth = bound_token_auth(t, "us\udce9r", PASSWORD)
    assert learn(auth) == "Bearer tok-1"
    raw = b"us\xe9r:" + PASSWORD.encode()
    assert t.calls[0]["headers"]["Authorization"] == "Basic " + base64.b64encode(raw).decode()
    assert "account" not in dict(t.params())


def test_token_access_token_field_accepted() -> None:
    t = FakeTransport([(200, json.dumps({"access_token": "acc"}).encode())])
    auth = bound_token_auth(t)
    assert learn(auth) == "Bearer acc"


def test_token_scope_from_request_plus_challenge() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    req = make_request(scopes=("repository:app:pull,push",))
    header = f'Bearer realm="{REALM}",service="reg",scope="repository:base:pull"'
    assert auth.handle_response(challenge_401(req, header)) is True
    assert len(t.calls) == 1
    assert sorted(t.scopes(0)) == ["repository:app:pull,push", "repository:base:pull"]


def test_token_challenge_scope_is_used_by_the_resend_without_second_fetch() -> None:
    """The re-sent request must carry the token just fetched for request+challenge scopes.

    The token fetched in handle_response is cached under the union of both scopes,
    but handle_request looks up the request's scopes only: a second token request
    for a token that lacks the scope the registry asked for.
    """
    t = FakeTransport()
    auth = bound_token_auth(t)
    header = f'Bearer realm="{REALM}",service="reg",scope="repository:base:pull"'
    req = make_request(scopes=("repository:app:pull",))
    assert auth.handle_response(challenge_401(req, header)) is True
    again = make_request(scopes=("repository:app:pull",))
    auth.handle_request(again)
    assert again.headers["Authorization"] == "Bearer tok-1"
    assert len(t.calls) == 1


def test_token_scope_of_challenge_when_request_has_none() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    req = make_request(f"{REGISTRY}/v2/")
    assert auth.handle_response(challenge_401(req)) is True
    assert t.scopes() == ["repository:app:pull"]
    ping = make_request(f"{REGISTRY}/v2/")
    auth.handle_request(ping)
    assert ping.headers["Authorization"] == "Bearer tok-1"
    assert len(t.calls) == 1


def test_multi_scope_challenge_on_unscoped_request_needs_one_fetch() -> None:
    """A request without scopes (ping) re-sent after a challenge naming several scopes
    must reuse the token just fetched for exactly those scopes."""
    t = FakeTransport()
    auth = bound_token_auth(t)
    header = (f'Bearer realm="{REALM}",service="reg",'
              'scope="repository:b:pull repository:a:pull"')
    req = make_request(f"{REGISTRY}/v2/")
    assert auth.handle_response(challenge_401(req, header)) is True
    assert sorted(t.scopes(0)) == ["repository:a:pull", "repository:b:pull"]
    again = make_request(f"{REGISTRY}/v2/")
    auth.handle_request(again)
    assert again.headers["Authorization"] == "Bearer tok-1"
    assert len(t.calls) == 1


def test_token_fetched_before_request_once_challenge_known() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    learn(auth)
    other = make_request(f"{REGISTRY}/v2/other/manifests/1", scopes=("repository:other:pull",))
    auth.handle_request(other)
    assert other.headers["Authorization"] == "Bearer tok-2"
    assert len(t.calls) == 2
    assert t.scopes(1) == ["repository:other:pull"]
    # another host is not given the token
    elsewhere = make_request("https://cdn.example/blob", scopes=("repository:app:pull",))
    auth.handle_request(elsewhere)
    assert "Authorization" not in elsewhere.headers


def test_token_cached_per_scope() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    learn(auth)
    for _ in range(5):
        r = make_request(scopes=("repository:app:pull",))
        auth.handle_request(r)
        assert r.headers["Authorization"] == "Bearer tok-1"
    # same set in another order is the same cache entry
    r1 = make_request(scopes=("repository:a:pull", "repository:b:pull"))
    r2 = make_request(scopes=("repository:b:pull", "repository:a:pull"))
    auth.handle_request(r1)
    auth.handle_request(r2)
    assert r1.headers["Authorization"] == r2.headers["Authorization"] == "Bearer tok-2"
    r3 = make_request(scopes=("repository:app:pull,push",))
    auth.handle_request(r3)
    assert r3.headers["Authorization"] == "Bearer tok-3"
    assert len(t.calls) == 3
    assert auth.token_requests == 3


def test_token_cached_per_realm_and_service() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    learn(auth)
    other_host = make_request("https://other.example/v2/app/manifests/1",
                              scopes=("repository:app:pull",))
    header = 'Bearer realm="https://auth.other/token",service="other",scope="repository:app:pull"'
    assert auth.handle_response(challenge_401(other_host, header)) is True
    assert len(t.calls) == 2
    assert t.calls[1]["url"] == "https://auth.other/token"


def test_token_reused_until_expiry(clock: FakeClock) -> None:
    t = FakeTransport([(200, token_body("t1", expires_in=300)), (200, token_body("t2"))])
    auth = bound_token_auth(t)
    assert learn(auth) == "Bearer t1"
    clock.now += 250
    r = make_request(scopes=("repository:app:pull",))
    auth.handle_request(r)
    assert r.headers["Authorization"] == "Bearer t1"
    assert len(t.calls) == 1
    clock.now += 51  # 301 s after issue
    r = make_request(scopes=("repository:app:pull",))
    auth.handle_request(r)
    assert r.headers["Authorization"] == "Bearer t2"
    assert len(t.calls) == 2


def test_token_expires_in_defaults_to_60(clock: FakeClock) -> None:
    t = FakeTransport()  # answers carry no expires_in
    auth = bound_token_auth(t)
    assert learn(auth) == "Bearer tok-1"
    clock.now += 50
    r = make_request(scopes=("repository:app:pull",))
    auth.handle_request(r)
    assert r.headers["Authorization"] == "Bearer tok-1"
    clock.now += 11  # 61 s
    r = make_request(scopes=("repository:app:pull",))
    auth.handle_request(r)
    assert r.headers["Authorization"] == "Bearer tok-2"
    assert len(t.calls) == 2


@pytest.mark.parametrize("bad", ["soon", None, True, [1], 10**400, float("nan"), float("inf")],
                         ids=["str", "null", "bool", "list", "huge", "nan", "infinity"])
def test_token_unusable_expires_in_means_default(clock: FakeClock, bad: object) -> None:
    t = FakeTransport(lambda n: (200, json.dumps({"token": f"t{n}", "expires_in": bad}).encode()))
    auth = bound_token_auth(t)
    learn(auth)
    clock.now += 50
    r = make_request(scopes=("repository:app:pull",))
    auth.handle_request(r)
    assert len(t.calls) == 1
    clock.now += 11
    auth.handle_request(make_request(scopes=("repository:app:pull",)))
    assert len(t.calls) == 2


def test_stale_token_refused_triggers_exactly_one_new_fetch() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    assert learn(auth) == "Bearer tok-1"
    sent = make_request(scopes=("repository:app:pull",))
    auth.handle_request(sent)
    assert sent.headers["Authorization"] == "Bearer tok-1"
    assert auth.handle_response(challenge_401(sent)) is True
    assert len(t.calls) == 2
    again = make_request(scopes=("repository:app:pull",))
    auth.handle_request(again)
    assert again.headers["Authorization"] == "Bearer tok-2"
    assert len(t.calls) == 2


def test_a_refused_token_of_widened_scopes_is_replaced_for_the_resent_request() -> None:
    """A push asks pull,push; Distribution's first challenge names pull only, so the
    token is cached under both scopes. When the registry refuses that token later (its
    own clock, a revoked token), the challenge names pull,push: the new token must be
    the one the re-sent request carries -- it was fetched under pull,push alone, while
    the request took the refused one again from the widened scopes' cache (a second
    401: AuthenticationError with good credentials)."""
    t = FakeTransport()
    auth = bound_token_auth(t, "alice", PASSWORD)
    push = ("repository:app:pull,push",)
    assert learn(auth, push) == "Bearer tok-1"
    sent = make_request(scopes=push)
    auth.handle_request(sent)
    assert sent.headers["Authorization"] == "Bearer tok-1"
    refused = challenge_401(sent, f'Bearer realm="{REALM}",service="reg",'
                                  'scope="repository:app:pull,push"')
    assert auth.handle_response(refused) is True
    assert len(t.calls) == 2
    again = make_request(scopes=push)
    auth.handle_request(again)
    assert again.headers["Authorization"] == "Bearer tok-2"
    assert len(t.calls) == 2


def test_refused_token_already_replaced_by_another_thread_is_not_fetched_again() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    learn(auth)
    first = make_request(scopes=("repository:app:pull",))
    second = make_request(scopes=("repository:app:pull",))
    auth.handle_request(first)
    auth.handle_request(second)
    assert auth.handle_response(challenge_401(first)) is True
    assert auth.handle_response(challenge_401(second)) is True  # tok-1 refused again
    assert len(t.calls) == 2


def test_refresh_token_flow() -> None:
    t = FakeTransport([
        (200, token_body("t1", refresh_token="R1")),
        (200, token_body("t2", refresh_token="R2")),
        (200, token_body("t3")),
    ])
    auth = bound_token_auth(t, "alice", PASSWORD)
    assert learn(auth) == "Bearer t1"
    assert t.calls[0]["method"] == "GET"
    r = make_request(scopes=("repository:app:pull,push",))
    auth.handle_request(r)
    assert r.headers["Authorization"] == "Bearer t2"
    post = t.calls[1]
    assert post["method"] == "POST"
    assert post["url"] == REALM
    form = dict(post["data"])
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == "R1"
    assert form["service"] == "reg"
    assert form["scope"] == "repository:app:pull,push"
    assert form.get("client_id")
    assert "Authorization" not in (post.get("headers") or {})
    # the newest refresh token is the one used next
    r = make_request(scopes=("repository:x:pull",))
    auth.handle_request(r)
    assert t.calls[2]["method"] == "POST"
    assert dict(t.calls[2]["data"])["refresh_token"] == "R2"


@pytest.mark.parametrize("status", [404, 405])
@pytest.mark.parametrize("user", [("alice", PASSWORD), (None, None)])
def test_a_token_server_without_the_oauth2_post_is_asked_with_get(
    status: int, user: tuple[str | None, str | None],
) -> None:
    """oauth.md: "If the request to the endpoint returns 404 using the HTTP POST method,
    refer to [token.md] for using the HTTP GET method supported by all token servers".
    A server that hands out refresh tokens unasked but takes no POST failed every token
    request after the first (TokenError: answered 405); its refresh tokens are not
    used again."""
    t = FakeTransport([
        (200, token_body("t1", refresh_token="R1")),
        (status, b"method not allowed"),
        (200, token_body("t2", refresh_token="R2")),
        (200, token_body("t3", refresh_token="R3")),
    ])
    auth = bound_token_auth(t, *user)
    assert learn(auth) == "Bearer t1"
    r = make_request(scopes=("repository:app:pull,push",))
    auth.handle_request(r)
    assert r.headers["Authorization"] == "Bearer t2"
    r = make_request(scopes=("repository:x:pull",))
    auth.handle_request(r)
    assert r.headers["Authorization"] == "Bearer t3"
    assert [c["method"] for c in t.calls] == ["GET", "POST", "GET", "GET"]


def test_a_caller_s_refresh_token_never_turns_into_anonymous_gets() -> None:
    """With the caller's own refresh (identity) token and no password, a GET cannot
    carry that identity: a server that stopped taking the POST of the refresh token it
    issued got an anonymous GET instead -- served silently, then failing the call
    after. It fails loudly, as the caller's own token does."""
    t = FakeTransport([
        (200, token_body("t1", refresh_token="SERVER-R")),
        (405, b"method not allowed"),
    ])
    auth = bound_token_auth(t, refresh_token="CALLER-R")
    assert learn(auth) == "Bearer t1"
    with pytest.raises(TokenError, match="405"):
        auth.handle_request(make_request(scopes=("repository:x:pull",)))
    assert [c["method"] for c in t.calls] == ["POST", "POST"]


def test_initial_refresh_token_is_used_with_post() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t, refresh_token="INITIAL-R")
    assert auth.has_credentials
    assert learn(auth) == "Bearer tok-1"
    assert t.calls[0]["method"] == "POST"
    assert dict(t.calls[0]["data"])["refresh_token"] == "INITIAL-R"
    assert "INITIAL-R" not in repr(auth)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"{",
        b'["token"]',
        b'"token"',
        b"null",
        b"{}",
        b'{"token": ""}',
        b'{"token": 42}',
        b'{"token": null, "access_token": null}',
        b'{"token": "a b"}',
        b'{"token": "a\\r\\nInjected: 1"}',
        b'{"token": "T\\u20ac"}',
        b"[" * 100_000,
    ],
)
def test_unusable_token_answer_is_token_error(body: bytes) -> None:
    t = FakeTransport([(200, body)])
    auth = bound_token_auth(t)
    req = make_request(scopes=("repository:app:pull",))
    with pytest.raises(TokenError):
        auth.handle_response(challenge_401(req))


def test_oversized_token_answer_is_token_error() -> None:
    big = b'{"token": "' + b"a" * (2 << 20) + b'"}'
    t = FakeTransport([(200, big)])
    auth = bound_token_auth(t)
    with pytest.raises(TokenError):
        auth.handle_response(challenge_401(make_request()))


def test_token_server_401_is_authentication_error() -> None:
    t = FakeTransport([(401, b'{"details":"incorrect username or password"}')])
    auth = bound_token_auth(t, "alice", PASSWORD)
    with pytest.raises(AuthenticationError) as info:
        auth.handle_response(challenge_401(make_request()))
    assert info.value.status_code == 401
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in repr(info.value)


@pytest.mark.parametrize(("status", "body", "said"), [
    (401, b'{"details":"incorrect username or password"}', "incorrect username or password"),
    (401, b'{"errors":[{"code":"UNAUTHORIZED","message":"use a personal access token"}]}',
     "UNAUTHORIZED: use a personal access token"),
    (403, b'{"errors":[{"code":"DENIED","message":"account disabled"}]}',
     "DENIED: account disabled"),
    (400, b'{"error":"invalid_grant","error_description":"token revoked"}',
     "invalid_grant: token revoked"),
    (401, b'{"details":"bad password PASSWORD"}', "bad password ***"),
    # a secret across the 300th character was cut, then not recognised: a prefix shown
    (401, b'{"details":"' + b"x" * 290 + b' PASSWORD"}', "x" * 290 + " ***"),
    (400, b'{"error":"e","error_description":"' + b"x" * 290 + b' PASSWORD"}', "e: xx"),
])
def test_a_token_server_s_refusal_is_quoted(status: int, body: bytes, said: str) -> None:
    """The token server's own words (Distribution's errors list, Docker's auth server's
    details, OAuth2's error_description) were dropped for the status code alone --
    "refused the credentials of alice (401)" -- where the registry's are quoted; the
    credentials held are masked in them."""
    t = FakeTransport([(status, body.replace(b"PASSWORD", PASSWORD.encode()))])
    auth = bound_token_auth(t, "alice", PASSWORD)
    with pytest.raises(RegistryError) as info:
        auth.handle_response(challenge_401(make_request()))
    assert said in str(info.value)
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value.errors)
    assert PASSWORD[:5] not in str(info.value)  # (nor a part of it)
    if b'"errors"' in body:
        assert info.value.errors[0]["message"] in said


def test_token_server_403_is_authorization_error() -> None:
    t = FakeTransport([(403, b"")])
    auth = bound_token_auth(t)
    with pytest.raises(AuthorizationError):
        auth.handle_response(challenge_401(make_request()))


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_token_server_other_status_is_registry_error(status: int) -> None:
    t = FakeTransport([(status, b"oops")])
    auth = bound_token_auth(t)
    with pytest.raises(RegistryError) as info:
        auth.handle_response(challenge_401(make_request()))
    assert info.value.status_code == status


@pytest.mark.parametrize(
    "header",
    [
        'Bearer service="reg",scope="repository:app:pull"',  # no realm
        'Bearer realm=""',
        'Bearer realm="ftp://auth.example/token"',
        'Bearer realm="/token"',
        'Digest realm="r", nonce="n"',  # unknown scheme
        'Negotiate abc==',
        'Bearer realm="https://auth.example/token',  # malformed
        'Bearer realm="x" service="y"',
    ],
)
def test_unusable_challenge_is_token_error_quoting_header(header: str) -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    with pytest.raises(TokenError) as info:
        auth.handle_response(challenge_401(make_request(), header))
    assert header in str(info.value)
    assert t.calls == []


def test_401_without_challenge_is_not_retried() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    assert auth.handle_response(challenge_401(make_request(), None)) is False
    assert t.calls == []


@pytest.mark.parametrize("status", [200, 403, 404])
def test_token_ignores_non_401(status: int) -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    req = make_request()
    resp = make_response(status, headers={"WWW-Authenticate": CHALLENGE}, request=req)
    assert auth.handle_response(resp) is False
    assert t.calls == []


def test_token_basic_fallback() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t, "alice", PASSWORD)
    req = make_request()
    assert auth.handle_response(challenge_401(req, 'Basic realm="Registry Realm"')) is True
    again = make_request()
    auth.handle_request(again)
    assert again.headers["Authorization"] == _basic("alice", PASSWORD)
    # refused Basic credentials are not sent again
    assert auth.handle_response(challenge_401(again, 'Basic realm="Registry Realm"')) is False
    assert t.calls == []


def test_token_basic_challenge_without_credentials_is_not_retried() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    assert auth.handle_response(challenge_401(make_request(), 'Basic realm="r"')) is False


def test_bearer_preferred_over_basic() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t, "alice", PASSWORD)
    header = f'Basic realm="r", {CHALLENGE}'
    assert auth.handle_response(challenge_401(make_request(), header)) is True
    assert len(t.calls) == 1


def test_plain_http_realm_on_other_host_with_credentials_is_refused() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t, "alice", PASSWORD)
    header = 'Bearer realm="http://auth.example/token",service="reg"'
    with pytest.raises(TokenError) as info:
        auth.handle_response(challenge_401(make_request(), header))
    assert t.calls == []
    assert PASSWORD not in str(info.value)


def test_plain_http_realm_with_refresh_token_is_refused() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t, refresh_token="RRR")
    header = 'Bearer realm="http://auth.example/token",service="reg"'
    with pytest.raises(TokenError):
        auth.handle_response(challenge_401(make_request(), header))
    assert t.calls == []


def test_plain_http_realm_anonymous_is_allowed() -> None:
    t = FakeTransport()
    auth = bound_token_auth(t)
    header = 'Bearer realm="http://auth.example/token",service="reg"'
    assert auth.handle_response(challenge_401(make_request(), header)) is True
    assert len(t.calls) == 1
    assert "Authorization" not in (t.calls[0].get("headers") or {})


def test_plain_http_realm_on_trusted_registry_host_is_allowed() -> None:
    t = FakeTransport()
    auth = TokenAuthenticator("alice", PASSWORD)
    auth.bind(t, trusted_http_host="registry.local", registry="http://registry.local:5000")
    req = make_request("http://registry.local:5000/v2/")
    header = 'Bearer realm="http://registry.local:5001/token",service="reg"'
    assert auth.handle_response(challenge_401(req, header)) is True
    assert t.calls[0]["headers"]["Authorization"] == _basic("alice", PASSWORD)


def test_a_shared_authenticator_trusts_a_plain_http_realm_only_for_its_own_registry() -> None:
    """Registry A (plain HTTP on a.local) must not lend its trust to registry B's realm."""
    t = FakeTransport()
    auth = TokenAuthenticator("alice", PASSWORD)
    auth.bind(t, trusted_http_host="a.local", registry="http://a.local:5000")
    auth.bind(t, trusted_http_host="b.local", registry="http://b.local:5000")
    req = make_request("http://b.local:5000/v2/")
    header = 'Bearer realm="http://a.local:5001/token",service="reg"'
    with pytest.raises(TokenError, match="plain HTTP"):
        auth.handle_response(challenge_401(req, header))
    assert t.calls == []


def test_token_repr_hides_secrets() -> None:
    auth = TokenAuthenticator("alice", PASSWORD)
    assert "alice" in repr(auth)
    assert PASSWORD not in repr(auth)
    assert PASSWORD not in str(auth)
    t = FakeTransport([(200, token_body("SECRET-TOKEN-VALUE", refresh_token="SECRET-R"))])
    auth.bind(t)
    learn(auth)
    assert "SECRET-TOKEN-VALUE" not in repr(auth)
    assert "SECRET-R" not in repr(auth)
    assert "password=None" in repr(TokenAuthenticator())


def test_token_error_messages_never_show_password() -> None:
    for answer in [(200, b"nope"), (500, b""), (200, b"{}")]:
        t = FakeTransport([answer])
        auth = bound_token_auth(t, "alice", PASSWORD)
        with pytest.raises(RegistryError) as info:
            auth.handle_response(challenge_401(make_request()))
        assert PASSWORD not in str(info.value)
        assert _basic("alice", PASSWORD).split()[1] not in str(info.value)


def test_concurrent_requests_share_one_token_fetch() -> None:
    t = FakeTransport(delay=0.05)
    auth = bound_token_auth(t)
    barrier = threading.Barrier(16)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            req = make_request(scopes=("repository:app:pull",))
            barrier.wait()
            assert auth.handle_response(challenge_401(req)) is True
            again = make_request(scopes=("repository:app:pull",))
            auth.handle_request(again)
            with lock:
                results.append(again.headers["Authorization"])
        except BaseException as exc:  # pragma: no cover - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert errors == []
    assert len(t.calls) == 1
    assert results == ["Bearer tok-1"] * 16


def challenged_at_once(auth: TokenAuthenticator, workers: int) -> list[BaseException]:
    """``workers`` threads answering one challenge for the same scope at once: the
    errors they got (one each, when the token cannot be had)."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        req = make_request(scopes=("repository:app:pull",))
        barrier.wait()
        try:
            auth.handle_response(challenge_401(req))
        except RegistryError as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    return errors


def test_concurrent_requests_refused_by_the_token_server_cost_one_token_request(
    clock: FakeClock,
) -> None:
    """A wrong password, many workers at once: the first refusal answers everyone who
    was waiting for that token -- a real token server may lock the account out after
    a hundred failed logins in a second."""
    t = FakeTransport(answers=[(401, b"")], delay=0.05)
    auth = bound_token_auth(t, "alice", PASSWORD)
    errors = challenged_at_once(auth, 16)
    messages = [str(e) for e in errors]
    assert all(isinstance(e, AuthenticationError) for e in errors)
    assert len(t.calls) == 1
    assert len(messages) == 16 and len(set(messages)) == 1
    assert "refused the credentials of alice" in messages[0]
    # a moment later: the same refusal, still without asking
    with pytest.raises(AuthenticationError):
        auth.handle_response(challenge_401(make_request(scopes=("repository:app:pull",))))
    assert len(t.calls) == 1
    # once REFUSAL_REUSE has passed the server is asked again (an account may be unlocked)
    clock.now += auth_mod.REFUSAL_REUSE
    with pytest.raises(AuthenticationError):
        auth.handle_response(challenge_401(make_request(scopes=("repository:app:pull",))))
    assert len(t.calls) == 2


def test_workers_waiting_for_a_token_server_that_failed_get_its_failure() -> None:
    """A token server that answers 503 to every try: the fetch retries, fails, and the
    workers that waited for it get that failure -- they each asked again in turn."""
    t = FakeTransport(answers=[(503, b"")], delay=0.1)  # (the workers meet at the lock)
    auth = bound_token_auth(t, "alice", PASSWORD)
    with pytest.raises(RegistryUnavailableError):  # what one fetch costs, alone
        auth.handle_response(challenge_401(make_request(scopes=("repository:other:pull",))))
    per_fetch = len(t.calls)
    errors = challenged_at_once(auth, 8)
    assert len(errors) == 8 and len({str(e) for e in errors}) == 1
    assert all(isinstance(e, RegistryUnavailableError) for e in errors)
    assert len(t.calls) == 2 * per_fetch
    # later requests ask the server again: it may be back
    with pytest.raises(RegistryUnavailableError):
        auth.handle_response(challenge_401(make_request(scopes=("repository:app:pull",))))
    assert len(t.calls) == 3 * per_fetch


def test_concurrent_handle_request_with_known_challenge_one_fetch_per_scope() -> None:
    t = FakeTransport(delay=0.02)
    auth = bound_token_auth(t)
    learn(auth)
    barrier = threading.Barrier(16)
    seen: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        req = make_request(scopes=(f"repository:r{i % 2}:pull",))
        barrier.wait()
        auth.handle_request(req)
        with lock:
            seen.append(req.headers["Authorization"])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert len(seen) == 16
    assert len(t.calls) == 3  # the first learn + one per new scope
    assert len(set(seen)) == 2


# -- the refresh-token POST and redirects ------------------------------------------------
class RedirectingTransport:
    """A token realm that answers the refresh POST with a redirect to ``location``."""

    def __init__(self, location: str, status: int = 307) -> None:
        self.location = location
        self.status = status
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, method: str, url: str, **kw: Any) -> requests.Response:
        self.calls.append((method, url, kw))
        if url == REALM:
            return make_response(self.status, headers={"Location": self.location}, url=url)
        return make_response(200, body=token_body("moved"), url=url)


@pytest.mark.parametrize("elsewhere", ["https://evil.example/steal",
                                       "http://auth.example/token",
                                       "https://auth.example:8443/token",
                                       "https://auth.example:99999/token"])  # no such port
def test_a_refresh_token_is_not_posted_to_another_host(elsewhere: str) -> None:
    t = RedirectingTransport(elsewhere)
    auth = bound_token_auth(t, refresh_token="SECRET-REFRESH")
    with pytest.raises(TokenError, match="another host"):
        auth.handle_response(challenge_401(make_request()))
    assert [url for _, url, _ in t.calls] == [REALM]  # never sent to the other host
    assert t.calls[0][2]["allow_redirects"] is False


def test_a_refresh_post_follows_a_redirect_on_the_realm_host() -> None:
    t = RedirectingTransport("/token/v2", status=308)
    auth = bound_token_auth(t, refresh_token="SECRET-REFRESH")
    assert learn(auth) == "Bearer moved"
    assert [url for _, url, _ in t.calls] == [REALM, "https://auth.example/token/v2"]
    assert dict(t.calls[1][2]["data"])["refresh_token"] == "SECRET-REFRESH"


def test_a_refused_server_refresh_token_falls_back_to_the_password() -> None:
    t = FakeTransport([
        (200, token_body("t1", refresh_token="R1")),  # GET with the password
        (401, b'{"error": "invalid_grant"}'),           # POST with R1: revoked
        (200, token_body("t2")),                        # GET with the password again
        (200, token_body("t3")),
    ])
    auth = bound_token_auth(t, "alice", PASSWORD)
    assert learn(auth) == "Bearer t1"

    def header_for(scope: str) -> str:
        r = make_request(scopes=(scope,))
        auth.handle_request(r)  # the realm is known: the token is fetched up front
        return r.headers["Authorization"]

    assert header_for("repository:b:pull") == "Bearer t2"
    assert [c["method"] for c in t.calls] == ["GET", "POST", "GET"]
    assert header_for("repository:c:pull") == "Bearer t3"
    assert t.calls[-1]["method"] == "GET"  # the refused refresh token is forgotten


def test_a_refused_initial_refresh_token_is_an_authentication_error() -> None:
    t = FakeTransport([(400, b'{"error": "invalid_grant"}')])
    auth = bound_token_auth(t, "alice", refresh_token="IDENTITY")
    with pytest.raises(AuthenticationError, match="refresh token"):
        auth.handle_response(challenge_401(make_request()))


def test_an_unbound_token_authenticator_says_why_the_token_server_is_unreachable() -> None:
    import socket

    from registry_client import RegistryError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    realm = f"https://127.0.0.1:{port}/token"
    auth = TokenAuthenticator()  # not bound to a Registry: its own session
    req = make_request(scopes=("repository:app:pull",))
    auth.handle_request(req)
    with pytest.raises(RegistryError) as caught:
        auth.handle_response(challenge_401(
            req, f'Bearer realm="{realm}",service="reg",scope="repository:app:pull"'))
    assert "connection refused" in str(caught.value) and realm in str(caught.value)
    assert isinstance(caught.value.__cause__, Exception)


# == refusals: half credentials, and a refused request says what to change =================
DOMAIN = "registry.example"
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


@pytest.mark.parametrize("token_server_refuses", [False, True])
def test_a_refusal_after_a_failed_credential_helper_says_why_none_were_sent(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, token_server_refuses: bool,
) -> None:
    """from_docker_config with a helper that is missing (or fails) goes on anonymous, as
    the docs say; when the registry then refuses, the advice was "no credentials were
    given: ... use Registry.from_docker_config(domain)" -- what the user had done. It
    names the helper that failed now."""
    monkeypatch.setenv("PATH", str(tmp_path))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {DOMAIN: "missing"}}))
    reg, adapter = make(docker_config.authenticator_for(DOMAIN, config))
    if token_server_refuses:
        adapter.register_uri("GET", REALM, status_code=401)
    else:
        adapter.register_uri("GET", REALM, json={"token": "anon-token"})
    adapter.register_uri("GET", MANIFEST_URL, status_code=401, content=UNAUTHORIZED,
                         headers={"WWW-Authenticate": DENIED})
    with pytest.raises((AuthenticationError, AuthorizationError)) as info:
        reg.repository("app").manifests.get_raw("latest")
    message = str(info.value)
    assert "docker-credential-missing not found" in message
    assert "from_docker_config" not in message


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


# -- a registry quoting the credentials back ----------------------------------------------------
OPAQUE_TOKEN = "djE6b3JnL2FwcDoxNjk5OTk5OTk5MTIzNDU2Nzg5"  # GHCR-like: no JWT, no "Bearer"
BASIC_B64 = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


@pytest.mark.parametrize("quoted", [
    f"user alice (password {PASSWORD}) may not pull",
    f"you sent credential {BASIC_B64}",
    f"request had Basic {BASIC_B64}",
], ids=["password", "bare-base64", "basic-header"])
@pytest.mark.parametrize("kind", ["basic", "token"])
def test_credentials_a_registry_quotes_back_are_masked_in_the_error(
    quoted: str, kind: str,
) -> None:
    """The library holds the password: an error message never repeats it, nor the
    base64 it is sent as, whatever a registry or gateway quotes back."""
    auth: Any = (BasicAuthenticator("alice", PASSWORD) if kind == "basic"
                 else TokenAuthenticator("alice", PASSWORD))
    reg, adapter = make(auth)
    adapter.register_uri("GET", MANIFEST_URL, [
        {"status_code": 401, "headers": {"WWW-Authenticate": (
            'Basic realm="r"' if kind == "basic" else BEARER)}},
        {"status_code": 403, "json": {"errors": [{"code": "DENIED", "message": quoted,
                                                  "detail": quoted}]}},
    ])
    adapter.register_uri("GET", REALM, json={"token": OPAQUE_TOKEN})
    with pytest.raises(AuthorizationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    shown = f"{info.value} {info.value.errors!r}"
    assert PASSWORD not in shown and BASIC_B64 not in shown
    assert "DENIED" in shown and "***" in shown


def test_a_token_a_registry_quotes_back_is_masked_in_the_error() -> None:
    reg, adapter = make(TokenAuthenticator("alice", PASSWORD))
    adapter.register_uri("GET", REALM, json={"token": OPAQUE_TOKEN})
    adapter.register_uri("GET", MANIFEST_URL, [
        {"status_code": 401, "headers": {"WWW-Authenticate": BEARER}},
        {"status_code": 403, "text": f"token {OPAQUE_TOKEN} lacks scope",
         "headers": {"Content-Type": "text/plain"}},
    ])
    with pytest.raises(AuthorizationError) as info:
        reg.repository("app").manifests.get_raw("latest")
    assert OPAQUE_TOKEN not in str(info.value)
    assert "token *** lacks scope" in str(info.value)


def _rfc3339_ago(seconds: float) -> str:
    when = time.time() - seconds
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1e9):09d}Z"


def test_token_lifetime_counts_from_issued_at(clock: FakeClock) -> None:
    # token.md: the token expires expires_in seconds after issued_at -- one a caching
    # token server issued 50 s ago, for 60 s, is stale 6 s later (it was sent, refused,
    # and a streamed body could not be sent again)
    t = FakeTransport(lambda n: (200, token_body(f"t{n}", expires_in=60,
                                                 issued_at=_rfc3339_ago(50))))
    auth = bound_token_auth(t)
    assert learn(auth) == "Bearer t0"
    clock.now += 3
    r = make_request(scopes=("repository:app:pull",))
    auth.handle_request(r)
    assert r.headers["Authorization"] == "Bearer t0"
    clock.now += 3
    r = make_request(scopes=("repository:app:pull",))
    auth.handle_request(r)
    assert r.headers["Authorization"] == "Bearer t1"
    assert len(t.calls) == 2


def test_token_about_to_expire_serves_the_request_that_asked(clock: FakeClock) -> None:
    # 2 s left: less than the safety margin, still the token the challenged request is
    # sent again with (not a second fetch for it)
    t = FakeTransport(lambda n: (200, token_body(f"t{n}", expires_in=60,
                                                 issued_at=_rfc3339_ago(58))))
    auth = bound_token_auth(t)
    assert learn(auth) == "Bearer t0"
    assert len(t.calls) == 1
    clock.now += 1.5
    r = make_request(scopes=("repository:app:pull",))
    auth.handle_request(r)
    assert r.headers["Authorization"] == "Bearer t1"


@pytest.mark.parametrize("issued", [-3600, 3600, "yesterday", 17, None],
                         ids=["future", "past-lifetime", "unparsable", "number", "null"])
def test_token_issued_at_that_tells_nothing_is_ignored(clock: FakeClock, issued: object) -> None:
    # a token server whose clock is ahead (or an hour behind: it issued no token already
    # expired), or an issued_at that is no time: expires_in counts from the answer, as
    # when issued_at is absent -- never a token fetch per request
    value = _rfc3339_ago(issued) if isinstance(issued, int) and abs(issued) == 3600 else issued
    t = FakeTransport(lambda n: (200, token_body(f"t{n}", expires_in=60, issued_at=value)))
    auth = bound_token_auth(t)
    learn(auth)
    clock.now += 50
    auth.handle_request(make_request(scopes=("repository:app:pull",)))
    assert len(t.calls) == 1
    clock.now += 11
    auth.handle_request(make_request(scopes=("repository:app:pull",)))
    assert len(t.calls) == 2


MANIFEST_BODY = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + "c" * 64, "size": 2}, "layers": []}).encode()


@pytest.mark.parametrize("echo", ["password", "token"])
def test_a_challenge_quoting_a_held_secret_is_masked_in_the_error(echo: str) -> None:
    """A registry (or gateway) whose challenge repeats the credentials it was sent --
    ``Negotiate <password>``, a malformed challenge holding the token -- had them
    quoted, raw, in TokenError's message, where an error body's are masked."""
    reg, adapter = make(TokenAuthenticator("alice", "S3cr3t-PW-xyz"))
    adapter.register_uri("GET", REALM, json={"token": "opaqueTok9x7Q2mZ4"})
    echoed = {"password": "Negotiate S3cr3t-PW-xyz",
              "token": 'Bearer realm=x "opaqueTok9x7Q2mZ4" ,,=='}[echo]
    adapter.register_uri("GET", MANIFEST_URL, [
        {"status_code": 401, "headers": {"WWW-Authenticate": BEARER}},
        {"status_code": 200, "content": MANIFEST_BODY, "headers": {
            "Content-Type": "application/vnd.oci.image.manifest.v1+json"}},
        {"status_code": 401, "headers": {"WWW-Authenticate": echoed}},
    ])
    repo = reg.repository("app")
    repo.manifests.get_raw("latest")  # (the token is held from now on)
    with pytest.raises(TokenError) as info:
        repo.manifests.get_raw("latest")
    message = str(info.value)
    assert "S3cr3t" not in message and "opaqueTok" not in message and "***" in message


def _aliasing(exc: BaseException) -> tuple[Any, ...]:
    """How tblib's pickling support (which dask's distributed installs on import, for
    every exception class) reduces an exception with an __init__ of its own: its copy
    gets the very same ``__dict__``."""
    return _with_attrs, (type(exc), {"__dict__": exc.__dict__, "args": exc.args})


def _with_attrs(cls: type[BaseException], attrs: dict[str, Any]) -> BaseException:
    inst = cls.__new__(cls)
    for name, value in attrs.items():
        setattr(inst, name, value)
    return inst


@pytest.mark.parametrize("copying", ["plain", "as-dask-installs-it"])
def test_a_refusal_reused_for_the_next_call_names_that_call(
    copying: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A token server's refusal answers the calls asking a moment later (no burst of
    failed logins), but the error re-raised was the first call's, reworded in place
    on its way up: "list tags (...)" for a manifest or blob call. ``copy.copy`` of it
    was not enough: where dask's distributed is imported (the distributed sync), a copy
    of an exception shares its ``__dict__``, and the reused refusal said the first call's
    words again."""
    if copying != "plain":
        import copyreg

        monkeypatch.setitem(copyreg.dispatch_table, AuthenticationError, _aliasing)
    reg, adapter = make(TokenAuthenticator("alice", "wrong-pw"))
    adapter.register_uri("GET", REALM, status_code=401)
    adapter.register_uri("GET", f"https://{DOMAIN}/v2/app/tags/list", status_code=401,
                         content=UNAUTHORIZED, headers={"WWW-Authenticate": BEARER})
    adapter.register_uri("GET", MANIFEST_URL, status_code=401, content=UNAUTHORIZED,
                         headers={"WWW-Authenticate": BEARER})
    repo = reg.repository("app")
    with pytest.raises(AuthenticationError) as first:
        repo.tags.get_all()
    with pytest.raises(AuthenticationError) as second:
        repo.manifests.get_raw("latest")
    assert str(first.value).startswith("list tags")
    assert not str(second.value).startswith("list tags"), str(second.value)
    assert "latest" in str(second.value) and second.value.url == MANIFEST_URL
    # the tag list's 401 and one token request: the manifest call, whose scope is the
    # same, got the refusal before sending anything
    assert [r.url.split("?")[0] for r in adapter.request_history] == [
        f"https://{DOMAIN}/v2/app/tags/list", REALM]


def test_a_token_answer_that_is_no_json_keeps_no_copy_of_it_in_the_error() -> None:
    """The decoder's error was the TokenError's ``__context__`` (``raise ... from None``
    only hides it from tracebacks), and its ``.doc`` held the whole answer -- which a
    token server that echoes the request may fill with the credentials."""
    reg, adapter = make(TokenAuthenticator("alice", "S3cr3t-PW-xyz"))
    adapter.register_uri("GET", REALM, text="not json: Basic YWxpY2U6UzNjcjN0LVBXLXh5eg==")
    adapter.register_uri("GET", MANIFEST_URL, status_code=401, content=UNAUTHORIZED,
                         headers={"WWW-Authenticate": BEARER})
    with pytest.raises(TokenError, match="malformed JSON") as info:
        reg.repository("app").manifests.get_raw("latest")
    assert not any("YWxpY2U6" in repr(vars(x)) + repr(x.args)
                   for x in exception_chain(info.value))
