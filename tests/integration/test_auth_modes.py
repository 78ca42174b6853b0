"""Authentication on the read side against a real Distribution 2.8: basic and token modes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from registry_client import (
    AuthenticationError,
    AuthorizationError,
    InsufficientScopeError,
    NullAuthenticator,
    Registry,
    RegistryError,
    TokenAuthenticator,
)
from registry_client.testing import LocalRegistry, seed_blob, seed_image

pytestmark = pytest.mark.integration

ClientFactory = Callable[..., Registry]
WRONG_PASSWORD = "wrong-password-0123456789"


@pytest.fixture(params=["basic", "token"])
def auth_registry(request: pytest.FixtureRequest) -> LocalRegistry:
    """``basic_registry`` and ``token_registry`` in turn."""
    registry: LocalRegistry = request.getfixturevalue(f"{request.param}_registry")
    return registry


@pytest.fixture
def outsider(token_registry: LocalRegistry) -> Iterator[tuple[str, str]]:
    """A token-mode user who may pull ``other/*`` only (removed afterwards)."""
    assert token_registry.token_server is not None
    name, password = "outsider", "outsider-secret"
    token_registry.users[name] = password
    token_registry.token_server.grants[name] = {"other/*": "pull"}
    yield name, password
    token_registry.users.pop(name, None)
    token_registry.token_server.grants.pop(name, None)


def read_operations(
    client: Registry, repository: str, digest: str
) -> dict[str, Callable[[], object]]:
    repo = client.repository(repository)
    return {
        "manifests.get": lambda: repo.manifests.get("1"),
        "manifests.head": lambda: repo.manifests.head("1"),
        "tags.list": lambda: repo.tags.list(),
        "blobs.get": lambda: repo.blobs.get(digest),
        "images.get_by_tag": lambda: repo.images.get_by_tag("1"),
    }


# -- refused credentials --------------------------------------------------------------------


@pytest.mark.parametrize("user", ["admin", "nobody"], ids=["wrong-password", "unknown-user"])
def test_wrong_credentials_raise_authentication_error(
    auth_registry: LocalRegistry, client_for: ClientFactory, unique_repository: str, user: str
) -> None:
    image = seed_image(auth_registry, unique_repository, "1")
    client = client_for(auth_registry, user, WRONG_PASSWORD)
    calls: dict[str, Callable[[], object]] = {
        "ping": client.ping,
        "repositories": client.repositories,
        **read_operations(client, unique_repository, image.layers[0]),
    }
    for name, call in calls.items():
        with pytest.raises(AuthenticationError) as info:
            call()
        assert info.value.status_code == 401, name
        assert WRONG_PASSWORD not in str(info.value), name
        assert WRONG_PASSWORD not in repr(info.value), name


def test_wrong_password_in_token_mode_is_refused_by_the_token_server(
    token_registry: LocalRegistry, client_for: ClientFactory, unique_repository: str
) -> None:
    assert token_registry.token_server is not None
    seed_image(token_registry, unique_repository, "1")
    token_registry.token_server.reset()
    client = client_for(token_registry, "admin", WRONG_PASSWORD)
    with pytest.raises(AuthenticationError):
        client.repository(unique_repository).manifests.get("1")
    [token_request] = token_registry.token_server.requests
    assert (token_request.user, token_request.status) == ("admin", 401)


def test_no_credentials_on_a_basic_registry(
    basic_registry: LocalRegistry, client_for: ClientFactory, unique_repository: str
) -> None:
    image = seed_image(basic_registry, unique_repository, "1")
    for authenticator in (NullAuthenticator(), None):
        client = client_for(basic_registry, authenticator=authenticator)
        with pytest.raises(AuthenticationError):
            client.ping()
        for call in read_operations(client, unique_repository, image.layers[0]).values():
            with pytest.raises(AuthenticationError):
                call()


def test_null_authenticator_on_a_token_registry(
    token_registry: LocalRegistry, client_for: ClientFactory, unique_repository: str
) -> None:
    seed_image(token_registry, unique_repository, "1")
    client = client_for(token_registry, authenticator=NullAuthenticator())
    with pytest.raises(AuthenticationError):
        client.repository(unique_repository).manifests.get("1")
    with pytest.raises(AuthenticationError):
        client.ping()


# -- what each user may read -----------------------------------------------------------------


def test_anonymous_token_auth_may_pull_like_docker(
    token_registry: LocalRegistry, client_for: ClientFactory, unique_repository: str
) -> None:
    assert token_registry.token_server is not None
    image = seed_image(token_registry, unique_repository, "1")
    client = client_for(token_registry, anonymous=True)  # authenticator=None
    token_registry.token_server.reset()
    client.ping()
    for call in read_operations(client, unique_repository, image.layers[0]).values():
        call()
    assert client.repository(unique_repository).manifests.get_raw("1").data == image.manifest
    assert {r.user for r in token_registry.token_server.requests} == {None}
    with pytest.raises(AuthorizationError):  # the catalog is not for anonymous users
        client.repositories()


def test_reader_may_pull(
    token_registry: LocalRegistry, client_for: ClientFactory, unique_repository: str
) -> None:
    image = seed_image(token_registry, unique_repository, "1")
    client = client_for(token_registry, "reader")
    repo = client.repository(unique_repository)
    assert repo.manifests.get_raw("1").data == image.manifest
    assert repo.tags.get_all() == ["1"]
    assert repo.blobs.get(image.layers[0]) == image.blobs[image.layers[0]]
    assert repo.images.get_by_tag("1").digest == image.digest


def test_user_without_pull_rights_gets_authorization_error(
    token_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    outsider: tuple[str, str],
) -> None:
    assert token_registry.token_server is not None
    image = seed_image(token_registry, unique_repository, "1")
    allowed = seed_image(token_registry, "other/allowed", "1")
    client = client_for(token_registry, *outsider)
    client.ping()  # the credentials themselves are fine

    token_registry.clear_access_log()
    token_registry.token_server.reset()
    for name, call in read_operations(client, unique_repository, image.layers[0]).items():
        with pytest.raises(AuthorizationError) as info:
            call()
        # Distribution says 401 with error="insufficient_scope"; that is an authorization
        # problem, not bad credentials -- and, as the contract has every 401 after
        # authenticating, an AuthenticationError too (InsufficientScopeError is both)
        assert info.value.status_code == 401, name
        assert isinstance(info.value, InsufficientScopeError)
        assert isinstance(info.value, AuthenticationError)
    # every token asked for was issued (200) to the outsider, just without the pull action
    assert all(
        (r.user, r.status) == (outsider[0], 200) for r in token_registry.token_server.requests
    )
    assert any(f"repository:{unique_repository}:pull" in r.scopes
               for r in token_registry.token_server.requests)
    assert token_registry.request_count(path_contains=unique_repository, status=200) == 0

    # where the grant allows it, the same client reads fine
    assert client.repository("other/allowed").manifests.get_raw("1").digest == allowed.digest


def test_authorization_error_is_a_registry_error(
    token_registry: LocalRegistry,
    client_for: ClientFactory,
    unique_repository: str,
    outsider: tuple[str, str],
) -> None:
    seed_image(token_registry, unique_repository, "1")
    client = client_for(token_registry, *outsider)
    with pytest.raises(RegistryError) as info:
        client.repository(unique_repository).tags.get_all()
    assert isinstance(info.value, AuthorizationError)
    assert unique_repository in str(info.value)  # the message names the repository


# -- how many requests authentication costs -------------------------------------------------


def root_pings(reg: LocalRegistry) -> int:
    reg.sync_access_log()
    return sum(1 for e in reg.access_log_entries() if e.path == "/v2/")


def test_token_is_fetched_once_and_reused(
    token_registry: LocalRegistry, client_for: ClientFactory, unique_repository: str
) -> None:
    token_server = token_registry.token_server
    assert token_server is not None
    first_repo, second_repo = f"{unique_repository}/one", f"{unique_repository}/two"
    seed_image(token_registry, first_repo, "1")
    seed_image(token_registry, second_repo, "1")
    client = client_for(token_registry)  # admin
    token_registry.clear_access_log()
    token_server.reset()

    manifests = client.repository(first_repo).manifests
    for _ in range(50):
        manifests.get("1")
    assert token_server.count == 1
    assert token_server.requests[0].scopes == [f"repository:{first_repo}:pull"]
    assert token_registry.request_count() <= 51  # one challenge at most, then the token
    assert token_registry.request_count("GET", f"/v2/{first_repo}/manifests/1", status=200) == 50
    pings = root_pings(token_registry)

    # another repository: exactly one more token, sent up front (no challenge, no ping)
    token_registry.clear_access_log()
    token_server.reset()
    client.repository(second_repo).manifests.get("1")
    assert token_server.count == 1
    assert token_server.requests[0].scopes == [f"repository:{second_repo}:pull"]
    assert token_registry.access_log() == [f"GET /v2/{second_repo}/manifests/1"]
    assert root_pings(token_registry) == 0
    assert pings == 0  # no ping before the first request either


def test_one_pull_token_serves_every_read_service(
    token_registry: LocalRegistry, client_for: ClientFactory, unique_repository: str
) -> None:
    token_server = token_registry.token_server
    assert token_server is not None
    image = seed_image(token_registry, unique_repository, "1")
    client = client_for(token_registry)
    token_server.reset()
    repo = client.repository(unique_repository)
    repo.tags.get_all(with_digests=True)
    repo.manifests.get("1")
    repo.manifests.head(image.digest)
    repo.blobs.get(image.layers[0])
    repo.blobs.exists(image.layers[0])
    repo.images.get_by_tag("1")
    assert token_server.count == 1
    assert token_server.requests[0].user == "admin"


def test_basic_credentials_are_sent_up_front_after_the_first_challenge(
    basic_registry: LocalRegistry, client_for: ClientFactory, unique_repository: str
) -> None:
    digest = seed_blob(basic_registry, unique_repository, b"x" * 100)
    client = client_for(basic_registry)
    basic_registry.clear_access_log()
    blobs = client.repository(unique_repository).blobs
    for _ in range(20):
        assert blobs.exists(digest)
    assert basic_registry.request_count(status=401) == 1
    assert basic_registry.request_count("HEAD", status=200) == 20
    assert basic_registry.request_count() == 21


def test_one_authenticator_shared_by_two_registries_uses_each_ones_session() -> None:
    with LocalRegistry("token") as one, LocalRegistry("token") as two:
        auth = TokenAuthenticator(*one.admin)  # the same admin credentials on both
        with Registry(one.host, protocol="http", authenticator=auth) as a, \
                Registry(two.host, protocol="http", authenticator=auth) as b:
            b.close()  # b was built last; a's token fetches must not go through it
            before = b.requester.stats["requests"]
            a.ping()
            list(a.iter_repositories())
            assert b.requester.stats["requests"] == before
            assert one.token_server is not None and one.token_server.count >= 1
            b2 = Registry(two.host, protocol="http", authenticator=auth)
            b2.ping()
            list(b2.iter_repositories())
            assert two.token_server is not None and two.token_server.count >= 1
            b2.close()
