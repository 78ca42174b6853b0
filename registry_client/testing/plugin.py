"""pytest fixtures running a real Distribution registry (loaded via the ``pytest11`` entry point).

Fixtures
--------
``local_registry`` (session)
    A started anonymous :class:`~registry_client.testing.LocalRegistry`.
``local_registry_factory`` (session)
    ``factory(auth="anonymous", **kwargs) -> LocalRegistry``: start a registry with any
    :class:`~registry_client.testing.LocalRegistry` options; every registry it started is
    stopped at the end of the session.
``unique_repository`` (function)
    A repository name unique to the test (``test/<test-name>-<n>``), so tests can share
    a session-scoped registry without seeing each other's data.

When the registry binary is missing the fixtures *fail* (they never skip) with a message
explaining how to install it (``apt-get install docker-registry``).

pytest loads this module in every project where registry_client is installed, so it
imports only the standard library and pytest: the registry machinery (requests, the
library, cryptography) is imported when a fixture first starts a registry. Turn the
plugin off with ``-p no:registry_client`` (or ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ._binary import find_registry_binary

if TYPE_CHECKING:
    from ._process import AuthMode, LocalRegistry

LocalRegistryFactory = Callable[..., "LocalRegistry"]

_counter = itertools.count(1)


def _start(auth: AuthMode, kwargs: dict[str, Any]) -> LocalRegistry:
    try:
        find_registry_binary(kwargs.get("binary"))
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    from ._process import LocalRegistry  # requests and the library: only once a test needs one

    return LocalRegistry(auth, **kwargs).start()


@pytest.fixture(scope="session")
def local_registry_factory() -> Iterator[LocalRegistryFactory]:
    """Session-scoped ``factory(auth="anonymous", **kwargs) -> LocalRegistry`` (started)."""
    started: list[LocalRegistry] = []

    def factory(auth: AuthMode = "anonymous", **kwargs: Any) -> LocalRegistry:
        registry = _start(auth, kwargs)
        started.append(registry)
        return registry

    try:
        yield factory
    finally:
        errors: list[BaseException] = []
        for registry in reversed(started):
            try:
                registry.stop()
            except Exception as exc:  # keep stopping the others
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture(scope="session")
def local_registry(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """A session-scoped, started, anonymous :class:`LocalRegistry`."""
    return local_registry_factory("anonymous")


@pytest.fixture
def unique_repository(request: pytest.FixtureRequest) -> str:
    """A valid repository name unique to this test, e.g. ``test/test-push-blob-7``."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60].strip("-")
    return f"test/{name or 'repo'}-{next(_counter)}"
