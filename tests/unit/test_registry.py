"""Tests for registry_client.registry: what Registry(...) takes and passes on."""

from __future__ import annotations

import inspect
import pydoc
import typing

import pytest
import requests
import requests_mock

from registry_client import NullAuthenticator, Registry
from registry_client.registry import RegistryOptions

OPTIONS = ["authenticator", "protocol", "session", "timeout", "verify", "proxy", "retries",
           "max_workers", "user_agent", "pool_size", "backoff", "max_backoff", "body_limit"]


def test_every_option_is_a_documented_keyword_only_parameter() -> None:
    params = inspect.signature(Registry).parameters
    assert list(params) == ["domain", *OPTIONS]
    assert all(params[name].kind is inspect.Parameter.KEYWORD_ONLY for name in OPTIONS)
    text = pydoc.render_doc(Registry, renderer=pydoc.plaintext)
    for name in OPTIONS:
        assert f"{name}:" in text, name  # an "Args:" entry, not only the signature


def test_the_factories_take_the_same_options() -> None:
    assert list(typing.get_type_hints(RegistryOptions)) == OPTIONS
    for factory in (Registry.from_reference, Registry.from_docker_config):
        kw = inspect.signature(factory).parameters["kw"]
        assert "Unpack[RegistryOptions]" in str(kw.annotation), factory


def test_the_options_reach_the_requester() -> None:
    reg = Registry("localhost:5000", protocol="http", authenticator=NullAuthenticator(),
                   retries=1, backoff=0.5, max_backoff=2.0, body_limit=1234, pool_size=20)
    r = reg.requester
    assert (r.retries, r.backoff, r.max_backoff, r.body_limit) == (1, 0.5, 2.0, 1234)
    adapter = r.session.get_adapter("http://localhost:5000/v2/")
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    assert adapter.poolmanager.connection_pool_kw["maxsize"] == 20


def test_the_pool_grows_with_the_workers_unless_sized() -> None:
    def maxsize(reg: Registry) -> int:
        adapter = reg.requester.session.get_adapter("https://ghcr.io/v2/")
        assert isinstance(adapter, requests.adapters.HTTPAdapter)
        return int(adapter.poolmanager.connection_pool_kw["maxsize"])

    assert maxsize(Registry("ghcr.io")) == 10
    assert maxsize(Registry("ghcr.io", max_workers=16)) == 18


def test_an_unknown_option_is_refused() -> None:
    with pytest.raises(TypeError):
        Registry("ghcr.io", pool=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Registry.from_reference("ghcr.io/app", pool=3)  # type: ignore[call-arg]


def test_a_catalog_name_that_is_no_repository_name_is_left_out_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The catalog drops a name it could not use, and says so (it used to be silent)."""
    import requests_mock

    reg = Registry("localhost:5000", protocol="http", authenticator=NullAuthenticator())
    with requests_mock.Mocker(session=reg.requester.session) as mock:
        mock.get("http://localhost:5000/v2/_catalog",
                 json={"repositories": ["a/b", "Bad Name\x1b[2J", "c/d"]})
        with caplog.at_level("WARNING", logger="registry_client"):
            names = [r.name for r in reg.repositories()]
    assert names == ["a/b", "c/d"]
    assert [r.getMessage() for r in caplog.records] == [
        "catalog of localhost:5000: left out 'Bad Name\\x1b[2J', which is not a repository name"
    ]


@pytest.mark.parametrize("domain", ["docker.io", "registry-1.docker.io", "index.docker.io"])
def test_an_official_image_on_docker_hub_is_in_library(domain: str) -> None:
    # as docker, crane (name.NewRepository) and repository_from_string name it
    with Registry(domain) as reg:
        assert reg.repository("alpine").name == "library/alpine"
        assert reg.repository("library/alpine").name == "library/alpine"
        assert reg.repository("org/app").name == "org/app"
        assert reg.repository_from_string("alpine").name == "library/alpine"
    with Registry("ghcr.io") as reg:
        assert reg.repository("alpine").name == "alpine"


def test_docker_hub_in_capitals_is_served_by_its_api_host_and_mounts_in_library() -> None:
    with Registry("Docker.IO") as reg:
        assert reg.requester.host == "registry-1.docker.io"
        assert reg.repository("alpine").name == "library/alpine"
    digest = "sha256:" + "a" * 64
    with requests_mock.Mocker() as mocked, Registry("docker.io") as reg:
        mocked.post("https://registry-1.docker.io/v2/me/app/blobs/uploads/", status_code=201)
        assert reg.repository("me/app").blobs.mount(digest, "alpine") is True
        assert mocked.last_request.qs["from"] == ["library/alpine"]
