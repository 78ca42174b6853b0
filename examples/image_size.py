"""Total size of an image from its manifest(s): config plus layers, per platform.

    python examples/image_size.py http://127.0.0.1:5000 demo/app 1.0
"""

import sys

from _common import connect

from registry_client import ManifestList, OCIIndex

with connect(sys.argv[1]) as reg:
    repo = reg.repository(sys.argv[2])
    top = repo.manifests.get(sys.argv[3])
    children = (
        [(str(d.platform), repo.manifests.get(d.digest)) for d in top.manifests]
        if isinstance(top, ManifestList | OCIIndex) else [("", top)]
    )
    for platform, manifest in children:
        assert not isinstance(manifest, ManifestList | OCIIndex)
        size = manifest.config.size + sum(layer.size for layer in manifest.layers)
        print(f"{platform or 'image'}: {size} bytes in {len(manifest.layers)} layer(s)")
