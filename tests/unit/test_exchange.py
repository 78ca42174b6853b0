"""The exchange flow, driven by a scripted performer: no session, no socket.

Every decision of a registry request (retries, the 429 pause, the 401 challenge and
its token, a lost answer followed by a 404) is taken by the flow in
``registry_client._exchange``; these tests perform its effects from a script, as
the asyncio shell performs them with httpx, and check what the flow asked for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
import requests
import requests_mock
from requests.structures import CaseInsensitiveDict

from registry_client import BasicAuthenticator, Registry
from registry_client._endpoint import RegistryEndpoint
from registry_client._exchange import (
    Discard,
    Exclusive,
    ReadBody,
    Sleep,
    TokenAnswer,
    TokenAttempt,
    TokenCall,
    Transmit,
    TransmitError,
    exchange,
    token_request,
)
from registry_client._flow import run
from registry_client._request import Body, Request
from registry_client._response import Response
from registry_client.auth import NullAuthenticator, TokenAuthenticator
from registry_client.errors import (
    AuthenticationError,
    AuthorizationError,
    NotFoundError,
    RegistryUnavailableError,
)

DOMAIN = "registry.example"
REALM = "https://auth.example/token"


class Answer:
    """What a shell's Transmit hands back: status, headers, URL, the request; a body."""

    def __init__(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None,
                 url: str = "") -> None:
        self.status_code = status
        self.headers = CaseInsensitiveDict(headers or {})
        self.body = body
        self.url = url
        self.history: list[Any] = []
        self.request: requests.PreparedRequest | None = None
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Endpoint(RegistryEndpoint):
    """A registry endpoint with a fake clock and plain objects instead of a session."""

    def __init__(self, authenticator: Any, retries: int = 2) -> None:
        super().__init__(DOMAIN, authenticator, "https", timeout=(2, 5), retries=retries,
                         backoff=0.5, max_backoff=30.0)
        self.clock = 1000.0
        self.received = 0

    def _now(self) -> float:
        return self.clock

    def prepare(self, method: str, url: str, *, params: Any, headers: Mapping[str, str] | None,
                data: Body | None) -> requests.PreparedRequest:
        return requests.Request(method, url, params=params, headers=dict(headers or {}),
                                data=data).prepare()

    def respond(self, answer: Any, body: bytes | None) -> Response:
        return Response(answer.status_code, answer.headers, answer.url, body)

    def explain(self, kind: str, words: str, url: str, timeout: Any) -> str:
        return f"{words} [{kind}]"

    def count_received(self, n: int) -> None:
        self.received += n

    def count_sent(self, n: int) -> None:
        pass


class Script:
    """Performs effects from a script: each Transmit / TokenCall / TokenAttempt takes the
    next scripted answer (an exception is raised instead); every effect is recorded."""

    def __init__(self, endpoint: Endpoint, answers: list[Any],
                 tokens: list[TokenAnswer] | None = None) -> None:
        self.endpoint = endpoint
        self.answers = list(answers)
        self.tokens = list(tokens or [])
        self.effects: list[Any] = []
        self.sent: list[requests.PreparedRequest] = []

    def perform(self, effect: Any) -> Any:
        self.effects.append(effect)
        if isinstance(effect, Transmit | TokenAttempt):
            item = self.answers.pop(0)
            if isinstance(item, BaseException):
                raise item
            if isinstance(effect, Transmit):
                self.sent.append(effect.prepared)
                item.request = effect.prepared
                item.url = item.url or effect.prepared.url or ""
            return item
        if isinstance(effect, TokenCall):
            return self.tokens.pop(0)
        if isinstance(effect, ReadBody):
            effect.answer.close()
            if len(effect.answer.body) > effect.cap:
                raise AssertionError("over the cap")
            return effect.answer.body
        if isinstance(effect, Discard):
            effect.answer.close()
            return None
        if isinstance(effect, Sleep):
            self.endpoint.clock += effect.seconds
            return None
        if isinstance(effect, Exclusive):
            return run(effect.flow, self)
        raise TypeError(effect)

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.effects]

    def sleeps(self) -> list[float]:
        return [e.seconds for e in self.effects if isinstance(e, Sleep)]


def send(endpoint: Endpoint, script: Script, request: Request) -> Response:
    return run(exchange(endpoint, request), script)


