"""Digests as the OCI image-spec writes them: read every registered-grammar digest,
verify (and fetch by) sha256 and sha512 only.

The cases are those of the image-spec's own descriptor schema tests
(``schema/descriptor_test.go``): https://github.com/opencontainers/image-spec
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from pathlib import Path

import pytest

from registry_client import (
    DigestMismatchError,
    RegistryError,
    UnsupportedDigestError,
    _digest,
    _threads,
)
from registry_client._digest import HashThread, new_hasher, registry_keyed
from registry_client._reader import BlobReceiver
from registry_client.reference import is_valid_digest, is_verifiable_digest, require_verifiable

SHA256 = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
SHA512 = "sha512:" + hashlib.sha512(b"x").hexdigest()
B64U = "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"
MULTIHASH = "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"
# The image-spec's own descriptor digest cases, shared with the other digest tests.
_CASES = json.loads((Path(__file__).resolve().parents[1] / "data"
                     / "oci_descriptor_digests.json").read_text())
OTHER_VALID: list[str] = _CASES["valid_not_verifiable"]
INVALID: list[str | None] = _CASES["invalid"]  # the last two: None, longer than any digest


@pytest.mark.parametrize("digest", [SHA256, SHA512, *OTHER_VALID])
def test_the_spec_s_valid_digests_are_valid(digest: str) -> None:
    assert is_valid_digest(digest)


@pytest.mark.parametrize("digest", INVALID)
def test_the_spec_s_invalid_digests_are_invalid(digest: str | None) -> None:
    assert not is_valid_digest(digest)
    assert not is_verifiable_digest(digest)


def test_only_sha256_and_sha512_are_verifiable() -> None:
    assert is_verifiable_digest(SHA256) and is_verifiable_digest(SHA512)
    assert new_hasher(SHA512).name == "sha512"
    for digest in OTHER_VALID:
        assert not is_verifiable_digest(digest)
        with pytest.raises(UnsupportedDigestError, match="unsupported digest algorithm"):
            require_verifiable(digest)
        with pytest.raises(UnsupportedDigestError):
            new_hasher(digest)  # no hashing (so no download) by an unknown algorithm


def test_only_sha256_digests_are_the_registry_s_own() -> None:
    """Registries key content by sha256: a sha512 (or any other) digest is the client's."""
    assert registry_keyed(SHA256)
    assert not any(registry_keyed(d) for d in (SHA512, B64U, *OTHER_VALID))


def test_the_error_is_a_registry_error_and_a_value_error() -> None:
    with pytest.raises(UnsupportedDigestError) as info:
        require_verifiable(MULTIHASH, where="layout x")
    assert isinstance(info.value, RegistryError) and isinstance(info.value, ValueError)
    assert str(info.value).startswith("layout x: unsupported digest algorithm "
                                      "'multihash+base58'")


# -- HashThread: hashing beside the reading ----------------------------------------------


