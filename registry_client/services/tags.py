"""TagService: list tags (every page), resolve them to digests, delete one tag.

The protocol is written once, as flows (:class:`TagFlows`); :class:`TagService` runs
them with the blocking shell, ``registry_client.aio`` with the asyncio one.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Literal, overload

from .. import models
from .._flow import Endpoint, Flow, Gather
from .._http import parse_json
from .._lazy import cached_property
from .._log import log
from .._pagination import Pager, every_page, next_link
from .._vanished import tag_vanished
from ..errors import InvalidReferenceError, NotFoundError, RegistryResponseError
from ..models import TagPage
from ..quirks import max_page_size
from ..reference import check_tag, is_valid_digest
from ..requester import Requester
from ._base import Service

if TYPE_CHECKING:
    from ..models import Descriptor
    from ._tag_delete import BlobFlowsLike, TagDeleter
    from .blobs import BlobService
    from .manifests import ManifestFlows, ManifestService

MAX_TAGS_PER_PAGE = 100_000


def parse_tag_page(data: bytes, *, repository: str) -> tuple[str, list[str]]:
    """Validate a ``tags/list`` body and return ``(name, tags)``.

    Raises:
        RegistryResponseError: the body is not a tag list, has more than
            ``MAX_TAGS_PER_PAGE`` tags, or a tag that breaks the tag grammar.
    """
    doc = parse_json(data, what=f"tag list of {repository}")
    if not isinstance(doc, dict):
        raise RegistryResponseError(f"tag list of {repository}: expected a JSON object")
    tags = doc.get("tags")
    if tags is None:
        tags = []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise RegistryResponseError(f"tag list of {repository}: 'tags' is not a list of strings")
    if len(tags) > MAX_TAGS_PER_PAGE:
        raise RegistryResponseError(
            f"tag list of {repository}: {len(tags)} tags in one page exceeds {MAX_TAGS_PER_PAGE}"
        )
    for tag in tags:  # a tag is later used in URLs and file names: grammar first
        try:
            check_tag(tag)
        except InvalidReferenceError:
            raise RegistryResponseError(
                f"tag list of {repository}: the registry sent an invalid tag {tag[:140]!r}"
            ) from None
    name = doc.get("name", repository)
    return (name if isinstance(name, str) else repository), tags


class TagFlows(Service):
    """The flows of :class:`TagService`: what its methods send and what the answers
    mean, for both flavours of the API. Listings are :class:`Pager` objects (the flow of
    each page in turn), so each flavour iterates them its own way.

    ``manifests`` and ``blobs`` make the repository's manifest and blob flows when
    first needed (digests, deletes): listing tags loads neither.
    """

    def __init__(
        self, requester: Endpoint, repository: str, *, manifests: Callable[[], ManifestFlows],
        blobs: Callable[[], BlobFlowsLike], max_workers: int = 4,
    ) -> None:
        super().__init__(requester, repository)
        self._make_manifests = manifests
        self._make_blobs = blobs
        self._max_workers = max(1, max_workers)

    @cached_property
    def _manifests(self) -> ManifestFlows:
        return self._make_manifests()

    @cached_property
    def _deleter(self) -> TagDeleter:
        # heavy (the tombstone manifest's models, uuid): loaded by the first tag delete
        from ._tag_delete import TagDeleter

        return TagDeleter(self._endpoint, self.repository, manifests=self._manifests,
                          blobs=self._make_blobs(), listed=self._all)

    def _fetch(
        self, url: str, params: dict[str, str] | None = None,
    ) -> Flow[tuple[TagPage, str | None]]:
        resp = yield from self._call(
            "GET", url, operation="list tags", params=params, absolute=True,
        )
        name, tags = parse_tag_page(resp.content, repository=self.repository)
        link = next_link(resp)
        return TagPage(name=name, tags=tags, last=(tags[-1] if link and tags else None)), link

    def list(self, n: int | None = None, last: str | None = None) -> Flow[TagPage]:
        """The flow of :meth:`TagService.list`."""
        params: dict[str, str] = {}
        n = max_page_size(self._endpoint.host, n)
        if n is not None:
            params["n"] = str(int(n))
        if last is not None:
            params["last"] = last
        page, _ = yield from self._fetch(self._endpoint.url(f"{self.repository}/tags/list"),
                                         params)
        return page

    def pages(self, page_size: int | None = None) -> Pager[TagPage]:
        """The pages of :meth:`TagService.pages`, one flow each."""
        url = self._endpoint.url(f"{self.repository}/tags/list")
        page_size = max_page_size(self._endpoint.host, page_size)
        if page_size is not None:
            url += f"?n={int(page_size)}"
        return Pager(url, self._fetch, self._endpoint, count=lambda page: len(page.tags))

    @overload
    def get_all(self, with_digests: Literal[False] = False) -> Flow[builtins.list[str]]: ...
    @overload
    def get_all(self, with_digests: Literal[True]) -> Flow[dict[str, str]]: ...
    @overload
    def get_all(self, with_digests: bool) -> Flow[builtins.list[str] | dict[str, str]]: ...

    def get_all(self, with_digests: bool = False) -> Flow[builtins.list[str] | dict[str, str]]:
        """The flow of :meth:`TagService.get_all`."""
        return self._digests_of_all() if with_digests else self._all()

    def _all(self) -> Flow[builtins.list[str]]:
        pages = yield from every_page(self.pages())
        return [tag for page in pages for tag in page.tags]

    def _digests_of_all(self) -> Flow[dict[str, str]]:
        tags = yield from self._all()
        return (yield from self.digests(tags))

    def digests(self, tags: Iterable[str]) -> Flow[dict[str, str]]:
        """The flow of :meth:`TagService.digests`."""
        names = [check_tag(t) for t in tags]
        found = yield Gather([partial(self._digest_or_none, tag) for tag in names],
                             self._max_workers)
        return {tag: d for tag, d in zip(names, found, strict=True) if d is not None}

    def _digest_or_none(self, tag: str) -> Flow[str | None]:
        desc = yield from self.find(tag)
        if desc is None:
            log.warning("%s/%s:%s vanished (deleted since the tag list was read): left out",
                        self.domain, self.repository, tag, extra={"summarized": True})
            return None
        return desc.digest

    def find(self, reference: str) -> Flow[Descriptor | None]:
        """The flow of :meth:`TagService.find`."""
        base = self._endpoint.base_url
        try:
            return (yield from self._manifests.head(reference))
        except NotFoundError as exc:
            if not tag_vanished(exc, base, self.repository, reference):
                raise
            if exc.method != "HEAD":  # a GET fallback inside head() already said so
                return None
        try:
            raw = yield from self._manifests.get_raw(reference)
        except NotFoundError as again:
            if not tag_vanished(again, base, self.repository, reference):
                raise
            return None
        return models.Descriptor(media_type=raw.media_type, digest=raw.digest,
                                 size=len(raw.data))

    def delete(self, tag: str) -> Flow[None]:
        """The flow of :meth:`TagService.delete`."""
        if isinstance(tag, str) and is_valid_digest(tag):
            raise InvalidReferenceError(
                f"expected a tag, got the digest {tag[:140]!r}: tags.delete removes one tag; "
                "images.delete_by_digest deletes a manifest by digest (with every tag on it)")
        check_tag(tag)
        yield from self._deleter.delete(tag)

    def delete_at(self, tag: str, digest: str) -> Flow[bool]:
        """Remove ``tag`` if it still names ``digest``: False when the delete found it
        pushed again meanwhile, and left it alone (retention's delete)."""
        check_tag(tag)
        return (yield from self._deleter.delete(tag, at=digest))


class TagService(Service):
    """List and delete the tags of one repository."""

    def __init__(
        self, requester: Requester, repository: str, *, manifests: Callable[[], ManifestService],
        blobs: Callable[[], BlobService], max_workers: int = 4,
    ) -> None:
        super().__init__(requester, repository)
        self.flows = TagFlows(requester, repository, manifests=lambda: manifests().flows,
                              blobs=lambda: blobs().flows, max_workers=max_workers)

    def list(self, n: int | None = None, last: str | None = None) -> TagPage:
        """One page of tags: ``TagPage(name, tags, last)``; ``last`` is None on the final page.

        Raises:
            NotFoundError: the repository does not exist.
        """
        return self._run(self.flows.list(n, last))

    def pages(self, page_size: int | None = None) -> Iterator[TagPage]:
        """Every page of tags (``TagPage``), following the registry's ``Link`` header as
        given; each page is read when the iterator is asked for it.

        Raises:
            NotFoundError: the repository does not exist.
        """
        yield from self._run_pages(self.flows.pages(page_size))

    def iter(self, page_size: int | None = None) -> Iterator[str]:
        """Every tag, page after page, following the registry's ``Link`` header as given.

        Raises:
            NotFoundError: the repository does not exist.
        """
        return (tag for page in self.pages(page_size) for tag in page.tags)

    @overload
    def get_all(self, with_digests: Literal[False] = False) -> builtins.list[str]: ...
    @overload
    def get_all(self, with_digests: Literal[True]) -> dict[str, str]: ...

    def get_all(self, with_digests: bool = False) -> builtins.list[str] | dict[str, str]:
        """Every tag; with ``with_digests=True`` a dict tag -> manifest digest.

        Digests come from one HEAD per tag, run in parallel (``max_workers``). A tag
        deleted between the list and its HEAD is left out and logged (see
        :meth:`digests`).

        Raises:
            NotFoundError: the repository does not exist.
        """
        return self._run(self.flows.get_all(with_digests))

    def digests(self, tags: Iterable[str]) -> dict[str, str]:
        """The manifest digest of each of ``tags``: one HEAD per tag, in parallel.

        On a busy registry a tag may be deleted after it was listed: a tag whose
        manifest answers 404 (``MANIFEST_UNKNOWN``) is left out of the dict and
        logged as vanished, never an error. A tag pushed again meanwhile gets its
        new digest.

        Raises:
            NotFoundError: the repository does not exist (``NAME_UNKNOWN``).
            InvalidReferenceError: a name is not a tag.
        """
        return self._run(self.flows.digests(tags))

    def find(self, reference: str) -> Descriptor | None:
        """The descriptor of ``reference``'s manifest, or None when it is gone (deleted).

        For a tag read from a listing a moment ago, on a busy registry: the one rule
        for "is this listed tag (or manifest) still there", used by :meth:`digests`,
        ``retention.apply`` and ``Repository.delete``. A HEAD, and when it answers
        404 -- no body, so no error code -- one GET that tells a gone tag
        (``MANIFEST_UNKNOWN``) from a gone repository (``NAME_UNKNOWN``, raised) and
        from a HEAD a proxy or registry gets wrong (the GET serves the manifest).

        Raises:
            NotFoundError: the repository does not exist.
        """
        return self._run(self.flows.find(reference))

    def delete(self, tag: str) -> None:
        """Remove this one tag; other tags on the same manifest stay.

        Uses the registry's tag DELETE where it exists; otherwise points the tag
        at a unique throw-away manifest and deletes that by digest. A delete whose
        answer was lost and that is found done on the retry is done; a tag whose
        delete may have happened is never put back. A delete stopped between the
        two (Ctrl-C, a cancelled task) leaves the tag naming the empty throw-away
        manifest: delete it again (``retention`` plans such a tag to go).

        Raises:
            NotFoundError: the tag does not exist.
            InvalidReferenceError: ``tag`` is not a tag (a digest, a reference).
        """
        return self._run(self.flows.delete(tag))
