"""Checks of a caller's arguments that more than one entry point makes: lists of str
and mappings of str to str (labels, annotations), refused with a TypeError naming the
argument before anything is sent. Only the standard library is imported: every layer
may use it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["text_map", "words"]


def words(value: Iterable[str] | None, what: str) -> list[str] | None:
    """A list of str given as ``what`` (None stays None); a bare str is refused, not
    split into characters."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{what}: a list of str (e.g. [{value!r}]), not "
                        f"{type(value).__name__}")
    listed = list(value)
    for word in listed:
        if not isinstance(word, str):
            raise TypeError(f"{what}: {word!r} is not a str")
    return listed


def text_map(value: Mapping[str, str] | None, what: str) -> dict[str, str] | None:
    """A mapping of str to str given as ``what``, or TypeError."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{what}: a mapping of str to str, not {type(value).__name__}")
    for key, text in value.items():
        if not isinstance(key, str) or not isinstance(text, str):
            raise TypeError(f"{what}: {key!r}: {text!r}: keys and values must be str")
    return dict(value)
