"""Referrers (OCI 1.1): list them, attach artifacts, copy them along with an image.

Two ways to find the manifests whose ``subject`` is a digest:

* the referrers API, ``GET /v2/<name>/referrers/<digest>``, which answers an
  OCI index (an empty one when nothing refers to the digest);
* where a registry lacks it (it answers 404 as the spec says, Distribution 2.8
  does; Artifactory 406, others 400 or 405, or a 200 page that is no OCI index:
  crane reads these so too), the referrers tag schema: an OCI index kept under
  the tag ``<alg>-<hex>`` that clients update themselves whenever they push a
  manifest with a ``subject``.

See https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#listing-referrers
and ``#referrers-tag-schema``. A registry that lacks the API is remembered in
``requester.capabilities["referrers_api"]``, so the answer costs one round trip
per registry. The fallback index is kept by every write of the client, as the
distribution spec asks of clients: a manifest with a ``subject`` put where the
registry answers no ``OCI-Subject`` header is added to it (:meth:`ReferrerFlows.after_put`:
attach, copy, push and ``manifests.put`` alike), and a manifest deleted is taken out
of it (:meth:`ReferrerFlows.after_delete`). Updates of a fallback index are
read-modify-write: the threads or tasks of one process take turns (an
:class:`~registry_client._flow.Exclusive` per repository and subject: the copies
of one ``copy_all_tags`` or ``sync`` lost each other's entries), but when two
clients attach to the same subject at once, the last writer wins and the other
entry is lost from the index (the artifact itself stays pushed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode

import attrs

from .. import mediatypes, models
from .._digest import compute_digest
from .._flow import Endpoint, Exclusive, Flow
from .._http import unknown_named
from .._log import log
from .._pagination import Pager, next_link
from ..errors import NotFoundError, RegistryError, RegistryResponseError
from ..models import Descriptor, RawManifest, manifest_to_bytes
from ..models._mediatype import MAX_INDEX_ENTRIES
from ..reference import referrers_tag
from ..requester import Requester
from . import _light
from ._base import Service

if TYPE_CHECKING:  # the typed manifests load with the first referrers call
    from ..models import Manifest, OCIIndex

CAPABILITY = "referrers_api"
FILTER = "referrers_filter"
"""A capability remembered False when the referrers API refuses an ``artifactType`` filter."""

_NAMED_ROUNDS = 3
"""Puts of a referrers index that drop the entries the registry names as unknown, before
the last one (another client may delete one meanwhile)."""


_NO_API_STATUS = (400, 405, 406)
"""Statuses besides 404 that registries without the referrers API answer its first page
with (JFrog Artifactory: 406)."""


class _NoReferrersAPI(Exception):
    """The first referrers page was answered 200 with something that is no OCI index and
    does not say it is one: a catch-all page of a registry without the API."""


def _means_no_api(exc: RegistryError, *, known: bool) -> bool:
    """Whether an error answering the first referrers page means reading the referrers
    tag schema: a 404 (not NAME_UNKNOWN: the repository is unknown), or -- unless the
    registry is ``known`` to have the API, when it refuses this request alone -- a
    status of :data:`_NO_API_STATUS`."""
    if isinstance(exc, NotFoundError):
        return "NAME_UNKNOWN" not in exc.codes
    return not known and type(exc) is RegistryResponseError and exc.status_code in _NO_API_STATUS


class ManifestFlowsLike(Protocol):
    """What referrers use of a repository's ``ManifestFlows``."""

    def get_raw(self, reference: str) -> Flow[RawManifest]: ...
    def get(self, reference: str) -> Flow[Manifest]: ...
    def head(self, reference: str) -> Flow[Descriptor]: ...
    def put(self, reference: str, manifest: Manifest | RawManifest) -> Flow[str]: ...


def _index_of(data: bytes, what: str) -> OCIIndex:
    """The OCI index ``data`` (``what``: whose, for a message).

    Raises:
        RegistryResponseError: it is none (the message names ``what``).
    """
    from ..models._converter import referrers_index_from_bytes  # cattrs loads on first use

    try:
        return referrers_index_from_bytes(data)
    except RegistryResponseError as exc:
        raise RegistryResponseError(f"{what}: the answer is no OCI index ({exc})") from None


def _incomplete(entry: Descriptor) -> bool:
    """Whether a referrers index entry lacks the ``artifactType`` its manifest has."""
    return not entry.artifact_type and entry.media_type in (
        mediatypes.OCI_MANIFEST, mediatypes.OCI_INDEX)


def _filters_applied(value: str | None) -> set[str]:
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


