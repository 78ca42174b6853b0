"""AsyncTagService on httpx.MockTransport: async iteration over Link pages, and the
blocking service's results."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from registry_client import TagPage
from registry_client.errors import NotFoundError, RegistryResponseError

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/json"}
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def page(tags: list[str], link: str | None = None) -> dict[str, Any]:
    headers = dict(JSON)
    if link is not None:
        headers["Link"] = f'<{link}>; rel="next"'
    return {"status": 200, "body": json.dumps({"name": "app", "tags": tags}).encode(),
            "headers": headers}


def two_pages(router: Any) -> None:
    router.add("GET", "/v2/app/tags/list?n=2", page(["a", "b"], "/v2/app/tags/list?n=2&last=b"))
    router.add("GET", "/v2/app/tags/list?n=2&last=b", page(["c"]))


async def test_pages_and_iter_follow_the_link_as_given(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    two_pages(router)
    tags = areg.repository("app").tags

    pages = [p async for p in tags.pages(page_size=2)]
    assert pages == [TagPage(name="app", tags=["a", "b"], last="b"),
                     TagPage(name="app", tags=["c"], last=None)]
    assert pages == list(reg.repository("app").tags.pages(page_size=2))
    assert [t async for t in tags.iter(page_size=2)] == ["a", "b", "c"]
    assert router.paths() == ["/v2/app/tags/list?n=2", "/v2/app/tags/list?n=2&last=b"] * 2


async def test_iter_reads_a_page_only_when_it_is_reached(mock_registries: Any) -> None:
    areg, _, router = mock_registries()
    two_pages(router)
    it = areg.repository("app").tags.iter(page_size=2)
    assert router.requests == []
    assert await it.__anext__() == "a"
    assert len(router.requests) == 1
    await it.aclose()


async def test_list_and_get_all(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    router.add("GET", "/v2/app/tags/list", page(["1.0", "latest"]))
    router.add("GET", "/v2/app/tags/list?n=1&last=0.9", page(["1.0"]))
    tags = areg.repository("app").tags

    assert await tags.list(n=1, last="0.9") == TagPage(name="app", tags=["1.0"], last=None)
    assert await tags.get_all() == ["1.0", "latest"] == reg.repository("app").tags.get_all()


async def test_get_all_with_digests_leaves_a_vanished_tag_out(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    body = b'{"schemaVersion": 2}'
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    router.add("GET", "/v2/app/tags/list", page(["1.0", "gone"]))
    router.add("HEAD", "/v2/app/manifests/1.0", status=200, body=body,
               headers={"Docker-Content-Digest": digest, "Content-Type": DOCKER_V2})
    router.add("HEAD", "/v2/app/manifests/gone", status=404)
    router.add("GET", "/v2/app/manifests/gone", status=404, headers=JSON, body=json.dumps(
        {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}).encode())

    found = await areg.repository("app").tags.get_all(with_digests=True)
    assert found == {"1.0": digest}
    assert found == reg.repository("app").tags.get_all(with_digests=True)
    assert await areg.repository("app").tags.find("gone") is None


async def test_a_link_to_another_host_is_refused_as_blocking(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    router.add("GET", "/v2/app/tags/list", page(["a"], "https://elsewhere.example/v2/x"))

    with pytest.raises(RegistryResponseError) as blocking:
        reg.repository("app").tags.get_all()
    with pytest.raises(RegistryResponseError) as flavour:
        [t async for t in areg.repository("app").tags.iter()]
    assert str(flavour.value) == str(blocking.value)
    assert "another host" in str(flavour.value)


async def test_unknown_repository_is_not_found_as_blocking(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    router.add("GET", "/v2/app/tags/list", status=404, headers=JSON, body=json.dumps(
        {"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]}
    ).encode())

    with pytest.raises(NotFoundError) as blocking:
        reg.repository("app").tags.list()
    with pytest.raises(NotFoundError) as flavour:
        await areg.repository("app").tags.list()
    assert str(flavour.value) == str(blocking.value)


async def test_delete_with_the_registrys_tag_delete(mock_registries: Any) -> None:
    areg, _, router = mock_registries()
    router.add("DELETE", "/v2/app/manifests/old", status=202)
    await areg.repository("app").tags.delete("old")
    assert router.paths("DELETE") == ["/v2/app/manifests/old"]
    assert areg.requester.capabilities["tag_delete"] is True
