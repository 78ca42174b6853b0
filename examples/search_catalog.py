"""Search the registry's catalog for repositories whose name contains a word.

    python examples/search_catalog.py http://127.0.0.1:5000 demo
"""

import sys

from _common import connect

with connect(sys.argv[1]) as reg:
    for name in reg.search(sys.argv[2]):
        print(name)
