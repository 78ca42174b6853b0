"""Copying images between repositories, here or on another registry: plan, move the
blobs, put the manifests, then (when asked) the referrers -- in one pass."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

import attrs

from .._events import Resent, mounted, skipped
from .._flow import Exclusive, Flow, Gather, LockTable
from .._forksafe import renew_after_fork
from .._log import log
from .._response import Answer
from ..errors import NotFoundError, RegistryUnavailableError
from ..models import IMAGE_CONFIG_TYPES, Descriptor, Image, RawManifest
from ..reference import is_digest
from ._plan import BlobPlan, CopyPlan, CopyTarget, check_target, make_plan
from ._platforms import check_config_size, light_image, read_config
from ._tree import Children, manifest_tree, require_verifiable_blobs
from ._upload_source import Relayed
from ._worker import ImageWorker

if TYPE_CHECKING:
    from ..progress import ProgressCallback
    from .blobs import BlobFlows
    from .manifests import ManifestFlows


class _Sent:
    """The blobs a copy of this process sent lately: ``(registry, repository, digest)``."""

    RECENT = 4096
    """How many are remembered (a HEAD each saves a transfer)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._keys: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        renew_after_fork(self)

    def renew_locks(self) -> None:
        """In a child just forked: a fresh guard (the parent's may be held)."""
        self._guard = threading.Lock()

    def __contains__(self, key: object) -> bool:
        with self._guard:
            return key in self._keys

    def add(self, key: tuple[str, str, str]) -> None:
        with self._guard:
            self._keys[key] = None
            self._keys.move_to_end(key)
            while len(self._keys) > self.RECENT:
                self._keys.popitem(last=False)


_SENDING = LockTable(weak=True, thread_lock=threading.RLock)
"""One copy of this process sends a blob to a repository at a time: copies of images
that share a blob (the tags of a ``sync`` or ``copy --all-tags``, copied side by side)
each planned it as missing, and each sent it, once per image. The others wait, then
find it sent (:data:`_SENT`) and ask the registry first. The threads of the blocking
flavour and the tasks of each event loop wait on their own locks (a blocking copy made
on a loop's thread never waits on a task of that loop, which it would keep from
running); a thread may take a key it holds again."""

_SENT = _Sent()


def flows_of(target: CopyTarget) -> tuple[ManifestFlows, BlobFlows]:
    """The manifest and blob flows of a copy's target repository (either flavour)."""
    return target.manifests.flows, target.blobs.flows


@attrs.frozen
class _Source:
    """An image of the source repository: its top manifest and every manifest under it."""

    reference: str
    raw: RawManifest
    is_index: bool
    top: list[Descriptor]
    children: Children


