"""Strict JSON scalars for the converter: a string is not a list, a bool is not an int.

The hooks raise :class:`BadValue` with a message saying what was expected and what
came; :func:`message` words any other failure the same way.
"""

from __future__ import annotations

from ..reference import DIGEST_RULE, is_valid_digest

__all__ = ["BadValue", "kind", "message", "structure_bool", "structure_digest",
           "structure_int", "structure_size", "structure_str"]


class BadValue(ValueError):
    """A value of the wrong JSON type or out of range; its message is shown as is."""


_KINDS = {type(None): "null", bool: "a boolean", list: "an array", dict: "an object"}


def kind(value: object) -> str:
    """How a JSON value looks, for error messages."""
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"the number {value!r}"[:60]
    return _KINDS.get(type(value), type(value).__name__)


def structure_str(value: object, _: object) -> str:
    if isinstance(value, str):
        return value
    raise BadValue(f"expected a string, got {kind(value)}")


def structure_int(value: object, _: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise BadValue(f"expected an integer, got {kind(value)}")


def structure_bool(value: object, _: object) -> bool:
    if isinstance(value, bool):
        return value
    raise BadValue(f"expected true or false, got {kind(value)}")


def structure_digest(value: object, _: object) -> str:
    digest = structure_str(value, _)
    if not is_valid_digest(digest):
        raise BadValue(f"invalid digest {digest[:100]!r} (want {DIGEST_RULE})")
    return digest


def structure_size(value: object, _: object) -> int:
    size = structure_int(value, _)
    if size < 0:
        raise BadValue(f"size must not be negative, got {size}")
    return size



def message(exc: BaseException) -> str:
    if isinstance(exc, BadValue):
        return str(exc)
    if isinstance(exc, KeyError):
        return "required field missing"
    return f"invalid value ({type(exc).__name__}: {str(exc)[:100]})"
