"""Names a package loads on first use (PEP 562), written once for every package that does.

A package keeps a table ``{name: relative module}`` and gets its module-level
``__getattr__`` and ``__dir__`` from :func:`lazy_names`, so ``import registry_client``
stays cheap while ``from registry_client import Registry`` (or ``dir()``, or a type
checker reading the ``TYPE_CHECKING`` imports) sees every name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, table: Mapping[str, str], namespace: dict[str, Any],
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` whose globals are ``namespace``.

    ``__getattr__`` imports the module ``table`` names for an attribute, caches the value
    in ``namespace`` (so it is looked up once) and raises ``AttributeError`` for any other
    name; ``__dir__`` lists the loaded names and the package's ``__all__``.
    """

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
