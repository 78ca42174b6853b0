"""locked_directory: one holder at a time, across separate opens of the directory."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from registry_client._locks import locked_directory, locked_file


def test_a_second_holder_waits_until_the_first_lets_go(tmp_path: Path) -> None:
    order: list[str] = []
    second_trying = threading.Event()

    def second() -> None:
        second_trying.set()
        with locked_directory(tmp_path):
            order.append("second in")

    with locked_directory(tmp_path):
        worker = threading.Thread(target=second)
        worker.start()
        assert second_trying.wait(5)
        worker.join(0.3)  # it cannot get in while the lock is held
        assert worker.is_alive() and order == []
        order.append("first out")
    worker.join(5)
    assert not worker.is_alive()
    assert order == ["first out", "second in"]


def test_the_lock_is_released_when_the_block_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), locked_directory(tmp_path):
        raise RuntimeError("boom")
    done = threading.Event()

    def take() -> None:
        with locked_directory(tmp_path):
            done.set()

    worker = threading.Thread(target=take)
    worker.start()
    worker.join(5)
    assert done.is_set()


def test_a_missing_directory_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), locked_directory(tmp_path / "missing"):
        pass


def test_a_file_lock_held_elsewhere_is_refused_at_once_without_wait(tmp_path: Path) -> None:
    # an asyncio download waits for a held lock between tries, not in a pool thread
    partial = tmp_path / "blob.partial"
    with locked_file(partial):
        with pytest.raises(BlockingIOError), locked_file(partial, wait=False):
            pass  # pragma: no cover - never entered
    with locked_file(partial, wait=False) as f:  # free again: taken at once
        f.write(b"x")
    assert partial.read_bytes() == b"x"
