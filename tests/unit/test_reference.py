"""Tests for registry_client.reference (cases taken largely from distribution/reference)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry_client.errors import InvalidReferenceError
from registry_client.reference import (
    CATALOG_SCOPE,
    DEFAULT_DOMAIN,
    DIGEST_RULE,
    DOCKER_HUB_API_HOST,
    DOCKER_HUB_HOSTS,
    LEGACY_DEFAULT_DOMAIN,
    ImageReference,
    canonical_domain,
    check_digest,
    check_reference,
    check_repository_name,
    check_tag,
    is_docker_hub,
    is_referrers_tag,
    is_valid_digest,
    is_valid_repository_name,
    is_valid_tag,
    names_a_domain,
    parse_image_name,
    reads_as_a_digest,
    referrers_tag,
    scope,
)

HEX64 = "f" * 64
SHA256 = "sha256:" + HEX64
SHA512 = "sha512:" + "f" * 128
SHA384 = ("sha384:d3fc7881460b7e22e3d172954463dddd7866d17597e7248453c48b3e9d26d9596bf9c4a9cf80"
          "72c9d5bad76e19af801d")
REDIS = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
BUSYBOX = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
IDENT = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
LONG_NS = "_".join(["this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255"] * 4)


def _ids(values: Sequence[tuple[object, ...]]) -> list[str]:
    out = []
    for value in values:
        text = str(value[0])
        out.append(text if len(text) <= 60 else f"{text[:40]}...len{len(text)}")
    return out


# input, (domain, path, tag, digest)
VALID: list[tuple[str, tuple[str, str, str | None, str | None]]] = [
    ("golang:1.12.0", ("docker.io", "library/golang", "1.12.0", None)),
    ("ubuntu", ("docker.io", "library/ubuntu", None, None)),
    ("docker.io/ubuntu", ("docker.io", "library/ubuntu", None, None)),
    ("index.docker.io/ubuntu", ("docker.io", "library/ubuntu", None, None)),
    ("docker.io/library/ubuntu:latest", ("docker.io", "library/ubuntu", "latest", None)),
    ("index.docker.io/docker/docker", ("docker.io", "docker/docker", None, None)),
    ("library/debian", ("docker.io", "library/debian", None, None)),
    ("docker/docker", ("docker.io", "docker/docker", None, None)),
    ("docker.io/library/foo/bar", ("docker.io", "library/foo/bar", None, None)),
    ("localhost/foo", ("localhost", "foo", None, None)),
    ("localhost:5000/foo:bar", ("localhost:5000", "foo", "bar", None)),
    ("example.com:8080/a/b/c", ("example.com:8080", "a/b/c", None, None)),
    ("Example.com/foo", ("Example.com", "foo", None, None)),
    ("Docker/docker", ("Docker", "docker", None, None)),
    ("DOCKER/docker", ("DOCKER", "docker", None, None)),
    ("[::1]:5000/app", ("[::1]:5000", "app", None, None)),
    ("[2001:db8::1]/app:tag", ("[2001:db8::1]", "app", "tag", None)),
    ("[2001:db8::1]/repo", ("[2001:db8::1]", "repo", None, None)),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", ("[2001:db8:1:2:3:4:5:6]", "repo", "tag", None)),
    ("[2001:db8::]:5000/repo", ("[2001:db8::]:5000", "repo", None, None)),
    ("[2001:db8::1]:5000/repo:tag@" + SHA256, ("[2001:db8::1]:5000", "repo", "tag", SHA256)),
    ("[fc00::1]:5000/docker/docker", ("[fc00::1]:5000", "docker/docker", None, None)),
    ("a.b", ("docker.io", "library/a.b", None, None)),
    ("a_b", ("docker.io", "library/a_b", None, None)),
    ("a__b", ("docker.io", "library/a__b", None, None)),
    ("a-b", ("docker.io", "library/a-b", None, None)),
    ("a--b", ("docker.io", "library/a--b", None, None)),
    ("docker---rules/docker", ("docker.io", "docker---rules/docker", None, None)),
    ("dock__er/docker", ("docker.io", "dock__er/docker", None, None)),
    ("d/docker", ("docker.io", "d/docker", None, None)),
    ("jess/t", ("docker.io", "jess/t", None, None)),
    ("test_com", ("docker.io", "library/test_com", None, None)),
    ("test_com/foo", ("docker.io", "test_com/foo", None, None)),
    ("test.com:tag", ("docker.io", "library/test.com", "tag", None)),
    ("test.com:5000", ("docker.io", "library/test.com", "5000", None)),
    ("test.com/repo:tag", ("test.com", "repo", "tag", None)),
    ("test:5000/repo", ("test:5000", "repo", None, None)),
    ("test-com:8080/foo", ("test-com:8080", "foo", None, None)),
    ("test:5000/repo@" + SHA256, ("test:5000", "repo", None, SHA256)),
    ("test:5000/repo:tag@" + SHA256, ("test:5000", "repo", "tag", SHA256)),
    ("lowercase:Uppercase", ("docker.io", "library/lowercase", "Uppercase", None)),
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        ("sub-dom1.foo.com", "bar/baz/quux", "some-long-tag", None),
    ),
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        ("b.gcr.io", "test.example.com/my-app", "test.example.com", None),
    ),
    ("xn--n3h.com/myimage:xn--n3h.com", ("xn--n3h.com", "myimage", "xn--n3h.com", None)),
    (
        "xn--7o8h.com/myimage:xn--7o8h.com@" + SHA512,
        ("xn--7o8h.com", "myimage", "xn--7o8h.com", SHA512),
    ),
    # go-digest registers sha384 beside sha256 and sha512 (its TestParseDigest vector)
    ("busybox@" + SHA384, ("docker.io", "library/busybox", None, SHA384)),
    ("ghcr.io/org/app:1.0@" + SHA384, ("ghcr.io", "org/app", "1.0", SHA384)),
    ("foo_bar.com:8080", ("docker.io", "library/foo_bar.com", "8080", None)),
    ("foo/foo_bar.com:8080", ("docker.io", "foo/foo_bar.com", "8080", None)),
    ("192.168.1.1", ("docker.io", "library/192.168.1.1", None, None)),
    ("192.168.1.1:5000", ("docker.io", "library/192.168.1.1", "5000", None)),
    ("192.168.1.1/repo", ("192.168.1.1", "repo", None, None)),
    ("192.168.1.1:5000/repo:5050", ("192.168.1.1:5000", "repo", "5050", None)),
    ("127.0.0.1:5000/library/debian", ("127.0.0.1:5000", "library/debian", None, None)),
    ("busybox:latest@" + BUSYBOX, ("docker.io", "library/busybox", "latest", BUSYBOX)),
    ("redis@" + REDIS, ("docker.io", "library/redis", None, REDIS)),
    ("dmcgowan/myapp@" + REDIS, ("docker.io", "dmcgowan/myapp", None, REDIS)),
    ("sha256:" + REDIS[7:], ("docker.io", "library/sha256", REDIS[7:], None)),
    ("docker.io/" + IDENT, ("docker.io", "library/" + IDENT, None, None)),
    (IDENT[:63], ("docker.io", "library/" + IDENT[:63], None, None)),
    (IDENT + ":tag", ("docker.io", "library/" + IDENT, "tag", None)),
    (
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        (
            "docker.io",
            "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
            None,
            None,
        ),
    ),
    ("a:" + "t" * 128, ("docker.io", "library/a", "t" * 128, None)),
    ("a:_Tag.-x", ("docker.io", "library/a", "_Tag.-x", None)),
    (
        "a/" * 127 + "a:tag-puts-this-over-max",
        ("docker.io", "a/" * 127 + "a", "tag-puts-this-over-max", None),
    ),
    ("example.com/" + "a" * 255, ("example.com", "a" * 255, None, None)),
    ("a" * 247, ("docker.io", "library/" + "a" * 247, None, None)),
    ("INDEX.DOCKER.IO/foo", ("INDEX.DOCKER.IO", "foo", None, None)),
    ("index.docker.io", ("docker.io", "library/index.docker.io", None, None)),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=_ids(VALID))
def test_parse_valid(text: str, expected: tuple[str, str, str | None, str | None]) -> None:
    ref = parse_image_name(text)
    assert tuple(ref) == expected
    assert (ref.domain, ref.path, ref.tag, ref.digest, ref.scheme) == (*expected, None)
    assert parse_image_name(str(ref)) == ref


# input, fragment of the error message
INVALID: list[tuple[str, str]] = [
    ("", "at least one component"),
    (":tag", 'invalid repository name "library/"'),
    (":justtag", 'invalid repository name "library/"'),
    ("@" + SHA256, 'invalid repository name "library/"'),
    ("foo:", "invalid tag"),
    ("foo@", "invalid digest"),
    ("foo:@" + SHA256, "invalid tag"),
    ("docker.io/", 'invalid repository name "library/"'),
    ("docker/", 'invalid repository name "docker/"'),
    ("quay.io/", "at least one component"),
    ("https://github.com/docker/docker", "unexpected scheme"),
    ("http://localhost:5000/foo", "unexpected scheme"),
    ("foo/Bar", "must be lowercase"),
    ("docker/Docker", "must be lowercase"),
    ("docker.io/docker/Docker", "must be lowercase"),
    ("test:5000/Uppercase/lowercase:tag", "must be lowercase"),
    ("Uppercase:tag", "must be lowercase"),
    ("Foo_bar/x", "invalid registry domain"),
    ("a_b.c/foo", "invalid registry domain"),
    ("-docker.io/docker/docker", "invalid registry domain"),
    ("docker.io:/foo", "invalid registry domain"),
    ("-docker", "invalid repository name"),
    ("-docker/docker", "invalid repository name"),
    ("docker-/docker", "invalid repository name"),
    ("-docker-/docker", "invalid repository name"),
    ("docker///docker", "invalid repository name"),
    ("docker.io/docker///docker", "invalid repository name"),
    ("____/____", "invalid repository name"),
    ("_docker/_docker", "invalid repository name"),
    ("dock..er/docker", "invalid registry domain"),
    ("dock_.er/docker", "invalid registry domain"),
    ("dock-.er/docker", "invalid registry domain"),
    ("docker/dock..er", "invalid repository name"),
    ("docker/dock_.er", "invalid repository name"),
    ("docker/dock-.er", "invalid repository name"),
    ("a___b", "invalid repository name"),
    ("a..b", "invalid repository name"),
    ("-a", "invalid repository name"),
    ("a-", "invalid repository name"),
    ("_a", "invalid repository name"),
    ("a/", "invalid repository name"),
    ("aa/asdf$$^/aa", "invalid repository name"),
    ("[fc00::1]", "registry host with no repository"),
    ("[fc00::1]:5000", "registry host with no repository"),
    ("[2001:db8::1]:tag", "registry host with no repository"),
    ("fc00::1:5000/debian", "invalid registry domain"),
    ("[fe80::1%eth0]:5000/debian", "invalid registry domain"),
    ("[fe80::1%@invalidzone]:5000/repo", "invalid registry domain"),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid registry domain"),
    ("[::1/app", "invalid registry domain"),
    ("[]/app", 'invalid repository name "[]/app"'),
    ("[g::1]/app", "invalid registry domain"),
    ("[::1]:/app", "invalid registry domain"),
    (IDENT, "64-byte hexadecimal"),
    (LONG_NS + "/docker", "not be more than 255 characters"),
    ("a/" * 128 + "a:tag", "not be more than 255 characters"),
    ("a/" * 127 + "aa", "not be more than 255 characters (got 256)"),
    ("example.com/" + "a" * 256, "not be more than 255 characters (got 256)"),
    ("a" * 248, "not be more than 255 characters (got 256)"),
    ("a:" + "t" * 129, "invalid tag"),
    ("a:-tag", "invalid tag"),
    ("a:.tag", "invalid tag"),
    ("a:t/g", 'invalid registry domain "a:t"'),
    ("a/b:t/g", "invalid tag"),
    ("a:b:c", "invalid tag"),
    ("repo@sha256:" + "f" * 34, "digest length"),
    ("repo@sha256:" + "f" * 63, "digest length"),
    ("repo@sha256:" + "f" * 65, "digest length"),
    ("repo@sha256:" + "F" * 64, "lowercase hex"),
    ("repo@sha512:" + "f" * 64, "digest length"),
    ("repo@sha384:" + "f" * 64, "digest length"),
    ("repo@sha256:" + "f" * 31, "invalid digest"),
    ("repo@sha256:" + "g" * 64, "invalid digest"),
    ("repo@" + HEX64, "invalid digest"),
    ("validname@invaliddigest:" + HEX64, "unsupported digest algorithm"),
    ("repo@md5:" + "f" * 32, "unsupported digest algorithm"),
    ("repo@SHA256:" + HEX64, "unsupported digest algorithm"),
    ("repo@sha256:" + HEX64 + "@" + SHA256, "invalid digest"),
    ("\x00", "invalid repository name"),
    ("foo\x00bar", "invalid repository name"),
    ("foo\n", "invalid repository name"),
    ("foo:bar\n", "invalid tag"),
    ("foo ", "invalid repository name"),
    ("caf\u00e9", "invalid repository name"),
    ("CAF\u00c9/x", "invalid registry domain"),
    ("foo:t\u00e9g", "invalid tag"),
    ("x" * 2000, "longer than 1024 characters"),
    # an IPv6 host alone: docker reads the repository "library/[" -- said as what it is
    ("[::1]:5000", '"[::1]:5000" is a registry host with no repository'),
]


@pytest.mark.parametrize(("text", "fragment"), INVALID, ids=_ids(INVALID))
def test_parse_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_image_name(text)
    message = str(info.value)
    assert message.startswith("invalid reference format: ")
    assert fragment in message
    assert json.dumps(text[:200], ensure_ascii=False) in message
    assert isinstance(info.value, ValueError)


def test_error_message_quotes_input() -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_image_name("foo/Bar")
    expected = 'invalid reference format: repository name "foo/Bar" must be lowercase: "foo/Bar"'
    assert str(info.value) == expected


@pytest.mark.parametrize(
    "value", [None, b"ubuntu", 1, ["ubuntu"]], ids=["none", "bytes", "int", "list"]
)
def test_non_str_is_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        parse_image_name(value)  # type: ignore[arg-type]


SCHEMES: list[tuple[str, tuple[str, str, str, str | None]]] = [
    ("https://quay.io/foo", ("https", "quay.io", "foo", None)),
    ("http://localhost:5000/foo:bar", ("http", "localhost:5000", "foo", "bar")),
    ("HTTPS://quay.io/foo/bar", ("https", "quay.io", "foo/bar", None)),
    ("https://docker.io/ubuntu", ("https", "docker.io", "library/ubuntu", None)),
    ("http://[::1]:5000/app:v1", ("http", "[::1]:5000", "app", "v1")),
]


@pytest.mark.parametrize(("text", "expected"), SCHEMES, ids=_ids(SCHEMES))
def test_scheme_allowed(text: str, expected: tuple[str, str, str, str | None]) -> None:
    ref = parse_image_name(text, allow_scheme=True)
    assert (ref.scheme, ref.domain, ref.path, ref.tag) == expected
    assert "://" not in str(ref)
    assert parse_image_name(str(ref)) == attrs.evolve(ref, scheme=None)
    with pytest.raises(InvalidReferenceError, match="unexpected scheme"):
        parse_image_name(text)


SCHEME_ERRORS: list[tuple[str, str]] = [
    ("ftp://quay.io/foo", "unsupported scheme"),
    ("https://ubuntu", "must start with a registry domain"),
    ("https://foo/bar", "must start with a registry domain"),
    ("https://", "must start with a registry domain"),
    ("https://https://quay.io/foo", "invalid registry domain"),
    ("https://Quay.io/Foo", "must be lowercase"),
]


@pytest.mark.parametrize(("text", "fragment"), SCHEME_ERRORS, ids=_ids(SCHEME_ERRORS))
def test_scheme_errors(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReferenceError, match=fragment):
        parse_image_name(text, allow_scheme=True)


def test_scheme_is_none_without_scheme() -> None:
    assert parse_image_name("quay.io/foo", allow_scheme=True).scheme is None


def test_api_example() -> None:
    ref = parse_image_name("golang:1.12.0")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (
        "docker.io",
        "library/golang",
        "1.12.0",
        None,
    )
    domain, path, tag, digest = ref
    assert (domain, path, tag, digest) == ("docker.io", "library/golang", "1.12.0", None)
    assert str(ref) == "docker.io/library/golang:1.12.0"
    assert ref.familiar_name == "golang"
    assert ref.familiar_string == "golang:1.12.0"
    assert ref.name == "docker.io/library/golang"
    assert ref.reference == "1.12.0"
    assert DEFAULT_DOMAIN == "docker.io"


# familiar name, full name, other spellings, domain, path
# (normalize_test.go TestParseRepositoryInfo)
REPO_INFO: list[tuple[str, str, tuple[str, ...], str, str]] = [
    ("fooo/bar", "docker.io/fooo/bar", ("index.docker.io/fooo/bar",), "docker.io", "fooo/bar"),
    ("ubuntu", "docker.io/library/ubuntu", ("library/ubuntu",), "docker.io", "library/ubuntu"),
    ("nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", (), "docker.io", "nonlibrary/ubuntu"),
    ("other/library", "docker.io/other/library", (), "docker.io", "other/library"),
    (
        "127.0.0.1:8000/private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        (),
        "127.0.0.1:8000",
        "private/moonbase",
    ),
    ("example.com/privatebase", "example.com/privatebase", (), "example.com", "privatebase"),
    (
        "example.com:8000/privatebasee",
        "example.com:8000/privatebasee",
        (),
        "example.com:8000",
        "privatebasee",
    ),
    (
        "ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        ("index.docker.io/library/ubuntu-12.04-base",),
        "docker.io",
        "library/ubuntu-12.04-base",
    ),
    ("foo", "docker.io/library/foo", ("docker.io/foo",), "docker.io", "library/foo"),
    ("library/foo/bar", "docker.io/library/foo/bar", (), "docker.io", "library/foo/bar"),
    ("store/foo/bar", "docker.io/store/foo/bar", (), "docker.io", "store/foo/bar"),
    ("Foo/bar", "Foo/bar", (), "Foo", "bar"),
    ("FOO/bar", "FOO/bar", (), "FOO", "bar"),
    ("localhost:5000/x", "localhost:5000/x", (), "localhost:5000", "x"),
    ("golang", "docker.io/library/golang", (), "docker.io", "library/golang"),
    ("foo/bar", "docker.io/foo/bar", (), "docker.io", "foo/bar"),
]


@pytest.mark.parametrize(
    ("familiar", "full", "others", "domain", "path"), REPO_INFO, ids=_ids(REPO_INFO)
)
def test_familiar_and_full_names(
    familiar: str, full: str, others: tuple[str, ...], domain: str, path: str
) -> None:
    for text in (familiar, full, *others):
        ref = parse_image_name(text)
        assert ref.familiar_name == familiar
        assert ref.familiar_string == familiar
        assert str(ref) == ref.name == full
        assert (ref.domain, ref.path) == (domain, path)


def test_familiar_string_with_tag_and_digest() -> None:
    short = "busybox:latest@" + BUSYBOX
    ref = parse_image_name(short)
    assert str(ref) == "docker.io/library/" + short
    assert ref.familiar_string == short
    assert ref.reference == BUSYBOX


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ubuntu", None),
        ("ubuntu:18.04", "18.04"),
        ("ubuntu@" + REDIS, REDIS),
        ("ubuntu:18.04@" + REDIS, REDIS),
    ],
    ids=["none", "tag", "digest", "both"],
)
def test_reference_property(text: str, expected: str | None) -> None:
    assert parse_image_name(text).reference == expected


def test_with_tag_drops_digest() -> None:
    ref = parse_image_name("quay.io/foo:old@" + SHA256)
    new = ref.with_tag("new")
    assert (new.tag, new.digest, new.name) == ("new", None, "quay.io/foo")
    assert ref.tag == "old"
    with pytest.raises(InvalidReferenceError, match="invalid tag"):
        ref.with_tag("-bad")
    with pytest.raises(InvalidReferenceError, match="invalid tag"):
        ref.with_tag("t" * 129)
    with pytest.raises(TypeError):
        ref.with_tag(None)  # type: ignore[arg-type]


def test_with_digest_keeps_tag() -> None:
    ref = parse_image_name("quay.io/foo:v1")
    new = ref.with_digest(SHA512)
    assert (new.tag, new.digest) == ("v1", SHA512)
    assert str(new) == "quay.io/foo:v1@" + SHA512
    for bad in ("foo", "sha256:abc", "md5:" + "f" * 32, "sha256:" + "F" * 64):
        with pytest.raises(InvalidReferenceError):
            ref.with_digest(bad)
    with pytest.raises(TypeError):
        ref.with_digest(b"sha256:x")  # type: ignore[arg-type]


def test_iteration_yields_exactly_four() -> None:
    ref = parse_image_name("localhost:5000/foo:bar@" + SHA256)
    assert list(ref) == ["localhost:5000", "foo", "bar", SHA256]
    domain, path, tag, digest = ref
    assert (domain, path, tag, digest) == ("localhost:5000", "foo", "bar", SHA256)


def test_hash_and_equality() -> None:
    refs = {
        parse_image_name(s)
        for s in (
            "ubuntu",
            "docker.io/ubuntu",
            "index.docker.io/ubuntu",
            "docker.io/library/ubuntu",
            "library/ubuntu",
        )
    }
    assert refs == {ImageReference("docker.io", "library/ubuntu")}
    assert parse_image_name("ubuntu") != parse_image_name("ubuntu:latest")
    assert parse_image_name("quay.io/a") != parse_image_name("https://quay.io/a", allow_scheme=True)
    ref = parse_image_name("ubuntu")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ref.tag = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "a-" * 500,
        "a." * 500 + "_",
        "a" * 1000 + "!",
        "[" + ":" * 1000,
        "a" * 1024,
        "a-" * 250 + "/" + "a_" * 250 + "!",
        "x." * 300 + "/a@" + "a." * 100 + ":",
    ],
    ids=["dashes", "dots", "bang", "ipv6", "max", "mixed", "digest"],
)
def test_pathological_inputs_are_fast(text: str) -> None:
    start = time.perf_counter()
    for _ in range(20):
        with pytest.raises(InvalidReferenceError):
            parse_image_name(text)
    assert time.perf_counter() - start < 1.0


# Reference-like strings built from grammar pieces, valid and broken.
_component = st.from_regex(r"[a-z0-9]{1,4}(?:(?:[._]|__|-{1,3})[a-z0-9]{1,4}){0,2}", fullmatch=True)
_noise = st.sampled_from(
    [
        "A",
        "_",
        "__",
        "___",
        ".",
        "..",
        "-",
        ":",
        "::",
        "@",
        "/",
        "//",
        "%",
        "[",
        "]",
        "[::1]",
        "\x00",
        "\n",
        " ",
        "\u00e9",
        "sha256:",
        HEX64,
        "https://",
        "library/",
        "localhost",
        "index.docker.io",
    ]
)
_domain = st.one_of(
    st.sampled_from(
        [
            "docker.io",
            "index.docker.io",
            "localhost",
            "localhost:5000",
            "Example.com",
            "[::1]:5000",
            "[2001:db8::1]",
            "quay.io",
            "127.0.0.1:80",
            "a_b.c",
            "FOO",
        ]
    ),
    st.from_regex(
        r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,3}[a-zA-Z0-9])?(?:\.[a-z0-9]{1,3}){0,2}"
        r"(?::[0-9]{1,5})?",
        fullmatch=True,
    ),
)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,5}", fullmatch=True)
_digest = st.one_of(
    st.sampled_from([SHA256, SHA512, REDIS, "sha256:" + "A" * 64, "md5:" + HEX64]),
    st.text("0123456789abcdef", min_size=60, max_size=66).map("sha256:".__add__),
)


@st.composite
def _reference_like(draw: st.DrawFn) -> str:
    parts = [draw(st.sampled_from(["", "", "", "https://", "http://"]))]
    if draw(st.booleans()):
        parts.append(draw(_domain) + "/")
    parts.append("/".join(draw(st.lists(_component, min_size=1, max_size=3))))
    if draw(st.booleans()):
        parts.append(":" + draw(_tag))
    if draw(st.booleans()):
        parts.append("@" + draw(_digest))
    text = "".join(parts)
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(_noise) + text[at + draw(st.integers(0, 2)) :]
    return text


def _check(text: str, allow_scheme: bool) -> None:
    try:
        ref = parse_image_name(text, allow_scheme=allow_scheme)
    except InvalidReferenceError:
        return
    assert isinstance(ref, ImageReference)
    assert parse_image_name(str(ref)) == attrs.evolve(ref, scheme=None)
    assert parse_image_name(str(ref), allow_scheme=True) == attrs.evolve(ref, scheme=None)


@settings(max_examples=300, deadline=None)
@given(st.text(), st.booleans())
def test_any_text_parses_or_raises_invalid_reference(text: str, allow_scheme: bool) -> None:
    _check(text, allow_scheme)


@settings(max_examples=300, deadline=None)
@given(_reference_like(), st.booleans())
def test_reference_like_strings_round_trip(text: str, allow_scheme: bool) -> None:
    _check(text, allow_scheme)


def test_references_sort_by_name_then_tag_then_digest() -> None:
    digest = "sha256:" + "1" * 64
    refs = [parse_image_name(t) for t in ["b:1", "a:2", f"a@{digest}", "a", "a:1"]]
    assert [str(r) for r in sorted(refs)] == [
        "docker.io/library/a", f"docker.io/library/a@{digest}", "docker.io/library/a:1",
        "docker.io/library/a:2", "docker.io/library/b:1",
    ]
    assert parse_image_name("a") < parse_image_name("a:1") <= parse_image_name("a:1")
    assert parse_image_name("b") > parse_image_name("a:9") >= parse_image_name("a:9")
    with pytest.raises(TypeError):
        _ = parse_image_name("a") < "a"  # type: ignore[operator]


@pytest.mark.parametrize("text", [
    "bob:s3cret@host:5000/app", "http://bob:s3cret@127.0.0.1:5000/app:1",
    "bob:s3@cret@host:5000/app",
])
def test_a_password_put_in_the_domain_is_not_repeated_in_the_error(text: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_image_name(text, allow_scheme=True)
    assert "cret" not in str(info.value) and "***@host" in str(info.value).replace(
        "127.0.0.1", "host")


# -- the grammar every other module asks (registry_client.reference is its one owner) -----
@pytest.mark.parametrize("tag", ["v1\n", "latest\n", "1.0\r\n"])
def test_a_tag_with_a_trailing_newline_is_not_a_tag(tag: str) -> None:
    """``$`` in a ``match`` accepts a final newline; the grammar is matched whole."""
    assert not is_valid_tag(tag)
    with pytest.raises(InvalidReferenceError, match="invalid tag"):
        check_tag(tag)
    with pytest.raises(InvalidReferenceError, match="invalid tag"):
        check_reference(tag)


@pytest.mark.parametrize("name", ["app\n", "team/app\n"])
def test_a_repository_name_with_a_trailing_newline_is_not_a_name(name: str) -> None:
    assert not is_valid_repository_name(name)
    with pytest.raises(InvalidReferenceError, match="invalid repository name"):
        check_repository_name(name)


@pytest.mark.parametrize("digest", ["sha256:" + HEX64 + "\n", "sha256+b64u:abc\n", "foo:abc\n"])
def test_a_digest_with_a_trailing_newline_is_not_a_digest(digest: str) -> None:
    assert not is_valid_digest(digest)
    with pytest.raises(InvalidReferenceError, match="invalid digest"):
        check_digest(digest, verify=False)


@pytest.mark.parametrize(("value", "tag", "name", "digest"), [
    ("v1", True, True, False),
    ("team/app", False, True, False),
    ("_x", True, False, False),
    ("a" * 128, True, True, False),
    ("a" * 129, False, True, False),
    ("a" * 256, False, False, False),
    (SHA256, False, False, True),
    ("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", False, False, True),
    ("sha256:" + "F" * 64, False, False, False),
    ("", False, False, False),
    (None, False, False, False),
])
def test_the_grammar_answers_for_every_module(
    value: object, tag: bool, name: bool, digest: bool
) -> None:
    assert (is_valid_tag(value), is_valid_repository_name(value), is_valid_digest(value)) == (
        tag, name, digest)


def test_the_repository_name_checks_say_what_is_wrong() -> None:
    for name, why in [("Team/App", "must be lowercase"), ("app:1.0", "no tag or digest"),
                      ("a" * 300, "300 characters long, at most 255"),
                      ("app//x", "'/'-separated components"), (3, "not int")]:
        with pytest.raises(InvalidReferenceError, match=why):
            check_repository_name(name)  # type: ignore[arg-type]
    assert check_repository_name("team/app") == "team/app"


def test_scope_strings_are_built_in_one_place() -> None:
    assert scope("team/app", "pull") == "repository:team/app:pull"
    assert scope("app", "pull,push") == "repository:app:pull,push"
    assert CATALOG_SCOPE == "registry:catalog:*"


def test_the_referrers_tag_schema_is_named_and_recognised_in_one_place() -> None:
    for digest in (SHA256, SHA512, REDIS):
        tag = referrers_tag(digest)
        assert is_valid_tag(tag) and is_referrers_tag(tag)
        assert all(is_referrers_tag(f"{tag}.{kind}") for kind in ("sig", "att", "sbom"))
    assert referrers_tag(REDIS) == "sha256-" + REDIS[7:]
    assert referrers_tag("sha256+b64u:a=b/c") == "sha256-b64u-a-b-c"
    for tag in ("latest", "sha256-" + "f" * 63, "sha256-" + "F" * 64, "md5-" + "f" * 64,
                "sha256-" + HEX64 + ".txt", "sha256_" + HEX64):
        assert not is_referrers_tag(tag), tag


def test_a_repository_name_with_a_tag_names_the_call_that_takes_it() -> None:
    """The hint shows the user's own reference, not an unrelated example."""
    from registry_client import Registry

    with Registry("localhost:5000", protocol="http") as reg, pytest.raises(
            ValueError, match=r"repository_from_string\('localhost:5000/team/app:1\.0'\)"):
        reg.repository("team/app:1.0")


