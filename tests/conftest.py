"""Shared fixtures: one real Distribution registry per auth mode (session-scoped).

The ``registry_client.testing`` pytest plugin (loaded through its entry point) provides
``local_registry``, ``local_registry_factory`` and ``unique_repository``; the fixtures
here build on it:

* ``anon_registry`` - no auth;
* ``basic_registry`` - htpasswd auth, users ``admin`` / ``alice``;
* ``token_registry`` - token auth, users ``admin`` (everything, incl. the catalog),
  ``alice`` (pull+push everywhere), ``reader`` (pull only); anonymous may pull;
* ``any_registry`` - parametrized over the three (ids ``anonymous``, ``basic``, ``token``).

Passwords are available as ``reg.users[name]``; ``reg.admin`` is ``(name, password)``.
"""

from __future__ import annotations

import pytest

from registry_client.testing import LocalRegistry, LocalRegistryFactory

BASIC_USERS = {"alice": "alice-secret"}
TOKEN_USERS = {"alice": "alice-secret", "reader": "reader-secret"}
TOKEN_GRANTS = {"reader": {"*": "pull"}}


@pytest.fixture(scope="session")
def anon_registry(local_registry: LocalRegistry) -> LocalRegistry:
    """The plugin's session-scoped anonymous registry."""
    return local_registry


@pytest.fixture(scope="session")
def basic_registry(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """A session-scoped registry with htpasswd (Basic) auth."""
    return local_registry_factory("basic", users=BASIC_USERS)


@pytest.fixture(scope="session")
def token_registry(local_registry_factory: LocalRegistryFactory) -> LocalRegistry:
    """A session-scoped registry with token auth and its own token server."""
    return local_registry_factory("token", users=TOKEN_USERS, grants=TOKEN_GRANTS)


@pytest.fixture(
    scope="session",
    params=["anonymous", "basic", "token"],
    ids=["anonymous", "basic", "token"],
)
def any_registry(request: pytest.FixtureRequest) -> LocalRegistry:
    """Each of ``anon_registry``, ``basic_registry`` and ``token_registry`` in turn."""
    name = {"anonymous": "anon_registry", "basic": "basic_registry", "token": "token_registry"}
    registry: LocalRegistry = request.getfixturevalue(name[request.param])
    return registry
