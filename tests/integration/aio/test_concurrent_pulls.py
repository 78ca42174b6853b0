"""Many pulls gathered into one layout on one AsyncRegistry, as the blocking API does with
threads (tests/integration/test_images_transfer.py): every tag kept, every file whole.

The layout's files are held under ``flock`` while they are written; a task waiting for a
lock another task holds must not block the loop (or the holder could never finish), so
the whole gather runs under a timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry_client.testing import LocalRegistry, seed_image, seed_tags

pytestmark = pytest.mark.integration


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


@pytest.mark.anyio
async def test_gathered_pulls_into_one_layout_keep_every_tag(
    anon_registry: LocalRegistry, aclient_for: Callable[..., Any], unique_repository: str,
    tmp_path: Path,
) -> None:
    shared = seed_tags(anon_registry, unique_repository, ["s1", "s2", "s3"],
                       layers=(2_000_000, 300_000))
    others = {t: seed_image(anon_registry, unique_repository, t, seed=40 + i, layers=(300_000,))
              for i, t in enumerate(["o1", "o2", "o3"])}
    tags = ["s1", "o1", "s2", "o2", "s3", "o3"]
    async with aclient_for(anon_registry) as areg:
        repo = await maybe_await(areg.repository(unique_repository))
        images = await asyncio.wait_for(
            asyncio.gather(*(repo.images.pull(t, tmp_path) for t in tags)), timeout=60)

    expected = {**dict.fromkeys(["s1", "s2", "s3"], shared.digest),
                **{t: img.digest for t, img in others.items()}}
    assert {i.tag: i.digest for i in images} == expected
    index = json.loads((tmp_path / "index.json").read_text())
    names = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
             for m in index["manifests"]}
    assert names == expected
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.endswith((".partial", ".tmp"))]
    for path in (tmp_path / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
