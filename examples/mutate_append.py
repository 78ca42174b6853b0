"""Package a directory onto a base image, set its entrypoint, and export the result.

    python examples/mutate_append.py http://127.0.0.1:5000 demo/app base ./site 1.0 rootfs.tar

No Docker daemon: the directory becomes one layer (packed reproducibly, so the same
directory gives the same digest every time), the config gets a label and an
entrypoint, and the image's whole file system is written to a tar.
"""

import sys

from _common import connect

from registry_client import mutate

url, repository, base, directory, tag, rootfs = sys.argv[1:7]
with connect(url) as reg:
    repo = reg.repository(repository)
    built = mutate.append(repo, base, [directory], tag=tag)
    print(f"appended  {built.reference}")
    again = mutate.append(repo, base, [directory], tag=tag)
    print(f"reproducible: {again.digest == built.digest}")
    image = mutate.config(repo, tag, tag=tag, labels={"org.opencontainers.image.title": "site"},
                          entrypoint=["/bin/sh", "-c", "cat /site/index.html"])
    print(f"configured {image.reference}")
    path = repo.images.export(tag, rootfs)
    print(f"exported  {path}")
