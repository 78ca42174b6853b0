"""tag_vanished: which errors mean "this listed tag was deleted meanwhile", and which do not."""

from __future__ import annotations

import pytest

from registry_client._vanished import repository_gone, tag_vanished
from registry_client.errors import (
    AuthorizationError,
    NotFoundError,
    PlatformNotFoundError,
    RegistryError,
)

BASE = "http://127.0.0.1:5000"
URL = BASE + "/v2/team/app/manifests/"


def not_found(url: str, *codes: str, method: str | None = "GET") -> NotFoundError:
    return NotFoundError("gone", status_code=404, errors=[{"code": c} for c in codes],
                         method=method, url=url)


@pytest.mark.parametrize(
    "exc",
    [
        not_found(URL + "1.0", "MANIFEST_UNKNOWN"),
        not_found(URL + "1.0", method="HEAD"),  # a HEAD's 404 has no body
        not_found(URL + "1.0", "NOT_FOUND"),  # Harbor's word for it
    ],
    ids=["manifest-unknown", "head-no-body", "harbor"],
)
def test_the_404_of_the_tags_own_manifest_is_vanished(exc: RegistryError) -> None:
    assert tag_vanished(exc, BASE, "team/app", "1.0")


@pytest.mark.parametrize(
    "exc",
    [
        not_found(URL + "1.0", "NAME_UNKNOWN"),  # the repository is gone
        not_found(URL + "1.0.1", "MANIFEST_UNKNOWN"),  # another tag
        not_found(URL + "sha256:" + "a" * 64, "MANIFEST_UNKNOWN"),  # a child manifest
        not_found("http://127.0.0.1:5000/v2/team/app/blobs/sha256:" + "b" * 64, "BLOB_UNKNOWN"),
        not_found("http://127.0.0.1:5000/v2/other/team/app/manifests/1.0", "MANIFEST_UNKNOWN"),
        not_found("http://127.0.0.1:5000/v2/a/v2/team/app/manifests/1.0", "MANIFEST_UNKNOWN"),
        AuthorizationError("denied", status_code=403, url=URL + "1.0"),
        PlatformNotFoundError("no linux/s390x in 1.0"),
        # the same path on another registry: a mirror's target, not the source
        not_found("http://127.0.0.1:5001/v2/team/app/manifests/1.0", "MANIFEST_UNKNOWN"),
        not_found("https://127.0.0.1:5000/v2/team/app/manifests/1.0", "MANIFEST_UNKNOWN"),
        # the source's registry, but not a read: a PUT of the tag (same registry copy)
        not_found(URL + "1.0", "MANIFEST_UNKNOWN", method="PUT"),
        not_found(URL + "1.0", method="DELETE"),
        not_found(URL + "1.0", "MANIFEST_UNKNOWN", method=None),
    ],
    ids=["name-unknown", "other-tag", "child", "blob", "other-repository",
         "repository-ending-alike", "403", "platform", "other-host", "other-scheme",
         "put", "delete", "no-method"],
)
def test_every_other_error_is_not(exc: RegistryError) -> None:
    assert not tag_vanished(exc, BASE, "team/app", "1.0")


def test_the_host_compares_without_case() -> None:
    exc = not_found("http://LOCALHOST:5000/v2/team/app/manifests/1.0", "MANIFEST_UNKNOWN")
    assert tag_vanished(exc, "http://localhost:5000", "team/app", "1.0")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_name_unknown_read_under_the_repository_is_the_repository_gone(method: str) -> None:
    blob = "http://127.0.0.1:5000/v2/team/app/blobs/sha256:" + "b" * 64
    assert repository_gone(not_found(URL + "1.0", "NAME_UNKNOWN", method=method),
                           BASE, "team/app")
    assert repository_gone(not_found(blob, "NAME_UNKNOWN", method=method), BASE, "team/app")


@pytest.mark.parametrize(
    "exc",
    [
        not_found(URL + "1.0", "MANIFEST_UNKNOWN"),  # one tag, not the repository
        not_found(URL + "1.0"),  # a HEAD's bare 404 says nothing
        not_found("http://127.0.0.1:5001/v2/team/app/manifests/1.0", "NAME_UNKNOWN"),
        not_found("http://127.0.0.1:5000/v2/team/app2/manifests/1.0", "NAME_UNKNOWN"),
        not_found(URL + "1.0", "NAME_UNKNOWN", method="PUT"),
        AuthorizationError("denied", status_code=403, url=URL + "1.0"),
    ],
    ids=["manifest-unknown", "bare", "other-host", "other-repository", "put", "403"],
)
def test_other_errors_are_not_the_repository_gone(exc: RegistryError) -> None:
    assert not repository_gone(exc, BASE, "team/app")
