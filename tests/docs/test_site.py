"""The documentation site: it builds with ``mkdocs build --strict``, its API reference
names every public name of the package, its command line reference every verb, and
every page is reachable from the navigation.

The site is built here, into a temporary directory, so these tests do not depend on
``make docs`` having run first.
"""

from __future__ import annotations

import argparse
import html
import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
import types
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import registry_client
from registry_client.cli._verbs import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CONFIG = ROOT / "mkdocs.yml"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built from this checkout with ``--strict`` (any warning fails it)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(CONFIG), "-d", str(out)],
        cwd=tmp_path_factory.getbasetemp(), env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return out


def inventory(site: Path) -> dict[str, str]:
    """``objects.inv`` of the site (Sphinx inventory version 2): object name -> role."""
    data = (site / "objects.inv").read_bytes()
    header = data.split(b"\n", 4)
    assert header[0] == b"# Sphinx inventory version 2"
    assert b"zlib" in header[3]
    entries: dict[str, str] = {}
    for line in zlib.decompress(header[4]).decode().splitlines():
        name, role, _ = line.split(" ", 2)
        entries[name] = role
    return entries


def public_modules() -> Iterator[ModuleType]:
    """``registry_client`` and every module of it whose dotted path has no ``_`` part."""
    yield registry_client
    for info in pkgutil.walk_packages(registry_client.__path__, "registry_client."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        yield importlib.import_module(info.name)


def public_names(module: ModuleType) -> list[str]:
    """The module's ``__all__``; without one, the classes and functions (pytest fixtures
    too) it defines."""
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return [name for name in exported if name != "__version__"]
    return [name for name, value in vars(module).items()
            if not name.startswith("_") and callable(value)
            and getattr(value, "__module__", None) == module.__name__]


def paths_of(module: ModuleType, name: str, value: Any) -> set[str]:
    """Where the reference may list ``module.name``: there, or where it is defined."""
    paths = {f"{module.__name__}.{name}"}
    defined_in = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if isinstance(defined_in, str) and isinstance(qualname, str):
        paths.add(f"{defined_in}.{qualname}")
    return paths


def public_api() -> Iterator[tuple[str, set[str]]]:
    """Every public name (and public method, property or class attribute of a public
    class) with the paths under which the reference may list it."""
    seen: set[int] = set()
    for module in public_modules():
        for name in public_names(module):
            value = getattr(module, name)
            where = paths_of(module, name, value)
            yield f"{module.__name__}.{name}", where
            # (a type alias, Mapping[...], is a class to inspect before Python 3.11)
            if (not inspect.isclass(value) or isinstance(value, types.GenericAlias)
                    or id(value) in seen):
                continue
            seen.add(id(value))
            for member, attribute in vars(value).items():
                if member.startswith("_"):
                    continue
                if inspect.isfunction(attribute) or isinstance(
                        attribute, (property, classmethod, staticmethod)):
                    yield (f"{value.__module__}.{value.__qualname__}.{member}",
                           {f"{path}.{member}" for path in where})


def test_the_package_has_a_public_api_to_check() -> None:
    names = dict(public_api())
    assert "registry_client.Registry" in names
    assert "registry_client.registry.Registry.ping" in names
    assert "registry_client.aio.AsyncRegistry" in names
    assert "registry_client.testing.plugin.local_registry" in names  # a fixture
    assert len(names) > 300


def test_every_public_name_is_in_the_api_reference(site: Path) -> None:
    listed = inventory(site)
    missing = sorted(name for name, paths in public_api() if not paths & listed.keys())
    assert missing == [], (
        "not in the API reference: a new public module needs its page "
        "docs/reference/<module>.md ('::: registry_client.<module>') and a nav line in "
        "mkdocs.yml; a name defined in a private module needs '::: registry_client.<name>' "
        "on the page of the module that exports it (as CopyPlan in services.md)")


def test_the_reference_pages_render_the_docstrings(site: Path) -> None:
    page = (site / "reference" / "registry" / "index.html").read_text()
    assert registry_client.Registry.ping.__doc__ is not None
    first_words = " ".join(registry_client.Registry.ping.__doc__.split()[:4])
    assert first_words in re.sub(r"<[^>]+>", "", page).replace("\n", " ")


def test_a_repository_s_services_are_documented_as_properties(site: Path) -> None:
    """They are the library's own cached_property (functools' holds a lock a fork can
    leave held): griffe, which knows functools' alone, listed them as methods
    (``images() -> ImageService``)."""
    page = (site / "reference" / "repository" / "index.html").read_text()
    for name in ("images", "tags", "manifests", "blobs"):
        at = page.index(f'id="registry_client.repository.Repository.{name}"')
        heading = page[at:page.index("</h3>", at)]
        assert "doc-attribute-name" in heading and "doc-label-property" in heading, name


def subcommands(parser: argparse.ArgumentParser) -> Iterator[list[str]]:
    """Every verb (and sub-verb) of ``parser``, as the words that name it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield [name]
                for words in subcommands(sub):
                    yield [name, *words]


def test_every_verb_is_in_the_cli_reference(site: Path) -> None:
    page = (site / "cli" / "index.html").read_text()
    verbs = list(subcommands(build_parser()))
    assert ["ls"] in verbs and ["copy"] in verbs
    for words in verbs:
        parser = build_parser()
        for word in words:
            parser = next(a for a in parser._actions
                          if isinstance(a, argparse._SubParsersAction)).choices[word]
        usage = parser.format_usage().split()
        assert " ".join(usage[1:3]) in page, words  # "usage: registry-client VERB ..."


def nav_pages(entries: Any) -> Iterator[str]:
    """Every page file named in a MkDocs ``nav`` (titles and sections unwrapped)."""
    if isinstance(entries, str):
        yield entries
    elif isinstance(entries, list):
        for entry in entries:
            yield from nav_pages(entry)
    elif isinstance(entries, dict):
        for value in entries.values():
            yield from nav_pages(value)


def test_every_page_is_in_the_nav_and_every_nav_page_exists() -> None:
    from mkdocs.config import load_config

    config = load_config(str(CONFIG))
    listed = list(nav_pages(config["nav"]))
    assert len(listed) == len(set(listed)), "a page is listed twice"
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")
             if "_hooks" not in p.parts}
    assert sorted(pages - set(listed)) == []  # no orphan page
    assert sorted(set(listed) - pages) == []  # no dead entry


def test_the_benchmark_page_is_results_md_included_at_build_time(site: Path) -> None:
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    assert "--8<--" in (DOCS / "benchmarks.md").read_text()
    assert len((DOCS / "benchmarks.md").read_text()) < len(results) // 10  # not a copy
    page = html.unescape(re.sub(r"<[^>]+>", "", (site / "benchmarks" / "index.html").read_text()))
    headings = re.findall(r"^#+ (.+)$", results, flags=re.M)
    assert len(headings) > 3
    for heading in headings:
        assert re.sub(r"[`*]", "", heading) in page, heading


def relative_links(markdown: str) -> list[str]:
    """Link targets of a Markdown text that are not URLs or anchors."""
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown)
    return [t.split("#")[0] for t in targets
            if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_the_readme_links_into_the_repository_only() -> None:
    readme = (ROOT / "README.md").read_text()
    links = relative_links(readme)
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        target = (ROOT / link).resolve()
        assert target.is_relative_to(ROOT) and target.exists(), link
    for text in [readme, *(p.read_text() for p in DOCS.rglob("*.md"))]:
        assert "../shared" not in text and "API.md" not in text


def test_the_readme_starts_with_the_quick_start_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    sections = re.findall(r"^## (.+)$", readme, flags=re.M)
    assert sections[0] == "Quick start"
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^make \w+", quick_start, flags=re.M)
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: .*\bdocs\b", makefile, flags=re.M)  # the site is built by it
