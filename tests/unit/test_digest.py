"""Digests as the OCI image-spec writes them: read every registered-grammar digest,
verify (and fetch by) sha256 and sha512 only.

The cases are those of the image-spec's own descriptor schema tests
(``schema/descriptor_test.go``): https://github.com/opencontainers/image-spec
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from registry_client import RegistryError, UnsupportedDigestError
from registry_client._digest import new_hasher, registry_keyed
from registry_client.reference import is_valid_digest, is_verifiable_digest, require_verifiable

SHA256 = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
SHA512 = "sha512:" + hashlib.sha512(b"x").hexdigest()
B64U = "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"
MULTIHASH = "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"
# The image-spec's own descriptor digest cases, shared with the other digest tests.
_CASES = json.loads((Path(__file__).resolve().parents[1] / "data"
                     / "oci_descriptor_digests.json").read_text())
OTHER_VALID: list[str] = _CASES["valid_not_verifiable"]
INVALID: list[str | None] = _CASES["invalid"]  # the last two: None, longer than any digest


@pytest.mark.parametrize("digest", [SHA256, SHA512, *OTHER_VALID])
def test_the_spec_s_valid_digests_are_valid(digest: str) -> None:
    assert is_valid_digest(digest)


@pytest.mark.parametrize("digest", INVALID)
def test_the_spec_s_invalid_digests_are_invalid(digest: str | None) -> None:
    assert not is_valid_digest(digest)
    assert not is_verifiable_digest(digest)


def test_only_sha256_and_sha512_are_verifiable() -> None:
    assert is_verifiable_digest(SHA256) and is_verifiable_digest(SHA512)
    assert new_hasher(SHA512).name == "sha512"
    for digest in OTHER_VALID:
        assert not is_verifiable_digest(digest)
        with pytest.raises(UnsupportedDigestError, match="unsupported digest algorithm"):
            require_verifiable(digest)
        with pytest.raises(UnsupportedDigestError):
            new_hasher(digest)  # no hashing (so no download) by an unknown algorithm


def test_only_sha256_digests_are_the_registry_s_own() -> None:
    """Registries key content by sha256: a sha512 (or any other) digest is the client's."""
    assert registry_keyed(SHA256)
    assert not any(registry_keyed(d) for d in (SHA512, B64U, *OTHER_VALID))


def test_the_error_is_a_registry_error_and_a_value_error() -> None:
    with pytest.raises(UnsupportedDigestError) as info:
        require_verifiable(MULTIHASH, where="layout x")
    assert isinstance(info.value, RegistryError) and isinstance(info.value, ValueError)
    assert str(info.value).startswith("layout x: unsupported digest algorithm "
                                      "'multihash+base58'")
