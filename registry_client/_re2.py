"""Go's regular expressions (RE2 syntax) rewritten for Python's :mod:`re`, for tags.

skopeo compiles a sync file's ``images-by-tag-regex`` with Go's ``regexp``. Most of its
syntax reads the same in Python; what does not is rewritten here, exactly for the
characters a tag can hold (ASCII: ``[A-Za-z0-9_.-]``):

* POSIX classes in brackets, ``[[:digit:]]`` and ``[[:^alpha:]]`` (Python reads
  ``[[:digit:]]`` as a set of ``[:digt`` followed by ``]``, and matches nothing);
* Unicode classes ``\\pN``, ``\\p{Nd}``, ``\\PL``, ``\\p{^L}``, ``\\p{Latin}``;
* ``\\z`` (the end of the text: Python's ``\\Z``), ``\\Q...\\E`` (literal text),
  ``\\x{76}`` (a character by its code), and ``{,n}`` (literal text in Go).

What RE2 refuses and Python reads (lookaround, backreferences...) is checked by the
caller; what neither reads raises :class:`re.error`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

__all__ = ["re2_pattern"]

_ASCII = frozenset(map(chr, range(128)))
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_DIGITS = frozenset("0123456789")


def _span(first: str, last: str) -> frozenset[str]:
    return frozenset(map(chr, range(ord(first), ord(last) + 1)))


_PUNCT = _span("!", "/") | _span(":", "@") | _span("[", "`") | _span("{", "~")
_POSIX = {  # Go's regexp/syntax perl_groups.go, posixGroup
    "alnum": _LETTERS | _DIGITS, "alpha": _LETTERS, "ascii": _ASCII,
    "blank": frozenset("\t "), "cntrl": _span("\x00", "\x1f") | {"\x7f"},
    "digit": _DIGITS, "graph": _span("!", "~"), "lower": _span("a", "z"),
    "print": _span(" ", "~"), "punct": _PUNCT, "space": frozenset("\t\n\v\f\r "),
    "upper": _span("A", "Z"), "word": _LETTERS | _DIGITS | {"_"},
    "xdigit": _DIGITS | _span("A", "F") | _span("a", "f"),
}
_CATEGORIES = frozenset({
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn",
    "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps",
    "S", "Sc", "Sk", "Sm", "So", "Z", "Zl", "Zp", "Zs",
})
# Of the scripts, only Latin and Common hold ASCII characters; the others none of a tag's
_SCRIPTS = {"Any": _ASCII, "Latin": _LETTERS, "Common": _ASCII - _LETTERS}
_OTHER_SCRIPTS = frozenset((  # Go's unicode.Scripts (Unicode 15)
    "Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah "
    "Batak Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal "
    "Carian Caucasian_Albanian Chakma Cham Cherokee Chorasmian Coptic Cuneiform Cypriot "
    "Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan "
    "Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha "
    "Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran "
    "Hebrew Hiragana Imperial_Aramaic Inherited Inscriptional_Pahlavi "
    "Inscriptional_Parthian Javanese Kaithi Kannada Kawi Katakana Kayah_Li Kharoshthi "
    "Khitan_Small_Script Khmer Khojki Khudawadi Lao Lepcha Limbu Linear_A Linear_B Lisu "
    "Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi "
    "Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao "
    "Modi Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari New_Tai_Lue "
    "Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic "
    "Old_North_Arabian Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic "
    "Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa "
    "Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham "
    "SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac "
    "Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana "
    "Thai Tibetan Tifinagh Tirhuta Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi "
    "Yi Zanabazar_Square").split())
_NOTHING = "\\x00"  # inside a class: a character no tag holds, for an empty set
_REPEAT_WITHOUT_MIN = re.compile(r"\{,\d*\}")
Opened = Literal["group", "scope", "none"]
_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")
_MAX_REPEAT = 1000  # Go's regexp/syntax maxRepeat
_FLAGS = re.compile(r"\(\?([A-Za-z]*)(?:(-)([A-Za-z]*))?([:)])")
# Go's escapes of a letter or digit (the others are refused); punctuation escapes itself
_ANCHORS = frozenset({"^", "$", "\\A", "\\Z", "\\b", "\\B"})
_OCTAL = re.compile(r"[0-7]{1,3}")
_GO_ESCAPES = frozenset("afnrtvxAbBzdDsSwWpPQE01234567")


def re2_pattern(expression: str) -> str:
    """``expression`` in Go's syntax as a Python pattern that finds the same tags.

    Raises:
        re.error: Go's regexp would refuse it (an unknown class, a bad ``\\x{...}``),
            or Python's ``re`` cannot compile what it becomes.
    """
    out: list[str] = []
    i, end = 0, len(expression)
    in_class = False
    scopes: list[list[str]] = [[]]  # per open group: its (?flags) scopes, as opened
    flags_at: set[int] = set()  # the items of ``out`` that are flag settings
    while i < end:
        char = expression[i]
        if char == "\\" and i + 1 < end:
            text, i = _escape(expression, i, in_class)
            out.append(text)
        elif not in_class and char == "(":
            text, i, opened = _group(expression, i)
            if opened != "group":
                flags_at.add(len(out))
            out.append(text)
            if opened == "scope":
                scopes[-1].append(text)  # (?i) to the end of the group it is in
            elif opened == "group":
                scopes.append([])
        elif not in_class and char == ")":
            if len(scopes) == 1:
                raise re.error(f"unexpected ) at position {i}")
            out.append(")" * len(scopes.pop()) + ")")
            i += 1
        elif not in_class and char == "|":
            # a flag lasts into the group's next alternative: close its scope, reopen it
            out.append(")" * len(scopes[-1]) + "|" + "".join(scopes[-1]))
            i += 1
        elif not in_class and (char in "*+?" or (char == "{" and _REPEAT.match(expression, i))):
            text, i = _quantifier(expression, i)
            # Go repeats the last atom: a flag setting is none (the repeat goes before
            # it), an anchor is one (Python repeats it only as a group)
            tail: list[str] = []
            while out and len(out) - 1 in flags_at:
                flags_at.discard(len(out) - 1)
                tail.append(out.pop())
            if out and out[-1] in _ANCHORS:
                out[-1] = f"(?:{out[-1]})"
            out.append(text)
            for flag in reversed(tail):
                flags_at.add(len(out))
                out.append(flag)
        elif in_class:
            if char == "[" and expression.startswith("[:", i):
                close = expression.find(":]", i + 2)
                if close < 0:
                    out.append("\\[")
                    i += 1
                    continue
                name = expression[i + 2:close]
                chars = _POSIX.get(name.removeprefix("^"))
                if chars is None:
                    raise re.error(f"invalid character class [:{name}:]")
                out.append(_members(chars, negate=name.startswith("^")))
                i = close + 2
            else:
                in_class = char != "]"
                out.append("\\[" if char == "[" else char)
                i += 1
        elif char == "[":
            out.append("[")
            i += 1
            if expression.startswith("^", i):
                out.append("^")
                i += 1
            if expression.startswith("]", i):  # first in a class, ] is a member
                out.append("\\]")
                i += 1
            in_class = True
        elif char == "{" and (found := _REPEAT_WITHOUT_MIN.match(expression, i)):
            out.append(re.escape(found.group()))
            i = found.end()
        else:
            out.append(char)
            i += 1
    pattern = "".join(out) + ")" * len(scopes[0])
    re.compile(pattern)
    return pattern


def _quantifier(expression: str, i: int) -> tuple[str, int]:
    """The repetition at ``expression[i]`` (``*``, ``+``, ``?`` or ``{n,m}``, lazy or
    not) and where the expression goes on.

    Raises:
        re.error: a count over Go's 1000.
    """
    found = _REPEAT.match(expression, i)
    if expression[i] == "{" and found is not None:
        if any(n and int(n) > _MAX_REPEAT for n in found.groups()):
            raise re.error(f"invalid repeat count: {found.group()}")
        text, i = found.group(), found.end()
    else:
        text, i = expression[i], i + 1
    if expression.startswith("?", i):
        return text + "?", i + 1
    return text, i


def _group(expression: str, i: int) -> tuple[str, int, Opened]:
    """The Python text of the group opening at ``expression[i]``, where the expression
    goes on, and what it opened: a ``group`` to close at its ``)``, the ``scope`` of a
    flag setting such as ``(?i)`` that lasts to the end of the group it is in (Go's
    meaning; Python takes global flags at the start only), or ``none``.

    Go's flags are ``i``, ``m``, ``s`` and ``U``; only ``i`` changes what a search finds
    in a tag (no newlines; ungreedy or not, a match is a match), so the others are
    read and dropped.
    """
    found = _FLAGS.match(expression, i)
    if found is None:
        if expression.startswith("(?(", i):
            raise re.error("conditionals are not Go's regexp syntax")
        return "(", i + 1, "group"  # a plain group, (?P<name>, or what re refuses
    on, dash, off, end = found.group(1), found.group(2), found.group(3) or "", found.group(4)
    if set(on + off) - set("imsU") or (not on and not dash and end == ")") \
            or (dash and not off):
        raise re.error(f"invalid or unsupported Perl syntax: {found.group()}")
    if i == 0 and end == ")" and not dash and set(on) <= {"i"}:
        return found.group(), found.end(), "none"  # Python's global flag at the start
    flags = ("i" if "i" in on else "") + ("-i" if "i" in off else "")
    if end == ":":
        return f"(?{flags}:", found.end(), "group"
    return (f"(?{flags}:", found.end(), "scope") if flags else ("", found.end(), "none")


def _escape(expression: str, i: int, in_class: bool) -> tuple[str, int]:
    """The Python text of the escape at ``expression[i]`` (a backslash), and where the
    expression goes on."""
    kind = expression[i + 1]
    if kind == "Q" and not in_class:
        close = expression.find("\\E", i + 2)
        literal = expression[i + 2:] if close < 0 else expression[i + 2:close]
        return re.escape(literal), len(expression) if close < 0 else close + 2
    if kind in "pP":
        name, after = _class_name(expression, i + 2)
        negate = (kind == "P") != name.startswith("^")
        chars = _unicode_class(name.removeprefix("^"))
        if in_class:
            return _members(chars, negate=negate), after
        if negate:
            return f"[^{_members(chars, negate=False)}]" if chars else "[\\s\\S]", after
        return (f"[{_members(chars, negate=False)}]" if chars else "(?!)"), after
    if kind == "x" and expression.startswith("{", i + 2):
        close = expression.find("}", i + 3)
        try:
            code = int(expression[i + 3:close], 16) if close > 0 else -1
        except ValueError:
            code = -1
        if not 0 <= code <= 0x10FFFF:
            raise re.error(f"invalid escape sequence: {expression[i:close + 1 or None]}")
        return _code(chr(code)), close + 1
    if kind == "z" and not in_class:
        return "\\Z", i + 2
    if kind in "01234567":
        # Go: \0 and \1-\7 before another octal digit start an octal code of up to three
        # digits (Python reads \12 as a backreference); \1-\7 alone is a backreference
        digits = _OCTAL.match(expression, i + 1)
        assert digits is not None
        if kind != "0" and len(digits.group()) == 1:
            raise re.error(f"invalid escape sequence: \\{kind} (no backreferences)")
        return _code(chr(int(digits.group(), 8))), digits.end()
    if kind.isascii() and kind.isalnum() and kind not in _GO_ESCAPES:
        raise re.error(f"invalid escape sequence: \\{kind}")  # \u, \N, \e: Python's
    return expression[i:i + 2], i + 2


def _class_name(expression: str, start: int) -> tuple[str, int]:
    """The name of the Unicode class at ``expression[start]`` (``N`` or ``{Nd}``)."""
    if expression.startswith("{", start):
        close = expression.find("}", start)
        if close < 0:
            raise re.error(f"invalid character class range: {expression[start - 2:]}")
        return expression[start + 1:close], close + 1
    if start >= len(expression):
        raise re.error("invalid character class range: \\p at the end")
    return expression[start], start + 1


def _unicode_class(name: str) -> frozenset[str]:
    """The ASCII characters of Go's Unicode class (category or script) ``name``."""
    if name in _SCRIPTS:
        return _SCRIPTS[name]
    if name in _CATEGORIES:
        return frozenset(c for c in _ASCII if unicodedata.category(c).startswith(name))
    if name in _OTHER_SCRIPTS:
        return frozenset()
    raise re.error(f"invalid character class range: \\p{{{name}}}")


def _members(chars: frozenset[str], *, negate: bool) -> str:
    """``chars`` (or, negated, the other ASCII characters) written inside a class."""
    chosen = sorted(_ASCII - chars if negate else chars)
    if not chosen:
        return _NOTHING
    runs: list[str] = []
    first = last = chosen[0]
    for char in [*chosen[1:], None]:
        if char is not None and ord(char) == ord(last) + 1:
            last = char
            continue
        runs.append(_code(first) if first == last else f"{_code(first)}-{_code(last)}")
        if char is not None:
            first = last = char
    return "".join(runs)


def _code(char: str) -> str:
    """``char`` as an escape that means itself in and out of a class."""
    if char.isalnum() and char.isascii():
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else (
        f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
