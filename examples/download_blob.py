"""Download an image's largest layer to a file: streamed, verified, written atomically.

    python examples/download_blob.py http://127.0.0.1:5000 demo/app 1.0 out.bin
"""

import sys

from _common import connect

from registry_client import ManifestList, OCIIndex

with connect(sys.argv[1]) as reg:
    repo = reg.repository(sys.argv[2])
    manifest = repo.manifests.get(sys.argv[3])
    if isinstance(manifest, ManifestList | OCIIndex):
        manifest = repo.manifests.get(manifest.manifests[0].digest)
    assert not isinstance(manifest, ManifestList | OCIIndex)
    layer = max(manifest.layers, key=lambda d: d.size)
    path = repo.blobs.download(layer.digest, sys.argv[4])
    print(f"{layer.digest} -> {path} ({path.stat().st_size} bytes, verified)")
