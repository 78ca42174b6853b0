"""tag_vanished: which errors mean "this listed tag was deleted meanwhile", and which do not."""

from __future__ import annotations

import pytest

from registry_client._vanished import tag_vanished
from registry_client.errors import (
    AuthorizationError,
    NotFoundError,
    PlatformNotFoundError,
    RegistryError,
)

URL = "http://127.0.0.1:5000/v2/team/app/manifests/"


def not_found(url: str, *codes: str, method: str = "GET") -> NotFoundError:
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
    assert tag_vanished(exc, "team/app", "1.0")


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
    ],
    ids=["name-unknown", "other-tag", "child", "blob", "other-repository",
         "repository-ending-alike", "403", "platform"],
)
def test_every_other_error_is_not(exc: RegistryError) -> None:
    assert not tag_vanished(exc, "team/app", "1.0")
