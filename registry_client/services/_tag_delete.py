"""Deleting one tag: the registry's tag DELETE, else Distribution's tombstone dance.

Distribution 2.8 has no DELETE by tag (it answers 400 ``DIGEST_INVALID``, or 405
``UNSUPPORTED`` when deletes are off): the tag is pointed at a unique throw-away
manifest, which is then deleted by digest -- after a 405, only once a DELETE of a digest
nobody holds (404) shows deletes are allowed. Whether the registry has the tag DELETE
is remembered in ``requester.capabilities["tag_delete"]``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Protocol

from .. import mediatypes
from .._digest import compute_digest
from .._flow import Endpoint, Flow
from .._log import log
from ..errors import NotFoundError, RegistryError, RegistryResponseError
from ..models import Descriptor, OCIManifest, RawManifest
from ..quirks import hub_refuses_deletes
from ._attach import EMPTY_DESCRIPTOR, EMPTY_JSON
from ._base import Service, link_race
from .manifests import ManifestFlows

_TOMBSTONE_ROUNDS = 3
TOMBSTONE_ANNOTATION = "io.registry-client.tombstone"
"""The annotation that marks a throw-away manifest (its value: the tag, a uuid, a time)."""


def is_tombstone(manifest: object) -> bool:
    """Whether ``manifest`` (parsed, or a RawManifest) is a throw-away manifest of a tag
    delete: a tag that names one is a delete stopped half-way (Ctrl-C, a cancelled
    task) -- never an image."""
    if isinstance(manifest, RawManifest):
        if manifest.media_type != mediatypes.OCI_MANIFEST:
            return False
        try:
            doc = json.loads(manifest.data)
        except ValueError:
            return False
        if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), dict):
            return False
        layers, annotations = doc.get("layers"), doc["annotations"]
    elif isinstance(manifest, OCIManifest):
        layers, annotations = manifest.layers, manifest.annotations or {}
    else:
        return False
    return not layers and TOMBSTONE_ANNOTATION in annotations


class BlobFlowsLike(Protocol):
    """What a tag delete uses of a repository's blobs: the flow of a small upload."""

    def upload(self, data: bytes) -> Flow[Descriptor]: ...


