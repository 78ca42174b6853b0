"""The asyncio metadata API against a real Distribution 2.8 in each auth mode: the
blocking API's results, and its error types and messages.

Covers AsyncRegistry (ping, catalog, search, rate limit), AsyncRepository.delete,
AsyncManifestService and AsyncTagService; token mode also proves that 100 gathered
``manifests.get`` on one AsyncRegistry cost one token request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from registry_client import (
    AuthenticationError,
    BasicAuthenticator,
    NotFoundError,
    RawManifest,
    Registry,
    RegistryError,
    TokenAuthenticator,
)
from registry_client.aio import AsyncRegistry
from registry_client.testing import LocalRegistry, seed_image, seed_tags

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

PLATFORMS = ["linux/amd64", "linux/arm64/v8"]


def admin(reg: LocalRegistry) -> Any:
    """The admin's authenticator (anonymous registry: None)."""
    if reg.admin is None:
        return None
    cls = TokenAuthenticator if reg.auth == "token" else BasicAuthenticator
    return cls(*reg.admin)


@pytest.fixture
async def both(any_registry: LocalRegistry) -> AsyncIterator[tuple[AsyncRegistry, Registry]]:
    """An AsyncRegistry and a Registry of ``any_registry``, both as its admin."""
    async with AsyncRegistry(any_registry.host, protocol="http",
                             authenticator=admin(any_registry)) as areg:
        with Registry(any_registry.host, protocol="http",
                      authenticator=admin(any_registry)) as reg:
            yield areg, reg


async def test_reads_give_the_blocking_results(
    any_registry: LocalRegistry, both: tuple[AsyncRegistry, Registry], unique_repository: str,
) -> None:
    areg, reg = both
    seed_tags(any_registry, unique_repository, ["1.0", "latest"], seed=1)
    multi = seed_image(any_registry, unique_repository, "multi", platforms=PLATFORMS, seed=2)
    arepo, repo = areg.repository(unique_repository), reg.repository(unique_repository)

    await areg.ping()
    for ref in ("1.0", "multi", multi.children[0].digest):
        assert await arepo.manifests.get_raw(ref) == repo.manifests.get_raw(ref)
        assert await arepo.manifests.head(ref) == repo.manifests.head(ref)
        assert await arepo.manifests.get(ref) == repo.manifests.get(ref)
    assert await arepo.manifests.referrers(multi.digest) == []
    assert sorted(await arepo.tags.get_all()) == ["1.0", "latest", "multi"]
    assert await arepo.tags.get_all(with_digests=True) == repo.tags.get_all(with_digests=True)
    assert [t async for t in arepo.tags.iter(page_size=1)] == list(repo.tags.iter(page_size=1))
    assert [p async for p in arepo.tags.pages(page_size=2)] == list(repo.tags.pages(2))
    assert await arepo.tags.list(n=1) == repo.tags.list(n=1)
    assert await arepo.tags.find("multi") == repo.tags.find("multi")
    names = [r.name async for r in areg.repositories()]
    assert unique_repository in names
    assert [r.name for r in await areg.repositories()] == [r.name for r in reg.repositories()]
    assert await areg.search(unique_repository) == reg.search(unique_repository)
    assert await areg.check_rate_limit(f"{unique_repository}:1.0") is None


async def test_errors_have_the_blocking_types_and_messages(
    any_registry: LocalRegistry, both: tuple[AsyncRegistry, Registry], unique_repository: str,
) -> None:
    areg, reg = both
    seed_tags(any_registry, unique_repository, ["1.0"], seed=3)
    calls = {
        "missing tag": lambda r: r.repository(unique_repository).manifests.get("nope"),
        "missing digest": lambda r: r.repository(unique_repository).manifests.head(
            "sha256:" + "0" * 64),
        "missing repository": lambda r: r.repository(f"{unique_repository}-not").tags.list(),
        "missing manifest delete": lambda r: r.repository(unique_repository).manifests.delete(
            "sha256:" + "0" * 64),
    }
    for what, call in calls.items():
        with pytest.raises(RegistryError) as blocking:
            call(reg)
        with pytest.raises(RegistryError) as flavour:
            await call(areg)
        assert type(flavour.value) is type(blocking.value), what
        assert str(flavour.value) == str(blocking.value), what
        assert isinstance(flavour.value, NotFoundError), what


@pytest.mark.parametrize("mode", ["basic", "token"])
async def test_refused_credentials_fail_as_blocking(
    request: pytest.FixtureRequest, mode: str,
) -> None:
    registry: LocalRegistry = request.getfixturevalue(f"{mode}_registry")
    assert registry.admin is not None
    cls = TokenAuthenticator if mode == "token" else BasicAuthenticator
    auth = cls(registry.admin[0], "wrong-password-0123456789")
    with Registry(registry.host, protocol="http", authenticator=auth) as reg, \
            pytest.raises(AuthenticationError) as blocking:
        reg.repository("app").manifests.get("1.0")
    auth = cls(registry.admin[0], "wrong-password-0123456789")
    async with AsyncRegistry(registry.host, protocol="http", authenticator=auth) as areg:
        with pytest.raises(AuthenticationError) as flavour:
            await areg.repository("app").manifests.get("1.0")
    assert str(flavour.value) == str(blocking.value)


async def test_writes_and_repository_delete(
    any_registry: LocalRegistry, both: tuple[AsyncRegistry, Registry], unique_repository: str,
) -> None:
    areg, reg = both
    seeded = seed_tags(any_registry, unique_repository, ["1.0"], seed=4)
    arepo = areg.repository(unique_repository)
    raw = await arepo.manifests.get_raw("1.0")

    assert await arepo.manifests.put("copy", raw) == seeded.digest
    assert reg.repository(unique_repository).manifests.get_raw("copy") == RawManifest(
        data=seeded.manifest, media_type=raw.media_type, digest=seeded.digest)
    assert await arepo.delete(dry_run=True) == [seeded.digest]
    assert await arepo.delete() == [seeded.digest]
    with pytest.raises(NotFoundError):
        reg.repository(unique_repository).manifests.head(seeded.digest)


async def test_a_hundred_gathered_gets_take_one_token_request(
    token_registry: LocalRegistry, unique_repository: str,
) -> None:
    seed_tags(token_registry, unique_repository, ["1.0"], seed=5)
    assert token_registry.token_server is not None
    async with AsyncRegistry(token_registry.host, protocol="http",
                             authenticator=admin(token_registry)) as areg:
        repo = areg.repository(unique_repository)
        token_registry.token_server.reset()
        got = await asyncio.gather(*(repo.manifests.get("1.0") for _ in range(100)))
        assert token_registry.token_server.count == 1
    assert all(m == got[0] for m in got)


async def test_tag_delete_removes_one_tag_as_blocking(
    any_registry: LocalRegistry, both: tuple[AsyncRegistry, Registry], unique_repository: str,
) -> None:
    areg, reg = both
    seeded = seed_tags(any_registry, unique_repository, ["1.0", "old"], seed=6)
    arepo = areg.repository(unique_repository)

    await arepo.tags.delete("old")  # Distribution 2.8: the tombstone dance, as flows

    assert await arepo.tags.get_all() == ["1.0"]
    assert (await arepo.manifests.get_raw("1.0")).digest == seeded.digest
    with pytest.raises(NotFoundError) as blocking:
        reg.repository(unique_repository).tags.delete("old")
    with pytest.raises(NotFoundError) as flavour:
        await arepo.tags.delete("old")
    assert str(flavour.value) == str(blocking.value)
