"""Text from a registry made safe for a terminal: control characters become visible escapes.

A label, tag, annotation or error body is whatever the registry (or whoever
pushed the image) put there. Written raw, ``ESC ] 0 ; ... BEL`` retitles the
window, ``ESC [ 2 J`` clears the screen and ``CSI`` sequences (``ESC [`` or the
one-byte C1 ``U+009B``) can move the cursor to paint over earlier output. Bidi
overrides and isolates (``U+202E``, ``U+2066``...), zero-width characters and
other format characters (category Cf) reorder or hide text ("Trojan Source"),
line and paragraph separators break lines, and a lone surrogate (a JSON
``\\ud83d`` escape) cannot even be encoded. What an error message quotes of a
registry's answer, and every human-readable line the CLI prints, goes through
:func:`printable`; the CLI's raw outputs (``manifest``, ``config``, ``blob``) never
do, and JSON escapes these characters itself (see :func:`json_safe`). Only the
standard library is imported: every layer may use it.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["is_utf8", "json_safe", "printable", "printable_lines"]

_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
# C0 (incl. ESC, BEL, CR, LF, TAB), DEL and C1 (0x80-0x9f, 8-bit CSI/OSC among them).
_CONTROLS = (*range(0x00, 0x20), *range(0x7F, 0xA0))


def _escape(code: int) -> str:
    if code in _NAMED:
        return _NAMED[code]
    # \u009b, not \x9b: the character is U+009B, not the byte 0x9b of a UTF-8 text.
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


_TABLE = {code: _escape(code) for code in _CONTROLS}
_TABLE_KEEP_TABS = {code: text for code, text in _TABLE.items() if code != 0x09}
# JSON must escape only C0; DEL and C1 are legal raw in a JSON string. \u escapes
# of them decode to the same string, so the document's value does not change.
_JSON_TABLE = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}
# Format characters, line/paragraph separators and (lone) surrogates: invisible or
# reordering on a terminal, or not encodable. Only non-ASCII text is looked at.
_INVISIBLE = frozenset({"Cf", "Zl", "Zp", "Cs"})
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _is_invisible(char: str) -> bool:
    return unicodedata.category(char) in _INVISIBLE


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if not _is_invisible(char):
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if not _is_invisible(char):
        return char
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON writes an astral character as a surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def printable(text: str, *, keep_tabs: bool = False) -> str:
    """``text`` with every control character written as a visible escape (``\\x1b``).

    C0 characters and DEL become ``\\xNN`` (``\\t``, ``\\n``, ``\\r`` by name), C1
    characters ``\\u0080``-``\\u009f``; format characters (bidi overrides and
    isolates, zero-width characters, BOM: category Cf), ``U+2028``/``U+2029`` and
    lone surrogates become ``\\u202e``, ``\\ud83d`` (``\\U000e0001`` beyond the
    BMP); other characters, backslashes included, are kept, so applying it twice
    changes nothing. ``keep_tabs`` leaves TAB alone for lines whose fields the CLI
    itself separates with tabs (a TAB cannot drive a terminal).
    """
    text = text.translate(_TABLE_KEEP_TABS if keep_tabs else _TABLE)
    return text if text.isascii() else _NON_ASCII.sub(_visible, text)


def printable_lines(text: str) -> str:
    """:func:`printable` for each line of a multi-line text the CLI composed itself.

    The line feeds stay line feeds; everything else, carriage returns included, is
    escaped.
    """
    return "\n".join(printable(line) for line in text.split("\n"))


def json_safe(document: str) -> str:
    """A JSON text with DEL, C1 and the characters :func:`printable` escapes as ``\\u``.

    ``json.dumps(..., ensure_ascii=False)`` escapes C0 only; a raw ``U+009B`` is a
    CSI to many terminals, a raw ``U+202E`` reverses the line, and a lone
    surrogate cannot be encoded at all. Such characters occur only inside JSON
    strings, where their ``\\u`` escapes (a surrogate pair beyond the BMP) parse
    back to the same value.
    """
    document = document.translate(_JSON_TABLE)
    return document if document.isascii() else _NON_ASCII.sub(_json_escape, document)


def is_utf8(value: str) -> bool:
    """Whether ``value`` is text UTF-8 can encode: not bytes Python keeps as lone
    surrogates (``surrogateescape``, a JSON ``"\\ud800"``), which no JSON document,
    query or header can carry."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
