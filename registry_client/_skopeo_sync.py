"""Read skopeo's sync file (``skopeo sync --src yaml``) and name the copies as skopeo does.

The file maps registries to what to copy from them::

    registry.example.com:
      images:
        team/app: ["1.0", "2.0"]        # these tags (or digests)
        team/base: []                   # every tag
      images-by-tag-regex:
        team/tools: ^v1\\.              # the tags the regular expression finds
      tls-verify: false                 # HTTPS unchecked, else plain HTTP
      credentials:
        username: me
        password: secret

``skopeo sync --src yaml --dest docker FILE DEST`` (without ``--scoped``) puts each
image at ``DEST/<last path component of the repository>``: skopeo 1.9 takes
``path.Base`` of the source reference, so ``team/app:1.0`` goes to ``DEST/app:1.0``.
Scalars are read as the text written, as Go's YAML reads them into strings
(``1.10`` is the tag ``1.10``, not the number 1.1).
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from typing import Any

import attrs

from ._log import log
from ._re2 import re2_pattern
from ._syncfile import _load_yaml
from .reference import parse_image_name

__all__ = ["SkopeoRegistry", "read_skopeo_sync", "skopeo_copies", "skopeo_destination"]

_KEYS = frozenset({"images", "images-by-tag-regex", "tls-verify", "credentials", "cert-dir"})
_TRUE = frozenset({"true", "yes", "on", "y"})
_FALSE = frozenset({"false", "no", "off", "n"})
_NULL = frozenset({"", "~", "null", "Null", "NULL"})  # (yaml.v2: what reads as null)


@attrs.frozen
class SkopeoRegistry:
    """One registry of a skopeo sync file."""

    domain: str
    """The registry, as the file names it (``registry.example.com:5000``)."""
    images: dict[str, tuple[str, ...]]
    """Repository -> its tags or digests; empty: every tag."""
    tag_regexes: dict[str, str]
    """Repository -> the expression its tags are searched with (Go's MatchString), in
    Python's syntax (:func:`go_regex`)."""
    skipped: dict[str, str] = attrs.field(factory=dict)
    """Repository -> why its ``images-by-tag-regex`` expression is skipped (Go's regexp,
    RE2, refuses it: skopeo logs that and skips the repository)."""
    tls_verify: bool | None = None
    """``tls-verify``; None when the file does not say."""
    credentials: tuple[str, str] | None = attrs.field(default=None, repr=False)
    """``(username, password)`` for this registry, or None."""


def read_skopeo_sync(path: str | os.PathLike[str]) -> list[SkopeoRegistry]:
    """The registries of a skopeo sync file, in file order.

    A tag regular expression Go's regexp refuses is no error: skopeo 1.9.3 logs it and
    skips that repository (see :attr:`SkopeoRegistry.skipped`).

    Raises:
        ValueError: not UTF-8, malformed YAML, a key listed twice, a key skopeo 1.9
            does not read (``images-by-semver`` came later), a value of the wrong
            kind, or a repository name
            that is not valid; the message names the file and what is wrong.
        OSError: the file cannot be read.
    """
    import yaml  # only sync files need it

    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    base = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # every scalar as written
    doc, lines, _ = _load_yaml(text, path, base)
    if doc is None or doc == "":
        return []
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: want a mapping of registry -> what to sync from it")
    text_lines = text.splitlines()
    return [_registry(path, lines.get(name), name, entry, text_lines)
            for name, entry in doc.items()]


def _registry(path: str | os.PathLike[str], line: int | None, name: str, entry: Any,
              text_lines: list[str] | None = None) -> SkopeoRegistry:
    where = f"{path}, line {line}: {name}" if line else f"{path}: {name}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: want a mapping (images, images-by-tag-regex, ...)")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        key_line = _nested_line(text_lines or [], line or 1, unknown[0])
        if key_line is not None:
            where = f"{path}, line {key_line}: {name}"
        raise ValueError(f"{where}: {', '.join(unknown)} is not read here (skopeo 1.9 "
                         f"reads {', '.join(sorted(_KEYS))})")
    if entry.get("cert-dir") not in (None, *_NULL):
        raise ValueError(f"{where}: cert-dir is not supported: name the CA bundle in "
                         "$REQUESTS_CA_BUNDLE, or set tls-verify: false")
    def at(section: str, repo: str) -> str:  # where one repository's entry is
        found = _nested_line(text_lines or [], line, section, repo)
        return f"{path}, line {found}: {name}" if found else where

    images: dict[str, tuple[str, ...]] = {}
    for repo, refs in _mapping(where, entry, "images").items():
        _check_repository(at("images", repo), name, repo)
        if isinstance(refs, str) and refs in _NULL:
            refs = []
        if not isinstance(refs, list) or not all(isinstance(r, str) and r for r in refs):
            raise ValueError(f"{at('images', repo)}: images: {repo}: want a list of tags or "
                         "digests")
        for ref in refs:
            sep = "@" if ":" in ref else ":"  # (as skopeo_copies joins them)
            try:
                parse_image_name(f"{name}/{repo}{sep}{ref}")
            except ValueError as exc:
                raise ValueError(f"{at('images', repo)}: images: {repo}: {ref!r}: {exc}"
                                 ) from None
        images[repo] = tuple(refs)
    regexes: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for repo, expression in _mapping(where, entry, "images-by-tag-regex").items():
        here = at("images-by-tag-regex", repo)
        _check_repository(here, name, repo)
        if not isinstance(expression, str):
            raise ValueError(f"{here}: images-by-tag-regex: {repo}: want a regular "
                             "expression")
        try:
            regexes[repo] = go_regex(expression)
        except re.error as exc:
            skipped[repo] = f"{here}: images-by-tag-regex: {repo}: {expression!r}: {exc}"
    return SkopeoRegistry(name, images, regexes, skipped,
                          _tls_verify(where, entry.get("tls-verify")),
                          _credentials(where, entry.get("credentials")))


