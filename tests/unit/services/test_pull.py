"""What a pull's flow asks of the outside world per blob: file work (an ``Offload``, a hop
to a worker thread in the asyncio API) only where it must be -- one before the blob's GET,
one after its bytes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests_mock

from registry_client import Registry
from registry_client._flow import Call, Drain, Effect, Offload
from registry_client.services._shell import BlockingShell

BASE = "https://registry.example"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
LAYERS = [b"layer one" * 100, b"layer two" * 50]


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": _digest(CONFIG), "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": _digest(d), "size": len(d)} for d in LAYERS],
}).encode()

Env = tuple[Registry, requests_mock.Adapter]


@pytest.fixture
def env(mocked_registry: Callable[..., Env]) -> Env:
    reg, adapter = mocked_registry(retries=0)
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/1.0", content=MANIFEST,
                         headers={"Content-Type": OCI_MANIFEST,
                                  "Docker-Content-Digest": _digest(MANIFEST)})
    for data in (CONFIG, *LAYERS):
        adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{_digest(data)}", content=data)
    return reg, adapter


def _effects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The effects the blocking shell performs from now on: ``file``, ``GET <blob digest
    or manifest>``, ``read``."""
    seen: list[str] = []
    perform = BlockingShell.perform

    def spy(self: BlockingShell, effect: Effect) -> Any:
        if isinstance(effect, Offload):
            seen.append("file")
        elif isinstance(effect, Call):
            seen.append(f"GET {effect.request.target.rsplit('/', 1)[-1]}")
        elif isinstance(effect, Drain):
            seen.append("read")
        return perform(self, effect)

    monkeypatch.setattr(BlockingShell, "perform", spy)
    return seen


def test_a_blob_takes_one_file_hop_before_its_get_and_one_after(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg, _ = env
    seen = _effects(monkeypatch)
    # one blob at a time, so the effects of one blob follow each other
    reg.max_workers = 1
    reg.repository("app").images.pull("1.0", tmp_path / "out")
    gets = [e for e in seen if e.startswith("GET sha256:")]
    assert sorted(gets) == sorted(f"GET {_digest(d)}" for d in (CONFIG, *LAYERS))
    # the layout checked, the manifest, the layout made; per blob the hop that looks at
    # the layout, the file and its lock, the GET, the bytes, the hop that puts the
    # verified file in place; the index written
    per_blob = [step for get in gets for step in ("file", get, "read", "file")]
    assert seen == ["file", "GET 1.0", "file", *per_blob, "file"], seen
    for data in (CONFIG, *LAYERS):
        path = tmp_path / "out" / "blobs" / "sha256" / _digest(data).split(":")[1]
        assert path.read_bytes() == data


def test_a_blob_the_layout_holds_costs_one_hop_and_no_request(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg, adapter = env
    repo = reg.repository("app")
    repo.images.pull("1.0", tmp_path / "out")
    sent = len(adapter.request_history)
    seen = _effects(monkeypatch)
    reg.max_workers = 1
    repo.images.pull("1.0", tmp_path / "out")
    blob_gets = [r.path for r in adapter.request_history[sent:] if "/blobs/" in r.path]
    assert blob_gets == []
    # check the layout, the manifest, init, one look per blob, the index: no blob work
    assert seen == ["file", "GET 1.0", "file", "file", "file", "file", "file"], seen
