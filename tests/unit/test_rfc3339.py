"""RFC 3339 timestamps (_rfc3339.py), as Go and registries write them."""

from __future__ import annotations

import datetime as dt

import pytest

from registry_client._rfc3339 import parse_rfc3339

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-05-24T22:43:48.18207587Z", dt.datetime(2023, 5, 24, 22, 43, 48, 182075, tzinfo=UTC)),
        ("2023-05-24T22:43:48Z", dt.datetime(2023, 5, 24, 22, 43, 48, tzinfo=UTC)),
        ("2023-05-24t22:43:48.5z", dt.datetime(2023, 5, 24, 22, 43, 48, 500000, tzinfo=UTC)),
        (
            "2023-05-24T22:43:48.123+02:00",
            dt.datetime(2023, 5, 24, 22, 43, 48, 123000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        ),
        ("2023-05-24T22:43:48-05:30", dt.datetime(2023, 5, 25, 4, 13, 48, tzinfo=UTC)),
        ("2023-05-24T22:43:48", None),
        ("2023-13-24T22:43:48Z", None),
        ("2024-01-01T00:00:00+24:00", None),  # no offset reaches a day: unparsable
        ("2024-01-01T00:00:00-99:00", None),
        ("yesterday", None),
        ("\u0662\u0660\u0662\u0663-05-24T22:43:48Z", None),  # digits, not ASCII ones (Go's)
        ("", None),
        (None, None),
    ],
)
def test_parse_rfc3339(text: str | None, expected: dt.datetime | None) -> None:
    assert parse_rfc3339(text) == expected
