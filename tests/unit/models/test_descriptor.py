"""Descriptor and Platform (models/descriptor.py): Platform.parse, str() and matches()."""

from __future__ import annotations

import attrs
import pytest

from registry_client import mediatypes as mt
from registry_client._digest import compute_digest
from registry_client.models import Descriptor, Platform, converter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("amd64", "linux")),
        ("linux/arm64/v8", Platform("arm64", "linux", "v8")),
        ("linux/arm/v7", Platform("arm", "linux", "v7")),
        ("windows/amd64", Platform("amd64", "windows")),
        ("linux/386", Platform("386", "linux")),
        ("Linux/ARM64", Platform("arm64", "linux")),
        ("  linux/s390x ", Platform("s390x", "linux")),
        # crane's os/arch[/variant][:osversion] (go-containerregistry's ParsePlatform)
        ("windows/amd64:10.0.17763", Platform("amd64", "windows", os_version="10.0.17763")),
        ("Windows/AMD64:10.0.17763.1697",
         Platform("amd64", "windows", os_version="10.0.17763.1697")),
        ("linux/arm/v7:1", Platform("arm", "linux", "v7", os_version="1")),
    ],
)
def test_parse(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "linux",
        "linux/",
        "/amd64",
        "linux//v8",
        "a/b/c/d",
        "linux/amd 64",
        "linux/amd64/",
        "l!/x",
        "windows/amd64:",
        "windows/amd64:10 0",
        ":10.0",
        "windows:10.0",
        "linux\n/amd64",  # ($ before a last newline: containerd's regexp ends at the end)
    ],
)
def test_parse_rejects_bad_input(text: str) -> None:
    with pytest.raises(ValueError, match="os/arch"):
        Platform.parse(text)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(ValueError):
        Platform.parse(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["linux/amd64", "linux/arm64/v8", "windows/amd64", "linux/arm/v6"])
def test_str_round_trips(text: str) -> None:
    assert str(Platform.parse(text)) == text


def test_str_ignores_os_version() -> None:
    p = Platform("amd64", "windows", os_version="10.0.17763.1697")
    assert str(p) == "windows/amd64"


@pytest.mark.parametrize(
    ("wanted", "candidate", "expected"),
    [
        ("linux/amd64", Platform("amd64", "linux"), True),
        ("linux/amd64", Platform("arm64", "linux"), False),
        ("linux/amd64", Platform("amd64", "windows"), False),
        # arm64's default variant v8 equals no variant, both ways
        ("linux/arm64", Platform("arm64", "linux", "v8"), True),
        ("linux/arm64", Platform("arm64", "linux"), True),
        ("linux/arm64/v8", Platform("arm64", "linux"), True),
        ("linux/arm64/v8", Platform("arm64", "linux", "v8"), True),
        ("linux/arm64/v8", Platform("arm64", "linux", "v9"), False),
        ("linux/arm64", Platform("arm64", "linux", "v9"), False),
        # a variant is only required when the wanted platform sets one
        ("linux/arm", Platform("arm", "linux", "v7"), True),
        ("linux/arm/v7", Platform("arm", "linux", "v7"), True),
        ("linux/arm/v7", Platform("arm", "linux", "v6"), False),
        ("linux/arm/v7", Platform("arm", "linux"), True),  # no variant: compatible
        ("linux/arm/v7", Platform("arm", "linux", "7"), True),
        # aliases and case
        ("linux/aarch64", Platform("arm64", "linux", "v8"), True),
        ("linux/x86_64", Platform("amd64", "linux"), True),
        ("linux/amd64", Platform("AMD64", "Linux"), True),
        ("unknown/unknown", Platform("unknown", "unknown"), True),
    ],
)
def test_matches(wanted: str, candidate: Platform, expected: bool) -> None:
    assert Platform.parse(wanted).matches(candidate) is expected
    assert candidate.matches(Platform.parse(wanted)) is expected  # symmetric


def test_matches_os_version_prefix() -> None:
    want = Platform("amd64", "windows", os_version="10.0.17763")
    assert want.matches(Platform("amd64", "windows", os_version="10.0.17763.1697"))
    assert want.matches(Platform("amd64", "windows", os_version="10.0.17763"))
    assert not want.matches(Platform("amd64", "windows", os_version="10.0.177630"))
    assert not want.matches(Platform("amd64", "windows", os_version="10.0.20348.2227"))
    assert Platform("amd64", "windows", os_version="10.0.17763.1697").matches(want)
    # only compared when both sides have one
    assert want.matches(Platform("amd64", "windows"))
    assert Platform("amd64", "windows").matches(Platform("amd64", "windows", os_version="1"))


def test_platform_is_frozen_and_hashable() -> None:
    p = Platform("amd64", "windows", os_features=["win32k"], features=["sse4"])
    assert p.os_features == ("win32k",) and p.features == ("sse4",)
    assert hash(p) == hash(
        Platform("amd64", "windows", os_features=("win32k",), features=("sse4",))
    )
    assert len({p, Platform("amd64", "windows", os_features=["win32k"], features=["sse4"])}) == 1
    with pytest.raises(AttributeError):
        p.os = "linux"  # type: ignore[misc]


def test_platform_json_keys() -> None:
    p = Platform(
        "amd64",
        "windows",
        os_version="10.0.17763.1697",
        os_features=["win32k"],
        digest="sha256:" + "a" * 64,
        media_type="application/vnd.oci.image.manifest.v1+json",
        size=12,
    )
    # digest / media type / size describe the platform's manifest; they are not platform JSON
    assert converter.unstructure(p) == {
        "architecture": "amd64",
        "os": "windows",
        "os.version": "10.0.17763.1697",
        "os.features": ["win32k"],
    }
    back = converter.structure(converter.unstructure(p), Platform)
    assert back == Platform(
        "amd64", "windows", os_version="10.0.17763.1697", os_features=["win32k"]
    )


# -- Descriptor ----------------------------------------------------------------------
D1 = "sha256:" + "1" * 64


def test_descriptor_positional_and_keywords() -> None:
    d = Descriptor(mt.OCI_LAYER_GZIP, D1, 10)
    assert d == Descriptor(media_type=mt.OCI_LAYER_GZIP, digest=D1, size=10)
    assert d.urls is None and d.annotations is None and d.platform is None and d.extra == {}
    changed = attrs.evolve(d, annotations={"a": "b"})
    assert changed.annotations == {"a": "b"} and d.annotations is None
    assert len({d, Descriptor(mt.OCI_LAYER_GZIP, D1, 10), changed}) == 2


def test_descriptor_from_bytes() -> None:
    blob = b'{"architecture":"amd64"}'
    d = Descriptor.from_bytes(blob, mt.OCI_CONFIG, annotations={"k": "v"})
    assert d.digest == compute_digest(blob) and d.size == len(blob)
    assert d.media_type == mt.OCI_CONFIG and d.annotations == {"k": "v"}
