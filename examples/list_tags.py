"""List every tag of a repository, page by page (the Link header is followed as given).

    python examples/list_tags.py http://127.0.0.1:5000 demo/app [page_size]
"""

import sys

from _common import connect

registry, repository = sys.argv[1], sys.argv[2]
page_size = int(sys.argv[3]) if len(sys.argv) > 3 else None
with connect(registry) as reg:
    repo = reg.repository(repository)
    first = repo.tags.list(n=page_size)
    print(f"first page: {len(first.tags)} tags, more follow: {first.last is not None}")
    for tag in repo.tags.iter(page_size=page_size):
        print(tag)
