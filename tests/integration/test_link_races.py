"""Reads racing writes of the same links, on the real registry.

Distribution 2.8 keeps tags and a repository's blobs as small link files, rewritten in
place: a GET or HEAD that reads one while another request writes it reads it empty and
answers a bare 500 (``invalid checksum digest format`` in its log), and a manifest PUT
that checks a blob's link so finds the blob unknown. CI pushing ``latest`` again while
deployments pull it meets exactly this, and so do sync shards pushing the same layers.
The client asks again; no read of a tag, a manifest or a blob, and no manifest put, may
fail while the links are written.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import requests

from registry_client import RawManifest
from registry_client.errors import RegistryError
from registry_client.testing import LocalRegistry, seed_image

from ._flavours import Flavour

SECONDS = 3.0


def test_reads_of_a_tag_and_its_blobs_survive_the_tag_pushed_again_and_again(
    anon_registry: LocalRegistry, unique_repository: str, flavour: Flavour,
) -> None:
    image = seed_image(anon_registry, unique_repository, "latest", seed=41)
    seed_image(anon_registry, f"{unique_repository}-src", "latest", seed=41)
    manifest = json.loads(image.manifest)
    config, layer = manifest["config"]["digest"], manifest["layers"][0]["digest"]
    base = f"{anon_registry.url}/v2/{unique_repository}"
    stop = threading.Event()
    writes: Counter[str] = Counter()
    reads: Counter[str] = Counter()
    failures: list[str] = []

    def writer() -> None:
        # the same tag put again, the same blobs linked again (a mount from another
        # repository rewrites the repository's link as an upload's commit does)
        with requests.Session() as s:
            while not stop.is_set():
                r = s.put(f"{base}/manifests/latest", data=image.manifest,
                          headers={"Content-Type": image.media_type}, timeout=30)
                assert r.status_code == 201, r.text
                writes["manifest"] += 1
                for digest in (config, layer):
                    r = s.post(f"{base}/blobs/uploads/",
                               params={"mount": digest, "from": f"{unique_repository}-src"},
                               timeout=30)
                    assert r.status_code == 201, r.text
                    writes["blob link"] += 1

    raw = RawManifest(data=image.manifest, media_type=image.media_type, digest=image.digest)
    reg = flavour.connect(anon_registry, backoff=0.01)
    repo = reg.repository(unique_repository)
    calls: dict[str, Any] = {
        "get by tag": lambda: repo.manifests.get_raw("latest"),
        "get by digest": lambda: repo.manifests.get_raw(image.digest),
        "head by tag": lambda: repo.manifests.head("latest"),
        "blob get": lambda: repo.blobs.get(config),
        "blob head": lambda: repo.blobs.head(layer),
        # Distribution checks each blob a manifest names by reading its link: a PUT
        # racing a link rewrite was refused MANIFEST_BLOB_UNKNOWN
        "manifest put": lambda: repo.manifests.put("pushed", raw),
    }

    def reader(name: str) -> None:
        while not stop.is_set():
            try:
                calls[name]()
                reads[name] += 1
            except RegistryError as exc:
                failures.append(f"{name}: {exc}")

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader, args=(name,)) for name in calls]
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    # on a busy machine, on until the race has run enough (bounded)
    deadline = time.monotonic() + 10 * SECONDS
    while (writes["manifest"] <= 50 or min(reads[n] for n in calls) <= 50) \
            and time.monotonic() < deadline and not failures:
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(60)
    assert not [t for t in threads if t.is_alive()]
    assert failures == []
    # the race was run: the tag was written hundreds of times under the readers
    assert writes["manifest"] > 50 and min(reads[n] for n in calls) > 50, (writes, reads)