def test_a_429_waits_its_retry_after_then_every_request_waits_out_the_same_pause() -> None:
    endpoint = Endpoint(NullAuthenticator())
    script = Script(endpoint, [Answer(429, headers={"Retry-After": "7"}), Answer(200, b"{}")])
    resp = send(endpoint, script, Request("GET", "app/tags/list"))
    assert (resp.status_code, resp.content) == (200, b"{}")
    assert script.kinds() == ["Exclusive", "Transmit", "Discard", "Sleep", "Transmit",
                              "ReadBody"]
    assert script.sleeps() == [7.0]
    assert endpoint.received == 2
    assert endpoint.stats["by_method"] == {"GET": 2}  # counted by the flow, not the shell
    # another request, 5 s into the pause (as if sent by another worker): it waits the rest
    endpoint.clock -= 5
    script = Script(endpoint, [Answer(200, b"[]")])
    send(endpoint, script, Request("GET", "app/tags/list"))
    assert script.kinds() == ["Sleep", "Transmit", "ReadBody"]  # primed: not sent alone
    assert script.sleeps() == [pytest.approx(5.0)]


def test_a_401_challenge_fetches_one_token_then_the_request_is_sent_again() -> None:
    auth = TokenAuthenticator()
    endpoint = Endpoint(auth)
    challenge = f'Bearer realm="{REALM}",service="reg",scope="repository:app:pull"'
    token = TokenAnswer(200, {}, REALM, json.dumps({"token": "tok-1"}).encode())
    script = Script(endpoint, [Answer(401, headers={"WWW-Authenticate": challenge}),
                               Answer(200, b"manifest")], tokens=[token])
    resp = send(endpoint, script, Request("GET", "app/manifests/1.0",
                                          scopes=("repository:app:pull",)))
    assert resp.content == b"manifest"
    # sent alone (the first), the challenge's token fetched under its key's lock, the
    # 401 drained, the request sent again with the token (found cached under the lock)
    assert script.kinds() == ["Exclusive", "Transmit", "Exclusive", "TokenCall", "Discard",
                              "Exclusive", "Transmit", "ReadBody"]
    call = next(e for e in script.effects if isinstance(e, TokenCall))
    assert (call.method, call.url) == ("GET", REALM)
    assert list(call.params or []) == [("service", "reg"), ("scope", "repository:app:pull")]
    first, again = script.sent
    assert "Authorization" not in first.headers
    assert again.headers["Authorization"] == "Bearer tok-1"
    assert auth.token_requests == 1
    # the challenge is known now: the next request carries the cached token up front
    script = Script(endpoint, [Answer(200, b"m2")])
    send(endpoint, script, Request("GET", "app/manifests/2.0", scopes=("repository:app:pull",)))
    assert script.kinds() == ["Exclusive", "Transmit", "ReadBody"]  # the token's lock only
    assert script.sent[0].headers["Authorization"] == "Bearer tok-1"
    assert auth.token_requests == 1


def test_a_delete_cut_after_it_was_sent_then_404_is_done() -> None:
    endpoint = Endpoint(NullAuthenticator())
    cut = TransmitError("broken", "the connection broke in the middle of the answer")
    script = Script(endpoint, [cut, Answer(404)])
    resp = send(endpoint, script, Request("DELETE", "app/manifests/sha256:abc",
                                          expected=frozenset({202})))
    assert resp.status_code == 404
    assert script.kinds() == ["Exclusive", "Transmit", "Sleep", "Transmit", "Discard"]


