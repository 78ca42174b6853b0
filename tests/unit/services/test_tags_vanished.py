"""Tags deleted between the tag list and their HEAD (a busy registry), with requests-mock.

A HEAD has no body, so a 404 there is asked again with one GET: MANIFEST_UNKNOWN
means the tag vanished (left out, logged); NAME_UNKNOWN means the repository is
gone (raised, as before); a manifest means the tag was pushed again (kept).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable

import pytest
import requests_mock

from registry_client import Registry
from registry_client.errors import NotFoundError, RegistryError

BASE = "https://registry.example"
TAGS = f"{BASE}/v2/app/tags/list"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + "c" * 64, "size": 2},
    "layers": [],
}).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
Env = tuple[Registry, requests_mock.Adapter]


def error_body(code: str) -> dict[str, object]:
    return {"status_code": 404,
            "json": {"errors": [{"code": code, "message": code.lower().replace("_", " ")}]}}


def digest_of(i: int) -> str:
    return "sha256:" + f"{i:x}" * 64


@pytest.fixture
def env(mocked_registry: Callable[..., Env]) -> Env:
    reg, adapter = mocked_registry(retries=1)
    adapter.register_uri("GET", TAGS, json={"name": "app", "tags": ["a", "b", "c"]})
    for i, tag in enumerate(["a", "b", "c"]):
        adapter.register_uri(
            "HEAD", f"{BASE}/v2/app/manifests/{tag}",
            headers={"Docker-Content-Digest": digest_of(i), "Content-Length": "500",
                     "Content-Type": OCI_MANIFEST},
        )
    return reg, adapter


def test_a_tag_gone_since_the_list_is_left_out_and_logged(
    env: Env, caplog: pytest.LogCaptureFixture,
) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/b", status_code=404)
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/b", **error_body("MANIFEST_UNKNOWN"))
    with caplog.at_level(logging.INFO, logger="registry_client"):
        result = reg.repository("app").tags.get_all(with_digests=True)
    assert result == {"a": digest_of(0), "c": digest_of(2)}
    assert [(r.method, r.path) for r in adapter.request_history
            if r.path.endswith("/manifests/b")] == [
        ("HEAD", "/v2/app/manifests/b"), ("GET", "/v2/app/manifests/b")]
    vanished = [r for r in caplog.records if "app:b" in r.getMessage()]
    assert len(vanished) == 1 and "vanished" in vanished[0].getMessage()
    assert vanished[0].levelno == logging.WARNING


def test_digests_of_given_tags_leaves_out_the_vanished(env: Env) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/a", status_code=404)
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/a", **error_body("MANIFEST_UNKNOWN"))
    assert reg.repository("app").tags.digests(["a", "c"]) == {"c": digest_of(2)}
    assert reg.repository("app").tags.digests([]) == {}
    assert not any(r.path.endswith("/tags/list") for r in adapter.request_history)


def test_a_tag_pushed_again_between_head_and_get_is_kept(env: Env) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/b", status_code=404)
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/b", content=MANIFEST,
                         headers={"Content-Type": OCI_MANIFEST,
                                  "Docker-Content-Digest": MANIFEST_DIGEST})
    result = reg.repository("app").tags.get_all(with_digests=True)
    assert result == {"a": digest_of(0), "b": MANIFEST_DIGEST, "c": digest_of(2)}


def test_a_repository_gone_since_the_list_is_still_not_found(env: Env) -> None:
    reg, adapter = env
    for tag in "abc":
        adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/{tag}", status_code=404)
        adapter.register_uri("GET", f"{BASE}/v2/app/manifests/{tag}",
                             **error_body("NAME_UNKNOWN"))
    with pytest.raises(NotFoundError) as info:
        reg.repository("app").tags.get_all(with_digests=True)
    assert "NAME_UNKNOWN" in info.value.codes


@pytest.mark.parametrize("status", [401, 403, 500])
def test_other_errors_of_a_head_still_raise(env: Env, status: int) -> None:
    reg, adapter = env
    adapter.register_uri("HEAD", f"{BASE}/v2/app/manifests/c", status_code=status)
    with pytest.raises(RegistryError) as info:
        reg.repository("app").tags.get_all(with_digests=True)
    assert not isinstance(info.value, NotFoundError)
    assert info.value.status_code in (status, None)
