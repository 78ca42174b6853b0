"""TagService through Registry with a requests-mock adapter: stub, call, assert what was sent."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
import requests_mock

from registry_client import Registry, TagPage
from registry_client.errors import (
    AuthorizationError,
    InvalidReferenceError,
    NotFoundError,
    RegistryError,
    RegistryResponseError,
)

BASE = "https://registry.example"
TAGS = f"{BASE}/v2/app/tags/list"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY_CONFIG_DIGEST = "sha256:" + hashlib.sha256(b"{}").hexdigest()
ORIGINAL = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + "c" * 64, "size": 2},
    "layers": [],
}).encode()
ORIGINAL_DIGEST = "sha256:" + hashlib.sha256(ORIGINAL).hexdigest()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def env(mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]]
        ) -> tuple[Registry, requests_mock.Adapter]:
    return mocked_registry(retries=1)


def page(tags: list[str] | None, link: str | None = None, name: str = "app") -> dict[str, Any]:
    answer: dict[str, Any] = {"json": {"name": name, "tags": tags}}
    if link is not None:
        answer["headers"] = {"Link": f'<{link}>; rel="next"'}
    return answer


# -- list -------------------------------------------------------------------------------
def test_list_final_page(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("GET", TAGS, [page(["a", "b"])])
    assert reg.repository("app").tags.list() == TagPage(name="app", tags=["a", "b"], last=None)
    [req] = adapter.request_history
    assert req.url == TAGS


def test_list_with_link_sets_last(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("GET", TAGS, [page(["a", "b"], "/v2/app/tags/list?n=2&last=b")])
    p = reg.repository("app").tags.list(n=2)
    assert p.tags == ["a", "b"]
    assert p.last == "b"
    assert adapter.request_history[0].qs == {"n": ["2"]}


def test_list_sends_n_and_last(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("GET", TAGS, [page(["c"])])
    p = reg.repository("app").tags.list(n=2, last="b")
    assert p == TagPage(name="app", tags=["c"], last=None)
    assert adapter.request_history[0].qs == {"n": ["2"], "last": ["b"]}


@pytest.mark.parametrize("tags", [None, []])
def test_list_empty(env: tuple[Registry, requests_mock.Adapter], tags: list[str] | None) -> None:
    reg, adapter = env
    adapter.register_uri("GET", TAGS, [page(tags, "/v2/app/tags/list?last=x")])
    p = reg.repository("app").tags.list()
    assert p.tags == []
    assert p.last is None


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"tags": "a"}', b'{"tags": [1, 2]}', b'{"tags": [null]}'],
)
def test_list_malformed(env: tuple[Registry, requests_mock.Adapter], body: bytes) -> None:
    reg, adapter = env
    adapter.register_uri("GET", TAGS, content=body)
    with pytest.raises(RegistryResponseError):
        reg.repository("app").tags.list()


def test_list_unknown_repository(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri(
        "GET", TAGS, status_code=404,
        json={"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]},
    )
    with pytest.raises(NotFoundError) as info:
        reg.repository("app").tags.list()
    assert info.value.codes == ["NAME_UNKNOWN"]


# -- iter / get_all ---------------------------------------------------------------------
def test_iter_follows_opaque_link_exactly(env: tuple[Registry, requests_mock.Adapter]) -> None:
    """ECR-style pagination: an opaque token, to be sent back exactly as given."""
    reg, adapter = env
    token1 = "ukD72mdD%2FmC8b5xV3susmJzzaTgp3hKwR9nRUW1yZZ6dVrbOaQ%3D%3D"
    token2 = "AAAA%2Bbbbb%2Fcc%3D"
    link1 = f"{BASE}/v2/app/tags/list?nextToken={token1}"
    link2 = f"/v2/app/tags/list?nextToken={token2}"

    def answer(request: Any, context: Any) -> bytes:
        query = request.url.partition("?")[2]
        if query == "":
            context.headers["Link"] = f'<{link1}>; rel="next"'
            return json.dumps({"name": "app", "tags": ["a", "b"]}).encode()
        if query == f"nextToken={token1}":
            context.headers["Link"] = f'<{link2}>; rel="next"'
            return json.dumps({"name": "app", "tags": ["c"]}).encode()
        if query == f"nextToken={token2}":
            return json.dumps({"name": "app", "tags": ["d"]}).encode()
        context.status_code = 400
        return b""

    adapter.register_uri("GET", TAGS, content=answer)
    assert list(reg.repository("app").tags.iter()) == ["a", "b", "c", "d"]
    assert [r.url for r in adapter.request_history] == [TAGS, link1, BASE + link2]


def test_iter_page_size(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("GET", TAGS, [
        page(["a", "b"], "/v2/app/tags/list?n=2&last=b"), page(["c"]),
    ])
    assert list(reg.repository("app").tags.iter(page_size=2)) == ["a", "b", "c"]
    assert [r.url for r in adapter.request_history] == [
        f"{TAGS}?n=2", f"{TAGS}?n=2&last=b",
    ]


def test_iter_is_lazy(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("GET", TAGS, [
        page(["a", "b"], "/v2/app/tags/list?last=b"), page(["c"]),
    ])
    it = reg.repository("app").tags.iter()
    assert next(it) == "a"
    assert len(adapter.request_history) == 1


def test_get_all(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("GET", TAGS, [
        page(["a", "b"], "/v2/app/tags/list?last=b"),
        page(["c"], "/v2/app/tags/list?last=c"),
        page([]),
    ])
    assert reg.repository("app").tags.get_all() == ["a", "b", "c"]
    assert len(adapter.request_history) == 3


def test_get_all_with_digests_one_head_per_tag(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    tags = [f"v{i}" for i in range(10)]
    adapter.register_uri("GET", TAGS, [page(tags)])
    for i, tag in enumerate(tags):
        adapter.register_uri(
            "HEAD", f"{BASE}/v2/app/manifests/{tag}",
            headers={"Docker-Content-Digest": "sha256:" + f"{i:x}" * 64,
                     "Content-Length": "500", "Content-Type": OCI_MANIFEST},
        )
    result = reg.repository("app").tags.get_all(with_digests=True)
    assert result == {tag: "sha256:" + f"{i:x}" * 64 for i, tag in enumerate(tags)}
    heads = [r for r in adapter.request_history if r.method == "HEAD"]
    assert sorted(r.url for r in heads) == sorted(f"{BASE}/v2/app/manifests/{t}" for t in tags)
    assert [r.method for r in adapter.request_history].count("GET") == 1


def test_get_all_with_digests_empty(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("GET", TAGS, [page([])])
    assert reg.repository("app").tags.get_all(with_digests=True) == {}
    assert len(adapter.request_history) == 1


# -- delete -----------------------------------------------------------------------------
def test_delete_with_tag_delete_support(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("DELETE", f"{BASE}/v2/app/manifests/old", status_code=202)
    reg.repository("app").tags.delete("old")
    assert [(r.method, r.url) for r in adapter.request_history] == [
        ("DELETE", f"{BASE}/v2/app/manifests/old"),
    ]


def _fallback_registry(adapter: requests_mock.Adapter, refusal: int) -> dict[str, Any]:
    """A Distribution-like registry: no DELETE by tag; records the tombstone manifest."""
    state: dict[str, Any] = {}
    adapter.register_uri(
        "DELETE", f"{BASE}/v2/app/manifests/old", status_code=refusal,
        json={"errors": [{"code": "UNSUPPORTED" if refusal == 405 else "DIGEST_INVALID",
                          "message": "nope"}]},
    )
    adapter.register_uri(
        "GET", f"{BASE}/v2/app/manifests/old", content=ORIGINAL,
        headers={"Docker-Content-Digest": ORIGINAL_DIGEST, "Content-Type": OCI_MANIFEST},
    )
    adapter.register_uri("HEAD", f"{BASE}/v2/app/blobs/{EMPTY_CONFIG_DIGEST}", status_code=404)
    adapter.register_uri(
        "POST", f"{BASE}/v2/app/blobs/uploads/", status_code=202,
        headers={"Location": "/v2/app/blobs/uploads/u1?_state=s"},
    )
    adapter.register_uri(
        "PUT", f"{BASE}/v2/app/blobs/uploads/u1", status_code=201,
        headers={"Docker-Content-Digest": EMPTY_CONFIG_DIGEST},
    )

    def put_manifest(request: Any, context: Any) -> bytes:
        state["manifest"] = request.body
        state.setdefault("puts", []).append(request.body)
        context.status_code = 201
        context.headers["Docker-Content-Digest"] = sha256(request.body)
        return b""

    adapter.register_uri("PUT", f"{BASE}/v2/app/manifests/old", content=put_manifest)
    adapter.register_uri(
        "DELETE", requests_mock.ANY, status_code=202,
        additional_matcher=lambda r: "/v2/app/manifests/sha256:" in r.url,
    )

    def head_by_digest(request: Any, context: Any) -> bytes:  # the tombstone is there
        context.headers.update({"Docker-Content-Digest": request.path.rsplit("/", 1)[1],
                                "Content-Type": OCI_MANIFEST, "Content-Length": "100"})
        return b""

    adapter.register_uri(
        "HEAD", requests_mock.ANY, content=head_by_digest,
        additional_matcher=lambda r: "/v2/app/manifests/sha256:" in r.url,
    )
    return state


@pytest.mark.parametrize("refusal", [405, 400])
def test_delete_falls_back_to_tombstone(
    env: tuple[Registry, requests_mock.Adapter], refusal: int,
) -> None:
    reg, adapter = env
    state = _fallback_registry(adapter, refusal)
    reg.repository("app").tags.delete("old")
    calls = [(r.method, r.path) for r in adapter.request_history]
    assert calls[0] == ("DELETE", "/v2/app/manifests/old")
    assert ("GET", "/v2/app/manifests/old") in calls
    assert ("PUT", "/v2/app/manifests/old") in calls
    # the throw-away manifest is a valid OCI manifest with the empty config
    doc = json.loads(state["manifest"])
    assert doc["mediaType"] == OCI_MANIFEST
    assert doc["config"]["digest"] == EMPTY_CONFIG_DIGEST
    put = next(r for r in adapter.request_history
               if r.method == "PUT" and r.path == "/v2/app/manifests/old")
    assert put.headers["Content-Type"] == OCI_MANIFEST
    tombstone = sha256(state["manifest"])
    assert calls[-1] == ("DELETE", f"/v2/app/manifests/{tombstone}")
    # the manifest the tag pointed to (and its other tags) is left alone
    assert ("DELETE", f"/v2/app/manifests/{ORIGINAL_DIGEST}") not in calls
    # the config blob is uploaded before the manifest that references it
    assert calls.index(("PUT", "/v2/app/blobs/uploads/u1")) < calls.index(
        ("PUT", "/v2/app/manifests/old"))


def test_delete_fallback_is_remembered(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    _fallback_registry(adapter, 400)
    tags = reg.repository("app").tags
    tags.delete("old")
    n = len(adapter.request_history)
    tags.delete("old")
    second = [(r.method, r.path) for r in adapter.request_history[n:]]
    assert second[0] == ("GET", "/v2/app/manifests/old")
    assert ("DELETE", "/v2/app/manifests/old") not in second


def test_tombstones_are_unique(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    state = _fallback_registry(adapter, 400)
    tags = reg.repository("app").tags
    tags.delete("old")
    first = state["manifest"]
    tags.delete("old")
    assert state["manifest"] != first


def _writes(adapter: requests_mock.Adapter) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in adapter.request_history
            if r.method in ("PUT", "POST", "PATCH")]


def test_a_405_to_a_tag_delete_asks_whether_deletes_are_on_before_writing(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    """Distribution answers a tag DELETE 405 when deletes are off, 400 when they are on.
    After a 405 a DELETE of a digest nobody holds tells (404: on), once per registry."""
    reg, adapter = env
    state = _fallback_registry(adapter, 405)
    adapter.register_uri(
        "DELETE", requests_mock.ANY, status_code=202,
        additional_matcher=lambda r: "/v2/app/manifests/sha256:" in r.url
        and sha256(state.get("manifest", b"")) in r.url)
    adapter.register_uri(
        "DELETE", requests_mock.ANY, **TOMBSTONE_GONE,
        additional_matcher=lambda r: "/v2/app/manifests/sha256:" in r.url
        and sha256(state.get("manifest", b"")) not in r.url)
    tags = reg.repository("app").tags
    tags.delete("old")
    deletes = [r.path for r in adapter.request_history if r.method == "DELETE"]
    probe, tombstone = deletes[1:]
    assert deletes[0] == "/v2/app/manifests/old"
    assert probe != tombstone and tombstone.endswith(sha256(state["manifest"]))
    assert reg.requester.capabilities["tag_delete"] is False
    n = len(adapter.request_history)
    tags.delete("old")  # remembered: no tag DELETE, no probe
    assert [r.method for r in adapter.request_history[n:]].count("DELETE") == 1


@pytest.mark.parametrize(("status", "code", "error"), [
    (405, "UNSUPPORTED", RegistryResponseError), (403, "DENIED", AuthorizationError)])
def test_deletes_that_are_off_are_refused_before_anything_is_written(
    env: tuple[Registry, requests_mock.Adapter], status: int, code: str, error: type,
) -> None:
    """The tombstone dance moved the tag, was refused its delete, put the tag back, and
    left its throw-away manifest in the repository for good (deletes off)."""
    reg, adapter = env
    _fallback_registry(adapter, 405)
    adapter.register_uri(
        "DELETE", requests_mock.ANY, status_code=status,
        json={"errors": [{"code": code, "message": "nope"}]},
        additional_matcher=lambda r: "/v2/app/manifests/sha256:" in r.url)
    with pytest.raises(error) as caught:
        reg.repository("app").tags.delete("old")
    assert str(caught.value).startswith("delete tag old")
    if status == 405:
        assert "storage.delete.enabled" in str(caught.value)
    assert _writes(adapter) == []
    assert "tag_delete" not in reg.requester.capabilities  # asked again next time


def test_delete_missing_tag_with_tag_delete(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri(
        "DELETE", f"{BASE}/v2/app/manifests/gone", status_code=404,
        json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]},
    )
    with pytest.raises(NotFoundError):
        reg.repository("app").tags.delete("gone")
    assert len(adapter.request_history) == 1


def test_delete_missing_tag_on_fallback(env: tuple[Registry, requests_mock.Adapter]) -> None:
    reg, adapter = env
    adapter.register_uri("DELETE", f"{BASE}/v2/app/manifests/gone", status_code=405)
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/gone", status_code=404)
    with pytest.raises(NotFoundError):
        reg.repository("app").tags.delete("gone")
    methods = [r.method for r in adapter.request_history]
    assert methods == ["DELETE", "GET"]  # nothing was written


@pytest.mark.parametrize("refusal", [405, 403])
def test_a_refused_delete_by_digest_puts_the_tag_back(
    env: tuple[Registry, requests_mock.Adapter], refusal: int,
) -> None:
    # deletes disabled (405 UNSUPPORTED) or not allowed (403): the tag must not stay on
    # the throw-away manifest
    reg, adapter = env
    state = _fallback_registry(adapter, 400)
    adapter.register_uri(
        "DELETE", requests_mock.ANY, status_code=refusal,
        json={"errors": [{"code": "UNSUPPORTED" if refusal == 405 else "DENIED",
                          "message": "nope"}]},
        additional_matcher=lambda r: "/v2/app/manifests/sha256:" in r.url,
    )
    with pytest.raises(RegistryError) as caught:
        reg.repository("app").tags.delete("old")
    assert caught.value.status_code == refusal
    tombstone, restored = state["puts"]
    assert json.loads(tombstone)["config"]["digest"] == EMPTY_CONFIG_DIGEST
    assert restored == ORIGINAL  # the tag's own bytes, put back under the tag
    put = [r for r in adapter.request_history
           if r.method == "PUT" and r.path == "/v2/app/manifests/old"][-1]
    assert put.headers["Content-Type"] == OCI_MANIFEST


def test_a_tag_that_cannot_be_put_back_is_named_in_the_error(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    _fallback_registry(adapter, 400)
    adapter.register_uri(
        "DELETE", requests_mock.ANY, status_code=405,
        additional_matcher=lambda r: "/v2/app/manifests/sha256:" in r.url,
    )
    responses = iter([201, 500])

    def put_manifest(request: Any, context: Any) -> bytes:
        context.status_code = next(responses)
        context.headers["Docker-Content-Digest"] = sha256(request.body)
        return b""

    adapter.register_uri("PUT", f"{BASE}/v2/app/manifests/old", content=put_manifest)
    with pytest.raises(RegistryError, match=f"could not be put back on {ORIGINAL_DIGEST}"):
        reg.repository("app").tags.delete("old")


@pytest.mark.parametrize("status", [401, 403, 500])
def test_delete_other_failures_not_hidden(
    env: tuple[Registry, requests_mock.Adapter], status: int,
) -> None:
    reg, adapter = env
    adapter.register_uri("DELETE", f"{BASE}/v2/app/manifests/old", status_code=status)
    with pytest.raises(RegistryError) as info:
        reg.repository("app").tags.delete("old")
    assert getattr(info.value, "status_code", None) == status
    assert [r.method for r in adapter.request_history] == ["DELETE"]


@pytest.mark.parametrize("tag", ["", "sha256:" + "a" * 64, "-x", "a/b"])
def test_delete_invalid_tag(env: tuple[Registry, requests_mock.Adapter], tag: str) -> None:
    reg, adapter = env
    with pytest.raises(InvalidReferenceError):
        reg.repository("app").tags.delete(tag)
    assert adapter.request_history == []


# -- deletes whose outcome is uncertain ----------------------------------------------------
# Distribution 2.8's answer when deletes race (its log says "invalid checksum digest format")
RACING_500 = {"status_code": 500, "json": {"errors": [
    {"code": "UNKNOWN", "message": "unknown error", "detail": {}}]}}
TOMBSTONE_GONE = {"status_code": 404, "json": {"errors": [
    {"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}}


def _tombstone_deletes(adapter: requests_mock.Adapter) -> list[Any]:
    return [r for r in adapter.request_history
            if r.method == "DELETE" and "/v2/app/manifests/sha256:" in r.url]


def _answer_tombstone_deletes(adapter: requests_mock.Adapter, answers: list[Any]) -> None:
    adapter.register_uri(
        "DELETE", requests_mock.ANY, answers,
        additional_matcher=lambda r: "/v2/app/manifests/sha256:" in r.url,
    )


@pytest.mark.parametrize("first", [
    {"exc": requests.exceptions.ReadTimeout}, RACING_500, {"status_code": 504},
], ids=["answer-lost", "racing-500", "gateway-timeout"])
def test_a_tombstone_delete_found_done_is_never_undone(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]], first: dict[str, Any],
) -> None:
    # Distribution deletes the manifest, then untags: after a lost answer or its racing
    # 500 the retry sees 404 (done), and the tag may be left naming nothing, so the
    # tombstone is put and deleted once more; the original is never put back.
    reg, adapter = mocked_registry(retries=2)
    state = _fallback_registry(adapter, 400)
    _answer_tombstone_deletes(adapter, [first, TOMBSTONE_GONE, {"status_code": 202}])
    adapter.register_uri("GET", TAGS, [page(["new", "old"])])  # listed, naming nothing
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/old", status_code=404)
    reg.repository("app").tags.delete("old")
    assert ORIGINAL not in state["puts"]
    assert len(state["puts"]) == 2  # a second tombstone, cleanly deleted
    deleted = [r.path.rsplit("/", 1)[1] for r in _tombstone_deletes(adapter)]
    assert deleted[:2] == [sha256(state["puts"][0])] * 2
    assert deleted[2:] == [sha256(state["puts"][1])]


def test_a_tag_pushed_again_meanwhile_is_left_alone(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]],
) -> None:
    # the delete was found done; by then CI had pushed the tag again: no second round
    reg, adapter = mocked_registry(retries=2)
    state = _fallback_registry(adapter, 400)
    _answer_tombstone_deletes(adapter, [RACING_500, TOMBSTONE_GONE])
    fresh = "sha256:" + "f" * 64
    adapter.register_uri("GET", TAGS, [page(["old"])])
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/old", headers={
        "Docker-Content-Digest": fresh, "Content-Type": OCI_MANIFEST, "Content-Length": "9"})
    reg.repository("app").tags.delete("old")
    assert len(state["puts"]) == 1 and len(_tombstone_deletes(adapter)) == 2


@pytest.mark.parametrize("listing", [
    page(["new"]), page(None), {"status_code": 404, "json": {"errors": [
        {"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]}},
], ids=["other-tags", "no-tags", "repository-gone"])
def test_a_tombstone_delete_found_done_and_untagged_is_one_round(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]],
    listing: dict[str, Any], caplog: pytest.LogCaptureFixture,
) -> None:
    # The answer was lost, the retry met 404 and the tag list no longer has the tag:
    # the registry deleted and untagged. No second throw-away manifest, no warning
    # (HEAD of the tag is 404 both ways, so it cannot tell this from a dangling tag).
    reg, adapter = mocked_registry(retries=2)
    state = _fallback_registry(adapter, 400)
    _answer_tombstone_deletes(adapter, [{"exc": requests.exceptions.ReadTimeout},
                                        TOMBSTONE_GONE, {"status_code": 202}])
    adapter.register_uri("GET", TAGS, [listing])
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/old", status_code=404)
    with caplog.at_level("WARNING"):
        reg.repository("app").tags.delete("old")
    assert len(state["puts"]) == 1 and len(_tombstone_deletes(adapter)) == 2
    assert not [r for r in caplog.records if "kept losing" in r.getMessage()]


def test_a_tag_list_that_fails_after_a_delete_found_done_is_only_warned_about(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the delete is done; whether the tag dangles cannot be told: no error, no new round
    reg, adapter = mocked_registry(retries=1)
    state = _fallback_registry(adapter, 400)
    _answer_tombstone_deletes(adapter, [{"exc": requests.exceptions.ReadTimeout},
                                        TOMBSTONE_GONE])
    adapter.register_uri("GET", TAGS, status_code=503)
    with caplog.at_level("WARNING"):
        reg.repository("app").tags.delete("old")
    assert len(state["puts"]) == 1 and ORIGINAL not in state["puts"]
    assert [r for r in caplog.records if "could not be checked" in r.getMessage()]


def test_a_tag_left_dangling_every_round_is_warned_about(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    reg, adapter = mocked_registry(retries=2)
    state = _fallback_registry(adapter, 400)
    _answer_tombstone_deletes(adapter, [RACING_500, TOMBSTONE_GONE] * 3)
    adapter.register_uri("GET", TAGS, [page(["old"])])
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/old", status_code=404)
    with caplog.at_level("WARNING"):
        reg.repository("app").tags.delete("old")
    assert len(state["puts"]) == 3
    assert [r for r in caplog.records if "kept losing" in r.getMessage()]


def test_a_racing_500_on_the_tombstone_delete_is_retried(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]],
) -> None:
    reg, adapter = mocked_registry(retries=2)
    state = _fallback_registry(adapter, 400)
    _answer_tombstone_deletes(adapter, [RACING_500, {"status_code": 202}])
    reg.repository("app").tags.delete("old")
    assert len(_tombstone_deletes(adapter)) == 2
    assert ORIGINAL not in state["puts"]


def _tombstone_heads(adapter: requests_mock.Adapter, answer: dict[str, Any]) -> None:
    adapter.register_uri(
        "HEAD", requests_mock.ANY, **answer,
        additional_matcher=lambda r: "/v2/app/manifests/sha256:" in r.url,
    )


@pytest.mark.parametrize("answer", [
    {"exc": requests.exceptions.ReadTimeout},
    RACING_500,
    {"status_code": 503, "headers": {"Retry-After": "7"}},
], ids=["answers-lost", "500", "503"])
def test_a_tombstone_delete_that_may_have_happened_does_not_put_the_tag_back(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]], answer: dict[str, Any],
) -> None:
    reg, adapter = mocked_registry(retries=1)
    state = _fallback_registry(adapter, 400)
    _answer_tombstone_deletes(adapter, [answer])
    _tombstone_heads(adapter, {"status_code": 503})  # and nobody can tell if it did
    with pytest.raises(RegistryError) as caught:
        reg.repository("app").tags.delete("old")
    assert ORIGINAL not in state["puts"]  # never put back: the delete may have happened
    err = caught.value
    assert str(err).startswith("delete tag old")
    assert "may have happened" in str(err) and "not put back" in str(err)
    tombstone = sha256(state["puts"][0])
    assert err.method == "DELETE"
    assert err.url == f"{BASE}/v2/app/manifests/{tombstone}"
    if "status_code" in answer:
        assert err.status_code == answer["status_code"]
    if "headers" in answer:
        assert err.retry_after == 7


def test_a_refused_tombstone_delete_keeps_status_method_url_and_retry_after(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]],
) -> None:
    reg, adapter = mocked_registry(retries=1)
    state = _fallback_registry(adapter, 400)
    _answer_tombstone_deletes(adapter, [{"status_code": 429, "headers": {"Retry-After": "9"}},
                                        {"status_code": 429, "headers": {"Retry-After": "9"}}])
    with pytest.raises(RegistryError) as caught:
        reg.repository("app").tags.delete("old")
    err = caught.value
    assert state["puts"][-1] == ORIGINAL  # refused outright: the tag is put back
    assert (err.status_code, err.retry_after, err.method) == (429, 9, "DELETE")
    assert err.url is not None and "/v2/app/manifests/sha256:" in err.url
    assert str(err).startswith("delete tag old: the registry refused the delete")


def test_an_unanswered_tombstone_delete_is_not_called_refused(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]],
) -> None:
    # every attempt timed out, and the throw-away manifest is still there: nothing was
    # deleted, so the tag goes back -- but the registry did not refuse anything
    reg, adapter = mocked_registry(retries=1)
    state = _fallback_registry(adapter, 400)
    _answer_tombstone_deletes(adapter, [{"exc": requests.exceptions.ReadTimeout}] * 2)
    with pytest.raises(RegistryError) as caught:
        reg.repository("app").tags.delete("old")
    err = caught.value
    assert state["puts"][-1] == ORIGINAL
    assert err.status_code is None and err.method == "DELETE"
    message = str(err)
    assert message.startswith("delete tag old: the delete could not be confirmed")
    assert "refused" not in message and "timed out" in message
    assert "the tag is left as it was" in message


def test_a_tag_missing_on_the_fallback_says_delete(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    adapter.register_uri("DELETE", f"{BASE}/v2/app/manifests/gone", status_code=405)
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/gone", **TOMBSTONE_GONE)
    with pytest.raises(NotFoundError) as caught:
        reg.repository("app").tags.delete("gone")
    assert str(caught.value).startswith("delete tag gone")
    assert caught.value.status_code == 404 and caught.value.method == "GET"


def test_a_lost_answer_to_a_tag_delete_found_done_is_done(
    env: tuple[Registry, requests_mock.Adapter],
) -> None:
    reg, adapter = env
    adapter.register_uri("DELETE", f"{BASE}/v2/app/manifests/old",
                         [{"exc": requests.exceptions.ReadTimeout}, TOMBSTONE_GONE])
    reg.repository("app").tags.delete("old")
    assert [r.method for r in adapter.request_history] == ["DELETE", "DELETE"]


@pytest.mark.parametrize("refusal", [
    {"status_code": 429}, {"status_code": 500}, {"exc": requests.exceptions.ReadTimeout},
], ids=["429", "500", "answers-lost"])
def test_a_tombstone_found_gone_after_a_failed_delete_is_done(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]],
    refusal: dict[str, Any],
) -> None:
    # the first answer was lost (the registry deleted it), the retries were refused: the
    # HEAD finds the throw-away manifest gone, so the tag is never put back
    reg, adapter = mocked_registry(retries=1)
    state = _fallback_registry(adapter, 400)
    _answer_tombstone_deletes(adapter, [{"exc": requests.exceptions.ReadTimeout}, refusal,
                                        {"status_code": 202}])
    _tombstone_heads(adapter, {"status_code": 404})
    adapter.register_uri("GET", TAGS, [page([])])
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/old", status_code=404)
    reg.repository("app").tags.delete("old")
    assert ORIGINAL not in state["puts"]
    assert len(state["puts"]) == 1  # the tag is not listed any more: done
