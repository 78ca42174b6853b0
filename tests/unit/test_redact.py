"""What is secret and how it is masked: the one policy the library and the CLI share."""

from __future__ import annotations

import pytest

from registry_client._redact import (
    MASK,
    SAFE_PARAMS,
    SECRET_HEADERS,
    SECRET_NAMES,
    Redactor,
    hide_userinfo,
    is_secret_header,
    is_secret_param,
    redact_url,
)


# -- redact_url: the library's errors and log lines -------------------------------------------
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@host.example/v2/", "https://host.example/v2/"),
        ("https://h/x?token=abc&n=2", "https://h/x?token=***&n=2"),
        ("https://h/x?access_token=abc", "https://h/x?access_token=***"),
        ("https://h/x?refresh_token=abc", "https://h/x?refresh_token=***"),
        ("https://h/x?password=abc", "https://h/x?password=***"),
        ("https://h/x?X-Amz-Signature=abc&X-Amz-Credential=c", None),
        ("https://h/x?sig=abc", "https://h/x?sig=***"),
        ("https://h/x?_state=abc", "https://h/x?_state=***"),
        ("https://h/x#frag", "https://h/x"),
        ("", ""),
        (None, ""),
    ],
)
def test_redact_url(url: str | None, expected: str | None) -> None:
    out = redact_url(url)
    if expected is not None:
        assert out == expected
    assert "abc" not in out
    assert "pw" not in out


def test_redact_url_hides_aws_session_token() -> None:
    """Presigned S3 URLs (ECR layer redirects) carry X-Amz-Security-Token, an STS credential."""
    url = ("https://bucket.s3.amazonaws.com/layer?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=AKIA%2F20240101&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLESESSION"
           "&X-Amz-Signature=deadbeef")
    out = redact_url(url)
    assert "deadbeef" not in out
    assert "FwoGZXIvYXdzEXAMPLESESSION" not in out


def test_redact_url_hides_docker_hub_s_cdn_signature() -> None:
    """Docker Hub redirects a blob GET to its CDN with ``?verify=<expiry>-<HMAC>``: a
    signature granting the blob (of a private repository too) until it expires."""
    url = ("https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/"
           "sha256/bd/bd78/data?verify=1724734283-ITrxFiQ6E1kMHc3ytWgG0DK8WNQ%3D")
    for shown in (redact_url(url), Redactor()(f'"GET {url} HTTP/1.1" 200 409'),
                  Redactor().url(url)):
        assert "ITrxFiQ6E1kMHc3ytWgG0DK8WNQ" not in shown
        assert "production.cloudflare.docker.com/registry-v2/" in shown


@pytest.mark.parametrize("text", [
    "verify= names a CA bundle to trust, verify=False skips the check",
    "skopeo copy --src-tls-verify=false --dest-tls-verify=true",
    "tls-verify: false",
])
def test_verify_is_masked_only_as_a_signature(text: str) -> None:
    """The library's own TLS advice and skopeo's flags came out as "verify=***"."""
    assert Redactor()(text) == text


def test_redact_url_keeps_the_parameters_an_error_is_about() -> None:
    url = "https://h/v2/a/referrers/sha256:ab?artifactType=application/x&n=2&last=b"
    assert redact_url(url) == url


def test_redact_url_of_an_unparsable_url() -> None:
    assert redact_url("https://[::1/v2/") == "<unparsable url>"


@pytest.mark.parametrize(
    ("name", "secret"),
    [("token", True), ("X-Amz-Security-Token", True), ("X-Goog-Credential", True),
     ("db_password", True), ("client_secret", True), ("sig", True), ("_state", True),
     ("n", False), ("last", False), ("digest", False), ("artifactType", False),
     ("X-Amz-Date", False)],
)
def test_is_secret_param(name: str, secret: bool) -> None:
    assert is_secret_param(name) is secret


@pytest.mark.parametrize("name", ["Authorization", "proxy-authorization", "COOKIE", "Set-Cookie"])
def test_credential_headers_are_secret(name: str) -> None:
    assert is_secret_header(name)


@pytest.mark.parametrize("name", ["WWW-Authenticate", "Location", "Docker-Content-Digest"])
def test_other_headers_are_not_secret(name: str) -> None:
    assert not is_secret_header(name)


# -- hide_userinfo: a domain the user typed, quoted back -------------------------------------
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("alice:s3cret@host:5000", "***@host:5000"),
        ("https://alice:s3cret@host/v2/", "https://***@host/v2/"),
        ("host:5000/a@b", "host:5000/a@b"),  # an @ after the first / is no user info
        ("[::1]:5000", "[::1]:5000"),
        ("host", "host"),
    ],
)
def test_hide_userinfo(text: str, shown: str) -> None:
    assert hide_userinfo(text) == shown


