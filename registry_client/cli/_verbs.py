"""The whole command line: the global flags, then one sub-command per verb module.

Kept apart from ``_parser`` (the shared Parser and ``add_verb`` the verb modules
use) so that the verb modules and the parser they register into import each other
in one direction only.

A command names one verb: :func:`build_parser` given the command's arguments imports
and builds only the module of that verb (building all thirty verbs, each with a copy
of the global flags, and importing their modules took ~8 ms of every start).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from types import ModuleType

from ._parser import DESCRIPTION, EPILOG, PROG, Parser, global_flags

__all__ = ["MODULES", "VERBS", "build_parser", "verb_named"]

MODULES = ("_listing", "_show", "_transfer", "_edit", "_artifacts", "_archive", "_prune",
           "_ratelimit", "_mutate", "_auth")
"""The verb modules, in the order ``--help`` lists their verbs."""

VERBS = {
    **dict.fromkeys(("ls", "tags", "list-tags", "catalog", "parse"), "_listing"),
    **dict.fromkeys(("manifest", "digest", "config", "inspect", "blob"), "_show"),
    **dict.fromkeys(("pull", "push", "copy", "cp", "sync"), "_transfer"),
    **dict.fromkeys(("tag", "delete"), "_edit"),
    **dict.fromkeys(("referrers", "attach"), "_artifacts"),
    **dict.fromkeys(("validate", "index", "artifact"), "_archive"),
    "prune": "_prune",
    "ratelimit": "_ratelimit",
    **dict.fromkeys(("append", "mutate", "flatten", "rebase", "export"), "_mutate"),
    **dict.fromkeys(("auth", "login", "logout"), "_auth"),
}
"""Each verb (and alias) and the module that registers it (a test keeps it complete)."""


def verb_named(argv: Sequence[str], flags: argparse.ArgumentParser | None = None) -> str | None:
    """The verb ``argv`` names, read as argparse reads it; None when in doubt (no verb,
    an unknown one, help, ``--``, or a cluster of short flags such as ``-vu``).

    ``flags``: a parser with the global flags (default: one built for it), whose flags
    that take a value (``--timeout 5``) are skipped with their value.
    """
    valued = {flag for action in (flags or global_flags(False))._actions
              if action.nargs is None for flag in action.option_strings}
    words = iter(argv)
    for word in words:
        if word in valued:
            next(words, None)
        elif word in ("-h", "--help", "--") or (word.startswith("-") and not word.startswith(
                "--") and len(word) > 2):
            return None
        elif not word.startswith("-"):
            return word if word in VERBS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> Parser:
    """The parser: global flags, then the sub-commands -- every verb's, or only those of
    the module of the verb ``argv`` names (when given and :func:`verb_named` is sure)."""
    parser = Parser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG, parents=[global_flags(False)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(
        dest="verb", metavar="VERB", title="verbs", required=True, parser_class=Parser,
    )
    common = [global_flags(True)]
    verb = verb_named(argv, parser) if argv is not None else None
    for name in MODULES if verb is None else (VERBS[verb],):
        _module(name).register(verbs, common)
    return parser


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{__package__}.{name}")
