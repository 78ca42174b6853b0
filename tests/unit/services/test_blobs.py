"""BlobService through Registry with a requests-mock adapter: stub, call, assert what was sent."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import io
import json
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock
import urllib3

import registry_client.requester as requester_mod
from registry_client import Descriptor, Registry, _calloff, _digest
from registry_client._calloff import Cancelled
from registry_client._flow import Call, Drain, Effect, run
from registry_client.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    NotFoundError,
    RegistryResponseError,
    RegistryUnavailableError,
)
from registry_client.services import _upload
from registry_client.services._shell import BlockingShell

BASE = "https://registry.example"
BLOB = b"0123456789" * 1000
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
BLOB_URL = f"{BASE}/v2/app/blobs/{DIGEST}"
BIG = 50 * 1024 * 1024


@pytest.fixture
def env(mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]]
        ) -> tuple[Registry, requests_mock.Adapter]:
    return mocked_registry(retries=2)


# -- head / exists / size ---------------------------------------------------------------
def test_head(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri(
        "HEAD", BLOB_URL,
        headers={"Content-Length": str(len(BLOB)), "Content-Type": "application/octet-stream",
                 "Docker-Content-Digest": DIGEST},
    )
    d = reg.repository("app").blobs.head(DIGEST)
    assert d == Descriptor(media_type="application/octet-stream", digest=DIGEST, size=len(BLOB))
    assert [(r.method, r.url) for r in adapter.request_history] == [("HEAD", BLOB_URL)]


def test_a_head_answered_500_while_another_request_links_the_blob_is_asked_again(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """Distribution reads a blob's repository link to answer a HEAD; a link another
    request is writing reads empty and the HEAD gets a bare 500 ("invalid checksum
    digest format" in its log: sync shards pushing the same layers met it). The HEAD
    is asked again, as a 502-504 would be."""
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, [
        {"status_code": 500},
        {"headers": {"Content-Length": str(len(BLOB))}},
    ])
    assert reg.repository("app").blobs.head(DIGEST).size == len(BLOB)
    assert [r.method for r in adapter.request_history] == ["HEAD", "HEAD"]


def test_head_of_a_blob_larger_than_the_body_cap(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """Layers are routinely over 4 MiB; a HEAD has no body, so the cap must not apply."""
    reg, adapter = env
    adapter.register_uri(
        "HEAD", BLOB_URL,
        headers={"Content-Length": str(BIG), "Content-Type": "application/octet-stream"},
    )
    assert reg.repository("app").blobs.head(DIGEST).size == BIG


def test_exists_for_a_large_blob(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, headers={"Content-Length": str(BIG)})
    assert reg.repository("app").blobs.exists(DIGEST) is True


def test_a_blob_head_without_its_length_still_says_the_blob_is_there(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """Some registries leave a HEAD's Content-Length out: exists() and an upload's
    check read the 200 (as crane does), only head() and size() need the length."""
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, headers={"Content-Type": "application/octet-stream"})
    blobs = reg.repository("app").blobs
    assert blobs.exists(DIGEST) is True
    assert blobs.upload(BLOB) == Descriptor(
        media_type="application/octet-stream", digest=DIGEST, size=len(BLOB))
    assert [r.method for r in adapter.request_history] == ["HEAD", "HEAD"]  # nothing sent
    with pytest.raises(RegistryResponseError, match="no usable Content-Length"):
        blobs.head(DIGEST)


def test_size(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, headers={"Content-Length": "1234"})
    assert reg.repository("app").blobs.size(DIGEST) == 1234


def test_exists_false_on_404(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, status_code=404)
    assert reg.repository("app").blobs.exists(DIGEST) is False
    with pytest.raises(NotFoundError):
        reg.repository("app").blobs.head(DIGEST)


def test_head_without_length(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, headers={})
    with pytest.raises(RegistryResponseError):
        reg.repository("app").blobs.head(DIGEST)


@pytest.mark.parametrize("length", ["\u00b2", "\u00b3\u00b9"])
def test_head_with_latin1_digit_length_raises_registry_error(
    env: tuple[Registry, requests_mock.Adapter], length: str,
) -> None:
    """http.client decodes header bytes as latin-1: 0xB2 arrives as '\u00b2' and
    str.isdigit() says True, but int() refuses it."""
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, headers={"Content-Length": length})
    try:
        reg.repository("app").blobs.head(DIGEST)
    except RegistryResponseError:
        pass
    except Exception as exc:
        pytest.fail(f"raw {type(exc).__name__} escaped: {exc}")
    else:
        pytest.fail("a non-ASCII Content-Length was accepted")


@pytest.mark.parametrize("bad", ["latest", "sha256:abc", "sha256:" + "Z" * 64, "../etc"])
def test_invalid_digest_sends_nothing(
    env: tuple[Registry, requests_mock.Adapter], bad: str,
) -> None:
    reg, adapter = env
    blobs = reg.repository("app").blobs
    for call in (blobs.head, blobs.exists, blobs.get, blobs.delete):
        with pytest.raises(InvalidReferenceError):
            call(bad)
    assert adapter.request_history == []


# -- get / open -------------------------------------------------------------------------
def test_get_verified(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("GET", BLOB_URL, content=BLOB,
                         headers={"Content-Length": str(len(BLOB))})
    assert reg.repository("app").blobs.get(DIGEST) == BLOB
    assert reg.requester.stats["bytes_received"] == len(BLOB)


def test_a_get_answered_500_while_another_request_links_the_blob_is_asked_again(
    env: tuple[Registry, requests_mock.Adapter], tmp_path: Path,
) -> None:
    """A blob GET reads the blob's repository link as a HEAD does (see the HEAD's test):
    a pull while the same layer is pushed into the repository meets the same 500."""
    reg, adapter = env
    adapter.register_uri("GET", BLOB_URL, [
        {"status_code": 500},
        {"content": BLOB, "headers": {"Content-Length": str(len(BLOB))}},
    ] * 2)
    assert reg.repository("app").blobs.get(DIGEST) == BLOB
    assert reg.repository("app").blobs.download(DIGEST, tmp_path / "b").read_bytes() == BLOB
    assert [r.method for r in adapter.request_history] == ["GET"] * 4


def test_a_closed_blob_stream_reads_nothing_more(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    adapter.register_uri("GET", BLOB_URL, content=BLOB,
                         headers={"Content-Length": str(len(BLOB))})
    f = reg.repository("app").blobs.open(DIGEST)
    assert f.read(10) == BLOB[:10] and f.tell() == 10
    f.close()
    with pytest.raises(ValueError, match="closed"):
        f.read()
    with pytest.raises(ValueError, match="closed"):
        f.tell()
    assert len(adapter.request_history) == 1  # no new request after close


def test_open_from_an_offset_reads_the_rest_verified_with_the_hash_so_far(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """``start`` is a ranged read: the caller holds the first bytes and their hash."""
    reg, adapter = env
    adapter.register_uri("GET", BLOB_URL, content=BLOB[100:], status_code=206,
                         headers={"Content-Range": f"bytes 100-{len(BLOB) - 1}/{len(BLOB)}"})
    with reg.repository("app").blobs.open(DIGEST, start=100,
                                          hasher=hashlib.sha256(BLOB[:100])) as f:
        assert f.read() == BLOB[100:]
    assert adapter.request_history[0].headers["Range"] == "bytes=100-"


def test_open_from_an_offset_without_the_hash_so_far_is_refused_up_front(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """Without the first bytes' hash the digest can never be checked: a ValueError before
    any request, not a DigestMismatchError at the end of the read."""
    reg, adapter = env
    with pytest.raises(ValueError, match="hasher"):
        reg.repository("app").blobs.open(DIGEST, start=100)
    assert adapter.request_history == []


def test_get_wrong_content(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("GET", BLOB_URL, content=BLOB[:-1] + b"X",
                         headers={"Content-Length": str(len(BLOB))})
    with pytest.raises(DigestMismatchError):
        reg.repository("app").blobs.get(DIGEST)


def test_get_longer_than_announced(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("GET", BLOB_URL, content=BLOB + b"extra",
                         headers={"Content-Length": str(len(BLOB))})
    with pytest.raises(DigestMismatchError):
        reg.repository("app").blobs.get(DIGEST)


class _Endless(io.RawIOBase):
    """An answer body with no end, as a hostile registry streams one."""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        b[:] = b"x" * len(b)
        return len(b)


def _unsized(adapter: requests_mock.Adapter, head_length: str | None) -> None:
    raw = urllib3.HTTPResponse(body=_Endless(), preload_content=False, status=200,
                               headers={"Transfer-Encoding": "chunked"})
    adapter.register_uri("GET", BLOB_URL, raw=raw)
    adapter.register_uri("HEAD", BLOB_URL, headers={} if head_length is None else
                         {"Content-Length": head_length})


@pytest.mark.parametrize("reader", ["get", "open"])
def test_a_blob_answered_without_a_size_is_bounded_by_its_head(
    env: tuple[Registry, requests_mock.Adapter], reader: str,
) -> None:
    """No Content-Length and no expected_size: the body was read to its end, however
    long (18 GB of memory, 45 GB of disk measured). A HEAD now says the size, and the
    reader refuses a byte more."""
    reg, adapter = env
    _unsized(adapter, str(len(BLOB)))
    blobs = reg.repository("app").blobs
    with pytest.raises(DigestMismatchError, match="more than"):
        if reader == "get":
            blobs.get(DIGEST)
        else:
            with blobs.open(DIGEST) as f:
                while f.read(1 << 16):
                    pass
    assert [r.method for r in adapter.request_history] == ["GET", "HEAD"]


def test_a_blob_without_a_size_anywhere_is_refused(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    _unsized(adapter, None)
    with pytest.raises(RegistryResponseError, match="size"):
        reg.repository("app").blobs.get(DIGEST)


def test_get_not_found(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("GET", BLOB_URL, status_code=404,
                         json={"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]})
    with pytest.raises(NotFoundError) as info:
        reg.repository("app").blobs.get(DIGEST)
    assert info.value.codes == ["BLOB_UNKNOWN"]


class _CutAfter(io.RawIOBase):
    """A body that yields ``n`` bytes of ``data`` and then breaks the connection."""

    def __init__(self, data: bytes, n: int) -> None:
        self._data = data[:n]

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if not self._data:
            raise urllib3.exceptions.ProtocolError("Connection broken")
        k = min(len(b), len(self._data))
        b[:k] = self._data[:k]
        self._data = self._data[k:]
        return k


def test_get_resumes_with_range(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    big = bytes(range(256)) * 6144  # 1.5 MiB: the cut comes after one full 1 MiB read
    digest = "sha256:" + hashlib.sha256(big).hexdigest()
    url = f"{BASE}/v2/app/blobs/{digest}"
    cut = 1024 * 1024
    first = urllib3.HTTPResponse(
        body=_CutAfter(big, cut), preload_content=False, status=200,
        headers={"Content-Length": str(len(big))},
    )
    adapter.register_uri("GET", url, [
        {"raw": first},
        {"status_code": 206, "content": big[cut:],
         "headers": {"Content-Range": f"bytes {cut}-{len(big) - 1}/{len(big)}"}},
    ])
    assert reg.repository("app").blobs.get(digest) == big
    assert len(adapter.request_history) == 2
    assert "Range" not in adapter.request_history[0].headers
    assert adapter.request_history[1].headers["Range"] == f"bytes={cut}-"


@pytest.mark.parametrize("read", ["get", "open"])
def test_a_cut_that_brought_no_new_byte_backs_off_before_the_next_get(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]],
    monkeypatch: pytest.MonkeyPatch, read: str,
) -> None:
    """A storage hiccup cuts every answer for a moment: asking again at once would spend
    every retry within milliseconds. A cut after new bytes resumes at once; one that
    brought nothing waits as any failed request does (backoff with jitter)."""
    reg, adapter = mocked_registry(retries=3)
    slept: list[float] = []
    monkeypatch.setattr(requester_mod, "time", types.SimpleNamespace(
        sleep=slept.append, monotonic=time.monotonic, time=time.time))
    big = bytes(range(256)) * 6144
    digest = "sha256:" + hashlib.sha256(big).hexdigest()
    cut = 1024 * 1024
    rest = {"Content-Range": f"bytes {cut}-{len(big) - 1}/{len(big)}"}

    def answer(body: io.RawIOBase, status: int, headers: dict[str, str]) -> dict[str, Any]:
        return {"raw": urllib3.HTTPResponse(body=body, preload_content=False, status=status,
                                            headers=headers)}

    adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{digest}", [
        answer(_CutAfter(big, cut), 200, {"Content-Length": str(len(big))}),
        answer(_CutAfter(big[cut:], 0), 206, rest),  # nothing new: wait
        answer(_CutAfter(big[cut:], 0), 206, rest),  # nothing new again: wait longer
        {"status_code": 206, "content": big[cut:], "headers": rest},
    ])
    blobs = reg.repository("app").blobs
    if read == "get":
        assert blobs.get(digest) == big
    else:
        with blobs.open(digest) as reader:
            assert reader.read() == big
    assert len(adapter.request_history) == 4
    assert len(slept) == 2  # after the 2nd and 3rd answers, not after the 1st


def test_download_atomic(env: tuple[Registry, requests_mock.Adapter], tmp_path: Path) -> None:
    reg, adapter = env
    adapter.register_uri("GET", BLOB_URL, content=BLOB,
                         headers={"Content-Length": str(len(BLOB))})
    dest = reg.repository("app").blobs.download(DIGEST, tmp_path / "blob")
    assert dest.read_bytes() == BLOB
    assert not (tmp_path / "blob.partial").exists()
    # already present and valid: nothing downloaded
    n = len(adapter.request_history)
    reg.repository("app").blobs.download(DIGEST, tmp_path / "blob")
    assert len(adapter.request_history) == n


def test_download_wrong_content_leaves_nothing(
    env: tuple[Registry, requests_mock.Adapter], tmp_path: Path,
) -> None:
    reg, adapter = env
    adapter.register_uri("GET", BLOB_URL, content=b"tampered",
                         headers={"Content-Length": "8"})
    with pytest.raises(DigestMismatchError):
        reg.repository("app").blobs.download(DIGEST, tmp_path / "blob")
    assert list(tmp_path.iterdir()) == []


# -- upload -----------------------------------------------------------------------------
def test_upload_monolithic(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    received: list[bytes] = []

    def put(request: Any, context: Any) -> bytes:
        body = request.body
        received.append(body if isinstance(body, bytes) else body.read())  # the wire reads it
        context.status_code = 201
        context.headers["Docker-Content-Digest"] = DIGEST
        return b""

    adapter.register_uri("HEAD", BLOB_URL, status_code=404)
    adapter.register_uri(
        "POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
        headers={"Location": "/v2/app/blobs/uploads/uuid-1?_state=abc"},
    )
    adapter.register_uri("PUT", f"{BASE}/v2/app/blobs/uploads/uuid-1", content=put)
    d = reg.repository("app").blobs.upload(BLOB)
    assert d.digest == DIGEST and d.size == len(BLOB)
    methods = [r.method for r in adapter.request_history]
    assert methods == ["HEAD", "POST", "PUT"]
    put_req = adapter.request_history[-1]
    assert put_req.qs["digest"] == [DIGEST]
    assert put_req.qs["_state"] == ["abc"]
    assert received == [BLOB]
    assert put_req.headers["Content-Type"] == "application/octet-stream"
    assert put_req.headers["Content-Length"] == str(len(BLOB))


def test_an_upload_session_location_sent_twice_is_taken_once(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """A proxy repeating the registry's Location header: the HTTP library joins the two
    values ("loc, loc"), and every upload went to that joined URL (404). The first value
    is the session, as Go's Header.Get reads it."""
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, status_code=404)
    session = "/v2/app/blobs/uploads/uuid-1?_state=abc"
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
                         headers={"Location": f"{session}, {session}"})
    adapter.register_uri("PUT", f"{BASE}/v2/app/blobs/uploads/uuid-1", status_code=201,
                         headers={"Docker-Content-Digest": DIGEST})
    assert reg.repository("app").blobs.upload(BLOB).digest == DIGEST
    assert adapter.request_history[-1].qs == {"_state": ["abc"], "digest": [DIGEST]}


