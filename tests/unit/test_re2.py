"""Go's regexp syntax (RE2), read into Python's re as skopeo's tag regexes mean it."""

from __future__ import annotations

import re

import pytest

from registry_client._re2 import re2_pattern
from registry_client._skopeo_sync import go_regex

TAGS = ["v1", "v2", "v10", "v1.0", "v1x0", "1.0", "latest", "a_b", "a1", "V3", "x-y", "v1."]


def matched(expression: str) -> list[str]:
    pattern = re.compile(re2_pattern(expression))
    return [t for t in TAGS if pattern.search(t)]


@pytest.mark.parametrize(("expression", "tags"), [
    # POSIX classes inside a bracket expression (Go has them, Python's re has not)
    (r"^v[[:digit:]]+$", ["v1", "v2", "v10"]),
    (r"^[[:alpha:]]+$", ["latest"]),
    (r"^[[:lower:][:digit:]]+$", ["v1", "v2", "v10", "v1x0", "latest", "a1"]),
    (r"^[[:word:]]+$", ["v1", "v2", "v10", "v1x0", "latest", "a_b", "a1", "V3"]),
    (r"^[[:^alpha:]]", ["1.0"]),
    (r"[^[:alnum:]]", ["v1.0", "1.0", "a_b", "x-y", "v1."]),
    (r"^[[:upper:]]", ["V3"]),
    (r"^[[:xdigit:]]+$", ["a1"]),
    (r"[[:punct:]]", ["v1.0", "1.0", "a_b", "x-y", "v1."]),
    # \z is the end of the text; Python spells it \Z
    (r"^v1\z", ["v1"]),
    # \Q...\E: literal text (to the end when \E is missing)
    (r"^\Qv1.0\E$", ["v1.0"]),
    (r"^\Qv1.", ["v1.0", "v1."]),
    (r"\Q-\Ey", ["x-y"]),
    # Unicode classes, one letter, braced and negated (tags are ASCII)
    (r"^v\pN", ["v1", "v2", "v10", "v1.0", "v1x0", "v1."]),
    (r"^v\p{Nd}+$", ["v1", "v2", "v10"]),
    (r"^\PL", ["1.0"]),
    (r"^\p{^L}", ["1.0"]),
    (r"^[\pL_]+$", ["latest", "a_b"]),
    (r"^[^\pL\pN]", []),
    (r"^\p{Latin}+$", ["latest"]),
    (r"\p{Greek}", []),
    (r"^[\p{Greek}v]1$", ["v1"]),
    (r"\pP", ["v1.0", "1.0", "a_b", "x-y", "v1."]),
    # \x{...}: a character by its code
    (r"^\x{76}1$", ["v1"]),
    # flags, and what reads alike in both
    (r"(?i)^v[[:digit:]]$", ["v1", "v2", "V3"]),
    (r"^v1\.\d+$", ["v1.0"]),
    (r"[]a]_", ["a_b"]),
    (r"^[^]v]", ["1.0", "latest", "a_b", "a1", "V3", "x-y"]),
    # Go reads {,n} as the text "{,n}", Python as {0,n}
    (r"^v{,2}1$", []),
    # flags anywhere, for the rest of their group (Python: only at the start)
    (r"^(?i)V1", ["v1", "v10", "v1.0", "v1x0", "v1."]),
    (r"^v(?i)1", ["v1", "v10", "v1.0", "v1x0", "v1."]),
    (r"^(?:x|(?i)V)3", ["V3"]),
    (r"^(?i)v(?-i)3$", ["V3"]),
    (r"^(?i:V)3", ["V3"]),
    (r"^(?i)V(?-i:3)$", ["V3"]),
    # ungreedy, multi-line and dot-all change nothing for a search in a tag
    (r"(?U)^v1", ["v1", "v10", "v1.0", "v1x0", "v1."]),
    (r"^(?sm)v1\.$", ["v1."]),
    (r"^(?U:v+)1$", ["v1"]),
    (r"^v{1000}", []),
])
def test_go_regexp_finds_the_tags_skopeo_finds(expression: str, tags: list[str]) -> None:
    assert matched(expression) == tags


@pytest.mark.parametrize("expression", [
    r"\p{Bogus}", r"\p", r"\p{L", r"[[:bogus:]]", r"\x{zz}", r"\x{110000}",
    # Python's, not Go's: flags x and a, \u, conditionals, repeats over 1000, empty flags
    r"(?x) ^v 1", r"(?a)^v1", r"^v(?x:1)", r"\u0076", r"[\u0076]", r"\N{DIGIT ONE}",
    r"(v)?(?(1)1|x)", r"^v1|x{1001}", r"x{2,1001}", r"(?)v", r"(?i-)v", r"\e",
])
def test_what_go_refuses_is_a_re_error(expression: str) -> None:
    with pytest.raises(re.error):
        re2_pattern(expression)


def test_plain_expressions_are_kept_as_written() -> None:
    for expression in (r"^v1\.\d+$", "(?i)^V", r"[\w.-]+", "(?P<x>v)1", r"\Av1$", "v1*?"):
        assert re2_pattern(expression) == expression


@pytest.mark.parametrize(("expression", "tags"), [
    (r"^v\p{Nd}+$", ["v1", "v2", "v10"]),  # a repeated \p{..} is no possessive quantifier
    (r"^v\x{31}+$", ["v1"]),
    (r"^\166\61$", ["v1"]),  # octal codes, as Go reads them (Python: a backreference)
    (r"^v(?i)1|^L", ["v1", "v10", "v1.0", "v1x0", "latest", "v1."]),  # (?i) spans the |
    (r"^*v1$", ["v1"]),  # Go repeats an anchor; Python only a group
])
def test_skopeo_s_regexes_find_what_go_finds(expression: str, tags: list[str]) -> None:
    """Cases compared with Go 1.19's regexp.MatchString (skopeo 1.9.3's Go)."""
    pattern = re.compile(go_regex(expression))
    assert [t for t in TAGS if pattern.search(t)] == tags


@pytest.mark.parametrize("expression", [r"^v\1", r"\8", r"a)b", r"(?i)(?i-)"])
def test_what_go_refuses_in_a_sync_file_is_a_re_error(expression: str) -> None:
    with pytest.raises(re.error):
        go_regex(expression)