class TagDeleter(Service):
    """Deletes single tags of one repository, with the tombstone fallback (as flows).

    ``listed`` is the flow of the repository's tags (every page): after a delete found
    done, it tells a tag untagged by the delete from one left naming nothing.
    """

    def __init__(
        self, requester: Endpoint, repository: str, *, manifests: ManifestFlows,
        blobs: BlobFlowsLike, listed: Callable[[], Flow[Iterable[str]]],
    ) -> None:
        super().__init__(requester, repository)
        self._manifests = manifests
        self._blobs = blobs
        self._listed = listed
        self._has_empty = False  # the throw-away manifests' config blob is uploaded

    def delete(self, tag: str, *, at: str | None = None) -> Flow[bool]:
        """Remove the tag ``tag`` (checked by the caller): see ``TagService.delete``.

        With ``at`` (a digest), a tag found naming another manifest when the delete
        reads it (the tombstone dance does, just before it moves the tag) was pushed
        again meanwhile: it is left alone, and the result is False.
        """
        caps = self._endpoint.capabilities
        probe = False  # deletes by digest may be off: ask before moving the tag
        if caps.get("tag_delete") is not False:
            try:
                yield from self._call(
                    "DELETE", f"manifests/{tag}", actions="delete",
                    operation=f"delete tag {tag}", expected=(200, 202, 204),
                )
                caps["tag_delete"] = True
                return True
            except NotFoundError:
                raise
            except RegistryResponseError as exc:
                # Distribution 2.8 answers 400 DIGEST_INVALID / 405 UNSUPPORTED to a
                # DELETE by tag: fall back (and remember it for this registry).
                # https://github.com/distribution/distribution/issues/1566
                if exc.status_code not in (400, 405) or hub_refuses_deletes(
                        self._endpoint.host, exc):
                    raise  # (Docker Hub: never a tombstone over a live tag there)
                probe = exc.status_code == 405
                if not probe:
                    caps["tag_delete"] = False
        try:
            return (yield from self._delete_by_tombstone(tag, at, probe=probe))
        except RegistryError as exc:
            if not exc.message.startswith(f"delete tag {tag}"):
                exc.with_context(f"delete tag {tag}: {exc.message}")
            raise

    def _deletes_allowed(self, tag: str) -> Flow[None]:
        """After a 405 to a DELETE by tag: are deletes by digest allowed? Distribution
        answers 405 there when deletes are off (its default) -- and the tombstone dance
        would then move the tag, be refused its delete, put the tag back, and leave the
        throw-away manifest for good. A DELETE of a digest no repository holds tells,
        writing nothing: 404 (deletes on), or the refusal, raised as it is.

        Raises:
            RegistryResponseError: deletes are off (405 UNSUPPORTED, said so).
            AuthorizationError: no right to delete here.
        """
        nothing = compute_digest(f"registry-client no manifest {uuid.uuid4()}".encode())
        try:
            yield from self._call(
                "DELETE", f"manifests/{nothing}", actions="delete",
                operation=f"delete tag {tag}", expected=(200, 202, 204))
        except NotFoundError:
            pass
        except RegistryError as exc:
            exc.with_context(f"{exc.message}; nothing was written, the tag is left as it was")
            raise
        self._endpoint.capabilities["tag_delete"] = False  # the tombstone dance it is

    def _delete_by_tombstone(self, tag: str, at: str | None, *, probe: bool) -> Flow[bool]:
        """Point ``tag`` at a unique throw-away manifest, then delete that by digest.

        Distribution deletes the manifest first and untags second: a delete that
        races another (its 500 ``invalid checksum digest format``, or an answer that
        was lost) may have deleted the manifest and left the tag naming nothing. So
        when the delete's outcome was not a plain success the dance is done again
        on the same tag while the tag list still has the tag and it names nothing.
        """
        original = yield from self._manifests.get_raw(tag)  # NotFoundError for a missing tag
        if at is not None and original.digest != at and not is_tombstone(original):
            # pushed again since the caller looked: not the tag it meant (one left on a
            # throw-away manifest by a delete stopped half-way is finished)
            return False
        if probe:  # after the read: a missing tag is a NotFoundError, deletes on or off
            yield from self._deletes_allowed(tag)
        # A tag left on a throw-away manifest by a delete stopped half-way: that manifest
        # is deleted as it is (another one put would stay behind, untagged, for good).
        left_over = original.digest if is_tombstone(original) else None
        for round_ in range(_TOMBSTONE_ROUNDS):
            if left_over is not None:
                digest, left_over = left_over, None
            else:
                digest = yield from self._put_tombstone(tag)
            try:
                resp = yield from self._call(
                    "DELETE", f"manifests/{digest}", actions="delete",
                    operation=f"delete tag {tag} (throw-away manifest {digest})",
                    # the throw-away manifest is ours alone: its delete is safe to retry
                    expected=(200, 202, 204), retry_if=link_race,
                )
                if resp.status_code != 404:
                    return True
            except RegistryError as exc:
                # returns only when the throw-away manifest is gone: deleted after all
                yield from self._failed_delete(exc, tag, digest, original,
                                               may_restore=round_ == 0)
            # Found done after a lost answer or a racing delete's 500: the registry may
            # have deleted the manifest without untagging it. Go round again only then.
            if not (yield from self._left_dangling(tag, digest)):
                return True
        log.warning("delete tag %s in %s: the registry kept losing or failing its answers; "
                    "the tag may still be listed without a manifest", tag, self.repository)
        return True

    def _put_tombstone(self, tag: str) -> Flow[str]:
        """Point ``tag`` at a throw-away manifest; its digest. Its config blob, uploaded
        once per repository, may have gone since (deleted: nothing refers to it once the
        throw-away manifests are): then it is uploaded again, and the manifest put again."""
        if not self._has_empty:  # once per repository, not a HEAD per tag deleted
            yield from self._blobs.upload(EMPTY_JSON)
            self._has_empty = True
        try:
            return (yield from self._manifests.put(tag, _tombstone(tag)))
        except RegistryResponseError as exc:
            if not any(e.get("code") == "MANIFEST_BLOB_UNKNOWN" for e in exc.errors):
                raise
        yield from self._blobs.upload(EMPTY_JSON)
        return (yield from self._manifests.put(tag, _tombstone(tag)))

    def _left_dangling(self, tag: str, digest: str) -> Flow[bool]:
        """After a delete only found done: is ``tag`` still listed, naming nothing?

        HEAD of the tag cannot tell: it is 404 both for a tag that is gone and for
        one left naming a deleted manifest. The tag list can: a tag untagged by the
        delete is not listed any more (nor is any tag of a repository gone with it).
        A listed tag naming another manifest was pushed again meanwhile: not ours.
        """
        try:
            if tag not in (yield from self._listed()):
                return False
        except NotFoundError:
            return False
        except RegistryError as exc:  # the delete is done; another round would be a guess
            log.warning("delete tag %s in %s: done, but whether the tag is still listed "
                        "without a manifest could not be checked (%s)",
                        tag, self.repository, exc.message)
            return False
        try:
            return (yield from self._manifests.head(tag)).digest == digest
        except NotFoundError:
            return True

    def _failed_delete(self, exc: RegistryError, tag: str, digest: str,
                       original: RawManifest, *, may_restore: bool) -> Flow[None]:
        """After the throw-away manifest's delete failed: was it deleted all the same?

        Gone (an earlier attempt did it, its answer lost): return, the delete is done.
        Still there: the registry refused (deletes disabled, no delete right...) or never
        answered, so put the tag back where it was (first round only) and raise.
        Unknown: raise without putting anything back -- the delete may have happened.
        """
        try:
            yield from self._manifests.head(digest)
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
            yield from self._manifests.put(tag, original)
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


def _tombstone(tag: str) -> RawManifest:
    """A unique, valid, empty OCI manifest to move ``tag`` to before deleting it."""
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": {
            "mediaType": EMPTY_DESCRIPTOR.media_type,
            "digest": EMPTY_DESCRIPTOR.digest,
            "size": EMPTY_DESCRIPTOR.size,
        },
        "layers": [],
        "annotations": {
            TOMBSTONE_ANNOTATION: f"{tag} {uuid.uuid4()} {time.time()}",
        },
    }
    data = json.dumps(doc, separators=(",", ":")).encode()
    return RawManifest(data=data, media_type=mediatypes.OCI_MANIFEST,
                       digest=compute_digest(data))
