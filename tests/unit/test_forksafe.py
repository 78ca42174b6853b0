"""_forksafe: the locks of objects that outlive os.fork() are made anew in the child."""

from __future__ import annotations

import os
import threading
import time

import pytest

from registry_client import BasicAuthenticator, Registry, TokenAuthenticator
from registry_client._exchange import LockTable

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork: POSIX only")


def _exits_soon(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return False


def test_locks_a_thread_held_at_the_fork_are_free_in_the_child() -> None:
    """A thread of the parent inside a token fetch (its key's lock, the table's guard)
    or counting a request at the fork: the child inherited those locks held by nobody,
    and its first request waited on them for ever."""
    token, basic = TokenAuthenticator("u", "p"), BasicAuthenticator("u", "p")
    reg = Registry("registry.example", authenticator=token)
    table = token._key_locks
    key_lock = table.lock("key", threading.Lock)
    endpoint = reg.requester
    held = [table._guard, key_lock, token._lock, basic._lock, endpoint._stats_lock,
            endpoint._pause_lock, endpoint.locks._guard]
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        for lock in held:
            lock.acquire()
        holding.set()
        release.wait(10)
        for lock in reversed(held):
            lock.release()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    try:
        pid = os.fork()
        if pid == 0:  # the child: every lock it uses must be free
            try:
                with table.lock("key", threading.Lock), token._lock, basic._lock, \
                        endpoint._stats_lock, endpoint._pause_lock:
                    endpoint.locks.lock("other", threading.Lock)
            finally:
                os._exit(0)
        assert _exits_soon(pid), "the child waited on a lock a parent's thread held"
    finally:
        release.set()
        holder.join(10)


def test_a_lock_table_forgets_its_locks_in_a_child() -> None:
    table = LockTable()
    table.lock("k", threading.Lock).acquire()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            free = table.lock("k", threading.Lock).acquire(timeout=1)
            os.write(write, b"1" if free else b"0")
        finally:
            os._exit(0)
    assert _exits_soon(pid)
    assert os.read(read, 1) == b"1"


def test_objects_that_compare_by_value_are_kept_by_identity() -> None:
    """A user's subclass that defines __eq__ (attrs' default) is unhashable, and two
    equal ones are one key of a set: registering failed with TypeError, or renewed one
    of the two."""
    from registry_client import _forksafe

    class Equal(TokenAuthenticator):
        def __eq__(self, other: object) -> bool:
            return isinstance(other, Equal)

    first, second = Equal("u", "p"), Equal("u", "p")  # (__hash__ is None: unhashable)
    renewed: list[int] = []
    for auth in (first, second):
        auth.renew_locks = (  # type: ignore[method-assign]
            lambda auth=auth: renewed.append(id(auth)))
    _forksafe._renew_all()
    assert id(first) in renewed and id(second) in renewed