@pytest.mark.parametrize("status", [302, 303])
def test_a_final_put_redirected_to_a_get_is_no_upload(
    env: tuple[Registry, requests_mock.Adapter], status: int,
) -> None:
    """A 302 or 303 turns the final PUT into a GET, which the session answers 204: the
    upload was reported done, and the blob was not in the registry (a copy failed later,
    MANIFEST_BLOB_UNKNOWN). A redirected final PUT is checked with a HEAD."""
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, status_code=404)
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
                         headers={"Location": "/v2/app/blobs/uploads/uuid-1"})
    session = f"{BASE}/v2/app/blobs/uploads/uuid-1"
    adapter.register_uri("PUT", session, status_code=status, headers={"Location": session})
    adapter.register_uri("GET", session, status_code=204)
    adapter.register_uri("DELETE", session, status_code=204)
    with pytest.raises(RegistryResponseError, match="redirected the final PUT"):
        reg.repository("app").blobs.upload(BLOB)
    assert ("GET", session) in [(r.method, r.url) for r in adapter.request_history]


def test_upload_skipped_when_present(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, headers={"Content-Length": str(len(BLOB))})
    d = reg.repository("app").blobs.upload(BLOB)
    assert d.digest == DIGEST
    assert [r.method for r in adapter.request_history] == ["HEAD"]


