"""images.create_index through a requests-mock registry: which images it refuses, and why."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests_mock

from registry_client import NotAnImageError, Registry

BASE = "https://registry.example"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MockedRegistry = tuple[Registry, requests_mock.Adapter]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def stub_image(adapter: requests_mock.Adapter, tag: str, config: dict[str, Any]) -> None:
    """The image ``tag`` of ``app``, its config being ``config``."""
    config_data = json.dumps({**config, "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{sha(config_data)}", content=config_data)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
        "mediaType": OCI_CONFIG, "digest": sha(config_data), "size": len(config_data)},
        "layers": []}).encode()
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/{tag}", content=manifest,
                         headers={"Content-Type": OCI_MANIFEST,
                                  "Docker-Content-Digest": sha(manifest)})


@pytest.fixture
def env(mocked_registry: Callable[..., MockedRegistry]) -> MockedRegistry:
    reg, adapter = mocked_registry()
    adapter.register_uri("PUT", f"{BASE}/v2/app/manifests/multi", status_code=201)
    return reg, adapter


def pushed(adapter: requests_mock.Adapter) -> bool:
    return any(r.method == "PUT" for r in adapter.request_history)


def test_a_config_without_os_is_not_an_image(env: MockedRegistry) -> None:
    reg, adapter = env
    stub_image(adapter, "noos", {"architecture": "amd64"})
    stub_image(adapter, "amd", {"architecture": "amd64", "os": "linux"})
    with pytest.raises(NotAnImageError, match=r"noos.*os"):
        reg.repository("app").images.create_index("multi", ["amd", "noos"])
    assert not pushed(adapter)