@pytest.mark.parametrize("digest", ["sha256:" + "f" * 31, "sha-:" + HEX64, "sha256:" + "g" * 64])
def test_a_malformed_digest_is_worded_alike_in_a_reference_and_alone(digest: str) -> None:
    """One wording for what a digest looks like: ``DIGEST_RULE``, in both messages."""
    with pytest.raises(InvalidReferenceError) as in_reference:
        parse_image_name(f"repo@{digest}")
    with pytest.raises(InvalidReferenceError) as alone:
        check_digest(digest)
    assert f"want {DIGEST_RULE}" in str(in_reference.value)
    assert f"want {DIGEST_RULE}" in str(alone.value)


def test_a_long_digest_in_a_reference_is_told_its_length() -> None:
    """The OCI grammar's 256-character cap is not the reference grammar's rule."""
    with pytest.raises(InvalidReferenceError, match="invalid sha256 digest length"):
        parse_image_name("repo@sha256:" + "f" * 300)


@pytest.mark.parametrize(("value", "digest_like"), [
    ("sha384:abc", True), ("blake3:x", True), ("sha256+b64u:abc", True),
    ("foo:" + HEX64[:32], True), ("foo:" + "F" * 40, True),
    ("app:1.0", False), ("foo:" + "f" * 31, False), ("foo:" + "g" * 40, False),
])
def test_what_reads_as_a_digest_rather_than_name_tag(value: str, digest_like: bool) -> None:
    assert reads_as_a_digest(value) is digest_like


