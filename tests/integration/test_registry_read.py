"""Registry-level reads against a real Distribution 2.8: ping, catalog, search, repositories."""

from __future__ import annotations

import http.server
import math
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from registry_client import (
    AuthenticationError,
    AuthorizationError,
    InvalidReferenceError,
    NullAuthenticator,
    Registry,
    RegistryResponseError,
    RegistryUnavailableError,
    Repository,
)
from registry_client.testing import (
    LocalRegistry,
    LocalRegistryFactory,
    seed_image,
    seed_many_repositories,
)

pytestmark = pytest.mark.integration

CATALOG_SIZE = 250

ClientFactory = Callable[..., Registry]


@pytest.fixture(scope="module")
def catalog_registry(
    local_registry_factory: LocalRegistryFactory,
) -> tuple[LocalRegistry, list[str]]:
    """A registry of its own holding exactly 250 repositories (the catalog is global)."""
    reg = local_registry_factory("anonymous")
    names = [f"catalog/repo-{i:03d}" for i in range(CATALOG_SIZE)]
    seed_many_repositories(reg, names, workers=16)
    return reg, names


def root_pings(reg: LocalRegistry) -> list[int]:
    """Statuses of the ``GET /v2/`` requests in the access log (oldest first)."""
    reg.sync_access_log()
    return [e.status for e in reg.access_log_entries() if e.method == "GET" and e.path == "/v2/"]


# -- ping -------------------------------------------------------------------------------


def test_ping_succeeds_in_every_mode(any_registry: LocalRegistry, client: Registry) -> None:
    before = len(root_pings(any_registry))
    client.ping()
    statuses = root_pings(any_registry)[before:]
    assert statuses[-1] == 200
    if any_registry.auth == "anonymous":
        assert statuses == [200]
    else:  # one challenge, then the authenticated ping
        assert statuses == [401, 200]


# -- catalog ----------------------------------------------------------------------------


