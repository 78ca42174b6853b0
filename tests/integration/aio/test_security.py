"""Credentials stay with the registry in both flavours (the README's promise, issue #14's
"same behaviour"): a blob GET redirected to a storage host reaches it without
``Authorization``, and no client object shows a password in its ``repr``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _flavours import Flavour

from registry_client import BasicAuthenticator, TokenAuthenticator
from registry_client.errors import AuthenticationError
from registry_client.layout import OCILayout
from registry_client.testing import FaultProxy, LocalRegistry, seed_image

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_no_authorization_reaches_a_storage_host_on_redirect(
    flavour: Flavour, request: pytest.FixtureRequest, mode: str, unique_repository: str,
    tmp_path: Path,
) -> None:
    registry: LocalRegistry = request.getfixturevalue(f"{mode}_registry")
    image = seed_image(registry, unique_repository, "v1", layers=[300_000, 5000])
    password = registry.users["alice"]
    auth = (BasicAuthenticator("alice", password) if mode == "basic"
            else TokenAuthenticator("alice", password))
    with FaultProxy(registry, timeout=5) as proxy:
        proxy.add_rule("GET", "/blobs/sha256:", action="redirect", times=None)
        client = flavour.connect(registry, host=proxy.host, authenticator=auth, backoff=0.01)
        repo = client.repository(unique_repository)
        assert repo.blobs.get(image.layers[0]) == image.blobs[image.layers[0]]
        assert repo.images.pull("v1", tmp_path / "oci").digest == image.digest
        assert OCILayout(tmp_path / "oci").has_blob(image.layers[0])
        for shown in (repr(client), repr(repo), repr(repo.blobs), repr(repo.images)):
            assert password not in shown

        redirected = [r for r in proxy.requests if r.status == 307]
        assert len(redirected) >= 3
        scheme = "Basic " if mode == "basic" else "Bearer "
        assert all(r.headers["authorization"].startswith(scheme) for r in redirected)
        stored = proxy.storage_requests
        assert len(stored) == len(redirected) and all(r.status == 200 for r in stored)
        for r in stored:
            assert not {"authorization", "proxy-authorization", "cookie"} & set(r.headers)


def test_a_storage_host_s_401_is_not_blamed_on_the_credentials(
    flavour: Flavour, basic_registry: LocalRegistry, unique_repository: str,
) -> None:
    image = seed_image(basic_registry, unique_repository, "v1", layers=[1000])
    auth = BasicAuthenticator("alice", basic_registry.users["alice"])
    with FaultProxy(basic_registry, timeout=5) as proxy:
        proxy.add_rule("GET", "/blobs/sha256:", action="redirect", times=None)
        proxy.add_rule("GET", "/", action="status", status=401, body=b"", times=None,
                       headers={"WWW-Authenticate": 'Basic realm="storage"'}, server="storage")
        client = flavour.connect(basic_registry, host=proxy.host, authenticator=auth,
                                 backoff=0.01)
        with pytest.raises(AuthenticationError) as caught:
            client.repository(unique_repository).blobs.get(image.layers[0])
        # the storage host never saw them (the last hop's request carried none)
        assert not any("authorization" in r.headers for r in proxy.storage_requests)
        assert "-> 401" in str(caught.value)
        assert "refused the credentials" not in str(caught.value)
