"""Credentials the way docker stores them: ``~/.docker/config.json`` and credential helpers."""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs

from ._log import log
from ._redact import REDACTED
from .auth import TokenAuthenticator
from .reference import DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, is_docker_hub

__all__ = ["DockerCredentials", "authenticator_for", "config_path", "credentials_for"]


DOCKER_HUB_KEY = f"https://{LEGACY_DEFAULT_DOMAIN}/v1/"


@attrs.frozen(repr=False)
class DockerCredentials:
    """A username with a password, or an identity token (an OAuth2 refresh token)."""

    username: str | None
    password: str | None = None
    identity_token: str | None = None

    def __repr__(self) -> str:
        return f"DockerCredentials(username={self.username!r}, secret={REDACTED})"


def config_path() -> Path:
    """Docker's config file: ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``."""
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _normalise(key: str) -> str:
    host = key.strip()
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix):]
    host = host.split("/", 1)[0].lower()
    return DEFAULT_DOMAIN if is_docker_hub(host) else host


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable docker config %s: %s", path, type(exc).__name__)
        return {}
    return doc if isinstance(doc, dict) else {}


def _from_helper(helper: str, domain: str) -> DockerCredentials | None:
    exe = shutil.which(f"docker-credential-{helper}")
    if exe is None:
        log.warning("docker credential helper docker-credential-%s not found", helper)
        return None
    server = DOCKER_HUB_KEY if domain == DEFAULT_DOMAIN else domain
    try:
        out = subprocess.run(
            [exe, "get"], input=server.encode(), capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("credential helper %s failed: %s", helper, type(exc).__name__)
        return None
    if out.returncode != 0:
        return None  # "credentials not found in native keychain"
    try:
        doc = json.loads(out.stdout)
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        log.warning("credential helper %s printed malformed JSON", helper)
        return None
    user, secret = doc.get("Username"), doc.get("Secret")
    if not isinstance(secret, str) or not secret:
        return None
    if user == "<token>":
        return DockerCredentials(username=None, identity_token=secret)
    if not isinstance(user, str) or not user:
        log.warning("credential helper %s gave a secret without a username: ignored", helper)
        return None
    return DockerCredentials(username=user, password=secret)


def _from_auths(auths: dict[str, Any], domain: str) -> DockerCredentials | None:
    for key, entry in auths.items():
        if _normalise(key) != domain or not isinstance(entry, dict):
            continue
        identity = entry.get("identitytoken")
        user, password = entry.get("username"), entry.get("password")
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:  # as docker does: strict base64 (line breaks ignored) of "user:password"
                compact = encoded.replace("\r", "").replace("\n", "")
                decoded = base64.b64decode(compact, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            if ":" not in decoded:
                log.warning("ignoring a malformed auth entry for %s in docker config", domain)
                continue
            user, _, password = decoded.partition(":")
        if isinstance(identity, str) and identity:
            return DockerCredentials(
                username=user if isinstance(user, str) else None, identity_token=identity
            )
        if isinstance(user, str) and isinstance(password, str):
            if not user:  # an authenticator refuses a password without a username
                log.warning("ignoring an auth entry without a username for %s in docker "
                            "config", domain)
                continue
            return DockerCredentials(username=user, password=password)
    return None


def credentials_for(domain: str, path: Path | None = None) -> DockerCredentials | None:
    """The credentials docker would use for ``domain``, or None (anonymous).

    Looks in ``credHelpers`` (per registry), then ``auths``, then ``credsStore``.
    """
    domain = _normalise(domain)
    doc = _load(path or config_path())
    helpers = doc.get("credHelpers")
    if isinstance(helpers, dict):
        for key, helper in helpers.items():
            if _normalise(key) == domain and isinstance(helper, str):
                return _from_helper(helper, domain)
    auths = doc.get("auths")
    if isinstance(auths, dict):
        found = _from_auths(auths, domain)
        if found is not None:
            return found
    store = doc.get("credsStore")
    if isinstance(store, str) and store:
        return _from_helper(store, domain)
    return None


def authenticator_for(domain: str, path: Path | None = None) -> TokenAuthenticator:
    """A TokenAuthenticator carrying docker's stored credentials for ``domain``."""
    creds = credentials_for(domain, path)
    if creds is None:
        return TokenAuthenticator()
    if creds.identity_token:
        return TokenAuthenticator(username=creds.username, refresh_token=creds.identity_token)
    return TokenAuthenticator(username=creds.username, password=creds.password)