# what Python's re reads and Go's regexp (RE2) refuses, outside a [...] class
_NOT_RE2 = (
    (re.compile(r"\\(?:[89]|[1-7](?![0-7])|Z)"), "backreferences and \\Z"),
    (re.compile(r"\(\?(?:[=!>#]|<[=!]|P=)"),
     "lookaround, atomic groups, comments and named backreferences"),
    (re.compile(r"(?:[*+?]|\})\+"), "possessive quantifiers"),
)
_ESCAPE_OR_CLASS = re.compile(r"\\[xpP]\{[^}]*\}|\\.|\[\^?\]?(?:\\.|\[:\w+:\]|[^\]])*\]", re.DOTALL)


def go_regex(expression: str) -> str:
    """``expression`` as a Python pattern searching tags as Go's ``regexp.MatchString``
    does (its syntax read as Go reads it: :func:`re2_pattern`), or :class:`re.error` for what
    Go's RE2 syntax refuses (lookaround, backreferences, possessive and atomic groups,
    ``\\Z``, ``(?#...)``) and what does not compile."""
    # a class's and an escape's characters are literal: blank them before looking
    outside = _ESCAPE_OR_CLASS.sub(
        lambda m: m.group() if re.fullmatch(r"\\(?:[1-9]|Z)", m.group()) else "_",
        expression)
    for construct, what in _NOT_RE2:
        found = construct.search(outside)
        if found is not None:
            raise re.error(f"{found.group()}: Go's regexp (RE2) has no {what}")
    return re2_pattern(expression)


def _nested_line(text_lines: list[str], after: int | None, *keys: str) -> int | None:
    """The line (from 1) of the last of ``keys``, each a key indented under the one
    before, the first under the registry on line ``after`` (None when not found: a
    flow-style mapping, a key spelled another way)."""
    if not after:
        return None
    found, indent = after, 0
    for key in keys:
        at = None
        for number, text in enumerate(text_lines[found:], start=found + 1):
            bare = text.strip()
            if not bare or bare.startswith("#"):
                continue
            depth = len(text) - len(text.lstrip())
            if depth <= indent:
                break  # out of the mapping the key would be in
            if bare.startswith((f"{key}:", f"'{key}':", f'"{key}":')):
                at = number
                indent = depth
                break
        if at is None:
            return None
        found = at
    return found


