"""Scopes and grant rules of the test token server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from ._util import parse_actions

#: ``user (None = anonymous) -> {pattern: actions}``.  A pattern without a colon is an
#: fnmatch glob over repository names (``"*"`` also matches names containing ``/``); a
#: pattern ``"TYPE:GLOB"`` applies to other resource types, e.g. ``"registry:catalog"``.
#: Actions are comma-separated (``"pull"``, ``"pull,push"``, ``"delete"``) or ``"*"``.
Grants = Mapping[str | None, Mapping[str, str]]

ADMIN_RULES: dict[str, str] = {"*": "*", "registry:catalog": "*"}
USER_RULES: dict[str, str] = {"*": "pull,push"}
ANONYMOUS_RULES: dict[str, str] = {"*": "pull"}


@dataclasses.dataclass(frozen=True)
class Scope:
    """A parsed token scope such as ``repository:library/alpine:pull,push``."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        """Parse ``TYPE[(CLASS)]:NAME:ACTIONS``; return None when malformed."""
        first = text.find(":")
        last = text.rfind(":")
        if first <= 0 or last == first:
            return None
        rtype = text[:first]
        if "(" in rtype:  # resource class, e.g. repository(plugin)
            rtype = rtype[: rtype.index("(")]
        return cls(rtype, text[first + 1 : last], tuple(parse_actions(text[last + 1 :])))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def split_scopes(values: Iterable[str]) -> list[str]:
    """Flatten scope parameters; each may hold several space-separated scopes."""
    return [part for value in values for part in value.split() if part]


def default_grants(users: Iterable[str], admin: str) -> dict[str | None, dict[str, str]]:
    """Defaults: admin may do anything, other users pull+push, anonymous pull."""
    grants: dict[str | None, dict[str, str]] = {None: dict(ANONYMOUS_RULES)}
    for user in users:
        grants[user] = dict(ADMIN_RULES if user == admin else USER_RULES)
    return grants


def allowed_actions(rules: Mapping[str, str], rtype: str, name: str) -> set[str]:
    """The actions ``rules`` allow on resource ``rtype:name``."""
    allowed: set[str] = set()
    for pattern, actions in rules.items():
        ptype, _, glob = pattern.partition(":") if ":" in pattern else ("repository", "", pattern)
        if ptype == rtype and fnmatchcase(name, glob):
            allowed.update(parse_actions(actions))
    return allowed


def grant_access(rules: Mapping[str, str], scopes: Iterable[Scope]) -> list[dict[str, Any]]:
    """Build the token ``access`` claim: requested actions intersected with allowed ones.

    A requested action that is not allowed is silently dropped (as Docker's token server
    does); resources left without actions are omitted, so the list may be empty.
    """
    merged: dict[tuple[str, str], list[str]] = {}
    for scope in scopes:
        allowed = allowed_actions(rules, scope.type, scope.name)
        granted = [a for a in scope.actions if "*" in allowed or a in allowed]
        if granted:
            actions = merged.setdefault((scope.type, scope.name), [])
            actions.extend(a for a in granted if a not in actions)
    return [
        {"type": rtype, "name": name, "actions": actions}
        for (rtype, name), actions in merged.items()
    ]
