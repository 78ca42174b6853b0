"""Flows over the blocking manifest and blob services, until their own flows land.

Each method does the blocking call in an :class:`~registry_client._flow.Offload`, so
the whole-image flows run on the blocking shell unchanged. Temporary: replaced by
``ManifestFlows`` / ``BlobFlows`` (issue 14).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, BinaryIO

from .._flow import Flow, Offload
from .._reader import VerifyingReader
from ..models import Descriptor, Manifest, RawManifest
from ..progress import ProgressCallback
from ._referrers import Referrers
from .blobs import BlobService
from .manifests import ManifestService


def _offload(fn: Callable[[], Any]) -> Flow[Any]:
    return (yield Offload(fn))


class OffloadedReferrers:
    def __init__(self, service: Referrers) -> None:
        self.service = service

    def has_api(self, digest: str) -> Flow[bool]:
        return _offload(lambda: self.service.has_api(digest))

    def note_api(self, present: bool) -> None:
        self.service.note_api(present)

    def add_to_fallback(self, subject: str, entry: Descriptor) -> Flow[None]:
        return _offload(lambda: self.service.add_to_fallback(subject, entry))


class OffloadedManifests:
    def __init__(self, service: ManifestService) -> None:
        self.service = service

    @property
    def referrers_service(self) -> OffloadedReferrers:
        return OffloadedReferrers(self.service.referrers_service)

    def get_raw(self, reference: str) -> Flow[RawManifest]:
        return _offload(lambda: self.service.get_raw(reference))

    def head(self, reference: str) -> Flow[Descriptor]:
        return _offload(lambda: self.service.head(reference))

    def put(self, reference: str, manifest: Manifest | RawManifest) -> Flow[str]:
        return _offload(lambda: self.service.put(reference, manifest))

    def put_with_headers(
        self, reference: str, manifest: Manifest | RawManifest
    ) -> Flow[tuple[str, Mapping[str, str]]]:
        return _offload(lambda: self.service.put_with_headers(reference, manifest))

    def delete(self, digest: str) -> Flow[None]:
        return _offload(lambda: self.service.delete(digest))

    def referrers(self, digest: str, artifact_type: str | None = None) -> Flow[list[Descriptor]]:
        return _offload(lambda: self.service.referrers(digest, artifact_type))


class OffloadedBlobs:
    def __init__(self, service: BlobService) -> None:
        self.service = service

    def exists(self, digest: str, *, for_push: bool = False) -> Flow[bool]:
        return _offload(lambda: self.service.exists(digest, for_push=for_push))

    def get(self, digest: str, *, expected_size: int | None = None) -> Flow[bytes]:
        return _offload(lambda: self.service.get(digest, expected_size=expected_size))

    def download(
        self, digest: str, path: str | os.PathLike[str], *,
        progress: ProgressCallback | None = None, expected_size: int | None = None,
    ) -> Flow[Path]:
        return _offload(lambda: self.service.download(
            digest, path, progress=progress, expected_size=expected_size))

    def upload(
        self, data: bytes | BinaryIO | IO[bytes] | str | os.PathLike[str], *,
        digest: str | None = None, progress: ProgressCallback | None = None,
    ) -> Flow[Descriptor]:
        return _offload(lambda: self.service.upload(data, digest=digest, progress=progress))

    def mount(self, digest: str, from_repository: str) -> Flow[bool]:
        return _offload(lambda: self.service.mount(digest, from_repository))


class _OpenOnRead(io.RawIOBase):
    """A blob reader opened by ``opener`` on the first read (and closed with this)."""

    def __init__(self, opener: Callable[[], object], keep: list[bytes] | None = None) -> None:
        super().__init__()
        self._opener = opener
        self._keep = keep  # when given, every byte read is appended here too
        self._reader: VerifyingReader | None = None

    def _open(self) -> VerifyingReader:
        if self._reader is None:
            reader = self._opener()
            assert isinstance(reader, VerifyingReader)
            self._reader = reader
        return self._reader

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._open().readinto(buffer)
        if self._keep is not None and n:
            self._keep.append(bytes(memoryview(buffer)[:n]))
        return n

    def read(self, size: int | None = -1) -> bytes:
        data = self._open().read(size)
        if self._keep is not None and data:
            self._keep.append(data)
        return data

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        super().close()


def relay_blob(
    source: object, target: object, digest: str, size: int, *,
    progress: ProgressCallback | None, keep: list[bytes] | None,
) -> Flow[None]:
    """Stream blob ``digest`` from ``source`` into an upload to ``target`` (blob flows)."""
    assert isinstance(source, OffloadedBlobs) and isinstance(target, OffloadedBlobs)

    def stream() -> None:
        # The source is opened on the first read: the target's session (and the right to
        # push) comes first, so a refused upload costs no source GET.
        with _OpenOnRead(lambda: source.service.open(digest, expected_size=size),
                         keep) as reader:
            target.service.upload_stream(reader, digest=digest, size=size, progress=progress)

    yield Offload(stream)


def flows_of(target: Any) -> tuple[OffloadedManifests, OffloadedBlobs]:
    """The manifest and blob flows of a copy's target repository."""
    return OffloadedManifests(target.manifests), OffloadedBlobs(target.blobs)
