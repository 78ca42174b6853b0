"""JSON read from anywhere (a registry's answer, a file on disk) and written back.

:func:`loads` is ``json.loads``, where a document nested too deeply for Python's parser
is a ``ValueError`` like any other malformed JSON, not a ``RecursionError`` (``"[" *
100000`` is a valid start of one), and ``NaN`` / ``Infinity`` -- which Python reads and
RFC 8259 has not -- are refused where a document is to be written back
(``parse_constant=``:func:`no_constants`). :func:`dumps` writes what it read back as
compact UTF-8. Only the standard library is imported: every layer may use it.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

__all__ = ["dumps", "loads", "no_constants"]

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def no_constants(name: str) -> NoReturn:
    """``parse_constant=`` for :func:`loads`: ``NaN``, ``Infinity`` and ``-Infinity``
    are not JSON (RFC 8259), and :func:`dumps` could not write them back."""
    raise ValueError(f"{name} is not JSON (RFC 8259 has no such number)")


def loads(data: str | bytes | bytearray, **kwargs: Any) -> Any:
    """``json.loads(data, **kwargs)``.

    Raises:
        ValueError: not JSON, not UTF-8 (bytes), or nested too deeply to read -- in the
            decoder's words, raised without its error as context: json's keeps the
            whole document (``.doc``), an answer that may echo the credentials, where
            whatever walks an error's chain would find it.
    """
    try:
        return json.loads(data, **kwargs)
    except RecursionError:
        why = "JSON nested too deeply to read"
    except ValueError as exc:  # (JSONDecodeError, UnicodeDecodeError, parse_constant's)
        why = str(exc)
    raise ValueError(why)


def dumps(doc: Any) -> bytes:
    """``doc`` as compact UTF-8 JSON, keys in the order they are (the same document,
    the same bytes).

    A lone surrogate (what ``"\\ud800"`` reads as: UTF-8 cannot hold it) is written as
    its escape, which reads back as the same string.

    Raises:
        ValueError: a number JSON cannot hold (infinite -- ``1e400`` reads as one -- or
            NaN), or a value that is not JSON's (a set, an object).
    """
    try:
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:  # (out of range floats)
        raise ValueError(f"the document cannot be written as JSON: {exc}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # surrogates: only ever inside strings, written escaped
        return _SURROGATE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")
