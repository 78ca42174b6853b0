"""Tests for registry_client.errors: the one way an error gains context on its way up."""

from __future__ import annotations

import pytest

from registry_client.errors import (
    DigestMismatchError,
    NotFoundError,
    RegistryError,
    RegistryResponseError,
    RegistryUnavailableError,
)

ERRORS = [{"code": "DIGEST_INVALID", "message": "digest invalid"}]


def _answered() -> RegistryResponseError:
    return RegistryResponseError(
        "registry said no", status_code=400, errors=ERRORS, method="PUT",
        url="https://registry.example/v2/app/blobs/uploads/u1", retry_after=7.0,
    )


def _fields(exc: RegistryError) -> tuple[object, ...]:
    return (exc.status_code, exc.errors, exc.method, exc.url, exc.retry_after)


def test_context_rewords_the_error_itself_and_keeps_every_field() -> None:
    exc = _answered()
    before = _fields(exc)
    same = exc.with_context(f"upload blob: {exc.message}")
    assert same is exc
    assert str(exc) == exc.message == exc.args[0] == "upload blob: registry said no"
    assert _fields(exc) == before


def test_context_may_name_the_request_it_failed_on() -> None:
    exc = RegistryUnavailableError("token server kept failing", status_code=503,
                                   retry_after=2.0)
    exc.with_context("pull app: token server kept failing", method="GET",
                     url="https://registry.example/v2/app/manifests/1")
    assert (exc.method, exc.url, exc.retry_after, exc.status_code) == (
        "GET", "https://registry.example/v2/app/manifests/1", 2.0, 503)
    exc.with_context("again")  # what is not given stays
    assert (exc.method, exc.url) == ("GET", "https://registry.example/v2/app/manifests/1")


@pytest.mark.parametrize("kind", [DigestMismatchError, RegistryUnavailableError, NotFoundError])
def test_context_of_another_kind_is_a_new_error_with_every_field(
    kind: type[RegistryError],
) -> None:
    exc = _answered()
    new = exc.with_context("upload: the content does not match", kind=kind)
    assert type(new) is kind and new is not exc
    assert str(new) == new.message == "upload: the content does not match"
    assert _fields(new) == _fields(exc)
    assert new.errors is not exc.errors  # a copy: the two do not share one list
    assert new.codes == ["DIGEST_INVALID"]
    assert str(exc) == "registry said no"  # the original is left as it was
