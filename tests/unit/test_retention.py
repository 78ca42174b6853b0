"""Retention's pure parts: durations like ``30d`` and the semantic-version sort key."""

from __future__ import annotations

import datetime as dt

import pytest

from registry_client.retention import parse_duration, semver_key


@pytest.mark.parametrize(("text", "expected"), [
    ("30d", dt.timedelta(days=30)),
    ("12h", dt.timedelta(hours=12)),
    ("2w", dt.timedelta(weeks=2)),
    ("1d12h", dt.timedelta(days=1, hours=12)),
    ("90s", dt.timedelta(seconds=90)),
    ("5m", dt.timedelta(minutes=5)),
    (" 1D ", dt.timedelta(days=1)),  # trimmed, any case
])
def test_parse_duration_reads_units_s_m_h_d_w(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


def test_parse_duration_passes_a_positive_timedelta_through() -> None:
    assert parse_duration(dt.timedelta(hours=3)) == dt.timedelta(hours=3)


@pytest.mark.parametrize("bad", ["", "30", "d", "1.5d", "-1d", "30 d", "1y", "30days",
                                 "\u0663d", "3\uff10d"])
def test_parse_duration_refuses_what_is_not_a_duration(bad: str) -> None:
    with pytest.raises(ValueError, match=r"invalid duration .*such as 30d, 12h or 2w"):
        parse_duration(bad)


@pytest.mark.parametrize("huge", ["99999999999w", "1" * 5000 + "s", "9" * 20 + "d"])
def test_a_duration_beyond_what_a_timedelta_holds_is_refused_plainly(huge: str) -> None:
    """(an OverflowError, or Python's own "Exceeds the limit (4300 digits)" words)"""
    with pytest.raises(ValueError, match=r"too long: at most 999999999 days"):
        parse_duration(huge)


@pytest.mark.parametrize("zero", ["0d", "0s0m", dt.timedelta(0), dt.timedelta(days=-1)])
def test_parse_duration_refuses_nothing_and_negative_time(zero: str | dt.timedelta) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        parse_duration(zero)


def test_semver_key_orders_by_precedence() -> None:
    tags = ["1.10.0", "v1.2.3", "1.2.3-rc.10", "1.2.3-rc.2", "1.2.3-alpha", "0.9.9",
            "1.2.3-rc.2.1", "2.0.0+build.5"]
    ranked = sorted(tags, key=lambda t: semver_key(t) or ())
    assert ranked == ["0.9.9", "1.2.3-alpha", "1.2.3-rc.2", "1.2.3-rc.2.1", "1.2.3-rc.10",
                      "v1.2.3", "1.10.0", "2.0.0+build.5"]


def test_semver_key_ignores_the_v_and_build_metadata() -> None:
    assert semver_key("v1.2.3") == semver_key("1.2.3") == semver_key("1.2.3+abc")


@pytest.mark.parametrize("tag", ["latest", "1.2", "1.2.3.4", "01.2.3", "1.2.3-", "1.2.3-01",
                                 "V1.2.3", "release-1.2.3", "sha256-" + "a" * 64])
def test_semver_key_is_none_for_what_is_not_semver(tag: str) -> None:
    assert semver_key(tag) is None