def test_upload_with_wrong_digest(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    with pytest.raises(DigestMismatchError):
        reg.repository("app").blobs.upload(BLOB, digest="sha256:" + "0" * 64)
    assert adapter.request_history == []


def test_a_file_of_another_size_than_the_blob_its_digest_names_is_refused(
    env: tuple[Registry, requests_mock.Adapter], tmp_path: Path,
) -> None:
    """``digest=`` with a file the registry has a blob of: the HEAD that skips the
    upload gives the blob's size, and content of another size is not that blob -- it
    was reported uploaded (the other blob's descriptor), nothing sent."""
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, headers={"Content-Length": str(len(BLOB))})
    other = tmp_path / "other"
    other.write_bytes(BLOB + b"more")
    for data in (other, io.BytesIO(BLOB + b"more")):
        with pytest.raises(DigestMismatchError, match=f"{len(BLOB)} bytes"):
            reg.repository("app").blobs.upload(data, digest=DIGEST)
    assert [r.method for r in adapter.request_history] == ["HEAD", "HEAD"]
    # the same size: the blob's (its content is the registry's to check)
    other.write_bytes(BLOB)
    assert reg.repository("app").blobs.upload(other, digest=DIGEST).size == len(BLOB)


# -- mount / delete ---------------------------------------------------------------------
@pytest.mark.parametrize("source", ["Alice/Src", "a//b", "-x", "", "app:1.0"])
def test_a_mount_from_no_repository_name_is_refused_before_any_request(
    env: tuple[Registry, requests_mock.Adapter], source: str,
) -> None:
    """The digest was checked and the source name sent as it was: the registry refused
    it and mount said False (a blob upload followed)."""
    reg, adapter = env
    with pytest.raises(InvalidReferenceError):
        reg.repository("app").blobs.mount(DIGEST, source)
    assert adapter.request_history == []


