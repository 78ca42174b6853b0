"""TagService reads against a real Distribution 2.8, and tag paging through a paging proxy."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from registry_client import NotFoundError, Registry, TagPage
from registry_client.testing import LocalRegistry, SeededImage, seed_image, seed_tags

pytestmark = pytest.mark.integration

ClientFactory = Callable[..., Registry]
MANY_TAGS = [f"v{i:03d}" for i in range(250)]


def seed_distinct_tags(reg: LocalRegistry, repository: str, tags: list[str]) -> dict[str, str]:
    """One different image per tag; returns tag -> manifest digest."""
    images: list[SeededImage] = [
        seed_image(reg, repository, tag, seed=i, layers=(64,)) for i, tag in enumerate(tags)
    ]
    digests = {image.tag or "": image.digest for image in images}
    assert len(set(digests.values())) == len(tags)
    return digests


@pytest.fixture(scope="module")
def many_tags_repository(anon_registry: LocalRegistry) -> tuple[str, SeededImage]:
    """``test/many-tags`` on the anonymous registry with 250 tags on one image."""
    name = "test/many-tags"
    return name, seed_tags(anon_registry, name, MANY_TAGS, layers=(16,))


# -- every mode, straight to the registry ---------------------------------------------


def test_list_get_all_and_iter(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    tags = ["1.0", "1.1", "latest"]
    seed_distinct_tags(any_registry, unique_repository, tags)
    tag_service = client.repository(unique_repository).tags

    page = tag_service.list()
    assert isinstance(page, TagPage)
    assert page.name == unique_repository
    assert sorted(page.tags) == tags
    assert page.last is None  # Distribution 2.8 sends everything at once, no Link

    assert sorted(tag_service.get_all()) == tags
    iterator = tag_service.iter()
    assert sorted(iterator) == tags
    assert sorted(tag_service.iter(page_size=2)) == tags  # 2.8 ignores n: still all of them


def test_get_all_with_digests(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    expected = seed_distinct_tags(any_registry, unique_repository, ["a", "b", "c", "d", "e"])
    any_registry.clear_access_log()
    result = client.repository(unique_repository).tags.get_all(with_digests=True)
    assert result == expected
    # one HEAD per tag, no manifest body downloaded
    manifests = f"/v2/{unique_repository}/manifests/"
    assert any_registry.request_count("HEAD", manifests, status=200) == 5
    assert any_registry.request_count("GET", manifests) == 0


def test_get_all_with_digests_of_an_empty_repository(
    any_registry: LocalRegistry, client: Registry, unique_repository: str
) -> None:
    image = seed_image(any_registry, unique_repository, "only")
    admin = client.repository(unique_repository)
    admin.images.delete_by_digest(image.digest)
    assert admin.tags.get_all() == []
    assert admin.tags.get_all(with_digests=True) == {}


def test_unknown_repository_is_not_found(client: Registry, unique_repository: str) -> None:
    tags = client.repository(unique_repository).tags
    with pytest.raises(NotFoundError) as info:
        tags.list()
    assert info.value.status_code == 404
    assert "NAME_UNKNOWN" in info.value.codes
    with pytest.raises(NotFoundError):
        tags.get_all()
    with pytest.raises(NotFoundError):
        list(tags.iter())
    with pytest.raises(NotFoundError):
        tags.get_all(with_digests=True)


# -- paging, through the ECR-like paging proxy ------------------------------------------


def proxy_client(client_for: ClientFactory, anon_registry: LocalRegistry, proxy: Any,
                 **kw: Any) -> Registry:
    return client_for(anon_registry, host=proxy.host, **kw)


def test_get_all_follows_link_pages_over_250_tags(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    tag_paging_proxy: Any,
    many_tags_repository: tuple[str, SeededImage],
) -> None:
    name, _ = many_tags_repository
    client = proxy_client(client_for, anon_registry, tag_paging_proxy)
    assert client.repository(name).tags.get_all() == MANY_TAGS

    pages = tag_paging_proxy.tag_list_requests()
    assert len(pages) == 3
    assert "cursor" not in pages[0].query
    # the next pages were fetched with the opaque cursor the proxy put in its Link header
    cursors = [p.query["cursor"][0] for p in pages[1:]]
    assert all(c in tag_paging_proxy.cursors for c in cursors)
    assert [tag_paging_proxy.cursors[c][1] for c in cursors] == [100, 200]
    assert all(p.query["n"] == ["100"] for p in pages[1:])


@pytest.mark.parametrize("page_size", [7, 100, 249, 250, 1000])
def test_iter_with_page_size(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    tag_paging_proxy: Any,
    many_tags_repository: tuple[str, SeededImage],
    page_size: int,
) -> None:
    name, _ = many_tags_repository
    client = proxy_client(client_for, anon_registry, tag_paging_proxy)
    assert list(client.repository(name).tags.iter(page_size=page_size)) == MANY_TAGS
    pages = tag_paging_proxy.tag_list_requests()
    assert len(pages) == math.ceil(len(MANY_TAGS) / page_size)
    assert all(p.query["n"] == [str(page_size)] for p in pages)


def test_iter_is_lazy(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    tag_paging_proxy: Any,
    many_tags_repository: tuple[str, SeededImage],
) -> None:
    name, _ = many_tags_repository
    client = proxy_client(client_for, anon_registry, tag_paging_proxy)
    it = client.repository(name).tags.iter(page_size=50)
    first = [next(it) for _ in range(50)]
    assert first == MANY_TAGS[:50]
    assert len(tag_paging_proxy.tag_list_requests()) == 1
    assert next(it) == MANY_TAGS[50]
    assert len(tag_paging_proxy.tag_list_requests()) == 2


def test_list_returns_one_page(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    tag_paging_proxy: Any,
    many_tags_repository: tuple[str, SeededImage],
) -> None:
    name, _ = many_tags_repository
    client = proxy_client(client_for, anon_registry, tag_paging_proxy)
    tags = client.repository(name).tags

    first = tags.list(n=100)
    assert first == TagPage(name=name, tags=MANY_TAGS[:100], last=MANY_TAGS[99])
    default = tags.list()
    assert default.tags == MANY_TAGS[:100]  # the proxy's default page size
    assert default.last == MANY_TAGS[99]

    everything = tags.list(n=1000)
    assert everything.tags == MANY_TAGS
    assert everything.last is None  # final page: no Link

    assert len(tag_paging_proxy.tag_list_requests()) == 3


def test_get_all_with_digests_sends_heads_in_parallel(
    anon_registry: LocalRegistry,
    client_for: ClientFactory,
    tag_paging_proxy: Any,
    unique_repository: str,
) -> None:
    tags = [f"t{i}" for i in range(8)]
    expected = seed_distinct_tags(anon_registry, unique_repository, tags)
    tag_paging_proxy.head_delay = 0.05
    client = proxy_client(client_for, anon_registry, tag_paging_proxy, max_workers=4)
    assert client.repository(unique_repository).tags.get_all(with_digests=True) == expected
    heads = [r for r in tag_paging_proxy.received if r.method == "HEAD"]
    assert sorted(r.path.rsplit("/", 1)[1] for r in heads) == tags
    assert 2 <= tag_paging_proxy.max_concurrent_heads <= 4