def _of_type(found: list[Descriptor], artifact_type: str | None) -> list[Descriptor]:
    if artifact_type is None:
        return found
    return [d for d in found if d.artifact_type == artifact_type]


class ReferrerFlows(Service):
    """The referrers of one repository's manifests, as flows: listed from the referrers
    API or the referrers tag schema, and that schema's index kept up to date.

    ``manifests`` is the repository's ``ManifestFlows`` (it reads and writes the
    fallback index); whether the registry has the API is remembered on the requester.
    """

    def __init__(
        self, requester: Endpoint, repository: str, *, manifests: ManifestFlowsLike,
    ) -> None:
        super().__init__(requester, repository)
        self._manifests = manifests

    # -- listing ---------------------------------------------------------------------------
    def _api_page(
        self, url: str, digest: str, artifact_type: str | None, first: bool,
    ) -> Flow[tuple[list[Descriptor], str | None]]:
        resp = yield from self._call(
            "GET", url, absolute=True, operation=f"list referrers of {digest}",
            headers={"Accept": mediatypes.OCI_INDEX},
        )
        what = f"referrers of {digest} in {self.domain}/{self.repository}"
        try:
            found = _index_of(resp.content, what).manifests
        except RegistryResponseError:
            if first and self._endpoint.capabilities.get(CAPABILITY) is None \
                    and models.specific_type(
                        resp.headers.get("Content-Type")) != mediatypes.OCI_INDEX:
                raise _NoReferrersAPI from None
            raise
        if "artifacttype" not in _filters_applied(resp.headers.get("OCI-Filters-Applied")):
            # The registry did not filter (it need not): do it here.
            found = _of_type(found, artifact_type)
        return found, next_link(resp)

    def _from_api(self, digest: str, artifact_type: str | None) -> Flow[list[Descriptor] | None]:
        """The referrers from the API, every page; None when the registry has no such API."""
        first = self._endpoint.url(f"{self.repository}/referrers/{digest}")
        refused = self._endpoint.capabilities.get(FILTER) is False
        filtered = artifact_type is not None and not refused
        if filtered:
            first += "?" + urlencode({"artifactType": artifact_type})
        pages: list[list[Descriptor]] = []
        pager = Pager(first, lambda url: self._api_page(url, digest, artifact_type,
                                                        not pages), self._endpoint)
        try:
            while (flow := pager.next()) is not None:
                pages.append((yield from flow))
        except (RegistryError, _NoReferrersAPI) as exc:
            # A registry with the API answers 200 and an empty index when nothing refers
            # to the digest, so a 404 means: read the tag schema (Distribution 2.8's plain
            # "404 page not found") -- unless the repository is unknown (NAME_UNKNOWN); so
            # do the other answers of registries without it (_NO_API_STATUS, a page),
            # while the API is not known to be there.
            known = bool(self._endpoint.capabilities.get(CAPABILITY))
            if not pages and filtered and getattr(exc, "status_code", None) == 400:
                # the filter may be what a registry with the API refuses: asked without
                # it (and filtered here); a registry that then answers refuses filters,
                # remembered (asking with one again cost a 400 each time)
                found = yield from self._from_api(digest, None)
                if found is None:
                    return None
                self._endpoint.capabilities[FILTER] = False
                return _of_type(found, artifact_type)
            if pages or (isinstance(exc, RegistryError)
                         and not _means_no_api(exc, known=known)):
                raise
            # Remembered unless known otherwise -- or a 404 MANIFEST_UNKNOWN (Quay's, for
            # a subject it does not hold), which is about the subject, not the API.
            if not known and not (isinstance(exc, NotFoundError)
                                  and "MANIFEST_UNKNOWN" in exc.codes):
                self.note_api(False)
            log.debug("%s: no referrers API, using the referrers tag schema", self.domain)
            return None
        self.note_api(True)
        # Registries filter on the server as they like; never hand back another type.
        return _of_type([d for page in pages for d in page], artifact_type)

    def fallback_index(self, digest: str) -> Flow[OCIIndex | None]:
        """The referrers tag schema's index for ``digest``; None when there is no such tag
        -- or when it holds no valid OCI index: the distribution spec has a client then
        assume no referrers (as oras-go does); logged."""
        found = yield from self._read_fallback(digest)
        if isinstance(found, str):
            log.warning("%s: no referrers read from it", found)
            return None
        return found

    def _read_fallback(self, digest: str) -> Flow[OCIIndex | str | None]:
        """The referrers tag schema's index for ``digest``, None when there is no such
        tag, or what the tag holds instead of a valid OCI index, in words."""
        tag = referrers_tag(digest)
        try:
            raw = yield from self._manifests.get_raw(tag)
        except NotFoundError:
            return None
        where = f"tag {tag} of {self.domain}/{self.repository}"
        if raw.media_type != mediatypes.OCI_INDEX:
            return (f"{where} holds a {raw.media_type[:100]}, not the OCI index of the "
                    "referrers tag schema")
        try:
            return _index_of(raw.data, f"referrers tag {tag}")
        except RegistryResponseError as exc:
            return f"{where} is no valid OCI index ({exc.message})"

    def _complete(self, entry: Descriptor) -> Flow[Descriptor]:
        """Fill in ``artifact_type``/``annotations`` that another client left out of the
        index. go-containerregistry writes fallback entries without them; the manifest
        (or index: an index may be a referrer too) has both."""
        if not _incomplete(entry):
            return entry
        try:
            manifest = yield from self._manifests.get(entry.digest)
        except NotFoundError:
            return entry
        artifact_type: str | None
        if isinstance(manifest, models.OCIManifest):
            artifact_type = manifest.artifact_type or manifest.config.media_type
        elif isinstance(manifest, models.OCIIndex):
            artifact_type = manifest.artifact_type  # (an index has no config to fall back on)
        else:
            return entry
        return attrs.evolve(
            entry, artifact_type=artifact_type,
            annotations=entry.annotations if entry.annotations is not None
            else manifest.annotations,
        )

    def find(self, digest: str, artifact_type: str | None) -> Flow[list[Descriptor]]:
        """The referrers of ``digest``: from the API, else from the referrers tag schema."""
        if self._endpoint.capabilities.get(CAPABILITY) is not False:
            found = yield from self._from_api(digest, artifact_type)
            if found is not None:
                return found
        index = yield from self.fallback_index(digest)
        if index is None:
            return []
        completed: list[Descriptor] = []
        fetches = 0  # (one GET each: an index of referrers has no cap on its entries)
        for entry in index.manifests:
            if fetches < MAX_INDEX_ENTRIES and _incomplete(entry):
                fetches += 1
                entry = yield from self._complete(entry)
            completed.append(entry)
        left = sum(1 for entry in completed if _incomplete(entry)) if fetches else 0
        if fetches == MAX_INDEX_ENTRIES and left:
            log.warning("referrers tag %s: %d entries without artifactType not completed "
                        "from their manifests (%d were): %s", referrers_tag(digest), left,
                        MAX_INDEX_ENTRIES, "listed as the index has them" if artifact_type
                        is None else f"left out of those of type {artifact_type!r}, which "
                        "they may be")
        return _of_type(completed, artifact_type)

    def has_api(self, digest: str) -> Flow[bool]:
        """Whether the registry has the referrers API (asked once per registry)."""
        known = self._endpoint.capabilities.get(CAPABILITY)
        if known is None:
            known = (yield from self._from_api(digest, None)) is not None
        return known

    def note_api(self, present: bool) -> None:
        """Remember for this registry whether it has the referrers API."""
        self._endpoint.capabilities[CAPABILITY] = present

    # -- writing ---------------------------------------------------------------------------
    def after_put(self, data: bytes, media_type: str, digest: str,
                  headers: Mapping[str, str]) -> Flow[None]:
        """What the client owes the referrers after putting manifest ``data``: when it
        names a ``subject`` and the registry did not answer ``OCI-Subject`` (no referrers
        API indexed it), its entry goes into the subject's referrers tag index
        (dist-spec, "Pushing Manifests with Subject")."""
        found = _light.referrer(data, media_type, digest)
        if found is None:
            return
        if headers.get("OCI-Subject"):
            self.note_api(True)  # the registry indexed the subject itself
            return
        yield from self.add_to_fallback(*found)

    def after_delete(self, raw: RawManifest) -> Flow[None]:
        """Take the deleted manifest ``raw`` out of its subject's referrers tag index, if
        it names a subject and the registry lacks the referrers API (dist-spec, "Deleting
        Manifests"). The manifest is gone by then: a failure here is logged, not raised."""
        found = _light.referrer(raw.data, raw.media_type, raw.digest)
        if found is None:
            return
        subject = found[0]
        try:
            if (yield from self.has_api(subject)):
                return
            yield self._updating(subject, self._drop_from_fallback(subject, raw.digest))
        except RegistryError as exc:
            log.warning("deleted %s, but its entry in the referrers tag %s stays: %s",
                        raw.digest, referrers_tag(subject), exc.message)

    def may_list(self) -> bool:
        """Whether a manifest deleted here may be listed in a referrers tag index (the
        registry is not known to have the referrers API)."""
        return self._endpoint.capabilities.get(CAPABILITY) is not True

    def add_to_fallback(self, subject: str, entry: Descriptor) -> Flow[None]:
        """Add ``entry`` to the referrers tag schema's index of ``subject`` (GET, add, PUT).

        An entry with the same digest is not added twice; entries whose manifests are
        gone are dropped (:meth:`_put_pruned`). The threads or tasks of this process
        take turns; against another client, the last writer wins.
        """
        yield self._updating(subject, self._add(subject, entry))

    def _updating(self, subject: str, flow: Flow[None]) -> Exclusive:
        """``flow``, a read-modify-write of ``subject``'s referrers tag index, run alone
        among this process's updates of it."""
        return Exclusive(self._endpoint.locks, ("referrers tag", self.repository, subject),
                         flow)

    def _add(self, subject: str, entry: Descriptor) -> Flow[None]:
        """Raises RegistryResponseError: the tag holds something other than an OCI index
        (the distribution spec: the client SHOULD report a failure and skip the update;
        putting an index over it would lose what someone tagged so)."""
        found = yield from self._read_fallback(subject)
        if isinstance(found, str):
            raise RegistryResponseError(
                f"{found}: {entry.digest} was put, but is not listed among the referrers "
                f"of {subject} (the tag was left as it is; delete it or point it at an "
                "OCI index for the listing to resume)")
        index = found or models.OCIIndex(manifests=[])
        if any(d.digest == entry.digest for d in index.manifests):
            return
        yield from self._put_pruned(subject, [*index.manifests, entry])

    def _drop_from_fallback(self, subject: str, digest: str) -> Flow[None]:
        index = yield from self.fallback_index(subject)
        if index is None or all(d.digest != digest for d in index.manifests):
            return
        yield from self._put_pruned(subject, [d for d in index.manifests if d.digest != digest])

    def _put_pruned(self, subject: str, entries: list[Descriptor]) -> Flow[None]:
        """Put ``entries`` as ``subject``'s index; when Distribution refuses it for
        entries whose manifests are gone (``MANIFEST_BLOB_UNKNOWN``: deleted by a client
        that left the index alone, or by a delete racing this one), put it again
        without them."""
        present = entries
        for _ in range(_NAMED_ROUNDS):
            try:
                yield from self._put_index(subject, present)
                break
            except RegistryResponseError as exc:
                if "MANIFEST_BLOB_UNKNOWN" not in exc.codes:
                    raise
                # the registry names what it does not know (Distribution: each in an
                # error's detail); else each entry is asked for, one HEAD each
                named = unknown_named(exc)
                kept = [d for d in present if d.digest not in named]
                if len(kept) == len(present):
                    kept = []
                    for d in present:
                        if (yield from self._present(d.digest)):
                            kept.append(d)
                    if len(kept) == len(present):
                        raise
                log.info("referrers tag %s listed %d deleted manifest(s): dropped",
                         referrers_tag(subject), len(present) - len(kept))
                present = kept
        else:
            yield from self._put_index(subject, present)

    def _present(self, digest: str) -> Flow[bool]:
        try:
            yield from self._manifests.head(digest)
        except NotFoundError:
            return False
        return True

    def _put_index(self, subject: str, entries: list[Descriptor]) -> Flow[None]:
        data = manifest_to_bytes(models.OCIIndex(manifests=entries))
        raw = RawManifest(data=data, media_type=mediatypes.OCI_INDEX,
                          digest=compute_digest(data))
        yield from self._manifests.put(referrers_tag(subject), raw)


class Referrers(Service):
    """The referrers of one repository's manifests, for the blocking API: each method
    runs the flow of :class:`ReferrerFlows` of the same name (``flows``)."""

    def __init__(self, requester: Requester, repository: str, *, flows: ReferrerFlows) -> None:
        super().__init__(requester, repository)
        self.flows = flows

    def find(self, digest: str, artifact_type: str | None) -> list[Descriptor]:
        """The referrers of ``digest``: from the API, else from the referrers tag schema."""
        return self._run(self.flows.find(digest, artifact_type))

    def fallback_index(self, digest: str) -> OCIIndex | None:
        """The referrers tag schema's index for ``digest``; None when there is no such tag."""
        return self._run(self.flows.fallback_index(digest))

    def has_api(self, digest: str) -> bool:
        """Whether the registry has the referrers API (asked once per registry)."""
        return self._run(self.flows.has_api(digest))

    def note_api(self, present: bool) -> None:
        """Remember for this registry whether it has the referrers API."""
        self.flows.note_api(present)

    def add_to_fallback(self, subject: str, entry: Descriptor) -> None:
        """Add ``entry`` to the referrers tag schema's index of ``subject`` (GET, add, PUT)."""
        return self._run(self.flows.add_to_fallback(subject, entry))
