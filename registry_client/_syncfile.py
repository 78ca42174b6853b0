"""Read a sync file: a JSON or YAML mapping of source -> target references.

An entry's value is its target, or ``{target: ..., tags: REGEX}`` to copy only
the tags of the source repository that the regular expression matches.
Everything that can be wrong with such a file is a ValueError naming the file
and, where it can, the line: not UTF-8, malformed, nested too deeply, a source
listed twice (JSON and PyYAML would keep the last one without a word), an entry
that is neither a string -> string pair nor a source -> ``{target, tags}`` one, a
tag pattern that is not a regular expression.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["read_mapping"]

PATTERN_KEYS = ("target", "tags")


def read_mapping(path: str | os.PathLike[str]) -> list[tuple[str, str, str | None]]:
    """The ``(source, target, tag pattern or None)`` entries of a sync file, in file
    order (see ``load_sync_file``)."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    lines: dict[object, int] = {}  # a source -> the line it is on (YAML; JSON: found)
    doc: Any
    try:
        doc = json.loads(text, object_pairs_hook=_unique_pairs)
    except _Duplicate as dup:
        raise ValueError(f"{path}{_json_line(text, dup.key, 2)}: {dup.key!r} is listed twice"
                         ) from None
    except RecursionError:
        raise ValueError(f"{path}: nested too deeply (a sync file is a flat mapping)"
                         ) from None
    except json.JSONDecodeError as exc:
        if str(path).lower().endswith(".json"):
            raise ValueError(f"{path}, line {exc.lineno}, column {exc.colno}: {exc.msg}"
                             ) from None
        doc, lines, top = _load_yaml(text, path)
    else:
        top = 0  # (json gives no positions; the entries' lines are found by their key)
        if isinstance(doc, dict):
            lines = {k: n for k in doc if (n := _json_line_number(text, k, 1))}
    return _entries(doc, path, lines, top)


def _entries(doc: Any, path: str | os.PathLike[str], lines: dict[object, int], top: int
             ) -> list[tuple[str, str, str | None]]:
    """The entries of a loaded document; anything but a flat string mapping names the entry."""
    if not isinstance(doc, dict):
        where = f", line {top}" if top else ""
        got = "nothing" if doc is None else f"got {_kind(doc)}"
        raise ValueError(f"{path}{where}: want a mapping of source reference -> target "
                         f"repository, {got}")
    entries: list[tuple[str, str, str | None]] = []
    for source, value in doc.items():
        where = f", line {lines[source]}" if source in lines else ""
        if not isinstance(source, str):
            raise ValueError(f"{path}{where}: the source {source!r} is {_kind(source)}, want "
                             "a source reference (quote it)")
        target, tags = value, None
        if isinstance(value, dict) and ("target" in value or "tags" in value):
            target, tags = _with_pattern(value, f"{path}{where}: the source {source!r}")
        if target is None:
            raise ValueError(f"{path}{where}: the source {source!r} has no target")
        if not isinstance(target, str):
            hint = " (quote it)" if not isinstance(target, list | dict) else ""
            raise ValueError(f"{path}{where}: the source {source!r}: the target is "
                             f"{_kind(target)}, want a target repository{hint}, or "
                             "{target: REPOSITORY, tags: REGEX}")
        entries.append((source, target, tags))
    return entries


def _with_pattern(value: dict[Any, Any], what: str) -> tuple[Any, str]:
    """``(target, tags)`` of a ``{target: ..., tags: REGEX}`` entry, checked."""
    unknown = [k for k in value if k not in PATTERN_KEYS]
    if unknown:
        raise ValueError(f"{what}: unknown key {unknown[0]!r}, want a target repository, or "
                         "{target: REPOSITORY, tags: REGEX}")
    tags = value.get("tags")
    if not isinstance(tags, str):
        raise ValueError(f"{what}: tags is {_kind(tags) if tags is not None else 'missing'}"
                         ", want a regular expression (quote it)")
    try:
        re.compile(tags)
    except re.error as exc:
        raise ValueError(f"{what}: tags {tags!r} is not a regular expression ({exc})"
                         ) from None
    return value.get("target"), tags


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: a JSON object naming a key twice is refused (json keeps the last)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(key)
        result[key] = value
    return result


