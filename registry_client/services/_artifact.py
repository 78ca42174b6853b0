"""Fetching the files of an artifact (an SBOM, a signature...) into a folder."""

from __future__ import annotations

import ntpath
import os
from functools import partial
from pathlib import Path

from .._flow import Flow, Gather, Offload
from ..errors import ArtifactNameError, NotAnImageError
from ..models import Descriptor, ManifestList, OCIIndex
from ..models.manifest import manifest_class_for
from . import _light, _workdir
from ._worker import ImageWorker

TITLE = "org.opencontainers.image.title"
_NAME_MAX = 255


def safe_file_name(title: object) -> str:
    """``title`` when it is a plain file name, safe to create inside a folder.

    Raises:
        ArtifactNameError: it is not a string, empty, ``.`` or ``..``, absolute, holds a
            path separator (``/`` or ``\\``), a drive or a NUL, or is longer than a file
            name can be (255 bytes of UTF-8, the limit of Linux, macOS and Windows).
    """
    if not isinstance(title, str) or title in ("", ".", ".."):
        raise ArtifactNameError(f"artifact file title {title!r} is not a file name")
    try:
        size = len(title.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate from JSON's "\ud800"
        raise ArtifactNameError(f"artifact file title {title!r} is not valid "
                                "Unicode") from None
    if size > _NAME_MAX:
        raise ArtifactNameError(f"artifact file title {title[:40]!r}... is {size} bytes long: "
                                f"a file name holds at most {_NAME_MAX} bytes (UTF-8)")
    if ("/" in title or "\\" in title or "\0" in title or ntpath.splitdrive(title)[0]
            or os.path.isabs(title)):
        raise ArtifactNameError(f"artifact file title {title!r} is not a plain file name "
                                "(a path, a drive or a NUL): refused")
    return title


def artifact_files(data: bytes, media_type: str, digest: str) -> list[tuple[str, Descriptor]]:
    """(file name, layer) for every layer of an artifact manifest with a title.

    Raises:
        NotAnImageError: the manifest is an index.
        ArtifactNameError: a title is unsafe, or two layers have the same title.
    """
    doc = _light.json_object(data, f"manifest {digest}")
    if manifest_class_for(doc, media_type) in (ManifestList, OCIIndex):
        raise NotAnImageError(f"{digest} is an index, not an artifact: fetch one of its "
                              "manifests (see referrers)")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise NotAnImageError(f"{digest} has no layers list")
    files: list[tuple[str, Descriptor]] = []
    names: set[str] = set()
    for i, layer in enumerate(layers):
        d = _light.descriptor(layer, f"$.layers[{i}]")
        annotations = layer.get("annotations") if isinstance(layer, dict) else None
        if not isinstance(annotations, dict) or TITLE not in annotations:
            continue  # an untitled layer is no file (as oras pull skips it)
        name = safe_file_name(annotations[TITLE])
        if name in names:
            raise ArtifactNameError(f"two files of {digest} are titled {name!r}")
        names.add(name)
        files.append((name, d))
    return files


def _check_places(dest: Path, names: list[str]) -> None:
    """Refuse, before anything is written, a file name taken by a folder in ``dest``
    (a file there is replaced, as ``oras pull`` replaces it)."""
    for name in names:
        place = dest / name
        if place.is_dir() and not place.is_symlink():
            raise ArtifactNameError(f"{place} is a directory: the artifact file {name!r} "
                                    "cannot be written there; nothing was written")


def _stage(dest: Path, names: list[str]) -> tuple[Path, int]:
    """The artifact's work folder in ``dest`` (held while used); those a killed fetch
    left there are removed first, the user's files they held put back."""
    _check_places(dest, names)
    work, held = _workdir.make(dest, ".artifact.", ".partial",
                               before_removal=partial(_put_back, dest))
    (work / "new").mkdir()
    (work / "old").mkdir()
    return work, held


def _put_back(dest: Path, work: Path) -> None:
    """Put back the files a fetch killed while moving its own in had taken out of the
    way (``work/old``), where nothing took their place."""
    old = work / "old"
    for entry in (os.scandir(old) if old.is_dir() else []):
        if not os.path.lexists(dest / entry.name):
            os.replace(entry.path, dest / entry.name)


def _move_all(work: Path, dest: Path, names: list[str]) -> list[Path]:
    """Move every downloaded file into place, or none: what a name replaced is kept in
    ``work/old`` until all are placed, and put back when a move fails."""
    _check_places(dest, names)  # again: a folder may have appeared while downloading
    done: list[str] = []
    try:
        for name in names:
            if os.path.lexists(dest / name):
                os.replace(dest / name, work / "old" / name)
            done.append(name)
            os.replace(work / "new" / name, dest / name)
    except BaseException:
        for name in reversed(done):
            if os.path.lexists(work / "old" / name):
                os.replace(work / "old" / name, dest / name)
            else:
                (dest / name).unlink(missing_ok=True)
        raise
    return [dest / name for name in names]


class ArtifactFetcher(ImageWorker):
    """Downloads the files of artifact manifests of one repository."""

    def fetch_artifact(
        self, reference: str, dest_dir: str | os.PathLike[str]
    ) -> Flow[list[Path]]:
        """Write each titled layer of ``reference`` to ``dest_dir``; their paths."""
        raw = yield from self._manifests.get_raw(reference)
        files = artifact_files(raw.data, raw.media_type, raw.digest)  # all checked first
        dest = Path(dest_dir)
        names = [n for n, _ in files]
        work, held = yield Offload(partial(_stage, dest, names))
        try:
            yield Gather([partial(self._blobs.download, d.digest, work / "new" / name,
                                  expected_size=d.size) for name, d in files],
                         self._max_workers)
            paths: list[Path] = yield Offload(partial(_move_all, work, dest, names))
        finally:
            yield Offload(partial(_workdir.remove, work, held), cleanup=True)
        return paths
