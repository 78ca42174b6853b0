"""The converter's strict JSON scalar hooks: a string is not a list, a bool not an int."""

from __future__ import annotations

import pytest

from registry_client.models._strict import (
    BadValue,
    kind,
    message,
    structure_bool,
    structure_digest,
    structure_int,
    structure_size,
    structure_str,
)

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(("value", "expected"), [
    ("x" * 50, "the string " + repr("x" * 40)),
    (3, "the number 3"),
    (2.5, "the number 2.5"),
    (True, "a boolean"),
    (None, "null"),
    ([], "an array"),
    ({}, "an object"),
    (b"x", "bytes"),
])
def test_kind_says_how_a_json_value_looks(value: object, expected: str) -> None:
    assert kind(value) == expected


def test_the_hooks_return_values_of_their_type() -> None:
    assert structure_str("x", str) == "x"
    assert structure_int(7, int) == 7
    assert structure_bool(False, bool) is False
    assert structure_digest(D, str) == D
    assert structure_size(0, int) == 0


@pytest.mark.parametrize(("hook", "value", "words"), [
    (structure_str, ["x"], "expected a string, got an array"),
    (structure_str, 1, "expected a string, got the number 1"),
    (structure_int, True, "expected an integer, got a boolean"),
    (structure_int, "1", "expected an integer, got the string '1'"),
    (structure_int, 1.0, "expected an integer, got the number 1.0"),
    (structure_bool, 0, "expected true or false, got the number 0"),
    (structure_bool, "true", "expected true or false, got the string 'true'"),
    (structure_digest, 5, "expected a string, got the number 5"),
    (structure_size, -1, "size must not be negative, got -1"),
    (structure_size, None, "expected an integer, got null"),
])
def test_a_wrong_value_is_a_bad_value_saying_what_came(
    hook: object, value: object, words: str,
) -> None:
    with pytest.raises(BadValue) as info:
        hook(value, None)  # type: ignore[operator]
    assert str(info.value) == words
    assert isinstance(info.value, ValueError)


def test_a_malformed_digest_is_named_with_the_rule() -> None:
    with pytest.raises(BadValue, match=r"^invalid digest 'sha256:xyz' \(want .+\)$"):
        structure_digest("sha256:xyz", str)


def test_message_words_any_failure() -> None:
    assert message(BadValue("expected a string, got null")) == "expected a string, got null"
    assert message(KeyError("size")) == "required field missing"
    assert message(TypeError("x" * 300)) == "invalid value (TypeError: " + "x" * 100 + ")"
