"""Copying images between repositories, here or on another registry: plan, move the
blobs, put the manifests, then (when asked) the referrers -- in one pass."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from .._log import log
from .._reader import VerifyingReader
from ..errors import NotFoundError, RegistryUnavailableError
from ..models import IMAGE_CONFIG_TYPES, Descriptor, Image, RawManifest
from ..progress import BlobMounted, BlobSkipped, ProgressCallback, emit
from ..reference import is_digest
from ._plan import BlobPlan, CopyPlan, CopyTarget, make_plan
from ._platforms import light_image, read_config
from ._schedule import parallel, transfer
from ._tree import Children, manifest_tree, require_verifiable_blobs
from ._worker import ImageWorker


class _OpenOnRead(io.RawIOBase):
    """A blob reader opened by ``opener`` on the first read (and closed with this)."""

    def __init__(self, opener: Callable[[], object], keep: list[bytes] | None = None) -> None:
        super().__init__()
        self._opener = opener
        self._keep = keep  # when given, every byte read is appended here too
        self._reader: VerifyingReader | None = None

    def _open(self) -> VerifyingReader:
        if self._reader is None:
            reader = self._opener()
            assert isinstance(reader, VerifyingReader)
            self._reader = reader
        return self._reader

    def readable(self) -> bool:
        """Always True."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer`` from the blob (opening it first)."""
        n = self._open().readinto(buffer)
        if self._keep is not None and n:
            self._keep.append(bytes(memoryview(buffer)[:n]))
        return n

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of the blob (opening it first)."""
        data = self._open().read(size)
        if self._keep is not None and data:
            self._keep.append(data)
        return data

    def verify(self) -> None:
        """Check the blob's digest at its end (see :meth:`VerifyingReader.verify`)."""
        self._open().verify()

    def close(self) -> None:
        """Close the blob reader, if it was opened."""
        if self._reader is not None:
            self._reader.close()
        super().close()


@attrs.frozen
class _Source:
    """An image of the source repository: its top manifest and every manifest under it."""

    reference: str
    raw: RawManifest
    is_index: bool
    top: list[Descriptor]
    children: Children


