"""Give an image a new tag without moving any blob (the manifest is re-put as is).

    python examples/retag.py http://127.0.0.1:5000 demo/app 1.0 stable
"""

import sys

from _common import connect

with connect(sys.argv[1]) as reg:
    image = reg.repository(sys.argv[2]).images.retag(sys.argv[3], sys.argv[4])
    print(f"{image.repository}:{image.tag} -> {image.digest}")
