"""``registry_client.aio.retention`` against a real Distribution 2.8 in each auth mode:
the blocking module's plan on the same data, the same deletes, the same errors.

The repository: images 0 to 60 days old (one a 2-platform OCI index), semver and
``release-*`` tags, an alias sharing a kept image's digest, and a referrers tag
(an attached signature). The policy keeps the 2 newest, the top 2 semver versions
and ``release-*``, and deletes what is older than 20 days among the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from registry_client import (
    BasicAuthenticator,
    NotFoundError,
    Registry,
    TokenAuthenticator,
    retention,
)
from registry_client.aio import AsyncRegistry
from registry_client.aio import retention as aretention
from registry_client.testing import LocalRegistry, seed_image, seed_tags

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
TAGS = ["v1.0.0", "v1.1.0", "v2.0.0", "build-3", "release-4", "feature-5", "build-6"]
INDEX = "feature-5"
RULES: dict[str, Any] = {"keep": 2, "keep_semver": 2, "keep_patterns": ["release-*"],
                         "older_than": "20d", "now": NOW}


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


def seed(reg: LocalRegistry, repository: str) -> None:
    """Image ``i`` of TAGS is ``10 * i`` days old; the alias shares ``release-4``'s image."""
    for i, tag in enumerate(TAGS):
        seed_image(reg, repository, tag, seed=i, created=NOW - dt.timedelta(days=10 * i),
                   platforms=["linux/amd64", "linux/arm64/v8"] if tag == INDEX else None,
                   media="oci" if tag == INDEX else "docker")
    seed_tags(reg, repository, ["nightly-4"], seed=4, created=NOW - dt.timedelta(days=40))


async def test_plan_and_apply_are_the_blocking_ones(
    any_registry: LocalRegistry, both: tuple[AsyncRegistry, Registry], unique_repository: str,
) -> None:
    areg, reg = both
    seed(any_registry, unique_repository)
    repo, arepo = reg.repository(unique_repository), areg.repository(unique_repository)
    signed = repo.images.attach("v1.0.0", "application/vnd.example.sig", [b"sig"])
    assert signed.digest

    aplan = await aretention.plan(arepo, **RULES)
    assert aplan == retention.plan(repo, **RULES)
    # what the rules say, written out: 0-10 days newest, v2.0.0/v1.1.0 top semver,
    # release-4 and its alias's digest kept; build-3 (30d), feature-5 (50d), build-6
    # (60d) and the alias (frees nothing: its digest is kept) go
    assert {d.tag for d in aplan.delete} == {"build-3", INDEX, "build-6", "nightly-4"}
    alias = next(d for d in aplan.delete if d.tag == "nightly-4")
    assert alias.frees == 0 and "also tagged release-4" in alias.reason
    index = next(d for d in aplan.delete if d.tag == INDEX)
    assert index.created == NOW - dt.timedelta(days=50)  # its first platform's config
    assert index.frees > 0
    assert any("referrers tag schema index" in d.reason for d in aplan.keep)

    seen: list[str] = []
    deleted = await aretention.apply(arepo, aplan, on_deleted=seen.append)
    assert deleted == seen == [d.tag for d in aplan.delete]
    left = repo.tags.get_all()
    assert set(left) == {d.tag for d in aplan.keep}
    assert await arepo.tags.get_all() == left
    # applied again: every planned tag is gone, nothing is deleted, nothing fails
    assert await aretention.apply(arepo, aplan) == []


async def test_apply_skips_a_tag_pushed_again_since_the_plan(
    any_registry: LocalRegistry, both: tuple[AsyncRegistry, Registry], unique_repository: str,
) -> None:
    areg, _ = both
    seed(any_registry, unique_repository)
    arepo = areg.repository(unique_repository)
    plan = await aretention.plan(arepo, **RULES)
    moved = seed_image(any_registry, unique_repository, "build-6", seed=99,
                       created=NOW - dt.timedelta(days=90))
    deleted = await aretention.apply(arepo, plan)
    assert set(deleted) == {"build-3", INDEX, "nightly-4"}
    assert (await arepo.manifests.head("build-6")).digest == moved.digest


async def test_errors_are_the_blocking_ones(
    any_registry: LocalRegistry, both: tuple[AsyncRegistry, Registry], unique_repository: str,
) -> None:
    areg, reg = both
    arepo, repo = areg.repository(unique_repository), reg.repository(unique_repository)
    for bad in ({"keep_patterns": ["v*"]}, {"older_than": "30 days"}, {"keep": -1}):
        with pytest.raises(ValueError) as sync_error:
            retention.plan(repo, **bad)
        with pytest.raises(ValueError) as async_error:
            await aretention.plan(arepo, **bad)
        assert str(async_error.value) == str(sync_error.value)
    with pytest.raises(NotFoundError) as sync_missing:
        retention.plan(repo, keep=1)
    with pytest.raises(NotFoundError) as async_missing:
        await aretention.plan(arepo, keep=1)
    assert str(async_missing.value) == str(sync_missing.value)
    other = retention.RetentionPlan("someone/else", [], [])
    with pytest.raises(ValueError, match="this plan is for 'someone/else'"):
        await aretention.apply(arepo, other)
