"""Repository.delete against a real Distribution 2.8, anonymous and token (admin) modes."""

from __future__ import annotations

from typing import Any

import pytest

from registry_client import NotFoundError, Registry
from registry_client.testing import LocalRegistry, seed_image, seed_tags

pytestmark = pytest.mark.integration

PLATFORMS = ["linux/amd64", "linux/arm64/v8"]


def remaining_tags(rc: Registry, name: str) -> list[str]:
    """The repository's tags; none when Distribution says the repository is unknown."""
    try:
        return rc.repository(name).tags.get_all()
    except NotFoundError:
        return []


def test_delete_takes_every_manifest_once_and_leaves_other_repositories(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    doomed, bystander = f"{unique_repository}/doomed", f"{unique_repository}/bystander"
    single = seed_tags(reg, doomed, ["1.0", "latest"], seed=1)       # two tags, one digest
    multi = seed_image(reg, doomed, "multi", platforms=PLATFORMS, seed=2)
    kept = seed_tags(reg, bystander, ["1.0", "latest"], seed=1)      # same image elsewhere
    kept_multi = seed_image(reg, bystander, "multi", platforms=PLATFORMS, seed=2)

    deleted = rc.repository(doomed).delete()

    assert sorted(deleted) == sorted(
        [single.digest, multi.digest, *(c.digest for c in multi.children)])
    assert deleted.index(multi.digest) < min(deleted.index(c.digest) for c in multi.children)
    assert remaining_tags(rc, doomed) == []
    assert doomed in [r.name for r in rc.repositories()]  # Distribution keeps the name
    for digest in deleted:
        with pytest.raises(NotFoundError):
            rc.repository(doomed).manifests.head(digest)
    other = rc.repository(bystander)
    assert sorted(other.tags.get_all()) == ["1.0", "latest", "multi"]
    assert other.manifests.get_raw("latest").data == kept.manifest
    assert other.manifests.get_raw("multi").data == kept_multi.manifest
    for child in kept_multi.children:
        assert other.manifests.head(child.digest).digest == child.digest
    assert rc.repository(doomed).delete() == []                   # again: nothing left


def test_dry_run_deletes_nothing_and_names_what_would_go(
    reg: LocalRegistry, rc: Registry, unique_repository: str
) -> None:
    single = seed_tags(reg, unique_repository, ["a", "b"], seed=3)
    multi = seed_image(reg, unique_repository, "multi", platforms=PLATFORMS, seed=4)
    repo = rc.repository(unique_repository)

    planned = repo.delete(dry_run=True)

    assert sorted(planned) == sorted(
        [single.digest, multi.digest, *(c.digest for c in multi.children)])
    assert sorted(repo.tags.get_all()) == ["a", "b", "multi"]
    assert repo.manifests.get_raw("multi").data == multi.manifest
    for child in multi.children:
        assert repo.manifests.head(child.digest).digest == child.digest


def test_deletes_refused_by_the_registry_say_how_to_enable_them() -> None:
    """Distribution answers 405 UNSUPPORTED while storage.delete.enabled is off (its
    default): the error says so, for every kind of delete."""
    from registry_client import RegistryResponseError

    with LocalRegistry(delete_enabled=False) as reg, \
            Registry(reg.host, protocol="http") as client:
        image = seed_tags(reg, "rmrepo/refused", ["a", "b"])
        repo = client.repository("rmrepo/refused")
        calls = [repo.delete, lambda: repo.manifests.delete(image.digest),
                 lambda: repo.images.delete_by_digest(image.digest),
                 lambda: repo.blobs.delete(image.config_digest)]
        for call in calls:
            with pytest.raises(RegistryResponseError) as info:
                call()
            assert info.value.status_code == 405
            assert "storage.delete.enabled" in str(info.value)
            assert "UNSUPPORTED" in str(info.value)  # the registry's own words stay
        assert sorted(repo.tags.get_all()) == ["a", "b"]


def test_an_index_s_platforms_follow_it_and_a_stop_names_those_left_unreached(
    reg: LocalRegistry, rc: Registry, unique_repository: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An index goes before its platforms (registries such as ECR refuse to delete a
    manifest an index lists); once it is gone no tag reaches them, and a run stopped
    then (Ctrl-C, `delete --all | head -1`, an error) left them for good, unnamed:
    a second run finds nothing, and garbage-collect keeps them without
    --delete-untagged. They now come right after their index, and a stop names them."""
    first = seed_image(reg, unique_repository, "a", platforms=PLATFORMS, seed=5)
    second = seed_image(reg, unique_repository, "b", platforms=PLATFORMS, seed=6)
    repo = rc.repository(unique_repository)
    order = repo.delete(dry_run=True)
    for index in (first, second):
        at = order.index(index.digest)
        assert sorted(order[at + 1:at + 3]) == sorted(c.digest for c in index.children)

    def stop(digest: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    with caplog.at_level("WARNING", logger="registry_client"), \
            pytest.raises(BrokenPipeError):
        repo.delete(on_deleted=stop)
    gone = order[0]
    left = [c.digest for i in (first, second) if i.digest == gone for c in i.children]
    warned = "\n".join(r.getMessage() for r in caplog.records)
    for digest in left:
        assert digest in warned
    assert f"{unique_repository}@" in warned
    other = (second if gone == first.digest else first).digest
    assert other not in warned  # still tagged: a second run finds it


def test_a_stop_while_an_index_s_delete_is_answered_names_its_platforms(
    reg: LocalRegistry, rc: Registry, unique_repository: str,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C (or a cancellation) while a DELETE is out: the registry may have acted. The
    index's delete counted only once answered, so its platforms went unnamed -- the most
    likely moment of a stop on a remote registry, which a run spends waiting."""
    index = seed_image(reg, unique_repository, "a", platforms=PLATFORMS, seed=7)
    repo = rc.repository(unique_repository)
    flows = repo.manifests.flows
    delete_alone = flows.delete_alone

    def deleted_then_stopped(digest: str) -> Any:
        yield from delete_alone(digest)
        raise KeyboardInterrupt  # the answer never read

    monkeypatch.setattr(flows, "delete_alone", deleted_then_stopped)
    with caplog.at_level("WARNING", logger="registry_client"), \
            pytest.raises(KeyboardInterrupt):
        repo.delete()
    warned = "\n".join(r.getMessage() for r in caplog.records)
    for child in index.children:
        assert child.digest in warned


def test_a_refused_delete_names_nothing_left(
    reg: LocalRegistry, unique_repository: str,
) -> None:
    """A DELETE answered with a refusal (403) did nothing: the index is still tagged, a
    second run finds all of it, and nothing is named as left unreached."""
    from registry_client import AuthorizationError
    from registry_client.testing import FaultProxy

    seed_image(reg, unique_repository, "a", platforms=PLATFORMS, seed=8)
    with FaultProxy(reg, timeout=5) as proxy, \
            Registry(proxy.host, protocol="http", retries=0) as client:
        proxy.add_rule("DELETE", "/manifests/", action="status", status=403, times=None)
        with pytest.raises(AuthorizationError) as caught:
            client.repository(unique_repository).delete()
    assert "may be reached" not in str(caught.value)
