"""Uploads under faults: chunk resume from the registry's offset, safe final PUT, cancel.

Facts about Distribution 2.8 these tests rely on (checked through the proxy): a PATCH
that was cut *before* any body byte arrived leaves the session intact, and the upload
status (``GET`` on the session) reports the committed offset; a PATCH cut *after* some
bytes arrived (or whose answer was lost) leaves a session whose every later request is
``404 BLOB_UPLOAD_INVALID`` -- the only way on is a new session.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _recording import RecordingShell, cancel_statuses, cancelled_session, puts_that_got_through

from registry_client import (
    DigestMismatchError,
    Registry,
    RegistryError,
    RegistryUnavailableError,
)
from registry_client._flow import run
from registry_client.progress import BlobAdvanced
from registry_client.testing import FaultProxy, LocalRegistry, seed_image

MB = 1_000_000
DATA = os.urandom(3 * MB + 12_345)
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        yield p


def client(proxy: FaultProxy, **kw: Any) -> Registry:
    kw.setdefault("backoff", 0.01)
    return Registry(proxy.host, protocol="http", **kw)


def stored(reg: LocalRegistry, repo: str, digest: str) -> bytes:
    """The blob as the registry serves it, fetched directly (not through the proxy)."""
    r = requests.get(f"{reg.url}/v2/{repo}/blobs/{digest}", timeout=10)
    assert r.status_code == 200, r.status_code
    return r.content


def of(proxy: FaultProxy, method: str) -> list[Any]:
    return [r for r in proxy.requests if r.method == method and "/blobs/uploads/" in r.path]


def session_id(path: str) -> str:
    m = re.search(r"/blobs/uploads/([0-9a-f-]+)", path)
    assert m, path
    return m.group(1)


# -- chunked: resume from the registry's offset ------------------------------------------
@pytest.mark.parametrize("fault", ["reset", "cut-before-body"])
def test_chunk_resumes_from_the_offset_the_registry_reports(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str, fault: str
) -> None:
    if fault == "reset":  # the registry never sees the 2nd PATCH
        proxy.add_rule("PATCH", "/blobs/uploads/", action="reset", every=2)
    else:  # headers reach the registry, then the connection breaks: no body byte
        proxy.add_rule("PATCH", "/blobs/uploads/", action="cut", on="request", after_bytes=0,
                       every=2)
    desc = client(proxy).repository(unique_repository).blobs.upload(DATA, chunk_size=MB)
    assert desc.digest == DIGEST and desc.size == len(DATA)
    assert stored(anon_registry, unique_repository, DIGEST) == DATA
    patches = of(proxy, "PATCH")
    ranges = [p.headers["content-range"] for p in patches]
    # the 2nd chunk is sent again from the registry-reported offset (after a status GET)
    assert ranges == ["0-999999", "1000000-1999999", "1000000-1999999", "2000000-2999999",
                      "3000000-3012344"]
    assert patches[1].status is None
    status_checks = of(proxy, "GET")
    assert len(status_checks) == 1 and status_checks[0].time > patches[1].time
    assert len(of(proxy, "POST")) == 1  # same session throughout
    assert len({session_id(p.path) for p in patches}) == 1


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("which", [1, 2])
def test_a_refused_patch_waits_then_resumes_from_the_registry_offset(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str, status: int,
    which: int,
) -> None:
    # An empty session reports "Range: 0-0" (the same as one byte held): the first chunk
    # must still start at byte 0. Retry-After is honoured before asking for the status.
    proxy.add_rule("PATCH", "/blobs/uploads/", action="status", status=status,
                   retry_after=1, every=which)
    started = time.monotonic()
    desc = client(proxy).repository(unique_repository).blobs.upload(DATA, chunk_size=MB)
    assert time.monotonic() - started >= 0.9
    assert desc.digest == DIGEST
    assert stored(anon_registry, unique_repository, DIGEST) == DATA
    patches = of(proxy, "PATCH")
    assert [p.status for p in patches].count(status) == 1
    refused = next(i for i, p in enumerate(patches) if p.status == status)
    again = patches[refused + 1]
    assert again.headers["content-range"] == patches[refused].headers["content-range"]
    assert again.headers["content-range"].startswith(f"{(which - 1) * MB}-")


def test_two_cut_chunks_start_two_new_sessions(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    proxy.add_rule("PATCH", "/blobs/uploads/", action="cut", on="request",
                   after_bytes=400_000, times=2, every=2)
    desc = client(proxy).repository(unique_repository).blobs.upload(DATA, chunk_size=MB)
    assert desc.digest == DIGEST
    assert stored(anon_registry, unique_repository, DIGEST) == DATA
    assert len(of(proxy, "POST")) == 3


def test_chunk_cuts_beyond_the_retries_are_unavailability_not_not_found(
    proxy: FaultProxy, unique_repository: str
) -> None:
    proxy.add_rule("PATCH", "/blobs/uploads/", action="cut", on="request",
                   after_bytes=400_000, times=None)
    with pytest.raises(RegistryUnavailableError, match="upload session"):
        client(proxy, retries=1).repository(unique_repository).blobs.upload(
            DATA, chunk_size=MB)
    assert len(of(proxy, "POST")) == 2


@pytest.mark.parametrize("action", ["cut", "drop"])
def test_a_chunk_cut_midway_starts_a_new_session(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str, action: str
) -> None:
    # Distribution keeps the partial chunk but its session state no longer matches:
    # the status check answers 404 BLOB_UPLOAD_INVALID, so the upload starts over.
    proxy.add_rule("PATCH", "/blobs/uploads/", action=action,  # type: ignore[arg-type]
                   on="request" if action == "cut" else "response", after_bytes=400_000,
                   every=2)
    desc = client(proxy).repository(unique_repository).blobs.upload(DATA, chunk_size=MB)
    assert desc.digest == DIGEST
    assert stored(anon_registry, unique_repository, DIGEST) == DATA
    assert len(of(proxy, "POST")) == 2
    assert [g.status for g in of(proxy, "GET")] == [404]
    (put,) = of(proxy, "PUT")
    assert put.status == 201 and f"digest={DIGEST}".replace(":", "%3A") in put.path


# -- the final PUT -------------------------------------------------------------------------
@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("status", [502, 503])
def test_a_5xx_on_the_final_put_is_retried(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str, chunked: bool,
    status: int,
) -> None:
    proxy.add_rule("PUT", "/blobs/uploads/", action="status", status=status)
    desc = client(proxy).repository(unique_repository).blobs.upload(
        DATA, chunk_size=MB if chunked else None
    )
    assert desc.digest == DIGEST
    assert stored(anon_registry, unique_repository, DIGEST) == DATA
    puts = of(proxy, "PUT")
    assert [p.status for p in puts] == [status, 201]
    assert session_id(puts[0].path) == session_id(puts[1].path)
    # a monolithic PUT carries the whole blob each time; a chunked one carries nothing
    assert [p.request_bytes for p in puts] == ([0, 0] if chunked else [len(DATA)] * 2)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_final_put_whose_answer_was_lost_is_recognised(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str, chunked: bool
) -> None:
    # The registry stored the blob but the answer never arrived. The chunked upload's
    # empty PUT is sent again and finds the session gone (404 BLOB_UPLOAD_UNKNOWN); the
    # monolithic one is not re-sent blindly. Either way a HEAD finds the blob: success.
    proxy.add_rule("PUT", "/blobs/uploads/", action="drop")
    desc = client(proxy).repository(unique_repository).blobs.upload(
        DATA, chunk_size=MB if chunked else None
    )
    assert desc.digest == DIGEST
    assert stored(anon_registry, unique_repository, DIGEST) == DATA
    assert [p.status for p in of(proxy, "PUT")] == ([None, 404] if chunked else [None])
    last = proxy.requests[-1]
    assert (last.method, last.status) == ("HEAD", 200) and last.path.endswith(DIGEST)
    assert len(of(proxy, "POST")) == 1


def test_a_monolithic_put_cut_midway_goes_to_a_new_session(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    # Distribution cannot continue a session whose PUT body was cut: the blob is sent
    # again in a new session, and not (uselessly) to the old one first.
    proxy.add_rule("PUT", "/blobs/uploads/", action="cut", on="request", after_bytes=MB)
    desc = client(proxy).repository(unique_repository).blobs.upload(DATA)
    assert desc.digest == DIGEST
    assert stored(anon_registry, unique_repository, DIGEST) == DATA
    first, second = of(proxy, "PUT")
    assert (first.request_bytes, first.status) == (MB, None)
    assert (second.request_bytes, second.status) == (len(DATA), 201)
    assert session_id(first.path) != session_id(second.path)
    assert len(of(proxy, "POST")) == 2
    (cancel,) = of(proxy, "DELETE")
    assert session_id(cancel.path) == session_id(first.path)
    assert proxy.bytes_from_client == MB + len(DATA)  # nothing else was re-sent


def test_repeated_cuts_of_a_monolithic_put_are_bounded(
    proxy: FaultProxy, unique_repository: str
) -> None:
    proxy.add_rule("PUT", "/blobs/uploads/", action="cut", on="request", after_bytes=MB,
                   times=None)
    with pytest.raises(RegistryUnavailableError):
        client(proxy, retries=2).repository(unique_repository).blobs.upload(DATA)
    assert len(of(proxy, "PUT")) == 3 and len(of(proxy, "POST")) == 3
    assert len(of(proxy, "DELETE")) == 3  # every session cancelled


# -- cancel when the upload finally fails ---------------------------------------------------
@pytest.mark.parametrize("chunked", [False, True])
def test_a_failed_upload_cancels_its_session(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str, chunked: bool
) -> None:
    method = "PATCH" if chunked else "PUT"
    proxy.add_rule(method, "/blobs/uploads/", action="status", status=500, times=None)
    with pytest.raises(RegistryUnavailableError) as info:
        client(proxy, retries=1).repository(unique_repository).blobs.upload(
            DATA, chunk_size=MB if chunked else None
        )
    assert info.value.status_code == 500
    assert len(of(proxy, "POST")) == 1
    (delete,) = of(proxy, "DELETE")
    assert delete.status in (200, 202, 204)
    uuid = session_id(delete.path)
    failed = of(proxy, method)
    assert failed and all(session_id(r.path) == uuid for r in failed)
    assert delete.time > max(r.time for r in failed)
    # the session is gone on the registry
    r = requests.get(f"{anon_registry.url}/v2/{unique_repository}/blobs/uploads/{uuid}",
                     timeout=5)
    assert r.status_code == 404
    head = requests.head(f"{anon_registry.url}/v2/{unique_repository}/blobs/{DIGEST}",
                         timeout=5)
    assert head.status_code == 404


def test_no_cancel_after_success(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str
) -> None:
    client(proxy).repository(unique_repository).blobs.upload(DATA, chunk_size=2 * MB)
    assert of(proxy, "DELETE") == []
    assert [r.method for r in proxy.requests] == ["HEAD", "POST", "PATCH", "PATCH", "PUT"]


# -- whole images -----------------------------------------------------------------------------
def test_push_through_faults_then_verified(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path
) -> None:
    source = seed_image(anon_registry, unique_repository + "-src", "v1",
                        layers=[2 * MB, 700_000, 3000])
    direct = Registry(anon_registry.host, protocol="http")
    direct.repository(source.repository).images.pull("v1", tmp_path / "oci")

    proxy.add_rule("PUT", "/blobs/uploads/", action="cut", on="request", after_bytes=300_000)
    proxy.add_rule("PUT", "/blobs/uploads/", action="status", status=503)
    proxy.add_rule("PUT", "/manifests/", action="status", status=502)
    proxy.add_rule("HEAD", "/blobs/", action="reset")
    pushed = client(proxy).repository(unique_repository).images.push(tmp_path / "oci", "v2")
    assert pushed.digest == source.digest and pushed.tag == "v2"

    target = direct.repository(unique_repository)
    assert target.manifests.get_raw("v2").data == source.manifest
    for digest, data in source.blobs.items():
        assert target.blobs.get(digest) == data
    assert of(proxy, "DELETE") == [] or all(
        d.status in (200, 202, 204, 404) for d in of(proxy, "DELETE")
    )


def test_errors_of_a_failed_upload_are_typed(
    proxy: FaultProxy, unique_repository: str
) -> None:
    proxy.add_rule("POST", "/blobs/uploads/", action="reset", times=None)
    with pytest.raises(RegistryError):
        client(proxy, retries=1).repository(unique_repository).blobs.upload(DATA)
    # Starting an upload session is safe to repeat (an unused session costs nothing), so
    # the POST is retried like an idempotent request: 1 try + 1 retry, then a typed error.
    assert proxy.count("POST") == 2


# -- a copy between registries under cuts -------------------------------------------------------
@pytest.mark.parametrize("where", ["target PUT", "source GET"])
def test_a_copy_across_registries_survives_a_cut(
    proxy: FaultProxy, anon_registry: LocalRegistry, where: str,
    local_registry_factory: Any, unique_repository: str,
) -> None:
    # The streamed PUT can't rewind its source: after a cut the blob is read afresh
    # from the source and sent in a new session. A repository of its own per case (a
    # blob the target already has is not sent at all), and rules that name the layer
    # (the config's request, when its slot runs first, would use them up uncut).
    source = local_registry_factory("anonymous")
    image = seed_image(source, "copy/cut", "v1", layers=(2 * MB,))
    layer = image.layers[0].split(":")[1]
    events: list[Any] = []
    if where == "target PUT":
        proxy.add_rule("PUT", layer, action="cut", on="request", after_bytes=MB)
    with Registry(source.host, protocol="http", retries=0) as src, \
            FaultProxy(source, timeout=5) as src_proxy:
        if where == "source GET":  # the source read resumes are used up: retries=0
            src_proxy.add_rule("GET", layer, action="cut", after_bytes=MB)
            with Registry(src_proxy.host, protocol="http", retries=0) as cut_src:
                copied = cut_src.repository("copy/cut").images.copy(
                    "v1", client(proxy).repository(unique_repository), progress=events.append)
        else:
            copied = src.repository("copy/cut").images.copy(
                "v1", client(proxy).repository(unique_repository), progress=events.append)
        cuts = [r.method for p in (proxy, src_proxy) for r in p.requests if r.fault == "cut"]
    assert cuts == (["PUT"] if where == "target PUT" else ["GET"])
    assert copied.digest == image.digest
    # The progress of the blob sent again: one start, and the bytes counted before the
    # cut taken back (a bar adding up `advanced` ended at 150 %, after a second start).
    mine = [e for e in events if e.digest == image.layers[0]]
    assert [type(e).__name__ for e in mine].count("BlobStarted") == 1
    steps = [e for e in mine if isinstance(e, BlobAdvanced)]
    assert any(e.advanced < 0 for e in steps)
    assert sum(e.advanced for e in steps) == steps[-1].done == 2 * MB
    for digest, data in image.blobs.items():
        assert stored(anon_registry, unique_repository, digest) == data


def test_a_copy_whose_target_refuses_every_session_stops_after_its_retries(
    proxy: FaultProxy, local_registry_factory: Any, unique_repository: str,
) -> None:
    """The blob is sent again after a cut of its bytes on the way (the stream cannot
    rewind); a session POST that failed before any byte was read has had its retries.
    It was sent again anyway: (retries + 1)^2 POSTs per blob, 31 for two blobs."""
    source = local_registry_factory("anonymous")
    seed_image(source, "copy/refused", "v1", layers=(5000,))  # config + 1 layer
    proxy.add_rule("POST", "/blobs/uploads/", action="reset", times=None)
    with Registry(source.host, protocol="http") as src, client(proxy, retries=2) as dst:
        with pytest.raises(RegistryUnavailableError, match="failed after 3 attempt"):
            src.repository("copy/refused").images.copy("v1", dst.repository(unique_repository))
    assert proxy.count("POST") <= 2 * 3  # each blob: the first POST and 2 retries


def test_a_copy_checks_the_source_digest_before_the_target_gets_the_last_byte(
    proxy: FaultProxy, anon_registry: LocalRegistry, local_registry_factory: Any,
) -> None:
    # The source flips one byte: the copy stops with DigestMismatchError before its PUT
    # is complete, so the target never even judges (or stores) the wrong content.
    source = local_registry_factory("anonymous")
    image = seed_image(source, "copy/corrupt", "v1", layers=(2 * MB,))
    layer = image.layers[0]
    target = client(proxy).repository("c/x")
    with FaultProxy(source, timeout=5) as src_proxy:
        src_proxy.add_rule("GET", "/blobs/sha256:", action="corrupt", offset=MB, times=None)
        with Registry(src_proxy.host, protocol="http") as src:
            shell = RecordingShell(src.requester)
            with pytest.raises(DigestMismatchError):
                run(src.repository("copy/corrupt").images.flows.copy("v1", target), shell)
    # The client's own record (see _recording): the layer went in one PUT, whose session
    # was then cancelled. The proxy may not have read that stopped PUT yet.
    session = cancelled_session(shell.sent, layer)
    assert puts_that_got_through(proxy, session, 2 * MB) == []
    assert cancel_statuses(anon_registry, session) in ([204], [404])
    gone = requests.head(f"{anon_registry.url}/v2/c/x/blobs/{layer}", timeout=10)
    assert gone.status_code == 404
    with pytest.raises(RegistryError):
        target.manifests.head("v1")
