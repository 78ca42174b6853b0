"""A sync as independent tasks: the plan (one task per image), a task's run, shards.

A :class:`SyncTask` names one image to mirror by references only -- the source with
its digest, the target -- so it can be pickled and sent to another thread, process
or machine, where the registries (and their credentials) are opened. Running a task
twice is harmless: an image already at the target costs one HEAD.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union

import attrs

from ._flow import Flow, Gather, run
from ._vanished import tag_vanished
from .errors import InvalidReferenceError, RegistryError
from .models import Descriptor, Image
from .progress import ProgressCallback
from .reference import ImageReference, parse_image_name, pinned_name
from .registry import Registry
from .repository import Repository
from .services._plan import CopyPlan
from .services._shell import BlockingShell

if TYPE_CHECKING:
    from .aio import AsyncRepository
    from .sync import OpenedEntry

AnyRepository = Union["Repository", "AsyncRepository"]

_T = TypeVar("_T")

__all__ = ["Outcome", "SyncPlan", "SyncTask", "TaskResult", "first_of_each", "input_id",
           "one_source_per_target", "open_task", "parse_shard", "plan_flow", "run_task",
           "task_flow"]

Outcome = Literal["copied", "present", "planned", "vanished", "failed"]
"""What became of a task: copied; already at the target (one HEAD, nothing moved);
planned (dry run); vanished (a listed tag deleted from the source meanwhile); failed."""


def reference_text(ref: ImageReference) -> str:
    """``ref`` as text that parses back to it, scheme (``http://``) included."""
    return f"{ref.scheme}://{ref}" if ref.scheme else str(ref)


def _fixed_source(task: SyncTask, attribute: Any, source: str) -> None:
    """A task's source names its image by digest (the plan fixed it).

    Raises:
        InvalidReferenceError: ``source`` is no image reference.
        ValueError: it has no digest.
    """
    if parse_image_name(source, allow_scheme=True).digest is None:
        raise ValueError(f"a sync task's source needs a digest ({source!r}): "
                         "registry_client.sync.plan makes tasks with theirs")


@attrs.frozen
class SyncTask:
    """One image to mirror: ``source`` (``host/repo:tag@sha256:…``, or ``host/repo@sha256:…``)
    to ``target`` (``host/repo:tag``, or ``host/repo`` for a digest pushed without tag).

    Small and picklable, and it holds no secret: the registries are opened (and their
    credentials found) where the task runs, by its ``registry_for``. ``plan_id`` names
    the plan the task belongs to (see :attr:`SyncPlan.plan_id`); ``listed``: its tag
    came from the source's tag list (a tag deleted meanwhile is then "vanished", not
    a failure); ``entry``: the sync entry it came from, as written.

    Raises:
        ValueError: ``source`` has no digest (InvalidReferenceError: is no reference).
    """

    source: str = attrs.field(validator=_fixed_source)
    target: str
    plan_id: str = ""
    listed: bool = False
    entry: str = ""

    @property
    def name(self) -> str:
        """The source image without its digest when it has a tag (``host/repo:tag``): the
        name failures and vanished images are reported under, and the shard key."""
        ref = parse_image_name(self.source, allow_scheme=True)
        return image_name(ref.domain, ref.path, ref.tag, ref.digest)

    @property
    def digest(self) -> str:
        """The digest of the source image (the plan fixed it)."""
        digest = parse_image_name(self.source, allow_scheme=True).digest
        assert digest is not None  # (a task always has one: _fixed_source)
        return digest

    @property
    def key(self) -> str:
        """The task's identity in a journal: sha256 of source and target (hex)."""
        return _sha256(f"{self.source}\n{self.target}")

    def shard(self, shards: int) -> int:
        """The shard (``0 <= shard < shards``) this task belongs to, the same on every
        machine and Python: sha256 of :attr:`name`, not Python's salted ``hash()``.

        The digest is left out of the key, so a tag pushed again between two shards'
        plans stays in its shard: it is never copied by two shards, nor by none.
        """
        return shard_of(self.name, shards)


def shard_of(name: str, shards: int) -> int:
    """The shard of a source image name (see :meth:`SyncTask.shard`):
    ``int(sha256(name as UTF-8).hexdigest()[:16], 16) % shards`` -- the first 64 bits
    of the name's sha256, modulo ``shards``. Stable: the same in every version, so
    shards planned by different versions agree (documented; do not change)."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, not {shards}")
    return int(_sha256(name)[:16], 16) % shards


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)``, with ``0 <= I < N``.

    Raises:
        ValueError: not two whole numbers ``I/N`` with ``0 <= I < N``.
    """
    index, slash, count = text.strip().partition("/")
    if not slash or not index.isdigit() or not count.isdigit() or not index.isascii() \
            or not count.isascii():
        raise ValueError(f"{text!r}: give the shard as I/N, e.g. 0/3")
    i, n = int(index), int(count)
    if n < 1 or i >= n:
        raise ValueError(f"{text!r}: the shard I/N needs 0 <= I < N")
    return i, n


def check_shard(shard: object) -> tuple[int, int] | None:
    """``shard`` as ``(I, N)`` with ``0 <= I < N`` (None: every task), else refused
    before anything is planned: shard ``N`` of ``N`` (a Job's index counted from 1)
    planned nothing, and the sync said it succeeded.

    Raises:
        TypeError: not None nor a pair of whole numbers (``"0/3"``: see :func:`parse_shard`).
        ValueError: a pair, but not ``0 <= I < N``.
    """
    if shard is None:
        return None
    if isinstance(shard, str) or not isinstance(shard, tuple | list):
        hint = f" (parse_shard({shard!r}) reads one)" if isinstance(shard, str) else ""
        raise TypeError(f"a shard is a pair (I, N), not {type(shard).__name__}{hint}")
    if len(shard) != 2:
        raise ValueError(f"a shard is a pair (I, N), not {len(shard)} numbers")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in shard):
        raise TypeError(f"a shard is two whole numbers (I, N), not {tuple(shard)!r}")
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"the shard {tuple(shard)!r} needs 0 <= I < N (shards count from 0)")
    return i, n


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class SyncPlan(list[SyncTask]):
    """What :func:`registry_client.sync.plan` returns: the tasks (a list), in entry order,
    each (source, target) once.

    ``failed`` names the entries that could not be planned (a source repository
    that cannot be listed, a named tag that is not there), with the error's words;
    ``vanished`` the listed tags deleted from the source before their digest was
    read. ``shard`` is the ``(I, N)`` the plan was made for, or None for every task
    (a shard ``(0, 1)`` is every task: None). ``plan_id`` identifies the tasks;
    ``input_id`` what was planned -- the sync entries and the shard (see
    :func:`input_id`), which is what a journal belongs to. A plan made by hand
    (no ``input_id`` given) is identified by its tasks.
    """

    def __init__(self, tasks: Iterable[SyncTask] = (), *,
                 failed: Iterable[tuple[str, str]] = (), vanished: Iterable[str] = (),
                 shard: tuple[int, int] | None = None, input_id: str | None = None) -> None:
        self.shard = _whole(shard)
        shard = self.shard
        unique: dict[tuple[str, str], SyncTask] = {}
        for t in tasks:  # an image listed twice (a repository and one of its tags): once
            unique.setdefault((t.source, t.target), t)
        planned = list(unique.values())
        self.plan_id = plan_id(planned, shard)
        self.input_id = input_id if input_id is not None else self.plan_id
        super().__init__(attrs.evolve(t, plan_id=self.plan_id) for t in planned)
        self.failed: list[tuple[str, str]] = list(failed)
        self.vanished: list[str] = list(vanished)