def test_a_delete_refused_before_it_was_sent_then_404_is_not_found() -> None:
    endpoint = Endpoint(NullAuthenticator())
    refused = TransmitError("refused", "connection refused")
    assert not refused.sent
    script = Script(endpoint, [refused, Answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')])
    with pytest.raises(NotFoundError, match="MANIFEST_UNKNOWN"):
        send(endpoint, script, Request("DELETE", "app/manifests/sha256:abc",
                                       expected=frozenset({202})))


def test_a_401_whose_challenge_fails_is_released_before_the_error_goes_up() -> None:
    """An authenticator that raises on a 401 (a token server refusing the password):
    the 401 was never drained nor closed, and its connection stayed open after the
    registry's close() (a ResourceWarning under -X dev)."""

    class Refusing:
        def handle_request(self, prepared: Any) -> None:
            pass

        def handle_response(self, answer: Any) -> bool:
            raise AuthenticationError("the token server refused the password")

    endpoint = Endpoint(Refusing())
    answer = Answer(401, b"{}", headers={"WWW-Authenticate": 'Bearer realm="r"'})
    script = Script(endpoint, [answer])
    with pytest.raises(AuthenticationError):
        send(endpoint, script, Request("GET", "app/manifests/1.0"))
    assert answer.closed and script.kinds()[-1] == "Discard"


def test_an_error_answer_to_a_head_is_drained_not_read_for_its_message() -> None:
    """A HEAD's answer has no body: whatever a gateway puts there is drained (the
    connection kept) and never quoted as the registry's error."""
    endpoint = Endpoint(NullAuthenticator())
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'
    script = Script(endpoint, [Answer(404, body)])
    with pytest.raises(NotFoundError) as info:
        send(endpoint, script, Request("HEAD", "app/manifests/1.0"))
    assert script.kinds()[-1] == "Discard" and "ReadBody" not in script.kinds()
    assert info.value.errors == [] and "MANIFEST_UNKNOWN" not in str(info.value)


def test_connection_failures_are_retried_then_reported_in_the_shells_words() -> None:
    endpoint = Endpoint(NullAuthenticator(), retries=2)
    script = Script(endpoint, [TransmitError("refused", "connection refused")] * 3)
    with pytest.raises(RegistryUnavailableError) as caught:
        send(endpoint, script, Request("GET", "app/tags/list", operation="list tags"))
    assert str(caught.value).startswith(
        f"list tags: GET https://{DOMAIN}/v2/app/tags/list failed after 3 attempt(s): "
        "connection refused [refused]")
    assert script.kinds().count("Transmit") == 3 and len(script.sleeps()) == 2


@pytest.mark.parametrize(("kind", "retried"), [
    ("refused", True), ("reset", True), ("broken", True), ("read-timeout", True),
    ("other", True),  # a connection failure of no known cause
    ("client", False), ("tls", False), ("url", False),
])
def test_whether_a_failure_is_worth_another_try_is_decided_by_its_kind(
    kind: str, retried: bool,
) -> None:
    assert TransmitError(kind, "why").connection is retried


def test_a_failure_of_the_client_itself_is_not_retried() -> None:
    endpoint = Endpoint(NullAuthenticator(), retries=2)
    script = Script(endpoint, [TransmitError("client", "TooManyRedirects")])
    with pytest.raises(RegistryUnavailableError, match="failed: TooManyRedirects"):
        send(endpoint, script, Request("GET", "app/tags/list", operation="list tags"))
    assert script.kinds().count("Transmit") == 1


def test_an_unexpected_answer_is_a_typed_error_from_its_body() -> None:
    endpoint = Endpoint(NullAuthenticator())
    body = b'{"errors":[{"code":"DENIED","message":"requested access is denied"}]}'
    script = Script(endpoint, [Answer(403, body)])
    with pytest.raises(AuthorizationError, match="DENIED: requested access is denied") as caught:
        send(endpoint, script, Request("GET", "app/manifests/1.0"))
    assert "no credentials were given" in str(caught.value)  # the refusal hint
    assert script.kinds() == ["Exclusive", "Transmit", "ReadBody"]


def test_a_token_server_answering_503_is_asked_again() -> None:
    endpoint = Endpoint(NullAuthenticator())
    script = Script(endpoint, [Answer(503), Answer(200, b"{}")])
    answer = run(token_request(endpoint, TokenCall("GET", REALM)), script)
    assert answer.status_code == 200
    assert script.kinds() == ["TokenAttempt", "Discard", "Sleep", "TokenAttempt"]


class PlainHooks:
    """A custom authenticator: plain hooks only, no flow forms."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def handle_request(self, request: requests.PreparedRequest) -> None:
        request.headers["Authorization"] = "Bearer static"

    def handle_response(self, response: Any) -> bool:
        self.seen.append(response.status_code)
        return len(self.seen) == 1


def test_an_authenticator_without_flows_has_its_plain_hooks_called() -> None:
    auth = PlainHooks()
    endpoint = Endpoint(auth)
    script = Script(endpoint, [Answer(401), Answer(200, b"ok")])
    resp = send(endpoint, script, Request("GET", "app/manifests/1.0"))
    assert resp.content == b"ok" and auth.seen == [401]
    assert [p.headers["Authorization"] for p in script.sent] == ["Bearer static"] * 2


def test_a_body_factory_makes_the_body_again_for_the_answer_to_a_401() -> None:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry(DOMAIN, session=session, authenticator=BasicAuthenticator("user", "pw"),
                   backoff=0.0)
    adapter.register_uri("PUT", f"https://{DOMAIN}/v2/r/manifests/v1", [
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


def test_a_token_form_is_encoded_once_for_every_shell() -> None:
    call = TokenCall("POST", "https://auth.example/token", headers={"X-A": "1"},
                     form={"grant_type": "password", "scope": "repository:a b:pull",
                           "password": "p&w=1"})
    headers, body = call.encoded()
    assert body == (b"grant_type=password&scope=repository%3Aa+b%3Apull"
                    b"&password=p%26w%3D1")
    assert headers == {"X-A": "1", "Content-Type": "application/x-www-form-urlencoded"}
    assert TokenCall("GET", "https://auth.example/token").encoded() == ({}, None)
