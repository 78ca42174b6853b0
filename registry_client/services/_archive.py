"""Pulling an image into a docker-archive or oci-archive tar, and pushing one.

The bytes move as for an OCI layout (``_pull`` / ``_push``: streamed, verified, only
what the registry lacks); the layout is a work folder next to the archive (pull) or in
the temp directory (push), turned into or made from the tar by ``_archive_files``.
"""

from __future__ import annotations

import errno
import os
import tempfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import attrs

from .._flow import Endpoint, Flow, Offload
from ..errors import PlatformNotFoundError, RegistryError
from ..layout import _fitted_name
from ..models import Image, Platform
from ..reference import is_digest
from . import _light, _workdir
from ._archive_files import archive_kind, docker_archive_to_layout, oci_archive_to_layout
from ._archive_write import check_archive_dest, write_docker_archive, write_oci_archive
from ._destination import named
from ._pull import Puller
from ._push import Pusher
from ._worker import ImageWorker

if TYPE_CHECKING:  # annotations only
    from ..progress import ProgressCallback
    from .blobs import BlobFlows
    from .manifests import ManifestFlows

_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})
"""A write's errors that name no file (the archive's, then)."""

PullFormat = Literal["oci", "docker-archive", "oci-archive"]
"""What ``images.pull`` writes: an OCI layout directory, or a tar of either kind."""
FORMATS: tuple[str, ...] = ("oci", "docker-archive", "oci-archive")


def _in_archive(message: str, work: Path, archive: Path) -> str:
    """``message`` about the unpacked copy ``work`` (gone once the push ends) as one about
    the archive: ``/tmp/x/index.json is ...`` reads ``app.tar: index.json is ...``."""
    return message.replace(f"{work}/", f"{archive}: ").replace(str(work), str(archive))


class Archiver(ImageWorker):
    """Moves images of one repository to and from archive tars."""

    def __init__(
        self, endpoint: Endpoint, repository: str, *, manifests: ManifestFlows,
        blobs: BlobFlows, max_workers: int, puller: Puller, pusher: Pusher,
    ) -> None:
        super().__init__(endpoint, repository, manifests=manifests, blobs=blobs,
                         max_workers=max_workers)
        self._puller = puller
        self._pusher = pusher

    def pull(
        self, reference: str, dest: str | os.PathLike[str], *, platform: str | Platform | None,
        format: PullFormat, progress: ProgressCallback | None,
    ) -> Flow[Image]:
        """Write the image ``reference`` as the archive ``dest`` (a tar file)."""
        if format not in ("docker-archive", "oci-archive"):
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        target = Path(dest)
        yield Offload(partial(check_archive_dest, target))
        pinned = reference
        if format == "docker-archive" and platform is None:
            platform, pinned = yield from self._only_image(reference)
        # a work folder next to the archive (the same file system: the rename is atomic)
        work, held = yield Offload(partial(  # (".NAME." + 8 random characters + ".work")
            _workdir.make, target.parent, f".{_fitted_name(target.name, 15)}.", ".work"))
        try:
            layout = work / "layout"
            image = yield from self._puller.pull(pinned, layout, platform=platform,
                                                 progress=progress,
                                                 every_layer=format == "docker-archive")
            if format == "oci-archive":
                yield Offload(partial(write_oci_archive, layout, target))
            else:
                tags = [] if is_digest(reference) else [
                    f"{self._endpoint.domain}/{self._repository}:{reference}"]
                yield Offload(partial(write_docker_archive, layout, target, tags,
                                      self._endpoint.body_limit))
        except OSError as exc:  # (a full disk): the archive, not our hidden folder
            ours = (str(exc.filename).startswith(str(work)) if exc.filename is not None
                    else exc.errno in _DISK_ERRORS)
            if exc.errno is None or not ours:
                raise
            raise type(exc)(exc.errno, exc.strerror, str(target)) from None
        finally:
            yield Offload(partial(_workdir.remove, work, held), cleanup=True)
        if pinned != reference and not is_digest(reference):  # (its one entry, by digest)
            image = attrs.evolve(image, tag=reference)
        return image

    def _only_image(self, reference: str) -> Flow[tuple[Platform | None, str]]:
        """The image a docker-archive of ``reference`` holds (it holds one): ``(platform,
        reference)`` to pull -- for an index, its one platform, or the digest of its one
        entry when that names no platform (``platform`` is optional in an index)."""
        raw = yield from self._manifests.get_raw(reference)
        is_index, entries = _light.read(raw)
        if not is_index:
            return None, reference
        lone = _light.lone_entry(entries)
        if lone is not None:
            return None, lone.digest
        real = _light.real_entries(entries)
        if len(real) == 1 and not _light.has_index(entries):
            return real[0].platform, reference
        raise PlatformNotFoundError(
            f"{reference} is a multi-platform index ({_light.platforms_in_words(entries)}) "
            "and a docker-archive holds one image: choose one with platform=")

    def push(
        self, source: str | os.PathLike[str], tag: str, *, progress: ProgressCallback | None,
    ) -> Flow[Image]:
        """Push an OCI layout directory, a docker-archive or an oci-archive as ``tag``."""
        path = Path(source)
        kind = yield Offload(partial(archive_kind, path))
        if kind == "layout":
            return (yield from self._pusher.push(path, tag, progress=progress))
        work, held = yield Offload(partial(_workdir.make, Path(tempfile.gettempdir()),
                                           "registry-client-push.", ".work"))
        # (a folder inside the held one: a layout locks its own folder while it writes)
        layout = work / "layout"
        try:
            limit = self._endpoint.body_limit
            try:
                if kind == "oci-archive":
                    yield Offload(partial(oci_archive_to_layout, path, layout, limit))
                else:
                    yield Offload(partial(docker_archive_to_layout, path, layout, tag, limit,
                                          repository=self._repository))
            except OSError as exc:  # (a full temp disk): which disk, the archive's has room
                raise named(exc, work) from None
            return (yield from self._pusher.push(layout, tag, progress=progress))
        except RegistryError as exc:
            if str(layout) not in exc.message:
                raise
            raise exc.with_context(_in_archive(exc.message, layout, path)) from None
        finally:
            yield Offload(partial(_workdir.remove, work, held), cleanup=True)
