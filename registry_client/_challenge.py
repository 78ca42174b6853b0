"""Parse ``WWW-Authenticate`` headers into challenges (RFC 7235), without I/O."""

from __future__ import annotations

import re

import attrs

from ._headers import TOKEN_RE as _TOKEN_RE
from ._headers import quoted_string
from ._headers import skip_ws as _skip_ws

_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class ChallengeParseError(ValueError):
    """The header does not follow the challenge grammar."""


@attrs.frozen
class Challenge:
    """One auth challenge: a scheme (lower-cased) and its parameters (keys lower-cased)."""

    scheme: str
    params: dict[str, str] = attrs.field(factory=dict, hash=False)

    @property
    def realm(self) -> str | None:
        """The ``realm`` parameter, if any."""
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        """The ``service`` parameter, if any."""
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        """The ``scope`` parameter, if any."""
        return self.params.get("scope")


def _quoted(s: str, i: int) -> tuple[str, int]:
    got = quoted_string(s, i)  # s[i] == '"'
    if got is None:
        raise ChallengeParseError("unterminated quoted string")
    return got


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` value into its challenges.

    Commas inside quoted values (``scope="repository:a:pull,push"``) are kept.

    Raises:
        ChallengeParseError: the header is malformed.
    """
    s = header
    i = 0
    result: list[Challenge] = []
    n = len(s)
    while True:
        i = _skip_ws(s, i)
        while i < n and s[i] == ",":
            i = _skip_ws(s, i + 1)
        if i >= n:
            break
        m = _TOKEN_RE.match(s, i)
        if not m:
            raise ChallengeParseError(f"expected an auth scheme at offset {i}")
        scheme = m.group(0).lower()
        i = m.end()
        params: dict[str, str] = {}
        j = _skip_ws(s, i)
        if j < n and s[j] != ",":
            # token68 form (Basic abc==) or auth-params
            m68 = _TOKEN68_RE.match(s, j)
            k = _skip_ws(s, m68.end()) if m68 else j
            if m68 and (k >= n or s[k] == ",") and "=" not in m68.group(0).rstrip("="):
                params[""] = m68.group(0)
                i = k
            else:
                i = j
                while i < n:
                    m = _TOKEN_RE.match(s, i)
                    if not m:
                        raise ChallengeParseError(f"expected a parameter name at offset {i}")
                    k = _skip_ws(s, m.end())
                    if k >= n or s[k] != "=":
                        # the start of the next challenge
                        break
                    key = m.group(0).lower()
                    k = _skip_ws(s, k + 1)
                    if k < n and s[k] == '"':
                        value, k = _quoted(s, k)
                    else:
                        mv = _TOKEN_RE.match(s, k)
                        if not mv:
                            raise ChallengeParseError(f"expected a value for {key!r}")
                        value, k = mv.group(0), mv.end()
                    params[key] = value
                    k = _skip_ws(s, k)
                    if k < n and s[k] == ",":
                        k = _skip_ws(s, k + 1)
                        while k < n and s[k] == ",":
                            k = _skip_ws(s, k + 1)
                        i = k
                        continue
                    i = k
                    if k < n:
                        raise ChallengeParseError(f"unexpected character at offset {k}")
                    break
        result.append(Challenge(scheme, params))
    return result
