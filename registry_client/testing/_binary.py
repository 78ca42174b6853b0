"""Locating the registry binary and preparing its auth files."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Mapping

BINARY_ENV = "REGISTRY_CLIENT_REGISTRY_BINARY"
_BINARY_NAMES = ("docker-registry", "registry")
_INSTALL_HINT = (
    "The CNCF Distribution registry binary was not found. Install it with "
    "`apt-get install docker-registry` (the Makefile does this), or point the "
    f"{BINARY_ENV} environment variable at a `registry` binary."
)


def find_registry_binary(binary: str | os.PathLike[str] | None = None) -> str:
    """Return the path of the Distribution registry executable.

    Looks at ``binary`` if given, then ``$REGISTRY_CLIENT_REGISTRY_BINARY``, then
    ``docker-registry`` / ``registry`` on ``PATH``.  Raises :class:`RuntimeError` with
    installation instructions when nothing is found.
    """
    candidates = [os.fspath(binary)] if binary is not None else []
    if not candidates and os.environ.get(BINARY_ENV):
        candidates.append(os.environ[BINARY_ENV])
    if not candidates:
        candidates.extend(_BINARY_NAMES)
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    raise RuntimeError(f"{_INSTALL_HINT} (looked for: {', '.join(candidates)})")


def make_htpasswd(users: Mapping[str, str]) -> str:
    """htpasswd file content for ``users`` (bcrypt, as Distribution only accepts bcrypt)."""
    try:
        import bcrypt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "basic auth needs the 'bcrypt' package (pip install 'registry-client[testing]')"
        ) from exc
    salt = bcrypt.gensalt(rounds=4)  # the registry checks bcrypt on every request: keep it cheap
    lines = [f"{user}:{bcrypt.hashpw(pw.encode(), salt).decode()}" for user, pw in users.items()]
    return "\n".join(lines) + "\n"


def basic_header(user: str, password: str) -> str:
    """A Basic ``Authorization`` header value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