def test_repositories_lists_seeded_repositories(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    seed_image(any_registry, unique_repository, "1")
    repos = client.repositories()
    assert all(isinstance(r, Repository) for r in repos)
    by_name = {r.name: r for r in repos}
    assert unique_repository in by_name
    found = by_name[unique_repository]
    assert found.domain == any_registry.host
    assert found.registry is client
    assert [r.name for r in repos] == sorted(r.name for r in repos)  # catalog order kept


def test_iter_repositories_is_lazy_and_matches_repositories(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    seed_image(any_registry, f"{unique_repository}-a", "1")
    seed_image(any_registry, f"{unique_repository}-b", "1")
    any_registry.clear_access_log()
    it = client.iter_repositories(page_size=2)
    first = next(it)
    assert isinstance(first, Repository)
    assert any_registry.request_count("GET", "/v2/_catalog", status=200) == 1
    names = [first.name, *(r.name for r in it)]
    any_registry.sync_access_log()
    pages = [
        e.uri
        for e in any_registry.access_log_entries()
        if e.path == "/v2/_catalog" and e.status == 200  # not the 401 challenge
    ]
    assert len(pages) == math.ceil(len(names) / 2)  # really paged by 2, every page followed
    assert all("n=2" in uri for uri in pages)
    assert names == [r.name for r in client.repositories()]
    assert {f"{unique_repository}-a", f"{unique_repository}-b"} <= set(names)


def test_catalog_pages_over_250_repositories(
    catalog_registry: tuple[LocalRegistry, list[str]], client_for: ClientFactory
) -> None:
    reg, names = catalog_registry
    client = client_for(reg)
    reg.clear_access_log()
    got = [r.name for r in client.iter_repositories(page_size=100)]
    assert got == names
    assert reg.request_count("GET", "/v2/_catalog") == 3
    log = [e.uri for e in reg.access_log_entries() if e.path == "/v2/_catalog"]
    assert log[0] == "/v2/_catalog?n=100"
    # the next pages are the registry's Link URLs (n/last), followed as given
    assert "last=catalog%2Frepo-099" in log[1] and "n=100" in log[1]
    assert "last=catalog%2Frepo-199" in log[2] and "n=100" in log[2]


def test_repositories_without_page_size_follows_the_default_pages(
    catalog_registry: tuple[LocalRegistry, list[str]], client_for: ClientFactory
) -> None:
    reg, names = catalog_registry
    client = client_for(reg)
    reg.clear_access_log()
    assert [r.name for r in client.repositories()] == names
    assert reg.request_count("GET", "/v2/_catalog") == 3  # Distribution's 100 per page


def test_search_filters_the_catalog(
    catalog_registry: tuple[LocalRegistry, list[str]], client_for: ClientFactory
) -> None:
    reg, _ = catalog_registry
    client = client_for(reg)
    assert client.search("repo-12") == [f"catalog/repo-{i}" for i in range(120, 130)]
    assert client.search("repo-249") == ["catalog/repo-249"]
    assert client.search("no-such-repository") == []
    assert len(client.search("catalog/")) == CATALOG_SIZE


def test_search_in_every_mode(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    seed_image(any_registry, f"{unique_repository}/x", "1")
    seed_image(any_registry, f"{unique_repository}/y", "1")
    assert client.search(unique_repository) == [
        f"{unique_repository}/x",
        f"{unique_repository}/y",
    ]


@pytest.mark.parametrize("user", [None, "reader"], ids=["anonymous", "reader"])
def test_catalog_needs_the_catalog_scope_in_token_mode(
    token_registry: LocalRegistry, client_for: ClientFactory, user: str | None
) -> None:
    client = client_for(token_registry, user, anonymous=user is None)
    with pytest.raises(AuthorizationError) as info:
        client.repositories()
    # Distribution answers 401 + error="insufficient_scope": the library calls it 403-like
    assert info.value.status_code == 401


# -- repository / repository_from_string --------------------------------------------------


def test_repository_sends_no_request(any_registry: LocalRegistry, client: Registry) -> None:
    repo = client.repository("some/where/deep")
    assert repo.name == "some/where/deep"
    assert repo.domain == any_registry.host
    assert repo.registry is client
    assert client.requester.stats["requests"] == 0
    with pytest.raises(InvalidReferenceError):
        client.repository("Upper/Case")
    with pytest.raises(InvalidReferenceError):
        client.repository("bad//name")


def test_repository_from_string(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    image = seed_image(any_registry, unique_repository, "1")
    repo = client.repository_from_string(f"{any_registry.host}/{unique_repository}:1")
    assert repo.name == unique_repository
    assert repo.domain == any_registry.host
    assert repo.manifests.get_raw("1").data == image.manifest
    pinned = client.repository_from_string(f"{any_registry.host}/{image.pinned}")
    assert pinned == repo
    plain = client.repository_from_string(f"{any_registry.host}/{unique_repository}")
    assert plain == repo
    for other in (f"quay.io/{unique_repository}:1", "alpine", "docker.io/library/alpine"):
        with pytest.raises(ValueError):
            client.repository_from_string(other)
    with pytest.raises(ValueError):
        client.repository_from_string(f"{any_registry.host}/Not/Valid")


# -- from_reference ---------------------------------------------------------------------


def test_from_reference_with_protocol_http(
    any_registry: LocalRegistry, authenticator_for: Callable[..., object]
) -> None:
    image = seed_image(any_registry, "app", "1")
    auth = authenticator_for(any_registry)
    with Registry.from_reference(
        f"{any_registry.host}/app:1", protocol="http", authenticator=auth
    ) as client:
        assert client.domain == any_registry.host
        assert client.requester.base_url == any_registry.url
        client.ping()
        raw = client.repository("app").manifests.get_raw("1")
        assert raw.digest == image.digest
        assert raw.data == image.manifest


def test_from_reference_takes_the_scheme_of_the_reference(anon_registry: LocalRegistry) -> None:
    image = seed_image(anon_registry, "app", "1")
    with Registry.from_reference(
        f"http://{anon_registry.host}/app:1", authenticator=NullAuthenticator()
    ) as client:
        assert client.requester.protocol == "http"
        assert client.repository("app").manifests.head("1").digest == image.digest


# -- ping proves a registry ----------------------------------------------------------------
class _WebPage(http.server.BaseHTTPRequestHandler):
    """A plain web server: an HTML page for every path, /v2/ included."""

    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><body><h1>It works!</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _JsonApi(_WebPage):
    """A JSON API that is not a registry: a JSON object for every path, /v2/ included."""

    def do_GET(self) -> None:
        body = b'{"service": "billing-api", "version": 2, "status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(params=[_WebPage, _JsonApi], ids=["html", "json-api"])
def web_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a plain web server that is not a registry; stopped after."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_ping_of_a_plain_web_server_says_it_is_not_a_registry(web_server: str) -> None:
    with Registry(web_server, protocol="http", retries=0) as reg:
        with pytest.raises(RegistryResponseError) as caught:
            reg.ping()
    message = str(caught.value)
    assert "not a container registry" in message
    assert ("an HTML page" in message) or ("an application/json body" in message)
    assert caught.value.status_code == 200


def test_anonymous_ping_of_a_basic_auth_registry_says_how_to_give_credentials(
    basic_registry: LocalRegistry,
) -> None:
    with Registry(basic_registry.host, protocol="http", retries=0) as reg:
        with pytest.raises(AuthenticationError) as caught:
            reg.ping()
    assert caught.value.status_code == 401
    assert "no credentials were given" in str(caught.value)


def test_ping_of_a_real_registry_passes_in_every_auth_mode(
    any_registry: LocalRegistry, client_for: ClientFactory,
) -> None:
    client_for(any_registry, "admin").ping()


def test_ping_of_a_closed_port_says_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Registry(f"127.0.0.1:{port}", protocol="http", retries=0) as reg:
        with pytest.raises(RegistryUnavailableError, match="connection refused") as caught:
            reg.ping()
    assert isinstance(caught.value.__cause__, Exception)
