"""ImageService.details through a requests-mock registry: config fields, parallel fetches."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests_mock

from registry_client import Registry, RegistryResponseError

BASE = "https://registry.example"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
Env = tuple[Registry, requests_mock.Adapter]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def stub_image(adapter: requests_mock.Adapter, config: dict[str, Any],
               layer_sizes: tuple[int, ...] = (10,), delay: float = 0.0,
               threads: set[str] | None = None) -> tuple[str, bytes, int]:
    config_data = json.dumps(config).encode()

    def answer(data: bytes) -> Callable[..., bytes]:
        def body(request: Any, context: Any) -> bytes:
            if threads is not None:
                threads.add(threading.current_thread().name)
            time.sleep(delay)
            return data
        return body

    adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{sha(config_data)}",
                         content=answer(config_data))
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha(config_data),
                   "size": len(config_data)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + f"{i:064x}", "size": n}
                   for i, n in enumerate(layer_sizes)],
    }).encode()
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/{sha(manifest)}",
                         content=answer(manifest), headers={"Content-Type": OCI_MANIFEST})
    return sha(manifest), manifest, len(config_data) + sum(layer_sizes)


def stub_index(adapter: requests_mock.Adapter, entries: list[tuple[str, bytes, str]]) -> None:
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(data),
         "platform": {"os": "linux", "architecture": arch}}
        for digest, data, arch in entries]}).encode()
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/1.0", content=index,
                         headers={"Content-Type": OCI_INDEX})


@pytest.fixture
def env(mocked_registry: Callable[..., Env]) -> Env:
    return mocked_registry(retries=0)


def test_config_fields_absent_or_null(env: Env) -> None:
    reg, adapter = env
    bare = {"architecture": "amd64", "os": "linux"}
    a, a_data, a_size = stub_image(adapter, bare, (1, 2, 3))
    b, b_data, _ = stub_image(adapter, {**bare, "architecture": "arm64", "created": "not a date",
                                        "config": {"Labels": None}})
    stub_index(adapter, [(a, a_data, "amd64"), (b, b_data, "arm64")])
    first, second = reg.repository("app").images.details("1.0")
    assert (first.created, first.labels, first.size) == (None, {}, a_size)
    assert (second.created, second.labels) == (None, {})


def test_malformed_labels_are_a_response_error(env: Env) -> None:
    reg, adapter = env
    a, a_data, _ = stub_image(adapter, {"architecture": "amd64", "os": "linux",
                                        "config": {"Labels": {"n": 1}}})
    stub_index(adapter, [(a, a_data, "amd64")])
    with pytest.raises(RegistryResponseError, match="Labels"):
        reg.repository("app").images.details("1.0")


def test_platforms_are_fetched_in_parallel(env: Env) -> None:
    reg, adapter = env
    threads: set[str] = set()
    entries = []
    for arch in ("amd64", "arm64", "s390x", "ppc64le"):
        digest, data, _ = stub_image(adapter, {"architecture": arch, "os": "linux"},
                                     delay=0.05, threads=threads)
        entries.append((digest, data, arch))
    stub_index(adapter, entries)
    found = reg.repository("app").images.details("1.0")
    assert [d.platform.architecture for d in found] == ["amd64", "arm64", "s390x", "ppc64le"]
    assert len(threads) > 1  # max_workers=4: not one after the other
