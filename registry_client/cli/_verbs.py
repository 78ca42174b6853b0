"""The whole command line: the global flags, then one sub-command per verb module.

Kept apart from ``_parser`` (the shared Parser and ``add_verb`` the verb modules
use) so that the verb modules and the parser they register into import each other
in one direction only.
"""

from __future__ import annotations

import argparse

from . import (
    _archive,
    _artifacts,
    _auth,
    _edit,
    _listing,
    _mutate,
    _prune,
    _ratelimit,
    _show,
    _transfer,
)
from ._parser import DESCRIPTION, EPILOG, PROG, Parser, global_flags

__all__ = ["build_parser"]


def build_parser() -> Parser:
    """The full parser: global flags, then one sub-command per verb."""
    parser = Parser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG, parents=[global_flags(False)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(
        dest="verb", metavar="VERB", title="verbs", required=True, parser_class=Parser,
    )
    common = [global_flags(True)]
    for module in (_listing, _show, _transfer, _edit, _artifacts, _archive, _prune, _ratelimit,
                   _mutate, _auth):
        module.register(verbs, common)
    return parser
