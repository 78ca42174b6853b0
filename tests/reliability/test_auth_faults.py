"""Token auth under faults: expiry mid-pull, token-server failures, bad challenges, no loops.

A token-auth registry of its own (so the token server's knobs can be turned freely),
reached through a :class:`FaultProxy`; the token server (the realm) is reached directly.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry_client import (
    AuthenticationError,
    AuthorizationError,
    Registry,
    RegistryUnavailableError,
    TokenAuthenticator,
    TokenError,
)
from registry_client.testing import (
    FaultProxy,
    LocalRegistry,
    LocalRegistryFactory,
    TokenServer,
    seed_image,
)

USERS = {"alice": "alice-secret", "reader": "reader-secret"}
REPO = "auth/faults"


@pytest.fixture(scope="module")
def registry(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    reg = local_registry_factory("token", users=USERS, grants={"reader": {"*": "pull"}})
    seed_image(reg, REPO, "v1", layers=[2000])
    return reg


@pytest.fixture
def token_server(registry: LocalRegistry) -> Iterator[TokenServer]:
    ts = registry.token_server
    assert ts is not None
    ts.reset()
    lifetime = ts.lifetime
    yield ts
    ts.reset()
    ts.lifetime = lifetime


@pytest.fixture
def proxy(registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(registry, timeout=5) as p:
        yield p


def client(proxy: FaultProxy, user: str | None = "alice", password: str | None = None,
           **kw: Any) -> Registry:
    kw.setdefault("backoff", 0.01)
    auth = TokenAuthenticator(user, password or USERS[user]) if user else TokenAuthenticator()
    return Registry(proxy.host, protocol="http", authenticator=auth, **kw)


def bearer(proxy: FaultProxy, path: str) -> list[str]:
    return [r.headers.get("authorization", "") for r in proxy.requests if path in r.path]


# -- expiry -----------------------------------------------------------------------------------
def test_a_token_expiring_mid_pull_is_refreshed_transparently(
    registry: LocalRegistry, token_server: TokenServer, proxy: FaultProxy,
    unique_repository: str, tmp_path: Path,
) -> None:
    image = seed_image(registry, unique_repository, "slow", layers=[400_000] * 3)
    token_server.lifetime = 2  # the client keeps it 2 s minus a margin, then asks again
    proxy.add_rule("GET", "/blobs/sha256:", action="throttle", rate=400_000, times=None)
    reg = client(proxy, max_workers=1)
    t0 = time.monotonic()
    pulled = reg.repository(unique_repository).images.pull("slow", tmp_path / "oci")
    elapsed = time.monotonic() - t0
    assert pulled.digest == image.digest
    for digest, data in image.blobs.items():
        assert (tmp_path / "oci/blobs/sha256" / digest[7:]).read_bytes() == data
    assert 2.5 < elapsed < 20
    scope = f"repository:{unique_repository}:pull"
    fetched = [r for r in token_server.requests if scope in r.scopes]
    assert len(fetched) > 1 and all(r.status == 200 and r.user == "alice" for r in fetched)
    used = {a for a in bearer(proxy, "/blobs/") if a}
    assert len(used) > 1  # later layers went with a fresh token
    # one challenge round trip at the start, then every request carried a valid token
    first, *rest = [r for r in proxy.requests if f"/v2/{unique_repository}/" in r.path]
    assert first.status == 401 and "authorization" not in first.headers
    assert all(r.headers["authorization"].startswith("Bearer ") for r in rest)
    assert all(r.status == 200 for r in rest)  # refreshed before the registry refused it


def test_a_refused_token_is_replaced_once(
    registry: LocalRegistry, token_server: TokenServer, proxy: FaultProxy
) -> None:
    reg = client(proxy)
    manifests = reg.repository(REPO).manifests
    first = manifests.get_raw("v1")
    before = token_server.count
    # the registry now says the (cached, unexpired) token is no good: one fresh token
    ts = token_server
    challenge = (f'Bearer realm="{ts.realm}",service="{ts.service}",'
                 f'scope="repository:{REPO}:pull",error="invalid_token"')
    proxy.add_rule("GET", "/manifests/v1", action="status", status=401,
                   headers={"WWW-Authenticate": challenge})
    assert manifests.get_raw("v1") == first
    assert token_server.count == before + 1
    sent = bearer(proxy, "/manifests/v1")
    assert len(sent) == 4 and sent[0] == ""  # the first challenge round trip
    assert sent[2] == sent[1] and sent[3] != sent[2] and sent[3].startswith("Bearer ")


# -- the token server failing -----------------------------------------------------------------
@pytest.mark.parametrize("status", [500, 503])
def test_a_token_server_failing_once_is_retried(
    token_server: TokenServer, proxy: FaultProxy, status: int
) -> None:
    token_server.fail_next(1, status=status)
    raw = client(proxy).repository(REPO).manifests.get_raw("v1")
    assert hashlib.sha256(raw.data).hexdigest() == raw.digest[7:]
    assert [r.status for r in token_server.requests] == [status, 200]


def test_a_token_server_that_keeps_failing_gives_unavailable(
    token_server: TokenServer, proxy: FaultProxy
) -> None:
    token_server.fail_next(10, status=503)
    with pytest.raises(RegistryUnavailableError) as info:
        client(proxy, retries=2).repository(REPO).manifests.get_raw("v1")
    assert "token server" in str(info.value)
    assert token_server.count == 3
    assert proxy.count("GET", "/manifests/") == 1  # the challenge only


def test_a_hanging_token_server_is_bounded(token_server: TokenServer, proxy: FaultProxy) -> None:
    token_server.delay = 0.8
    t0 = time.monotonic()
    with pytest.raises(RegistryUnavailableError):
        client(proxy, retries=1, timeout=(1, 0.3)).repository(REPO).manifests.get_raw("v1")
    assert time.monotonic() - t0 < 3
    token_server.delay = 0
    # both attempts reached the token server, which answers them late: wait for that,
    # so their records do not land in the next test's counts
    deadline = time.monotonic() + 5
    while token_server.count < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert token_server.count == 2


# -- bad challenges -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    [
        'Bearer service="registry",scope="repository:auth/faults:pull"',  # no realm
        'Bearer realm="",service="registry"',  # empty realm
        'Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXeg',  # unknown scheme
        'Mutual realm="x", Digest nonce="abc"',  # only unknown schemes
        'Bearer realm="http://127.0.0.1:1/token,service="registry"',  # unterminated quote
        'Bearer realm=="x"',  # malformed
        'Bearer realm="ftp://127.0.0.1/token",service="registry"',  # unusable realm
        'Bearer realm="/token",service="registry"',  # not absolute
    ],
)
def test_an_unusable_challenge_is_a_token_error_quoting_the_header(
    token_server: TokenServer, proxy: FaultProxy, header: str
) -> None:
    proxy.add_rule("GET", "/manifests/", action="status", status=401,
                   headers={"WWW-Authenticate": header}, times=None)
    with pytest.raises(TokenError) as info:
        client(proxy).repository(REPO).manifests.get_raw("v1")
    assert repr(header) in str(info.value)
    assert proxy.count("GET", "/manifests/") == 1  # no second attempt
    assert token_server.count == 0


# -- no loops -----------------------------------------------------------------------------------
def test_at_most_one_reauthentication_per_request(
    token_server: TokenServer, proxy: FaultProxy
) -> None:
    ts = token_server
    challenge = f'Bearer realm="{ts.realm}",service="{ts.service}",scope="repository:{REPO}:pull"'
    proxy.add_rule("GET", "/manifests/", action="status", status=401, times=None,
                   headers={"WWW-Authenticate": challenge})
    reg = client(proxy)
    with pytest.raises(AuthenticationError) as info:
        reg.repository(REPO).manifests.get_raw("v1")
    assert info.value.status_code == 401
    assert proxy.count("GET", "/manifests/") == 2
    assert token_server.count == 1
    # again, with the token cached: one refused send, one fresh token, one more refusal
    with pytest.raises(AuthenticationError):
        reg.repository(REPO).manifests.get_raw("v1")
    assert proxy.count("GET", "/manifests/") == 4
    assert token_server.count == 2


def test_wrong_password_fails_once(token_server: TokenServer, proxy: FaultProxy) -> None:
    with pytest.raises(AuthenticationError) as info:
        client(proxy, password="wrong-password").repository(REPO).manifests.get_raw("v1")
    assert "wrong-password" not in str(info.value)
    assert [r.status for r in token_server.requests] == [401]
    assert proxy.count() == 1


def test_insufficient_scope_is_not_retried_in_a_loop(
    token_server: TokenServer, proxy: FaultProxy
) -> None:
    with pytest.raises(AuthorizationError):
        client(proxy, user="reader").repository(REPO).blobs.upload(b"not allowed")
    assert proxy.count("POST", "/blobs/uploads/") == 2
    assert token_server.count <= 3
    assert all(r.status == 200 for r in token_server.requests)
