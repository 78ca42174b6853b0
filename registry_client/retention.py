"""Retention: decide which tags of a repository to delete (a plan), then delete them.

Policies, combined into one :func:`plan`:

* ``keep=N`` -- keep the newest N tags by image ``created`` time (from the config
  blob; for an index, from its first platform's config);
* ``keep_semver=N`` -- keep the N highest semantic versions (``1.2.3``, ``v1.2.3``,
  ``2.0.0-rc.1``); tags that are not semver are not ranked by this policy;
* ``keep_patterns`` -- keep tags matching any of these ``fnmatch`` globs (``"v*"``);
* ``older_than`` -- ``"30d"``, ``"12h"``, ``"2w"`` (or a ``timedelta``).

A tag is deleted only when no keep rule protects it and, when ``older_than`` is
set, its image is older than that; without ``older_than``, every tag outside
the keep rules goes. Always kept, whatever the rules: tags whose ``created``
time is unknown, the referrers tag schema's ``sha256-<hex>`` tags (they
list an image's signatures and SBOMs) and cosign's ``sha256-<hex>.sig``,
``.att`` and ``.sbom`` tags (an image's signature, attestations and SBOM).
Always deleted: a tag left naming the throw-away manifest of a tag delete that
was stopped half-way (no image; see ``tags.delete``).

:func:`apply` deletes the planned tags one by one with ``repo.tags.delete``
(this tag only, never another tag on the same manifest), after checking that
each still points to the planned digest::

    from registry_client import retention
    p = retention.plan(repo, keep=10, older_than="30d", keep_patterns=["release-*"])
    retention.apply(repo, p)

Space is reclaimed by the registry's garbage collector, not by the delete
(Distribution: ``registry garbage-collect --delete-untagged``).
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import re
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs

from ._flow import Endpoint, Flow, Gather, run
from ._log import log
from ._vanished import tag_vanished
from .errors import NotFoundError, RegistryError
from .models import ManifestList, ManifestV2, OCIIndex, OCIManifest, parse_rfc3339
from .reference import is_referrers_tag
from .services._light import distributable
from .services._shell import BlockingShell
from .services._tag_delete import is_tombstone

if TYPE_CHECKING:
    from .aio import AsyncRepository
    from .repository import Repository
    from .services.images import ImageFlows
    from .services.manifests import ManifestFlows
    from .services.tags import TagFlows

__all__ = [
    "RetentionFlows", "RetentionPlan", "TagDecision", "apply", "parse_duration", "plan",
    "semver_key",
]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"(?:\d+[smhdw])+\Z", re.ASCII)
_PART_RE = re.compile(r"(\d+)([smhdw])", re.ASCII)
_IDENT = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER_RE = re.compile(
    rf"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-({_IDENT}(?:\.{_IDENT})*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\Z", re.ASCII
)
# The referrers tag schema (OCI distribution-spec 1.1) and cosign's .sig/.att/.sbom tags.
_CREATED_ANNOTATION = "org.opencontainers.image.created"


_COSIGN = {"sig": "cosign signature tag", "att": "cosign attestation tag",
           "sbom": "cosign SBOM tag"}


def parse_duration(value: str | _dt.timedelta) -> _dt.timedelta:
    """``"30d"``, ``"12h"``, ``"2w"``, ``"1d12h"`` (units s, m, h, d, w) as a timedelta.

    Raises:
        ValueError: not such a duration, or not positive.
    """
    if isinstance(value, _dt.timedelta):
        result = value
    else:
        text = value.strip().lower() if isinstance(value, str) else ""
        if not _DURATION_RE.match(text):
            raise ValueError(
                f"invalid duration {str(value)[:40]!r}: want a number and a unit s, m, h, d "
                "or w, such as 30d, 12h or 2w"
            )
        parts = _PART_RE.findall(text)
        try:
            if any(len(n) > 20 for n, _ in parts):  # (past what a timedelta holds anyway)
                raise OverflowError
            result = _dt.timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))
        except OverflowError:
            raise ValueError(f"invalid duration {text[:40]!r}: too long: at most "
                             f"{_dt.timedelta.max.days} days") from None
    if result <= _dt.timedelta(0):
        raise ValueError("the duration must be positive")
    return result


def semver_key(tag: str) -> tuple[Any, ...] | None:
    """A sort key giving semantic-version precedence, or None when ``tag`` is not semver.

    ``MAJOR.MINOR.PATCH`` with an optional leading ``v`` and ``-prerelease``;
    a pre-release sorts before its release (``1.0.0-rc.1 < 1.0.0``).
    """
    m = _SEMVER_RE.match(tag)
    if m is None:
        return None
    core = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m.group(4) is None:
        return (*core, 1, ())
    parts = tuple(
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in m.group(4).split(".")
    )
    return (*core, 0, parts)


@attrs.frozen
class TagDecision:
    """What the plan does with one tag, and why.

    ``created`` is the image's creation time (None when unknown); ``frees`` is,
    for a deleted tag, the blob bytes (configs and layers of every platform)
    that no kept manifest uses -- 0 when another, kept tag has the same digest.
    A blob that several deleted tags use is counted once, for the first of them.
    """

    tag: str
    digest: str
    created: _dt.datetime | None
    reason: str
    frees: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``created`` in ISO 8601)."""
        return {
            "tag": self.tag, "digest": self.digest,
            "created": self.created.isoformat() if self.created else None,
            "reason": self.reason, "frees": self.frees,
        }


