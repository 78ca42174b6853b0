"""Choosing an index entry by platform, and what counts as a wanted platform."""

from __future__ import annotations

import pytest

from registry_client.errors import PlatformNotFoundError
from registry_client.models import Descriptor, Platform
from registry_client.services._platforms import choose_platform, wanted_platform

M = "application/vnd.oci.image.manifest.v1+json"


def entry(char: str, platform: Platform | None) -> Descriptor:
    return Descriptor(media_type=M, digest="sha256:" + char * 64, size=100, platform=platform)


AMD64 = entry("a", Platform(architecture="amd64", os="linux"))
ARM_V7 = entry("b", Platform(architecture="arm", os="linux", variant="v7"))
ARM64 = entry("c", Platform(architecture="arm64", os="linux", variant="v8"))
ATTESTATION = entry("d", Platform(architecture="unknown", os="unknown"))
NO_PLATFORM = entry("e", None)
INDEX = [NO_PLATFORM, AMD64, ARM_V7, ARM64, ATTESTATION]


def test_wanted_platform_takes_a_string_or_a_platform() -> None:
    assert wanted_platform("Linux/ARM64/v8") == Platform(
        architecture="arm64", os="linux", variant="v8")
    p = Platform(architecture="amd64", os="linux")
    assert wanted_platform(p) is p
    with pytest.raises(ValueError, match="os/arch"):
        wanted_platform("linux")
    with pytest.raises(TypeError, match="not dict"):
        wanted_platform({"os": "linux"})


def test_choose_platform_picks_the_first_matching_entry() -> None:
    assert choose_platform(INDEX, "linux/amd64") is AMD64
    assert choose_platform(INDEX, "linux/arm") is ARM_V7  # no variant: any variant
    assert choose_platform(INDEX, "linux/arm64") is ARM64  # arm64 means v8
    assert choose_platform(INDEX, Platform(architecture="x86_64", os="linux")) is AMD64
    twin = entry("f", Platform(architecture="amd64", os="linux"))
    assert choose_platform([AMD64, twin], "linux/amd64") is AMD64


def test_choose_platform_prefers_the_entry_that_is_exactly_the_platform() -> None:
    """As skopeo and containerd: linux/amd64 is the plain amd64 entry even when an
    amd64/v3 one comes first (which it matches too, having no variant to compare)."""
    v3 = entry("3", Platform(architecture="amd64", os="linux", variant="v3"))
    plain = entry("1", Platform(architecture="amd64", os="linux"))
    assert choose_platform([v3, plain], "linux/amd64") is plain
    assert choose_platform([v3, plain], "linux/amd64/v3") is v3
    assert choose_platform([v3], "linux/amd64") is v3  # no exact one: the first match
    v6 = entry("6", Platform(architecture="arm", os="linux", variant="v6"))
    assert choose_platform([v6, ARM_V7], "linux/arm") is ARM_V7  # arm means v7


def test_choose_platform_names_what_the_index_has_when_nothing_matches() -> None:
    with pytest.raises(PlatformNotFoundError) as info:
        choose_platform(INDEX, "linux/s390x")
    assert str(info.value) == (
        "no platform linux/s390x in this index "
        "(have: linux/amd64, linux/arm/v7, linux/arm64/v8, unknown/unknown)")
    with pytest.raises(PlatformNotFoundError, match=r"\(have: \)"):
        choose_platform([NO_PLATFORM], "linux/amd64")
