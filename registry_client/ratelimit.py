"""Docker Hub style rate-limit headers (``ratelimit-limit: 100;w=21600``), parsed."""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

__all__ = ["RateLimit", "parse_rate_limit"]

_VALUE_RE = re.compile(r"\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?", re.ASCII)


@attrs.frozen
class RateLimit:
    """The registry's pull budget: ``remaining`` of ``limit`` requests per ``window`` seconds."""

    limit: int
    remaining: int | None
    window: int | None
    source: str | None = None


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """A RateLimit from response headers, or None when they carry none (or garbage).

    Docker Hub sends ``ratelimit-limit``, ``ratelimit-remaining`` (``N;w=SECONDS``)
    and ``docker-ratelimit-source``.
    https://docs.docker.com/docker-hub/usage/pulls/
    """
    limit_header = headers.get("ratelimit-limit")
    if not limit_header:
        return None
    m = _VALUE_RE.match(limit_header[:100])
    if not m or not m.group(1).isascii():
        return None
    remaining = None
    rm = _VALUE_RE.match((headers.get("ratelimit-remaining") or "")[:100])
    if rm and rm.group(1).isascii():
        remaining = int(rm.group(1))
    window = int(m.group(2)) if m.group(2) and m.group(2).isascii() else None
    source = headers.get("docker-ratelimit-source")
    return RateLimit(limit=int(m.group(1)), remaining=remaining, window=window,
                     source=source[:200] if source else None)
