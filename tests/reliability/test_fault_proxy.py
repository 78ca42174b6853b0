"""The FaultProxy itself: forwarding, keep-alive, recording, and each fault it injects.

Raw ``requests`` / ``socket`` calls against a real registry behind the proxy, so the
reliability tests can trust what the proxy does.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import urllib3

from registry_client.testing import FaultProxy, LocalRegistry, seed_blob

REPO = "proxy/selftest"
BLOB = os.urandom(300_000)
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


@pytest.fixture(scope="module")
def upstream(anon_registry: LocalRegistry) -> LocalRegistry:
    assert seed_blob(anon_registry, REPO, BLOB) == DIGEST
    return anon_registry


@pytest.fixture
def proxy(upstream: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(upstream, timeout=5) as p:
        yield p


def blob_url(proxy: FaultProxy) -> str:
    return f"{proxy.url}/v2/{REPO}/blobs/{DIGEST}"


def test_forwards_records_and_keeps_connections_alive(proxy: FaultProxy) -> None:
    with requests.Session() as s:
        for _ in range(3):
            r = s.get(blob_url(proxy), headers={"X-Probe": "yes"}, timeout=5)
            assert r.status_code == 200 and r.content == BLOB
        head = s.head(blob_url(proxy), timeout=5)
        assert head.status_code == 200 and head.headers["Content-Length"] == str(len(BLOB))
        assert s.get(f"{proxy.url}/v2/{REPO}/blobs/sha256:{'0' * 64}", timeout=5).status_code == 404
    recs = proxy.requests
    assert [r.method for r in recs] == ["GET", "GET", "GET", "HEAD", "GET"]
    assert all(r.headers["x-probe"] == "yes" for r in recs[:3])
    assert [r.status for r in recs] == [200, 200, 200, 200, 404]
    assert recs[0].path == f"/v2/{REPO}/blobs/{DIGEST}" and recs[0].fault is None
    assert recs[0].response_bytes == len(BLOB)
    assert proxy.count("GET", "/blobs/") == 4 and proxy.count(path=DIGEST) == 4
    assert len({r.connection for r in recs}) == 1  # one kept-alive connection throughout
    assert proxy.storage_requests == []


def test_status_for_first_k_matching_requests_then_forward(proxy: FaultProxy) -> None:
    rule = proxy.add_rule("GET", r"/blobs/sha256:", action="status", status=503, times=2)
    proxy.add_rule("GET", r"/blobs/sha256:", action="status", status=429, retry_after=7)
    statuses = [requests.get(blob_url(proxy), timeout=5) for _ in range(4)]
    assert [r.status_code for r in statuses] == [503, 503, 429, 200]
    assert "Retry-After" not in statuses[0].headers
    assert statuses[2].headers["Retry-After"] == "7"
    assert statuses[0].json()["errors"][0]["code"] == "UNAVAILABLE"
    assert statuses[3].content == BLOB
    assert rule.applied == 2 and rule.exhausted()
    # a rule for another method or path never matches
    proxy.add_rule("HEAD", r"/blobs/", action="status", status=500, times=None)
    proxy.add_rule("GET", r"/manifests/", action="status", status=500, times=None)
    assert requests.get(blob_url(proxy), timeout=5).status_code == 200


def test_a_status_answer_to_a_head_has_no_body(proxy: FaultProxy) -> None:
    # one rule for HEAD and GET with a JSON body: the HEAD gets the headers only, so
    # the kept-alive connection still reads the next answer right
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
    proxy.add_rule(None, r"/blobs/sha256:", action="status", status=404, body=body, times=2)
    with requests.Session() as s:
        head = s.head(blob_url(proxy), timeout=5)
        assert head.status_code == 404 and head.headers["Content-Length"] == str(len(body))
        get = s.get(blob_url(proxy), timeout=5)
        assert get.status_code == 404 and get.content == body
        assert s.get(blob_url(proxy), timeout=5).content == BLOB
    # The proxy counts a block's bytes only after sending it, so a count read right
    # after its own answer may lag. These two are final: the third GET was read (and
    # answered) by the same connection thread, after it counted the first two answers.
    assert len({r.connection for r in proxy.requests}) == 1
    assert [r.response_bytes for r in proxy.requests[:2]] == [0, len(body)]


def test_rules_match_in_order_and_every_nth(proxy: FaultProxy) -> None:
    proxy.add_rule("GET", "/blobs/", action="status", status=502, every=2, times=2)
    proxy.add_rule("GET", "/blobs/", action="status", status=500, times=1)
    got = [requests.get(blob_url(proxy), timeout=5).status_code for _ in range(6)]
    # 1st match of rule 1 is skipped by every=2 and falls to rule 2; then 2nd, 4th hit
    assert got == [500, 502, 200, 502, 200, 200]
    assert [r.fault for r in proxy.requests] == ["status", "status", None, "status", None, None]


def test_cut_response_after_n_bytes(proxy: FaultProxy) -> None:
    proxy.add_rule("GET", "/blobs/", action="cut", after_bytes=100_000)
    r = requests.get(blob_url(proxy), stream=True, timeout=5)
    assert r.status_code == 200 and r.headers["Content-Length"] == str(len(BLOB))
    got = bytearray()
    with pytest.raises((urllib3.exceptions.HTTPError, requests.RequestException)):
        for block in r.raw.stream(8192):
            got += block
    assert len(got) == 100_000
    assert bytes(got) == BLOB[:100_000]
    assert proxy.requests[0].response_bytes == 100_000
    # the next request goes through untouched
    assert requests.get(blob_url(proxy), timeout=5).content == BLOB


def test_a_cut_point_beyond_the_body_cuts_nothing(proxy: FaultProxy) -> None:
    rule = proxy.add_rule("GET", "/blobs/", action="cut", after_bytes=len(BLOB))
    with requests.Session() as s:
        assert s.get(blob_url(proxy), timeout=5).content == BLOB
        assert rule.applied == 0 and not rule.exhausted()
        rule.after_bytes = 10  # the budget was kept: the next request is cut
        with pytest.raises(requests.RequestException):
            s.get(blob_url(proxy), timeout=5)
        assert rule.applied == 1
        assert s.get(blob_url(proxy), timeout=5).content == BLOB
    first, cut, last = proxy.requests
    assert (first.fault, cut.fault, last.fault) == (None, "cut", None)
    assert first.connection == cut.connection != last.connection


def test_short_body_closes_cleanly(proxy: FaultProxy) -> None:
    proxy.add_rule("GET", "/blobs/", action="short", after_bytes=1234)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(f"GET /v2/{REPO}/blobs/{DIGEST} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):  # a clean EOF, not a reset
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert f"Content-Length: {len(BLOB)}".encode() in head
    assert body == BLOB[:1234]


def test_corrupt_flips_one_byte(proxy: FaultProxy) -> None:
    proxy.add_rule("GET", "/blobs/", action="corrupt", offset=70_000)
    body = requests.get(blob_url(proxy), timeout=5).content
    assert len(body) == len(BLOB)
    diff = [i for i in range(len(BLOB)) if body[i] != BLOB[i]]
    assert diff == [70_000] and body[70_000] == BLOB[70_000] ^ 0xFF


def test_delay_and_throttle(proxy: FaultProxy) -> None:
    proxy.add_rule("GET", "/blobs/", action="delay", delay=0.5)
    t0 = time.monotonic()
    assert requests.get(blob_url(proxy), timeout=5).content == BLOB
    assert time.monotonic() - t0 >= 0.5
    proxy.add_rule("GET", "/blobs/", action="throttle", rate=600_000)  # 300 kB -> ~0.5 s
    t0 = time.monotonic()
    assert requests.get(blob_url(proxy), timeout=5).content == BLOB
    assert 0.4 <= time.monotonic() - t0 < 3


def test_ignore_range(proxy: FaultProxy) -> None:
    r = requests.get(blob_url(proxy), headers={"Range": "bytes=1000-"}, timeout=5)
    assert r.status_code == 206 and r.content == BLOB[1000:]
    proxy.add_rule("GET", "/blobs/", action="ignore_range")
    r = requests.get(blob_url(proxy), headers={"Range": "bytes=1000-"}, timeout=5)
    assert r.status_code == 200 and r.content == BLOB
    assert proxy.requests[-1].headers["range"] == "bytes=1000-"  # recorded as received


def test_reset_and_drop(proxy: FaultProxy, upstream: LocalRegistry) -> None:
    proxy.add_rule("POST", "/uploads/", action="reset")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{proxy.url}/v2/{REPO}/blobs/uploads/", timeout=5)
    upstream.clear_access_log()
    proxy.add_rule("POST", "/uploads/", action="drop")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{proxy.url}/v2/{REPO}/blobs/uploads/", timeout=5)
    # "drop" let the registry act: it started an upload session; "reset" never reached it
    assert upstream.request_count("POST", "/blobs/uploads/") == 1
    assert [r.status for r in proxy.requests] == [None, None]


def test_cut_request_body_and_chunked_bodies(proxy: FaultProxy) -> None:
    with requests.Session() as s:
        loc = s.post(f"{proxy.url}/v2/{REPO}/blobs/uploads/", timeout=5).headers["Location"]
        assert loc.startswith(proxy.url)  # Host is forwarded: the registry points back here

        def gen() -> Iterator[bytes]:  # no length: requests sends it chunked
            for i in range(0, len(BLOB), 50_000):
                yield BLOB[i:i + 50_000]

        r = s.patch(loc, data=gen(), headers={"Content-Type": "application/octet-stream"},
                    timeout=5)
        assert r.status_code == 202 and r.headers["Range"] == f"0-{len(BLOB) - 1}"
        assert proxy.requests[-1].headers["transfer-encoding"] == "chunked"
        put = s.put(r.headers["Location"], params={"digest": DIGEST}, timeout=5)
        assert put.status_code == 201

        loc = s.post(f"{proxy.url}/v2/{REPO}/blobs/uploads/", timeout=5).headers["Location"]
        proxy.add_rule("PATCH", "/uploads/", action="cut", on="request", after_bytes=10_000)
        with pytest.raises(requests.ConnectionError):
            s.patch(loc, data=BLOB, headers={"Content-Type": "application/octet-stream"},
                    timeout=5)
        assert proxy.requests[-1].request_bytes == 10_000 and proxy.requests[-1].status is None


def test_redirect_to_storage_host(proxy: FaultProxy) -> None:
    proxy.add_rule("GET", "/blobs/", action="redirect", times=None)
    headers = {"Authorization": "Bearer not-for-storage"}
    r = requests.get(blob_url(proxy), headers=headers, timeout=5)
    assert r.status_code == 200 and r.content == BLOB
    assert r.history[0].status_code == 307
    assert r.history[0].headers["Location"].startswith(proxy.storage_url + "/storage/")
    # requests itself strips Authorization on a redirect to another port
    (stored,) = proxy.storage_requests
    assert "authorization" not in stored.headers and stored.status == 200
    # the storage host honours Range, and unknown storage URLs are 404
    loc = r.history[0].headers["Location"]
    part = requests.get(loc, headers={"Range": "bytes=299990-"}, timeout=5)
    assert part.status_code == 206 and part.content == BLOB[-10:]
    assert requests.get(f"{proxy.storage_url}/storage/nope/x", timeout=5).status_code == 404
    # faults apply on the storage host too
    proxy.add_rule("GET", None, action="status", status=500, server="storage")
    assert requests.get(loc, timeout=5).status_code == 500


def test_bounded_connections_and_stop(upstream: LocalRegistry) -> None:
    proxy = FaultProxy(upstream, timeout=5, max_connections=2).start()
    port = proxy.port
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    time.sleep(0.3)
    extra = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        extra.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert extra.recv(100) == b""  # refused: over max_connections
    except ConnectionResetError:
        pass
    finally:
        extra.close()
    t0 = time.monotonic()
    proxy.stop()  # idle connections are cut, threads end
    assert time.monotonic() - t0 < 3
    assert not [t for t in threading.enumerate() if t.name.startswith("fault-")]
    for sock in idle:
        assert sock.recv(10) == b""  # the proxy closed them
        sock.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_rejects_bad_rules(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError):
        proxy.add_rule(action="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        proxy.add_rule(action="throttle")
    with pytest.raises(ValueError):
        FaultProxy("https://127.0.0.1:1")


def test_a_cut_waiting_on_a_short_body_does_not_spare_a_long_one(proxy: FaultProxy) -> None:
    """The budget of a response cut is taken at the cut: a request the rule matched whose
    body turns out too short (still in flight here) never lets another long body through
    uncut. (It used to hold the rule's only use until its body ended.)"""
    rule = proxy.add_rule("GET", "/blobs/", action="cut", after_bytes=100_000)
    in_flight = proxy._match("proxy", "GET", f"/v2/{REPO}/blobs/sha256:{'0' * 64}")
    assert in_flight is rule
    with pytest.raises(requests.RequestException):
        requests.get(blob_url(proxy), timeout=5).raise_for_status()
    assert rule.applied == 1 and rule.exhausted()
    assert proxy.requests[-1].fault == "cut"
