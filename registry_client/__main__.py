"""``python -m registry_client``: the ``registry-client`` command line."""

from __future__ import annotations

from registry_client.cli import run

if __name__ == "__main__":
    run()