def test_mount_created(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", status_code=201)
    assert reg.repository("app").blobs.mount(DIGEST, "lib/base") is True
    [req] = adapter.request_history
    assert req.qs == {"mount": [DIGEST], "from": ["lib/base"]}


@pytest.mark.parametrize("chunk_size", [-5, 2.5, "64"])
def test_a_chunk_size_that_is_no_size_is_refused_before_any_request(
    env: tuple[Registry, requests_mock.Adapter], chunk_size: Any,
) -> None:
    reg, adapter = env
    with pytest.raises(ValueError, match="chunk_size"):
        reg.repository("app").blobs.upload(b"y" * 100, chunk_size=chunk_size)
    assert adapter.request_history == []


@pytest.mark.parametrize("status", [429, 503])
def test_a_mount_refused_for_a_moment_is_sent_again(
    env: tuple[Registry, requests_mock.Adapter], status: int,
) -> None:
    """A 429 or 503 did nothing: a mount sent again links the blob (or opens one more
    session, which costs nothing), as a new upload session's POST is sent again."""
    reg, adapter = env
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", [
        {"status_code": status, "headers": {"Retry-After": "0"}}, {"status_code": 201}])
    assert reg.repository("app").blobs.mount(DIGEST, "lib/base") is True
    assert len(adapter.request_history) == 2


