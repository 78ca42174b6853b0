"""Shared argument handling for the examples: a registry URL such as http://127.0.0.1:5000."""

from __future__ import annotations

from urllib.parse import urlsplit

from registry_client import Registry


def connect(url: str) -> Registry:
    """A Registry for ``http://host:port`` or ``https://host`` (anonymous)."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return Registry(parts.netloc, protocol=parts.scheme or "https")
