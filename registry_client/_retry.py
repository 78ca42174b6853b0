"""One retry policy: which answers are tried again, how often, and how long to wait between.

Every loop that sends a request again asks a :class:`RetryPolicy`: registry
requests (:meth:`Requester.send <registry_client.requester.Requester.send>`),
token requests, and the chunk PATCHes of a blob upload. Where they differ, the
difference is written below as data, with its reason.
"""

from __future__ import annotations

import random
from typing import NamedTuple

__all__ = ["CHUNK_POLICY", "REGISTRY_POLICY", "TOKEN_POLICY", "RetryPolicy"]


class RetryPolicy(NamedTuple):
    """When to try a request again and how long to wait first.

    Attributes:
        statuses: answer statuses worth another try (connection failures are decided
            by the caller, which knows whether the request can have been acted on).
        retries: tries after the first one (``Registry(retries=)``).
        backoff: the first wait, in seconds; it doubles with each retry
            (``Registry(backoff=)``).
        max_backoff: the longest wait, ``Retry-After`` included (``Registry(max_backoff=)``).
        jitter: the random share of each backoff wait (0.5: between half and all of
            it), so that workers refused together do not all come back together.
    """

    statuses: frozenset[int]
    retries: int = 3
    backoff: float = 0.25
    max_backoff: float = 30.0
    jitter: float = 0.5

    def with_statuses(self, *statuses: int) -> RetryPolicy:
        """This policy, also retrying ``statuses``."""
        return self._replace(statuses=self.statuses | frozenset(statuses))

    def tuned(self, *, retries: int, backoff: float, max_backoff: float) -> RetryPolicy:
        """This policy with a registry's own ``retries``, ``backoff`` and ``max_backoff``."""
        return self._replace(retries=max(0, int(retries)), backoff=backoff,
                             max_backoff=max_backoff)

    def should_retry(self, attempt: int, status: int | None = None) -> bool:
        """True when try number ``attempt`` (0: the first) may be followed by another.

        With ``status``: only when that answer is one of :attr:`statuses`; without,
        the question is only whether retries are left (a connection failure).
        """
        return attempt < self.retries and (status is None or status in self.statuses)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``.

        The server's ``Retry-After`` (in seconds) when it sent one, else exponential
        backoff with jitter: never more than :attr:`max_backoff` either way.
        """
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_backoff))
        wait = min(self.max_backoff, self.backoff * float(2**attempt))
        fixed = wait * (1 - self.jitter)
        return fixed + random.uniform(0, wait - fixed)


REGISTRY_POLICY = RetryPolicy(statuses=frozenset({429, 502, 503, 504}))
"""Registry requests: rate limited (429) or a gateway / registry briefly unavailable.

A registry's 500 is not here: it is usually a bug that the same request hits again,
and a caller that knows better passes ``retry_if`` to :meth:`Requester.send`."""

TOKEN_POLICY = REGISTRY_POLICY.with_statuses(500)
"""Token requests: also 500, which token servers (Docker Hub's, Harbor's) answer under
load; asking for a token changes nothing, so asking again is always safe."""

CHUNK_POLICY = REGISTRY_POLICY.with_statuses(500, 416)
"""Blob-upload chunk PATCHes: also 500, and 416 (the registry holds another offset than
the chunk starts at). A failed PATCH is never sent again blindly: the upload asks the
registry where it stands first and sends only the bytes it lacks, so every answer the
session may survive is worth that question."""
