"""Copy an image (every platform) from one registry to another; digests stay the same.

    python examples/copy_between_registries.py \
        http://127.0.0.1:5000 http://127.0.0.1:5001 demo/app 1.0
"""

import sys

from _common import connect

source_url, target_url, repository, tag = sys.argv[1:5]
with connect(source_url) as source, connect(target_url) as target:
    image = source.repository(repository).images.copy(tag, target.repository(repository))
    print(f"copied to {image.domain}/{image.repository}:{image.tag} {image.digest}")
    print(f"bytes sent to the target: {target.requester.stats['bytes_sent']}")
