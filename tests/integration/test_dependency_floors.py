"""One real pull that touches every runtime dependency, for the lowest-versions run.

``make test`` runs this file (with ``tests/unit``) a second time in ``.venv-lowest``,
where uv installed the LOWEST versions ``pyproject.toml`` allows for the direct
dependencies: requests and urllib3 (token auth, pooled connections, streamed
blobs), attrs and cattrs (the typed manifest models), tqdm (the CLI's progress
bars) and the ``registry_client.testing`` plugin's own needs (token server keys,
htpasswd). A floor that no longer holds fails here, not on a user's machine.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from registry_client import ManifestList, Registry, TokenAuthenticator
from registry_client.cli._progress import ProgressBars
from registry_client.testing import LocalRegistry, seed_image

pytestmark = pytest.mark.integration


def test_token_auth_pull_of_a_two_platform_index_with_progress_bars(
    token_registry: LocalRegistry, unique_repository: str, tmp_path: Path
) -> None:
    seeded = seed_image(token_registry, unique_repository, "1.0",
                        platforms=["linux/amd64", "linux/arm64/v8"], layers=(70_000,))
    assert token_registry.admin is not None
    bars_out = io.StringIO()
    bars = ProgressBars(bars_out, "pull")
    with Registry(token_registry.host, protocol="http",
                  authenticator=TokenAuthenticator(*token_registry.admin)) as client:
        repo = client.repository(unique_repository)
        manifest = repo.manifests.get("1.0")          # the cattrs-built model
        image = repo.images.pull("1.0", tmp_path / "layout", progress=bars)
    bars.close()

    assert isinstance(manifest, ManifestList)
    assert [m.digest for m in manifest.manifests] == [c.digest for c in seeded.children]
    assert image.digest == seeded.digest
    assert [str(p) for p in image.platforms] == ["linux/amd64", "linux/arm64/v8"]
    index = json.loads((tmp_path / "layout" / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [seeded.digest]
    for digest, data in {**seeded.blobs, **{c.digest: c.manifest for c in seeded.children}}.items():
        algo, hexd = digest.split(":", 1)
        assert (tmp_path / "layout" / "blobs" / algo / hexd).read_bytes() == data
    total = sum(len(b) for b in seeded.blobs.values())
    assert "pull" in bars_out.getvalue()
    assert bars._total.n == total
