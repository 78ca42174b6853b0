"""TagPage: one page of a repository's tag list (apart, so listing tags stays light)."""

from __future__ import annotations

import attrs

__all__ = ["TagPage"]


@attrs.frozen
class TagPage:
    """One page of a repository's tags.

    ``last`` is the value to pass as ``last=`` to get the next page, or None
    when this is the final page.
    """

    name: str
    tags: list[str] = attrs.field(hash=False)
    last: str | None = None
