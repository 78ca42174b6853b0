"""Blob uploads (``services._upload``): the state file, and what their errors name."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import requests_mock

from registry_client import Registry
from registry_client.errors import DigestMismatchError, RegistryResponseError
from registry_client.services._upload import _write_state, check_state_path


def test_the_state_file_is_never_written_through_a_name_known_in_advance(
        tmp_path: Path) -> None:
    # a symlink put at "<state>.tmp" (a shared directory) had the state written through
    # it, over the file it pointed to
    victim = tmp_path / "victim"
    victim.write_text("precious")
    state = tmp_path / "up.state"
    (tmp_path / "up.state.tmp").symlink_to(victim)
    check_state_path(state)
    _write_state(state, {"location": "http://r/v2/a/blobs/uploads/1"})
    assert victim.read_text() == "precious"
    assert json.loads(state.read_text()) == {"location": "http://r/v2/a/blobs/uploads/1"}
    assert state.stat().st_mode & 0o077 == 0  # (the upload's URL is in it)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["up.state", "up.state.tmp", "victim"]


def test_a_state_file_that_is_a_device_or_a_pipe_is_refused(tmp_path: Path) -> None:
    """state_file="/dev/null" replaced the device with a JSON file, then deleted it (as
    root: /dev/null gone). A file that is no regular file is none to keep a state in."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/null")):
        with pytest.raises(OSError, match="state file") as caught:
            check_state_path(path)
        assert caught.value.filename == str(path)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and stat.S_ISCHR(Path("/dev/null").stat().st_mode)


def test_a_state_file_that_cannot_be_written_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A full disk said "[Errno 28] No space left on device", naming no file."""
    def full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    state = tmp_path / "up.state"
    with pytest.raises(OSError, match="state file") as caught:
        _write_state(state, {"a": 1})
    assert (caught.value.errno, caught.value.filename) == (28, str(state))
    assert list(tmp_path.iterdir()) == []


def test_a_state_file_is_replaced_whole(tmp_path: Path) -> None:
    state = tmp_path / "up.state"
    _write_state(state, {"a": 1})
    _write_state(state, {"b": 2})
    assert json.loads(state.read_text()) == {"b": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["up.state"]


def test_an_upload_error_in_a_copy_names_the_target_not_the_source(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]],
) -> None:
    """It said "registry.example/app: upload to mirror.example/copy: ...": the source's
    name put in front blamed the source for the target's answer."""
    src, adapter = mocked_registry(retries=0)
    dst = Registry("mirror.example", session=src.requester.session, retries=0, backoff=0.0)
    blobs = {b"{}": "config", b"layer": "layer"}
    digests = {data: f"sha256:{hashlib.sha256(data).hexdigest()}" for data in blobs}
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digests[b"{}"], "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digests[b"layer"], "size": 5}]}).encode()
    adapter.register_uri("GET", "https://registry.example/v2/app/manifests/1.0",
                         content=manifest,
                         headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    for data, digest in digests.items():
        adapter.register_uri("GET", f"https://registry.example/v2/app/blobs/{digest}",
                             content=data)
        adapter.register_uri("HEAD", f"https://mirror.example/v2/copy/blobs/{digest}",
                             status_code=404)
    adapter.register_uri("HEAD", "https://mirror.example/v2/copy/manifests/1.0",
                         status_code=404)
    adapter.register_uri("POST", "https://mirror.example/v2/copy/blobs/uploads/",
                         status_code=202)  # (no Location)
    with pytest.raises(RegistryResponseError) as caught:
        src.repository("app").images.copy("1.0", dst.repository("copy"))
    assert str(caught.value).startswith(
        "upload to mirror.example/copy: the registry sent no Location"), str(caught.value)


def test_a_copied_blob_of_no_bytes_is_checked_before_it_is_put(
    mocked_registry: Callable[..., tuple[Registry, requests_mock.Adapter]],
) -> None:
    """A descriptor of size 0 whose digest is not that of no bytes: no block ever comes
    to be checked, so the empty content is checked when the source answers -- before the
    target is sent anything to commit."""
    src, adapter = mocked_registry(retries=0)
    dst = Registry("mirror.example", session=src.requester.session, retries=0, backoff=0.0)
    config, wrong = b"{}", "sha256:" + hashlib.sha256(b"layer").hexdigest()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": f"sha256:{hashlib.sha256(config).hexdigest()}", "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": wrong,
                    "size": 0}]}).encode()
    adapter.register_uri("GET", "https://registry.example/v2/app/manifests/1.0",
                         content=manifest,
                         headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    adapter.register_uri("GET", f"https://registry.example/v2/app/blobs/{wrong}", content=b"")
    adapter.register_uri("GET", f"https://registry.example/v2/app/blobs/sha256:"
                         f"{hashlib.sha256(config).hexdigest()}", content=config)
    # the config is at the target already: only the empty layer is relayed (requests-mock
    # reads no streamed body, so another relayed blob would end short, by a race first)
    adapter.register_uri("HEAD", f"https://mirror.example/v2/copy/blobs/{wrong}",
                         status_code=404)
    adapter.register_uri("HEAD", "https://mirror.example/v2/copy/blobs/sha256:"
                         f"{hashlib.sha256(config).hexdigest()}", status_code=200,
                         headers={"Content-Length": "2"})
    adapter.register_uri("HEAD", "https://mirror.example/v2/copy/manifests/1.0",
                         status_code=404)
    adapter.register_uri("POST", "https://mirror.example/v2/copy/blobs/uploads/",
                         status_code=202, headers={"Location": "/v2/copy/blobs/uploads/u1"})
    adapter.register_uri("PUT", requests_mock.ANY, status_code=201)
    adapter.register_uri("PATCH", requests_mock.ANY, status_code=202)
    adapter.register_uri("DELETE", requests_mock.ANY, status_code=204)
    with pytest.raises(DigestMismatchError, match=wrong):
        src.repository("app").images.copy("1.0", dst.repository("copy"))
    puts = [r for r in adapter.request_history
            if r.method == "PUT" and wrong.split(":")[1] in (r.url or "")]
    assert puts == []
