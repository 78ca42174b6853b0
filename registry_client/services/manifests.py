"""ManifestService: get, head, put and delete a repository's manifests.

The protocol is written once, as flows (:class:`ManifestFlows`); :class:`ManifestService`
runs them with the blocking shell, ``registry_client.aio`` with the asyncio one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .. import mediatypes
from .._digest import compute_digest, registry_keyed
from .._flow import Flow
from .._http import content_length, unknown_named
from .._lazy import cached_property
from .._log import log
from .._response import Response
from ..errors import (
    AuthorizationError,
    DigestMismatchError,
    NotFoundError,
    RegistryError,
    RegistryResponseError,
)
from ..models import (
    Descriptor,
    RawManifest,
    manifest_from_bytes,
    manifest_media_type,
    manifest_to_bytes,
    media_type_of,
    specific_type,
)
from ..reference import check_digest, check_reference, is_digest, is_verifiable_digest
from ..requester import Requester
from . import _light
from ._base import Service, link_race
from ._referrers import ReferrerFlows, Referrers

if TYPE_CHECKING:
    from ..models import Manifest
    from .blobs import BlobFlows


class ManifestFlows(Service):
    """The flows of :class:`ManifestService`: what its methods send and what the answers
    mean, for both flavours of the API (each method's result is the service's)."""

    @cached_property
    def referrers_service(self) -> ReferrerFlows:
        """The flows of the referrers of this repository's manifests (API or tag schema)."""
        return ReferrerFlows(self._endpoint, self.repository, manifests=self)

    def get_raw(self, reference: str) -> Flow[RawManifest]:
        """The flow of :meth:`ManifestService.get_raw`."""
        return self._get_raw(reference, "get manifest")

    def _get_raw(self, reference: str, verb: str, actions: str = "pull") -> Flow[RawManifest]:
        """:meth:`get_raw`, its errors naming the user's call (``verb``: "head manifest"),
        under the token of ``actions``."""
        data, content_type, digest = yield from self._fetch(reference, verb, actions)
        media = manifest_media_type(data, content_type)
        return RawManifest(data=data, media_type=media, digest=digest)

    def _fetch(self, reference: str, verb: str, actions: str = "pull",
               ) -> Flow[tuple[bytes, str | None, str]]:
        """The manifest's bytes, verified, its Content-Type and its digest."""
        check_reference(reference)
        resp = yield from self._call(
            "GET", f"manifests/{reference}", actions=actions, operation=f"{verb} {reference}",
            headers={"Accept": mediatypes.MANIFEST_ACCEPT}, retry_if=link_race,
        )
        data = resp.content
        if not data:
            raise RegistryResponseError(
                f"manifest {reference} of {self.repository}: the registry sent an empty body"
            )
        header_digest = resp.headers.get("Docker-Content-Digest")
        digest = self._verify(data, reference, header_digest)
        return data, resp.headers.get("Content-Type"), digest

    def _verify(self, data: bytes, reference: str, header_digest: str | None) -> str:
        where = f"manifest {reference} of {self.domain}/{self.repository}"
        wanted: list[str] = []
        if is_digest(reference):
            wanted.append(reference)
        if header_digest:
            # The registry's own digest must be one we can check the bytes against.
            if not is_verifiable_digest(header_digest.strip()):
                raise RegistryResponseError(
                    f"{where}: invalid Docker-Content-Digest {header_digest[:100]!r}"
                )
            wanted.append(header_digest.strip())
        for want in wanted:
            actual = compute_digest(data, want.split(":", 1)[0])
            if actual != want:
                raise DigestMismatchError(f"{where}: content is {actual}, expected {want}")
        if wanted and registry_keyed(wanted[0]):
            return wanted[0]
        return compute_digest(data)

    def get(self, reference: str) -> Flow[Manifest]:
        """The flow of :meth:`ManifestService.get`."""
        # the bytes parsed once: the model's type is decided as get_raw's (mediaType,
        # then Content-Type, then shape), from the document the parser reads anyway
        data, content_type, _ = yield from self._fetch(reference, "get manifest")
        try:
            return manifest_from_bytes(data, content_type)
        except RegistryError as exc:  # (schema1, a type not known, not JSON): say where
            raise exc.with_context(
                f"get manifest {reference} ({self.domain}/{self.repository}): {exc.message}"
            ) from None

    def head_if_told(self, reference: str) -> Flow[Descriptor | None]:
        """:meth:`head`, or None when the registry has no such manifest -- or will not
        say: a HEAD refused (403 where the repository is not made yet, 405 from a proxy)
        tells nothing, and whatever asked goes on as if it were not there."""
        try:
            return (yield from self.head(reference))
        except (NotFoundError, AuthorizationError, RegistryResponseError):
            return None

    def head(self, reference: str) -> Flow[Descriptor]:
        """The flow of :meth:`ManifestService.head`."""
        check_reference(reference)
        resp = yield from self._call(
            "HEAD", f"manifests/{reference}", operation=f"head manifest {reference}",
            headers={"Accept": mediatypes.MANIFEST_ACCEPT}, retry_if=link_race,
        )
        digest = (resp.headers.get("Docker-Content-Digest") or "").strip()
        length = content_length(resp.headers)  # (None behind a compressing proxy)
        media = specific_type(resp.headers.get("Content-Type"))
        by_digest = is_digest(reference)
        if by_digest and digest and digest != reference \
                and digest.partition(":")[0] == reference.partition(":")[0]:
            raise DigestMismatchError(
                f"manifest {reference}: the registry reported digest {digest[:100]}"
            )
        if not is_verifiable_digest(digest) or length is None or media is None:
            # Some registries omit the digest on HEAD, or send a generic Content-Type
            # (which only the body can settle): fall back to the body.
            raw = yield from self._get_raw(reference, "head manifest")
            return Descriptor(media_type=raw.media_type, digest=raw.digest, size=len(raw.data))
        if by_digest and registry_keyed(reference):
            digest = reference
        return Descriptor(media_type=media, digest=digest, size=length)

    def referrers(self, digest: str, artifact_type: str | None = None) -> Flow[list[Descriptor]]:
        """The flow of :meth:`ManifestService.referrers`."""
        check_digest(digest)
        return (yield from self.referrers_service.find(digest, artifact_type))

    def put(self, reference: str, manifest: Manifest | RawManifest) -> Flow[str]:
        """The flow of :meth:`ManifestService.put`."""
        digest, _ = yield from self.put_with_headers(reference, manifest)
        return digest

    def put_with_headers(
        self, reference: str, manifest: Manifest | RawManifest
    ) -> Flow[tuple[str, Mapping[str, str]]]:
        """The flow of :meth:`ManifestService.put_with_headers`."""
        check_reference(reference)
        if not isinstance(manifest, RawManifest):
            # the model classes load with the first put of a model (a copy's or a push's
            # puts are of RawManifests: they never load them)
            from ..models.manifest import ManifestList, ManifestV2, OCIIndex, OCIManifest

            if not isinstance(manifest, ManifestV2 | ManifestList | OCIManifest | OCIIndex):
                raise TypeError(
                    f"put manifest {reference}: a manifest model or a RawManifest(data, "
                    f"media_type, digest) is wanted, not {type(manifest).__name__}")
        if isinstance(manifest, RawManifest):
            data, media = manifest.data, manifest.media_type
            claimed = manifest.digest
            if is_verifiable_digest(claimed) and compute_digest(
                    data, claimed.split(":", 1)[0]) != claimed:
                raise DigestMismatchError(
                    f"put manifest {reference} ({self.domain}/{self.repository}): the "
                    f"RawManifest says {claimed}, its bytes are {compute_digest(data)}")
        else:
            data, media = manifest_to_bytes(manifest), media_type_of(manifest)
        media = manifest_media_type(data, media)  # the bytes' own mediaType, never generic
        local = compute_digest(data)
        if is_digest(reference) and reference != local:
            algo = reference.split(":", 1)[0]
            if compute_digest(data, algo) != reference:
                raise DigestMismatchError(
                    f"manifest content is {local}, but it is being put as {reference}"
                )
        resp = yield from self._put(reference, data, media, local)
        remote = (resp.headers.get("Docker-Content-Digest") or "").strip()
        if remote and registry_keyed(remote) and remote != local:
            raise DigestMismatchError(
                f"put manifest {reference} ({self.domain}/{self.repository}): registry "
                f"stored {remote[:100]}, sent {local}"
            )
        yield from self.referrers_service.after_put(data, media, local, resp.headers)
        return local, resp.headers

    def _put(self, reference: str, data: bytes, media: str, digest: str) -> Flow[Response]:
        """The PUT of ``data``; sent again when it was refused for blobs (or child
        manifests) that HEADs then all find, up to the registry's retries.

        Distribution checks each blob a manifest names by reading the blob's link in
        the repository; a link another request is rewriting (a sync shard linking the
        same layer) reads empty, and the PUT is refused ``MANIFEST_BLOB_UNKNOWN``.
        """
        attempt = 0
        while True:
            try:
                resp: Response = yield from self._call(
                    "PUT", f"manifests/{reference}", actions="pull,push",
                    operation=f"put manifest {reference}", expected=(200, 201, 202, 204),
                    headers={"Content-Type": media}, data=data,
                )
                return resp
            except RegistryResponseError as exc:
                if (exc.status_code != 400 or "MANIFEST_BLOB_UNKNOWN" not in exc.codes
                        or attempt >= self._endpoint.retries
                        or not (yield from self._all_present(data, media, digest,
                                                             unknown_named(exc)))):
                    raise
                attempt += 1
                log.debug("put manifest %s: refused for blobs %s/%s has: sending it again",
                          reference, self.domain, self.repository)

    def _all_present(self, data: bytes, media: str, digest: str,
                     named: frozenset[str] = frozenset()) -> Flow[bool]:
        """Whether the repository has every blob (an index: every manifest) ``data``
        names -- those of ``named`` only, when the refusal named them (an index of
        thousands of referrers is not asked for entry by entry) -- each asked with a
        HEAD; False when any HEAD fails (the PUT's refusal is then what the caller
        gets)."""
        try:
            is_index, descriptors = _light.read(
                RawManifest(data=data, media_type=media, digest=digest))
        except RegistryResponseError:
            return False
        for d in descriptors:
            if not _light.distributable(d) or (named and d.digest not in named):
                continue
            try:
                if is_index:
                    yield from self.head(d.digest)
                elif not (yield from self._blobs.exists(d.digest, for_push=True)):
                    return False
            except RegistryError:
                return False
        return True

    @cached_property
    def _blobs(self) -> BlobFlows:
        """The repository's blob flows, for :meth:`_all_present` (their HEAD rules)."""
        from .blobs import BlobFlows  # on a refused PUT only: manifests alone stay light

        return BlobFlows(self._endpoint, self.repository)

    def delete(self, digest: str) -> Flow[None]:
        """The flow of :meth:`ManifestService.delete`: where the registry may lack the
        referrers API, the manifest is read first (one GET, under the DELETE's token) and,
        when it names a subject, taken out of the referrers tag index after the delete."""
        check_digest(digest)
        referrers = self.referrers_service
        raw = None
        if referrers.may_list():
            try:  # under the token the DELETE asks for: one token for both
                raw = yield from self._get_raw(digest, "delete manifest", "pull,delete")
            except RegistryError:
                raw = None  # (gone, or not readable: the DELETE has the last word)
        yield from self.delete_alone(digest, actions="pull,delete" if raw else "delete")
        if raw is not None:
            yield from referrers.after_delete(raw)

    def delete_alone(self, digest: str, *, actions: str = "delete") -> Flow[None]:
        """The DELETE of manifest ``digest``, nothing more (a repository deleted whole
        has no referrers tag left to keep)."""
        check_digest(digest)
        yield from self._call(
            "DELETE", f"manifests/{digest}", actions=actions,
            operation=f"delete manifest {digest}", expected=(200, 202, 204),
        )


