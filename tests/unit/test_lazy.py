"""What is made on first use (``registry_client._lazy``): the packages' names, and
attributes."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import registry_client
from registry_client import models, services, testing
from registry_client._lazy import cached_property


@pytest.mark.parametrize("package", [registry_client, models, services, testing])
def test_every_exported_name_loads_and_dir_lists_it(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    for name in names:
        assert getattr(package, name) is not None
    assert set(names) <= set(dir(package))


@pytest.mark.parametrize("package", [registry_client, models, services, testing])
def test_an_unknown_name_is_an_attribute_error_naming_the_package(package: object) -> None:
    name = package.__name__  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=rf"module '{name}' has no attribute 'nope'"):
        package.nope  # type: ignore[attr-defined]  # noqa: B018


def test_a_loaded_name_is_cached_in_the_package() -> None:
    value = services.TagService
    assert vars(services)["TagService"] is value


def test_the_sync_task_names_are_importable_from_registry_client() -> None:
    from registry_client import SyncTask, TaskResult  # (the import is what is tested)
    from registry_client.sync import SyncTask as task  # (same)
    from registry_client.sync import TaskResult as result

    assert (SyncTask, TaskResult) == (task, result)


def test_a_cached_property_is_computed_once_and_read_as_an_attribute() -> None:
    calls: list[int] = []

    class Thing:
        @cached_property
        def part(self) -> list[int]:
            """The part."""
            calls.append(1)
            return [len(calls)]

    thing = Thing()
    assert thing.part is thing.part == [1] and calls == [1]
    assert Thing().part == [2]
    assert Thing.part.__doc__ == "The part."


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX")
def test_a_cached_property_never_hangs_a_child_forked_while_another_thread_computes_one(
) -> None:
    """functools.cached_property (before Python 3.12) holds one lock per class attribute
    while it computes: a process forked while a thread was inside ``repo.images`` had
    that lock held for good, and the child's first ``repo.images`` -- of any
    Repository -- waited for ever (14 children in 20, a checker's repro)."""
    inside, release = threading.Event(), threading.Event()

    class Thing:
        @cached_property
        def part(self) -> int:
            if not inside.is_set():
                inside.set()
                release.wait(10)  # (the parent's thread, inside, when the fork comes)
            return 1

    thread = threading.Thread(target=lambda: Thing().part)
    thread.start()
    assert inside.wait(5)
    try:
        pid = os.fork()
        if pid == 0:  # the child: a new Thing's part, at once
            os._exit(0 if Thing().part == 1 else 1)
        deadline = time.monotonic() + 5
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        if done[0] == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert done[0] == pid and os.waitstatus_to_exitcode(done[1]) == 0, "the child hung"
    finally:
        release.set()
        thread.join()
