"""One Registry shared by 16 threads: mixed reads and writes for a bounded time.

Token auth (short-lived tokens, so they are refreshed while the threads run), through a
:class:`FaultProxy` that now and then answers 503 or cuts a blob download.  Every result
is checked; no error may surface; token fetches stay within one per scope per lifetime.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry_client import Registry, TokenAuthenticator
from registry_client.testing import FaultProxy, LocalRegistry, SeededImage, seed_image

THREADS = 16
DURATION = 10.0
LIFETIME = 4  # seconds; the client keeps a token 4 s minus a 0.4 s margin
READ_REPOS = 4


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def short_tokens(token_registry: LocalRegistry) -> Iterator[LocalRegistry]:
    ts = token_registry.token_server
    assert ts is not None
    before = ts.lifetime
    ts.lifetime = LIFETIME
    try:
        yield token_registry
    finally:
        ts.lifetime = before


def test_sixteen_threads_share_one_registry(
    short_tokens: LocalRegistry, unique_repository: str, tmp_path: Path
) -> None:
    registry = short_tokens
    ts = registry.token_server
    assert ts is not None
    images: list[SeededImage] = [
        seed_image(registry, f"{unique_repository}-r{i}", "v1", layers=[150_000, 20_000],
                   seed=i)
        for i in range(READ_REPOS)
    ]
    user, password = "alice", registry.users["alice"]

    with FaultProxy(registry, timeout=10, max_connections=128) as proxy:
        proxy.add_rule("GET", "/manifests/", action="status", status=503, every=25, times=None)
        proxy.add_rule("GET", "/blobs/", action="cut", after_bytes=60_000, every=30, times=None)
        reg = Registry(proxy.host, protocol="http", backoff=0.01, max_workers=2,
                       authenticator=TokenAuthenticator(user, password))
        errors: list[BaseException] = []
        done: Counter[str] = Counter()
        lock = threading.Lock()
        start = time.time()
        deadline = time.monotonic() + DURATION

        def worker(n: int) -> None:
            image = images[n % READ_REPOS]
            read = reg.repository(image.repository)
            # one repository to write per thread: Distribution 2.8 rewrites a blob's link
            # file in place, so a HEAD racing a mount of the same blob into the same
            # repository can read it half-written and answer 500 (a registry bug)
            write = reg.repository(f"{unique_repository}-w{n}")
            steps: list[tuple[str, Callable[[int], None]]] = []

            def manifest(i: int) -> None:
                raw = read.manifests.get_raw("v1")
                assert raw.data == image.manifest and raw.digest == image.digest

            def blob(i: int) -> None:
                layer = image.layers[i % 2]
                assert read.blobs.get(layer) == image.blobs[layer]

            def tags(i: int) -> None:
                assert read.tags.get_all() == ["v1"]

            def upload(i: int) -> None:
                data = os.urandom(20_000 + i) + f"{n}-{i}".encode()
                desc = write.blobs.upload(data, chunk_size=8_000 if i % 2 else None)
                assert desc.digest == sha(data)
                assert write.blobs.get(desc.digest) == data

            def pull(i: int) -> None:
                out = tmp_path / f"t{n}-{i}"
                pulled = read.images.pull("v1", out)
                assert pulled.digest == image.digest
                for digest, data in image.blobs.items():
                    assert (out / "blobs" / "sha256" / digest[7:]).read_bytes() == data

            def mount(i: int) -> None:
                layer = image.layers[1]
                write.blobs.mount(layer, image.repository)
                assert write.blobs.exists(layer)

            steps = [("manifest", manifest), ("blob", blob), ("tags", tags),
                     ("upload", upload), ("pull", pull), ("mount", mount)]
            i = 0
            while time.monotonic() < deadline:
                name, step = steps[(n + i) % len(steps)]
                try:
                    step(i)
                except BaseException as exc:
                    with lock:
                        errors.append(exc)
                    return
                with lock:
                    done[name] += 1
                i += 1

        threads = [threading.Thread(target=worker, args=(n,), daemon=True)
                   for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DURATION + 60)
        assert not [t for t in threads if t.is_alive()], "a worker hung"
        elapsed = time.time() - start
        proxied = len(proxy.requests)
        faults = Counter(r.fault for r in proxy.requests if r.fault)

    assert errors == [], f"{len(errors)} errors, first: {errors[0]!r}"
    assert set(done) == {"manifest", "blob", "tags", "upload", "pull", "mount"}
    assert sum(done.values()) >= THREADS * 6
    assert faults["status"] > 0 and faults["cut"] > 0  # the faults really happened

    fetched = [r for r in ts.requests if r.time >= start]
    assert all(r.status == 200 and r.user == "alice" for r in fetched)
    scopes = {frozenset(r.scopes) for r in fetched}
    lifetimes = math.ceil(elapsed / (LIFETIME - LIFETIME / 10)) + 1
    assert len(fetched) <= len(scopes) * lifetimes, (len(fetched), len(scopes), lifetimes)
    # within one lifetime no scope was fetched twice (the per-scope lock works)
    per_scope = Counter(frozenset(r.scopes) for r in fetched)
    assert max(per_scope.values()) <= lifetimes

    stats = reg.requester.stats
    assert stats["requests"] == proxied + len(fetched)
    assert stats["by_method"].get("GET", 0) > 0 and stats["bytes_received"] > 0
