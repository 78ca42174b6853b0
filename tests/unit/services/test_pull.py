"""What a pull's flow asks of the outside world per blob: file work (an ``Offload``, a hop
to a worker thread in the asyncio API) only where it must be -- one before the blob's GET,
one after its bytes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests_mock

from registry_client import DigestMismatchError, Registry
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


def test_a_blob_the_layout_holds_is_not_kept_for_a_descriptor_of_another_size(
    env: Env, tmp_path: Path,
) -> None:
    """The bytes of a digest have one size: a manifest whose descriptor says another is
    refused whether the layout holds the blob already or not -- kept, the layout got an
    image no reader can unpack (umoci: "expected N bytes")."""
    reg, adapter = env
    for digest, data in IMAGE.blobs.items():  # (as a registry sends them)
        adapter.register_uri("GET", f"{BASE}/v2/app/blobs/{digest}", content=data,
                             headers={"Content-Length": str(len(data))})
    repo = reg.repository("app")
    repo.images.pull("1.0", tmp_path / "out")
    doc = json.loads(IMAGE.manifest)
    doc["layers"][0]["size"] += 5
    bad = json.dumps(doc).encode()
    adapter.register_uri("GET", f"{BASE}/v2/app/manifests/bad", content=bad,
                         headers={"Content-Type": IMAGE.media_type})
    for dest in (tmp_path / "fresh", tmp_path / "out"):
        with pytest.raises(DigestMismatchError, match=f"expected {doc['layers'][0]['size']}"):
            repo.images.pull("bad", dest)
    assert "bad" not in (tmp_path / "out" / "index.json").read_text()


# What a pull does not use, it does not import: every module costs the first pull of a
# process its import time, inside the operation (``repo.images`` loads lazily).
_NOT_FOR_A_PULL = (
    "tarfile", "gzip", "cattrs", "registry_client.models._converter",
    "registry_client.models.manifest", "registry_client.services.tags",
    "registry_client.services._archive", "registry_client.services._copy",
    "registry_client.services._push", "registry_client.services._export",
)

_PULL_IN_A_FRESH_PROCESS = """
import json, sys
from pathlib import Path
import requests, requests_mock
from registry_client import NullAuthenticator, Registry
spec = json.loads(Path(sys.argv[1]).read_text())
session = requests.Session()
adapter = requests_mock.Adapter()
session.mount("https://", adapter)
adapter.register_uri("GET", spec["base"] + "/manifests/1.0",
                     content=bytes.fromhex(spec["manifest"]),
                     headers={"Content-Type": spec["media_type"]})
for digest, data in spec["blobs"].items():
    adapter.register_uri("GET", spec["base"] + "/blobs/" + digest, content=bytes.fromhex(data))
with Registry("registry.example", session=session, authenticator=NullAuthenticator()) as reg:
    reg.repository("app").images.pull("1.0", spec["out"])
print(json.dumps(sorted(sys.modules)))
"""


def test_a_pull_imports_none_of_the_machinery_it_does_not_use(tmp_path: Path) -> None:
    spec = {"base": f"{BASE}/v2/app", "manifest": IMAGE.manifest.hex(),
            "media_type": IMAGE.media_type, "out": str(tmp_path / "out"),
            "blobs": {d: data.hex() for d, data in IMAGE.blobs.items()}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, "-c", _PULL_IN_A_FRESH_PROCESS,
                           str(tmp_path / "spec.json")],
                          capture_output=True, text=True, timeout=60, check=True)
    loaded = set(json.loads(done.stdout))
    assert "registry_client.services._pull" in loaded  # the pull did run here
    assert sorted(loaded.intersection(_NOT_FOR_A_PULL)) == []
    assert (tmp_path / "out" / "index.json").is_file()


def test_a_pull_removes_the_partial_files_a_killed_pull_left_in_the_layout(
    env: Env, tmp_path: Path,
) -> None:
    """A pull killed mid-blob and never run again for that blob (its tag moved on) left
    ``blobs/sha256/<hex>.partial`` for good: tens of MiB, and a layout ``umoci gc``
    refuses ("invalid digest"). The next pull into the layout removes what no download
    holds; a download in progress (its lock held) keeps its own."""
    from registry_client._locks import locked_file  # (the lock a download holds)

    reg, _ = env
    blobs = tmp_path / "out" / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    stale, busy = blobs / f"{'a' * 64}.partial", blobs / f"{'b' * 64}.partial"
    stale.write_bytes(b"left by a killed pull")
    with locked_file(busy) as f:
        f.write(b"another pull's, in progress")
        f.flush()
        reg.repository("app").images.pull("1.0", tmp_path / "out")
    assert not stale.exists() and busy.exists()
    assert sorted(p.name for p in blobs.iterdir() if p.suffix == ".partial") == [busy.name]