def test_mount_fallback_cancels_session(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri(
        "POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
        headers={"Location": "/v2/app/blobs/uploads/u2"},
    )
    adapter.register_uri("DELETE", f"{BASE}/v2/app/blobs/uploads/u2", status_code=204)
    assert reg.repository("app").blobs.mount(DIGEST, "lib/base") is False
    assert [(r.method, r.path) for r in adapter.request_history] == [
        ("POST", "/v2/app/blobs/uploads/"), ("DELETE", "/v2/app/blobs/uploads/u2"),
    ]


def test_mount_token_covers_source_pull(token_challenged: Callable[..., Any]) -> None:
    reg, adapter, answer = token_challenged(
        "repository:app:pull,push repository:lib/base:pull")
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", content=answer)
    assert reg.repository("app").blobs.mount(DIGEST, "lib/base") is True
    [tok] = [r for r in adapter.request_history if r.hostname == "auth.example"]
    assert sorted(tok.qs["scope"]) == ["repository:app:pull,push", "repository:lib/base:pull"]


def test_delete(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("DELETE", BLOB_URL, status_code=202)
    reg.repository("app").blobs.delete(DIGEST)
    assert [(r.method, r.url) for r in adapter.request_history] == [("DELETE", BLOB_URL)]


# -- upload sessions that Distribution does not exercise -----------------------------------
class _Session:
    """A fake upload session: the bytes held, and how it answers PATCH / GET / PUT."""

    def __init__(self, adapter: requests_mock.Adapter, *, keep_half_once: bool = False,
                 refuse_offset_once: bool = False, location: str = "s1?_state=a",
                 understate_once: bool = False) -> None:
        self.held = b""
        self.keep_half_once = keep_half_once
        self.refuse_offset_once = refuse_offset_once
        # Distribution appends a PATCH's bytes whatever its Content-Range says; once,
        # its 202 (or a proxy's rewrite of it) says less than it holds
        self.understate_once = understate_once
        self.paths: list[str] = []
        adapter.register_uri("HEAD", BLOB_URL, status_code=404)
        # "s1?...", relative: resolved against the POST's URL, as RFC 7231 says
        adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
                             headers={"Location": location})
        session = f"{BASE}/v2/app/blobs/uploads/s1"
        adapter.register_uri("PATCH", session, content=self.patch)
        adapter.register_uri("GET", session, content=self.status)
        adapter.register_uri("PUT", session, content=self.put)
        adapter.register_uri("DELETE", session, status_code=204)

    def _range(self, context: Any) -> None:
        context.headers["Range"] = f"0-{len(self.held) - 1}"
        context.headers["Location"] = "s1?_state=b"

    def patch(self, request: Any, context: Any) -> bytes:
        self.paths.append(request.path)
        body = request.body if isinstance(request.body, bytes) else request.body.read()
        start = int(request.headers["Content-Range"].split("-")[0])
        if (start != len(self.held) and not self.understate_once_done) \
                or self.refuse_offset_once:
            self.refuse_offset_once = False
            context.status_code = 416
            self._range(context)
            return b""
        if self.keep_half_once:
            self.keep_half_once = False
            body = body[: len(body) // 2]
        self.held += body
        context.status_code = 202
        self._range(context)
        if self.understate_once and len(self.held) > 1000:
            self.understate_once, self.understate_once_done = False, True
            context.headers["Range"] = f"0-{len(self.held) - 1000}"
        return b""

    understate_once_done = False  # (then it appends blindly, as Distribution does)

    def status(self, request: Any, context: Any) -> bytes:
        context.status_code = 204
        self._range(context)
        return b""

    def put(self, request: Any, context: Any) -> bytes:
        self.paths.append(request.path)
        if "sha256:" + hashlib.sha256(self.held).hexdigest() != request.qs["digest"][0]:
            context.status_code = 400
            return b'{"errors":[{"code":"DIGEST_INVALID","message":"digest invalid"}]}'
        context.status_code = 201
        context.headers["Docker-Content-Digest"] = DIGEST
        return b""


@pytest.mark.parametrize("case", ["relative-location", "kept-half", "416-then-status",
                                  "202-says-less"])
def test_chunked_upload_sessions_resume_from_what_the_registry_holds(
    env: tuple[Registry, requests_mock.Adapter], case: str,
) -> None:
    """"202-says-less": an answer that says the registry kept less than it did (a proxy
    rewriting it): the rest was sent again at once, and Distribution, which appends
    whatever a PATCH's Content-Range says, held bytes twice -- the final PUT's
    DIGEST_INVALID blamed the content. The session's status is asked first."""
    reg, adapter = env
    session = _Session(adapter, keep_half_once=case == "kept-half",
                       refuse_offset_once=case == "416-then-status",
                       understate_once=case == "202-says-less",
                       location="s1?_state=a" if case == "relative-location"
                       else "/v2/app/blobs/uploads/s1?_state=a")
    events: list[Any] = []
    d = reg.repository("app").blobs.upload(BLOB, chunk_size=4000, progress=events.append)
    assert d.digest == DIGEST and session.held == BLOB
    assert all(p == "/v2/app/blobs/uploads/s1" for p in session.paths), session.paths
    advanced = [e.advanced for e in events if hasattr(e, "advanced")]
    assert sum(advanced) == len(BLOB)


def test_upload_errors_name_the_registry_and_repository(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, status_code=404)
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202)
    with pytest.raises(RegistryResponseError, match=r"registry\.example/app: .*no Location"):
        reg.repository("app").blobs.upload(BLOB)


def test_a_progress_callback_error_reaches_the_caller_unchanged(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """A bug in the caller's callback is theirs: never dressed up as a registry error."""
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, status_code=404)
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
                         headers={"Location": "/v2/app/blobs/uploads/u1"})

    def put(request: Any, context: Any) -> bytes:
        body = request.body
        while not isinstance(body, bytes) and body.read(4096):  # the wire reads it
            pass
        context.status_code = 201
        return b""

    adapter.register_uri("PUT", f"{BASE}/v2/app/blobs/uploads/u1", content=put)
    adapter.register_uri("DELETE", f"{BASE}/v2/app/blobs/uploads/u1", status_code=204)

    def callback(event: Any) -> None:
        if type(event).__name__ == "BlobAdvanced":
            raise ValueError("my own bug")

    with pytest.raises(ValueError, match="my own bug") as info:
        reg.repository("app").blobs.upload(BLOB, progress=callback)
    assert type(info.value) is ValueError


