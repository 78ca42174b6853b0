"""BlobFlows.upload_stream from another repository's BlobFetch: the blob is read as it is
sent (the flow a copy runs in either flavour), verified on the way.

Against the real registry, through a :class:`FaultProxy` that can corrupt the source.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from registry_client import (
    BlobFinished,
    BlobService,
    Descriptor,
    DigestMismatchError,
    ProgressEvent,
    Registry,
)
from registry_client._flow import Call, run
from registry_client.requester import Requester
from registry_client.services._shell import BlockingShell
from registry_client.testing import FaultProxy, LocalRegistry, seed_blob

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        yield p


class _Recording(BlockingShell):
    """The blocking shell, noting each request as the flow sends it: ``(method, URL or
    path)``, in the flow's own order."""

    __slots__ = ("sent",)

    def __init__(self, requester: Requester) -> None:
        super().__init__(requester)
        self.sent: list[tuple[str, str]] = []

    def perform(self, effect: Any) -> Any:
        if isinstance(effect, Call):
            self.sent.append((effect.request.method, effect.request.target))
        return super().perform(effect)


def _relay(
    proxy: FaultProxy, repository: str, digest: str, size: int,
    sent: list[tuple[str, str]] | None = None, **kw: Any,
) -> tuple[Descriptor, BlobService]:
    """Relay ``digest`` from ``repository/source`` to ``repository/target`` (through the
    proxy): what was stored, and the target's blobs. The requests the flow sends are
    added to ``sent``, in order."""
    reg = Registry(proxy.host, protocol="http")
    target = reg.repository(f"{repository}/target").blobs
    source = reg.repository(f"{repository}/source").blobs.flows.fetch
    flow = target.flows.upload_stream(source, digest=digest, size=size, **kw)
    shell = _Recording(reg.requester)
    try:
        return run(flow, shell), target
    finally:
        if sent is not None:
            sent.extend(shell.sent)


def test_a_blob_relayed_from_another_repository_arrives_whole(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    data = os.urandom(3_000_000)
    digest = seed_blob(anon_registry, f"{unique_repository}/source", data)
    events: list[ProgressEvent] = []
    stored, target = _relay(proxy, unique_repository, digest, len(data),
                            progress=events.append)
    assert (stored.digest, stored.size) == (digest, len(data))
    assert target.get(digest) == data
    assert events[-1] == BlobFinished(digest, len(data))
    methods = [(r.method, r.path.split("?")[0].rsplit("/", 2)[-2]) for r in proxy.requests]
    assert methods[:3] == [("POST", "uploads"), ("GET", "blobs"), ("PUT", "uploads")]


def test_a_corrupt_source_is_never_committed(
    proxy: FaultProxy, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    data = os.urandom(2_000_000)
    digest = seed_blob(anon_registry, f"{unique_repository}/source", data)
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    proxy.add_rule("GET", f"/blobs/{digest}", action="corrupt", offset=1_500_000)
    sent: list[tuple[str, str]] = []
    with pytest.raises(DigestMismatchError):
        _relay(proxy, unique_repository, digest, len(data), sent)
    target = Registry(proxy.host, protocol="http").repository(f"{unique_repository}/target")
    assert not target.blobs.exists(digest)
    # The client's own order: the session, its PUT (stopped before the block that would
    # complete the wrong content), then that session cancelled. The proxy's record may
    # list the PUT after the DELETE: each connection has its own thread, and the bytes
    # of the stopped PUT can wait in the socket until its thread reads them.
    uploads = [(method, url) for method, url in sent if "/blobs/uploads/" in url]
    assert [method for method, _ in uploads] == ["POST", "PUT", "DELETE"]
    session = uploads[1][1]
    assert uploads[2][1] == session
    # No PUT got the whole blob to the registry, so none could commit it.
    whole = [r for r in proxy.requests
             if r.method == "PUT" and (r.request_bytes >= len(data) or r.status == 201)]
    assert whole == []
    # The registry got the cancel: 204, or 404 BLOB_UPLOAD_INVALID when the stopped PUT
    # reached it first (Distribution then drops the session itself).
    cancels = [e.status for e in anon_registry.access_log_entries()
               if e.method == "DELETE" and e.path == urlsplit(session).path]
    assert cancels in ([204], [404])
