"""The pytest plugin stays light: pytest loads it in every project that installs us."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import registry_client.testing
import registry_client.testing.plugin

# What loading the plugin must not import: the HTTP stack, the library's machinery,
# and the optional crypto the token server uses.
HEAVY = (
    "requests",
    "urllib3",
    "cryptography",
    "bcrypt",
    "attrs",
    "cattrs",
    "yaml",
    "tqdm",
    "registry_client.requester",
    "registry_client.auth",
    "registry_client.models",
    "registry_client.services",
    "registry_client.registry",
    "registry_client.testing._process",
    "registry_client.testing._fault_proxy",
    "registry_client.testing._token_server",
)


def _imported_after(statement: str) -> list[str]:
    code = (f"import json, sys\n{statement}\n"
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_the_entry_point_names_the_plugin_module() -> None:
    (point,) = entry_points(group="pytest11", name="registry_client")
    assert point.value == "registry_client.testing.plugin"
    assert point.load() is registry_client.testing.plugin


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    assert _imported_after("import registry_client.testing.plugin") == []


def test_importing_the_testing_package_imports_nothing_heavy() -> None:
    assert _imported_after("import registry_client.testing") == []


def test_using_a_name_loads_its_module() -> None:
    loaded = _imported_after("from registry_client.testing import LocalRegistry")
    assert "requests" in loaded
    assert "registry_client.testing._process" in loaded


@pytest.mark.parametrize("name", registry_client.testing.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(registry_client.testing, name) is not None
    assert name in dir(registry_client.testing)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_helper"):
        registry_client.testing.no_such_helper  # noqa: B018


def test_the_fixtures_are_the_plugins() -> None:
    assert registry_client.testing.local_registry is registry_client.testing.plugin.local_registry


def test_a_pytest_run_with_only_our_plugin_loads_nothing_heavy(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(
        "import sys\n"
        f"HEAVY = {HEAVY!r}\n"
        "def test_probe(unique_repository):\n"
        "    assert unique_repository.startswith('test/test-probe-')\n"
        "    assert [m for m in HEAVY if m in sys.modules] == []\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "registry_client.testing.plugin", str(tmp_path)],
        capture_output=True, cwd=tmp_path, check=False, text=True,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout

