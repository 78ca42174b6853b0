"""The blocking shell: performs a flow's effects with ``requests`` and threads."""

from __future__ import annotations

from typing import Any

import urllib3.exceptions

from .._calloff import check_cancelled
from .._flow import Call, Drain, Effect, Exclusive, Gather, Offload, Sleep, run, run_exclusive
from .._http import BodyReading, connection_failure, failure_cause
from ..requester import Requester
from ._schedule import parallel, transfer

__all__ = ["BlockingShell"]

# What reading a body on the wire raises when the connection breaks.
READ_ERRORS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
    OSError,
)


class BlockingShell:
    """Runs effects for the blocking API: requests through the Requester, blocks read in
    the calling thread, :class:`~registry_client._flow.Gather` on a thread pool."""

    __slots__ = ("_requester",)

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    def perform(self, effect: Effect) -> Any:
        """Do what ``effect`` asks (see :mod:`registry_client._flow`)."""
        if isinstance(effect, Call):
            return self._sender(effect).send_request(effect.request)
        if isinstance(effect, Drain):
            return self._drain(effect)
        if isinstance(effect, Offload):
            return effect.fn()
        if isinstance(effect, Sleep):
            self._requester.sleep(effect.seconds)  # in slices: Ctrl-C stops a transfer's
            return None
        if isinstance(effect, Exclusive):
            return run_exclusive(effect, self)
        if isinstance(effect, Gather):
            def one(factory: Any) -> Any:
                return run(factory(), self)
            if effect.transfer:
                transfer(one, effect.flows, effect.workers)
                return [None] * len(effect.flows)
            return parallel(one, effect.flows, effect.workers)
        raise TypeError(f"not an effect: {effect!r}")

    def _sender(self, effect: Call) -> Requester:
        """The requester ``effect`` goes through: its endpoint's, else this shell's."""
        endpoint = effect.endpoint
        if endpoint is None:
            return self._requester
        if not isinstance(endpoint, Requester):
            raise TypeError("a blocking call to an asyncio registry: copy between "
                            "repositories of the same flavour of the API")
        return endpoint

    def _drain(self, effect: Drain) -> int:
        resp, sink, lend = effect.response, effect.sink, effect.lend
        reading = BodyReading(effect.block_size, effect.limit)
        while want := reading.want():
            block: bytes | memoryview
            try:
                if lend is None:
                    block = resp.read1(want)
                else:  # straight from the socket into the hasher's buffer (see Drain)
                    view = memoryview(lend(want))[:want]
                    block = view[:resp.readinto(view)]
            except READ_ERRORS as exc:
                raise reading.broken(connection_failure(exc)[1]) from failure_cause(exc)
            if not block:
                break
            reading.took(len(block))
            self._requester.count_received(len(block))
            sink(block)  # type: ignore[arg-type]  # a memoryview reads as bytes do
            check_cancelled()
        return reading.total
