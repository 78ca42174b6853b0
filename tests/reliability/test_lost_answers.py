"""Deletes whose answer is lost: the registry acts, the client never hears it.

Every test talks to the real registry through a :class:`FaultProxy` whose ``drop``
rule forwards the DELETE, lets the registry perform it, then resets the connection
without answering. The retry finds the thing gone (404): that is success, and a tag
whose delete may have happened is never put back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from registry_client import NotFoundError, Registry
from registry_client.testing import FaultProxy, LocalRegistry, seed_image, seed_tags


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        yield p


def client(proxy: FaultProxy, **kw: Any) -> Registry:
    kw.setdefault("backoff", 0.01)
    return Registry(proxy.host, protocol="http", **kw)


def deletes(proxy: FaultProxy) -> list[Any]:
    return [r for r in proxy.requests if r.method == "DELETE"]


def test_a_tag_delete_whose_answer_is_dropped_returns_and_keeps_the_siblings(
    anon_registry: LocalRegistry, proxy: FaultProxy, unique_repository: str,
) -> None:
    shared = seed_tags(anon_registry, unique_repository, ["v1", "v1-alias"], seed=1)
    other = seed_image(anon_registry, unique_repository, "v2", seed=2)
    # Distribution has no DELETE by tag: the tag goes by a throw-away manifest deleted
    # by digest; that delete is done by the registry and its answer is lost.
    proxy.add_rule("DELETE", r"/manifests/sha256:", action="drop")
    with client(proxy) as reg:
        repo = reg.repository(unique_repository)
        repo.tags.delete("v1")
        assert sorted(repo.tags.get_all()) == ["v1-alias", "v2"]
        with pytest.raises(NotFoundError):
            repo.manifests.head("v1")
        assert repo.manifests.head("v1-alias").digest == shared.digest
        assert repo.manifests.head("v2").digest == other.digest
    dropped = [r for r in deletes(proxy) if r.fault == "drop"]
    assert len(dropped) == 1 and dropped[0].status is None  # the answer never came back
    # the tag was never put back on its image after the delete went out
    sent_after = [r for r in proxy.requests if r.time > dropped[0].time]
    assert not [r for r in sent_after
                if r.method == "PUT" and r.path.endswith("/manifests/v1")
                and r.request_bytes == len(shared.manifest)]


@pytest.mark.parametrize("how", ["manifests.delete", "images.delete_by_digest"])
def test_a_manifest_delete_whose_answer_is_dropped_returns_normally(
    anon_registry: LocalRegistry, proxy: FaultProxy, unique_repository: str, how: str,
) -> None:
    doomed = seed_tags(anon_registry, unique_repository, ["old", "old-alias"], seed=3)
    kept = seed_tags(anon_registry, unique_repository, ["new", "latest"], seed=4)
    proxy.add_rule("DELETE", rf"/manifests/{doomed.digest}", action="drop")
    with client(proxy) as reg:
        repo = reg.repository(unique_repository)
        if how == "manifests.delete":
            repo.manifests.delete(doomed.digest)
        else:
            repo.images.delete_by_digest(doomed.digest)
        with pytest.raises(NotFoundError):
            repo.manifests.head(doomed.digest)
        assert sorted(repo.tags.get_all()) == ["latest", "new"]
        assert repo.manifests.head("new").digest == kept.digest
    first, retry = deletes(proxy)
    assert first.fault == "drop" and first.status is None
    assert retry.status == 404  # what the registry said: done already


def test_a_blob_delete_whose_answer_is_dropped_returns_normally(
    anon_registry: LocalRegistry, proxy: FaultProxy, unique_repository: str,
) -> None:
    image = seed_image(anon_registry, unique_repository, "v1", seed=5)
    layer = image.layers[0]
    proxy.add_rule("DELETE", rf"/blobs/{layer}", action="drop")
    with client(proxy) as reg:
        repo = reg.repository(unique_repository)
        repo.blobs.delete(layer)
        assert not repo.blobs.exists(layer)
        assert repo.blobs.exists(image.config_digest or "")
    assert [r.status for r in deletes(proxy)] == [None, 404]


def test_a_delete_of_what_never_existed_is_still_not_found(
    proxy: FaultProxy, unique_repository: str, anon_registry: LocalRegistry,
) -> None:
    seed_image(anon_registry, unique_repository, "v1", seed=6)
    with client(proxy) as reg, pytest.raises(NotFoundError):
        reg.repository(unique_repository).manifests.delete("sha256:" + "0" * 64)


def test_tag_deletes_racing_each_other_all_succeed_and_leave_no_tag(
    anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    # Parallel tag deletes on Distribution race inside the registry: one delete reads a
    # tag link another is writing (a bare 500; "invalid checksum digest format" in the
    # registry's log) after it deleted its manifest but before it untagged. Each must
    # end done, with its tag gone (before the fix, about every other run failed here).
    from concurrent.futures import ThreadPoolExecutor

    tags = [f"t{i}" for i in range(80)]
    for i, tag in enumerate(tags):
        seed_image(anon_registry, unique_repository, tag, seed=100 + i, layers=(64,))
    keep = seed_image(anon_registry, unique_repository, "keep", seed=99, layers=(64,))
    with Registry(anon_registry.host, protocol="http", backoff=0.01, max_workers=16) as reg:
        repo = reg.repository(unique_repository)
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(repo.tags.delete, tags))
        assert repo.tags.get_all() == ["keep"]
        assert repo.manifests.head("keep").digest == keep.digest


def test_a_tag_delete_found_done_is_one_round_without_a_warning(
    anon_registry: LocalRegistry, proxy: FaultProxy, unique_repository: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The registry deleted and untagged; only the answer was lost. The tag list says
    # the tag is gone, so no second throw-away manifest is put on the tag (a PUT that
    # could land on a tag CI pushed again meanwhile) and nothing is warned about.
    seed_image(anon_registry, unique_repository, "v1", seed=7)
    kept = seed_image(anon_registry, unique_repository, "v2", seed=8)
    proxy.add_rule("DELETE", r"/manifests/sha256:", action="drop")
    with client(proxy) as reg, caplog.at_level("WARNING"):
        repo = reg.repository(unique_repository)
        repo.tags.delete("v1")
        assert repo.tags.get_all() == ["v2"]
        assert repo.manifests.head("v2").digest == kept.digest
    puts = [r for r in proxy.requests if r.method == "PUT" and r.path.endswith("/manifests/v1")]
    assert len(puts) == 1
    assert [r.status for r in deletes(proxy) if "/manifests/sha256:" in r.path] == [None, 404]
    assert not [r for r in caplog.records if "kept losing" in r.getMessage()]
