"""Security: credentials stay with the registry, secrets never surface, no path escapes,
size caps, TLS verification.

Real registries (Basic and token auth) behind a :class:`FaultProxy` whose storage host
records what it receives; requests-mock where a hostile registry is needed.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import logging
import os
import ssl
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock

from registry_client import (
    BasicAuthenticator,
    InvalidReferenceError,
    NullAuthenticator,
    Registry,
    RegistryError,
    RegistryResponseError,
    RegistrySSLError,
    TokenAuthenticator,
    TokenError,
)
from registry_client.layout import OCILayout
from registry_client.testing import FaultProxy, LocalRegistry, seed_image, self_signed_certificate

ALICE = ("alice", "alice-secret")
READER = ("reader", "reader-secret")
WRONG = "wrong-password-Zq9"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def basic_proxy(basic_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(basic_registry, timeout=5) as p:
        yield p


@pytest.fixture
def token_proxy(token_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(token_registry, timeout=5) as p:
        yield p


def basic_client(proxy: FaultProxy, password: str = ALICE[1], **kw: Any) -> Registry:
    kw.setdefault("backoff", 0.01)
    return Registry(proxy.host, protocol="http",
                    authenticator=BasicAuthenticator(ALICE[0], password), **kw)


def token_client(proxy: FaultProxy, user: tuple[str, str] = ALICE, **kw: Any) -> Registry:
    kw.setdefault("backoff", 0.01)
    return Registry(proxy.host, protocol="http",
                    authenticator=TokenAuthenticator(*user), **kw)


# -- credentials never leave the registry's host ------------------------------------------
@pytest.mark.parametrize("mode", ["basic", "token"])
def test_no_authorization_reaches_a_storage_host_on_redirect(
    request: pytest.FixtureRequest, mode: str, unique_repository: str, tmp_path: Path
) -> None:
    registry: LocalRegistry = request.getfixturevalue(f"{mode}_registry")
    image = seed_image(registry, unique_repository, "v1", layers=[300_000, 5000])
    with FaultProxy(registry, timeout=5) as proxy:
        proxy.add_rule("GET", "/blobs/sha256:", action="redirect", times=None)
        reg = basic_client(proxy) if mode == "basic" else token_client(proxy)
        repo = reg.repository(unique_repository)
        assert repo.blobs.get(image.layers[0]) == image.blobs[image.layers[0]]
        pulled = repo.images.pull("v1", tmp_path / "oci")
        assert pulled.digest == image.digest
        assert OCILayout(tmp_path / "oci").has_blob(image.layers[0])

        redirected = [r for r in proxy.requests if r.status == 307]
        assert len(redirected) >= 3
        scheme = "Basic " if mode == "basic" else "Bearer "
        assert all(r.headers["authorization"].startswith(scheme) for r in redirected)
        stored = proxy.storage_requests
        assert len(stored) == len(redirected) and all(r.status == 200 for r in stored)
        for r in stored:
            assert not {"authorization", "proxy-authorization", "cookie"} & set(r.headers)


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_a_storage_host_challenge_never_gets_credentials(
    basic_registry: LocalRegistry, basic_proxy: FaultProxy, unique_repository: str,
    scheme: str,
) -> None:
    image = seed_image(basic_registry, unique_repository, "v1", layers=[1000])
    proxy = basic_proxy
    proxy.add_rule("GET", "/blobs/sha256:", action="redirect", times=None)
    challenge = ('Basic realm="storage"' if scheme == "basic" else
                 f'Bearer realm="{proxy.storage_url}/token",service="storage"')
    proxy.add_rule(None, None, action="status", status=401, server="storage", times=None,
                   headers={"WWW-Authenticate": challenge})
    for auth in (BasicAuthenticator(*ALICE), TokenAuthenticator(*ALICE)):
        reg = Registry(proxy.host, protocol="http", authenticator=auth)
        with pytest.raises(RegistryError):
            reg.repository(unique_repository).blobs.get(image.layers[0])
    assert proxy.storage_requests
    assert all("authorization" not in r.headers for r in proxy.storage_requests)
    assert not [r for r in proxy.storage_requests if "/token" in r.path]


def test_credentials_go_to_a_plain_http_realm_only_on_the_registrys_host(
    token_registry: LocalRegistry, token_proxy: FaultProxy
) -> None:
    proxy = token_proxy
    ts = token_registry.token_server
    assert ts is not None
    # the usual case: realm on 127.0.0.1 (another port), registry configured protocol="http"
    before = len(ts.requests)
    token_client(proxy).ping()
    assert [r.user for r in ts.requests[before:]] == ["alice"]

    # a realm on another host ("localhost" is not "127.0.0.1") over plain HTTP
    other_realm = f"http://localhost:{proxy.storage_port}/token"
    proxy.add_rule("GET", "/v2/", action="status", status=401, times=None,
                   headers={"WWW-Authenticate": f'Bearer realm="{other_realm}",service="x"'})
    with pytest.raises(TokenError) as info:
        token_client(proxy).ping()
    assert other_realm in str(info.value) and "plain HTTP" in str(info.value)
    assert proxy.storage_requests == []  # not even a connection attempt
    # anonymous token auth may use such a realm: it has nothing secret to send
    with pytest.raises(TokenError, match="404"):  # the storage host knows no /token
        Registry(proxy.host, protocol="http", authenticator=TokenAuthenticator()).ping()
    (fetch,) = proxy.storage_requests
    assert fetch.path.startswith("/token?") and "authorization" not in fetch.headers


def test_a_link_to_another_host_is_not_followed_with_credentials() -> None:
    s = requests.Session()
    adapter = requests_mock.Adapter()
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    reg = Registry("registry.example", session=s, authenticator=BasicAuthenticator(*ALICE))
    base = "https://registry.example/v2/app/tags/list"
    adapter.register_uri("GET", base, [
        {"status_code": 401, "headers": {"WWW-Authenticate": 'Basic realm="r"'}},
        {"json": {"name": "app", "tags": ["a"]},
         "headers": {"Link": '<https://evil.example/v2/app/tags/list?n=1>; rel="next"'}},
    ])
    adapter.register_uri("GET", "https://evil.example/v2/app/tags/list", json={"tags": ["b"]})
    with pytest.raises(RegistryResponseError, match="another host"):
        reg.repository("app").tags.get_all()
    assert [r.hostname for r in adapter.request_history] == ["registry.example"] * 2
    assert adapter.request_history[1].headers["Authorization"].startswith("Basic ")


# -- secrets never show up ------------------------------------------------------------------------
def _tokens_seen(proxy: FaultProxy) -> set[str]:
    found: set[str] = set()
    for r in proxy.requests:
        value = r.headers.get("authorization", "")
        if " " in value:
            secret = value.split(" ", 1)[1]
            found.add(secret)
            found.update(part for part in secret.split(".") if len(part) > 20)
    return found


def _run(errors: list[BaseException], fn: Callable[[], object]) -> None:
    try:
        fn()
    except RegistryError as exc:
        errors.append(exc)


def _exercise(registry: LocalRegistry, proxy: FaultProxy, make: Callable[..., Registry],
              bad: Registry, repository: str, directory: Path,
              errors: list[BaseException], objects: list[object]) -> None:
    """Successful and failing operations of every kind through ``proxy``."""
    image = seed_image(registry, repository, "v1", layers=[50_000])
    reg = make(proxy, retries=1)
    repo = reg.repository(repository)
    objects += [reg, reg.requester, reg.requester.authenticator, repo, repo.blobs,
                repo.manifests, reg.requester.stats, bad, bad.requester.authenticator]
    repo.images.pull("v1", directory)
    repo.blobs.upload(os.urandom(3000), chunk_size=1000)
    assert repo.tags.get_all() == ["v1"]
    _run(errors, lambda: repo.manifests.get_raw("missing"))
    proxy.add_rule("GET", "/manifests/", action="status", status=503, times=2)
    _run(errors, lambda: repo.manifests.get_raw("v1"))
    proxy.add_rule("PATCH", "/uploads/", action="status", status=500, times=None)
    _run(errors, lambda: repo.blobs.upload(os.urandom(2000), chunk_size=1000))
    proxy.clear_rules()
    proxy.add_rule("GET", "/blobs/", action="corrupt", offset=3)
    _run(errors, lambda: repo.blobs.get(image.layers[0]))
    _run(errors, lambda: bad.repository(repository).manifests.get_raw("v1"))


def test_no_secret_in_errors_reprs_or_logs(
    basic_registry: LocalRegistry, token_registry: LocalRegistry, basic_proxy: FaultProxy,
    token_proxy: FaultProxy, unique_repository: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="registry_client")
    errors: list[BaseException] = []
    objects: list[object] = []
    _exercise(basic_registry, basic_proxy, basic_client, basic_client(basic_proxy, WRONG),
              unique_repository, tmp_path / "basic", errors, objects)
    _exercise(token_registry, token_proxy, token_client,
              token_client(token_proxy, user=("alice", WRONG)),
              unique_repository, tmp_path / "token", errors, objects)
    reader = token_client(token_proxy, user=READER)
    _run(errors, lambda: reader.repository(unique_repository).blobs.upload(b"forbidden"))
    ts = token_registry.token_server
    assert ts is not None
    ts.fail_next(5)
    _run(errors, lambda: token_client(token_proxy, retries=1).ping())
    ts.reset()

    assert len(errors) >= 10
    assert {type(e).__name__ for e in errors} >= {
        "NotFoundError", "RegistryUnavailableError", "DigestMismatchError",
        "AuthenticationError", "InsufficientScopeError",  # (an AuthorizationError)
    }
    basic = base64.b64encode(f"{ALICE[0]}:{ALICE[1]}".encode()).decode()
    secrets = {ALICE[1], READER[1], WRONG, basic}
    secrets |= _tokens_seen(token_proxy) | _tokens_seen(basic_proxy)
    assert any(s.startswith("eyJ") for s in secrets)  # real bearer tokens were captured
    assert basic in secrets

    texts: list[str] = []
    for exc in errors:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc)),
                  repr(vars(exc))]
    texts += [repr(o) for o in objects]
    assert len(caplog.records) > 20
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    blob = "\n".join(texts)
    for secret in secrets:
        assert secret not in blob, f"a secret leaked: {secret[:6]}..."


# -- path tricks ----------------------------------------------------------------------------------
EVIL_TAGS = ["../../etc", "..", "a/b", "x\x00y", "/abs", "tag with space", "-dash",
             "a" * 129, "sha256:../../x", "sha256:" + "g" * 64, "sha256:" + "a" * 63,
             "sha256:" + "A" * 64, "md5:" + "a" * 32, "sha256:" + "a" * 64 + "/../x", ""]


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("reference", EVIL_TAGS)
def test_a_hostile_reference_never_writes_outside_the_target(
    anon_registry: LocalRegistry, reference: str, tmp_path: Path
) -> None:
    with FaultProxy(anon_registry, timeout=5) as proxy:
        repo = Registry(proxy.host, protocol="http").repository("sec/paths")
        target = tmp_path / "a" / "b" / "target"
        target.parent.mkdir(parents=True)
        before = _snapshot(tmp_path)
        with pytest.raises(ValueError):  # InvalidReferenceError is a ValueError
            repo.images.pull(reference, target)
        with pytest.raises(ValueError):
            repo.blobs.download(reference, target)
        with pytest.raises(ValueError):
            repo.manifests.get_raw(reference)
        assert _snapshot(tmp_path) == before
        assert proxy.requests == []  # refused before any request


@pytest.mark.parametrize("digest", [d for d in EVIL_TAGS if d])
def test_layout_paths_only_for_valid_digests(digest: str, tmp_path: Path) -> None:
    layout = OCILayout(tmp_path)
    with pytest.raises(ValueError):
        layout.blob_path(digest)
    with pytest.raises(ValueError):
        layout.write_blob(digest, b"x")
    assert list(tmp_path.iterdir()) == []


def test_repository_names_with_path_tricks_are_refused() -> None:
    reg = Registry("registry.example", authenticator=NullAuthenticator())
    for name in ["../x", "a/../b", "a//b", "/a", "a/", "A", "a\x00", "a b", "%2e%2e/x"]:
        with pytest.raises(InvalidReferenceError):
            reg.repository(name)


EVIL_DIGEST = "sha256:../../../../../../tmp/evil"


def _hostile(adapter: requests_mock.Adapter, manifest: dict[str, Any], media: str,
             headers: dict[str, str] | None = None) -> bytes:
    adapter.register_uri("GET", requests_mock.ANY, status_code=404)  # matched last
    body = json.dumps(manifest).encode()
    adapter.register_uri("GET", "https://registry.example/v2/app/manifests/v1", content=body,
                         headers={"Content-Type": media, **(headers or {})})
    return body


def _mock_registry() -> tuple[Registry, requests_mock.Adapter]:
    s = requests.Session()
    adapter = requests_mock.Adapter()
    s.mount("https://", adapter)
    return Registry("registry.example", session=s, authenticator=NullAuthenticator(),
                    backoff=0), adapter


@pytest.mark.parametrize("where", ["layer", "config", "index", "header"])
def test_hostile_digests_from_a_registry_are_refused(where: str, tmp_path: Path) -> None:
    reg, adapter = _mock_registry()
    good = "sha256:" + "a" * 64
    desc = {"mediaType": "application/octet-stream", "size": 1}
    if where == "index":
        doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {**desc, "mediaType": OCI_MANIFEST, "digest": EVIL_DIGEST}]}
        _hostile(adapter, doc, OCI_INDEX)
    else:
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
               "config": {**desc, "digest": EVIL_DIGEST if where == "config" else good},
               "layers": [{**desc, "digest": EVIL_DIGEST if where == "layer" else good}]}
        _hostile(adapter, doc, OCI_MANIFEST,
                 {"Docker-Content-Digest": EVIL_DIGEST} if where == "header" else None)
    target = tmp_path / "x" / "oci"
    with pytest.raises(RegistryResponseError) as info:
        reg.repository("app").images.pull("v1", target)
    assert "digest" in str(info.value).lower() and EVIL_DIGEST[:20] in str(info.value)
    written = _snapshot(tmp_path)
    assert all(p.startswith("x") for p in written)
    assert not [p for p in written if "evil" in p or "blobs/sha256/" in p]
    assert not Path("/tmp/evil").exists()
    assert all("/blobs/" not in r.path for r in adapter.request_history)


def test_a_layout_with_hostile_digests_cannot_make_push_read_outside(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not upload me")
    layout = tmp_path / "oci"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entry = {"mediaType": OCI_MANIFEST, "digest": "sha256:../../secret.txt", "size": 16,
             "annotations": {"org.opencontainers.image.ref.name": "v1"}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    reg, adapter = _mock_registry()
    with pytest.raises(ValueError):
        reg.repository("app").images.push(layout, "v1")
    assert adapter.request_history == []


# -- size caps ------------------------------------------------------------------------------------
class Endless:
    """A response body that never ends, counting what was read from it."""

    closed = False

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, n: int = -1, *args: Any, **kw: Any) -> bytes:
        n = 65536 if n is None or n < 0 else n
        self.read_bytes += n
        return b" " * n

    def close(self) -> None:
        pass


@pytest.mark.parametrize("announce", [False, True])
def test_an_oversized_manifest_is_refused_before_it_is_read(announce: bool) -> None:
    reg, adapter = _mock_registry()
    body = Endless()
    headers = {"Content-Type": OCI_MANIFEST}
    if announce:
        headers["Content-Length"] = str(5 * 1024 * 1024)
    adapter.register_uri("GET", "https://registry.example/v2/app/manifests/v1", body=body,
                         headers=headers)
    with pytest.raises(RegistryResponseError, match="4194304-byte limit"):
        reg.repository("app").manifests.get_raw("v1")
    assert body.read_bytes <= (0 if announce else 4 * 1024 * 1024 + 256 * 1024)


def test_the_body_limit_is_configurable_against_a_real_registry(
    anon_registry: LocalRegistry, unique_repository: str
) -> None:
    image = seed_image(anon_registry, unique_repository, "v1", layers=[100],
                       labels={f"label-{i}": "x" * 100 for i in range(5)})
    ok = Registry(anon_registry.host, protocol="http", body_limit=len(image.manifest))
    assert ok.repository(unique_repository).manifests.get_raw("v1").data == image.manifest
    small = Registry(anon_registry.host, protocol="http", body_limit=len(image.manifest) - 1)
    with pytest.raises(RegistryResponseError, match="limit"):
        small.repository(unique_repository).manifests.get_raw("v1")
    # the config blob (bigger than the manifest here) is capped by the same limit
    config = image.blobs[image.config_digest or ""]
    assert len(config) > len(image.manifest)
    between = Registry(anon_registry.host, protocol="http", body_limit=len(config) - 1)
    assert between.repository(unique_repository).manifests.get_raw("v1").data == image.manifest
    with pytest.raises(RegistryResponseError, match="image config"):
        between.repository(unique_repository).images.get_by_tag("v1")
    roomy = Registry(anon_registry.host, protocol="http", body_limit=len(config))
    assert roomy.repository(unique_repository).images.get_by_tag("v1").digest == image.digest


MAX_ENTRIES = 1000


@pytest.mark.parametrize("entries", [MAX_ENTRIES, MAX_ENTRIES + 1, 15_000])
def test_an_index_with_too_many_entries_is_refused(entries: int, tmp_path: Path) -> None:
    reg, adapter = _mock_registry()
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": "sha256:" + f"{i:064x}", "size": 10,
         "platform": {"os": "linux", "architecture": f"arch{i}"}} for i in range(entries)]}
    body = _hostile(adapter, doc, OCI_INDEX)
    assert len(body) < 4 * 1024 * 1024
    repo = reg.repository("app")
    if entries <= MAX_ENTRIES:
        assert len(repo.manifests.get("v1").manifests) == entries  # type: ignore[union-attr]
        return
    for call in (lambda: repo.manifests.get("v1"), lambda: repo.images.get_by_tag("v1"),
                 lambda: repo.images.pull("v1", tmp_path / "oci")):
        with pytest.raises(RegistryResponseError, match="1000"):
            call()
    assert not [r for r in adapter.request_history if str(r.path).count("/manifests/sha256")]


@pytest.mark.parametrize(("count", "ok"), [(100_000, True), (100_001, False)])
def test_a_tag_page_over_100000_tags_is_refused(count: int, ok: bool) -> None:
    reg, adapter = _mock_registry()
    adapter.register_uri("GET", "https://registry.example/v2/app/tags/list",
                         json={"name": "app", "tags": [f"t{i}" for i in range(count)]})
    if ok:
        assert len(reg.repository("app").tags.list().tags) == count
    else:
        with pytest.raises(RegistryResponseError, match="100000"):
            reg.repository("app").tags.list()


@pytest.mark.parametrize(("length", "body"), [(10, b'{"tags": []}' + b" " * 5_000_000),
                                              (5000, b'{"tags": []}'), (-1, b"{}"),
                                              ("12abc", b"{}")])
def test_a_lying_content_length_is_a_response_error(length: object, body: bytes) -> None:
    reg, adapter = _mock_registry()
    adapter.register_uri("GET", "https://registry.example/v2/app/tags/list", content=body,
                         headers={"Content-Length": str(length)})
    with pytest.raises(RegistryResponseError, match="Content-Length"):
        reg.repository("app").tags.list()


# -- TLS -------------------------------------------------------------------------------------------
class _V2(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cert, key = self_signed_certificate(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _V2)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "registry_client" and r.levelno == logging.WARNING]


def test_tls_is_verified_by_default(
    tls_server: tuple[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    host, cert = tls_server
    caplog.set_level(logging.DEBUG, logger="registry_client")
    reg = Registry(host, authenticator=NullAuthenticator(), retries=0)
    assert reg.requester.verify is True
    with pytest.raises(RegistrySSLError) as info:
        reg.ping()
    assert host in str(info.value)
    trusted = Registry(host, authenticator=NullAuthenticator(), verify=str(cert))
    trusted.ping()
    assert _warnings(caplog) == []  # verified TLS: nothing to warn about


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_and_plain_http_warn_once_per_host(
    tls_server: tuple[str, Path], anon_registry: LocalRegistry,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import registry_client._endpoint as endpoint_mod

    monkeypatch.setattr(endpoint_mod, "_WARNED", set())  # as in a fresh process
    host, _ = tls_server
    caplog.set_level(logging.DEBUG, logger="registry_client")
    insecure = Registry(host, authenticator=NullAuthenticator(), verify=False)
    for _ in range(3):
        insecure.ping()
    assert len(_warnings(caplog)) == 1 and "verification" in _warnings(caplog)[0]
    caplog.clear()
    plain = Registry(anon_registry.host, protocol="http")
    for _ in range(3):
        plain.ping()
    other = Registry(anon_registry.host, protocol="http")  # the same host: said already
    other.ping()
    warned = _warnings(caplog)
    assert len(warned) == 1 and "plain HTTP" in warned[0]


def test_default_requests_ask_for_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    reg, adapter = _mock_registry()
    adapter.register_uri("GET", "https://registry.example/v2/", json={})
    reg.ping()
    assert adapter.request_history[0].verify is True
    assert reg.requester.base_url.startswith("https://")
