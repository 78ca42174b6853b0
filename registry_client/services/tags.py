"""TagService: list tags (every page), resolve them to digests, delete one tag."""

from __future__ import annotations

import builtins
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Literal, overload

from .. import mediatypes
from .._digest import compute_digest
from .._http import parse_json
from .._log import log
from .._pagination import follow_pages, next_link
from .._vanished import tag_vanished
from ..errors import InvalidReferenceError, NotFoundError, RegistryError, RegistryResponseError
from ..models import Descriptor, RawManifest, TagPage
from ..quirks import hub_refuses_deletes, max_page_size
from ..reference import check_tag, is_valid_digest
from ._base import Service

if TYPE_CHECKING:
    from ..requester import Requester
    from .blobs import BlobService
    from .manifests import ManifestService


MAX_TAGS_PER_PAGE = 100_000
_EMPTY_CONFIG = b"{}"
_TOMBSTONE_ROUNDS = 3


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


class TagService(Service):
    """List and delete the tags of one repository."""

    def __init__(
        self, requester: Requester, repository: str, *, manifests: ManifestService,
        blobs: BlobService, max_workers: int = 4,
    ) -> None:
        super().__init__(requester, repository)
        self._manifests = manifests
        self._blobs = blobs
        self._max_workers = max(1, max_workers)

    def _fetch(self, url: str, params: dict[str, str] | None = None) -> tuple[TagPage, str | None]:
        resp = self._request(
            "GET", url, operation="list tags", params=params, absolute=True,
        )
        name, tags = parse_tag_page(resp.content, repository=self.repository)
        link = next_link(resp)
        return TagPage(name=name, tags=tags, last=(tags[-1] if link and tags else None)), link

    def list(self, n: int | None = None, last: str | None = None) -> TagPage:
        """One page of tags: ``TagPage(name, tags, last)``; ``last`` is None on the final page.

        Raises:
            NotFoundError: the repository does not exist.
        """
        params: dict[str, str] = {}
        n = max_page_size(self._requester.host, n)
        if n is not None:
            params["n"] = str(int(n))
        if last is not None:
            params["last"] = last
        page, _ = self._fetch(self._requester.url(f"{self.repository}/tags/list"), params)
        return page

    def _pages(self, page_size: int | None) -> Iterator[TagPage]:
        url = self._requester.url(f"{self.repository}/tags/list")
        page_size = max_page_size(self._requester.host, page_size)
        if page_size is not None:
            url += f"?n={int(page_size)}"
        return follow_pages(
            url, self._fetch, same_origin=self._requester.same_origin,
            resolve=lambda link, base: self._requester.resolve(link, base),
            count=lambda page: len(page.tags),
        )

    def iter(self, page_size: int | None = None) -> Iterator[str]:
        """Every tag, page after page, following the registry's ``Link`` header as given.

        Raises:
            NotFoundError: the repository does not exist.
        """
        for page in self._pages(page_size):
            yield from page.tags

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
        tags = list(self.iter())
        if not with_digests:
            return tags
        return self.digests(tags)

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
        names = [check_tag(t) for t in tags]
        if not names:
            return {}
        from concurrent.futures import ThreadPoolExecutor  # cold start: threads when HEADs run

        with ThreadPoolExecutor(max_workers=min(self._max_workers, len(names))) as pool:
            found = list(pool.map(self._digest_or_none, names))
        return {tag: d for tag, d in zip(names, found, strict=True) if d is not None}

    def _digest_or_none(self, tag: str) -> str | None:
        desc = self.find(tag)
        if desc is None:
            log.warning("%s/%s:%s vanished (deleted since the tag list was read): left out",
                        self.domain, self.repository, tag, extra={"summarized": True})
            return None
        return desc.digest

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
        base = self._requester.base_url
        try:
            return self._manifests.head(reference)
        except NotFoundError as exc:
            if not tag_vanished(exc, base, self.repository, reference):
                raise
            if exc.method != "HEAD":  # a GET fallback inside head() already said so
                return None
        try:
            raw = self._manifests.get_raw(reference)
        except NotFoundError as again:
            if not tag_vanished(again, base, self.repository, reference):
                raise
            return None
        return Descriptor(media_type=raw.media_type, digest=raw.digest, size=len(raw.data))

    def delete(self, tag: str) -> None:
        """Remove this one tag; other tags on the same manifest stay.

        Uses the registry's tag DELETE where it exists; otherwise points the tag
        at a unique throw-away manifest and deletes that by digest. A delete whose
        answer was lost and that is found done on the retry is done; a tag whose
        delete may have happened is never put back.

        Raises:
            NotFoundError: the tag does not exist.
            InvalidReferenceError: ``tag`` is not a tag (a digest, a reference).
        """
        if isinstance(tag, str) and is_valid_digest(tag):
            raise InvalidReferenceError(
                f"expected a tag, got the digest {tag[:140]!r}: tags.delete removes one tag; "
                "images.delete_by_digest deletes a manifest by digest (with every tag on it)")
        check_tag(tag)
        caps = self._requester.capabilities
        if caps.get("tag_delete") is not False:
            try:
                self._request(
                    "DELETE", f"manifests/{tag}", actions="delete",
                    operation=f"delete tag {tag}", expected=(200, 202, 204),
                )
                caps["tag_delete"] = True
                return
            except NotFoundError:
                raise
            except RegistryResponseError as exc:
                # Distribution 2.8 answers 400 DIGEST_INVALID / 405 UNSUPPORTED to a
                # DELETE by tag: fall back (and remember it for this registry).
                # https://github.com/distribution/distribution/issues/1566
                if exc.status_code not in (400, 405) or hub_refuses_deletes(
                        self._requester.host, exc):
                    raise  # (Docker Hub: never a tombstone over a live tag there)
                caps["tag_delete"] = False
        try:
            self._delete_by_tombstone(tag)
        except RegistryError as exc:
            if not exc.message.startswith(f"delete tag {tag}"):
                exc.with_context(f"delete tag {tag}: {exc.message}")
            raise

    def _delete_by_tombstone(self, tag: str) -> None:
        """Point ``tag`` at a unique throw-away manifest, then delete that by digest.

        Distribution deletes the manifest first and untags second: a delete that
        races another (its 500 ``invalid checksum digest format``, or an answer that
        was lost) may have deleted the manifest and left the tag naming nothing. So
        when the delete's outcome was not a plain success the dance is done again
        on the same tag while the tag list still has the tag and it names nothing.
        """
        original = self._manifests.get_raw(tag)  # NotFoundError for a missing tag
        self._blobs.upload(_EMPTY_CONFIG)
        for round_ in range(_TOMBSTONE_ROUNDS):
            digest = self._manifests.put(tag, _tombstone(tag))
            try:
                resp = self._request(
                    "DELETE", f"manifests/{digest}", actions="delete",
                    operation=f"delete tag {tag} (throw-away manifest {digest})",
                    expected=(200, 202, 204), retry_if=_racing_delete,
                )
                if resp.status_code != 404:
                    return
            except RegistryError as exc:
                # returns only when the throw-away manifest is gone: deleted after all
                self._failed_delete(exc, tag, digest, original, may_restore=round_ == 0)
            # Found done after a lost answer or a racing delete's 500: the registry may
            # have deleted the manifest without untagging it. Go round again only then.
            if not self._left_dangling(tag, digest):
                return
        log.warning("delete tag %s in %s: the registry kept losing or failing its answers; "
                    "the tag may still be listed without a manifest", tag, self.repository)

    def _left_dangling(self, tag: str, digest: str) -> bool:
        """After a delete only found done: is ``tag`` still listed, naming nothing?

        HEAD of the tag cannot tell: it is 404 both for a tag that is gone and for
        one left naming a deleted manifest. The tag list can: a tag untagged by the
        delete is not listed any more (nor is any tag of a repository gone with it).
        A listed tag naming another manifest was pushed again meanwhile: not ours.
        """
        try:
            if tag not in self.iter():
                return False
        except NotFoundError:
            return False
        except RegistryError as exc:  # the delete is done; another round would be a guess
            log.warning("delete tag %s in %s: done, but whether the tag is still listed "
                        "without a manifest could not be checked (%s)",
                        tag, self.repository, exc.message)
            return False
        try:
            return self._manifests.head(tag).digest == digest
        except NotFoundError:
            return True

    def _failed_delete(self, exc: RegistryError, tag: str, digest: str,
                       original: RawManifest, *, may_restore: bool) -> None:
        """After the throw-away manifest's delete failed: was it deleted all the same?

        Gone (an earlier attempt did it, its answer lost): return, the delete is done.
        Still there: the registry refused (deletes disabled, no delete right...) or never
        answered, so put the tag back where it was (first round only) and raise.
        Unknown: raise without putting anything back -- the delete may have happened.
        """
        try:
            self._manifests.head(digest)
            still_there: bool | None = True
        except NotFoundError:
            return
        except RegistryError:
            still_there = None
        if not still_there or not may_restore:
            exc.with_context(
                f"{exc.message}; the delete may have happened, so the tag was not put back "
                f"on {original.digest} (it names the throw-away manifest {digest} unless "
                "the delete went through)")
            raise exc
        try:
            self._manifests.put(tag, original)
        except RegistryError as put_exc:
            exc.with_context(
                f"delete tag {tag}: {exc.message}; the tag now names a throw-away manifest "
                f"and could not be put back on {original.digest} ({put_exc.message})")
            raise exc from None
        # No answer at all (timeouts, resets) is no refusal: say what is known.
        what = ("the registry refused the delete" if exc.status_code is not None else
                "the delete could not be confirmed (no answer; the throw-away manifest "
                "was still there)")
        exc.with_context(f"delete tag {tag}: {what}, the tag is left as it was ({exc.message})")
        raise exc


def _racing_delete(exc: RegistryError) -> bool:
    """Distribution's 500 when deletes race, retried like a 502-504.

    Deleting a manifest, Distribution 2.8 deletes it, then reads every tag link of the
    repository to untag the ones naming it; a link another request is writing reads
    empty ("invalid checksum digest format" in its log, a bare ``UNKNOWN`` 500 on the
    wire). The manifest is gone by then, its tags may not be. The throw-away manifest
    is ours alone, so any 500 on its delete is safe to retry.
    """
    return exc.status_code == 500


def _tombstone(tag: str) -> RawManifest:
    """A unique, valid, empty OCI manifest to move ``tag`` to before deleting it."""
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": {
            "mediaType": mediatypes.OCI_EMPTY,
            "digest": compute_digest(_EMPTY_CONFIG),
            "size": len(_EMPTY_CONFIG),
        },
        "layers": [],
        "annotations": {
            "io.registry-client.tombstone": f"{tag} {uuid.uuid4()} {time.time()}",
        },
    }
    data = json.dumps(doc, separators=(",", ":")).encode()
    return RawManifest(data=data, media_type=mediatypes.OCI_MANIFEST,
                       digest=compute_digest(data))