def _image_config(source: _Source) -> Descriptor | None:
    """The image config that describes a copy of ``source``: a single image's, when it is
    an image config (an artifact's config describes nothing here); None for an index."""
    config = None if source.is_index else source.top[0]
    return config if config is not None and config.media_type in IMAGE_CONFIG_TYPES else None


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
        raw: RawManifest | None = None,
    ) -> Flow[Image | CopyPlan]:
        """Plan the copy of ``reference`` (its manifest ``raw`` when already read); then,
        unless ``dry_run``, carry the plan out; then the referrers (of every manifest of
        the tree, one level), planned or copied alike."""
        check_target(target)
        plan, image = yield from self._one(reference, target, target_tag, progress=progress,
                                           dry_run=dry_run, raw=raw)
        if dry_run:
            if referrers:
                plan = attrs.evolve(plan, referrers=(yield from self._plan_referrers(
                    plan.manifests, target, arriving=(b.digest for b in plan.blobs))))
            return plan
        if referrers:
            yield from self._copy_referrers(plan.manifests, target, progress=progress)
        assert image is not None
        return image

    # -- one image ---------------------------------------------------------------------------
    def _source(self, reference: str, raw: RawManifest | None = None) -> Flow[_Source]:
        """The image ``reference`` names (its manifest ``raw`` when already read)."""
        if raw is None:
            raw = yield from self._manifests.get_raw(reference)
        is_index, top, children = yield from manifest_tree(
            raw, lambda d: self._manifests.get_raw(d.digest), workers=self._max_workers)
        return _Source(reference, raw, is_index, top, children)

    def copy_unless_present(
        self, reference: str, target: CopyTarget, target_tag: str,
        progress: ProgressCallback | None,
    ) -> Flow[Image | str]:
        """:meth:`copy` of ``reference`` to ``target_tag``, unless the target has the image
        under that tag already: then ``domain/repository:tag@digest`` of it, and nothing
        else is sent (the source's manifest, read for the comparison, serves the copy)."""
        check_target(target)
        raw = yield from self._manifests.get_raw(reference)
        return (yield from self.copy_read(raw, reference, target, target_tag, progress,
                                          unless_present=True))

    def copy_read(
        self, raw: RawManifest, reference: str, target: CopyTarget, target_tag: str | None,
        progress: ProgressCallback | None, *, unless_present: bool = False,
        placed: Image | None = None,
    ) -> Flow[Image | str]:
        """:meth:`copy` of ``reference``, its manifest ``raw`` read already. With
        ``unless_present`` (and a ``target_tag``), nothing when the target holds the image
        under that tag: ``domain/repository:tag@digest`` of it (one HEAD). With
        ``placed`` (this image, copied to ``target`` under another tag), only the manifest
        is put under ``target_tag``: no blob is moved or mounted again."""
        check_target(target)
        there_manifests, _ = flows_of(target)
        if unless_present and target_tag is not None:
            there = yield from there_manifests.head_if_told(target_tag)
            if there is not None and there.digest == raw.digest:
                return f"{target.domain}/{target.name}:{target_tag}@{raw.digest}"
        if placed is not None and target_tag is not None:
            yield from there_manifests.put(target_tag, raw)
            return attrs.evolve(placed, tag=target_tag)
        image = yield from self.copy(reference, target, target_tag, progress=progress,
                                     referrers=False, dry_run=False, raw=raw)
        assert isinstance(image, Image)
        return image

    def plan_read(
        self, raw: RawManifest, reference: str, target: CopyTarget, target_tag: str | None,
        *, planned: CopyPlan | None = None,
    ) -> Flow[CopyPlan]:
        """:meth:`copy`'s dry run of ``reference``, its manifest ``raw`` read already.
        With ``planned`` (this image's plan to ``target`` under another tag), that plan
        under ``target_tag``: its blobs are not asked about again."""
        check_target(target)
        if planned is not None and target_tag is not None:
            return attrs.evolve(planned, tag=target_tag)
        plan = yield from self.copy(reference, target, target_tag, progress=None,
                                    referrers=False, dry_run=True, raw=raw)
        assert isinstance(plan, CopyPlan)
        return plan

    def place(self, raw: RawManifest, target: CopyTarget) -> Flow[None]:
        """Put the manifest ``raw`` of this repository, already read, into ``target`` by
        digest, with its blobs, as :meth:`copy` moves them -- without reading the
        manifest again or the config (no Image is described)."""
        source = yield from self._source(raw.digest, raw)
        require_verifiable_blobs(raw.digest, source.children)
        plan = yield from self._plan(source, target, None, dry_run=False)
        yield from self._move_and_put(source, plan, target, None, None)

    def _one(
        self, reference: str, target: CopyTarget, target_tag: str | None, *,
        progress: ProgressCallback | None, dry_run: bool, raw: RawManifest | None = None,
    ) -> Flow[tuple[CopyPlan, Image | None]]:
        """Plan copying ``reference`` and, unless ``dry_run``, do it.

        A dry run asks the target about every blob (HEAD: skip or not); a real copy
        within one registry plans every blob as a mount (mounting a blob the target has
        is answered 201 as well, so a HEAD would be a wasted round trip) and asks for
        the push scope up front.
        """
        source = yield from self._source(reference, raw)
        if not dry_run:
            require_verifiable_blobs(reference, source.children)
        config = _image_config(source)
        if config is not None:  # refused before anything is written, as pull refuses it
            check_config_size(config, self._endpoint.body_limit)  # (a dry run says so too)
        tag = target_tag or (None if is_digest(reference) else reference)
        plan = yield from self._plan(source, target, tag, dry_run=dry_run)
        if dry_run:
            return plan, None
        return plan, (yield from self._execute(source, plan, target, tag, progress))

    def _plan(self, source: _Source, target: CopyTarget, tag: str | None, *,
              dry_run: bool) -> Flow[CopyPlan]:
        same = target.requester.base_url == self._endpoint.base_url
        _, there = flows_of(target)
        return (yield from make_plan(
            self._endpoint, self._repository, source.raw, source.children, target, there, tag,
            check_target=dry_run or not same, for_push=not dry_run, workers=self._max_workers))

    def _execute(
        self, source: _Source, plan: CopyPlan, target: CopyTarget, tag: str | None,
        progress: ProgressCallback | None,
    ) -> Flow[Image]:
        """Move the blobs as ``plan`` says, put the manifests (children first); the Image."""
        raw = source.raw
        config = _image_config(source)  # (its size checked by _one)
        limit = self._endpoint.body_limit
        # The config describes the result: the bytes relayed across are kept for it (it
        # is small), so only a mounted or skipped config is read from the source.
        keep = config.digest if config is not None else None
        kept: list[bytes] = []
        yield from self._move_and_put(source, plan, target, tag, progress, keep, kept)
        config_data = None
        if config is not None:
            config_data = b"".join(kept) if kept else (
                yield from read_config(self._blobs, config, limit))
        return light_image(raw, source.is_index, source.top, config_data,
                           domain=target.domain, repository=target.name, tag=tag)

    def _move_and_put(
        self, source: _Source, plan: CopyPlan, target: CopyTarget, tag: str | None,
        progress: ProgressCallback | None, keep: str | None = None,
        kept: list[bytes] | None = None,
    ) -> Flow[None]:
        """Move the blobs as ``plan`` says (the bytes of blob ``keep`` relayed across go
        to ``kept`` too), then put the manifests, children first."""
        raw = source.raw
        there_manifests, _ = flows_of(target)
        yield Gather([partial(self.move, b, target, progress,
                              kept if b.digest == keep else None)
                      for b in plan.blobs],  # distinct, largest first
                     self._max_workers, transfer=True)
        for child, _ in source.children:
            if child.digest != raw.digest:
                yield from there_manifests.put(child.digest, child)
        yield from there_manifests.put(tag or raw.digest, raw)

    def move(
        self, b: BlobPlan, target: CopyTarget, progress: ProgressCallback | None,
        keep: list[bytes] | None = None,
    ) -> Flow[None]:
        """Carry out the plan of one blob: skip it, mount it, or stream it across (its
        bytes left in ``keep``, when given, once it is across)."""
        _, there = flows_of(target)
        if b.action == "skip":
            skipped(progress, b.digest, b.size)
            return
        session = None  # a declined mount's upload session: the blob goes in it
        if b.action == "mount":
            got = yield from there.mount_or_session(b.digest, self._repository)
            if got is True:
                mounted(progress, b.digest, b.size, self._repository)
                return
            session = got or None
        key = (target.requester.base_url, target.name, b.digest)
        yield Exclusive(_SENDING, key, self._send_once(b, target, progress, keep, key,
                                                       session))

    def _send_once(
        self, b: BlobPlan, target: CopyTarget, progress: ProgressCallback | None,
        keep: list[bytes] | None, key: tuple[str, str, str], session: Answer | None,
    ) -> Flow[None]:
        """:meth:`_send`, unless another copy of this process sent the blob there since
        this one's plan and the registry has it (then it is skipped)."""
        _, there = flows_of(target)
        if key in _SENT and (yield from there.exists(b.digest, for_push=True)):
            skipped(progress, b.digest, b.size)
            return  # (a session of a declined mount is left to expire)
        yield from self._send(b, target, progress, keep, session)
        _SENT.add(key)

    def _send(
        self, b: BlobPlan, target: CopyTarget, progress: ProgressCallback | None,
        keep: list[bytes] | None, session: Answer | None,
    ) -> Flow[None]:
        """Stream blob ``b`` across (read from the source as it is sent) -- in
        ``session`` when given -- sent again in a new session when a connection is cut
        on the way."""
        _, there = flows_of(target)
        tries = 0
        events = None if progress is None else Resent(progress, b.digest)
        while True:
            # read from the source as it is sent, verified on the way (a Relay)
            passed: list[bytes] | None = None if keep is None else []
            relayed = Relayed(self._blobs.fetch, b.digest, b.size, passed)
            opened, session = session, None  # the first attempt's only
            try:
                yield from there.upload_stream(relayed, digest=b.digest, size=b.size,
                                               progress=events, session=opened)
                if keep is not None and passed is not None:
                    keep.extend(passed)
                return
            except RegistryUnavailableError as exc:
                # A connection cut on the way (the source's own resumes used up, or the
                # target's PUT cut: its session is gone and the stream can't rewind):
                # the blob goes again, read afresh from the source, in a new session.
                # A failure before the bytes flowed (the session's POST, the source's
                # GET) has had its own retries: sent again, each would retry again.
                if (exc.status_code is not None or not relayed.opened
                        or tries >= target.requester.retries):
                    raise
                tries += 1
                log.debug("copy: blob %s was cut on the way, sending it again", b.digest)
                if events is not None:
                    events.restart()

    # -- referrers ---------------------------------------------------------------------------
    def _copy_referrers(
        self, subjects: Iterable[str], target: CopyTarget, *, progress: ProgressCallback | None,
    ) -> Flow[list[Descriptor]]:
        """Copy the referrers of each subject to ``target`` (one level, not their referrers)."""
        copied: list[Descriptor] = []
        for subject in dict.fromkeys(subjects):
            for entry in (yield from self._manifests.referrers(subject)):
                try:
                    yield from self._one(entry.digest, target, None, progress=progress,
                                         dry_run=False)
                except NotFoundError:
                    # A stale fallback index may list an artifact deleted since.
                    log.warning("referrer %s of %s is gone; not copied", entry.digest, subject)
                    continue
                # (its put listed it in the target's referrers tag where there is no API)
                copied.append(entry)
        return copied

    def _plan_referrers(
        self, subjects: Iterable[str], target: CopyTarget, arriving: Iterable[str] = (),
    ) -> Flow[tuple[CopyPlan, ...]]:
        """The copy plan of each referrer :meth:`_copy_referrers` would copy (nothing written).

        ``arriving`` names blobs the copy brings to the target before the referrers
        (the image's own): a transfer of those, or of a blob an earlier referrer brings,
        is planned as a skip -- the copy finds them there by then, so they move once.
        """
        there = set(arriving)
        plans: list[CopyPlan] = []
        for subject in dict.fromkeys(subjects):
            for entry in (yield from self._manifests.referrers(subject)):
                try:
                    plan, _ = yield from self._one(entry.digest, target, None, progress=None,
                                                   dry_run=True)
                except NotFoundError:
                    continue  # a stale fallback index entry: _copy_referrers skips it too
                blobs = tuple(attrs.evolve(b, action="skip")
                              if b.digest in there and b.action == "transfer" else b
                              for b in plan.blobs)
                there.update(b.digest for b in blobs)
                plans.append(attrs.evolve(plan, blobs=blobs))
        return tuple(plans)
