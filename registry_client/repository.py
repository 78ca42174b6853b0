"""Repository: one repository of a registry and its four services.

What ``Repository.delete`` sends and decides is written once, as flows
(``services.RepositoryFlows``), which the asyncio ``AsyncRepository`` runs too.

Each service is built on first use, and the ``services`` package loads its modules
on first use too (PEP 562): a program that only lists tags never imports the image,
blob and model machinery (cold start of ``registry-client ls``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import services
from ._flow import Endpoint, run
from ._lazy import cached_property
from .requester import Requester
from .services._shell import BlockingShell

if TYPE_CHECKING:
    from .registry import Registry
    from .services import BlobService, ImageService, ManifestService, RepositoryFlows, TagService


class RepositoryName:
    """What names a repository in both flavours of the API: its registry's domain and its
    name, by which it is shown, compared and hashed."""

    name: str
    requester: Endpoint

    @property
    def domain(self) -> str:
        """The registry domain (``docker.io``, ``localhost:5000``...)."""
        return self.requester.domain

    def __repr__(self) -> str:
        return f"{type(self).__name__}(domain={self.domain!r}, name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return (self.domain, self.name) == (other.domain, other.name)

    def __hash__(self) -> int:
        return hash((self.domain, self.name))


class Repository(RepositoryName):
    """One repository (``library/alpine``) with its image, tag, manifest and blob services.

    Creating it sends no request. Get one from :meth:`Registry.repository`.
    """

    requester: Requester

    def __init__(
        self, name: str, requester: Requester, *, registry: Registry | None = None,
        max_workers: int = 4,
    ) -> None:
        self.name = name
        self.registry = registry
        self.requester = requester
        self._max_workers = max(1, max_workers)

    @cached_property
    def manifests(self) -> ManifestService:
        """Manifests of this repository: get, head, put, delete, referrers."""
        return services.ManifestService(self.requester, self.name)

    @cached_property
    def blobs(self) -> BlobService:
        """Blobs (layers, configs) of this repository: download, upload, mount, delete."""
        return services.BlobService(self.requester, self.name)

    @cached_property
    def tags(self) -> TagService:
        """Tags of this repository: list them, resolve them to digests, delete one."""
        return services.TagService(
            self.requester, self.name, manifests=lambda: self.manifests,
            blobs=lambda: self.blobs, max_workers=self._max_workers,
        )

    @cached_property
    def images(self) -> ImageService:
        """Whole images: pull, push, copy, inspect, platforms, artifacts."""
        return services.ImageService(
            self.requester, self.name, manifests=self.manifests, blobs=self.blobs,
            max_workers=self._max_workers,
        )

    @cached_property
    def flows(self) -> RepositoryFlows:
        """The flows of this repository's own methods (``delete``)."""
        return services.RepositoryFlows(self.name, manifests=self.manifests.flows,
                                        tags=self.tags.flows, max_workers=self._max_workers)

    def delete(
        self, *, dry_run: bool = False, on_deleted: Callable[[str], None] | None = None,
    ) -> list[str]:
        """Delete every manifest of this repository, and with them all its tags.

        Lists the tags and resolves each to its manifest; for an index
        (multi-platform image) also the manifests it lists that are in this
        repository. Each manifest is then deleted once by digest, however many
        tags point to it, and an index before the manifests it lists (right after
        it). Returns the digests deleted, in that order. Stopped after an index
        went, the manifests it listed that no tag reaches now are named (in the
        error, else in a warning): delete them by digest, as a second run cannot
        find them. A tag that disappears meanwhile is skipped,
        and a manifest that someone else deleted first counts as gone (not
        returned, not an error). ``dry_run=True`` deletes nothing and returns the
        digests that would be deleted. ``on_deleted(digest)`` is called after each
        delete, so you know what went even when a later delete fails.

        Only manifests reached from a tag are found: ones pushed by digest alone,
        that no tagged index lists, stay. The layers and configs stay on the
        registry's disk until its garbage collector runs (Distribution:
        ``registry garbage-collect``), and Distribution keeps the repository's
        name in its catalog.

        Raises:
            NotFoundError: the repository does not exist.
            RegistryResponseError: the registry refused a delete (deletes not
                enabled: Distribution's ``storage.delete.enabled``); the manifests
                before it are deleted.
        """
        return run(self.flows.delete(dry_run=dry_run, on_deleted=on_deleted),
                   BlockingShell(self.requester))
