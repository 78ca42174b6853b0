"""One image of a reference (a platform of an index), its layers fetched to files, and its
root filesystem exported as a tar: what ``images.export`` and ``mutate`` read images with."""

from __future__ import annotations

import errno
import os
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import attrs

from .._flow import Flow, Gather, Offload
from ..errors import LayerError, PlatformNotFoundError
from ..models import IMAGE_CONFIG_TYPES, Descriptor, Platform, RawManifest
from ..reference import pinned_name
from . import _light, _workdir
from ._destination import prepare, written_to
from ._light import refuse_foreign
from ._platforms import pick_platform, platform_words, read_config, wanted_platform
from ._worker import ImageWorker
from .blobs import BlobFlows
from .manifests import ManifestFlows

__all__ = ["Exporter", "SingleImage", "fetch_layers", "single_image"]


@attrs.frozen
class SingleImage:
    """A single-platform image as read: its manifest (bytes and parsed), its config
    (descriptor, bytes, parsed) and its layers' descriptors."""

    raw: RawManifest
    manifest: dict[str, Any]
    config: Descriptor
    config_data: bytes
    config_doc: dict[str, Any]
    layers: list[Descriptor]

    @property
    def platform(self) -> Platform:
        """The platform its config names."""
        return _light.image_platform(self.raw, self.config, self.config_data)


def read_single(blobs: BlobFlows, raw: RawManifest, limit: int) -> Flow[SingleImage]:
    """The :class:`SingleImage` of an image manifest (its config blob read).

    Raises:
        LayerError: the manifest is an artifact's (its config is no image config).
    """
    _, descs = _light.read(raw)
    config, layers = descs[0], descs[1:]
    if config.media_type not in IMAGE_CONFIG_TYPES:
        raise LayerError(f"manifest {raw.digest} is not an image (config type "
                         f"{config.media_type[:80]!r}): it has no filesystem")
    data = yield from read_config(blobs, config, limit)
    return SingleImage(
        raw=raw, manifest=_light.json_object(raw.data, f"manifest {raw.digest}"),
        config=config, config_data=data,
        config_doc=_light.json_object(data, f"image config {config.digest}"), layers=layers)


def single_image(
    manifests: ManifestFlows, blobs: BlobFlows, raw: RawManifest,
    platform: str | Platform | None, limit: int,
) -> Flow[SingleImage]:
    """The single image ``raw`` is, or its entry for ``platform`` when it is an index.

    An index without ``platform`` is refused unless it lists one platform only (or one
    entry that names none: that image); a single image of another platform than
    ``platform`` is refused too.

    Raises:
        PlatformNotFoundError: no such platform, or an index and no ``platform`` given.
    """
    is_index, entries = _light.read(raw)
    lone = _light.lone_entry(entries) if is_index else None
    if lone is not None:  # that image, held against ``platform`` as a single image is
        raw = yield from manifests.get_raw(lone.digest)
        if _light.read(raw)[0]:
            raise PlatformNotFoundError(f"index entry {lone.digest} is an index itself")
        is_index = False
    if is_index:
        if platform is None:
            real = _light.real_entries(entries)
            if len(real) != 1 or _light.has_index(entries):
                raise PlatformNotFoundError(
                    f"manifest {raw.digest} is a multi-platform index "
                    f"({_light.platforms_in_words(entries)}): choose one with platform=")
            raw = yield from manifests.get_raw(real[0].digest)
            if _light.read(raw)[0]:
                raise PlatformNotFoundError(f"index entry {real[0].digest} is an index itself")
        else:  # (in an inner index too, as pull finds it)
            _, raw, _ = yield from pick_platform(manifests, raw, entries, platform)
        return (yield from read_single(blobs, raw, limit))
    image = yield from read_single(blobs, raw, limit)
    if platform is not None and not image.platform.matches(wanted_platform(platform)):
        # as pull: a single image is used for another platform only if it is one
        named = pinned_name(f"{manifests.domain}/{manifests.repository}", raw.digest)
        raise PlatformNotFoundError(f"{named} is a single {platform_words(image.platform)} "
                                    f"image, not {platform_words(wanted_platform(platform))}")
    return image


def fetch_layers(
    blobs: BlobFlows, layers: list[Descriptor], directory: Path, workers: int,
) -> Flow[list[Path]]:
    """Download ``layers`` into ``directory`` (verified, ``workers`` at a time); their files,
    in layer order.

    Raises:
        LayerError: a layer is foreign and names its ``urls``: its bytes are not here.
    """
    refuse_foreign(layers)
    paths = [directory / f"layer-{i}" for i in range(len(layers))]
    yield Gather([partial(blobs.download, d.digest, p, expected_size=d.size)
                  for d, p in zip(layers, paths, strict=True)], workers)
    return paths


def check_destination(dest: Path) -> None:
    """Raise FileNotFoundError unless ``dest``'s directory exists (it is not created;
    after symlinks), IsADirectoryError when ``dest`` is a directory (a tar is a file),
    another OSError when the tar cannot be written there (a read-only file system):
    before anything is downloaded."""
    if dest.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory: an export is written to a "
                                "file", str(dest))
    prepare(dest, make_parents=False)


def write_rootfs(layers: list[Path], dest: Path) -> None:
    """Merge ``layers`` into a tar at ``dest``, renamed into place only when complete.

    The file is created as any new file is (mode 0666 less the umask); its directory
    must exist, as for ``cp``.

    Raises:
        FileNotFoundError: ``dest``'s directory does not exist.
    """
    from .. import _tarfs  # tarfile and gzip are loaded when an export runs, not at import

    check_destination(dest)
    with written_to(dest) as out:  # (a FIFO, a device or /dev/stdout: streamed into)
        _tarfs.merge_layers(layers, out)


def work_directory() -> tuple[Path, int]:
    """A fresh temporary directory for layer files (an export's, a mutation's), held
    while used (give both to :func:`remove_directory`); those a killed process left in
    the temp directory are removed first."""
    return _workdir.make(Path(tempfile.gettempdir()), "registry-client-layers.", ".work")


def remove_directory(work: Path, held: int) -> None:
    """Remove a work directory and everything in it, and let go of it."""
    _workdir.remove(work, held)


class Exporter(ImageWorker):
    """Writes the root filesystem of images of one repository as tar files."""

    def export(
        self, reference: str, dest: str | os.PathLike[str], platform: str | Platform | None,
    ) -> Flow[Path]:
        """The flow of ``images.export``."""
        target = Path(dest)
        yield Offload(partial(check_destination, target))  # before any download
        raw = yield from self._manifests.get_raw(reference)
        image = yield from single_image(self._manifests, self._blobs, raw, platform,
                                        self._endpoint.body_limit)
        work, held = yield Offload(work_directory)
        try:
            paths = yield from fetch_layers(self._blobs, image.layers, work, self._max_workers)
            yield Offload(partial(write_rootfs, paths, target))
        finally:
            yield Offload(partial(remove_directory, work, held), cleanup=True)
        return target
