"""images.push of an archive through a requests-mock registry: errors name the archive."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import requests_mock

from registry_client import LayoutError, Registry

MockedRegistry = tuple[Registry, requests_mock.Adapter]


def oci_archive(path: Path, index: bytes) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
                           "index.json": index}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())


@pytest.mark.parametrize("index", [
    {"schemaVersion": 2, "manifests": "none"},
    {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + "1" * 64, "size": 10,
        "annotations": {"org.opencontainers.image.ref.name": "1.0"}}]},
])
def test_errors_of_an_oci_archive_name_the_archive_not_the_temp_folder(
    mocked_registry: Callable[..., MockedRegistry], tmp_path: Path, index: object
) -> None:
    reg, adapter = mocked_registry()
    adapter.register_uri(requests_mock.ANY, requests_mock.ANY, status_code=404)
    archive = tmp_path / "bad-oci.tar"
    oci_archive(archive, json.dumps(index).encode())
    with pytest.raises(LayoutError) as info:
        reg.repository("app").images.push(archive, "1.0")
    assert str(info.value).startswith(f"{archive}: ")
    assert not re.search("registry-client-push", str(info.value))
