"""RepositoryFlows: what ``Repository.delete`` sends and decides, for both flavours.

Written once as flows over the manifest and tag flows; ``Repository`` runs them with
the blocking shell, ``AsyncRepository`` with the asyncio one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from .. import mediatypes
from .._flow import Flow, Gather
from .._log import log
from ..errors import NotFoundError, RegistryError
from ..models import Descriptor
from . import _light
from .manifests import ManifestFlows
from .tags import TagFlows

__all__ = ["RepositoryFlows"]


class RepositoryFlows:
    """The flows of :class:`Repository`'s own methods (``delete``), for both flavours."""

    def __init__(
        self, name: str, *, manifests: ManifestFlows, tags: TagFlows, max_workers: int = 4,
    ) -> None:
        self.name = name
        self._manifests = manifests
        self._tags = tags
        self._max_workers = max(1, max_workers)

    def __repr__(self) -> str:
        return f"RepositoryFlows(name={self.name!r})"

    def delete(
        self, *, dry_run: bool = False, on_deleted: Callable[[str], None] | None = None,
    ) -> Flow[list[str]]:
        """The flow of :meth:`Repository.delete`."""
        deleted: list[str] = []
        gone: set[str] = set()  # deleted, by this run or another
        out: str | None = None  # the digest whose DELETE is out, its answer not read
        found: _Found | None = None
        try:
            found = yield from self._manifests_to_delete()
            if dry_run:
                return found.order
            for digest in found.order:
                out = digest
                try:
                    yield from self._manifests.delete_alone(digest)
                except NotFoundError:
                    log.info("%s@%s was already deleted", self.name, digest)
                    out = None
                    gone.add(digest)
                    continue
                out = None  # (kept when anything else stopped it: its outcome unknown)
                deleted.append(digest)
                gone.add(digest)
                if on_deleted is not None:
                    on_deleted(digest)
            return deleted
        except RegistryError as exc:  # name the user's call before the step that failed
            if exc.status_code is not None and exc.status_code < 500:
                out = None  # refused: that DELETE did nothing
            exc.with_context(f"delete repository {self.name}: {exc.message}"
                             + self._unreached(found, gone, out, log_it=False))
            raise
        except BaseException:  # Ctrl-C, a cancelled task, an on_deleted that raised
            self._unreached(found, gone, out, log_it=True)
            raise

    def _unreached(self, found: _Found | None, gone: set[str], out: str | None, *,
                   log_it: bool) -> str:
        """After a stop: the manifests that may be left with no tag reaching them (the
        platforms of a deleted index -- or of one whose DELETE was ``out`` when the run
        stopped), which a second run cannot find: named, and how to delete them; logged
        as a warning with ``log_it``. Empty when there are none."""
        if found is None:
            return ""
        maybe = gone if out is None else gone | {out}
        left = found.unreached(maybe)
        if out is not None and out not in found.tagged:
            left.append(out)
        if not left:
            return ""
        words = (f"{len(left)} manifest{'s' if len(left) > 1 else ''} that a deleted index "
                 f"listed may be reached by no tag now: delete "
                 f"{'each' if len(left) > 1 else 'it'} by digest if still there "
                 f"({', '.join(f'{self.name}@{d}' for d in left)})")
        if log_it:
            log.warning("delete repository %s stopped: %s", self.name, words)
        return f"; {words}"

    def _head(self, reference: str) -> Flow[Descriptor | None]:
        """The manifest's descriptor, or None when it is gone (a 404 a GET confirms)."""
        try:
            return (yield from self._tags.find(reference))  # tags.digests()' rule too
        except NotFoundError:
            return None  # a child manifest of another repository

    def _heads(self, references: list[str]) -> Flow[list[Descriptor | None]]:
        """:meth:`_head` of each reference, side by side (``max_workers``)."""
        found: list[Descriptor | None] = yield Gather(
            [partial(self._head, ref) for ref in references], self._max_workers)
        return found

    def _manifests_to_delete(self) -> Flow[_Found]:
        """Every manifest reached from a tag, each once: an index before what it lists,
        and those right after it (depth first), so that a run stopped midway leaves the
        fewest manifests that no tag reaches."""
        tags = yield from self._tags.get_all()
        found: dict[str, Descriptor] = {}  # digest -> descriptor, in the order found
        for tag, desc in zip(tags, (yield from self._heads(tags)), strict=True):
            if desc is None:
                log.warning("%s:%s vanished (deleted since the tag list was read): skipped",
                            self.name, tag)
            else:
                found.setdefault(desc.digest, desc)
        tagged = frozenset(found)
        lists: dict[str, list[str]] = {}  # index digest -> the digests it lists found here
        todo = [d for d in found.values() if d.media_type in mediatypes.INDEX_TYPES]
        while todo:
            for desc in todo:
                lists[desc.digest] = []
                try:
                    raw = yield from self._manifests.get_raw(desc.digest)
                except NotFoundError:
                    log.info("%s@%s disappeared while it was read", self.name, desc.digest)
                    continue
                is_index, entries = _light.read(raw)
                if not is_index:  # the HEAD's media type said index, the body does not
                    continue
                wanted = list(dict.fromkeys(e.digest for e in entries))
                heads = yield from self._heads(wanted)
                for child in heads:
                    if child is None:  # not in this repository (or deleted meanwhile)
                        continue
                    lists[desc.digest].append(child.digest)
                    found.setdefault(child.digest, child)
            todo = [d for d in found.values()
                    if d.media_type in mediatypes.INDEX_TYPES and d.digest not in lists]
        # Kahn's order, depth first: a manifest comes once every index listing it has
        # come -- at once after the last of them.
        waiting = dict.fromkeys(found, 0)
        for listed_digests in lists.values():
            for listed in listed_digests:
                waiting[listed] += 1
        ready = [d for d, n in waiting.items() if n == 0][::-1]  # a stack, the first on top
        order: list[str] = []
        while ready:
            digest = ready.pop()
            order.append(digest)
            for listed in reversed(lists.get(digest, ())):
                waiting[listed] -= 1
                if waiting[listed] == 0:
                    ready.append(listed)
        return _Found(order, tagged, lists)


class _Found:
    """What :meth:`RepositoryFlows.delete` deletes: ``order``; the digests tags name
    (``tagged``); and the digests each index lists (``lists``)."""

    def __init__(self, order: list[str], tagged: frozenset[str],
                 lists: dict[str, list[str]]) -> None:
        self.order = order
        self.tagged = tagged
        self.lists = lists

    def unreached(self, deleted: set[str]) -> list[str]:
        """The manifests of ``order`` not deleted that no tag reaches once ``deleted``
        are gone: neither tagged nor listed by a manifest still reached."""
        reached = set(self.tagged - deleted)
        todo = list(reached)
        while todo:
            for listed in self.lists.get(todo.pop(), ()):
                if listed not in reached and listed not in deleted:
                    reached.add(listed)
                    todo.append(listed)
        return [d for d in self.order if d not in deleted and d not in reached]

