"""The asyncio flavour's real-registry tests run on asyncio (anyio's pytest plugin).

The registries (``anon_registry``, ``token_registry``, ``reg``, ``rc``...) come from the
conftest files above; ``aclient_for(reg, **kw)`` makes an ``AsyncRegistry`` of one (as its
admin, like ``client_of``) to use with ``async with``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _flavours import admin_authenticator

from registry_client.testing import LocalRegistry


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio, the loop the library supports."""
    return "asyncio"


@pytest.fixture
def aclient_for() -> Callable[..., Any]:
    """``aclient_for(reg, *, host=None, **kw)``: an ``AsyncRegistry`` of ``reg`` (or of a proxy
    ``host`` in front of it) as its admin; enter it with ``async with``."""
    def make(reg: LocalRegistry, *, host: str | None = None, **kw: Any) -> Any:
        from registry_client.aio import AsyncRegistry

        kw.setdefault("authenticator", admin_authenticator(reg))
        return AsyncRegistry(host or reg.host, protocol="http", **kw)

    return make
