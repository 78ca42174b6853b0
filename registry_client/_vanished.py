"""Tell a tag deleted since it was listed (a busy registry) from every other 404.

Between a tag list and the HEAD or GET of each tag, CI or a cleaner may delete a
tag: its manifest URL then answers 404 ``MANIFEST_UNKNOWN`` (a HEAD: 404, no body).
Paths that go "for each tag" leave such a tag out and report it. Everything else
keeps failing as before: a 404 for the repository (``NAME_UNKNOWN``), for a blob or
a child manifest, every other status -- and every 404 of another registry (a
mirror's target) or of a write (a refused manifest PUT), even on the same path.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ._http import same_origin
from .errors import NotFoundError, RegistryError

__all__ = ["repository_gone", "tag_vanished"]

_READS = ("GET", "HEAD")


def _read_under(exc: RegistryError, base_url: str) -> str | None:
    """The ``/v2/`` path ``exc`` failed on, when it is a 404 of a GET/HEAD on ``base_url``."""
    if not isinstance(exc, NotFoundError) or exc.status_code != 404:
        return None
    if (exc.method or "").upper() not in _READS:
        return None
    url = exc.url or ""
    if not same_origin(url, base_url):
        return None
    path = urlsplit(url).path
    return path[len("/v2/"):] if path.startswith("/v2/") else None


def tag_vanished(exc: RegistryError, base_url: str, repository: str, reference: str) -> bool:
    """True when ``exc`` is the 404 of a read of ``reference``'s own manifest.

    Only a GET or HEAD of ``<base_url>/v2/<repository>/manifests/<reference>`` -- the
    source's read of that very tag (or digest) -- counts, so a 404 of a blob, of a
    child manifest, of another registry (a copy's target) or of a PUT met while
    copying the tag is never taken for it. Any error code but ``NAME_UNKNOWN``
    counts (``MANIFEST_UNKNOWN``; Harbor says ``NOT_FOUND``); a HEAD's 404 has none,
    so callers confirm it with one GET.
    """
    path = _read_under(exc, base_url)
    if path is None or "NAME_UNKNOWN" in exc.codes:
        return False  # (NAME_UNKNOWN: the repository is gone, not one tag)
    return path == f"{repository}/manifests/{reference}"


def repository_gone(exc: RegistryError, base_url: str, repository: str) -> bool:
    """True when ``exc`` says ``repository`` on ``base_url`` no longer exists.

    A 404 ``NAME_UNKNOWN`` answering a GET or HEAD of one of its manifests or blobs:
    the repository was deleted after its tag list was read.
    """
    path = _read_under(exc, base_url)
    if path is None or "NAME_UNKNOWN" not in exc.codes:
        return False
    rest = path[len(repository) + 1:] if path.startswith(f"{repository}/") else ""
    return rest.startswith(("manifests/", "blobs/"))