def _mapping(where: str, entry: dict[str, Any], key: str) -> dict[str, Any]:
    value = entry.get(key)
    if value is None or (isinstance(value, str) and value in _NULL):
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: {key}: want a mapping of repository -> ...")
    return value


def _check_repository(where: str, registry: str, repo: str) -> None:
    try:
        ref = parse_image_name(f"{registry}/{repo}")
    except ValueError as exc:
        raise ValueError(f"{where}: {repo!r}: {exc}") from None
    if ref.tag is not None or ref.digest is not None:
        raise ValueError(f"{where}: {repo!r}: a repository, without tag or digest")


def _tls_verify(where: str, value: Any) -> bool | None:
    if value is None or (isinstance(value, str) and value in _NULL):
        return None
    text = value.lower() if isinstance(value, str) else ""
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"{where}: tls-verify: want true or false, not {value!r}")


def _credentials(where: str, value: Any) -> tuple[str, str] | None:
    if value is None or (isinstance(value, str) and value in _NULL):
        return None
    if not isinstance(value, dict) or set(value) - {"username", "password"}:
        raise ValueError(f"{where}: credentials: want username and password")
    username, password = value.get("username", ""), value.get("password", "")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ValueError(f"{where}: credentials: want username and password")
    if not username:  # skopeo uses them only with a username
        return None
    return username, password


def skopeo_destination(destination: str) -> str:
    """``DEST`` of ``skopeo sync --dest docker``, cleaned as Go's ``path.Join`` cleans it.

    skopeo 1.9.3 joins ``DEST`` and the last path component of each source repository
    with ``path.Join``: a bare registry (``127.0.0.1:5000``), a trailing slash
    (``HOST/``, ``HOST/x/y/``) and doubled slashes are all fine. ``http://`` or
    ``https://`` in front is kept.

    Raises:
        ValueError: ``DEST`` is not a registry or a registry path (a tag or digest in it,
            an invalid name).
    """
    scheme, sep, rest = destination.partition("://")
    if not sep:
        scheme, rest = "", destination
    cleaned = posixpath.normpath(rest).strip("/") if rest.strip("/") else ""
    prefix = f"{scheme}://" if sep else ""
    try:
        ref = parse_image_name(f"{prefix}{cleaned}/x", allow_scheme=True) if cleaned else None
    except ValueError:
        ref = None
    if ref is None or ref.tag is not None or ref.digest is not None:
        raise ValueError(f"{destination!r}: give a registry or a registry path such as "
                         "localhost:5000 or localhost:5000/mirror, without tag or digest")
    return f"{prefix}{cleaned}"


def skopeo_copies(
    registries: list[SkopeoRegistry], destination: str,
) -> list[tuple[str, str, str | None]]:
    """``(source, target, tags)``: what the file names copied to where skopeo puts it.

    ``destination`` is the ``DEST`` of ``skopeo sync --dest docker``; each image goes
    to ``DEST/<last path component>`` with its own tag (by digest: no tag), joined
    as Go's ``path.Join`` joins (see :func:`skopeo_destination`). A repository with an
    empty list is every tag, one with a tag regex the tags it finds (``tags``, in
    Python's syntax): the sync lists them when it runs, so a journal belongs to the
    file, not to the tags of one day, and a repository that cannot be listed is one
    failure, as every tag's is. One whose expression RE2 refuses is skipped with a
    warning, as skopeo does. A copy named twice is kept once.
    """
    dest = skopeo_destination(destination)
    copies: list[tuple[str, str, str | None]] = []
    for reg in registries:
        for repo, refs in reg.images.items():
            base = f"{dest}/{repo.rsplit('/', 1)[-1]}"
            if not refs:
                copies.append((f"{reg.domain}/{repo}", base, None))
            for ref in refs:
                sep = "@" if ":" in ref else ":"  # a tag has no colon; a digest has one
                copies.append((f"{reg.domain}/{repo}{sep}{ref}", base, None))
        for why in reg.skipped.values():
            log.warning("%s: skipped, as skopeo skips it", why)
        copies.extend((f"{reg.domain}/{repo}", f"{dest}/{repo.rsplit('/', 1)[-1]}", regex)
                      for repo, regex in reg.tag_regexes.items())
    return list(dict.fromkeys(copies))
