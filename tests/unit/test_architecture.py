"""The package's shape, checked: import layers, no cycles, no reaching into privates.

These guard the rules a newcomer relies on to find the module for a behaviour
(see the layers in pyproject.toml's ``[tool.importlinter]``); each test says how
to mend what it finds.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: import-linter brings tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "registry_client"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _library_files() -> list[Path]:
    """Every module of the library proper (the test helpers in testing/ are not)."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "testing" not in p.relative_to(PACKAGE).parts)


def _lint_imports(root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )


def test_the_import_contracts_hold(tmp_path: Path) -> None:
    result = _lint_imports(ROOT, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "upward"), [
    ("models/descriptor.py", "from registry_client.services import images as _up"),
    ("reference/_grammar.py", "import registry_client.requester as _up"),
    ("services/blobs.py", "from registry_client.cli import main as _up"),
    ("cli/_show.py", "import registry_client.__main__ as _up"),
    ("__main__.py", "import registry_client.testing as _up"),  # testing-outside
])
def test_an_upward_import_breaks_the_layers(tmp_path: Path, module: str, upward: str) -> None:
    """The contract is not vacuous: one import against the direction fails the check."""
    copy = tmp_path / "repo"
    shutil.copytree(PACKAGE, copy / "registry_client",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    target = copy / "registry_client" / module
    target.write_text(target.read_text() + f"\n{upward}  # noqa\n")
    result = _lint_imports(copy, tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


def _module_name(package: Path, path: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_around_the_layers(package: Path) -> list[str]:
    """Imports import-linter cannot see as breaking a layer, in a copy of the package.

    - The root package (``import registry_client``, ``from registry_client import
      Registry``, ``from .. import Registry`` landing on the root): its lazy
      ``__getattr__`` loads any module, so the import hides which one. Only the CLI,
      a thin layer over the public API, may; importing a submodule through the root
      (``from .. import mediatypes``) names the module, and is fine.
    - The project's own ``tests`` and ``benchmarks``, which are not installed.
    """
    root = package.name
    submodules = {p.stem for p in package.glob("*.py")} | {
        p.parent.name for p in package.glob("*/__init__.py")}
    found: list[str] = []
    for path in sorted(package.rglob("*.py")):
        inner = path.relative_to(package).parts
        module = _module_name(package, path)
        is_package = path.name == "__init__.py"
        may_use_root = module == root or inner[0] in ("cli", "testing")
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[tuple[str, list[str]]] = []
            if isinstance(node, ast.Import):
                targets = [(a.name if a.asname else a.name.split(".")[0], []) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = module if is_package else module.rpartition(".")[0]
                if node.level:
                    base = ".".join(base.split(".")[: len(base.split(".")) - node.level + 1])
                    target = f"{base}.{node.module}" if node.module else base
                else:
                    target = node.module or ""
                targets = [(target, [a.name for a in node.names])]
            for target, names in targets:
                top = target.split(".")[0]
                if top in ("tests", "benchmarks"):
                    found.append(f"{module}:{node.lineno}: imports {target} (not installed)")
                elif target == root and not may_use_root and (
                        not names or any(n not in submodules for n in names)):
                    found.append(f"{module}:{node.lineno}: imports the root package "
                                 f"{', '.join(n for n in names if n not in submodules)}")
    return found


def test_the_library_imports_neither_its_root_nor_the_project_s_tests() -> None:
    """Mend: import the name from the module that defines it (``from ..registry import
    Registry``), where the layers can see it; move test-only code to ``testing``."""
    assert _imports_around_the_layers(PACKAGE) == []


@pytest.mark.parametrize(("module", "line", "caught"), [
    ("models/image.py", "from registry_client import Registry", True),
    ("services/blobs.py", "import registry_client", True),
    ("services/blobs.py", "import registry_client.errors", True),  # binds the root
    ("models/image.py", "from .. import Registry", True),
    ("registry.py", "from . import Repository", True),
    ("reference/_grammar.py", "import benchmarks", True),
    ("services/tags.py", "from tests.conftest import seed", True),
    ("cli/_show.py", "import tests.unit", True),
    ("testing/__init__.py", "from benchmarks import run", True),
    # allowed: the CLI over the public API, a submodule named through its package
    ("cli/_show.py", "from registry_client import Registry", False),
    ("models/image.py", "from .. import errors", False),
    ("services/blobs.py", "import registry_client.errors as errors", False),
])
def test_an_import_around_the_layers_is_caught(
    tmp_path: Path, module: str, line: str, caught: bool,
) -> None:
    """The check is not vacuous: each such import in a copy of the package is found."""
    copy = tmp_path / "registry_client"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    found = _imports_around_the_layers(copy)
    assert bool(found) is caught, found
    if caught:
        assert found[0].startswith(_module_name(copy, target) + ":")


def _contract(contract_id: str) -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract: dict[str, Any] = next(c for c in config["contracts"] if c["id"] == contract_id)
    return contract


def _outside(covered: set[str]) -> list[str]:
    """Library modules (not testing/, not the root) that no name in ``covered`` contains."""
    outside = []
    for path in _library_files():
        module = _module_name(PACKAGE, path)
        parts = module.split(".")
        if module != PACKAGE.name and not any(
                ".".join(parts[:n]) in covered for n in range(2, len(parts) + 1)):
            outside.append(module)
    return outside


def test_every_module_is_in_a_layer() -> None:
    """A module outside the contracts is checked by none of their rules.

    Mend: add it (or its package) to ``layers`` in pyproject.toml, in the layer of
    what it does, and to the ``testing-outside`` sources. Only ``testing`` (outside
    the library) and the root package are in neither.
    """
    layers = _contract("layers")["layers"]
    assert _outside({n.strip() for layer in layers for n in re.split(r"[:|]", layer)}) == []
    assert _outside(set(_contract("testing-outside")["source_modules"])) == []


def test_imports_inside_functions_say_why() -> None:
    """An import inside a function is for an optional or heavy dependency, and says so.

    Everything else is imported at the module's top, where the reader looks for it.
    Mend: move the import up, or put a one-line ``# reason`` on it (or the line above).
    """
    silent: list[str] = []
    for path in _library_files():
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import | ast.ImportFrom):
                    line = lines[sub.lineno - 1]
                    if "#" not in line and not _comment_above(lines, sub.lineno - 1):
                        silent.append(f"{path.relative_to(ROOT)}:{sub.lineno}: {line.strip()}")
    assert silent == []


def _comment_above(lines: list[str], index: int) -> bool:
    """True when a comment heads the run of import lines that ``lines[index]`` is in."""
    index -= 1
    while index >= 0 and lines[index].strip().startswith(("from ", "import ")):
        index -= 1
    return index >= 0 and lines[index].strip().startswith("#")


_REACHING = re.compile(r"\b(images|blobs|manifests|tags|svc|service)\._[a-z]")


def test_no_module_reads_a_service_s_privates() -> None:
    """``blobs._requester`` in another module couples it to BlobService's insides.

    Mend: pass what is needed to the collaborator, or give the service a method.
    """
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
             for p in _library_files()
             for n, line in enumerate(p.read_text().splitlines(), 1)
             if _REACHING.search(line)]
    assert found == []




def test_docker_hub_s_names_are_written_in_one_place() -> None:
    """``docker.io``, ``index.docker.io`` and ``registry-1.docker.io`` are spelled only in
    ``reference/_grammar.py``; every other module asks ``registry_client.reference``.

    Mend: use DEFAULT_DOMAIN, DOCKER_HUB_HOSTS, DOCKER_HUB_API_HOST, canonical_domain
    or is_docker_hub from registry_client.reference.
    """
    names = ("docker.io", "index.docker.io", "registry-1.docker.io")
    found = []
    for path in _library_files():
        where = str(path.relative_to(ROOT))
        if path == PACKAGE / "reference" / "_grammar.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    node.value in names or node.value.startswith(
                        tuple(f"{scheme}://{name}" for scheme in ("http", "https")
                              for name in names))):
                found.append(f"{where}:{node.lineno}: {node.value!r}")
    assert found == []


