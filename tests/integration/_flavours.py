"""One scenario, both flavours of the API: the blocking ``Registry`` and ``AsyncRegistry``.

Issue #14 wants the integration scenarios proven against both flavours by one
parametrised fixture. A scenario is written once, in the blocking style every other
test here uses::

    def test_get(flavour: Flavour, reg: LocalRegistry) -> None:
        client = flavour.connect(reg)                 # Registry, or AsyncRegistry behind a view
        raw = client.repository("app").manifests.get_raw("1.0")

With the ``"blocking"`` flavour ``connect`` returns a plain :class:`Registry`. With the
``"asyncio"`` flavour it returns a :class:`BlockingView` of an ``AsyncRegistry`` that
lives on an event loop in a background thread (an anyio blocking portal): every method
call is made *on the loop* and, when it gives an awaitable, awaited there; an async
iterator (``async for r in reg.repositories()``) is read to the end into a list.
Objects of ``registry_client.aio`` that come back (an ``AsyncRepository``, its
services) are wrapped in views too, and views passed as arguments (``copy``'s target)
are unwrapped, so ``images.copy("1.0", other_view)`` hands the ``AsyncRepository`` over.

Exceptions come back from the loop unchanged (type, message, ``__cause__``), so
``pytest.raises(NotFoundError, match=...)`` means the same for both flavours. Progress
callbacks are called on the loop's thread.

What the view cannot show -- tasks, cancellation, gather, loop responsiveness -- is
tested with real coroutines in ``tests/integration/aio/``.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from registry_client import (
    Authenticator,
    BasicAuthenticator,
    Registry,
    TokenAuthenticator,
)
from registry_client.testing import LocalRegistry

FLAVOURS = ("blocking", "asyncio")


def admin_authenticator(reg: LocalRegistry) -> Authenticator | None:
    """What ``client_of`` uses: the admin in basic/token mode, anonymous otherwise."""
    if reg.admin is None:
        return None
    user, password = reg.admin
    if reg.auth == "token":
        return TokenAuthenticator(user, password)
    return BasicAuthenticator(user, password)


def _is_aio(value: Any) -> bool:
    return type(value).__module__.startswith("registry_client.aio")


def _unwrap(value: Any) -> Any:
    if isinstance(value, BlockingView):
        return value._target
    if isinstance(value, list | tuple):
        return type(value)(_unwrap(v) for v in value)
    return value


class BlockingView:
    """A blocking face of an object of ``registry_client.aio``, driven through a portal."""

    __slots__ = ("_portal", "_target")

    def __init__(self, target: Any, portal: Any) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_portal", portal)

    def __repr__(self) -> str:
        return f"BlockingView({self._target!r})"

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if callable(value) and not isinstance(value, type) and not _is_aio(value):
            return functools.wraps(value)(functools.partial(self._call, value))
        return self._wrap(value)

    def __eq__(self, other: object) -> bool:
        return bool(self._target == _unwrap(other))

    def __hash__(self) -> int:
        return hash(self._target)

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        call = functools.partial(_invoke, method, _unwrap(args), _unwrap(dict(kwargs)))
        return self._wrap(self._portal.call(call))

    def _wrap(self, value: Any) -> Any:
        if _is_aio(value):
            return BlockingView(value, self._portal)
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        return value


async def _invoke(method: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> Any:
    """Call ``method`` on the loop; await what it gives, read an async iterator out."""
    result = method(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, AsyncIterator):
        result = [item async for item in result]
    return result


class Flavour(abc.ABC):
    """A way of using the API: ``connect(reg)`` gives a registry client of that flavour."""

    name: str

    @abc.abstractmethod
    def connect(self, reg: LocalRegistry, *, host: str | None = None, **kw: Any) -> Any:
        """A client of ``reg`` (or of a proxy ``host`` in front of it), as its admin.

        ``kw`` are options of :class:`Registry` (the same for both flavours); it is
        closed when the test ends.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Close every client this flavour made."""

    def __repr__(self) -> str:
        return f"<flavour {self.name}>"


class BlockingFlavour(Flavour):
    """The blocking API itself: ``connect`` returns a :class:`Registry`."""

    name = "blocking"

    def __init__(self) -> None:
        self._made: list[Registry] = []

    def connect(self, reg: LocalRegistry, *, host: str | None = None, **kw: Any) -> Any:
        kw.setdefault("authenticator", admin_authenticator(reg))
        client = Registry(host or reg.host, protocol="http", **kw)
        self._made.append(client)
        return client

    def close(self) -> None:
        for client in reversed(self._made):
            client.close()


class AsyncioFlavour(Flavour):
    """``AsyncRegistry`` on an event loop in a background thread, behind a BlockingView."""

    name = "asyncio"

    def __init__(self) -> None:
        from anyio.from_thread import start_blocking_portal

        self._stack = contextlib.ExitStack()
        self.portal = self._stack.enter_context(start_blocking_portal("asyncio"))
        self._made: list[Any] = []

    def connect(self, reg: LocalRegistry, *, host: str | None = None, **kw: Any) -> Any:
        from registry_client.aio import AsyncRegistry  # the extra: only this flavour needs it

        kw.setdefault("authenticator", admin_authenticator(reg))

        async def open_client() -> Any:
            client = AsyncRegistry(host or reg.host, protocol="http", **kw)
            return await client.__aenter__()

        client = self.portal.call(open_client)
        self._made.append(client)
        return BlockingView(client, self.portal)

    def close(self) -> None:
        try:
            for client in reversed(self._made):
                self.portal.call(client.__aexit__, None, None, None)
        finally:
            self._stack.close()


@contextlib.contextmanager
def open_flavour(name: str) -> Iterator[Flavour]:
    """The flavour called ``name`` ("blocking" or "asyncio"), closed on exit."""
    flavour: Flavour = BlockingFlavour() if name == "blocking" else AsyncioFlavour()
    try:
        yield flavour
    finally:
        flavour.close()
