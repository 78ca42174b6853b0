"""``import httpx`` without httpx's command-line client.

httpx's ``__init__`` imports its CLI module (``httpx._main``: click, rich and pygments)
whenever those packages happen to be installed -- as they are beside FastAPI's or
Typer's CLIs. That is ~130 modules and ~45 ms of import that an asyncio registry client
never runs, and their objects stay on the heap: in a fresh process the first full
garbage collection then lands inside the application's first burst of requests (25 ms
in a gather of 200 manifest GETs). httpx has its own fallback for a CLI that cannot be
imported; this module has httpx take it, then puts back an ``httpx.main`` that imports
the real CLI when it is called. See encode/httpx#3547.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

_CLI = "httpx._main"

OLDEST = (0, 28)
"""The oldest httpx the asyncio flavour runs on (the ``async`` extra's floor)."""


def too_old(version: str) -> bool:
    """Whether httpx ``version`` ("0.23.0") is older than :data:`OLDEST` (a version that
    does not read as numbers is taken as new enough)."""
    numbers = []
    for part in version.split(".")[:2]:
        digits = "".join(c for c in part if c.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            return False
        numbers.append(int(digits))
    return tuple(numbers) < OLDEST


def import_httpx() -> ModuleType:
    """httpx, imported without ``httpx._main`` unless the application imported httpx or
    its CLI already (then nothing about it changes).

    Raises:
        ImportError: httpx is not installed.
    """
    if "httpx" in sys.modules or _CLI in sys.modules:
        import httpx  # already imported (or being imported by another thread): as it is

        return httpx
    # None in sys.modules makes `from ._main import main` an ImportError, which httpx
    # answers with its fallback `main`; only for the time of this import
    sys.modules[_CLI] = None  # type: ignore[assignment]
    try:
        import httpx  # here, with the stand-in in place
    finally:
        if _CLI in sys.modules and sys.modules[_CLI] is None:
            del sys.modules[_CLI]
    fallback = getattr(httpx, "main", None)
    if fallback is not None:  # an httpx with no CLI entry point has nothing to put back
        httpx.main = _cli_on_call(fallback)  # type: ignore[assignment]  # over httpx's fallback
    return httpx


def _cli_on_call(fallback: Callable[..., Any]) -> Callable[..., Any]:
    """An ``httpx.main`` that imports httpx's CLI when called and runs it, or runs httpx's
    ``fallback`` (its message that the CLI's packages are missing) when they are."""

    def main(*args: Any, **kwargs: Any) -> Any:
        try:
            from httpx._main import main as cli  # the CLI, only when it is run
        except ImportError:
            return fallback(*args, **kwargs)
        return cli(*args, **kwargs)

    main.__module__ = "httpx"
    main.__qualname__ = main.__name__ = "main"
    return main
