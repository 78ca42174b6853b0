"""AsyncRequester against a real Distribution registry in each auth mode: the same answers,
token requests and error messages as the blocking Requester."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from registry_client import NullAuthenticator, TokenAuthenticator
from registry_client._auth_protocol import Authenticator
from registry_client._flow import Call, Drain, Flow, Gather
from registry_client._request import Request
from registry_client.aio._requester import AsyncRequester
from registry_client.aio._run import arun
from registry_client.aio._shell import AsyncShell
from registry_client.errors import NotFoundError, RegistryError
from registry_client.mediatypes import MANIFEST_ACCEPT
from registry_client.requester import Requester
from registry_client.testing import FaultProxy, LocalRegistry, seed_blob, seed_image, tcp_server

pytestmark = pytest.mark.integration

AuthFor = Callable[..., Authenticator | None]


def _manifest_request(repository: str, reference: str) -> Request:
    return Request("GET", f"{repository}/manifests/{reference}",
                   scopes=(f"repository:{repository}:pull",),
                   headers={"Accept": MANIFEST_ACCEPT},
                   operation=f"get manifest {reference} of {repository}")


@pytest.mark.anyio
async def test_a_manifest_and_a_blob_come_back_as_from_the_blocking_requester(
    any_registry: LocalRegistry, authenticator_for: AuthFor, unique_repository: str,
) -> None:
    image = seed_image(any_registry, unique_repository, "1.0", layers=(3 << 20,))
    requester = AsyncRequester(any_registry.host, authenticator_for(any_registry),
                               protocol="http")
    blocking = Requester(any_registry.host, authenticator_for(any_registry), protocol="http")
    try:
        got = await requester.send_request(_manifest_request(unique_repository, "1.0"))
        want = blocking.send_request(_manifest_request(unique_repository, "1.0"))
        assert got.content == want.content, "the two flavours differ"
        assert got.content == image.manifest
        assert got.headers["Docker-Content-Digest"] == image.digest

        layer = image.layers[0]
        hasher = hashlib.sha256()

        def pull() -> Flow[int]:
            resp = yield Call(Request("GET", f"{unique_repository}/blobs/{layer}",
                                      scopes=(f"repository:{unique_repository}:pull",),
                                      stream=True))
            try:
                n: int = yield Drain(resp, hasher.update)
            finally:
                resp.close()
            return n

        assert await arun(pull(), AsyncShell(requester)) == 3 << 20
        assert "sha256:" + hasher.hexdigest() == layer
    finally:
        await requester.aclose()
        blocking.close()


@pytest.mark.anyio
async def test_a_hundred_gathered_gets_cost_one_token_request(
    token_registry: LocalRegistry, unique_repository: str,
) -> None:
    seed_image(token_registry, unique_repository, "1.0")
    assert token_registry.admin is not None
    auth = TokenAuthenticator(*token_registry.admin)
    requester = AsyncRequester(token_registry.host, auth, protocol="http")
    try:
        answers = await asyncio.gather(*(
            requester.send_request(_manifest_request(unique_repository, "1.0"))
            for _ in range(100)))
    finally:
        await requester.aclose()
    assert {a.status_code for a in answers} == {200}
    assert auth.token_requests == 1


async def _both_fail(domain: str, request: Request, **kw: object) -> tuple[str, str]:
    """The messages of the blocking and the asyncio requester for the same failure."""
    blocking = Requester(domain, NullAuthenticator(), protocol="http", **kw)  # type: ignore[arg-type]
    aio = AsyncRequester(domain, NullAuthenticator(), protocol="http", **kw)  # type: ignore[arg-type]
    try:
        with pytest.raises(RegistryError) as want:
            await asyncio.to_thread(blocking.send_request, request)
        with pytest.raises(RegistryError) as got:
            await aio.send_request(request)
    finally:
        blocking.close()
        await aio.aclose()
    assert type(got.value) is type(want.value)
    return str(want.value), str(got.value)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.anyio
async def test_a_refused_port_fails_with_the_blocking_api_s_message() -> None:
    want, got = await _both_fail(f"127.0.0.1:{_closed_port()}", Request("GET", ""),
                                 retries=1, backoff=0.0)
    assert got == want
    assert "failed after 2 attempt(s): connection refused (is a registry listening on" in got


@pytest.mark.anyio
async def test_a_registry_that_never_answers_fails_with_the_blocking_api_s_message() -> None:
    def never_answer(conn: socket.socket) -> None:
        conn.recv(65536)
        time.sleep(1.0)

    with tcp_server(never_answer) as port:
        want, got = await _both_fail(f"127.0.0.1:{port}", Request("GET", "", operation="ping"),
                                     retries=0, timeout=(1, 0.3))
    assert got == want
    assert got.endswith("read timed out (no answer within 0.3 s; raise timeout= for a slow "
                        "registry)")


@pytest.mark.anyio
async def test_a_missing_manifest_fails_with_the_blocking_api_s_message(
    anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    want, got = await _both_fail(anon_registry.host,
                                 _manifest_request(unique_repository, "nope"))
    assert got == want
    assert "MANIFEST_UNKNOWN" in got


@pytest.mark.anyio
async def test_a_refused_token_request_fails_with_the_blocking_api_s_message(
    token_registry: LocalRegistry, unique_repository: str,
) -> None:
    seed_image(token_registry, unique_repository, "1.0")
    request = _manifest_request(unique_repository, "1.0")
    blocking = Requester(token_registry.host, TokenAuthenticator("alice", "wrong"),
                         protocol="http")
    aio = AsyncRequester(token_registry.host, TokenAuthenticator("alice", "wrong"),
                         protocol="http")
    try:
        with pytest.raises(RegistryError) as want:
            await asyncio.to_thread(blocking.send_request, request)
        with pytest.raises(RegistryError) as got:
            await aio.send_request(request)
    finally:
        blocking.close()
        await aio.aclose()
    assert (type(got.value), str(got.value)) == (type(want.value), str(want.value))




@pytest.mark.anyio
async def test_a_file_uploads_through_the_requester_as_through_the_blocking_one(
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    data = os.urandom((5 << 20) + 7)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = tmp_path / "layer"
    path.write_bytes(data)
    requester = AsyncRequester(anon_registry.host, NullAuthenticator(), protocol="http")
    try:
        start = await requester.send_request(Request(
            "POST", f"{unique_repository}/blobs/uploads/", expected=frozenset({202})))
        with path.open("rb") as f:
            await requester.send_request(Request(
                "PUT", requester.resolve(start.headers["Location"]), params={"digest": digest},
                body=f, expected=frozenset({201})))
        head = await requester.send_request(Request(
            "HEAD", f"{unique_repository}/blobs/{digest}"))
    finally:
        await requester.aclose()
    assert head.headers["Content-Length"] == str(len(data))


@pytest.mark.anyio
async def test_a_missing_blob_calls_the_other_transfers_off(
    anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    """A transfer Gather against the real registry: the 404 of one blob stops the two
    running downloads at their next block (Cancelled: nothing kept) and is raised."""
    digests = [seed_blob(anon_registry, unique_repository, os.urandom(16 << 20))
               for _ in range(2)] + ["sha256:" + "0" * 64]
    outcome: dict[str, str] = {}
    received: dict[str, int] = {}

    def slow_sink(digest: str) -> Callable[[bytes], None]:
        def sink(block: bytes) -> None:
            received[digest] = received.get(digest, 0) + len(block)
            time.sleep(0.05)  # a slow disk: the transfers are still running at the 404
        return sink

    def download(digest: str) -> Flow[int]:
        try:
            resp = yield Call(Request("GET", f"{unique_repository}/blobs/{digest}",
                                      stream=True, operation=f"get blob {digest[:15]}"))
            try:
                n: int = yield Drain(resp, slow_sink(digest))
            finally:
                resp.close()
        except BaseException as exc:
            outcome[digest] = type(exc).__name__
            raise
        outcome[digest] = "done"
        return n

    def transfer() -> Flow[None]:
        yield Gather([lambda d=d: download(d) for d in digests],  # type: ignore[misc]
                     workers=3, transfer=True)

    requester = AsyncRequester(anon_registry.host, NullAuthenticator(), protocol="http")
    try:
        with pytest.raises(NotFoundError, match="get blob sha256:0000000"):
            await arun(transfer(), AsyncShell(requester))
    finally:
        await requester.aclose()
    assert outcome == {digests[0]: "Cancelled", digests[1]: "Cancelled",
                       digests[2]: "NotFoundError"}
    assert all(received.get(d, 0) < 16 << 20 for d in digests[:2])  # stopped, not finished


@pytest.mark.anyio
async def test_200_gathered_manifest_gets_share_pool_size_connections(
    anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    """One gather of 200 manifest GETs goes over at most ``pool_size`` connections (not
    one each), every answer right; counted by a proxy in front of the registry."""
    image = seed_image(anon_registry, unique_repository, "1")
    with FaultProxy(anon_registry) as proxy:
        requester = AsyncRequester(proxy.host, protocol="http", pool_size=4)
        try:
            answers = await asyncio.gather(*(
                requester.send_request(_manifest_request(unique_repository, "1"))
                for _ in range(200)))
        finally:
            await requester.aclose()
        gets = [r for r in proxy.requests if r.path.endswith("/manifests/1")]
    assert {hashlib.sha256(a.content).hexdigest() for a in answers} == \
        {image.digest.split(":", 1)[1]}
    assert len(gets) == 200
    assert 1 <= len({r.connection for r in gets}) <= 4
