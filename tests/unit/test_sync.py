"""copy_all_tags: the error of a failed tag names it and keeps what the registry said."""

from __future__ import annotations

import time
import types

import pytest
import requests
import requests_mock

import registry_client.requester as requester_mod
from registry_client import NullAuthenticator, Registry, RegistryUnavailableError
from registry_client.sync import copy_all_tags


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.SimpleNamespace(sleep=lambda s: None, monotonic=time.monotonic, time=time.time)
    monkeypatch.setattr(requester_mod, "time", fake)


def test_a_failed_tag_keeps_status_retry_after_method_and_url() -> None:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    source = Registry("src.example", session=session, authenticator=NullAuthenticator(),
                      retries=1, backoff=0.0)
    target = Registry("dst.example", session=session, authenticator=NullAuthenticator(),
                      retries=1, backoff=0.0)
    adapter.register_uri("GET", "https://src.example/v2/app/tags/list",
                         json={"name": "app", "tags": ["1.0"]})
    manifest = "https://src.example/v2/app/manifests/1.0"
    adapter.register_uri("GET", manifest, status_code=503, headers={"Retry-After": "30"})
    adapter.register_uri("HEAD", manifest, status_code=503, headers={"Retry-After": "30"})
    with pytest.raises(RegistryUnavailableError) as caught:
        copy_all_tags(source.repository("app"), target.repository("app"))
    err = caught.value
    assert "copy" in str(err) and "1.0" in str(err)
    assert err.status_code == 503 and err.retry_after == 30
    assert err.method in ("GET", "HEAD") and err.url == manifest