def _no_busy_workers(timeout: float = 5.0) -> bool:
    """True once no worker thread runs a job (every one is back waiting, or ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_threads.alive()) == len(_threads._idle):
            return True
        time.sleep(0.005)
    return False


class _RecordingHasher:
    """A sha256 that records the threads it ran on, and can fail or hold a block."""

    name = "sha256"

    def __init__(self, *, fail_at: int | None = None, gate: threading.Event | None = None
                 ) -> None:
        self._h = hashlib.sha256()
        self.threads: list[int] = []
        self.calls = 0
        self._fail_at = fail_at
        self._gate = gate

    def update(self, data: object) -> None:
        self.calls += 1
        self.threads.append(threading.get_ident())
        if self._gate is not None:
            assert self._gate.wait(5)
        if self.calls == self._fail_at:
            raise MemoryError("hashing failed")
        self._h.update(data)  # type: ignore[arg-type]

    def hexdigest(self) -> str:
        return self._h.hexdigest()

    def digest(self) -> bytes:
        return self._h.digest()

    def copy(self) -> object:
        return self._h.copy()


def test_a_hash_thread_gives_hashlib_s_digest_for_any_blocks() -> None:
    blocks = [os.urandom(n) for n in (10, 1 << 20, 70_000, 5, (1 << 20) + 3, 64 * 1024, 1)]
    ht = HashThread(hashlib.sha256())
    mutable = bytearray(os.urandom(200_000))
    for i, block in enumerate(blocks):
        ht.update(block if i % 2 else memoryview(block))
    ht.update(mutable)
    expected = hashlib.sha256(b"".join(blocks) + bytes(mutable))
    mutable[:] = b"\0" * len(mutable)  # the caller's buffer, reused at once: copied before
    assert ht.hexdigest() == expected.hexdigest()
    assert ht.digest() == expected.digest()
    assert ht.copy().hexdigest() == expected.hexdigest()
    assert ht.name == "sha256"
    assert _no_busy_workers()


def test_a_hash_thread_hashes_large_blocks_on_another_thread() -> None:
    inner = _RecordingHasher()
    ht = HashThread(inner)
    ht.update(b"x" * 100)  # small, nothing in flight: hashed here
    ht.update(b"y" * (1 << 20))
    ht.hexdigest()
    assert inner.threads[0] == threading.get_ident()
    assert inner.threads[1] != threading.get_ident()


def test_a_hash_thread_holds_at_most_ahead_blocks() -> None:
    gate = threading.Event()
    ht = HashThread(_RecordingHasher(gate=gate), ahead=2)
    block = b"z" * (1 << 20)
    ht.update(block)  # the worker takes it and waits on the gate
    ht.update(block)
    fed = threading.Event()

    def feed() -> None:
        ht.update(block)  # a third block while two are not yet hashed: waits
        fed.set()

    feeder = threading.Thread(target=feed)
    feeder.start()
    assert not fed.wait(0.3)
    gate.set()
    assert fed.wait(5)
    feeder.join(5)
    assert ht.hexdigest() == hashlib.sha256(block * 3).hexdigest()


def test_an_error_of_the_hashing_is_raised_to_the_reader() -> None:
    ht = HashThread(_RecordingHasher(fail_at=2))
    block = b"q" * (1 << 20)
    with pytest.raises(MemoryError, match="hashing failed"):
        for _ in range(50):  # raised by a later update, or at the latest by hexdigest
            ht.update(block)
        ht.hexdigest()
    with pytest.raises(MemoryError):
        ht.hexdigest()
    assert _no_busy_workers()


def test_a_hash_thread_dropped_half_way_leaves_nothing_running() -> None:
    # the reader fails (a cut, a Ctrl-C) and never asks for the digest
    ht = HashThread(hashlib.sha256())
    for _ in range(6):
        ht.update(os.urandom(1 << 20))
    del ht
    assert _no_busy_workers()


def test_a_wrong_large_blob_is_caught_by_the_receiver() -> None:
    data = os.urandom(3 << 20)
    # (the last byte changed -- a "!" put there was the same byte once in 256 runs)
    digest = "sha256:" + hashlib.sha256(data[:-1] + bytes([data[-1] ^ 1])).hexdigest()
    rx = BlobReceiver(digest, expected_size=len(data))
    rx.take(data[: 1 << 20])
    rx.take(data[1 << 20: 2 << 20])
    with pytest.raises(DigestMismatchError):
        rx.take(data[2 << 20:])  # the block that completes it: checked before handed on
    assert not rx.verified
    assert _no_busy_workers()


def test_a_right_large_blob_is_verified_by_the_receiver() -> None:
    data = os.urandom(3 << 20)
    rx = BlobReceiver("sha256:" + hashlib.sha256(data).hexdigest())
    for i in range(0, len(data), 1 << 20):
        assert rx.take(data[i:i + (1 << 20)]) == data[i:i + (1 << 20)]
    assert rx.ended() and rx.verified


def test_hashing_beside_the_reader_takes_a_spare_core_or_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_digest._overlap, "limit", 1)
    gate = threading.Event()
    first = _RecordingHasher(gate=gate)
    second = _RecordingHasher()
    a, b = HashThread(first), HashThread(second)
    a.update(b"a" * (1 << 20))  # takes the one slot (and holds it: its worker waits)
    b.update(b"b" * (1 << 20))  # none left: hashed here, in the reader's thread
    assert second.threads == [threading.get_ident()]
    gate.set()
    a.hexdigest()
    assert first.threads[0] != threading.get_ident()
    assert _digest._overlap.taken == 0  # given back once its blocks were hashed
    b.update(b"c" * (1 << 20))  # the only blob read now: beside the reader again
    b.hexdigest()
    assert second.threads[1] != threading.get_ident()
    assert _digest._overlap.taken == 0
    assert _digest._overlap.streams == 0


def test_no_hashing_beside_the_readers_while_more_blobs_are_read_than_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_digest._overlap, "limit", 1)
    one, other = _RecordingHasher(), _RecordingHasher()
    a, b = HashThread(one), HashThread(other)
    a.update(b"a" * (1 << 20))
    assert _no_busy_workers()  # done with the first block, not with the blob
    b.update(b"b" * (1 << 20))  # a second blob read at once: both keep to their threads
    a.update(b"a" * (1 << 20))
    assert one.threads[1] == threading.get_ident()
    assert other.threads == [threading.get_ident()]
    del b  # dropped half-way (its download failed): no longer counted
    a.update(b"a" * (1 << 20))
    a.hexdigest()
    assert one.threads[2] != threading.get_ident()
    assert _digest._overlap.streams == 0


def test_blocks_of_every_size_in_a_row_keep_the_order_and_the_slots() -> None:
    rng = random.Random(15)
    blocks = [os.urandom(rng.choice((1, 100, 60_000, 70_000, 1 << 20))) for _ in range(200)]
    ht = HashThread(hashlib.sha256(), ahead=3)
    for block in blocks:
        ht.update(block)
    assert ht.hexdigest() == hashlib.sha256(b"".join(blocks)).hexdigest()
    assert _digest._overlap.taken == 0
    # the buffers went back for the next blobs, as many as the hashings may use at once
    assert 0 < len(_digest._overlap._buffers) <= _digest._overlap.limit * _digest.HASH_AHEAD


def _until_no_busy_workers() -> None:
    deadline = time.monotonic() + 5
    while not _no_busy_workers() and time.monotonic() < deadline:
        time.sleep(0.001)


def test_a_lent_buffer_is_hashed_where_it_is_with_no_copy() -> None:
    inner = _RecordingHasher()
    ht = HashThread(inner)
    data = os.urandom(3 << 20)
    for i in range(0, len(data), 1 << 20):
        buffer = ht.lend(1 << 20)
        buffer[: 1 << 20] = data[i:i + (1 << 20)]
        ht.update(memoryview(buffer)[: 1 << 20])
    sub = ht.lend(100)  # a block smaller than the buffer, and a slice of it
    sub[:100] = b"q" * 100
    ht.update(memoryview(sub)[10:100])
    assert ht.hexdigest() == hashlib.sha256(data + b"q" * 90).hexdigest()
    assert inner.threads[0] != threading.get_ident()  # beside the reader, as copies are


def test_a_lent_block_is_the_reader_s_until_it_asks_for_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The reader writes a block out after handing it to the hashing: its buffer must
    # not go to another blob's hashing (the shared pool) before the reader's next
    # lend(), even when the hashing is done -- else that blob's bytes overwrite it.
    slots = _digest._Slots()
    slots.limit = 2  # both blobs hashed beside their readers, from one empty pool
    monkeypatch.setattr(_digest, "_overlap", slots)
    ht = HashThread(hashlib.sha256())
    buffer = ht.lend(1 << 20)
    buffer[:] = b"a" * len(buffer)
    block = memoryview(buffer)[: 1 << 20]
    ht.update(block)
    _until_no_busy_workers()  # hashed, and the worker gave its buffers back
    other = HashThread(hashlib.sha256())
    other.update(b"b" * (1 << 20))  # copied into a buffer from the shared pool
    other.hexdigest()
    assert bytes(block) == b"a" * (1 << 20)  # still the reader's block, unchanged
    assert ht.hexdigest() == hashlib.sha256(b"a" * (1 << 20)).hexdigest()
    again = ht.lend(1 << 20)  # the reader is done with it: lent again
    assert again is buffer


def test_the_shared_pool_keeps_at_most_pool_keep_buffers_whatever_the_cores() -> None:
    slots = _digest._Slots()
    slots.limit = 63  # a 64-core machine: 63 hashings at once could use 63 x HASH_AHEAD
    slots.keep([bytearray(_digest.HASH_BLOCK) for _ in range(_digest.POOL_KEEP + 5)])
    assert len([slots.buffer() for _ in range(_digest.POOL_KEEP)]) == _digest.POOL_KEEP
    assert len(slots.buffer()) == 0  # then empty: a new buffer is made


def test_a_hashing_stopped_for_good_is_not_counted_again() -> None:
    """A blobs.open reader closed from another thread (or task) while a read was handing
    over its block: close() said the hashing stopped, then the block counted the blob
    as being read again, for as long as the reader lived -- every later download of the
    process hashed inline."""
    before = _digest._overlap.streams
    ht = HashThread(hashlib.sha256())
    ht.update(b"x" * (1 << 20))
    assert _digest._overlap.streams == before + 1
    ht.stopped(for_good=True)
    ht.update(b"y" * (1 << 20))  # the block a read in flight still hands over
    assert _digest._overlap.streams == before
    ht.hexdigest()
    assert _digest._overlap.streams == before
