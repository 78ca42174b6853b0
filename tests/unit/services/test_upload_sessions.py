"""The Range arithmetic of upload answers: ``Range: 0-N`` read, and a partial keep found."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from registry_client.services._upload_sessions import _read_state, kept_end, range_end


def answer(range_header: str | None) -> object:
    headers = {} if range_header is None else {"Range": range_header}
    return types.SimpleNamespace(headers=headers)


@pytest.mark.parametrize(("header", "expected"), [
    ("0-99", 99),
    ("bytes=0-4095", 4095),  # the form some registries send
    (" 0-0 ", 0),
    ("0--1", -1),  # a negative end is read as such; kept_end ignores it
    ("10-99", None),  # not from the start: unusable
    ("0-", None),
    ("garbage", None),
    ("", None),
    (None, None),
])
def test_range_end_reads_the_last_byte_held(header: str | None, expected: int | None) -> None:
    assert range_end(answer(header)) == expected  # type: ignore[arg-type]


def test_kept_end_finds_a_partial_keep_inside_the_bytes_just_sent() -> None:
    # bytes 1000..1999 sent; the registry holds 0-1499: it kept only part of them
    assert kept_end(answer("0-1499"), 1000, 2000) == 1500  # type: ignore[arg-type]
    # right at the start of what was sent: nothing of it kept
    assert kept_end(answer("0-999"), 1000, 2000) == 1000  # type: ignore[arg-type]


@pytest.mark.parametrize("header", [
    "0-1999",  # all of it kept
    "0-2999",  # more than was sent: not a partial keep of this PATCH
    "0-499",  # before the bytes just sent
    "junk",
    None,
])
def test_kept_end_is_none_unless_a_usable_range_ends_inside_the_send(
    header: str | None,
) -> None:
    assert kept_end(answer(header), 1000, 2000) is None  # type: ignore[arg-type]


def test_kept_end_never_reads_0_0_as_one_byte_kept() -> None:
    # "0-0" is ambiguous (some registries answer it whatever they hold): no re-send
    assert kept_end(answer("0-0"), 0, 100) is None  # type: ignore[arg-type]
    assert kept_end(answer("0--1"), 0, 100) is None  # type: ignore[arg-type]
    assert kept_end(answer("0-1"), 0, 100) == 2  # type: ignore[arg-type]


def test_a_state_file_nested_too_deeply_reads_as_no_state(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("[" * 100_000 + "]" * 100_000)  # (RecursionError in json)
    assert _read_state(path) is None
