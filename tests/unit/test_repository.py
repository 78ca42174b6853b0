"""Repository.delete against an in-memory registry on a requests-mock adapter.

The fake keeps manifests by digest and tags by name, answers tags/list, HEAD/GET and
DELETE of manifests as Distribution does (a manifest DELETE takes its tags with it),
and records every request, so each test can say what was sent and in which order.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import requests
import requests_mock

import registry_client.requester as requester_mod
from registry_client import NotFoundError, NullAuthenticator, Registry, RegistryResponseError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
_PATH = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|tags)/(?P<ref>[^/]+)$")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image(n: int) -> bytes:
    """An OCI image manifest, distinct for each ``n``."""
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + f"{n:x}".rjust(64, "c"), "size": 2},
        "layers": [],
    }).encode()


def index(*children: bytes, media_type: str = OCI_INDEX) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": media_type,
        "manifests": [
            {"mediaType": json.loads(c)["mediaType"], "digest": sha256(c), "size": len(c),
             "platform": {"os": "linux", "architecture": f"arch{i}"}}
            for i, c in enumerate(children)
        ],
    }).encode()


@dataclass
class FakeRegistry:
    """One repository ``app`` of an in-memory registry (see the module docstring)."""

    manifests: dict[str, bytes] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    sent: list[tuple[str, str]] = field(default_factory=list)
    """(method, reference) of every manifest request, in order."""
    exists: bool = True
    deletes_allowed: bool = True
    on_head: Callable[[str], None] | None = None
    """Called before a HEAD is answered (to change the registry meanwhile)."""
    on_delete: Callable[[str], None] | None = None

    def push(self, data: bytes, *tags: str) -> str:
        digest = sha256(data)
        self.manifests[digest] = data
        for tag in tags:
            self.tags[tag] = digest
        return digest

    def remove(self, digest: str) -> None:
        self.manifests.pop(digest, None)
        for tag in [t for t, d in self.tags.items() if d == digest]:
            del self.tags[tag]

    def __call__(self, request: requests.PreparedRequest) -> requests.Response | None:
        match = _PATH.match(request.path_url.split("?")[0])  # type: ignore[union-attr]
        if match is None or match["name"] != "app":
            return None
        if not self.exists:
            return self._error(request, 404, "NAME_UNKNOWN")
        if match["kind"] == "tags":
            return requests_mock.create_response(
                request, json={"name": "app", "tags": list(self.tags) or None})
        ref = match["ref"]
        method = request.method or ""
        self.sent.append((method, ref))
        if method == "HEAD" and self.on_head is not None:
            self.on_head(ref)
        if method == "DELETE" and self.on_delete is not None:
            self.on_delete(ref)
        digest = self.tags.get(ref, ref)
        data = self.manifests.get(digest)
        if method == "DELETE":
            if not self.deletes_allowed:
                return self._error(request, 405, "UNSUPPORTED")
            if not ref.startswith("sha256:"):
                return self._error(request, 400, "DIGEST_INVALID")
            if data is None:
                return self._error(request, 404, "MANIFEST_UNKNOWN")
            self.remove(digest)
            return requests_mock.create_response(request, status_code=202)
        if data is None:
            return self._error(request, 404, "MANIFEST_UNKNOWN")
        headers = {"Docker-Content-Digest": digest, "Content-Length": str(len(data)),
                   "Content-Type": json.loads(data)["mediaType"]}
        return requests_mock.create_response(
            request, headers=headers, content=b"" if method == "HEAD" else data)

    @staticmethod
    def _error(request: requests.PreparedRequest, status: int, code: str) -> requests.Response:
        return requests_mock.create_response(
            request, status_code=status, json={"errors": [{"code": code, "message": code}]})

    def deletes(self) -> list[str]:
        return [ref for method, ref in self.sent if method == "DELETE"]


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.SimpleNamespace(sleep=lambda s: None, monotonic=lambda: 0.0, time=lambda: 0.0)
    monkeypatch.setattr(requester_mod, "time", fake)


@pytest.fixture
def fake() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def reg(fake: FakeRegistry) -> Registry:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    adapter.add_matcher(fake)
    session.mount("https://", adapter)
    return Registry("registry.example", session=session, authenticator=NullAuthenticator(),
                    retries=1, backoff=0.0)


def test_deletes_each_manifest_once_indexes_before_their_children(
    fake: FakeRegistry, reg: Registry
) -> None:
    single = fake.push(image(1), "1.0", "latest")          # two tags, one digest
    amd, arm = image(2), image(3)
    fake.push(amd)
    fake.push(arm)
    multi = fake.push(index(amd, arm), "multi")

    deleted = reg.repository("app").delete()

    assert sorted(deleted) == sorted([single, multi, sha256(amd), sha256(arm)])
    assert fake.deletes() == deleted                        # each digest once, none by tag
    assert deleted.index(multi) < deleted.index(sha256(amd))
    assert deleted.index(multi) < deleted.index(sha256(arm))
    assert fake.tags == {} and fake.manifests == {}


def test_a_child_also_tagged_and_shared_by_two_indexes_goes_once_after_both(
    fake: FakeRegistry, reg: Registry
) -> None:
    shared, other = image(1), image(2)
    child = fake.push(shared, "child-tag")                  # tagged, listed first
    fake.push(other)
    first = fake.push(index(shared, other), "a")
    second = fake.push(index(shared, media_type=DOCKER_LIST), "b")

    deleted = reg.repository("app").delete()

    assert fake.deletes() == deleted
    assert sorted(deleted) == sorted([child, sha256(other), first, second])
    assert deleted.index(child) > max(deleted.index(first), deleted.index(second))
    assert fake.manifests == {}


def test_a_nested_index_goes_before_the_index_it_lists_and_that_before_its_images(
    fake: FakeRegistry, reg: Registry
) -> None:
    leaf = image(7)
    fake.push(leaf)
    inner = index(leaf)
    fake.push(inner)
    outer = fake.push(index(inner), "top")

    assert reg.repository("app").delete() == [outer, sha256(inner), sha256(leaf)]
    assert fake.manifests == {}


def test_index_children_missing_from_the_repository_are_left_out(
    fake: FakeRegistry, reg: Registry
) -> None:
    here, elsewhere = image(1), image(2)
    fake.push(here)
    top = fake.push(index(here, elsewhere), "multi")         # `elsewhere` never pushed here

    assert reg.repository("app").delete() == [top, sha256(here)]
    assert sha256(elsewhere) not in fake.deletes()


def test_a_tag_that_vanishes_before_its_head_is_skipped(
    fake: FakeRegistry, reg: Registry
) -> None:
    kept = fake.push(image(1), "stays")
    gone = fake.push(image(2), "goes")

    def meanwhile(ref: str) -> None:
        if ref == "goes":                                  # CI deleted it after the listing
            fake.remove(gone)

    fake.on_head = meanwhile
    assert reg.repository("app").delete() == [kept]
    assert fake.manifests == {}


def test_a_manifest_someone_else_deleted_first_is_not_an_error_nor_reported(
    fake: FakeRegistry, reg: Registry
) -> None:
    amd, arm = image(1), image(2)
    fake.push(amd)
    fake.push(arm)
    top = fake.push(index(amd, arm), "multi")

    def meanwhile(ref: str) -> None:
        if ref == top:                                      # another cleaner got there first
            fake.remove(sha256(amd))

    fake.on_delete = meanwhile
    assert reg.repository("app").delete() == [top, sha256(arm)]
    assert fake.deletes() == [top, sha256(amd), sha256(arm)]
    assert fake.manifests == {}


def test_dry_run_lists_the_same_digests_and_deletes_nothing(
    fake: FakeRegistry, reg: Registry
) -> None:
    single = fake.push(image(1), "1.0", "latest")
    amd = image(2)
    fake.push(amd)
    multi = fake.push(index(amd), "multi")
    before = (dict(fake.manifests), dict(fake.tags))

    planned = reg.repository("app").delete(dry_run=True)

    assert planned == [single, multi, sha256(amd)]
    assert fake.deletes() == []
    assert (fake.manifests, fake.tags) == before
    assert reg.repository("app").delete() == planned


def test_on_deleted_reports_each_delete_before_a_later_refusal(
    fake: FakeRegistry, reg: Registry
) -> None:
    first = fake.push(image(1), "a")
    fake.push(image(2), "b")
    seen: list[str] = []

    def refuse_after_first(ref: str) -> None:
        if fake.deletes()[:-1]:                             # the second DELETE is refused
            fake.deletes_allowed = False

    fake.on_delete = refuse_after_first
    with pytest.raises(RegistryResponseError) as info:
        reg.repository("app").delete(on_deleted=seen.append)
    assert info.value.status_code == 405
    assert seen == [first]


def test_an_empty_repository_deletes_nothing(fake: FakeRegistry, reg: Registry) -> None:
    assert reg.repository("app").delete() == []
    assert fake.deletes() == []


def test_an_unknown_repository_is_not_found(fake: FakeRegistry, reg: Registry) -> None:
    fake.exists = False
    with pytest.raises(NotFoundError):
        reg.repository("app").delete()


@pytest.mark.parametrize("dry_run", [False, True], ids=["delete", "dry-run"])
def test_a_failed_repository_delete_names_the_delete(
    fake: FakeRegistry, reg: Registry, dry_run: bool,
) -> None:
    fake.exists = False
    with pytest.raises(NotFoundError) as caught:
        reg.repository("app").delete(dry_run=dry_run)
    err = caught.value
    assert str(err).startswith("delete repository app: ")
    assert "list tags" in str(err)  # the step that failed, after the user's call
    assert (err.status_code, err.method) == (404, "GET")
    assert err.url is not None and err.url.endswith("/v2/app/tags/list")


def test_a_refused_manifest_delete_names_the_repository_delete(
    fake: FakeRegistry, reg: Registry,
) -> None:
    fake.push(image(1), "a")
    fake.deletes_allowed = False
    with pytest.raises(RegistryResponseError) as caught:
        reg.repository("app").delete()
    assert str(caught.value).startswith("delete repository app: delete manifest ")
    assert (caught.value.status_code, caught.value.method) == (405, "DELETE")
