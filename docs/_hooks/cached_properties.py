"""MkDocs hook: the library's own ``cached_property`` documented as a property.

``registry_client._lazy.cached_property`` stands in for ``functools.cached_property``
(which, before Python 3.12, holds a lock that a fork can leave held). griffe, which
reads the code for mkdocstrings, knows only the standard library's by name, and would
list ``Repository.images`` and the other services as methods. This names ours beside
it, before the reference pages are collected.
"""

from __future__ import annotations

from typing import Any

import griffe

LAZY = "registry_client._lazy.cached_property"


def on_config(config: Any) -> Any:
    """Register the library's cached_property with griffe (as functools' is)."""
    griffe.stdlib_decorators[LAZY] = {"cached", "property"}
    return config
