"""Delete one tag (other tags of the same image stay), or a whole manifest by digest.

    python examples/delete.py http://127.0.0.1:5000 demo/app stable
    python examples/delete.py http://127.0.0.1:5000 demo/app sha256:...
"""

import sys

from _common import connect

with connect(sys.argv[1]) as reg:
    repo = reg.repository(sys.argv[2])
    what = sys.argv[3]
    if what.startswith("sha256:"):
        repo.images.delete_by_digest(what)
        print(f"deleted manifest {what} and every tag on it")
    else:
        repo.tags.delete(what)
        print(f"deleted tag {what}; remaining tags: {repo.tags.get_all()}")
