"""_json.loads: JSON nested too deeply is malformed JSON (a ValueError), not a crash."""

from __future__ import annotations

import math

import pytest

from registry_client._http import exception_chain
from registry_client._json import dumps, loads, no_constants


def test_json_is_read_as_json_loads_reads_it() -> None:
    assert loads(b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert loads('[]', object_pairs_hook=dict) == []


@pytest.mark.parametrize("data", [b"[" * 100_000 + b"]" * 100_000, '{"a":' * 100_000,
                                  b"{not json", b"\xff\xfe"])
def test_what_is_no_readable_json_is_a_value_error(data: str | bytes) -> None:
    with pytest.raises(ValueError):
        loads(data)


@pytest.mark.parametrize("data", [b'{"x":NaN}', b'{"x":Infinity}', b"[-Infinity]"])
def test_nan_and_infinity_are_not_json(data: bytes) -> None:
    # RFC 8259 has no such literals; Python's json reads them unless told not to
    with pytest.raises(ValueError, match="not JSON"):
        loads(data, parse_constant=no_constants)
    assert math.isnan(loads(b"[NaN]")[0])  # (read when not told not to: a token answer)


def test_dumps_is_compact_utf8_in_the_order_given() -> None:
    assert dumps({"b": "é", "a": [1, 2.5, None]}) == '{"b":"é","a":[1,2.5,null]}'.encode()


def test_dumps_writes_a_lone_surrogate_as_its_escape() -> None:
    # json.loads reads '"\\ud800"' into a str UTF-8 cannot encode: it goes back escaped,
    # the same value when read again
    doc = loads(b'{"a":"x\\ud800y\\udfff","b":"\\ud83d\\ude00"}')
    data = dumps(doc)
    assert data == '{"a":"x\\ud800y\\udfff","b":"\U0001f600"}'.encode()
    assert loads(data) == doc


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_dumps_refuses_a_number_json_cannot_hold(value: float) -> None:
    # (json.loads reads 1e400 as inf: written back, it would be the non-JSON "Infinity")
    with pytest.raises(ValueError, match="cannot be written as JSON"):
        dumps({"x": [value]})


def test_a_document_that_is_no_json_is_not_kept_in_the_error() -> None:
    """json's JSONDecodeError keeps the whole document (``.doc``), and every error raised
    from it had it as its context (``raise ... from None`` only hides it from
    tracebacks): a registry or token server answer echoing the credentials was reachable
    by whatever walks an error's chain (Sentry-style reporters do)."""
    from registry_client._json import loads

    with pytest.raises(ValueError) as info:
        loads(b'not json: Basic YWxpY2U6UzNjcjN0')
    assert not any("YWxpY2U6" in repr(vars(x)) + repr(x.args)
                   for x in exception_chain(info.value))
    assert "Expecting value" in str(info.value)
