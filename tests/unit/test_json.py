"""_json.loads: JSON nested too deeply is malformed JSON (a ValueError), not a crash."""

from __future__ import annotations

import pytest

from registry_client._json import loads


def test_json_is_read_as_json_loads_reads_it() -> None:
    assert loads(b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert loads('[]', object_pairs_hook=dict) == []


@pytest.mark.parametrize("data", [b"[" * 100_000 + b"]" * 100_000, '{"a":' * 100_000,
                                  b"{not json", b"\xff\xfe"])
def test_what_is_no_readable_json_is_a_value_error(data: str | bytes) -> None:
    with pytest.raises(ValueError):
        loads(data)
