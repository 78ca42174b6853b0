"""Paging (_pagination): the next page from a Link header, and following pages safely."""

from __future__ import annotations

import io

import pytest
import requests
import urllib3

from registry_client._pagination import follow_pages, next_link
from registry_client.errors import RegistryResponseError


def raw_response(headers: dict[str, str]) -> requests.Response:
    r = requests.Response()
    r.status_code = 200
    r.raw = urllib3.HTTPResponse(body=io.BytesIO(b""), preload_content=False)
    r.headers.update(headers)
    r.url = "https://registry.example/v2/app/tags/list"
    return r


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('</v2/app/tags/list?n=2&last=b>; rel="next"', "/v2/app/tags/list?n=2&last=b"),
        ("</v2/x?last=b>; rel=next", "/v2/x?last=b"),
        ('<https://h/v2/x?nextToken=a%2Fb%3D%3D>; rel="next"', "https://h/v2/x?nextToken=a%2Fb%3D%3D"),
        ('</prev>; rel="prev", </next>; rel="next"', "/next"),
        ('</a>; title="x"; rel="next"', "/a"),
        ('</a>; rel="prev"', None),
        ("", None),
        ("garbage", None),
    ],
)
def test_next_link(header: str, expected: str | None) -> None:
    resp = raw_response(headers={"Link": header} if header else {})
    assert next_link(resp) == expected


def test_follow_pages() -> None:
    pages = {
        "https://h/1": ("one", "/2"),
        "https://h/2": ("two", "https://h/3"),
        "https://h/3": ("three", None),
    }
    fetched: list[str] = []

    def fetch(url: str) -> tuple[str, str | None]:
        fetched.append(url)
        return pages[url]

    out = list(follow_pages(
        "https://h/1", fetch, same_origin=lambda u: u.startswith("https://h/"),
        resolve=lambda link, base: requests.compat.urljoin(base, link),
    ))
    assert out == ["one", "two", "three"]
    assert fetched == ["https://h/1", "https://h/2", "https://h/3"]


def test_follow_pages_refuses_loop_and_other_host() -> None:
    def loop(url: str) -> tuple[str, str | None]:
        return url, "/1" if url.endswith("/2") else "/2"

    it = follow_pages(
        "https://h/1", loop, same_origin=lambda u: True,
        resolve=lambda link, base: requests.compat.urljoin(base, link),
    )
    assert next(it) == "https://h/1"
    assert next(it) == "https://h/2"
    with pytest.raises(RegistryResponseError):
        next(it)

    def away(url: str) -> tuple[str, str | None]:
        return url, "https://evil/next"

    it = follow_pages(
        "https://h/1", away, same_origin=lambda u: u.startswith("https://h/"),
        resolve=lambda link, base: requests.compat.urljoin(base, link),
    )
    assert next(it) == "https://h/1"
    with pytest.raises(RegistryResponseError):
        next(it)