class Copier(ImageWorker):
    """Copies images of one repository to others, ``max_workers`` blobs at a time.

    Within one registry blobs are mounted (a mount the registry declines falls back to
    a transfer); across registries one HEAD per blob decides between skip and a
    streamed transfer. Manifests are read with the light parser, as for pull: moving
    bytes needs only their descriptors.
    """

    def copy(
        self, reference: str, target: CopyTarget, target_tag: str | None, *,
        progress: ProgressCallback | None, referrers: bool, dry_run: bool,
    ) -> Image | CopyPlan:
        """Plan the copy of ``reference``; then, unless ``dry_run``, carry the plan out; then
        the referrers (of every manifest of the tree, one level), planned or copied alike."""
        plan, image = self._one(reference, target, target_tag, progress=progress,
                                dry_run=dry_run)
        if dry_run:
            if referrers:
                plan = attrs.evolve(plan, referrers=self._plan_referrers(
                    plan.manifests, target, arriving=(b.digest for b in plan.blobs)))
            return plan
        if referrers:
            self._copy_referrers(plan.manifests, target, progress=progress)
        assert image is not None
        return image

    # -- one image ---------------------------------------------------------------------------
    def _source(self, reference: str) -> _Source:
        raw = self._manifests.get_raw(reference)
        is_index, top, children = manifest_tree(
            raw, lambda d: self._manifests.get_raw(d.digest), workers=self._max_workers)
        return _Source(reference, raw, is_index, top, children)

    def _one(
        self, reference: str, target: CopyTarget, target_tag: str | None, *,
        progress: ProgressCallback | None, dry_run: bool,
    ) -> tuple[CopyPlan, Image | None]:
        """Plan copying ``reference`` and, unless ``dry_run``, do it.

        A dry run asks the target about every blob (HEAD: skip or not); a real copy
        within one registry plans every blob as a mount (mounting a blob the target has
        is answered 201 as well, so a HEAD would be a wasted round trip) and asks for
        the push scope up front.
        """
        source = self._source(reference)
        if not dry_run:
            require_verifiable_blobs(reference, source.children)
        tag = target_tag or (None if is_digest(reference) else reference)
        same = target.requester.base_url == self._requester.base_url
        plan = make_plan(
            self._requester, self._repository, source.raw, source.children, target, tag,
            check_target=dry_run or not same, for_push=not dry_run,
            run=lambda fn, items: parallel(fn, items, self._max_workers))
        if dry_run:
            return plan, None
        return plan, self._execute(source, plan, target, tag, progress)

    def _execute(
        self, source: _Source, plan: CopyPlan, target: CopyTarget, tag: str | None,
        progress: ProgressCallback | None,
    ) -> Image:
        """Move the blobs as ``plan`` says, put the manifests (children first); the Image."""
        raw = source.raw
        config = None if source.is_index else source.top[0]
        limit = self._requester.body_limit
        config_digest = config.digest if config is not None and config.size <= limit else None
        kept: dict[str, bytes] = {}

        def move(b: BlobPlan) -> None:
            if b.action == "skip":
                emit(progress, BlobSkipped(b.digest, b.size))
                return
            if b.action == "mount" and target.blobs.mount(b.digest, self._repository):
                emit(progress, BlobMounted(b.digest, b.size, self._repository))
                return
            policy = target.requester.policy
            tries = 0
            while True:
                try:
                    return stream_blob(b)
                except RegistryUnavailableError as exc:
                    # A connection cut on the way (the source's own resumes used up, or the
                    # target's PUT cut: its session is gone and the stream can't rewind):
                    # the blob goes again, read afresh from the source, in a new session.
                    if exc.status_code is not None or not policy.should_retry(tries):
                        raise
                    tries += 1
                    log.debug("copy: blob %s was cut on the way, sending it again", b.digest)

        def stream_blob(b: BlobPlan) -> None:
            # The source is opened on the first read: the target's session (and the right
            # to push) comes first, so a refused upload costs no source GET. The config is
            # small and describes the result: its bytes are kept on the way.
            keep: list[bytes] | None = [] if b.digest == config_digest else None
            with _OpenOnRead(lambda: self._blobs.open(b.digest, expected_size=b.size),
                             keep) as reader:
                target.blobs.upload_stream(reader, digest=b.digest, size=b.size,
                                           progress=progress)
            if keep is not None:
                kept[b.digest] = b"".join(keep)  # verified: the reader reached its EOF check

        transfer(move, plan.blobs, self._max_workers)  # distinct, largest first
        for child, _ in source.children:
            if child.digest != raw.digest:
                target.manifests.put(child.digest, child)
        target.manifests.put(tag or raw.digest, raw)
        config_data = None
        if config is not None and config.media_type in IMAGE_CONFIG_TYPES:
            # Mounted or skipped, the config was not read on the way: read it from the source.
            config_data = kept.get(config.digest) or read_config(self._blobs, config, limit)
        return light_image(raw, source.is_index, source.top, config_data,
                           domain=target.domain, repository=target.name, tag=tag)

    # -- referrers ---------------------------------------------------------------------------
    def _copy_referrers(
        self, subjects: Iterable[str], target: CopyTarget, *, progress: ProgressCallback | None,
    ) -> list[Descriptor]:
        """Copy the referrers of each subject to ``target`` (one level, not their referrers)."""
        there = target.manifests.referrers_service
        copied: list[Descriptor] = []
        for subject in dict.fromkeys(subjects):
            for entry in self._manifests.referrers(subject):
                try:
                    self._one(entry.digest, target, None, progress=progress, dry_run=False)
                except NotFoundError:
                    # A stale fallback index may list an artifact deleted since.
                    log.warning("referrer %s of %s is gone; not copied", entry.digest, subject)
                    continue
                if not there.has_api(subject):
                    there.add_to_fallback(subject, entry)
                copied.append(entry)
        return copied

    def _plan_referrers(
        self, subjects: Iterable[str], target: CopyTarget, arriving: Iterable[str] = (),
    ) -> tuple[CopyPlan, ...]:
        """The copy plan of each referrer :meth:`_copy_referrers` would copy (nothing written).

        ``arriving`` names blobs the copy brings to the target before the referrers
        (the image's own): a transfer of those, or of a blob an earlier referrer brings,
        is planned as a skip -- the copy finds them there by then, so they move once.
        """
        there = set(arriving)
        plans: list[CopyPlan] = []
        for subject in dict.fromkeys(subjects):
            for entry in self._manifests.referrers(subject):
                try:
                    plan, _ = self._one(entry.digest, target, None, progress=None,
                                        dry_run=True)
                except NotFoundError:
                    continue  # a stale fallback index entry: _copy_referrers skips it too
                blobs = tuple(attrs.evolve(b, action="skip")
                              if b.digest in there and b.action == "transfer" else b
                              for b in plan.blobs)
                there.update(b.digest for b in blobs)
                plans.append(attrs.evolve(plan, blobs=blobs))
        return tuple(plans)
