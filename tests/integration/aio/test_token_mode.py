"""Acceptance of issue #14 against the real registry in token mode, with coroutines.

* 100 ``manifests.get`` gathered on one ``AsyncRegistry`` cost 1 token request;
* ``AsyncRegistry`` pull, push and copy give the digests the blocking API gives, and
  skopeo reads what they wrote (the registry's copies and the pulled layout);
* errors are the same types with the same messages as the blocking API's.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _write_helpers import build_image, layout_blobs, layout_index, upload_image

from registry_client import (
    AuthenticationError,
    AuthorizationError,
    ManifestV2,
    Registry,
    RegistryUnavailableError,
    TokenAuthenticator,
)
from registry_client.testing import LocalRegistry, LocalRegistryFactory, seed_image, tcp_server

pytestmark = pytest.mark.integration

ClientFactory = Callable[..., Registry]


async def maybe_await(value: Any) -> Any:
    """``reg.repository(name)`` sends no request; await it only if the API made it async."""
    return await value if inspect.isawaitable(value) else value


def fresh(what: str) -> str:
    return f"aio-token/{what}-{uuid.uuid4().hex[:8]}"


# -- one token for 100 gathered gets ---------------------------------------------------------


@pytest.mark.anyio
async def test_100_gathered_manifest_gets_cost_one_token_request(
    token_registry: LocalRegistry, aclient_for: Callable[..., Any], unique_repository: str
) -> None:
    token_server = token_registry.token_server
    assert token_server is not None
    image = seed_image(token_registry, unique_repository, "1")
    token_registry.clear_access_log()
    token_server.reset()

    async with aclient_for(token_registry) as areg:  # a fresh client: no token cached yet
        repo = await maybe_await(areg.repository(unique_repository))
        manifests = await asyncio.gather(*(repo.manifests.get("1") for _ in range(100)))

    assert len(manifests) == 100
    assert {type(m) for m in manifests} == {ManifestV2}
    assert {m.config.digest for m in manifests} == {image.config_digest}
    assert token_server.count == 1
    assert token_server.requests[0].scopes == [f"repository:{unique_repository}:pull"]
    assert token_server.requests[0].user == "admin"
    got = token_registry.request_count("GET", f"/v2/{unique_repository}/manifests/1", status=200)
    assert got == 100


@pytest.mark.anyio
async def test_100_gathered_gets_with_a_wrong_password_cost_one_token_request(
    token_registry: LocalRegistry, aclient_for: Callable[..., Any], unique_repository: str
) -> None:
    """The token server refuses the password once, and that refusal answers every task
    that waited for the token: not a hundred failed logins in a second."""
    token_server = token_registry.token_server
    assert token_server is not None
    seed_image(token_registry, unique_repository, "1")
    token_server.reset()
    wrong = TokenAuthenticator("admin", "not-the-password")

    async with aclient_for(token_registry, authenticator=wrong) as areg:
        repo = await maybe_await(areg.repository(unique_repository))
        results = await asyncio.gather(*(repo.manifests.get("1") for _ in range(100)),
                                       return_exceptions=True)

    assert all(isinstance(r, AuthenticationError) for r in results)
    assert len({str(r) for r in results}) == 1
    assert token_server.count == 1


# -- pull, push and copy: the blocking API's digests, and skopeo reads them ------------------


@pytest.fixture(scope="module")
def skopeo() -> str:
    found = shutil.which("skopeo")
    if found is None:
        pytest.fail("skopeo is not installed (apt-get install skopeo)", pytrace=False)
    return found


def skopeo_inspect(skopeo: str, where: str, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [skopeo, "--insecure-policy", "inspect", *args, where],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, f"skopeo inspect {where} failed:\n{result.stderr}"
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def registry_inspect(skopeo: str, reg: LocalRegistry, repository: str, tag: str) -> Any:
    creds = [] if reg.admin is None else ["--creds", f"{reg.admin[0]}:{reg.admin[1]}"]
    return skopeo_inspect(skopeo, f"docker://{reg.host}/{repository}:{tag}",
                          "--tls-verify=false", *creds)


@pytest.fixture(scope="module")
def other_reg(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """An anonymous registry: the target of copies across registries."""
    return local_registry_factory("anonymous")


@pytest.mark.anyio
async def test_pull_push_copy_give_the_blocking_digests_and_skopeo_reads_them(
    token_registry: LocalRegistry, other_reg: LocalRegistry, client_for: ClientFactory,
    aclient_for: Callable[..., Any], skopeo: str, tmp_path: Path, thread_sends: list[int],
) -> None:
    # a 6 MiB layer: past the 4 MiB from which the asyncio API sends a body from a
    # worker thread straight to the socket (the push's PATCH, the copy's relayed PUT)
    image = build_image((6 * 1024 * 1024, 200_000), media="oci", gzipped=True, label="aio")
    source = fresh("source")
    blocking, blocking_other = client_for(token_registry), client_for(other_reg)
    upload_image(blocking.repository(source), image, "1.0")

    # the blocking API, for reference
    sync_pulled = blocking.repository(source).images.pull("1.0", tmp_path / "sync")
    sync_pushed = blocking.repository(fresh("sync-push")).images.push(tmp_path / "sync", "1.0")
    sync_copied = blocking.repository(source).images.copy(
        "1.0", blocking_other.repository(fresh("sync-across")))

    async with aclient_for(token_registry) as areg, aclient_for(other_reg) as aother:
        repo = await maybe_await(areg.repository(source))
        pulled = await repo.images.pull("1.0", tmp_path / "aio")
        push_name, copy_name, across_name = fresh("push"), fresh("copy"), fresh("across")
        pushed = await (await maybe_await(areg.repository(push_name))).images.push(
            tmp_path / "aio", "1.0")
        copied = await repo.images.copy("1.0", await maybe_await(areg.repository(copy_name)))
        across = await repo.images.copy(
            "1.0", await maybe_await(aother.repository(across_name)), "moved")

    big = max(len(image.blobs[d]) for d in image.layers)
    assert sum(thread_sends) >= 2 * big  # the push and the copy across, from threads
    assert pulled.digest == sync_pulled.digest == image.digest
    assert (pulled.tag, pulled.repository, pulled.domain) == ("1.0", source, token_registry.host)
    assert pushed.digest == sync_pushed.digest == image.digest
    assert (pushed.repository, pushed.tag) == (push_name, "1.0")
    assert copied.digest == sync_copied.digest == image.digest
    assert (across.digest, across.tag, across.domain) == (image.digest, "moved", other_reg.host)
    # the same layout on disk, file for file
    assert layout_index(tmp_path / "aio") == layout_index(tmp_path / "sync")
    aio_blobs, sync_blobs = layout_blobs(tmp_path / "aio"), layout_blobs(tmp_path / "sync")
    assert set(aio_blobs) == set(sync_blobs) == {image.digest, *image.blobs}
    assert (tmp_path / "aio" / "oci-layout").read_bytes() == (
        tmp_path / "sync" / "oci-layout").read_bytes()

    # skopeo reads the pulled layout and every image the asyncio API wrote
    layout = skopeo_inspect(skopeo, f"oci:{tmp_path / 'aio'}:1.0")
    assert (layout["Digest"], layout["Layers"]) == (image.digest, image.layers)
    for reg, name, tag in ((token_registry, push_name, "1.0"), (token_registry, copy_name, "1.0"),
                           (other_reg, across_name, "moved")):
        info = registry_inspect(skopeo, reg, name, tag)
        assert (info["Digest"], info["Layers"]) == (image.digest, image.layers), name
        assert (info["Os"], info["Architecture"]) == ("linux", "amd64")


# -- errors: the same types, the same messages -----------------------------------------------


async def async_error(call: Callable[[], Any]) -> BaseException:
    try:
        await call()
    except Exception as exc:
        return exc
    raise AssertionError("no exception raised")


def sync_error(call: Callable[[], Any]) -> BaseException:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("no exception raised")


def same(got: BaseException, expected: BaseException) -> tuple[Any, Any]:
    return (type(got), str(got), getattr(got, "status_code", None)), (
        type(expected), str(expected), getattr(expected, "status_code", None))


@pytest.mark.anyio
async def test_auth_errors_are_the_blocking_apis(
    token_registry: LocalRegistry, unique_repository: str,
) -> None:
    from registry_client.aio import AsyncRegistry

    seed_image(token_registry, unique_repository, "1")
    host = token_registry.host
    cases = {
        "wrong password": (TokenAuthenticator("alice", "wrong"), AuthenticationError,
                           lambda repo: repo.manifests.get("1")),
        "pull-only user pushes": (TokenAuthenticator("reader", "reader-secret"),
                                  AuthorizationError, lambda repo: repo.blobs.upload(b"x" * 10)),
        "anonymous pushes": (None, AuthenticationError | AuthorizationError,
                             lambda repo: repo.manifests.delete(
                                 "sha256:" + "0" * 64)),
    }
    for what, (auth, kind, call) in cases.items():
        with Registry(host, protocol="http", authenticator=auth) as reg:
            expected = sync_error(lambda c=call, r=reg: c(r.repository(unique_repository)))
        assert isinstance(expected, kind), (what, expected)
        async with AsyncRegistry(host, protocol="http", authenticator=auth) as areg:
            repo = await maybe_await(areg.repository(unique_repository))
            got = await async_error(lambda c=call, r=repo: c(r))
        left, right = same(got, expected)
        assert left == right, what
        assert "secret" not in str(got) and "wrong" not in str(got)


@pytest.mark.anyio
async def test_connection_errors_are_the_blocking_apis() -> None:
    from registry_client.aio import AsyncRegistry

    with socket.socket() as refusing:  # bound, never listening: connections are refused
        refusing.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{refusing.getsockname()[1]}"
        with Registry(host, protocol="http", retries=0) as reg:
            expected = sync_error(lambda: reg.repository("demo/app").manifests.get("1"))
        assert isinstance(expected, RegistryUnavailableError)
        async with AsyncRegistry(host, protocol="http", retries=0) as areg:
            repo = await maybe_await(areg.repository("demo/app"))
            got = await async_error(lambda: repo.manifests.get("1"))
    left, right = same(got, expected)
    assert left == right
    assert type(got.__cause__) is not type(None)  # the low-level cause is kept, as in sync


def _hang_up(conn: socket.socket) -> None:
    conn.recv(65536)  # reads the request, closes without an answer


def _never_answer(conn: socket.socket) -> None:
    conn.recv(65536)
    time.sleep(1.5)  # longer than the 0.5 s read timeout


@pytest.mark.anyio
@pytest.mark.parametrize("server", [_hang_up, _never_answer], ids=["hang-up", "read-timeout"])
async def test_a_server_that_does_not_answer_is_the_blocking_apis_error(
    server: Callable[[socket.socket], None],
) -> None:
    from registry_client.aio import AsyncRegistry

    with tcp_server(server) as port:
        host = f"127.0.0.1:{port}"
        with Registry(host, protocol="http", retries=0, timeout=(1, 0.5)) as reg:
            expected = sync_error(lambda: reg.repository("demo/app").manifests.get("1"))
        assert isinstance(expected, RegistryUnavailableError)
        async with AsyncRegistry(host, protocol="http", retries=0, timeout=(1, 0.5)) as areg:
            repo = await maybe_await(areg.repository("demo/app"))
            got = await async_error(lambda: repo.manifests.get("1"))
    left, right = same(got, expected)
    assert left == right
