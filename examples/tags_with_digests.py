"""Map every tag of a repository to its manifest digest (one HEAD per tag, in parallel).

    python examples/tags_with_digests.py http://127.0.0.1:5000 demo/app
"""

import sys

from _common import connect

with connect(sys.argv[1]) as reg:
    for tag, digest in sorted(reg.repository(sys.argv[2]).tags.get_all(with_digests=True).items()):
        print(f"{tag}\t{digest}")