@pytest.mark.parametrize("interrupted", [True, False])
def test_a_download_keeps_its_partial_file_when_interrupted_not_when_called_off(
    env: tuple[Registry, requests_mock.Adapter], tmp_path: Path, interrupted: bool,
) -> None:
    """Ctrl-C during a pull keeps what arrived (the re-run resumes); a transfer called
    off because another blob failed leaves nothing. Either way the blob no longer counts
    as one being read: it did until the garbage collector freed its hasher, and a
    long-lived process hashed its next downloads inline meanwhile."""
    reg, adapter = env
    big = bytes(range(256)) * (3 * 4096)  # 3 MiB: three blocks
    digest = "sha256:" + hashlib.sha256(big).hexdigest()
    adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{digest}", content=big,
                         headers={"Content-Length": str(len(big))})
    call_off = _calloff.CallOff()
    call_off.interrupted = interrupted
    _calloff.enter(call_off)

    def after_the_first_block(event: Any) -> None:
        if type(event).__name__ == "BlobAdvanced":
            call_off.set()  # as transfer() does when the caller is interrupted

    before = _digest._overlap.streams
    gc.disable()  # (the collector would free the hasher at some point)
    try:
        with pytest.raises(_calloff.Cancelled):
            reg.repository("app").blobs.download(digest, tmp_path / "blob",
                                                 progress=after_the_first_block)
        assert _digest._overlap.streams == before
    finally:
        _calloff.enter(None)
        gc.enable()
    partial = tmp_path / "blob.partial"
    assert partial.exists() == interrupted
    assert not (tmp_path / "blob").exists()
    if interrupted:
        assert big.startswith(partial.read_bytes()) and partial.stat().st_size > 0


def test_an_upload_the_registry_finds_corrupt_keeps_the_request_in_its_error(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, status_code=404)
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
                         headers={"Location": "/v2/app/blobs/uploads/u1?_state=s"})
    adapter.register_uri(
        "PUT", f"{BASE}/v2/app/blobs/uploads/u1", status_code=400,
        json={"errors": [{"code": "DIGEST_INVALID", "message": "digest invalid"}]},
    )
    with pytest.raises(DigestMismatchError) as caught:
        reg.repository("app").blobs.upload(BLOB)
    err = caught.value
    assert (err.status_code, err.method, err.codes) == (400, "PUT", ["DIGEST_INVALID"])
    assert err.url is not None and err.url.startswith(f"{BASE}/v2/app/blobs/uploads/u1")


def test_an_upload_the_registry_finds_corrupt_keeps_its_retry_after(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """The error changes kind (DigestMismatchError) but loses nothing of the answer."""
    reg, adapter = env
    adapter.register_uri("HEAD", BLOB_URL, status_code=404)
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
                         headers={"Location": "/v2/app/blobs/uploads/u1?_state=s"})
    adapter.register_uri(
        "PUT", f"{BASE}/v2/app/blobs/uploads/u1", status_code=400,
        headers={"Retry-After": "3"},
        json={"errors": [{"code": "DIGEST_INVALID", "message": "digest invalid"}]},
    )
    with pytest.raises(DigestMismatchError) as caught:
        reg.repository("app").blobs.upload(BLOB)
    assert (caught.value.retry_after, caught.value.status_code) == (3.0, 400)


# -- BlobFlows, the protocol both flavours run: interrupts and call-offs -----------------
# The flows run with the blocking shell, except at the one effect where a performer throws
# in what the asyncio shell throws: a task's cancellation (asyncio.CancelledError), or
# ``Cancelled`` for a transfer called off because another one failed.
MULTI = bytes(range(256)) * (3 * 4096)  # 3 MiB: three blocks
MULTI_DIGEST = "sha256:" + hashlib.sha256(MULTI).hexdigest()
MULTI_URL = f"{BASE}/v2/app/blobs/{MULTI_DIGEST}"


class _StopAt:
    """The blocking shell, but ``stop`` is thrown into the flow at the first effect
    ``when`` accepts (a Drain has its first block handed to its sink first)."""

    def __init__(self, reg: Registry, stop: BaseException,
                 when: Callable[[Effect], bool]) -> None:
        self._shell = BlockingShell(reg.requester)
        self._stop, self._when = stop, when
        self.fired = False

    def perform(self, effect: Effect) -> Any:
        if not self.fired and self._when(effect):
            self.fired = True
            if isinstance(effect, Drain):
                effect.sink(effect.response.read1(1 << 20))
            raise self._stop
        return self._shell.perform(effect)


def _serve_with_range(adapter: requests_mock.Adapter) -> None:
    def answer(request: Any, context: Any) -> bytes:
        wanted = request.headers.get("Range")
        if wanted is None:
            context.headers["Content-Length"] = str(len(MULTI))
            return MULTI
        start = int(wanted.removeprefix("bytes=").rstrip("-"))
        context.status_code = 206
        context.headers["Content-Range"] = f"bytes {start}-{len(MULTI) - 1}/{len(MULTI)}"
        return MULTI[start:]

    adapter.register_uri("GET", MULTI_URL, content=answer)


