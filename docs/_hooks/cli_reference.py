"""MkDocs hook: the command-line reference, generated from the argparse definitions.

A page that holds the line ``<!-- cli-reference -->`` gets, in its place, the
``--help`` of ``registry-client`` and of every verb (and of every sub-verb, such as
``auth login``), as ``registry_client.cli._verbs.build_parser()`` defines them at build
time. A new verb therefore appears in the documentation without anyone editing it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

MARKER = "<!-- cli-reference -->"
WIDTH = "88"  # argparse wraps help to $COLUMNS; fixed, so every build renders the same


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, list[str],
                                                                      argparse.ArgumentParser]]:
    """Each sub-command of ``parser``: its name, its aliases and its own parser."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        parsers: dict[str, argparse.ArgumentParser] = action.choices
        for choice in action._choices_actions:
            name = choice.dest
            sub = parsers[name]
            aliases = [alias for alias, other in parsers.items()
                       if other is sub and alias != name]
            yield name, aliases, sub


def _sections(parser: argparse.ArgumentParser, words: list[str],
              level: int) -> Iterator[str]:
    """The reference of ``parser`` (reached by ``words``) and of its sub-commands."""
    for name, aliases, sub in _subcommands(parser):
        path = [*words, name]
        title = " ".join(path)
        heading = "#" * level
        yield f"{heading} {title}\n"
        if aliases:
            also = ", ".join(f"`{' '.join([*words, alias])}`" for alias in aliases)
            yield f"Also spelled {also}.\n"
        yield f"```text\n{sub.format_help().rstrip()}\n```\n"
        yield from _sections(sub, path, min(level + 1, 6))


def render() -> str:
    """The whole reference as Markdown: the top-level help, then one section per verb."""
    from registry_client.cli._verbs import build_parser

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        parser = build_parser()
        parts = [f"```text\n{parser.format_help().rstrip()}\n```\n"]
        parts.extend(_sections(parser, [parser.prog], 3))
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    return "\n".join(parts)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Put the generated reference where a page asks for it."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())
