"""What is made on first use, written once: the names a package loads then (PEP 562),
and the attributes an object computes then (:class:`cached_property`).

A package keeps a table ``{name: relative module}`` and gets its module-level
``__getattr__`` and ``__dir__`` from :func:`lazy_names`, so ``import registry_client``
stays cheap while ``from registry_client import Registry`` (or ``dir()``, or a type
checker reading the ``TYPE_CHECKING`` imports) sees every name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, overload

__all__ = ["cached_property", "lazy_names"]

_T = TypeVar("_T")


class cached_property(Generic[_T]):  # (functools' name, in its place)
    """``functools.cached_property`` without its lock, as Python 3.12 made it.

    Before 3.12 it holds one lock per class attribute while it computes: every
    instance's first read waits for every other's, and a process forked while a thread
    was inside one (``repo.images``) has that lock held for good -- the child's first
    read of it, on any instance, waits for ever. Here two threads that read it first at
    once may each compute it; the last one's value stays.
    """

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached_property[_T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...

    def __get__(self, instance: object | None,
                owner: type | None = None) -> _T | cached_property[_T]:
        if instance is None:
            return self
        value = self.func(instance)
        # (the next reads find it there: this descriptor defines no __set__)
        instance.__dict__[self.name] = value
        return value


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
