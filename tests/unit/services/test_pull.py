"""What a pull's flow asks of the outside world per blob: file work (an ``Offload``, a hop
to a worker thread in the asyncio API) only where it must be -- one before the blob's GET,
one after its bytes."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
import requests_mock

from registry_client import Registry
from registry_client._flow import Call, Drain, Effect, Offload
from registry_client.testing._image import build_image

BASE = "https://registry.example"
IMAGE = build_image("app", "linux/amd64", "oci", [900, 450], random.Random(7), None,
                    "2024-01-02T03:04:05Z")
BLOBS = [IMAGE.config_digest, *IMAGE.layers]

Env = tuple[Registry, requests_mock.Adapter]


@pytest.fixture
def env(mocked_registry: Callable[..., Env]) -> Env:
    reg, adapter = mocked_registry(retries=0)
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/1.0", content=IMAGE.manifest,
                         headers={"Content-Type": IMAGE.media_type,
                                  "Docker-Content-Digest": IMAGE.digest})
    for digest, data in IMAGE.blobs.items():
        adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{digest}", content=data)
    return reg, adapter


def _labels(effects: list[Effect]) -> list[str]:
    """``file`` for a file work, ``GET <blob digest or manifest reference>``, ``read``."""
    labels = []
    for effect in effects:
        if isinstance(effect, Offload):
            labels.append("file")
        elif isinstance(effect, Call):
            labels.append(f"GET {effect.request.target.rsplit('/', 1)[-1]}")
        elif isinstance(effect, Drain):
            labels.append("read")
    return labels


def test_a_blob_takes_one_file_hop_before_its_get_and_one_after(
    env: Env, tmp_path: Path, performed: list[Effect],
) -> None:
    reg, _ = env
    # one blob at a time, so the effects of one blob follow each other
    reg.max_workers = 1
    reg.repository("app").images.pull("1.0", tmp_path / "out")
    seen = _labels(performed)
    gets = [e for e in seen if e.startswith("GET sha256:")]
    assert sorted(gets) == sorted(f"GET {d}" for d in BLOBS)
    # the layout checked, the manifest, the layout made; per blob the hop that looks at
    # the layout, the file and its lock, the GET, the bytes, the hop that puts the
    # verified file in place; the index written
    per_blob = [step for get in gets for step in ("file", get, "read", "file")]
    assert seen == ["file", "GET 1.0", "file", *per_blob, "file"], seen
    for digest, data in IMAGE.blobs.items():
        assert (tmp_path / "out" / "blobs" / "sha256" / digest[7:]).read_bytes() == data


def test_a_blob_the_layout_holds_costs_one_hop_and_no_request(
    env: Env, tmp_path: Path, performed: list[Effect],
) -> None:
    reg, adapter = env
    repo = reg.repository("app")
    repo.images.pull("1.0", tmp_path / "out")
    sent = len(adapter.request_history)
    performed.clear()
    reg.max_workers = 1
    repo.images.pull("1.0", tmp_path / "out")
    seen = _labels(performed)
    blob_gets = [r.path for r in adapter.request_history[sent:] if "/blobs/" in r.path]
    assert blob_gets == []
    # check the layout, the manifest, init, one look per blob, the index: no blob work
    assert seen == ["file", "GET 1.0", "file", "file", "file", "file", "file"], seen
