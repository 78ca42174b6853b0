"""The library's one logger, ``registry_client``; silent unless the application configures logging.

A library never prints: without a handler of the application's, records go to a
NullHandler instead of Python's last-resort stderr handler.
"""

from __future__ import annotations

import logging

log = logging.getLogger("registry_client")
log.addHandler(logging.NullHandler())
