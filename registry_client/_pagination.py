"""Follow ``Link: <url>; rel="next"`` pages exactly as the registry gives them.

The rules (which URL comes next, what is refused) live in :class:`Pager`, which hands
out the flow of each page in turn: the blocking API runs them as its iterator is
asked for pages (:func:`pages`), the asyncio API as its async iterator is
(``aio._listing.apages``), and a flow that needs every page reads them with
:func:`every_page`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ._flow import Endpoint, Flow, Performer, run
from ._headers import TOKEN_RE, quoted_string, skip_ws
from ._redact import redact_url
from ._response import Answer
from .errors import RegistryResponseError

__all__ = ["MAX_ITEMS", "MAX_PAGES", "Pager", "every_page", "next_link", "pages"]

T = TypeVar("T")

_BARE_VALUE_RE = re.compile(r'[^\s;,"]*')
MAX_PAGES = 10_000
"""Pages followed at most: a registry linking to ever new pages is stopped here."""
MAX_ITEMS = 1_000_000
"""Tags or repositories read at most over all pages (memory stays bounded)."""


def _links(header: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The links of a ``Link`` header (RFC 8288 3): each target with its parameters
    (names lower-cased, quoted values unquoted, the first of a name kept), up to where
    the header stops following the grammar."""
    i, n = 0, len(header)
    while True:
        i = skip_ws(header, i)
        while i < n and header[i] == ",":
            i = skip_ws(header, i + 1)
        end = header.find(">", i)
        if i >= n or header[i] != "<" or end < 0:
            return
        target, i = header[i + 1:end], end + 1
        params: dict[str, str] = {}
        while (i := skip_ws(header, i)) < n and header[i] == ";":
            name = TOKEN_RE.match(header, i := skip_ws(header, i + 1))
            if name is None:  # an empty parameter (";;", a last ";"): skipped
                continue
            i, value = skip_ws(header, name.end()), ""
            if i < n and header[i] == "=":
                i = skip_ws(header, i + 1)
                if header.startswith('"', i):
                    got = quoted_string(header, i)
                    if got is None:
                        return
                    value, i = got
                else:  # a token, read leniently (up to white space, ";" or ",")
                    bare = _BARE_VALUE_RE.match(header, i)
                    value, i = (bare.group(), bare.end()) if bare else ("", i)
            params.setdefault(name.group().lower(), value)
        yield target, params
        if i < n and header[i] != ",":
            return


def next_link(resp: Answer) -> str | None:
    """The ``rel="next"`` target of a ``Link`` header, unresolved, or None."""
    header = resp.headers.get("Link")
    if not header:
        return None
    for target, params in _links(header):
        if "next" in params.get("rel", "").lower().split():
            return target.strip()
    return None


class Pager(Generic[T]):
    """A paged listing, one page at a time: :meth:`next` is the flow of the next page.

    ``fetch(url)`` is the flow of one page: ``(value, next_link_or_None)``;
    ``count(value)`` is how many entries a page holds (at most ``MAX_ITEMS`` over
    all pages). Links are resolved against the page that sent them and followed
    only to the registry's own origin (``endpoint``). A pager is read once, in order.
    """

    def __init__(
        self,
        first_url: str,
        fetch: Callable[[str], Flow[tuple[T, str | None]]],
        endpoint: Endpoint,
        *,
        count: Callable[[T], int] = lambda _: 0,
    ) -> None:
        self._fetch = fetch
        self._endpoint = endpoint
        self._count = count
        self._next: tuple[str, str | None] | None = (first_url, None)  # (link, its page)
        self._seen: set[str] = set()
        self._items = 0

    def next(self) -> Flow[T] | None:
        """The flow of the next page's value; None after the last page.

        The flow raises RegistryResponseError when the link points to another host or
        back to a page already seen, or the pages go on past ``MAX_PAGES`` pages or
        ``MAX_ITEMS`` entries.
        """
        if self._next is None:
            return None
        link, base = self._next
        self._next = None
        return self._page(link, base)

    def _page(self, link: str, base: str | None) -> Flow[T]:
        url = link
        if base is not None:  # the first URL is ours; every later one is the registry's
            url = self._endpoint.resolve(link, base)
            if not self._endpoint.same_origin(url):
                raise RegistryResponseError(
                    f"the pagination Link of {redact_url(base)} points to another host "
                    f"({redact_url(url)}); refusing to follow it with credentials")
        if url in self._seen:
            raise RegistryResponseError(f"pagination loop: the registry linked back to {url}")
        if len(self._seen) >= MAX_PAGES:
            raise RegistryResponseError(
                f"the registry's pages go on past {MAX_PAGES} pages: stopped at {url}")
        self._seen.add(url)
        value, nxt = yield from self._fetch(url)
        self._items += self._count(value)
        if self._items > MAX_ITEMS:
            raise RegistryResponseError(
                f"the registry's pages go on past {MAX_ITEMS} entries: stopped at {url}")
        self._next = None if nxt is None else (nxt, url)
        return value


def every_page(pager: Pager[T]) -> Flow[list[T]]:
    """The flow of every page's value, in order (for a flow that needs them all)."""
    values: list[T] = []
    while (flow := pager.next()) is not None:
        values.append((yield from flow))
    return values


def pages(pager: Pager[T], performer: Performer) -> Iterator[T]:
    """Each page's value of ``pager``, its flow run by the blocking ``performer`` when
    the iterator is asked for it."""
    while (flow := pager.next()) is not None:
        yield run(flow, performer)
