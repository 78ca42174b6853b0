"""A transfer called off cuts the connections its workers are blocked on."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest

from registry_client._calloff import CallOff, enter, watching


def _blocked_read(flag: CallOff | None, sock: socket.socket) -> Callable[[], float]:
    """Read ``sock`` in a thread working for ``flag`` (waiting on it); the returned
    function waits for the read to end and gives the seconds it took."""
    started, ended = threading.Event(), []

    def read() -> None:
        enter(flag)
        try:
            t0 = time.monotonic()
            with watching(sock):
                started.set()
                sock.recv(1)
            ended.append(time.monotonic() - t0)
        finally:
            enter(None)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert started.wait(5)

    def wait() -> float:
        thread.join(5)
        assert ended, "the read is still blocked"
        return ended[0]

    return wait


@pytest.mark.parametrize("through_parent", [False, True])
def test_a_call_off_cuts_the_read_a_worker_is_blocked_on(through_parent: bool) -> None:
    """Before, a worker blocked on a stalled registry noticed a Ctrl-C (or another
    blob's failure) only when the answer came or the read timeout ran out."""
    parent = CallOff()
    flag = CallOff(parent) if through_parent else parent
    ours, theirs = socket.socketpair()
    with ours, theirs:
        wait = _blocked_read(flag, ours)
        time.sleep(0.1)
        (parent if through_parent else flag).set()
        assert wait() < 2


def test_a_read_outside_a_transfer_is_never_cut() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        other = CallOff()
        wait = _blocked_read(None, ours)
        other.set()
        time.sleep(0.1)
        theirs.sendall(b"x")  # it was still waiting: it gets the byte
        assert wait() >= 0.1


def test_a_socket_watched_after_the_call_off_is_cut_at_once() -> None:
    flag = CallOff()
    flag.set()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        enter(flag)
        try:
            with watching(ours):
                assert ours.recv(1) == b""  # shut down: no wait
        finally:
            enter(None)


def test_a_socket_is_no_longer_watched_once_its_wait_ended() -> None:
    """A connection goes back to the pool, and another transfer may take it: a later
    call-off of the first one must not cut it."""
    flag = CallOff()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        enter(flag)
        try:
            with watching(ours):
                pass
        finally:
            enter(None)
        flag.set()
        theirs.sendall(b"x")
        assert ours.recv(1) == b"x"
