"""Many pulls gathered into one layout on one AsyncRegistry, as the blocking API does with
threads (tests/integration/test_images_transfer.py): every tag kept, every file whole.

The layout's files are held under ``flock`` while they are written; a task waiting for a
lock another task holds must not block the loop (or the holder could never finish). A
blocked loop cannot time itself out, so the gather runs in a child process that is
killed after a minute.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from registry_client.testing import LocalRegistry, seed_image, seed_tags

pytestmark = pytest.mark.integration


PULLS = textwrap.dedent("""
    import asyncio, json, sys
    from registry_client.aio import AsyncRegistry

    host, repository, directory, *tags = sys.argv[1:]

    async def main():
        async with AsyncRegistry(host, protocol="http") as reg:
            repo = reg.repository(repository)
            images = await asyncio.gather(*(repo.images.pull(t, directory) for t in tags))
        print(json.dumps({i.tag: i.digest for i in images}))

    asyncio.run(main())
""")


def test_gathered_pulls_into_one_layout_keep_every_tag(
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    shared = seed_tags(anon_registry, unique_repository, ["s1", "s2", "s3"],
                       layers=(2_000_000, 300_000))
    others = {t: seed_image(anon_registry, unique_repository, t, seed=40 + i, layers=(300_000,))
              for i, t in enumerate(["o1", "o2", "o3"])}
    tags = ["s1", "o1", "s2", "o2", "s3", "o3"]
    try:
        proc = subprocess.run(
            [sys.executable, "-c", PULLS, anon_registry.host, unique_repository, str(tmp_path),
             *tags], capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("six gathered pulls into one layout did not finish in 60 s (a task "
                    "waiting for the layout's lock blocks the event loop?)", pytrace=False)
    assert proc.returncode == 0, proc.stderr

    expected = {**dict.fromkeys(["s1", "s2", "s3"], shared.digest),
                **{t: img.digest for t, img in others.items()}}
    assert json.loads(proc.stdout) == expected
    index = json.loads((tmp_path / "index.json").read_text())
    names = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
             for m in index["manifests"]}
    assert names == expected
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.endswith((".partial", ".tmp"))]
    for path in (tmp_path / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
