"""Descriptors and platforms: the pointers that manifests and indexes are made of.

A :class:`Descriptor` names a piece of content by media type, digest and size
(OCI image-spec ``descriptor.md``); a :class:`Platform` says which operating
system and CPU an image in an index runs on (``image-index.md``).

Both are immutable.  Build a descriptor with keywords::

    Descriptor(media_type=OCI_LAYER_GZIP, digest="sha256:...", size=1234)
    Descriptor.from_bytes(blob, OCI_CONFIG)          # digest and size computed

and change one with ``attrs.evolve(desc, annotations={...})``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._digest import compute_digest

__all__ = ["Descriptor", "Platform"]

_PART_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*\Z")
_OS_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_ARCH_ALIASES = {"aarch64": "arm64", "x86_64": "amd64", "x86-64": "amd64"}


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    """Turn any iterable of strings (a JSON list, say) into a tuple; one string is one item."""
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _opt_str_tuple(value: Iterable[str] | None) -> tuple[str, ...] | None:
    """Like :func:`_str_tuple` but keeps ``None``."""
    return None if value is None else _str_tuple(value)


def _normalized(os: str, architecture: str, variant: str | None) -> tuple[str, str, str | None]:
    """Normalise a platform triple the way docker/containerd compare them."""
    os = os.lower()
    arch = architecture.lower()
    arch = _ARCH_ALIASES.get(arch, arch)
    var = variant.lower() if variant else None
    if var is not None and var.isdigit() and arch in ("arm", "arm64"):
        var = "v" + var
    if arch == "arm64" and var is None:
        var = "v8"  # arm64's default variant, as in docker: "linux/arm64" == "linux/arm64/v8"
    return os, arch, var


_DEFAULT_VARIANTS = {"arm64": "v8", "arm": "v7", "amd64": None}


def same_platform(a: Platform, b: Platform) -> bool:
    """Whether ``a`` and ``b`` name one platform, as containerd normalises them: OS,
    architecture and variant equal (a missing variant is the architecture's default:
    arm64 v8, arm v7, amd64 v1 or none), and ``os_version`` equal. Stricter than
    :meth:`Platform.matches`, where a missing variant matches any: ``linux/amd64``
    matches an ``amd64/v3`` entry, but is not the same platform."""
    def key(p: Platform) -> tuple[str, str, str | None, str | None]:
        os, arch, var = _normalized(p.os, p.architecture, p.variant)
        if var is None or (arch == "amd64" and var == "v1"):
            var = _DEFAULT_VARIANTS.get(arch)
        return os, arch, var, p.os_version or None
    return key(a) == key(b)


@attrs.frozen
class Platform:
    """The operating system and CPU an image runs on.

    ``architecture``, ``os``, ``variant``, ``os_version`` (JSON ``os.version``),
    ``os_features`` (JSON ``os.features``) and ``features`` are the fields of the
    ``platform`` object of an index entry.  ``digest``, ``media_type`` and ``size``
    are never part of that JSON object: the library fills them in when it reports
    the platforms of an image, with the digest, media type and size of that
    platform's own manifest.  ``extra`` keeps unknown JSON keys so they are
    written back unchanged.

    ``str(platform)`` gives ``"os/arch[/variant]"``; :meth:`parse` reads that form.
    """

    architecture: str
    os: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    features: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    digest: str | None = None
    media_type: str | None = None
    size: int | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, kw_only=True, hash=False)

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base

    @classmethod
    def parse(cls, value: str) -> Platform:
        """Read ``"os/arch"`` or ``"os/arch/variant"`` (e.g. ``"linux/arm64/v8"``), with
        an ``":osversion"`` after either as crane takes it (``"windows/amd64:10.0.17763"``).

        The os, architecture and variant are lower-cased.  Raises ValueError for
        anything else, such as ``"linux"``, ``"linux/"``, ``"a/b/c/d"`` or an empty
        os version.
        """
        if not isinstance(value, str):
            raise ValueError(f"platform must be a string, got {type(value).__name__}")
        text, colon, os_version = value.strip().partition(":")
        parts = text.lower().split("/")
        if (len(parts) not in (2, 3) or not all(_PART_RE.match(p) for p in parts)
                or (colon and not _OS_VERSION_RE.match(os_version))):
            raise ValueError(
                f"invalid platform {value[:100]!r}: expected os/arch[/variant][:osversion], "
                "for example linux/amd64, linux/arm64/v8 or windows/amd64:10.0.17763"
            )
        return cls(
            architecture=parts[1], os=parts[0], variant=parts[2] if len(parts) == 3 else None,
            os_version=os_version or None,
        )

    def matches(self, other: Platform) -> bool:
        """Whether the two platforms are compatible; the test is symmetric.

        OS and architecture must be equal (case-insensitively; ``aarch64`` is
        ``arm64`` and ``x86_64`` is ``amd64``).  Variants must be equal when
        both are set: a platform without a variant, such as a requested
        ``linux/arm``, matches every variant -- except for arm64, where, as in
        docker, no variant means the default ``v8``: ``linux/arm64`` and
        ``linux/arm64/v8`` match entries with variant ``v8`` or none, not ``v9``.
        ``os_version`` likewise only counts when both are set, and then one
        must equal the other or extend it (``10.0.17763`` matches
        ``10.0.17763.1697``).  ``features`` and ``os_features`` are ignored.
        """
        my_os, my_arch, my_var = _normalized(self.os, self.architecture, self.variant)
        os, arch, var = _normalized(other.os, other.architecture, other.variant)
        if (my_os, my_arch) != (os, arch):
            return False
        if my_var is not None and var is not None and my_var != var:
            return False
        if self.os_version and other.os_version:
            short, long = sorted((self.os_version, other.os_version), key=len)
            if long != short and not long.startswith(short + "."):
                return False
        return True


@attrs.frozen
class Descriptor:
    """A pointer to content: its media type, digest and size, plus optional details.

    JSON keys: ``mediaType``, ``digest``, ``size``, ``urls``, ``annotations``,
    ``platform``, ``artifactType``, ``data``.  Unknown keys are kept in ``extra``
    and written back.  Everything after ``size`` is best passed by keyword.
    Descriptors parsed from a registry's answer are validated (digest well
    formed, size a non-negative integer); ones you build yourself are not.
    """

    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_str_tuple)
    annotations: dict[str, str] | None = attrs.field(default=None, hash=False)
    platform: Platform | None = None
    artifact_type: str | None = None
    data: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, hash=False)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        media_type: str,
        *,
        annotations: Mapping[str, str] | None = None,
        platform: Platform | None = None,
        artifact_type: str | None = None,
        algorithm: str = "sha256",
    ) -> Descriptor:
        """The descriptor of ``data``: its digest and size are computed for you."""
        return cls(
            media_type=media_type,
            digest=compute_digest(bytes(data), algorithm),
            size=len(data),
            annotations=dict(annotations) if annotations is not None else None,
            platform=platform,
            artifact_type=artifact_type,
        )


def matching_entries(entries: Iterable[Descriptor], want: Platform) -> list[Descriptor]:
    """The entries whose platform matches ``want`` (:meth:`Platform.matches`), those that
    are exactly it (:func:`same_platform`) first, each group in index order."""
    matching = [d for d in entries if d.platform is not None and d.platform.matches(want)]
    return sorted(matching, key=lambda d: not (d.platform is not None
                                               and same_platform(d.platform, want)))
