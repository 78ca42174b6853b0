"""The client's own record of an upload that stopped early: a helper of the reliability tests.

Imported after putting this folder on ``sys.path`` (the tests folder is not a package).

:attr:`FaultProxy.requests` lists requests in the order the proxy's connection threads
read their heads, one thread per connection. When the client stops a request midway (a
copy whose source turns out corrupt stops its PUT before the last block), the bytes it
did send can wait in the socket while the client cancels the session on a new
connection and returns: the proxy may then list that PUT after the DELETE, or not yet
at all. So what the client sent, and in which order, is read from the client itself
(:class:`RecordingShell`); the proxy and the registry's access log are only asked what
can no longer change once the operation returned (no PUT got through; the cancel came).

* :class:`RecordingShell` - the blocking shell, keeping each request a flow sends.
* :func:`cancelled_session` - the session of the one PUT of a blob, cancelled after it.
* :func:`puts_that_got_through` - the proxy's PUTs on a session that reached the
  registry whole or were answered 201.
* :func:`cancel_statuses` - the registry's answers to the DELETEs of a session.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from registry_client._flow import Call
from registry_client._request import Request
from registry_client.requester import Requester
from registry_client.services._shell import BlockingShell
from registry_client.testing import FaultProxy, LocalRegistry

__all__ = ["RecordingShell", "cancel_statuses", "cancelled_session", "puts_that_got_through"]


class RecordingShell(BlockingShell):
    """The blocking shell, noting each request as the flow sends it (``sent``), in the
    flow's own order (parallel flows of one Gather interleave, each in its order)."""

    __slots__ = ("sent",)

    def __init__(self, requester: Requester) -> None:
        super().__init__(requester)
        self.sent: list[Request] = []

    def perform(self, effect: Any) -> Any:
        if isinstance(effect, Call):
            self.sent.append(effect.request)  # list.append: safe from Gather's threads
        return super().perform(effect)


def cancelled_session(sent: list[Request], digest: str) -> str:
    """The session (``Location``) of the one PUT of ``digest`` in ``sent``, checking that
    the client cancelled that session after the PUT and sent it nothing else."""
    puts = [i for i, r in enumerate(sent)
            if r.method == "PUT" and (r.params or {}).get("digest") == digest]
    assert len(puts) == 1, [(r.method, r.target) for r in sent]
    session = sent[puts[0]].target
    after = [r.method for r in sent[puts[0] + 1:] if r.target == session]
    assert after == ["DELETE"], after
    return session


def puts_that_got_through(proxy: FaultProxy, session: str, size: int) -> list[Any]:
    """The PUTs on ``session`` the proxy passed on whole (``size`` bytes) or that were
    answered 201: a registry can commit only such a PUT. (A PUT the proxy has not read
    yet cannot become one: the bytes the client did not send never come.)"""
    path = urlsplit(session).path
    return [r for r in proxy.requests
            if r.method == "PUT" and urlsplit(r.path).path == path
            and (r.request_bytes >= size or r.status == 201)]


def cancel_statuses(registry: LocalRegistry, session: str) -> list[int]:
    """The registry's answers to the DELETEs of ``session``, from its access log: ``[204]``,
    or ``[404]`` when a stopped PUT reached it first (Distribution then drops the session
    itself, BLOB_UPLOAD_INVALID)."""
    path = urlsplit(session).path
    return [e.status for e in registry.access_log_entries()
            if e.method == "DELETE" and e.path == path]
