"""Copy plans: what a copy would do with each blob -- skip, mount or transfer -- before it acts."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal, Protocol

import attrs

from .._flow import Endpoint, Flow, Gather
from ..models import Descriptor, RawManifest
from ._light import distinct_largest_first
from .blobs import BlobFlows

__all__ = ["BlobAction", "BlobPlan", "CopyPlan"]

BlobAction = Literal["skip", "mount", "transfer"]


class CopyTarget(Protocol):
    """Where a copy goes: a :class:`~registry_client.Repository` (or, for an asyncio
    copy, an ``AsyncRepository``): the copy runs the flows of its services.

    Declared here, with just what a copy uses of it, so that the services (below
    repositories in the layering) need not import ``repository.py``.
    """

    @property
    def name(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def requester(self) -> Endpoint: ...
    @property
    def blobs(self) -> Any: ...
    @property
    def manifests(self) -> Any: ...


def check_target(target: object, what: str = "a copy's target") -> None:
    """Raise TypeError for a copy target (``what``) that is no repository (a name, a
    string).

    Raises:
        TypeError: ``target`` is not a repository of this library.
    """
    if not all(hasattr(target, a) for a in ("name", "domain", "requester", "blobs",
                                               "manifests")):
        hint = (" (registry.repository(name) or registry.repository_from_string(reference)"
                " makes one)" if isinstance(target, str) else "")
        raise TypeError(f"{what} is a Repository{hint}, not {type(target).__name__}")


@attrs.frozen
class BlobPlan:
    """One blob of a copy: its digest, size, media type and what the copy does with it.

    ``action`` is ``"skip"`` (the target has it), ``"mount"`` (linked from the
    source repository of the same registry, no bytes move) or ``"transfer"``
    (streamed from source to target).
    """

    digest: str
    size: int
    media_type: str
    action: BlobAction


@attrs.frozen
class CopyPlan:
    """What copying one image would do, computed with HEAD requests only.

    ``manifests`` lists the manifest digests to put (children first, the top one
    last); ``blobs`` the distinct blobs, largest first. With ``copy(...,
    referrers=True)``, ``referrers`` holds the plan of each referrer (signature,
    SBOM...) that would be copied too.
    """

    source: str
    target: str
    tag: str | None
    manifests: tuple[str, ...]
    blobs: tuple[BlobPlan, ...]
    referrers: tuple[CopyPlan, ...] = ()

    @property
    def bytes_to_transfer(self) -> int:
        """Blob bytes the copy would move over the network (referrers included)."""
        own = sum(b.size for b in self.blobs if b.action == "transfer")
        return own + sum(r.bytes_to_transfer for r in self.referrers)

    def count(self, action: BlobAction) -> int:
        """How many blobs get ``action``."""
        return sum(1 for b in self.blobs if b.action == action)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "source": self.source, "target": self.target, "tag": self.tag,
            "manifests": list(self.manifests),
            "blobs": [attrs.asdict(b) for b in self.blobs],
            "bytes_to_transfer": self.bytes_to_transfer,
            "referrers": [r.to_dict() for r in self.referrers],
        }


def make_plan(
    source: Endpoint, repository: str, raw: RawManifest,
    children: list[tuple[RawManifest, list[Descriptor]]],
    target: CopyTarget, target_blobs: BlobFlows, tag: str | None, *,
    check_target: bool, for_push: bool = False, workers: int,
) -> Flow[CopyPlan]:
    """Decide per blob of copying ``raw`` from ``repository`` (on the ``source`` registry);
    with ``check_target`` one HEAD per blob on the target (``target_blobs``, ``workers``
    at once) decides skips.

    Without it (a real copy within one registry) every blob is planned as a mount:
    mounting a blob the target already has is answered 201 as well, so the HEAD
    would be a wasted round trip.
    """
    same = target.requester.base_url == source.base_url
    same_repo = same and target.name == repository

    def decide(d: Descriptor) -> Flow[BlobPlan]:
        action: BlobAction
        if same_repo:
            action = "skip"
        elif check_target and (yield from target_blobs.exists(d.digest, for_push=for_push)):
            action = "skip"
        else:
            action = "mount" if same else "transfer"
        return BlobPlan(d.digest, d.size, d.media_type, action)

    blobs = distinct_largest_first(b for _, descs in children for b in descs)
    planned = (yield Gather([partial(decide, d) for d in blobs], workers)) if blobs else []
    manifests = [c.digest for c, _ in children if c.digest != raw.digest] + [raw.digest]
    return CopyPlan(
        source=f"{source.domain}/{repository}@{raw.digest}",
        target=f"{target.domain}/{target.name}",
        tag=tag, manifests=tuple(manifests), blobs=tuple(planned),
    )

