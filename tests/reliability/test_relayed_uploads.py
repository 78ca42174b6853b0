"""BlobFlows.upload_stream from another repository's BlobFetch: the blob is read as it is
sent (the flow a copy runs in either flavour), verified on the way.

Against the real registry, through a :class:`FaultProxy` that can corrupt the source.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _recording import RecordingShell, cancel_statuses, cancelled_session, puts_that_got_through

from registry_client import (
    BlobFinished,
    BlobService,
    Descriptor,
    DigestMismatchError,
    ProgressEvent,
    Registry,
)
from registry_client._flow import run
from registry_client._request import Request
from registry_client.testing import FaultProxy, LocalRegistry, seed_blob

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(anon_registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(anon_registry, timeout=5) as p:
        yield p


def _relay(
    proxy: FaultProxy, repository: str, digest: str, size: int,
    sent: list[Request] | None = None, **kw: Any,
) -> tuple[Descriptor, BlobService]:
    """Relay ``digest`` from ``repository/source`` to ``repository/target`` (through the
    proxy): what was stored, and the target's blobs. The requests the flow sends are
    added to ``sent``, in order."""
    reg = Registry(proxy.host, protocol="http")
    target = reg.repository(f"{repository}/target").blobs
    source = reg.repository(f"{repository}/source").blobs.flows.fetch
    flow = target.flows.upload_stream(source, digest=digest, size=size, **kw)
    shell = RecordingShell(reg.requester)
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
    sent: list[Request] = []
    with pytest.raises(DigestMismatchError):
        _relay(proxy, unique_repository, digest, len(data), sent)
    target = Registry(proxy.host, protocol="http").repository(f"{unique_repository}/target")
    assert not target.blobs.exists(digest)
    # The client's own order (see _recording): the session, its PUT (stopped before the
    # block that would complete the wrong content), then that session cancelled.
    assert [r.method for r in sent if "/blobs/uploads/" in r.target] == ["POST", "PUT", "DELETE"]
    session = cancelled_session(sent, digest)
    # No PUT got the whole blob to the registry, so none could commit it.
    assert puts_that_got_through(proxy, session, len(data)) == []
    # The registry got the cancel.
    assert cancel_statuses(anon_registry, session) in ([204], [404])
