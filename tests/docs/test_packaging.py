"""The package's metadata and its source distribution, as the build backend writes them:
an SPDX license expression with its LICENSE file, classifiers, project URLs, the
plugin's extra, and an sdist that carries the test suite."""

from __future__ import annotations

import email.parser
import email.policy
import subprocess
import sys
import tarfile
from email.message import Message
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, built from this checkout by setuptools' PEP 517 backend (no network)."""
    out = tmp_path_factory.mktemp("sdist")
    code = ("import sys; from setuptools import build_meta; "
            "print(build_meta.build_sdist(sys.argv[1]))")
    result = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return out / result.stdout.strip().splitlines()[-1]


def members(sdist: Path) -> dict[str, tarfile.TarInfo]:
    """The sdist's files by their path inside the project (the top directory dropped)."""
    with tarfile.open(sdist) as tar:
        return {m.name.split("/", 1)[1]: m for m in tar.getmembers() if "/" in m.name}


def pkg_info(sdist: Path) -> Message:
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        raw = tar.extractfile(f"{top}/PKG-INFO")
        assert raw is not None
        return email.parser.BytesParser(policy=email.policy.compat32).parse(raw)


def test_the_license_is_an_spdx_expression_with_its_file(sdist: Path) -> None:
    info = pkg_info(sdist)
    assert info["License-Expression"] == "Apache-2.0"
    assert info.get_all("License-File") == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert "LICENSE" in members(sdist)
    # PEP 639: no license classifier next to an expression
    assert not [c for c in info.get_all("Classifier", []) if c.startswith("License ::")]


def test_classifiers_say_typed_and_the_supported_pythons(sdist: Path) -> None:
    info = pkg_info(sdist)
    classifiers = set(info.get_all("Classifier", []))
    assert "Typing :: Typed" in classifiers
    assert (ROOT / "registry_client" / "py.typed").is_file()
    versions = {c.rsplit(" ", 1)[1] for c in classifiers
                if c.startswith("Programming Language :: Python :: 3.")}
    assert versions == {"3.10", "3.11", "3.12", "3.13"}
    assert info["Requires-Python"] == ">=3.10"
    assert "Operating System :: OS Independent" in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert any(c.startswith("Intended Audience :: ") for c in classifiers)
    assert any(c.startswith("Topic :: ") for c in classifiers)


def test_project_urls(sdist: Path) -> None:
    urls = dict(u.split(", ", 1) for u in pkg_info(sdist).get_all("Project-URL", []))
    assert set(urls) >= {"Homepage", "Documentation", "Source", "Issues"}
    assert all(url.startswith("https://") for url in urls.values())


def test_the_pytest_plugin_has_one_extra_with_what_token_mode_needs(sdist: Path) -> None:
    info = pkg_info(sdist)
    assert "testing" in info.get_all("Provides-Extra", [])
    testing = {r.split(";")[0].split(">=")[0].strip() for r in info.get_all("Requires-Dist", [])
               if 'extra == "testing"' in r}
    assert testing == {"pytest", "cryptography", "bcrypt"}
    for message_file in ("_jwt.py", "_binary.py"):  # the errors name that extra
        assert "registry-client[testing]" in (
            ROOT / "registry_client" / "testing" / message_file).read_text()
    assert "registry-client[testing]" in (ROOT / "docs" / "testing.md").read_text()


def test_the_sdist_carries_the_tests(sdist: Path) -> None:
    files = members(sdist)
    tests = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts}
    assert "tests/conftest.py" in tests and "tests/docs/test_packaging.py" in tests
    assert sorted(tests - files.keys()) == []
    # and what those tests read: the examples, the benchmarks, the docs site's sources
    for needed in ("examples/demo.py", "benchmarks/__main__.py", "benchmarks/RESULTS.md",
                   "mkdocs.yml", "docs/index.md", "docs/_hooks/cli_reference.py",
                   "pyproject.toml", "README.md", "Makefile", "registry_client/py.typed"):
        assert needed in files, needed
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]