def test_docker_hub_s_names_and_what_each_means() -> None:
    assert DOCKER_HUB_HOSTS == (DEFAULT_DOMAIN, DOCKER_HUB_API_HOST, LEGACY_DEFAULT_DOMAIN)
    assert canonical_domain("index.docker.io") == "docker.io"
    assert canonical_domain("docker.io") == "docker.io"
    assert canonical_domain("registry-1.docker.io") == "registry-1.docker.io"  # a host
    assert canonical_domain("ghcr.io") == "ghcr.io"
    assert all(is_docker_hub(host) for host in (*DOCKER_HUB_HOSTS, "Docker.IO"))
    assert not is_docker_hub("ghcr.io") and not is_docker_hub("docker.io.example")
    assert parse_image_name(f"{LEGACY_DEFAULT_DOMAIN}/alpine").domain == DEFAULT_DOMAIN


@pytest.mark.parametrize(("text", "explicit"), [
    ("localhost:5000/app", True), ("localhost/app", True), ("ghcr.io/org/app", True),
    ("index.docker.io/app", True), ("[::1]:5000/app", True),
    ("Team/app", True),  # not lowercase: a host name, as docker's splitDockerDomain says
    ("team/app", False), ("app", False), ("app:1.0", False), ("localhost", False),
])
def test_names_a_domain_splits_as_docker_does(text: str, explicit: bool) -> None:
    assert names_a_domain(text) is explicit
    if explicit:
        assert parse_image_name(text).domain != DEFAULT_DOMAIN or text.startswith("index.")