def _is_drain(effect: Effect) -> bool:
    return isinstance(effect, Drain)


def test_a_cancelled_download_keeps_its_partial_and_the_next_run_resumes(
    env: tuple[Registry, requests_mock.Adapter], tmp_path: Path,
) -> None:
    reg, adapter = env
    _serve_with_range(adapter)
    blobs = reg.repository("app").blobs
    dest = tmp_path / "blob"
    with pytest.raises(asyncio.CancelledError):
        run(blobs.flows.download(MULTI_DIGEST, dest),
            _StopAt(reg, asyncio.CancelledError(), _is_drain))
    partial = tmp_path / "blob.partial"
    kept = partial.read_bytes()
    assert 0 < len(kept) < len(MULTI) and MULTI.startswith(kept)
    assert not dest.exists()

    blobs.download(MULTI_DIGEST, dest)
    assert dest.read_bytes() == MULTI and not partial.exists()
    assert adapter.request_history[-1].headers["Range"] == f"bytes={len(kept)}-"


def test_a_download_called_off_by_another_failure_leaves_nothing(
    env: tuple[Registry, requests_mock.Adapter], tmp_path: Path,
) -> None:
    reg, adapter = env
    _serve_with_range(adapter)
    with pytest.raises(Cancelled):
        run(reg.repository("app").blobs.flows.download(MULTI_DIGEST, tmp_path / "blob"),
            _StopAt(reg, Cancelled("transfer called off"), _is_drain))
    assert list(tmp_path.iterdir()) == []


def test_get_reads_the_rest_with_range_after_a_cut(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """A Drain broken after its first block: the flow asks for the rest, as the blocking
    reader does, and verifies the whole."""
    reg, adapter = env
    _serve_with_range(adapter)
    cut = RegistryUnavailableError("connection broken after 1048576 bytes of the body")
    shell = _StopAt(reg, cut, _is_drain)
    assert run(reg.repository("app").blobs.flows.get(MULTI_DIGEST), shell) == MULTI
    assert adapter.request_history[-1].headers["Range"] == f"bytes={1 << 20}-"


def _upload_session(adapter: requests_mock.Adapter) -> str:
    adapter.register_uri("HEAD", MULTI_URL, status_code=404)
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
                         headers={"Location": "/v2/app/blobs/uploads/s1"})
    session = f"{BASE}/v2/app/blobs/uploads/s1"
    adapter.register_uri("DELETE", session, status_code=204)
    return session


def _is_patch(effect: Effect) -> bool:
    return isinstance(effect, Call) and effect.request.verb == "PATCH"


@pytest.mark.parametrize(("stop", "cancels_session"), [
    (asyncio.CancelledError(), False),  # an interrupt: the registry expires the session
    (Cancelled("transfer called off"), True),
    (RuntimeError("a progress callback failed"), True),
])
def test_an_interrupted_upload_sends_nothing_more(
    env: tuple[Registry, requests_mock.Adapter], stop: BaseException, cancels_session: bool,
) -> None:
    reg, adapter = env
    _upload_session(adapter)
    blobs = reg.repository("app").blobs
    with pytest.raises(type(stop)):
        run(blobs.flows.upload(MULTI, chunk_size=1 << 20), _StopAt(reg, stop, _is_patch))
    methods = [r.method for r in adapter.request_history]
    assert methods == ["HEAD", "POST"] + (["DELETE"] if cancels_session else [])


def test_a_cancelled_crash_safe_upload_keeps_its_state_for_the_next_run(
    env: tuple[Registry, requests_mock.Adapter], tmp_path: Path,
) -> None:
    reg, adapter = env
    session = _upload_session(adapter)
    held = bytearray()

    def patch(request: Any, context: Any) -> bytes:
        held.extend(request.body if isinstance(request.body, bytes) else request.body.read())
        context.status_code = 202
        context.headers["Range"] = f"0-{len(held) - 1}"
        context.headers["Location"] = "/v2/app/blobs/uploads/s1"
        return b""

    def status(request: Any, context: Any) -> bytes:
        context.status_code = 204
        context.headers["Range"] = f"0-{len(held) - 1}"
        context.headers["Location"] = "/v2/app/blobs/uploads/s1"
        return b""

    adapter.register_uri("PATCH", session, content=patch)
    adapter.register_uri("GET", session, content=status)
    adapter.register_uri("PUT", session, status_code=201,
                         headers={"Docker-Content-Digest": MULTI_DIGEST})
    state = tmp_path / "upload.json"
    patches = 0

    def second_patch(effect: Effect) -> bool:
        nonlocal patches
        patches += _is_patch(effect)
        return patches == 2

    blobs = reg.repository("app").blobs
    with pytest.raises(asyncio.CancelledError):
        run(blobs.flows.upload(MULTI, chunk_size=1 << 20, state_file=state),
            _StopAt(reg, asyncio.CancelledError(), second_patch))
    assert state.is_file() and len(held) == 1 << 20
    assert "DELETE" not in [r.method for r in adapter.request_history]

    blobs.upload(MULTI, state_file=state)
    assert bytes(held) == MULTI and not state.exists()
    sent = [r for r in adapter.request_history if r.method == "PATCH"]
    assert sent[-1].headers["Content-Range"] == f"{2 << 20}-{len(MULTI) - 1}"