# -- tests/unit mirrors the package -------------------------------------------------------
UNIT_TESTS = ROOT / "tests" / "unit"

UNMIRRORED = {
    "test_architecture.py": "checks the package's shape; no module of its own",
    "services/test_digests.py": "one rule (never fetch by a digest that cannot be verified) "
                                "checked across blobs, manifests and images",
    "services/test_tags_vanished.py": "tags.py's listings when tags vanish; joins test_tags.py "
                                      "once tags.py's split (TagDeleter) has settled",
    "aio/test_api_parity.py": "the asyncio flavour's whole surface (registry, repository, "
                              "services) against the blocking API's; no single module",
}
"""Unit test files that mirror no module, each with its reason; keep this list short."""


def _mirrored_module(test_file: Path) -> Path | None:
    """The module ``tests/unit/a/test_b.py`` tests: ``registry_client/a/b.py`` or
    ``a/_b.py``, or the package ``a/b/``; None when there is none."""
    relative = test_file.relative_to(UNIT_TESTS)
    package = PACKAGE.joinpath(*relative.parts[:-1])
    name = relative.name.removeprefix("test_").removesuffix(".py")
    for candidate in (package / f"{name}.py", package / f"_{name}.py",
                      package / name / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_every_unit_test_file_names_its_module() -> None:
    """``tests/unit/a/test_b.py`` tests ``registry_client/a/_b.py`` (or ``b.py``, or the
    package ``b``), so the tests of a module are found by its name and cannot drift.

    Mend: move the tests to the file of the module whose code they test (rename the
    file when it tests one module under another name), or, for a file that truly
    mirrors no module, add it to UNMIRRORED with the reason.
    """
    test_files = sorted(UNIT_TESTS.rglob("test_*.py"))
    assert len(test_files) > 20  # the tree is really there
    stray = [str(p.relative_to(UNIT_TESTS)) for p in test_files
             if p.relative_to(UNIT_TESTS).as_posix() not in UNMIRRORED
             and _mirrored_module(p) is None]
    assert stray == []
    listed = {p.relative_to(UNIT_TESTS).as_posix() for p in test_files}
    assert set(UNMIRRORED) <= listed  # no stale exception
