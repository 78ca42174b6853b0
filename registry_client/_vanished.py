"""Tell a tag deleted since it was listed (a busy registry) from every other 404.

Between a tag list and the HEAD or GET of each tag, CI or a cleaner may delete a
tag: its manifest URL then answers 404 ``MANIFEST_UNKNOWN`` (a HEAD: 404, no body).
Paths that go "for each tag" leave such a tag out and report it. Everything else
keeps failing as before: a 404 for the repository (``NAME_UNKNOWN``), for a blob or
a child manifest, and every other status.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .errors import NotFoundError, RegistryError

__all__ = ["tag_vanished"]


def tag_vanished(exc: RegistryError, repository: str, tag: str) -> bool:
    """True when ``exc`` is the 404 of ``tag``'s own manifest in ``repository``.

    The URL must be ``.../v2/<repository>/manifests/<tag>``, so a 404 of a blob or
    of a child manifest (by digest) met while copying the tag is never taken for it.
    Any error code but ``NAME_UNKNOWN`` counts (``MANIFEST_UNKNOWN``; Harbor says
    ``NOT_FOUND``); a HEAD's 404 has none, so callers confirm it with one GET.
    """
    if not isinstance(exc, NotFoundError) or exc.status_code != 404:
        return False
    if "NAME_UNKNOWN" in exc.codes:
        return False  # the repository is gone, not one tag
    _, v2, rest = urlsplit(exc.url or "").path.partition("/v2/")
    return bool(v2) and rest == f"{repository}/manifests/{tag}"