def plan_id(tasks: Iterable[SyncTask], shard: tuple[int, int] | None) -> str:
    """The identity of a plan: sha256 of its tasks (source with digest, target) and shard.

    Two plans have the same id exactly when they would copy the same images to the
    same places (same tags pointing at the same digests).
    """
    lines = sorted(f"{t.source}\n{t.target}" for t in tasks)
    head = f"shard {shard[0]}/{shard[1]}" if shard else "all"
    return _sha256("\n".join([head, *lines]))


def _whole(shard: tuple[int, int] | None) -> tuple[int, int] | None:
    """``shard`` (checked), with one shard of one (every task) as None."""
    shard = check_shard(shard)
    return shard if shard is not None and shard[1] > 1 else None


def input_id(entries: Iterable[tuple[str, ...]], shard: tuple[int, int] | None) -> str:
    """The identity of a sync's input: sha256 of its entries and its shard.

    Each entry is its fields as text (source, target, ...); a source and a target are
    normalized (``ubuntu`` is ``docker.io/library/ubuntu``), the entries sorted and
    each taken once, so the order of a sync file's lines does not matter. The shard
    ``(0, 1)`` is the same input as no shard. Which tags a repository has, and their
    digests, are not part of it: a re-run after a partial plan, or after a tag
    moved, is the same input.
    """
    lines = set()
    for fields in entries:
        source, target, *rest = fields
        normal = [reference_text(parse_image_name(x, allow_scheme=True))
                  for x in (source, target)]
        lines.add(json.dumps([*normal, *rest]))
    whole = _whole(shard)
    head = f"shard {whole[0]}/{whole[1]}" if whole else "all"
    return _sha256("\n".join(["registry-client sync input", head, *sorted(lines)]))


