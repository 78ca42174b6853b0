"""RFC 9110 header grammar pieces (``registry_client._headers``)."""

from __future__ import annotations

import pytest

from registry_client._headers import TOKEN_RE, quoted_string, skip_ws


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"a,b;c"; x', ("a,b;c", 7)),
        ('"a\\"b\\\\c"', ('a"b\\c', 9)),
        ('""', ("", 2)),
        ('"never closed', None),
        ('"ends in a backslash\\"', None),
    ],
)
def test_quoted_string(text: str, expected: tuple[str, int] | None) -> None:
    assert quoted_string(text, 0) == expected


def test_tokens_and_white_space() -> None:
    assert skip_ws(" \t x", 0) == 3
    assert skip_ws("x", 0) == 0
    m = TOKEN_RE.match("rel=next")
    assert m is not None and m.group() == "rel"
    assert TOKEN_RE.match('"quoted"') is None
