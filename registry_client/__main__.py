"""``python -m registry_client``: the ``registry-client`` command line."""

from __future__ import annotations

import sys

from registry_client.cli import main

if __name__ == "__main__":
    sys.exit(main())
