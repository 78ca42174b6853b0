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


def stub_image(adapter: requests_mock.Adapter, tag: str, config: dict[str, Any],
               repo: str = "app") -> None:
    """The image ``tag`` of ``repo``, its config being ``config``."""
    config_data = json.dumps({**config, "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    adapter.register_uri("GET", f"{BASE}/v2/{repo}/blobs/{sha(config_data)}",
                         content=config_data)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
        "mediaType": OCI_CONFIG, "digest": sha(config_data), "size": len(config_data)},
        "layers": []}).encode()
    adapter.register_uri("GET", f"{BASE}/v2/{repo}/manifests/{tag}", content=manifest,
                         headers={"Content-Type": OCI_MANIFEST,
                                  "Docker-Content-Digest": sha(manifest)})


@pytest.fixture
def env(mocked_registry: Callable[..., MockedRegistry]) -> MockedRegistry:
    reg, adapter = mocked_registry()
    adapter.register_uri("PUT", f"{BASE}/v2/app/manifests/multi", status_code=201)
    return reg, adapter


def pushed(adapter: requests_mock.Adapter) -> bool:
    return any(r.method in ("PUT", "POST") for r in adapter.request_history)


def test_a_config_without_os_is_not_an_image(env: MockedRegistry) -> None:
    reg, adapter = env
    stub_image(adapter, "noos", {"architecture": "amd64"})
    stub_image(adapter, "amd", {"architecture": "amd64", "os": "linux"})
    with pytest.raises(NotAnImageError, match=r"noos.*os"):
        reg.repository("app").images.create_index("multi", ["amd", "noos"])
    assert not pushed(adapter)


@pytest.mark.parametrize(("first", "second"), [
    ({"architecture": "arm64", "variant": "v8"}, {"architecture": "arm64"}),
    ({"architecture": "aarch64"}, {"architecture": "arm64", "variant": "v8"}),
    ({"architecture": "arm", "variant": "v7"}, {"architecture": "arm", "variant": "7"}),
])
def test_two_images_the_platform_matching_takes_for_one_are_refused(
    env: MockedRegistry, first: dict[str, str], second: dict[str, str],
) -> None:
    reg, adapter = env
    stub_image(adapter, "one", {"os": "linux", **first})
    stub_image(adapter, "two", {"os": "linux", **second})
    same = r"one \(linux/.*\) and two \(linux/.*\) are the same platform"
    with pytest.raises(NotAnImageError, match=same):
        reg.repository("app").images.create_index("multi", ["one", "two"])
    assert not pushed(adapter)


def test_different_variants_make_an_index(env: MockedRegistry) -> None:
    reg, adapter = env
    stub_image(adapter, "v8", {"os": "linux", "architecture": "arm64"})
    stub_image(adapter, "v9", {"os": "linux", "architecture": "arm64", "variant": "v9"})
    stub_image(adapter, "v7", {"os": "linux", "architecture": "arm", "variant": "v7"})
    stub_image(adapter, "v6", {"os": "linux", "architecture": "arm", "variant": "v6"})
    index = reg.repository("app").images.create_index("multi", ["v8", "v9", "v7", "v6"])
    assert [str(p) for p in index.platforms] == [
        "linux/arm64", "linux/arm64/v9", "linux/arm/v7", "linux/arm/v6"]
    assert pushed(adapter)


def test_amd64_microarchitecture_levels_are_platforms_of_their_own(env: MockedRegistry) -> None:
    """buildx --platform linux/amd64,linux/amd64/v2,linux/amd64/v3 makes such an index
    (and crane index append accepts it): a variant set on one side and not on the
    other is a match for picking, not the same platform."""
    reg, adapter = env
    stub_image(adapter, "v1", {"os": "linux", "architecture": "amd64"})
    stub_image(adapter, "v2", {"os": "linux", "architecture": "amd64", "variant": "v2"})
    stub_image(adapter, "v3", {"os": "linux", "architecture": "amd64", "variant": "v3"})
    index = reg.repository("app").images.create_index("multi", ["v1", "v2", "v3"])
    assert [str(p) for p in index.platforms] == [
        "linux/amd64", "linux/amd64/v2", "linux/amd64/v3"]


@pytest.mark.parametrize("annotations", [{"build": 7}, {1: "x"}, "build=7"])
def test_annotations_that_are_not_str_to_str_are_refused_before_anything_is_sent(
    env: MockedRegistry, annotations: object,
) -> None:
    """OCI annotations are str -> str: {"build": 7} pushed as a JSON number made an
    index skopeo cannot read."""
    reg, adapter = env
    with pytest.raises(TypeError, match="annotations"):
        reg.repository("app").images.create_index(
            "multi", ["one"], annotations=annotations)  # type: ignore[arg-type]
    assert adapter.request_history == []


def test_a_refused_list_brings_nothing_from_other_repositories(env: MockedRegistry) -> None:
    # an image of another repository is copied in only once every image is checked
    reg, adapter = env
    stub_image(adapter, "1", {"os": "linux", "architecture": "amd64"}, repo="ci/app-amd64")
    stub_image(adapter, "amd", {"os": "linux", "architecture": "amd64"})
    with pytest.raises(NotAnImageError, match="same platform"):
        reg.repository("app").images.create_index(
            "multi", ["registry.example/ci/app-amd64:1", "amd"])
    assert not pushed(adapter)
    assert {r.path for r in adapter.request_history} == {
        "/v2/ci/app-amd64/manifests/1", "/v2/app/manifests/amd",
        *(r.path for r in adapter.request_history if "/blobs/" in r.path)}


def test_an_image_of_another_registry_is_refused_before_any_request(
    env: MockedRegistry,
) -> None:
    reg, adapter = env
    with pytest.raises(ValueError, match="another registry"):
        reg.repository("app").images.create_index("multi", ["ghcr.io/org/app:1"])
    assert not adapter.request_history
