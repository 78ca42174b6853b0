"""The upload sessions of one repository, as flows: open one, send on it, cancel it, and
the state file a crash-safe upload keeps its session in."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .._flow import Endpoint, Flow, Offload
from .._json import loads
from .._request import Body
from .._response import Response
from ._base import Service

_RANGE_RE = re.compile(r"(?:bytes=)?0-(-?\d+)\Z", re.ASCII)


class UploadSessions(Service):
    """Requests on the upload sessions (``/v2/<name>/blobs/uploads/``) of one repository.

    ``present(digest)`` says whether the repository has a blob (a HEAD asking for the
    push scope): the owner of the blobs answers it, as it answers ``exists``.
    """

    def __init__(
        self, requester: Endpoint, repository: str, *, present: Callable[[str], Flow[bool]]
    ) -> None:
        super().__init__(requester, repository)
        self._present = present

    def present(self, digest: str) -> Flow[bool]:
        """True when the repository has the blob ``digest``."""
        return self._present(digest)

    def start(self, operation: str) -> Flow[Response]:
        """POST a new upload session (retried like an idempotent request: an unused
        session costs nothing); its ``Location`` is in the answer."""
        return self._call(
            "POST", "blobs/uploads/", actions="pull,push", expected=(202,),
            operation=operation, idempotent=True,
        )

    def send(
        self, method: str, url: str, *, operation: str, expected: Iterable[int],
        params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
        data: Body | None = None, idempotent: bool | None = None,
        retry_connection_errors: bool = True,
    ) -> Flow[Response]:
        """Send a request on a session URL (resolved against the registry, push scope):
        a chunk's PATCH (not idempotent), the final PUT, a status GET."""
        return self._call(
            method, self._endpoint.resolve(url), actions="pull,push", absolute=True,
            operation=operation, expected=expected, params=params, headers=headers,
            data=data, idempotent=idempotent, retry_connection_errors=retry_connection_errors,
        )

    def cancel(self, location: str) -> Flow[None]:
        """Cancel an upload session: best effort, one short try (no retries)."""
        try:
            yield from self._call(
                "DELETE", location, actions="pull,push",
                operation="cancel upload", expected=(200, 202, 204, 404), absolute=True,
                idempotent=False, retry_connection_errors=False, timeout=(2, 2),
            )
        except Exception:
            pass

    def saved_session(self, path: Path) -> Flow[tuple[dict[str, Any], str] | None]:
        """The state a crash-safe upload saved at ``path`` and its session URL on this
        registry; None when there is no such file, it is unreadable, or it names another
        host."""
        doc = yield Offload(functools.partial(_read_state, path))
        location = doc.get("location") if isinstance(doc, dict) else None
        if not isinstance(location, str):
            return None
        url = self._endpoint.resolve(location)
        return (doc, url) if self._endpoint.same_origin(url) else None

    def forget_state(self, state_file: str | os.PathLike[str]) -> Flow[None]:
        """Remove a crash-resume state file, cancelling the upload session it saved."""
        path = Path(state_file)
        saved = yield from self.saved_session(path)
        if saved is not None:
            yield from self.cancel(saved[1])
        yield Offload(functools.partial(path.unlink, missing_ok=True))


def _read_state(path: Path) -> Any:
    """The JSON document at ``path``; None when it is missing or unreadable."""
    try:
        return loads(path.read_text())
    except (OSError, ValueError):
        return None


def range_end(resp: Response) -> int | None:
    """``N`` of an upload answer's ``Range: 0-N`` (the last byte the registry holds);
    None when the header is absent or unusable."""
    m = _RANGE_RE.match((resp.headers.get("Range") or "").strip())
    return int(m.group(1)) if m else None


def kept_end(resp: Response, sent_from: int, end: int) -> int | None:
    """Where a PATCH answer's ``Range: 0-N`` says the registry's copy ends, when that is
    inside the bytes just sent (it kept only part of them); None when it kept them all,
    or the header is absent, unusable or ambiguous (``0-0``: some registries answer it
    whatever they hold, so it never triggers a re-send)."""
    last = range_end(resp)
    if last is None or last <= 0 or not sent_from <= last + 1 < end:
        return None
    return last + 1
