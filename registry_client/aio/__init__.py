"""The asyncio flavour of the API: ``AsyncRegistry`` on the same protocol core (httpx).

Install it with ``pip install 'registry-client[async]'``::

    from registry_client.aio import AsyncRegistry

    async with AsyncRegistry("localhost:5000", protocol="http") as reg:
        repo = reg.repository("app")
        manifest = await repo.manifests.get("1.0")
        async for tag in repo.tags.iter():
            ...
        async for other in reg.repositories():   # or: await reg.repositories()
            ...

The object model, method names, arguments, results and errors are the blocking
API's; every request and every protocol decision is the same code, run by an
asyncio shell (httpx, tasks) instead of the blocking one.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._httpx import OLDEST, import_httpx, too_old

try:
    _httpx = import_httpx()  # the extra this package needs, asked for once, here (no CLI)
except ImportError as exc:  # pragma: no cover - the async extra is missing
    raise ImportError(
        "registry_client.aio needs httpx: pip install 'registry-client[async]'"
    ) from exc
if too_old(str(getattr(_httpx, "__version__", ""))):  # (one installed for something else)
    raise ImportError(
        f"registry_client.aio needs httpx>={'.'.join(map(str, OLDEST))}, not "
        f"{_httpx.__version__}: pip install -U 'registry-client[async]'")
del _httpx

if TYPE_CHECKING:
    from . import retention, sync
    from ._blobs import AsyncBlobService
    from ._images import AsyncImageService
    from ._listing import Listing
    from ._manifests import AsyncManifestService
    from ._registry import AsyncRegistry, AsyncRegistryOptions
    from ._repository import AsyncRepository
    from ._tags import AsyncTagService

__all__ = [
    "AsyncBlobService",
    "AsyncImageService",
    "AsyncManifestService",
    "AsyncRegistry",
    "AsyncRegistryOptions",
    "AsyncRepository",
    "AsyncTagService",
    "Listing",
    "retention",
    "sync",
]

_WHERE = {
    "AsyncBlobService": "._blobs",
    "AsyncImageService": "._images",
    "AsyncManifestService": "._manifests",
    "AsyncRegistry": "._registry",
    "AsyncRegistryOptions": "._registry",
    "AsyncRepository": "._repository",
    "AsyncTagService": "._tags",
    "Listing": "._listing",
}
_MODULES = {"retention", "sync"}  # the asyncio workflows over many images: imported when asked for


def __getattr__(name: str) -> Any:
    """The public names, imported when first asked for."""
    if name in _MODULES:
        module = import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
