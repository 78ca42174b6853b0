"""Follow ``Link: <url>; rel="next"`` pages exactly as the registry gives them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TypeVar

from ._response import Answer
from .errors import RegistryResponseError

T = TypeVar("T")

_LINK_RE = re.compile(r'<([^>]*)>\s*((?:;\s*[^,;]+)*)')
_REL_RE = re.compile(r'rel\s*=\s*"?([^";]+)"?', re.I)
MAX_PAGES = 10_000
"""Pages followed at most: a registry linking to ever new pages is stopped here."""
MAX_ITEMS = 1_000_000
"""Tags or repositories read at most over all pages (memory stays bounded)."""


def next_link(resp: Answer) -> str | None:
    """The ``rel="next"`` target of a ``Link`` header, unresolved, or None."""
    header = resp.headers.get("Link")
    if not header:
        return None
    for m in _LINK_RE.finditer(header):
        rel = _REL_RE.search(m.group(2) or "")
        if rel and "next" in rel.group(1).lower().split():
            return m.group(1).strip()
    return None


def follow_pages(
    first_url: str,
    fetch: Callable[[str], tuple[T, str | None]],
    *,
    same_origin: Callable[[str], bool],
    resolve: Callable[[str, str], str],
    count: Callable[[T], int] = lambda _: 0,
) -> Iterator[T]:
    """Yield each page's value, following next links; refuse loops and other hosts.

    ``fetch(url)`` returns ``(value, next_link_or_None)``; ``count(value)`` is how
    many entries a page holds (at most ``MAX_ITEMS`` over all pages).

    Raises:
        RegistryResponseError: a link points to another host or back to a page already
            seen, or the pages go on past ``MAX_PAGES`` pages or ``MAX_ITEMS`` entries.
    """
    url: str | None = first_url
    seen: set[str] = set()
    items = 0
    while url is not None:
        if url in seen:
            raise RegistryResponseError(f"pagination loop: the registry linked back to {url}")
        if len(seen) >= MAX_PAGES:
            raise RegistryResponseError(
                f"the registry's pages go on past {MAX_PAGES} pages: stopped at {url}")
        seen.add(url)
        value, link = fetch(url)
        items += count(value)
        if items > MAX_ITEMS:
            raise RegistryResponseError(
                f"the registry's pages go on past {MAX_ITEMS} entries: stopped at {url}")
        yield value
        if link is None:
            return
        nxt = resolve(link, url)
        if not same_origin(nxt):
            raise RegistryResponseError(
                "pagination Link points to another host; refusing to follow it with credentials"
            )
        url = nxt