@pytest.mark.parametrize(("chunk", "given", "expected"), [
    (3300, False, [3300, 3300, 3400]),  # a 100-byte tail rides with the chunk before
    (4000, False, [4000, 4000, 2000]),  # half a chunk: a PATCH of its own
    (3300, True, [3300, 3300, 3300, 100]),  # the caller's chunk size is kept to
])
def test_a_file_s_small_last_chunk_goes_with_the_one_before(
    env: tuple[Registry, requests_mock.Adapter], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path, chunk: int, given: bool, expected: list[int],
) -> None:
    """A tail under a quarter chunk is not worth a request of its own (a 64 MiB + 20 KiB
    layer went as three requests: PATCH, PATCH, PUT)."""
    reg, adapter = env
    monkeypatch.setattr(_upload, "MONOLITHIC_MAX", 1000)
    monkeypatch.setattr(_upload, "STREAM_CHUNK", chunk)
    session = _Session(adapter)
    path = tmp_path / "blob"
    path.write_bytes(BLOB)
    d = reg.repository("app").blobs.upload(path, chunk_size=chunk if given else None)
    assert d.digest == DIGEST and session.held == BLOB
    patches = [r for r in adapter.request_history if r.method == "PATCH"]
    assert [int(r.headers["Content-Length"]) for r in patches] == expected


def test_a_session_that_answered_after_a_cut_and_then_is_gone_is_started_again(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """Distribution drops a session whose PATCH was cut mid-body, but not at once: its
    status GET may still answer (204, the bytes before the cut), and only the resumed
    PATCH then gets 404 BLOB_UPLOAD_INVALID. The session is gone: a new one, as when the
    status GET itself says so -- not a NotFoundError for the caller."""
    reg, adapter = env
    first, second = f"{BASE}/v2/app/blobs/uploads/s1", f"{BASE}/v2/app/blobs/uploads/s2"
    adapter.register_uri("HEAD", BLOB_URL, status_code=404)
    adapter.register_uri("POST", f"{BASE}/v2/app/blobs/uploads/", [
        {"status_code": 202, "headers": {"Location": first}},
        {"status_code": 202, "headers": {"Location": second}},
    ])
    gone = {"errors": [{"code": "BLOB_UPLOAD_INVALID", "message": "blob upload invalid"}]}
    adapter.register_uri("PATCH", first, [
        {"exc": requests.exceptions.ConnectionError("connection reset by peer")},
        {"status_code": 404, "json": gone},
    ])
    adapter.register_uri("GET", first, status_code=204,
                         headers={"Range": "0-4999", "Location": first})
    adapter.register_uri("DELETE", first, status_code=404, json=gone)
    adapter.register_uri("PATCH", second, status_code=202,
                         headers={"Range": f"0-{len(BLOB) - 1}", "Location": second})
    adapter.register_uri("PUT", second, status_code=201,
                         headers={"Docker-Content-Digest": DIGEST})
    d = reg.repository("app").blobs.upload(BLOB, chunk_size=len(BLOB) * 2)
    assert d.digest == DIGEST
    sent = [(r.method, r.url.split("?")[0].rsplit("/", 1)[-1]) for r in adapter.request_history]
    assert sent[-3:] == [("POST", ""), ("PATCH", "s2"), ("PUT", "s2")]


def test_a_saved_session_gone_by_its_first_patch_is_started_again(
    env: tuple[Registry, requests_mock.Adapter], tmp_path: Path,
) -> None:
    """A killed run's saved session can answer its status GET and be gone by the PATCH
    (Distribution drops it late; another process resumed it first): a new session, as
    when the status GET says so -- not a NotFoundError for the caller."""
    reg, adapter = env
    session = _Session(adapter)  # the new one: s1
    saved = f"{BASE}/v2/app/blobs/uploads/s0"
    state = tmp_path / "upload.json"
    state.write_text(json.dumps({
        "location": saved, "offset": 4000, "digest": DIGEST, "size": len(BLOB),
        "chunk_size": 4000, "repository": "app", "registry": reg.domain}))
    adapter.register_uri("GET", saved, status_code=204,
                         headers={"Range": "0-3999", "Location": saved})
    gone = {"errors": [{"code": "BLOB_UPLOAD_UNKNOWN", "message": "blob upload unknown"}]}
    adapter.register_uri("PATCH", saved, status_code=404, json=gone)
    adapter.register_uri("DELETE", saved, status_code=404, json=gone)
    d = reg.repository("app").blobs.upload(BLOB, state_file=state)
    assert d.digest == DIGEST and session.held == BLOB
    assert not state.exists()


@pytest.mark.parametrize("where", ["missing-directory", "a-directory"])
def test_a_state_file_that_cannot_be_written_is_refused_before_any_request(
    env: tuple[Registry, requests_mock.Adapter], tmp_path: Path, where: str,
) -> None:
    """It failed after the session's POST and a PATCH (a bare OSError), left the session
    open, and a stray NAME.tmp beside a directory of that name."""
    reg, adapter = env
    state = tmp_path / "nope" / "state.json"
    if where == "a-directory":
        state = tmp_path / "adir"
        state.mkdir()
    with pytest.raises(OSError) as info:
        reg.repository("app").blobs.upload(MULTI, chunk_size=1 << 20, state_file=state)
    assert str(state) in str(info.value)
    assert adapter.request_history == []
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["adir"] if where == "a-directory" else [])