class ManifestService(Service):
    """Read and write the manifests of one repository.

    Manifests are kept as the exact bytes the registry served, so digests are
    always computed from what was received.
    """

    def __init__(self, requester: Requester, repository: str) -> None:
        super().__init__(requester, repository)
        self.flows = ManifestFlows(requester, repository)

    @cached_property
    def referrers_service(self) -> Referrers:
        """The referrers of this repository's manifests: listed (:meth:`referrers`), and
        where the registry lacks the referrers API, the referrers tag schema's index kept
        up to date. One per repository, shared by attach and copy."""
        return Referrers(self._requester, self.repository, flows=self.flows.referrers_service)

    def get_raw(self, reference: str) -> RawManifest:
        """Fetch a manifest's exact bytes, its media type and its verified digest.

        ``reference`` is a tag or a digest. The bytes are checked against the
        digest asked for and against the registry's ``Docker-Content-Digest``.

        Raises:
            NotFoundError: no such manifest.
            DigestMismatchError: the bytes do not match a digest.
            RegistryResponseError: the answer is malformed or too large.
        """
        return self._run(self.flows.get_raw(reference))

    def get(self, reference: str) -> Manifest:
        """Fetch a manifest as a typed model chosen by its media type.

        Raises:
            SchemaV1NotSupportedError: the registry served Docker schema1.
            UnknownSchemaError: an unknown manifest media type.
            NotFoundError, DigestMismatchError, RegistryResponseError: as for get_raw.
        """
        return self._run(self.flows.get(reference))

    def head(self, reference: str) -> Descriptor:
        """Digest, size and media type of a manifest, without its body.

        For a digest of another algorithm than the registry's (``sha512:…``), the
        registry's canonical sha256 ``Docker-Content-Digest`` is accepted and
        returned, as :meth:`get_raw` returns the sha256 digest. head cannot verify
        a sha512 reference against a sha256 answer: without the body nothing ties
        the two together, so the sha256 is the registry's word. Use
        :meth:`get_raw` to verify (it checks the bytes against both). When the
        answer lacks a digest, a size or a specific media type, the body is
        fetched (and verified) instead; its errors still say "head manifest".

        Raises:
            NotFoundError: no such manifest.
            DigestMismatchError: the registry reported another digest of the same algorithm.
            UnsupportedDigestError: a digest the client cannot verify
                (``sha256+b64u:…``), refused before any request.
        """
        return self._run(self.flows.head(reference))

    def referrers(self, digest: str, artifact_type: str | None = None) -> list[Descriptor]:
        """The manifests whose ``subject`` is ``digest`` (signatures, SBOMs...), OCI 1.1.

        Uses the referrers API (``GET /v2/<name>/referrers/<digest>``, every page);
        where the registry lacks it (404, as Distribution 2.8), reads the OCI index
        under the referrers tag schema's ``sha256-<hex>`` tag instead, and remembers
        for this registry that the API is missing. ``artifact_type`` keeps only
        referrers of that type (the registry is asked to filter, and the list is
        filtered here too). Each descriptor carries ``artifact_type`` and
        ``annotations``. No referrers: an empty list.

        A referrers tag that holds no valid OCI index is read as no referrers (logged),
        as the distribution spec asks; the next write through this client replaces it.

        Raises:
            NotFoundError: the repository is unknown to a registry with the referrers API.
            RegistryResponseError: the referrers API's answer is not an OCI index.
        """
        return self._run(self.flows.referrers(digest, artifact_type))

    def put(self, reference: str, manifest: Manifest | RawManifest) -> str:
        """Store a manifest under a tag (or by its digest) and return its digest.

        A :class:`RawManifest` is sent byte for byte; a model is serialised.
        The Content-Type is the ``mediaType`` the bytes declare (the distribution
        spec's rule), else the RawManifest's or model's media type.

        Raises:
            DigestMismatchError: the registry computed a different digest.
            RegistryResponseError: the registry refused the manifest.
        """
        return self._run(self.flows.put(reference, manifest))

    def put_with_headers(
        self, reference: str, manifest: Manifest | RawManifest
    ) -> tuple[str, Mapping[str, str]]:
        """:meth:`put`, also returning the registry's answer headers: ``OCI-Subject``
        there says the registry indexed the manifest's ``subject`` (referrers API)."""
        return self._run(self.flows.put_with_headers(reference, manifest))

    def delete(self, digest: str) -> None:
        """Delete a manifest by digest, and with it every tag that points to it.

        Where the registry is not known to have the referrers API, the manifest is
        read first (one GET under the same token) and, when it names a ``subject``,
        taken out of that subject's referrers tag index after the delete (as the
        distribution spec asks of clients).

        Raises:
            NotFoundError: no such manifest.
            RegistryResponseError: the registry does not allow deletes.
        """
        return self._run(self.flows.delete(digest))
