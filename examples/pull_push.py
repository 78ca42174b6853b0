"""Pull an image to an OCI layout directory, then push it back under another name.

    python examples/pull_push.py http://127.0.0.1:5000 demo/app 1.0 /tmp/layout demo/app-copy
"""

import sys

from _common import connect

registry, repository, tag, directory, target = sys.argv[1:6]
with connect(registry) as reg:
    pulled = reg.repository(repository).images.pull(tag, directory)
    print(f"pulled {pulled.digest} into {directory}")
    pushed = reg.repository(target).images.push(directory, tag)
    print(f"pushed {pushed.repository}:{pushed.tag} {pushed.digest}")
    print("same digest:", pulled.digest == pushed.digest)
