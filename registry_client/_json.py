"""JSON read from anywhere (a registry's answer, a file on disk): ``json.loads``, where a
document nested too deeply for Python's parser is a ``ValueError`` like any other
malformed JSON, not a ``RecursionError`` (``"[" * 100000`` is a valid start of one).
Only the standard library is imported: every layer may use it."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads"]


def loads(data: str | bytes | bytearray, **kwargs: Any) -> Any:
    """``json.loads(data, **kwargs)``.

    Raises:
        ValueError: not JSON, not UTF-8 (bytes), or nested too deeply to read.
    """
    try:
        return json.loads(data, **kwargs)
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None
