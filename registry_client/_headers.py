"""Pieces of RFC 9110's header-field grammar (tokens, optional white space,
quoted-strings), shared by the parsers of ``WWW-Authenticate`` and ``Link``. Only the
standard library is imported: every layer may use it."""

from __future__ import annotations

import re

__all__ = ["TOKEN", "TOKEN_RE", "quoted_string", "skip_ws"]

TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
"""RFC 9110 5.6.2's ``token`` (one or more ``tchar``), as a pattern."""
TOKEN_RE = re.compile(TOKEN)
_WS_RE = re.compile(r"[ \t]*")


def skip_ws(s: str, i: int) -> int:
    """The index of the first character at or after ``i`` that is not OWS (space, tab)."""
    m = _WS_RE.match(s, i)
    return m.end() if m else i


def quoted_string(s: str, i: int) -> tuple[str, int] | None:
    """The quoted-string that starts at ``s[i]`` (a ``"``), its quoted-pairs undone, and
    the index after its closing quote; None when it never closes."""
    out: list[str] = []
    i += 1
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return None
