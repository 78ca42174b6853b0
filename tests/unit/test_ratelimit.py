"""Docker Hub style rate limits: the headers parsed, and Registry's rate_limit and
check_rate_limit, driven through requests-mock."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import requests
import requests_mock

from registry_client import NullAuthenticator, Registry
from registry_client.ratelimit import RateLimit, parse_rate_limit


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make(domain: str, **kw: Any) -> tuple[Registry, requests_mock.Adapter]:
    session = requests.Session()
    adapter = requests_mock.Adapter()
    session.mount("https://", adapter)
    reg = Registry(domain, session=session, authenticator=NullAuthenticator(), retries=2,
                   backoff=0.0, **kw)
    return reg, adapter


@pytest.mark.parametrize(("headers", "expected"), [
    ({"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600",
      "docker-ratelimit-source": "1.2.3.4"}, RateLimit(100, 76, 21600, "1.2.3.4")),
    ({"ratelimit-limit": "200"}, RateLimit(200, None, None, None)),
    ({"ratelimit-limit": "lots"}, None),
    ({"ratelimit-limit": "²;w=1"}, None),
    ({}, None),
], ids=["hub", "limit-only", "garbage", "unicode-digit", "none"])
def test_parse_rate_limit(headers: dict[str, str], expected: RateLimit | None) -> None:
    assert parse_rate_limit(requests.structures.CaseInsensitiveDict(headers)) == expected


def test_rate_limit_is_updated_from_any_response_and_checked_with_a_head() -> None:
    reg, adapter = make("docker.io")
    url = "https://registry-1.docker.io/v2/library/alpine/manifests/latest"
    adapter.register_uri("HEAD", url, headers={
        "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "42;w=21600",
        "Docker-Content-Digest": sha256(b"m"), "Content-Length": "1",
        "Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
    assert reg.rate_limit is None
    limit = reg.check_rate_limit("alpine")
    assert limit == RateLimit(100, 42, 21600, None) == reg.rate_limit
    assert [r.method for r in adapter.request_history] == ["HEAD"]


def test_check_rate_limit_reports_this_answer_and_only_this_registry() -> None:
    reg, adapter = make("docker.io")
    url = "https://registry-1.docker.io/v2/library/alpine/manifests/latest"
    manifest = {"Docker-Content-Digest": sha256(b"m"), "Content-Length": "1",
                "Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}
    adapter.register_uri("HEAD", url, [
        {"headers": {"ratelimit-limit": "100;w=21600", **manifest}},
        {"headers": manifest},  # no limit now (a paid account, say)
    ])
    assert reg.check_rate_limit("alpine") is not None
    assert reg.check_rate_limit("library/alpine:latest") is None
    with pytest.raises(ValueError, match=r"ghcr\.io"):
        reg.check_rate_limit("ghcr.io/foo/bar")
    assert len(adapter.request_history) == 2


def test_check_rate_limit_reads_the_registry_of_a_reference_as_docker_does() -> None:
    """The domain split is parse_image_name's: an upper-case first component is a host."""
    reg, adapter = make("localhost:5000")
    with pytest.raises(ValueError, match="is on registry 'Team', not on 'localhost:5000'"):
        reg.check_rate_limit("Team/app:1")
    assert adapter.request_history == []
