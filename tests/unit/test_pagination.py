"""Paging (_pagination): the next page from a Link header, and following pages safely."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import urllib3

from registry_client._flow import Flow, run
from registry_client._pagination import Pager, every_page, next_link
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
        # RFC 8288: a quoted value may hold "," and ";" -- it neither ends the link nor
        # hides the rel after it
        ('</a?n=2&last=b>; title="a,b"; rel="next"', "/a?n=2&last=b"),
        ('</a>; title="x;rel=next", </b>; rel="next"', "/b"),
        ('</a>; title="a\\"b,c"; rel="next"', "/a"),
        # only the parameter named rel counts, not one whose name or value holds it
        ('</a>; xrel="next"', None),
        ('</a>; title="rel=next"', None),
        ('</a>; REL = "prev next"', "/a"),
        ('</a>; rel="prev"; rel="next"', None),  # the first rel only (RFC 8288 3.3)
        ('</a>; rel=next, garbage', "/a"),
        # an empty parameter is skipped (RFC 8288 appendix B.3), not the end of the link
        ('</a>; rel="next";', "/a"),
        ('</a>;; rel="next"', "/a"),
        ('</a>; ; rel="next" ;', "/a"),
    ],
)
def test_next_link(header: str, expected: str | None) -> None:
    resp = raw_response(headers={"Link": header} if header else {})
    assert next_link(resp) == expected


class FakeEndpoint:
    """The two things a Pager asks of its registry: resolve a link, and is it ours."""

    def __init__(self, same_origin: Callable[[str], bool]) -> None:
        self.same_origin = same_origin

    def resolve(self, location: str, base: str | None = None) -> str:
        return str(requests.compat.urljoin(base or "https://h/", location))


class NoEffects:
    """A performer for flows that yield nothing (their pages are plain values)."""

    def perform(self, effect: Any) -> Any:  # pragma: no cover - never asked
        raise AssertionError(f"unexpected effect {effect!r}")


def follow_pages(first: str, fetch: Callable[[str], tuple[str, str | None]], *,
                 same_origin: Callable[[str], bool]) -> Iterator[str]:
    """The pages of a Pager whose page flows are ``fetch`` answers, run as they are asked for."""
    def page(url: str) -> Flow[tuple[str, str | None]]:
        return fetch(url)
        yield  # a generator: a flow without effects

    pager: Pager[str] = Pager(first, page, FakeEndpoint(same_origin))  # type: ignore[arg-type]
    while (flow := pager.next()) is not None:
        yield run(flow, NoEffects())


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
    ))
    assert out == ["one", "two", "three"]
    assert fetched == ["https://h/1", "https://h/2", "https://h/3"]


def test_every_page_reads_them_all_in_one_flow() -> None:
    pages = {"https://h/1": ("one", "/2"), "https://h/2": ("two", None)}

    def page(url: str) -> Flow[tuple[str, str | None]]:
        return pages[url]
        yield

    pager: Pager[str] = Pager("https://h/1", page,
                              FakeEndpoint(lambda u: True))  # type: ignore[arg-type]
    assert run(every_page(pager), NoEffects()) == ["one", "two"]
    assert pager.next() is None


def test_follow_pages_refuses_loop_and_other_host() -> None:
    def loop(url: str) -> tuple[str, str | None]:
        return url, "/1" if url.endswith("/2") else "/2"

    it = follow_pages("https://h/1", loop, same_origin=lambda u: True)
    assert next(it) == "https://h/1"
    assert next(it) == "https://h/2"
    with pytest.raises(RegistryResponseError):
        next(it)

    def away(url: str) -> tuple[str, str | None]:
        return url, "https://evil/next"

    it = follow_pages("https://h/1", away, same_origin=lambda u: u.startswith("https://h/"))
    assert next(it) == "https://h/1"
    with pytest.raises(RegistryResponseError,  # (which listing, and where it led)
                       match=r"Link of https://h/1 points to another host \(https://evil/next\)"):
        next(it)
