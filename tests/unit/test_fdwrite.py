"""A descriptor written whole (_fdwrite.py): a non-blocking pipe's partial writes."""

from __future__ import annotations

import errno
import os
import threading
import time

import pytest

from registry_client._fdwrite import WholeWrites, whole_writer


def test_a_non_blocking_pipe_read_late_gets_every_byte() -> None:
    data = os.urandom(1 << 20)  # 16 pipes' worth
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    got = bytearray()

    def reader() -> None:
        time.sleep(0.2)  # the writer meets a full pipe first
        while chunk := os.read(read_end, 1 << 16):
            got.extend(chunk)

    thread = threading.Thread(target=reader)
    thread.start()
    with whole_writer(write_end, closefd=True) as out:
        out.write(data[:100])
        out.write(data[100:])
    thread.join(10)
    os.close(read_end)
    assert bytes(got) == data


def test_a_reader_gone_is_a_broken_pipe() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    out = whole_writer(write_end, closefd=True)
    with pytest.raises(BrokenPipeError):
        out.write(b"x" * (1 << 17))
    out.close()
    with pytest.raises(OSError):  # closed with it
        os.fstat(write_end)


def test_a_descriptor_lent_stays_open() -> None:
    read_end, write_end = os.pipe()
    try:
        with whole_writer(write_end) as out:
            out.write(b"abc")
        os.fstat(write_end)  # still open
        assert os.read(read_end, 10) == b"abc"
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_failed_write_names_the_file_given_and_a_gone_reader_stays_a_broken_pipe() -> None:
    """A full disk under standard output said "[Errno 28] No space left on device",
    naming nothing; the name given is now the error's file. A broken pipe is left bare:
    it is the quiet exit, not a failure to report."""
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        with pytest.raises(OSError) as full:
            WholeWrites(fd, name="standard output").write(b"x")
        assert (full.value.errno, full.value.filename) == (errno.ENOSPC, "standard output")
    finally:
        os.close(fd)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        with pytest.raises(BrokenPipeError) as gone:
            WholeWrites(write_end, name="standard output").write(b"x")
        assert gone.value.filename is None
    finally:
        os.close(write_end)
