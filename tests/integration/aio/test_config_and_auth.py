"""Connecting the asyncio flavour: docker's config file, and the blocking API's authenticators.

Issue #14: ``AsyncRegistry.from_docker_config(domain)``, and "the same NullAuthenticator /
BasicAuthenticator / TokenAuthenticator objects configure both flavours".
"""

from __future__ import annotations

import base64
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from registry_client import (
    AuthenticationError,
    BasicAuthenticator,
    NullAuthenticator,
    Registry,
    TokenAuthenticator,
)
from registry_client.testing import LocalRegistry, seed_image

pytestmark = pytest.mark.integration


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def write_docker_config(directory: Path, host: str, user: str, password: str) -> None:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["basic", "token"])
async def test_from_docker_config_uses_the_stored_credentials(
    mode: str, basic_registry: LocalRegistry, token_registry: LocalRegistry,
    unique_repository: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from registry_client.aio import AsyncRegistry

    reg = basic_registry if mode == "basic" else token_registry
    image = seed_image(reg, unique_repository, "1")
    write_docker_config(tmp_path, reg.host, "alice", reg.users["alice"])
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))

    async with AsyncRegistry.from_docker_config(reg.host, protocol="http") as areg:
        repo = await maybe_await(areg.repository(unique_repository))
        assert (await repo.manifests.get_raw("1")).digest == image.digest
        assert await repo.blobs.upload(b"alice was here") is not None  # alice may push

    write_docker_config(tmp_path, reg.host, "alice", "not-her-password")
    with Registry.from_docker_config(reg.host, protocol="http") as blocking:
        with pytest.raises(AuthenticationError) as expected:
            blocking.repository(unique_repository).manifests.get_raw("1")
    async with AsyncRegistry.from_docker_config(reg.host, protocol="http") as areg:
        repo = await maybe_await(areg.repository(unique_repository))
        with pytest.raises(AuthenticationError) as got:
            await repo.manifests.get_raw("1")
    assert str(got.value) == str(expected.value)
    assert "not-her-password" not in str(got.value)


@pytest.mark.anyio
async def test_one_authenticator_object_serves_both_flavours(
    token_registry: LocalRegistry, basic_registry: LocalRegistry, anon_registry: LocalRegistry,
    unique_repository: str,
) -> None:
    from registry_client.aio import AsyncRegistry

    cases = [
        (token_registry, TokenAuthenticator("alice", token_registry.users["alice"])),
        (token_registry, TokenAuthenticator()),  # anonymous pull, as docker pull
        (basic_registry, BasicAuthenticator("alice", basic_registry.users["alice"])),
        (anon_registry, NullAuthenticator()),
    ]
    for reg, auth in cases:
        image = seed_image(reg, unique_repository, "1")
        with Registry(reg.host, protocol="http", authenticator=auth) as blocking:
            assert blocking.repository(unique_repository).manifests.head("1").digest == (
                image.digest)
            async with AsyncRegistry(reg.host, protocol="http", authenticator=auth) as areg:
                repo = await maybe_await(areg.repository(unique_repository))
                assert (await repo.manifests.head("1")).digest == image.digest
                # and the blocking one still works with the object the async one used
                assert blocking.repository(unique_repository).manifests.get_raw("1").digest == (
                    image.digest)
