"""Text from a registry made safe for a terminal: control characters become visible escapes.

A label, tag, annotation or error body is whatever the registry (or whoever
pushed the image) put there. Written raw, ``ESC ] 0 ; ... BEL`` retitles the
window, ``ESC [ 2 J`` clears the screen and ``CSI`` sequences (``ESC [`` or the
one-byte C1 ``U+009B``) can move the cursor to paint over earlier output. Every
human-readable line the CLI prints goes through :func:`printable`; raw outputs
(``manifest``, ``config``, ``blob``) never do, and JSON escapes these
characters itself (see :func:`json_safe`).
"""

from __future__ import annotations

__all__ = ["json_safe", "printable", "printable_lines"]

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


def printable(text: str, *, keep_tabs: bool = False) -> str:
    """``text`` with every control character written as a visible escape (``\\x1b``).

    C0 characters and DEL become ``\\xNN`` (``\\t``, ``\\n``, ``\\r`` by name), C1
    characters ``\\u0080``-``\\u009f``; other characters, backslashes included, are
    kept, so applying it twice changes nothing. ``keep_tabs`` leaves TAB alone for
    lines whose fields the CLI itself separates with tabs (a TAB cannot drive a
    terminal).
    """
    return text.translate(_TABLE_KEEP_TABS if keep_tabs else _TABLE)


def printable_lines(text: str) -> str:
    """:func:`printable` for each line of a multi-line text the CLI composed itself.

    The line feeds stay line feeds; everything else, carriage returns included, is
    escaped.
    """
    return "\n".join(printable(line) for line in text.split("\n"))


def json_safe(document: str) -> str:
    """A JSON text with DEL and C1 characters written as ``\\u`` escapes too.

    ``json.dumps(..., ensure_ascii=False)`` escapes C0 only; a raw ``U+009B`` is a
    CSI to many terminals. The parsed value is the same.
    """
    return document.translate(_JSON_TABLE)
