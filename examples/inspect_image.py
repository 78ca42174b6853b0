"""Show an image's digest, media type and platforms (from the index, or the config blob).

    python examples/inspect_image.py http://127.0.0.1:5000 demo/app 1.0
"""

import sys

from _common import connect

with connect(sys.argv[1]) as reg:
    image = reg.repository(sys.argv[2]).images.get_by_tag(sys.argv[3])
    print(f"{image.domain}/{image.repository}:{image.tag}")
    print(f"digest     {image.digest}")
    print(f"media type {image.media_type}")
    for p in image.platforms:
        print(f"platform   {p}  {p.digest}  {p.size} bytes")
