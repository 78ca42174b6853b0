"""Tests for registry_client._challenge.parse_challenges (the WWW-Authenticate parser)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry_client._challenge import Challenge, ChallengeParseError, parse_challenges

# (header, expected [(scheme, params), ...])
REAL_WORLD: list[tuple[str, list[tuple[str, dict[str, str]]]]] = [
    # Docker Hub
    (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull"',
        [("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                     "scope": "repository:library/alpine:pull"})],
    ),
    # Docker Hub on /v2/ (no scope)
    (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
        [("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io"})],
    ),
    # GHCR
    (
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"',
        [("bearer", {"realm": "https://ghcr.io/token", "service": "ghcr.io",
                     "scope": "repository:user/image:pull"})],
    ),
    # Quay
    (
        'Bearer realm="https://quay.io/v2/auth",service="quay.io"',
        [("bearer", {"realm": "https://quay.io/v2/auth", "service": "quay.io"})],
    ),
    # Harbor: comma inside the quoted scope
    (
        'Bearer realm="https://harbor.example.com/service/token",service="harbor-registry",'
        'scope="repository:library/nginx:pull,push"',
        [("bearer", {"realm": "https://harbor.example.com/service/token",
                     "service": "harbor-registry",
                     "scope": "repository:library/nginx:pull,push"})],
    ),
    # ECR answers with Basic
    (
        'Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",'
        'service="ecr.amazonaws.com"',
        [("basic", {"realm": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",
                    "service": "ecr.amazonaws.com"})],
    ),
    # Distribution htpasswd
    ('Basic realm="Registry Realm"', [("basic", {"realm": "Registry Realm"})]),
    # Azure ACR
    (
        'Bearer realm="https://myreg.azurecr.io/oauth2/token",service="myreg.azurecr.io"',
        [("bearer", {"realm": "https://myreg.azurecr.io/oauth2/token",
                     "service": "myreg.azurecr.io"})],
    ),
    # Distribution insufficient_scope, with several scopes separated by a space
    (
        'Bearer realm="https://auth.example/token",service="registry",'
        'scope="repository:a/b:pull repository:c:pull,push",error="insufficient_scope"',
        [("bearer", {"realm": "https://auth.example/token", "service": "registry",
                     "scope": "repository:a/b:pull repository:c:pull,push",
                     "error": "insufficient_scope"})],
    ),
    # token error with a description containing commas and spaces
    (
        'Bearer realm="https://a/t", error="invalid_token", '
        'error_description="The access token expired, get a new one"',
        [("bearer", {"realm": "https://a/t", "error": "invalid_token",
                     "error_description": "The access token expired, get a new one"})],
    ),
]

MULTIPLE: list[tuple[str, list[tuple[str, dict[str, str]]]]] = [
    (
        'Basic realm="r", Bearer realm="https://a/t",service="s"',
        [("basic", {"realm": "r"}), ("bearer", {"realm": "https://a/t", "service": "s"})],
    ),
    (
        'Bearer realm="https://a/t",scope="repository:x:pull,push", Basic realm="Registry"',
        [("bearer", {"realm": "https://a/t", "scope": "repository:x:pull,push"}),
         ("basic", {"realm": "Registry"})],
    ),
    # RFC 7235 section 4.1 example
    (
        'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
        [("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
         ("basic", {"realm": "simple"})],
    ),
    ('Bearer realm="x",Basic', [("bearer", {"realm": "x"}), ("basic", {})]),
    ("Negotiate, Basic", [("negotiate", {}), ("basic", {})]),
]

TOKEN68: list[tuple[str, list[tuple[str, dict[str, str]]]]] = [
    ("Basic dXNlcjpwYXNz", [("basic", {"": "dXNlcjpwYXNz"})]),
    ("Basic abc==", [("basic", {"": "abc=="})]),
    ("Negotiate YII+/x.y_z~", [("negotiate", {"": "YII+/x.y_z~"})]),
    ("Basic abc==, Bearer realm=\"r\"", [("basic", {"": "abc=="}), ("bearer", {"realm": "r"})]),
    ("Bearer", [("bearer", {})]),
]

WHITESPACE: list[tuple[str, list[tuple[str, dict[str, str]]]]] = [
    ('Bearer   realm = "x" ,  service="y"', [("bearer", {"realm": "x", "service": "y"})]),
    ('Bearer\trealm="x",\tservice="y"', [("bearer", {"realm": "x", "service": "y"})]),
    ('  Bearer realm="x"  ', [("bearer", {"realm": "x"})]),
    (', , Bearer realm="x",, ,service="y",', [("bearer", {"realm": "x", "service": "y"})]),
    ('BEARER REALM="x",Service=y', [("bearer", {"realm": "x", "service": "y"})]),
    ("bearer realm=abc", [("bearer", {"realm": "abc"})]),
    ('Bearer realm=""', [("bearer", {"realm": ""})]),
]

ESCAPES: list[tuple[str, list[tuple[str, dict[str, str]]]]] = [
    ('Bearer realm="a\\"b"', [("bearer", {"realm": 'a"b'})]),
    ('Bearer realm="a\\\\b"', [("bearer", {"realm": "a\\b"})]),
    ('Bearer realm="\\a\\b\\c"', [("bearer", {"realm": "abc"})]),
    ('Bearer realm="x, y = z", service="s"', [("bearer", {"realm": "x, y = z", "service": "s"})]),
    ('Bearer realm="Basic realm=\\"inner\\""', [("bearer", {"realm": 'Basic realm="inner"'})]),
]

MALFORMED = [
    'Bearer realm="unterminated',
    'Bearer realm="a\\',
    'Bearer realm="x" service="y"',  # missing comma
    "=Bearer",
    '"Bearer" realm="x"',
    "Bearer ;",
    'Bearer realm="x"\nservice="y"',
    'Bearer realm=,service="x"',
    'Bearer realm="x", ;',
    "Bearer realm=a:b",
    '@ realm="x"',
    'Bearer realm="x",service=',
]


def _as_tuples(challenges: list[Challenge]) -> list[tuple[str, dict[str, str]]]:
    return [(c.scheme, dict(c.params)) for c in challenges]


@pytest.mark.parametrize(
    ("header", "expected"),
    REAL_WORLD + MULTIPLE + TOKEN68 + WHITESPACE + ESCAPES,
    ids=lambda v: v[:50] if isinstance(v, str) else "",
)
def test_parse(header: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    assert _as_tuples(parse_challenges(header)) == expected


@pytest.mark.parametrize("header", MALFORMED)
def test_malformed_raises(header: str) -> None:
    with pytest.raises(ChallengeParseError):
        parse_challenges(header)


def test_malformed_is_a_value_error() -> None:
    assert issubclass(ChallengeParseError, ValueError)


@pytest.mark.parametrize("header", ["", "   ", ",", " , ,\t"])
def test_empty_header_has_no_challenges(header: str) -> None:
    assert parse_challenges(header) == []


def test_properties() -> None:
    [c] = parse_challenges(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"'
    )
    assert c.realm == "https://auth.example/token"
    assert c.service == "reg"
    assert c.scope == "repository:a:pull"
    [b] = parse_challenges("Basic")
    assert (b.realm, b.service, b.scope) == (None, None, None)


def test_challenge_is_hashable_and_comparable() -> None:
    a = parse_challenges('Bearer realm="x"')[0]
    b = parse_challenges('bearer REALM="x"')[0]
    assert a == b
    assert hash(a) == hash(b)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_raises_parse_error(header: str) -> None:
    try:
        result = parse_challenges(header)
    except ChallengeParseError:
        return
    assert isinstance(result, list)
    assert all(isinstance(c, Challenge) for c in result)
    assert all(c.scheme == c.scheme.lower() for c in result)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='Bearer realm="\\,= \tscopeBasic:/x', max_size=80))
def test_challenge_like_text_parses_or_raises_parse_error(header: str) -> None:
    try:
        result = parse_challenges(header)
    except ChallengeParseError:
        return
    assert isinstance(result, list)


_TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
_tokens = st.text(alphabet=_TCHAR, min_size=1, max_size=12)
_qd_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30
)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(_tokens, st.dictionaries(_tokens, _qd_text, min_size=1, max_size=4)),
        min_size=1,
        max_size=3,
    )
)
def test_round_trip_of_quoted_params(challenges: list[tuple[str, dict[str, str]]]) -> None:
    header = ", ".join(
        f"{scheme} " + ", ".join(f"{k}={_quote(v)}" for k, v in params.items())
        for scheme, params in challenges
    )
    assert _as_tuples(parse_challenges(header)) == challenges
