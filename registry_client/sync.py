"""Copy many images: every tag of a repository, or a whole mapping of source -> target repos.

A sync file maps source repositories to target repositories, as JSON::

    {"localhost:5000/app": "registry.example.com/mirror/app",
     "localhost:5000/tools:1.2": "registry.example.com/tools"}

or as the same mapping in YAML (``source: target`` lines, read with PyYAML). A
source with a tag or digest copies that image; without, every tag. Images are
copied concurrently (a bounded pool); each image runs one copy plan.

Past one machine, a sync is a plan of independent tasks (:func:`plan`, one
:class:`SyncTask` per image, picklable and without secrets) that any
``concurrent.futures.Executor`` runs (:func:`run_task`): threads, processes, a Dask
cluster (``sync(..., executor=client.get_executor())``), or Kubernetes Indexed Job
pods each running one shard (``shard=(I, N)``). A journal (``journal=PATH``) lets a
re-run skip what is done.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import TYPE_CHECKING, Union

import attrs

from ._executors import (
    CredentialSource,
    RegistryFactory,
    register_credential_source,
    run_tasks,
    runner_for,
)
from ._flow import Exclusive, Flow, Gather, LockTable, run
from ._journal import Journal
from ._log import log
from ._syncfile import read_mapping
from ._synctask import (
    SyncPlan,
    SyncTask,
    TaskResult,
    first_of_each,
    one_source_per_target,
    parse_shard,
    plan_flow,
    run_task,
)
from ._vanished import repository_gone, tag_vanished
from .errors import InvalidReferenceError, RegistryError
from .models import Image, RawManifest
from .progress import ProgressCallback
from .reference import ImageReference, parse_image_name
from .registry import Registry
from .repository import Repository
from .services._plan import CopyPlan
from .services._shell import BlockingShell

if TYPE_CHECKING:
    from .aio import AsyncRegistry, AsyncRepository

AnyRepository = Union["Repository", "AsyncRepository"]
"""A repository of either flavour of the API: the copy flows are the same."""

__all__ = [
    "CopiedTags",
    "CredentialSource",
    "RegistryFactory",
    "SyncEntry",
    "SyncPlan",
    "SyncResult",
    "SyncTask",
    "TaskResult",
    "copy_all_tags",
    "load_sync_file",
    "parse_shard",
    "plan",
    "register_credential_source",
    "run_task",
    "sync",
]


@attrs.frozen
class SyncEntry:
    """One line of a sync file: a source reference and a target repository reference.

    ``tags``: a regular expression (Python's ``re``) for a source repository: only
    the tags it matches are copied. It is searched in each tag, not anchored, like
    skopeo's ``images-by-tag-regex``: ``^1\\.`` is every tag starting with ``1.``,
    ``^v?\\d+\\.\\d+$`` every ``X.Y`` (with or without ``v``).
    """

    source: str
    target: str
    tags: str | None = None


@attrs.frozen
class SyncResult:
    """What a sync did: the images copied (or the plans, for a dry run) and the failures.

    ``vanished`` names the source images (``host/repo:tag``) whose tag was listed but
    deleted by someone else before its copy began (a busy registry): left out, not
    failures. ``present`` names the images found at the target already under their
    tag (one HEAD each, nothing moved), and a sync run as tasks (an executor, a
    journal or a shard) those a journal says an earlier run finished (``journaled``:
    no request), as ``host/repo:tag@digest`` of the target.
    """

    copied: tuple[Image | CopyPlan, ...]
    failed: tuple[tuple[str, str], ...]
    vanished: tuple[str, ...] = ()
    present: tuple[str, ...] = ()
    journaled: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every image was copied."""
        return not self.failed


class CopiedTags(list[Image | CopyPlan]):
    """What :func:`copy_all_tags` copied: a list of images (or plans, for a dry run).

    ``vanished`` lists the source tags that were deleted by someone else between
    the tag list and their copy (a busy registry): they were left out.
    """

    def __init__(self, items: Iterable[Image | CopyPlan] = (), vanished: Iterable[str] = ()
                 ) -> None:
        super().__init__(items)
        self.vanished: list[str] = list(vanished)


def copy_all_tags(
    source: Repository, target: Repository, *, max_workers: int = 4, dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> CopiedTags:
    """Copy every tag of ``source`` to ``target`` (same tags), a few images at a time.

    With ``dry_run=True`` returns each image's :class:`CopyPlan` and writes nothing.
    A tag deleted from ``source`` after the tag list was read is left out, logged and
    named in the result's ``vanished``.

    Raises:
        RegistryError: a tag could not be copied. Every other tag is still copied
            first; the error raised is the first failure's (its type kept), naming
            the tag. :func:`sync` reports every failure instead.
    """
    return run(copy_all_tags_flow(source, target, max_workers=max_workers, dry_run=dry_run,
                                  progress=progress), BlockingShell(source.requester))


def copy_all_tags_flow(
    source: AnyRepository, target: AnyRepository, *, max_workers: int = 4,
    dry_run: bool = False, progress: ProgressCallback | None = None,
) -> Flow[CopiedTags]:
    """The flow of :func:`copy_all_tags` (and of its asyncio form)."""
    tags = yield from source.tags.flows.get_all()
    jobs = [_Job(source, tag, target, tag, listed=True) for tag in tags]
    copied, failed, vanished, _ = yield from _run(jobs, max_workers=max_workers,
                                                  dry_run=dry_run, progress=progress)
    if failed:
        name, exc = failed[0]
        if isinstance(exc, RegistryError):
            exc.with_context(f"copy {name}: {exc.message}")  # keeps status, Retry-After, request
        raise exc
    return CopiedTags(copied, [job.reference for job in vanished])


@attrs.frozen
class _Job:
    source: AnyRepository
    reference: str  # a tag or a digest
    target: AnyRepository
    target_tag: str | None
    listed: bool = False  # the reference is a tag read from the source's tag list
    entry: str = ""  # the sync entry (source) the job came from, as the user wrote it

    @property
    def source_key(self) -> tuple[str, str]:
        return self.source.requester.base_url, self.source.name

    @property
    def repository_name(self) -> str:
        return self.entry or f"{self.source.domain}/{self.source.name}"

    @property
    def name(self) -> str:
        sep = "@" if ":" in self.reference else ":"
        return f"{self.source.domain}/{self.source.name}{sep}{self.reference}"

    @property
    def target_image(self) -> str | None:
        """``domain/repository:tag`` the job copies to; None: by digest, no tag."""
        tag = self.target_tag or (self.reference if ":" not in self.reference else None)
        return f"{self.target.domain}/{self.target.name}:{tag}" if tag else None

    @property
    def identity(self) -> tuple[str, str, str, str | None]:
        """The image and where it goes: two entries naming the same pair copy it once."""
        return self.name, self.target.domain, self.target.name, self.target_tag


class _RepositoryGone(Exception):
    """A listed tag not tried: its source repository was found deleted meanwhile."""


class _Present(str):
    """A job's image found at the target already (``host/repo:tag@digest`` of it)."""


def _run(
    jobs: list[_Job], *, max_workers: int, dry_run: bool, progress: ProgressCallback | None,
    skip_present: bool = False,
) -> Flow[tuple[list[Image | CopyPlan], list[tuple[str, Exception]], list[_Job], list[str]]]:
    """``(copied, failures, vanished, present)``: a listed tag whose manifest is gone is
    not a failure. With ``skip_present``, an image the target holds under its tag already
    is not copied again (one HEAD; the source's manifest read for it serves a copy).

    The images are copied side by side (``max_workers`` at once); a failed copy does not
    stop the others. Only the source's own read of the listed tag (a GET or HEAD of its
    manifest URL on the source registry) answering 404 makes the tag vanished: a 404
    of the target (a refused PUT, on a mirror's same path) stays a failure. A source
    repository found deleted (404 ``NAME_UNKNOWN``) after its tag list is one
    failure naming it; its tags not yet begun are not tried. That failure carries the
    error of its first tag in tag list order that met the 404 -- not of whichever copy
    came back first -- so the same sync reports the same failure, run after run.
    """
    gone: set[tuple[str, str]] = set()  # source repositories found deleted (NAME_UNKNOWN)
    # An image many tags name (latest, 1.2, 1.2.3) is copied once to a target; its other
    # tags get its manifest. Copies of one image at once re-mounted the same blobs while a
    # sibling's manifest PUT was checked, which Distribution then refused (400
    # MANIFEST_BLOB_UNKNOWN), and each moved every blob again: 7 requests a tag, not 2.
    locks = LockTable(weak=True)
    placed: dict[tuple[str, str, str], Image] = {}  # (target, repository, digest) -> copy
    # a dry run's plans: (source, source repository, target, repository, digest) -> plan
    planned: dict[tuple[str, ...], CopyPlan] = {}

    def once(job: _Job, raw: RawManifest,
             key: tuple[str, str, str]) -> Flow[Image | _Present]:
        """Copy ``job``'s image, its manifest ``raw`` read -- or, copied to the target
        (``key``) by this run already, put ``raw`` under the job's tag (no blob moved
        again)."""
        done: Image | str = yield from job.source.images.flows.copy_read(
            raw, job.reference, job.target, job.target_tag, progress=progress,
            unless_present=skip_present, placed=placed.get(key))
        if isinstance(done, str):
            return _Present(done)
        placed.setdefault(key, done)
        return done

    def plan_once(job: _Job, raw: RawManifest, key: tuple[str, str, str]) -> Flow[CopyPlan]:
        """:func:`once` for a dry run: the image's plan from its source to the target
        (``key``) made once (a HEAD a blob), its other tags given that plan."""
        mine = (job.source.requester.base_url, job.source.name, *key)
        plan: CopyPlan = yield from job.source.images.flows.plan_read(
            raw, job.reference, job.target, job.target_tag, planned=planned.get(mine))
        planned.setdefault(mine, plan)
        return plan

    def one(job: _Job) -> Flow[Image | CopyPlan | _Present | Exception]:
        """Copy one image; its failure is its result (collected, never raised)."""
        if job.listed and job.source_key in gone:
            return _RepositoryGone()
        try:
            raw = yield from job.source.manifests.flows.get_raw(job.reference)
            key = (job.target.requester.base_url, job.target.name, raw.digest)
            done: Image | CopyPlan | _Present = yield Exclusive(
                locks, key, plan_once(job, raw, key) if dry_run else once(job, raw, key))
            return done
        except RegistryError as exc:
            if job.listed and repository_gone(exc, *job.source_key):
                gone.add(job.source_key)
            return exc
        except Exception as exc:
            return exc

    results: list[Image | CopyPlan] = []
    failures: list[tuple[str, Exception]] = []
    vanished: list[_Job] = []
    present: list[str] = []
    if not jobs:
        return results, failures, vanished, present
    outcomes: list[Image | CopyPlan | _Present | Exception] = yield Gather(
        [partial(one, job) for job in jobs], max(1, min(max_workers, len(jobs))))
    first: dict[tuple[str, str], RegistryError] = {}  # gone repository -> its failure
    for job, outcome in zip(jobs, outcomes, strict=True):
        key = job.source_key
        if (isinstance(outcome, RegistryError) and key in gone
                and repository_gone(outcome, *key)):
            first.setdefault(key, outcome)
    not_copied: dict[tuple[str, str], int] = {}
    reported: set[tuple[str, str]] = set()  # gone repositories given their one failure
    for job, outcome in zip(jobs, outcomes, strict=True):
        if isinstance(outcome, _Present):
            present.append(str(outcome))
        elif not isinstance(outcome, Exception):
            results.append(outcome)
        elif isinstance(outcome, _RepositoryGone | RegistryError):
            key = job.source_key
            if isinstance(outcome, _RepositoryGone) or (
                    key in gone and repository_gone(outcome, *key)):
                not_copied[key] = not_copied.get(key, 0) + 1
                if key not in reported:
                    reported.add(key)
                    failures.append((job.repository_name, first[key]))
            elif job.listed and tag_vanished(outcome, key[0], job.source.name, job.reference):
                log.warning("%s vanished (deleted since the tag list was read): "
                            "not copied", job.name, extra={"summarized": True})
                vanished.append(job)
            else:
                failures.append((job.name, outcome))
        else:
            failures.append((job.name, outcome))
    for key in reported:  # (the failure holds this very error: reworded in place)
        error = first[key]
        count = not_copied[key]
        error.with_context(f"the repository was deleted after its tag list was read: {count} "
                           f"tag{'s' if count != 1 else ''} not copied ({error.message})")
    return results, failures, vanished, present


def load_sync_file(path: str | os.PathLike[str]) -> list[SyncEntry]:
    """Read a JSON or YAML mapping of source -> target references.

    JSON is read as JSON when it parses (a ``.json`` file must); anything else is
    read as YAML (PyYAML's safe loader, libyaml's when installed). A UTF-8 byte
    order mark is skipped in both.

    Raises:
        ValueError: the file is not UTF-8, not valid JSON/YAML, nested too deeply,
            lists a source twice, or is not a flat mapping of strings; the message
            names the file, and the line where it can (the entry for JSON).
        OSError: the file cannot be read.
    """
    return [SyncEntry(source, target, tags) for source, target, tags in read_mapping(path)]


def sync(
    entries: Iterable[SyncEntry],
    registry_for: Callable[[ImageReference], Registry],
    *, max_workers: int = 4, dry_run: bool = False, progress: ProgressCallback | None = None,
    executor: Executor | None = None, journal: str | os.PathLike[str] | None = None,
    shard: tuple[int, int] | None = None, max_per_registry: int | None = None,
) -> SyncResult:
    """Copy every entry's images to its target; ``registry_for(ref)`` opens registries.

    A source without tag or digest copies every tag (its target must then be a
    repository), or only those matching its entry's ``tags`` pattern; a source naming
    one image is copied to the target's tag when the
    target has one, else under the source's tag. An image two entries name for the
    same target and tag is copied once. Failures (an image, or a source
    repository that cannot be listed) are collected, not raised, so one bad entry
    does not stop the rest. A listed tag deleted from the source before its copy
    began is left out and named in :attr:`SyncResult.vanished`, not a failure.

    Without ``executor``, ``journal``, ``shard`` or ``max_per_registry`` the images
    are listed and copied in one pass by ``max_workers`` threads of this process,
    sharing each registry's connections, token and 429 pause. With any of them, the
    sync is first planned (:func:`plan`), then each task runs (:func:`run_task`):

    * ``executor``: any ``concurrent.futures.Executor`` -- a ``ThreadPoolExecutor``
      (the default: ``max_workers`` threads), a ``ProcessPoolExecutor``, or a Dask
      cluster's ``client.get_executor()``. Tasks and ``registry_for`` are pickled for
      processes and Dask: use :class:`RegistryFactory`. ``progress`` is called for
      tasks run in this process's threads only.
    * ``journal``: a file where each finished task is appended (JSON lines, fsynced);
      a re-run skips the tasks it lists without a request (:attr:`SyncResult.journaled`).
      A journal belongs to the sync's input -- its entries and ``shard`` -- not to
      the tasks one run planned: a re-run after a partial plan (a tag list that
      failed) or after tags moved resumes it, skipping each image finished with the
      same source digest and target and doing the rest. A journal of another input
      (other entries, another shard), or one another sync holds open (locked),
      raises :class:`~registry_client.errors.JournalError`.
    * ``shard=(I, N)``: only the tasks of shard ``I`` of ``N`` (a stable hash of the
      source image name): N runs with I = 0 .. N-1 copy every image exactly once.
    * ``max_per_registry``: at most that many tasks talk to one registry host at
      once -- across the whole cluster on Dask (a ``distributed.Semaphore`` named
      ``registry-client:HOST:max=N``: syncs with the same limit share it, each
      other limit has its own), within each process otherwise.

    Raises:
        InvalidReferenceError: an entry is not a valid reference, or its target can't
            be used (a digest; a tag for a whole repository). Checked before any copy.
        JournalError: ``journal`` is of another input (entries or shard), in use by
            another sync, or not a journal.
        ValueError: ``shard`` is not ``(I, N)`` with ``0 <= I < N`` (TypeError: not a
            pair of whole numbers). Checked before any request.
    """
    if executor is None and journal is None and shard is None and max_per_registry is None:
        opened = open_entries(entries, registry_for)
        shell = next((BlockingShell(o.source.requester) for o in opened
                      if isinstance(o.source, Repository)), None)
        flow = sync_flow(opened, max_workers=max_workers, dry_run=dry_run, progress=progress)
        return run(flow, shell if shell is not None else NO_IO)
    tasks = plan(entries, registry_for, shard=shard, max_workers=max_workers)
    with journaled(tasks, journal, dry_run=dry_run) as (j, todo, skipped):
        own = executor is None
        pool = ThreadPoolExecutor(max(1, max_workers)) if executor is None else executor
        try:
            runner = runner_for(pool, registry_for, dry_run=dry_run,
                                max_per_registry=max_per_registry, progress=progress)
            results = run_tasks(pool, runner, todo, j)
        finally:
            if own:
                pool.shutdown()
    return sync_result(tasks, results, skipped)


@contextmanager
def journaled(
    tasks: SyncPlan, journal: str | os.PathLike[str] | None, *, dry_run: bool,
) -> Iterator[tuple[Journal | None, list[SyncTask], list[SyncTask]]]:
    """``(journal, to do, done already)`` of a planned sync (both flavours): the journal
    opened for ``tasks`` (None: no journal, or a dry run, which records nothing), the
    tasks it does not list as finished, and those it does (reported as journaled)."""
    with Journal(journal, tasks) if journal is not None and not dry_run else nullcontext() as j:
        done = set(j.done) if j is not None else set()  # (before this run records)
        yield (j, [t for t in tasks if t.key not in done],
               [t for t in tasks if t.key in done])


def sync_result(tasks: SyncPlan, results: dict[str, TaskResult], journaled: list[SyncTask]
                ) -> SyncResult:
    """The SyncResult of a planned sync, in plan order (both flavours)."""
    copied: list[Image | CopyPlan] = []
    failed = list(tasks.failed)
    vanished = list(tasks.vanished)
    present: list[str] = []
    for task in tasks:
        result = results.get(task.key)
        if result is None:
            continue
        if result.image is not None:
            copied.append(result.image)
        elif result.outcome == "present":
            present.append(result.target_reference)
        elif result.outcome == "vanished":
            vanished.append(task.name)
        elif result.outcome == "failed":
            failed.append((task.name, result.error or "failed"))
    return SyncResult(copied=tuple(copied), failed=tuple(failed), vanished=tuple(vanished),
                      present=tuple(present),
                      journaled=tuple(TaskResult(t, "present").target_reference
                                      for t in journaled))


def plan(
    entries: Iterable[SyncEntry],
    registry_for: Callable[[ImageReference], Registry],
    *, shard: tuple[int, int] | None = None, max_workers: int = 4,
) -> SyncPlan:
    """The tasks of a sync, one per image: each source image with its digest, and where
    it goes. Picklable, without secrets: run each anywhere with :func:`run_task`.

    Repositories are listed (every tag list page) and each image's digest read (one
    HEAD, ``max_workers`` at once; a source given by digest costs nothing), once.
    With ``shard=(I, N)`` only shard ``I``'s tasks are kept, and only their digests
    read. What could not be planned is in the result's ``failed`` and ``vanished``
    (see :class:`SyncPlan`); its ``plan_id`` identifies the tasks, its ``input_id``
    the entries and shard (what a journal belongs to).

    Raises:
        InvalidReferenceError: as :func:`sync`, before any request.
        ValueError: ``shard`` is no shard, as :func:`sync` (TypeError: not two numbers).
    """
    opened = open_entries(entries, registry_for)
    shell = next((BlockingShell(o.source.requester) for o in opened
                  if isinstance(o.source, Repository)), None)
    flow = plan_flow(opened, shard=shard, max_workers=max_workers)
    return run(flow, shell if shell is not None else NO_IO)


@attrs.frozen
class OpenedEntry:
    """A sync entry with its repositories opened (no request sent yet): ``error`` when
    its registries could not be opened."""

    entry: SyncEntry
    source: AnyRepository | None = None
    target: AnyRepository | None = None
    reference: str | None = None  # the source's tag or digest; None: every tag
    tag: str | None = None  # the target tag of one image
    error: RegistryError | ValueError | None = None
    pattern: re.Pattern[str] | None = None  # the entry's tags pattern

    def listed(self, tags: Iterable[str]) -> list[str]:
        """The listed tags of the source repository this entry copies."""
        return [t for t in tags if self.pattern is None or self.pattern.search(t)]


def open_entries(
    entries: Iterable[SyncEntry],
    registry_for: Callable[[ImageReference], Registry] | Callable[[ImageReference],
                                                                   AsyncRegistry],
) -> list[OpenedEntry]:
    """Check every entry (before any copy), then open its repositories, in order.

    Raises:
        InvalidReferenceError: as :func:`sync`.
        TypeError: an entry is not a :class:`SyncEntry`.
    """
    parsed = []
    for entry in entries:
        if not isinstance(entry, SyncEntry):
            raise TypeError(f"a sync entry is a SyncEntry(source, target), not "
                            f"{type(entry).__name__}")
        src_ref = parse_image_name(entry.source, allow_scheme=True)
        dst_ref = parse_image_name(entry.target, allow_scheme=True)
        if dst_ref.digest is not None:
            raise InvalidReferenceError(
                f"sync target {entry.target!r}: give a repository or a tag, not a digest")
        if dst_ref.tag is not None and src_ref.tag is None and src_ref.digest is None:
            raise InvalidReferenceError(
                f"sync target {entry.target!r}: every tag of {entry.source!r} is copied "
                "under its own name, so the target must be a repository without a tag")
        pattern = None
        if entry.tags is not None:
            if src_ref.tag is not None or src_ref.digest is not None:
                raise InvalidReferenceError(
                    f"sync source {entry.source!r}: a tags pattern needs a repository "
                    "without tag or digest")
            try:
                pattern = re.compile(entry.tags)
            except re.error as exc:
                raise InvalidReferenceError(
                    f"sync source {entry.source!r}: tags {entry.tags!r} is not a regular "
                    f"expression ({exc})") from None
        parsed.append((entry, src_ref, dst_ref, pattern))
    opened: list[OpenedEntry] = []
    for entry, src_ref, dst_ref, pattern in parsed:
        try:
            src: AnyRepository = registry_for(src_ref).repository(src_ref.path)
            dst: AnyRepository = registry_for(dst_ref).repository(dst_ref.path)
        except (RegistryError, ValueError) as exc:  # (ValueError: Registry() refused it,
            opened.append(OpenedEntry(entry, error=exc))  # a port out of range)
            continue
        opened.append(OpenedEntry(entry, src, dst, src_ref.reference,
                                  dst_ref.tag or src_ref.tag, pattern=pattern))
    return opened


def sync_flow(
    opened: list[OpenedEntry], *, max_workers: int = 4, dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> Flow[SyncResult]:
    """The flow of :func:`sync` (and of its asyncio form), over :func:`open_entries`."""
    jobs: list[_Job] = []
    failed: list[tuple[str, Exception]] = []
    for o in opened:
        if o.error is not None:
            failed.append((o.entry.source, o.error))
            continue
        assert o.source is not None and o.target is not None
        if o.reference is not None:
            jobs.append(_Job(o.source, o.reference, o.target, o.tag))
            continue
        try:
            tags = yield from o.source.tags.flows.get_all()
        except RegistryError as exc:
            failed.append((o.entry.source, exc))
            continue
        jobs.extend(_Job(o.source, t, o.target, t, listed=True, entry=o.entry.source)
                    for t in o.listed(tags))
    # an image named twice (a tag list and a regex) goes once; a target tag, one source
    jobs = first_of_each(jobs, lambda job: job.identity)
    jobs, refused = one_source_per_target(jobs, lambda job: job.name,
                                          lambda job: job.target_image)
    failed += [(job.name, ValueError(why)) for job, why in refused]
    copied, failures, vanished, present = yield from _run(
        jobs, max_workers=max_workers, dry_run=dry_run, progress=progress, skip_present=True)
    failed += failures
    return SyncResult(copied=tuple(copied), failed=tuple((n, str(e)) for n, e in failed),
                      vanished=tuple(job.name for job in vanished), present=tuple(present))


class _NoIO:
    """The performer of a sync flow with no repository opened: it yields no effect, so
    either flavour runs it with this (``_flow.run``)."""

    def perform(self, effect: object) -> object:
        raise TypeError(f"a sync without repositories has no effect to perform: {effect!r}")


NO_IO = _NoIO()
