"""copy_all_tags and sync: a failure names what failed and keeps what the registry said."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Callable
from typing import Any

import pytest
import requests
import requests_mock

import registry_client.requester as requester_mod
from registry_client import NullAuthenticator, Registry, RegistryUnavailableError
from registry_client.sync import SyncEntry, copy_all_tags, sync
from registry_client.sync import plan as sync_plan


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.SimpleNamespace(sleep=lambda s: None, monotonic=time.monotonic, time=time.time)
    monkeypatch.setattr(requester_mod, "time", fake)


def registries(tags: list[str]) -> tuple[requests_mock.Adapter, Registry, Registry]:
    """A mocked source (whose repository "app" lists ``tags``) and target registry."""
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    source, target = (Registry(host, session=session, authenticator=NullAuthenticator(),
                               retries=1, backoff=0.0)
                      for host in ("src.example", "dst.example"))
    adapter.register_uri("GET", "https://src.example/v2/app/tags/list",
                         json={"name": "app", "tags": tags})
    return adapter, source, target


def test_a_failed_tag_keeps_status_retry_after_method_and_url() -> None:
    adapter, source, target = registries(["1.0"])
    manifest = "https://src.example/v2/app/manifests/1.0"
    adapter.register_uri("GET", manifest, status_code=503, headers={"Retry-After": "30"})
    adapter.register_uri("HEAD", manifest, status_code=503, headers={"Retry-After": "30"})
    with pytest.raises(RegistryUnavailableError) as caught:
        copy_all_tags(source.repository("app"), target.repository("app"))
    err = caught.value
    assert "copy" in str(err) and "1.0" in str(err)
    assert err.status_code == 503 and err.retry_after == 30
    assert err.method in ("GET", "HEAD") and err.url == manifest


def test_a_repository_gone_is_reported_by_its_first_listed_tag_whatever_answers_first(
) -> None:
    # Both tags find the repository gone (404 NAME_UNKNOWN) side by side; "b" answers
    # first. The one failure must not depend on which copy came back first: the same
    # sync gives the same result, the blocking and the asyncio one alike.
    adapter, source, target = registries(["a", "b"])
    b_answered = threading.Event()

    def name_unknown(tag: str) -> Callable[[Any, Any], dict[str, object]]:
        def answer(request: Any, context: Any) -> dict[str, object]:
            if tag == "a":  # (after b's failure is in: a's is the later one)
                b_answered.wait(5)
                time.sleep(0.3)
            else:
                b_answered.set()
            context.status_code = 404
            return {"errors": [{"code": "NAME_UNKNOWN",
                                "message": "repository name not known to registry"}]}
        return answer

    for tag in ("a", "b"):
        url = f"https://src.example/v2/app/manifests/{tag}"
        adapter.register_uri("GET", url, json=name_unknown(tag))
        adapter.register_uri("HEAD", url, status_code=404)
    result = sync([SyncEntry("src.example/app", "dst.example/app")],
                  lambda r: {"src.example": source, "dst.example": target}[r.domain],
                  max_workers=2)
    [(name, error)] = result.failed
    assert name == "src.example/app" and b_answered.is_set()
    assert "deleted after its tag list was read: 2 tags not copied" in error
    assert "manifests/a" in error and "manifests/b" not in error
    assert result.copied == () and result.vanished == ()


@pytest.mark.parametrize("planned", [False, True])
def test_an_entry_whose_registry_cannot_be_made_fails_alone(planned: bool) -> None:
    """A target on a port no connection can use: Registry() refuses it (a ValueError),
    and that escaped the whole sync -- "one bad entry does not stop the rest"."""
    from registry_client.sync import RegistryFactory, SyncTask, run_task

    factory = RegistryFactory(plain_http=["*"])
    bad = SyncEntry("127.0.0.1:5000/app:1", "127.0.0.1:99999/x")
    kw: dict[str, Any] = {"max_per_registry": 2} if planned else {}
    result = sync([bad], factory, **kw)
    assert [source for source, _ in result.failed] == [bad.source]
    assert "port 99999 is out of range" in str(result.failed[0][1])
    outcome = run_task(SyncTask(source="127.0.0.1:5000/app:1@sha256:" + "ab" * 32,
                                target="127.0.0.1:99999/x:1"), factory)
    assert outcome.outcome == "failed" and "out of range" in (outcome.error or "")


def test_an_entry_that_is_no_sync_entry_is_a_type_error() -> None:
    # a (source, target) pair ended in "'tuple' object has no attribute 'source'"
    with pytest.raises(TypeError, match="SyncEntry"):
        sync_plan([("r.example/a:1", "r.example/b")], lambda ref: Registry(ref.domain))  # type: ignore[list-item]
