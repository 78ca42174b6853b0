"""Tests of the test infrastructure itself: LocalRegistry, TokenServer and seeding."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from registry_client.testing import (
    LocalRegistry,
    LocalRegistryFactory,
    SeededImage,
    TokenServer,
    find_registry_binary,
    parse_access_log_line,
    seed_blob,
    seed_image,
    seed_many_repositories,
    seed_tags,
    sha256_digest,
)
from registry_client.testing._util import b64url_decode

pytestmark = pytest.mark.integration

MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def claims_of(token: str) -> dict[str, Any]:
    """Decode (without verifying) the payload of a JWT."""
    payload: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return payload


def get_token(
    reg: LocalRegistry, *scopes: str, auth: tuple[str, str] | None = None
) -> requests.Response:
    assert reg.token_server is not None
    params = {"service": reg.token_server.service, "scope": list(scopes)}
    return requests.get(reg.token_server.realm, params=params, auth=auth, timeout=10)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def pid_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- startup -----------------------------------------------------------------------------


def test_find_registry_binary() -> None:
    assert Path(find_registry_binary()).is_file()
    with pytest.raises(RuntimeError, match="apt-get install docker-registry"):
        find_registry_binary("/nonexistent/docker-registry")


def test_registry_answers_v2(any_registry: LocalRegistry) -> None:
    reg = any_registry
    assert reg.running
    assert reg.host == f"127.0.0.1:{reg.port}"
    assert reg.url == f"http://{reg.host}"
    response = requests.get(f"{reg.url}/v2/", timeout=10)
    assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    if reg.auth == "anonymous":
        assert response.status_code == 200
        assert reg.admin is None and reg.users == {} and reg.token_server is None
        assert reg.admin_headers(["x"]) == {}
        return
    assert response.status_code == 401
    assert reg.admin is not None and reg.users[reg.admin[0]] == reg.admin[1]
    challenge = response.headers["WWW-Authenticate"]
    if reg.auth == "basic":
        assert challenge.startswith("Basic ")
        assert reg.token_server is None
    else:
        assert reg.token_server is not None
        assert challenge.startswith(f'Bearer realm="{reg.token_server.realm}"')
        assert f'service="{reg.token_server.service}"' in challenge
    authed = requests.get(f"{reg.url}/v2/", headers=reg.admin_headers(), timeout=10)
    assert authed.status_code == 200


def test_basic_auth_users(basic_registry: LocalRegistry) -> None:
    reg = basic_registry
    assert set(reg.users) == {"admin", "alice"}
    for user, password in reg.users.items():
        ok = requests.get(f"{reg.url}/v2/", auth=(user, password), timeout=10)
        assert ok.status_code == 200, user
    bad = requests.get(f"{reg.url}/v2/", auth=("alice", "wrong"), timeout=10)
    assert bad.status_code == 401
    unknown = requests.get(f"{reg.url}/v2/", auth=("mallory", "x"), timeout=10)
    assert unknown.status_code == 401


def test_startup_failure_is_reported_with_output(tmp_path: Path) -> None:
    reg = LocalRegistry(extra_config={"storage": {"nosuchdriver": {}}}, startup_timeout=5)
    with pytest.raises(RuntimeError, match="exited with status") as excinfo:
        reg.start()
    assert "nosuchdriver" in str(excinfo.value) or "storage" in str(excinfo.value)
    assert not reg.running


# -- token server ------------------------------------------------------------------------


def test_token_server_issues_tokens_the_registry_accepts(
    token_registry: LocalRegistry, unique_repository: str
) -> None:
    reg = token_registry
    assert reg.token_server is not None
    scope = f"repository:{unique_repository}:pull,push"
    response = get_token(reg, scope, auth=("alice", reg.users["alice"]))
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"token", "access_token", "expires_in", "issued_at"}
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == reg.token_server.lifetime
    claims = claims_of(body["token"])
    assert claims["sub"] == "alice"
    assert claims["aud"] == reg.token_server.service
    assert claims["iss"] == reg.token_server.issuer
    assert claims["access"] == [
        {"type": "repository", "name": unique_repository, "actions": ["pull", "push"]}
    ]
    # the token lets alice push a blob and read it back
    blob = b"hello from alice"
    upload = requests.post(
        f"{reg.url}/v2/{unique_repository}/blobs/uploads/", headers=bearer(body["token"])
    )
    assert upload.status_code == 202
    put = requests.put(
        upload.headers["Location"],
        params={"digest": sha256_digest(blob)},
        data=blob,
        headers=bearer(body["token"]),
    )
    assert put.status_code == 201
    fetched = requests.get(
        f"{reg.url}/v2/{unique_repository}/blobs/{sha256_digest(blob)}",
        headers=bearer(body["token"]),
    )
    assert fetched.content == blob


def test_token_server_refuses_bad_password(token_registry: LocalRegistry) -> None:
    server = token_registry.token_server
    assert server is not None
    before = server.count
    response = get_token(token_registry, "repository:x:pull", auth=("alice", "wrong"))
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    unknown = get_token(token_registry, "repository:x:pull", auth=("mallory", "x"))
    assert unknown.status_code == 401
    assert server.count == before + 2
    last = server.requests[-1]
    assert (last.user, last.status, last.scopes) == ("mallory", 401, ["repository:x:pull"])


def test_a_user_added_at_runtime_gets_the_default_grants() -> None:
    with LocalRegistry("token") as reg:
        reg.users["dave"] = "pw"  # the token server's own table: applies at once
        response = get_token(reg, "repository:team/app:pull,push", auth=("dave", "pw"))
        assert response.status_code == 200
        claims = json.loads(b64url_decode(response.json()["token"].split(".")[1]))
        assert claims["access"] == [
            {"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]


def test_grants_are_enforced(token_registry: LocalRegistry, unique_repository: str) -> None:
    reg = token_registry
    seed_image(reg, unique_repository, "v1")
    tags_url = f"{reg.url}/v2/{unique_repository}/tags/list"
    scope = f"repository:{unique_repository}:pull,push"

    # reader: pull only - push is dropped from the grant, not refused
    reader = get_token(reg, scope, auth=("reader", reg.users["reader"]))
    assert reader.status_code == 200
    token = reader.json()["token"]
    assert claims_of(token)["access"][0]["actions"] == ["pull"]
    assert requests.get(tags_url, headers=bearer(token)).json()["tags"] == ["v1"]
    denied = requests.post(
        f"{reg.url}/v2/{unique_repository}/blobs/uploads/", headers=bearer(token)
    )
    assert denied.status_code == 401
    assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]

    # anonymous: pull, and an empty (but valid) token for the catalog
    anonymous = get_token(reg, scope)
    assert claims_of(anonymous.json()["token"])["access"][0]["actions"] == ["pull"]
    catalog_scope = "registry:catalog:*"
    anonymous_catalog = get_token(reg, catalog_scope)
    assert anonymous_catalog.status_code == 200
    assert claims_of(anonymous_catalog.json()["token"])["access"] == []
    catalog_url = f"{reg.url}/v2/_catalog"
    refused = requests.get(catalog_url, headers=bearer(anonymous_catalog.json()["token"]))
    assert refused.status_code == 401

    # alice may push but not list the catalog; admin may do everything
    alice = get_token(reg, catalog_scope, auth=("alice", reg.users["alice"]))
    assert claims_of(alice.json()["token"])["access"] == []
    assert reg.admin is not None
    admin = get_token(reg, catalog_scope, scope, auth=reg.admin)
    assert claims_of(admin.json()["token"])["access"] == [
        {"type": "registry", "name": "catalog", "actions": ["*"]},
        {"type": "repository", "name": unique_repository, "actions": ["pull", "push"]},
    ]
    listed = requests.get(catalog_url, params={"n": 1000}, headers=bearer(admin.json()["token"]))
    assert listed.status_code == 200
    assert unique_repository in listed.json()["repositories"]


def test_delete_needs_the_delete_action(
    token_registry: LocalRegistry, unique_repository: str
) -> None:
    reg = token_registry
    image = seed_image(reg, unique_repository, "v1")
    url = f"{reg.url}/v2/{unique_repository}/manifests/{image.digest}"
    alice = get_token(reg, f"repository:{unique_repository}:delete", auth=("alice", "alice-secret"))
    assert claims_of(alice.json()["token"])["access"] == []
    assert requests.delete(url, headers=bearer(alice.json()["token"])).status_code == 401
    assert reg.admin is not None
    admin = get_token(reg, f"repository:{unique_repository}:delete", auth=reg.admin)
    assert requests.delete(url, headers=bearer(admin.json()["token"])).status_code == 202


def test_oauth_password_and_refresh_token_grants(token_registry: LocalRegistry) -> None:
    server = token_registry.token_server
    assert server is not None
    form = {
        "grant_type": "password",
        "username": "alice",
        "password": token_registry.users["alice"],
        "service": server.service,
        "client_id": "registry-client-tests",
        "access_type": "offline",
        "scope": "repository:a/b:pull repository:c:push",
    }
    first = requests.post(server.realm, data=form, timeout=10)
    assert first.status_code == 200
    body = first.json()
    assert "token" not in body and body["refresh_token"]
    assert body["scope"] == "repository:a/b:pull repository:c:push"
    assert len(claims_of(body["access_token"])["access"]) == 2
    assert server.requests[-1].query["password"] == ["***"]

    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": body["refresh_token"],
        "service": server.service,
        "scope": "repository:a/b:pull",
    }
    second = requests.post(server.realm, data=refresh, timeout=10)
    assert second.status_code == 200
    assert claims_of(second.json()["access_token"])["sub"] == "alice"
    assert second.json()["refresh_token"] == body["refresh_token"]

    bad = requests.post(server.realm, data={**refresh, "refresh_token": "nope"}, timeout=10)
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_grant"
    wrong = requests.post(server.realm, data={**form, "password": "wrong"}, timeout=10)
    assert wrong.status_code == 401
    no_offline = {k: v for k, v in form.items() if k != "access_type"}
    assert "refresh_token" not in requests.post(server.realm, data=no_offline).json()
    unsupported = requests.post(server.realm, data={"grant_type": "magic"}, timeout=10)
    assert unsupported.status_code == 400


def test_token_server_knobs() -> None:
    with TokenServer({"admin": "pw"}, lifetime=60) as server:
        url = server.realm
        assert url.startswith("http://127.0.0.1:") and url.endswith("/token")
        assert server.root_cert_path.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
        assert requests.get(url, params={"scope": "repository:x:pull"}).json()["expires_in"] == 60
        server.lifetime = 5
        response = requests.get(url, params={"scope": "repository:x:pull"})
        claims = claims_of(response.json()["token"])
        assert response.json()["expires_in"] == 5 and claims["exp"] - claims["iat"] == 5
        assert claims["sub"] == ""  # anonymous

        server.fail_next(2, status=503)
        assert [requests.get(url).status_code for _ in range(3)] == [503, 503, 200]
        assert server.count == 5
        records = server.requests
        assert [r.status for r in records] == [200, 200, 503, 503, 200]
        assert records[0].query["scope"] == ["repository:x:pull"]
        assert records[0].user is None and records[0].method == "GET"
        assert records[0].scopes == ["repository:x:pull"]
        assert records[0].path == "/token" and records[0].time <= time.time()
        server.reset()
        assert server.count == 0 and server.requests == []

        server.grants[None] = {}  # anonymous may do nothing any more
        empty = requests.get(url, params={"scope": "repository:x:pull"})
        assert claims_of(empty.json()["token"])["access"] == []
        assert requests.get(server.url + "/elsewhere").status_code == 404
    assert not server.running


def test_minted_tokens(token_registry: LocalRegistry, unique_repository: str) -> None:
    server = token_registry.token_server
    assert server is not None
    image = seed_image(token_registry, unique_repository, "v1")
    url = f"{token_registry.url}/v2/{unique_repository}/manifests/v1"
    access = [{"type": "repository", "name": unique_repository, "actions": ["pull"]}]
    before = server.count
    token = server.mint(access, subject="someone", lifetime=30)
    assert server.count == before  # no HTTP involved
    claims = claims_of(token)
    assert claims["sub"] == "someone" and claims["exp"] - claims["iat"] == 30
    headers = {**bearer(token), "Accept": MANIFEST_ACCEPT}
    assert requests.get(url, headers=headers).content == image.manifest
    wrong_audience = server.mint(access, audience="another-service")
    assert requests.get(url, headers=bearer(wrong_audience)).status_code == 401
    expired = server.mint(access, lifetime=-120)  # Distribution allows 60 s of clock skew
    assert requests.get(url, headers=bearer(expired)).status_code == 401


# -- seeding -----------------------------------------------------------------------------


def fetch_manifest(reg: LocalRegistry, repository: str, reference: str) -> requests.Response:
    headers = {**reg.admin_headers([repository]), "Accept": MANIFEST_ACCEPT}
    response = requests.get(
        f"{reg.url}/v2/{repository}/manifests/{reference}", headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    return response


def assert_image_is_served(reg: LocalRegistry, image: SeededImage) -> None:
    for reference in [image.digest] + ([image.tag] if image.tag else []):
        response = fetch_manifest(reg, image.repository, reference)
        assert response.content == image.manifest
        assert response.headers["Docker-Content-Digest"] == image.digest
        assert response.headers["Content-Type"] == image.media_type
    headers = reg.admin_headers([image.repository])
    for digest, data in image.blobs.items():
        blob = requests.get(f"{reg.url}/v2/{image.repository}/blobs/{digest}", headers=headers)
        assert blob.status_code == 200 and blob.content == data


def test_seed_image(any_registry: LocalRegistry, unique_repository: str) -> None:
    image = seed_image(
        any_registry, unique_repository, "1.0", layers=(1000, 5000), labels={"a": "b"}, seed=3
    )
    assert image.repository == unique_repository and image.tag == "1.0"
    assert image.reference == f"{unique_repository}:1.0"
    assert image.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert image.digest == sha256_digest(image.manifest) and image.size == len(image.manifest)
    assert image.children == [] and image.platform == "linux/amd64"
    assert [len(image.blobs[d]) for d in image.layers] == [1000, 5000]
    assert image.config_digest is not None
    config = json.loads(image.blobs[image.config_digest])
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert config["config"]["Labels"] == {"a": "b"}
    assert config["rootfs"]["diff_ids"] == image.layers
    assert image.manifest_json["config"]["digest"] == image.config_digest
    assert_image_is_served(any_registry, image)


@pytest.mark.parametrize("media", ["docker", "oci"])
def test_seed_multi_platform_index(
    any_registry: LocalRegistry, unique_repository: str, media: Any
) -> None:
    index = seed_image(
        any_registry,
        unique_repository,
        "multi",
        platforms=["linux/amd64", "linux/arm64/v8"],
        media=media,
    )
    expected = {
        "docker": "application/vnd.docker.distribution.manifest.list.v2+json",
        "oci": "application/vnd.oci.image.index.v1+json",
    }
    assert index.media_type == expected[media]
    assert index.config_digest is None and index.platform is None
    assert [c.platform for c in index.children] == ["linux/amd64", "linux/arm64/v8"]
    platforms = [m["platform"] for m in index.manifest_json["manifests"]]
    assert platforms == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    arm = index.child("linux/arm64/v8")
    assert arm.config_digest is not None and arm.tag is None
    assert json.loads(arm.blobs[arm.config_digest])["variant"] == "v8"
    assert set(index.blobs) == {d for c in index.children for d in c.blobs}
    assert_image_is_served(any_registry, index)
    for child in index.children:
        assert_image_is_served(any_registry, child)


def test_seeding_is_deterministic(anon_registry: LocalRegistry, unique_repository: str) -> None:
    one = seed_image(
        anon_registry, f"{unique_repository}/one", seed=7, created="2020-01-01T00:00:00Z"
    )
    two = seed_image(
        anon_registry, f"{unique_repository}/two", seed=7, created="2020-01-01T00:00:00Z"
    )
    other = seed_image(anon_registry, f"{unique_repository}/three", seed=8)
    assert one.digest == two.digest and one.blobs == two.blobs
    assert other.digest != one.digest
    untagged = seed_image(anon_registry, unique_repository, None, seed=9)
    assert untagged.tag is None and untagged.reference == untagged.pinned
    assert_image_is_served(anon_registry, untagged)


def test_seed_blob_and_tags(any_registry: LocalRegistry, unique_repository: str) -> None:
    digest = seed_blob(any_registry, unique_repository, b"just a blob")
    assert digest == sha256_digest(b"just a blob")
    headers = any_registry.admin_headers([unique_repository])
    blob = requests.get(
        f"{any_registry.url}/v2/{unique_repository}/blobs/{digest}", headers=headers
    )
    assert blob.content == b"just a blob"

    image = seed_tags(any_registry, unique_repository, ["b", "a", "c"], media="oci")
    assert image.tag == "b"
    tags = requests.get(f"{any_registry.url}/v2/{unique_repository}/tags/list", headers=headers)
    assert sorted(tags.json()["tags"]) == ["a", "b", "c"]
    assert fetch_manifest(any_registry, unique_repository, "c").content == image.manifest


def test_seed_many_repositories(local_registry_factory: LocalRegistryFactory) -> None:
    reg = local_registry_factory("token")
    names = [f"many/repo-{i:03d}" for i in range(250)]
    started = time.monotonic()
    images = seed_many_repositories(reg, names)
    assert time.monotonic() - started < 15
    assert [i.repository for i in images] == names
    headers = reg.admin_headers(catalog=True)
    seen: list[str] = []
    url: str | None = f"{reg.url}/v2/_catalog?n=100"
    pages = 0
    while url:
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 200
        seen += response.json()["repositories"]
        pages += 1
        link = response.links.get("next", {}).get("url")
        url = f"{reg.url}{link}" if link else None
    assert seen == names and pages == 3
    assert_image_is_served(reg, images[-1])


# -- access log ----------------------------------------------------------------------------


def test_access_log_and_request_count(any_registry: LocalRegistry, unique_repository: str) -> None:
    reg = any_registry
    image = seed_image(reg, unique_repository, "v1")
    reg.sync_access_log()
    internal = [e for e in reg.access_log_entries(include_internal=True) if e.internal]
    assert any(unique_repository in e.uri for e in internal)  # the seeding requests
    reg.clear_access_log()
    assert reg.request_count() == 0  # seeding and probes are internal

    headers = reg.admin_headers([unique_repository])
    for _ in range(3):
        fetch_manifest(reg, unique_repository, "v1")
    requests.head(f"{reg.url}/v2/{unique_repository}/manifests/{image.digest}", headers=headers)
    requests.get(f"{reg.url}/v2/{unique_repository}/tags/list?n=5", headers=headers)

    assert reg.request_count("GET", "/manifests/v1") == 3
    assert reg.request_count("head", "/manifests/") == 1
    assert reg.request_count(path_contains="tags/list?n=5") == 1
    assert reg.request_count(status=200) == 5
    assert reg.request_count() == 5
    assert reg.access_log()[-1] == f"GET /v2/{unique_repository}/tags/list?n=5"
    entry = reg.access_log_entries()[-1]
    assert entry.path == f"/v2/{unique_repository}/tags/list" and entry.query == "n=5"
    assert entry.status == 200 and entry.user_agent.startswith("python-requests")


def test_parse_access_log_line() -> None:
    line = (
        '127.0.0.1 - - [23/Nov/2026:15:56:29 +0000] "GET /v2/_catalog?n=1 HTTP/1.1" '
        '200 20 "" "curl/7.88.1"\n'
    )
    entry = parse_access_log_line(line)
    assert entry is not None
    assert (entry.method, entry.uri, entry.status, entry.size) == (
        "GET",
        "/v2/_catalog?n=1",
        200,
        20,
    )
    assert entry.user_agent == "curl/7.88.1" and str(entry) == "GET /v2/_catalog?n=1"
    assert parse_access_log_line('time="2026-11-23T15:56:28Z" level=info msg="x"') is None


# -- teardown ----------------------------------------------------------------------------


def test_context_manager_stops_everything() -> None:
    with LocalRegistry("token", users={"bob": "pw"}) as reg:
        assert reg.token_server is not None
        pid, port, token_port = reg.pid, reg.port, reg.token_server.port
        storage = reg.storage_dir
        assert storage.is_dir() and set(reg.users) == {"admin", "bob"}
        seed_image(reg, "x/y")
        reg.restart()  # same port, same data
        assert reg.port == port and reg.pid != pid
        fetch_manifest(reg, "x/y", "latest")
        pid = reg.pid
    assert pid is not None and pid_is_gone(pid)
    assert port_is_closed(port) and port_is_closed(token_port)
    assert not storage.exists()
    assert not reg.running
    reg.stop()  # idempotent


def test_plugin_fixtures_stop_at_session_end_and_never_skip(tmp_path: Path) -> None:
    """Run a separate pytest session that uses the plugin fixtures, then check leftovers."""
    out = tmp_path / "started.json"
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent(
            """
            import json, os

            def test_start(local_registry, local_registry_factory, unique_repository):
                regs = [local_registry] + [local_registry_factory(m) for m in ("basic", "token")]
                assert unique_repository.startswith("test/test-start-")
                info = [
                    {"pid": r.pid, "ports": [r.port] + ([r.token_server.port] if r.token_server
                                                         else []), "storage": str(r.storage_dir)}
                    for r in regs
                ]
                with open(os.environ["STARTED_JSON"], "w") as f:
                    json.dump(info, f)

            def test_missing_binary(local_registry_factory):
                local_registry_factory("anonymous", binary="/nonexistent/docker-registry")
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py"],
        cwd=tmp_path,
        env={**os.environ, "STARTED_JSON": str(out)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert "1 failed, 1 passed" in output, output
    assert "skipped" not in output
    assert "apt-get install docker-registry" in output
    started = json.loads(out.read_text())
    assert len(started) == 3
    for info in started:
        assert pid_is_gone(info["pid"])
        assert all(port_is_closed(port) for port in info["ports"])
        assert not Path(info["storage"]).exists()


def test_a_port_taken_by_another_registry_is_never_mistaken_for_ours(
    anon_registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The race between free_port() and the registry binding it, forced: the first port
    # offered is one another registry already serves. start() must not take that one's
    # answer for its own, and moves on to another port.
    import registry_client.testing._process as process_mod

    offered = iter([anon_registry.port])
    real = process_mod.free_port
    monkeypatch.setattr(process_mod, "free_port", lambda: next(offered, None) or real())
    with LocalRegistry() as mine:
        assert mine.port != anon_registry.port
        assert mine.running
        assert requests.get(f"{mine.url}/v2/_catalog", timeout=5).json() == {"repositories": []}


def test_a_port_given_in_extra_config_is_the_port_used() -> None:
    from registry_client.testing._util import free_port

    port = free_port()
    config = {"http": {"addr": f"127.0.0.1:{port}"}}
    with LocalRegistry(extra_config=config, startup_timeout=20) as reg:
        assert reg.host == f"127.0.0.1:{port}"
        assert requests.get(f"{reg.url}/v2/", timeout=5).status_code == 200
        # taken now: a second registry asked for it fails, and says so, instead of
        # quietly listening somewhere else
        with pytest.raises(RuntimeError, match="address already in use"):
            LocalRegistry(extra_config=config, startup_timeout=20).start()
    with pytest.raises(ValueError, match=r"http\.addr"):
        LocalRegistry(extra_config={"http": {"addr": "0.0.0.0:5000"}}).start()


def test_a_registry_nothing_refers_to_is_stopped_when_python_exits(tmp_path: Path) -> None:
    """The exit hook held running registries weakly: one the program kept no reference
    to (``LocalRegistry().start()`` in a fixture without teardown) was collected and
    left running, its storage behind."""
    script = textwrap.dedent("""
        import gc, json
        from registry_client.testing import LocalRegistry
        reg = LocalRegistry().start()
        print(json.dumps([reg.pid, str(reg.storage_dir)]), flush=True)
        del reg
        gc.collect()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    pid, storage = json.loads(done.stdout)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        pytest.fail("the registry outlived the program that started it")
    assert not Path(storage).exists()


def test_a_tls_config_is_refused_at_once_not_after_the_start_timeout() -> None:
    """LocalRegistry probes and names plain-HTTP URLs; an http.tls section made it wait
    out its start-up timeout and say the registry 'did not answer on http://...'."""
    with pytest.raises(ValueError, match="plain HTTP"):
        LocalRegistry(extra_config={"http": {"tls": {"certificate": "c", "key": "k"}}})