# -- Redactor: the CLI's log and -v trace ----------------------------------------------------
@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("{'Authorization': 'Basic YWxpY2U6c2VjcmV0'}", "YWxpY2U6c2VjcmV0"),
        ("sent bearer opaque-token-123 to x", "opaque-token-123"),
        ("token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln here", "eyJhbGciOiJFUzI1NiJ9"),
        ("GET /token?refresh_token=r3fr3sh&scope=x", "r3fr3sh"),
        ('{"access_token": "tok-456"}', "tok-456"),
        ("the password is hunter2-long", "hunter2-long"),
    ],
)
def test_redactor_masks_credentials(text: str, secret: str) -> None:
    redact = Redactor(["hunter2-long"])
    assert secret not in redact(text)
    assert "***" in redact(text)


def test_redactor_keeps_challenges_and_harmless_query_values() -> None:
    redact = Redactor()
    challenge = 'Bearer realm="https://auth.example/token",service="registry"'
    assert redact(challenge) == challenge
    assert redact('Basic realm="Registry Realm"') == 'Basic realm="Registry Realm"'
    url = redact.url("https://u:p@h/v2/a/tags/list?n=10&last=b&X-Amz-Signature=s3cr3t")
    assert url == "https://h/v2/a/tags/list?n=10&last=b&X-Amz-Signature=***"


def test_redactor_headers_mask_credentials_and_redirect_urls() -> None:
    lines = Redactor().headers({
        "Authorization": "Basic YWxpY2U6c2VjcmV0",
        "Set-Cookie": "session=abc",
        "Location": "https://s3.example/blob?X-Amz-Signature=deadbeef&digest=sha256:ab",
        "Content-Length": "12",
    })
    assert lines == [
        "Authorization: ***",
        "Set-Cookie: ***",
        "Location: https://s3.example/blob?X-Amz-Signature=***&digest=sha256:ab",
        "Content-Length: 12",
    ]


def test_redactor_ignores_empty_and_very_short_literal_secrets() -> None:
    redact = Redactor(["", "ab"])
    redact.add(None)
    assert redact("a tab and a cab") == "a tab and a cab"


def test_redactor_masks_the_longest_literal_secret_first() -> None:
    assert Redactor(["abc", "abcdef"])("x abcdef y") == f"x {MASK} y"


def test_the_trace_shows_only_safe_parameters() -> None:
    url = Redactor().url("https://h/v2/a/blobs/uploads/u?digest=sha256:ab&artifactType=x")
    assert url == "https://h/v2/a/blobs/uploads/u?digest=sha256:ab&artifactType=***"


# -- one policy: what the library masks, the CLI masks too -----------------------------------
@pytest.mark.parametrize("name", sorted(SECRET_NAMES))
def test_a_secret_name_is_masked_in_urls_and_in_text(name: str) -> None:
    assert is_secret_param(name)
    assert name not in SAFE_PARAMS
    assert "v4lue" not in redact_url(f"https://h/x?{name}=v4lue")
    assert "v4lue" not in Redactor().url(f"https://h/x?{name}=v4lue")
    assert "v4lue" not in Redactor()(f"{name}=v4lue")
    assert "v4lue" not in Redactor()(f'{{"{name}": "v4lue"}}')


@pytest.mark.parametrize("name", sorted(SECRET_HEADERS))
def test_a_secret_header_is_masked_by_the_trace(name: str) -> None:
    assert Redactor().headers({name.title(): "v4lue"}) == [f"{name.title()}: {MASK}"]


@pytest.mark.parametrize("text", [
    "--src-creds and --dest-creds both want a password from standard input, which holds "
    "one password: give the other as USER:PASSWORD",
    "get manifest 1 (h/app): Bearer challenge without realm: 'Bearer service=\"x\"'",
    "unsupported auth challenge 'Negotiate' (want Bearer or Basic)",
    "Bearer challenge with an unusable realm",
    "copy: no password: give it after a colon",
])
def test_redactor_keeps_words_that_only_follow_a_secret_name(text: str) -> None:
    """Plain words after 'Bearer', 'Basic' or 'password:' are prose, not credentials."""
    assert Redactor()(text) == text


@pytest.mark.parametrize(("text", "secret"), [
    ("Bearer dXNlcjpwYXNz in a message", "dXNlcjpwYXNz"),
    ("Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ("token bearer abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz"),
    ("password=s3cret&x=1", "s3cret"),
    ("password:plain", "plain"),
    ('{"password": "two words"}', "two words"),
])
def test_redactor_still_masks_credential_shaped_values(text: str, secret: str) -> None:
    assert secret not in Redactor()(text)