@attrs.frozen
class RetentionPlan:
    """The tags of ``repository`` to ``delete`` and to ``keep``, newest first.

    ``vanished`` names the tags that were listed but deleted by someone else
    before the plan could read them (a busy registry): they are in neither list.
    """

    repository: str
    delete: list[TagDecision]
    keep: list[TagDecision]
    vanished: list[str] = attrs.field(factory=list)

    @property
    def frees(self) -> int:
        """Bytes the deletions free in this repository (before garbage collection)."""
        return sum(d.frees for d in self.delete)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: repository, delete, keep, frees and vanished."""
        return {
            "repository": self.repository,
            "delete": [d.to_dict() for d in self.delete],
            "keep": [d.to_dict() for d in self.keep],
            "frees": self.frees,
            "vanished": list(self.vanished),
        }


@attrs.frozen
class _Facts:
    created: _dt.datetime | None
    blobs: dict[str, int]
    left_over: bool = False  # a throw-away manifest of a delete stopped half-way


def _blobs(manifest: ManifestV2 | OCIManifest) -> dict[str, int]:
    return {d.digest: d.size for d in manifest.blobs() if distributable(d)}


_LEFT_OVER = "left naming a throw-away manifest by an interrupted delete"


def _label(delta: _dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def _age(delta: _dt.timedelta) -> str:
    if delta.days >= 2:
        return f"{delta.days} days"
    return f"{int(delta.total_seconds() // 3600)} hours"


def plan(
    repo: Repository, *, keep: int | None = None, keep_semver: int | None = None,
    keep_patterns: Iterable[str] = (), older_than: str | _dt.timedelta | None = None,
    now: _dt.datetime | None = None,
) -> RetentionPlan:
    """Decide which tags of ``repo`` to delete; nothing is deleted (see :func:`apply`).

    Reads every tag's digest, manifest and config (in parallel). ``now``
    (default: the current time, UTC) is when ``older_than`` counts from. A tag
    deleted by someone else while the plan reads it is left out, logged and named
    in :attr:`RetentionPlan.vanished`.

    Raises:
        ValueError: no deletion rule (``keep``, ``keep_semver`` or ``older_than``), a
            negative count, or a bad duration.
        NotFoundError: the repository does not exist.
    """
    return run(RetentionFlows.of(repo).plan(
        keep=keep, keep_semver=keep_semver, keep_patterns=keep_patterns,
        older_than=older_than, now=now), BlockingShell(repo.requester))


def _with_frees(
    going: list[TagDecision], kept: list[TagDecision], facts: dict[str, _Facts]
) -> list[TagDecision]:
    kept_digests = {d.digest: d.tag for d in kept}
    used = {b for d in kept for b in facts[d.digest].blobs}
    result = []
    for d in going:
        if d.digest in kept_digests:
            result.append(attrs.evolve(
                d, reason=f"{d.reason}; digest also tagged {kept_digests[d.digest]} "
                "(kept): frees nothing",
            ))
            continue
        blobs = facts[d.digest].blobs
        mine = {b: s for b, s in blobs.items() if b not in used}
        used.update(mine)
        result.append(attrs.evolve(d, frees=sum(mine.values())))
    return result


def apply(
    repo: Repository, plan: RetentionPlan, *,
    on_deleted: Callable[[str], None] | None = None,
) -> list[str]:
    """Delete the tags ``plan`` selected, one by one; return the tags deleted.

    Each tag is deleted alone (``repo.tags.delete``: other tags on the same
    manifest stay). A tag that is gone or points to another digest than
    planned (it was pushed again since) is skipped and left alone.
    ``on_deleted(tag)`` is called after each delete, so a caller knows what
    was deleted even when a later delete fails.

    Raises:
        ValueError: the plan is for another repository.
        RegistryError: a delete failed (the tags before it are deleted).
    """
    return run(RetentionFlows.of(repo).apply(plan, on_deleted=on_deleted),
               BlockingShell(repo.requester))


class RetentionFlows:
    """The flows of :func:`plan` and :func:`apply` for one repository, over its tag,
    manifest and image flows: the retention rules written once, run by this module with
    the blocking shell and by ``registry_client.aio.retention`` with the asyncio one."""

    def __init__(
        self, name: str, endpoint: Endpoint, *, manifests: ManifestFlows, tags: TagFlows,
        images: ImageFlows, max_workers: int = 4,
    ) -> None:
        self.name = name
        self._endpoint = endpoint
        self._manifests = manifests
        self._tags = tags
        self._images = images
        self._max_workers = max(1, max_workers)

    def __repr__(self) -> str:
        return f"RetentionFlows(name={self.name!r})"

    @classmethod
    def of(cls, repo: Repository | AsyncRepository) -> RetentionFlows:
        """The retention flows of ``repo`` (either flavour), on its services' flows; as
        many manifests are read at once as its registry's ``max_workers``."""
        workers = repo.registry.max_workers if repo.registry is not None else 4
        return cls(repo.name, repo.requester, manifests=repo.manifests.flows,
                   tags=repo.tags.flows, images=repo.images.flows, max_workers=workers)

    def plan(
        self, *, keep: int | None = None, keep_semver: int | None = None,
        keep_patterns: Iterable[str] = (), older_than: str | _dt.timedelta | None = None,
        now: _dt.datetime | None = None,
    ) -> Flow[RetentionPlan]:
        """The flow of :func:`plan`."""
        if keep is None and keep_semver is None and older_than is None:
            raise ValueError("give keep, keep_semver or older_than: otherwise nothing can go")
        if (keep is not None and keep < 0) or (keep_semver is not None and keep_semver < 0):
            raise ValueError("keep and keep_semver must not be negative")
        max_age = parse_duration(older_than) if older_than is not None else None
        now = now or _dt.datetime.now(_dt.timezone.utc)
        if now.tzinfo is None:
            now = now.replace(tzinfo=_dt.timezone.utc)
        patterns = list(keep_patterns)
        # A tag deleted by someone else while the plan reads (its HEAD, or its manifest
        # by digest, answers 404) is left out and reported in ``vanished``.
        listed = yield from self._tags.get_all()
        tags: dict[str, str] = yield from self._tags.digests(listed)
        digests = sorted(set(tags.values()))
        read: list[_Facts | None] = (
            (yield Gather([partial(self._facts, d) for d in digests], self._max_workers))
            if digests else [])
        found = dict(zip(digests, read, strict=True))
        facts = {d: f for d, f in found.items() if f is not None}
        for tag, digest in list(tags.items()):
            if digest not in facts:
                log.warning("%s:%s vanished (its manifest %s was deleted while planning): "
                            "left out", self.name, tag, digest, extra={"summarized": True})
                del tags[tag]
        vanished = sorted(t for t in listed if t not in tags)

        def created(tag: str) -> _dt.datetime | None:
            return facts[tags[tag]].created

        # newest first (equal times: by tag name), then the tags of unknown age
        dated = {t: w for t in tags if (w := created(t)) is not None}
        ranked = sorted(sorted(dated), key=dated.__getitem__, reverse=True)
        ranked += sorted(t for t in tags if t not in dated)
        # (referrers and cosign tags are kept by a rule of their own: they take none of
        # the newest N slots, which are the images')
        left_over = {t for t in tags if facts[tags[t]].left_over}
        images = [t for t in ranked if not is_referrers_tag(t) and t not in left_over]
        newest = {t: i + 1 for i, t in enumerate(images[:keep])} if keep is not None else {}
        semvers = {t: k for t in tags if (k := semver_key(t)) is not None}
        versions = sorted(sorted(semvers), key=semvers.__getitem__, reverse=True)
        top = ({t: i + 1 for i, t in enumerate(versions[:keep_semver])}
               if keep_semver is not None else {})
        label = _label(max_age) if max_age is not None else ""

        kept: list[TagDecision] = []
        going: list[TagDecision] = []
        for tag in ranked:
            when = created(tag)
            if tag in left_over:  # whatever the rules: no image, a delete to finish
                going.append(TagDecision(tag, tags[tag], when, _LEFT_OVER))
                continue
            protect = []
            if is_referrers_tag(tag):
                protect.append(_COSIGN.get(tag.rpartition(".")[2], "referrers tag schema index"))
            if tag in newest:
                protect.append(f"newest {keep} (#{newest[tag]})")
            if tag in top:
                protect.append(f"top {keep_semver} semver (#{top[tag]})")
            protect += [f"matches {p!r}" for p in patterns if fnmatch.fnmatchcase(tag, p)][:1]
            if when is None:
                protect.append("created time unknown")
            if protect:
                kept.append(TagDecision(tag, tags[tag], when, "; ".join(protect)))
                continue
            assert when is not None
            if max_age is not None:
                age = now - when
                if age <= max_age:
                    kept.append(TagDecision(tag, tags[tag], when, f"newer than {label}"))
                    continue
                reason = f"older than {label} ({_age(age)} old)"
            else:
                outside = []
                if keep is not None:
                    outside.append(f"not among the newest {keep}")
                if keep_semver is not None:
                    outside.append(f"not in the top {keep_semver} semver")
                reason = ", ".join(outside)
            going.append(TagDecision(tag, tags[tag], when, reason))
        return RetentionPlan(self.name, _with_frees(going, kept, facts), kept, vanished)

    def apply(
        self, plan: RetentionPlan, *, on_deleted: Callable[[str], None] | None = None,
    ) -> Flow[list[str]]:
        """The flow of :func:`apply`."""
        if plan.repository != self.name:
            raise ValueError(f"this plan is for {plan.repository!r}, not {self.name!r}")
        deleted: list[str] = []
        for decision in plan.delete:
            try:
                done = yield from self._delete_planned(decision)
            except NotFoundError:
                done = None
            if done is None:
                log.info("%s:%s is already gone", self.name, decision.tag)
                continue
            if not done:
                continue
            deleted.append(decision.tag)
            if on_deleted is not None:
                on_deleted(decision.tag)
        return deleted

    def _delete_planned(self, decision: TagDecision) -> Flow[bool | None]:
        """Delete ``decision.tag`` if it still names the planned digest -- or a throw-away
        manifest of a delete stopped half-way: True. False: it names another manifest
        now (skipped, said); None: it is gone.

        A registry's own tag DELETE checks nothing, so the tag is read first (a HEAD; a
        404 confirmed by a GET: the rule of ``tags.digests()`` and ``plan()``). Without
        one (Distribution: ``tag_delete`` known False) the throw-away manifest dance
        reads the tag and checks the digest itself: no HEAD.
        """
        tag, at = decision.tag, decision.digest
        if self._endpoint.capabilities.get("tag_delete") is not False:
            found = yield from self._tags.find(tag)
            if found is None:
                return None
            if found.digest != at:
                if not (yield from self._left_over(found.digest)):
                    log.warning("%s:%s now points to %s, not %s as planned: skipped",
                                self.name, tag, found.digest, at)
                    return False
                at = found.digest  # a delete of it stopped half-way: finished here
        if not (yield from self._tags.delete_at(tag, at)):
            log.warning("%s:%s now names another manifest than %s as planned (pushed "
                        "again): skipped", self.name, tag, at)
            return False
        return True

    def _left_over(self, digest: str) -> Flow[bool]:
        """Whether the manifest ``digest`` is a throw-away manifest of a stopped delete."""
        try:
            return is_tombstone((yield from self._manifests.get(digest)))
        except NotFoundError:
            return False

    def _facts(self, digest: str) -> Flow[_Facts | None]:
        """What the plan needs of one manifest; None when it was deleted since its HEAD."""
        try:
            manifest = yield from self._manifests.get(digest)
        except NotFoundError as exc:
            if not tag_vanished(exc, self._endpoint.base_url, self.name, digest):
                raise
            return None
        if is_tombstone(manifest):
            assert isinstance(manifest, OCIManifest)
            return _Facts(None, _blobs(manifest), left_over=True)
        if isinstance(manifest, ManifestV2 | OCIManifest):
            return _Facts((yield from self._created(manifest)), _blobs(manifest))
        assert isinstance(manifest, ManifestList | OCIIndex)
        blobs: dict[str, int] = {}
        created = None
        platforms = manifest.platforms()
        first = platforms[0].digest if platforms else None
        for entry in manifest.manifests:
            try:
                child = yield from self._manifests.get(entry.digest)
            except NotFoundError:
                continue
            if isinstance(child, ManifestV2 | OCIManifest):
                blobs.update(_blobs(child))
                if entry.digest == first:
                    created = yield from self._created(child)
        if created is None and isinstance(manifest, OCIIndex) and manifest.annotations:
            created = parse_rfc3339(manifest.annotations.get(_CREATED_ANNOTATION))
        return _Facts(created, blobs)

    def _created(self, manifest: ManifestV2 | OCIManifest) -> Flow[_dt.datetime | None]:
        """The image's creation time: its config's, else the manifest's annotation."""
        when = None
        try:
            when = (yield from self._images.config(manifest)).created_at
        except RegistryError:
            pass  # an artifact's config, or no config at all: no creation time there
        if when is None and manifest.annotations:
            when = parse_rfc3339(manifest.annotations.get(_CREATED_ANNOTATION))
        return when