def _json_line_number(text: str, key: object, occurrence: int) -> int | None:
    """The line of the ``occurrence``-th ``"key":`` in a JSON text (escapes as json writes)."""
    if not isinstance(key, str):
        return None
    pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
    for n, match in enumerate(pattern.finditer(text), 1):
        if n == occurrence:
            return text.count("\n", 0, match.start()) + 1
    return None


def _json_line(text: str, key: str, occurrence: int) -> str:
    line = _json_line_number(text, key, occurrence)
    return f", line {line}" if line else ""


_LOADERS: dict[Any, Any] = {}  # base loader -> its duplicate-refusing subclass
_MERGE = "tag:yaml.org,2002:merge"


def _yaml_loader(base: Any = None) -> Any:
    """A safe YAML loader (libyaml's CSafeLoader when there) that refuses duplicate keys.

    PyYAML keeps the last of two equal keys: a source listed twice would be
    dropped without a word. The check names the second key's line. Merge keys
    (``<<: *common``) merge, also on a base loader that reads every scalar as written.
    """
    import yaml  # only sync files need it: a quicker import of the package

    if base is None:
        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if base in _LOADERS:
        return _LOADERS[base]

    merges = not hasattr(base, "flatten_mapping")  # (the base loader: "<<" is a plain key)

    def tag_merges(node: Any) -> None:  # (in the mappings merged, too)
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" \
                    and not key_node.style:
                key_node.tag = _MERGE
                merged = (value_node.value if isinstance(value_node, yaml.SequenceNode)
                          else [value_node])
                for sub in merged:
                    if isinstance(sub, yaml.MappingNode):
                        tag_merges(sub)

    def construct_mapping(self: Any, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            if merges:  # a plain "<<" merges, as YAML 1.1 and Go's yaml (skopeo's) read it
                tag_merges(node)
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue  # merged keys may be overridden: YAML says so
                key = self.construct_object(key_node)
                try:
                    twice = key in seen
                except TypeError:
                    continue  # an unhashable key: the base class refuses it
                if twice:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{key!r} is listed twice", key_node.start_mark)
                seen.add(key)
            if merges:
                self.flatten_mapping(node)
                # Go's yaml reads a key set by a merge and again its own way (the later
                # wins, maps joined), not as YAML says (the mapping's own, whole):
                # refused, or images would go missing without a word
                merged: set[Any] = set()
                for key_node, _ in node.value:
                    key = self.construct_object(key_node)
                    if not isinstance(key, str):
                        continue  # (not a key skopeo reads: refused by name later)
                    if key in merged:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"{key!r} is set twice, by a merge (<<) and again: "
                            "skopeo reads that its own way; set it once",
                            key_node.start_mark)
                    merged.add(key)
        return base.construct_mapping(self, node, deep)

    methods: dict[str, Any] = {"construct_mapping": construct_mapping}
    if merges:
        methods["flatten_mapping"] = yaml.constructor.SafeConstructor.flatten_mapping
    loader = type(f"_Unique{base.__name__}", (base,), methods)
    _LOADERS[base] = loader
    return loader


def _load_yaml(text: str, path: str | os.PathLike[str], base: Any = None,
               ) -> tuple[Any, dict[object, int], int]:
    """``(document, line of each top-level key, line of the document)`` of a YAML text.

    A malformed or too deeply nested document, or a key listed twice, is a
    ValueError naming the file and line. ``base``: the PyYAML loader class to build on
    (default: the safe loader).
    """
    import yaml  # only sync files need it: a quicker import of the package

    loader = _yaml_loader(base)(text)
    try:
        node = loader.get_single_node()
        doc = loader.construct_document(node) if node is not None else None
        lines: dict[object, int] = {}
        if isinstance(node, yaml.MappingNode):
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    lines.setdefault(loader.construct_object(key_node),
                                     key_node.start_mark.line + 1)
        return doc, lines, (node.start_mark.line + 1 if node is not None else 0)
    except RecursionError:
        raise ValueError(f"{path}: nested too deeply (a sync file is a flat mapping)"
                         ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = " ".join(str(exc.problem or exc.context or "malformed YAML").split())
        raise ValueError(f"{path}{where}: {what}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ValueError(f"{path}, line {line}: character #x{char:04x} is not allowed in YAML"
                         ) from None
    finally:
        loader.dispose()
