"""RepositoryFlows: what ``Repository.delete`` sends and decides, for both flavours.

Written once as flows over the manifest and tag flows; ``Repository`` runs them with
the blocking shell, ``AsyncRepository`` with the asyncio one.
"""

from __future__ import annotations

from collections import deque
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
        try:
            order = yield from self._manifests_to_delete()
            if dry_run:
                return order
            deleted: list[str] = []
            for digest in order:
                try:
                    yield from self._manifests.delete_alone(digest)
                except NotFoundError:
                    log.info("%s@%s was already deleted", self.name, digest)
                    continue
                deleted.append(digest)
                if on_deleted is not None:
                    on_deleted(digest)
            return deleted
        except RegistryError as exc:  # name the user's call before the step that failed
            exc.with_context(f"delete repository {self.name}: {exc.message}")
            raise

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

    def _manifests_to_delete(self) -> Flow[list[str]]:
        """Every manifest reached from a tag, an index before what it lists, each once."""
        tags = yield from self._tags.get_all()
        found: dict[str, Descriptor] = {}  # digest -> descriptor, in the order found
        for tag, desc in zip(tags, (yield from self._heads(tags)), strict=True):
            if desc is None:
                log.warning("%s:%s vanished (deleted since the tag list was read): skipped",
                            self.name, tag)
            else:
                found.setdefault(desc.digest, desc)
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
        # Kahn's order: a manifest comes once every index listing it has come.
        waiting = dict.fromkeys(found, 0)
        for listed_digests in lists.values():
            for listed in listed_digests:
                waiting[listed] += 1
        ready = deque(d for d, n in waiting.items() if n == 0)
        order: list[str] = []
        while ready:
            digest = ready.popleft()
            order.append(digest)
            for listed in lists.get(digest, ()):
                waiting[listed] -= 1
                if waiting[listed] == 0:
                    ready.append(listed)
        return order

