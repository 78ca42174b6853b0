"""Images, image configuration blobs and tag listings.

:class:`ImageConfig` is the JSON blob a manifest's ``config`` descriptor points
at (OCI image-spec ``config.md``, Docker image spec v1.2): platform, creation
time, the container defaults in :class:`ContainerConfig`, the layer
:class:`RootFS` and the build :class:`History`.  Docker configs carry many more
keys (``container_config``, ``docker_version``, ``Hostname``, ``OnBuild``...):
each class keeps the keys it does not model in ``extra``, together with keys
that were explicitly ``null``, so the blob is written back unchanged.

:class:`Image` is what the library reports about a tag or digest (defined in
``_image``, so that pulling, pushing or copying an image does not build the config
models), :class:`ImageDetails` what it reports about each platform of it, and
:class:`TagPage` is one page of a repository's tag list (defined in ``_tag_page``,
so that listing tags does not load the image models).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import attrs

from .._rfc3339 import parse_rfc3339
from ._image import Image
from ._tag_page import TagPage
from .descriptor import Platform

__all__ = [
    "ContainerConfig", "History", "Image", "ImageConfig", "ImageDetails", "RootFS", "TagPage",
    "parse_rfc3339",
]

@attrs.define(kw_only=True)
class ContainerConfig:
    """The defaults a container of the image starts with (the config's ``config`` object).

    JSON keys are capitalised: ``User``, ``ExposedPorts``, ``Env``,
    ``Entrypoint``, ``Cmd``, ``Volumes``, ``WorkingDir``, ``Labels``,
    ``StopSignal``, ``ArgsEscaped``.  Anything else (``Hostname``,
    ``Healthcheck``, ``OnBuild``...) is kept in ``extra``.
    """

    user: str | None = None
    exposed_ports: dict[str, dict[str, Any]] | None = None
    env: list[str] | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    volumes: dict[str, dict[str, Any]] | None = None
    working_dir: str | None = None
    labels: dict[str, str] | None = None
    stop_signal: str | None = None
    args_escaped: bool | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)

    def env_dict(self) -> dict[str, str]:
        """``env`` as a dict (``"A=b"`` gives ``{"A": "b"}``; later entries win)."""
        result: dict[str, str] = {}
        for item in self.env or ():
            key, _, value = item.partition("=")
            result[key] = value
        return result


@attrs.define(kw_only=True)
class RootFS:
    """The layers of the image, as uncompressed-content digests (``diff_ids``)."""

    type: str
    diff_ids: list[str]
    extra: dict[str, Any] = attrs.field(factory=dict)


@attrs.define(kw_only=True)
class History:
    """One build step of the image; ``empty_layer`` steps added no layer."""

    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)

    @property
    def created_at(self) -> _dt.datetime | None:
        """``created`` as an aware datetime, or None when absent or unparsable."""
        return parse_rfc3339(self.created)


@attrs.define(kw_only=True)
class ImageConfig:
    """An image configuration blob.

    ``os_version`` and ``os_features`` are the JSON keys ``os.version`` and
    ``os.features``.  ``created`` is kept as the original string; use
    :attr:`created_at` for a datetime.  Parse one with
    :func:`registry_client.models.config_from_bytes`.
    """

    architecture: str
    os: str
    variant: str | None = None
    os_version: str | None = None
    os_features: list[str] | None = None
    created: str | None = None
    author: str | None = None
    config: ContainerConfig | None = None
    rootfs: RootFS
    history: list[History] | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)

    @property
    def created_at(self) -> _dt.datetime | None:
        """``created`` as an aware datetime, or None when absent or unparsable."""
        return parse_rfc3339(self.created)

    @property
    def platform(self) -> Platform:
        """The platform this image was built for."""
        return Platform(
            architecture=self.architecture,
            os=self.os,
            variant=self.variant,
            os_version=self.os_version,
            os_features=tuple(self.os_features or ()),
        )

    @property
    def labels(self) -> dict[str, str]:
        """The image labels (empty when there are none)."""
        if self.config is None or self.config.labels is None:
            return {}
        return self.config.labels


@attrs.frozen
class ImageDetails:
    """One platform of an image: which manifest, when it was built, its labels and size.

    ``platform`` is the platform with its manifest's digest, media type and size;
    ``digest`` is that manifest's digest; ``created`` the config's ``created``
    time (timezone-aware; None when absent or unparsable); ``labels`` the
    config's labels (empty when none); ``size`` the bytes the platform's image
    takes in the registry: its config blob plus its layers (compressed, as stored).
    """

    platform: Platform
    digest: str
    created: _dt.datetime | None
    labels: dict[str, str] = attrs.field(hash=False)
    size: int