@attrs.frozen
class TaskResult:
    """What running a :class:`SyncTask` did.

    ``image`` is the copied :class:`~registry_client.Image` (``outcome="copied"``) or
    the :class:`~registry_client.CopyPlan` of a dry run; ``error`` the failure's
    message (``outcome="failed"``). Picklable, like the task.
    """

    task: SyncTask
    outcome: Outcome
    image: Image | CopyPlan | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True unless the task failed."""
        return self.outcome != "failed"

    @property
    def target_reference(self) -> str:
        """The image at the target: ``host/repo:tag@digest`` (``host/repo@digest``)."""
        ref = parse_image_name(self.task.target, allow_scheme=True)
        name = f"{ref.domain}/{ref.path}" + (f":{ref.tag}" if ref.tag else "")
        return f"{name}@{self.task.digest}"


def _target_of(o: OpenedEntry) -> str:
    """The target reference text of an opened entry's images (without tag)."""
    ref = parse_image_name(o.entry.target, allow_scheme=True)
    bare = attrs.evolve(ref, tag=None, digest=None)
    return reference_text(bare)


def plan_flow(
    opened: list[OpenedEntry], *, shard: tuple[int, int] | None = None, max_workers: int = 4,
) -> Flow[SyncPlan]:
    """The flow of :func:`registry_client.sync.plan`: list, then read each image's digest.

    Only the tasks of ``shard`` have their digest read (one HEAD each); every tag
    list is read, as the shard of a tag is known from its name alone.
    """
    shard = check_shard(shard)
    wanted: list[tuple[OpenedEntry, str, bool]] = []  # (entry, tag or digest, listed)
    failed: list[tuple[str, str]] = []
    for o in opened:
        if o.error is not None:
            failed.append((o.entry.source, str(o.error)))
            continue
        assert o.source is not None
        if o.reference is not None:
            wanted.append((o, o.reference, False))
            continue
        try:
            tags = yield from o.source.tags.flows.get_all()
        except RegistryError as exc:
            failed.append((o.entry.source, str(exc)))
            continue
        wanted.extend((o, tag, True) for tag in o.listed(tags))
    # an image named twice (a tag list and a regex) goes once; a target tag, one source
    wanted = first_of_each(wanted, lambda w: _identity(*w[:2]))
    wanted, refused = one_source_per_target(
        wanted, lambda w: _source_name(*w[:2]), lambda w: _target_image(*w[:2]))
    failed += [(_source_name(o, reference), why) for (o, reference, _), why in refused
               if shard is None or shard_of(_source_name(o, reference), shard[1]) == shard[0]]
    if shard is not None:
        wanted = [w for w in wanted if shard_of(_source_name(*w[:2]), shard[1]) == shard[0]]
    found: list[Descriptor | RegistryError | None] = []
    if wanted:
        found = yield Gather([partial(_digest_of, o, reference, listed)
                              for o, reference, listed in wanted], max(1, max_workers))
    tasks: list[SyncTask] = []
    vanished: list[str] = []
    gone: set[str] = set()  # entries whose repository went after its tag list
    for (o, reference, listed), got in zip(wanted, found, strict=True):
        name = _source_name(o, reference)
        if got is None:
            vanished.append(name)
        elif isinstance(got, RegistryError):
            if not listed:
                failed.append((name, str(got)))
            elif o.entry.source not in gone:  # one failure for the whole repository
                gone.add(o.entry.source)
                failed.append((o.entry.source, str(got)))
        else:
            tag = None if ":" in reference else reference  # (a digest has a colon)
            src = parse_image_name(o.entry.source, allow_scheme=True)
            source = attrs.evolve(src, tag=tag if tag else src.tag, digest=got.digest)
            target_tag = o.tag or tag
            target = _target_of(o) + (f":{target_tag}" if target_tag else "")
            tasks.append(SyncTask(reference_text(source), target, listed=listed,
                                  entry=o.entry.source))
    return SyncPlan(tasks, failed=failed, vanished=vanished, shard=shard,
                    input_id=input_id([(o.entry.source, o.entry.target,
                                        *([o.entry.tags] if o.entry.tags is not None else []))
                                       for o in opened], shard))


def first_of_each(items: Iterable[_T], key: Callable[[_T], Hashable]) -> list[_T]:
    """``items`` in order, each after the first with the same ``key`` left out."""
    unique: dict[Hashable, _T] = {}
    for item in items:
        unique.setdefault(key(item), item)
    return list(unique.values())


def one_source_per_target(
    items: Iterable[_T], source: Callable[[_T], str], target: Callable[[_T], str | None],
) -> tuple[list[_T], list[tuple[_T, str]]]:
    """``(kept, refused)``: ``items`` in order, but of the sources of one ``target`` image
    (``repository:tag``; None: by digest, no tag to take) only the first in name order
    is kept -- whatever the order of the items, as a sync file's lines in any order are
    the same input (shards may read them in different orders) -- and the others are
    refused, with why. Two sources for one tag would each be "copied" and every run
    would put the other back."""
    items = list(items)
    chosen: dict[str, str] = {}
    for item in items:
        where = target(item)
        if where is not None:
            name = source(item)
            chosen[where] = min(chosen.get(where, name), name)
    kept: list[_T] = []
    refused: list[tuple[_T, str]] = []
    for item in items:
        where = target(item)
        first = chosen[where] if where is not None else None
        if first is None or first == source(item):
            kept.append(item)
        else:
            refused.append((item, f"not copied: {where} is the target of {first} too "
                                  "(one source per target tag)"))
    return kept, refused


def _identity(o: OpenedEntry, reference: str) -> tuple[str, str, str | None]:
    """The image ``reference`` of an entry and where it goes (target and tag)."""
    return (_source_name(o, reference), _target_of(o),
            o.tag or (reference if ":" not in reference else None))


def _target_image(o: OpenedEntry, reference: str) -> str | None:
    """``repository:tag`` the image ``reference`` of an entry goes to; None: no tag."""
    tag = o.tag or (reference if ":" not in reference else None)
    return f"{_target_of(o)}:{tag}" if tag else None


def _source_name(o: OpenedEntry, reference: str) -> str:
    """The :attr:`SyncTask.name` of the image ``reference`` (a tag or digest) of an entry:
    known before its digest is read, so the shard of a task is too."""
    ref = parse_image_name(o.entry.source, allow_scheme=True)
    tag = reference if ":" not in reference else ref.tag  # (a digest has a colon)
    return image_name(ref.domain, ref.path, tag, reference)


def image_name(domain: str, path: str, tag: str | None, digest: str | None) -> str:
    """``domain/path:tag``, or ``domain/path@digest`` for an image without a tag."""
    return pinned_name(f"{domain}/{path}", tag if tag is not None else str(digest))


def _digest_of(o: OpenedEntry, reference: str, listed: bool
               ) -> Flow[Descriptor | RegistryError | None]:
    """The source manifest's descriptor; None: a listed tag deleted since the list."""
    assert o.source is not None
    if ":" in reference:  # a digest: the task has it already
        return Descriptor(media_type="", digest=reference, size=0)
    try:
        if listed:
            return (yield from o.source.tags.flows.find(reference))
        return (yield from o.source.manifests.flows.head(reference))
    except RegistryError as exc:
        return exc


def task_flow(
    task: SyncTask, source: AnyRepository, target: AnyRepository, *, dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> Flow[TaskResult]:
    """The flow of :func:`registry_client.sync.run_task` with the task's repositories open.

    The target's manifest is read first (one HEAD): the image already there under
    the target tag (or digest) is "present" and nothing else is sent. Otherwise the
    source image is copied by its digest (the plan's, even when the tag has moved
    since), and tagged at the target.
    """
    digest = task.digest
    ref = parse_image_name(task.target, allow_scheme=True)
    if ref.digest is not None:
        raise InvalidReferenceError(f"sync task target {task.target!r}: a digest")
    tag = ref.tag
    try:
        if dry_run:
            plan: CopyPlan = yield from source.images.flows.copy(digest, target, tag,
                                                                 dry_run=True)
            return TaskResult(task, "planned", plan)
        there = yield from target.manifests.flows.head_if_told(tag or digest)
        if there is not None and there.digest == digest:
            return TaskResult(task, "present")
        image: Image = yield from source.images.flows.copy(digest, target, tag,
                                                           progress=progress)
        return TaskResult(task, "copied", image)
    except RegistryError as exc:
        if task.listed and tag_vanished(exc, source.requester.base_url, source.name, digest):
            return TaskResult(task, "vanished", error=str(exc))
        return TaskResult(task, "failed", error=str(exc))


def open_task(task: SyncTask, registry_for: Callable[[ImageReference], Any]
              ) -> tuple[AnyRepository, AnyRepository] | TaskResult:
    """The task's source and target repositories (either flavour), or its failure."""
    src = parse_image_name(task.source, allow_scheme=True)
    dst = parse_image_name(task.target, allow_scheme=True)
    try:
        return (registry_for(src).repository(src.path), registry_for(dst).repository(dst.path))
    except (RegistryError, ValueError) as exc:  # (ValueError: Registry() refused it)
        return TaskResult(task, "failed", error=str(exc))


def run_task(
    task: SyncTask, registry_for: Callable[[ImageReference], Registry], *,
    dry_run: bool = False, progress: ProgressCallback | None = None,
) -> TaskResult:
    """Mirror one image (see :func:`registry_client.sync.run_task`)."""
    opened = open_task(task, registry_for)
    if isinstance(opened, TaskResult):
        return opened
    source, target = opened
    assert isinstance(source, Repository)  # (registry_for gave a blocking Registry)
    flow = task_flow(task, source, target, dry_run=dry_run, progress=progress)
    return run(flow, BlockingShell(source.requester))
