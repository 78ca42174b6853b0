"""``registry_client.aio`` imports httpx without httpx's command-line client.

httpx's ``__init__`` imports ``httpx._main`` (click, rich, pygments) whenever those are
installed; an asyncio registry client never runs that CLI. Each check runs in a fresh
interpreter so nothing this test process imported counts. The CLI's packages are
installed in this environment (the checks below say so first), so "not loaded" is a
real observation, not the absence of the packages.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from registry_client.aio._httpx import OLDEST, too_old

# what httpx's CLI module pulls in at import time
CLI_PACKAGES = ("click", "rich", "pygments")


def run_python(*parts: str) -> dict[str, object]:
    """Run the code ``parts`` in a fresh interpreter; they print one JSON object last."""
    proc = subprocess.run(
        [sys.executable, "-c", "".join(textwrap.dedent(part) for part in parts)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


LOADED = """
    import json, sys
    print(json.dumps({
        "cli": sorted({m.split(".")[0] for m in sys.modules} & {"click", "rich", "pygments"}),
        "httpx_main_module": "httpx._main" in sys.modules,
        "main_type": type(sys.modules["httpx"].main).__module__.split(".")[0],
    }))
"""


def test_the_cli_packages_are_installed_here() -> None:
    # the premise of the checks below: with them missing, httpx would skip its CLI anyway
    assert all(importlib.util.find_spec(name) is not None for name in CLI_PACKAGES)


def test_importing_the_async_api_leaves_httpx_cli_unloaded() -> None:
    got = run_python("""
        from registry_client.aio import AsyncRegistry
        AsyncRegistry("127.0.0.1:1", protocol="http").repository("a/b").manifests
    """, LOADED)
    assert got["cli"] == []
    assert got["httpx_main_module"] is False


def test_httpx_main_still_runs_the_real_cli() -> None:
    # httpx.main is the CLI's entry point; after our import it loads the CLI when called
    got = run_python("""
        import contextlib, io, json
        import registry_client.aio
        import httpx
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                httpx.main(["--help"])
            except SystemExit as exc:
                code = exc.code
        print(json.dumps({"code": code, "usage": "Usage: httpx" in out.getvalue()}))
    """)
    assert got == {"code": 0, "usage": True}


def test_httpx_imported_by_the_application_first_is_left_as_it_is() -> None:
    got = run_python("""
        import httpx
        import registry_client.aio
    """, LOADED)
    assert got["httpx_main_module"] is True
    assert got["main_type"] == "click"  # httpx.main is the CLI's click command itself


def test_a_later_import_of_the_cli_module_works() -> None:
    got = run_python("""
        import registry_client.aio
        from httpx._main import main
        import json
        print(json.dumps({"command": type(main).__module__.split(".")[0]}))
    """)
    assert got == {"command": "click"}


def test_an_httpx_without_a_cli_entry_point_is_imported_as_it_is(tmp_path: Path) -> None:
    # a future httpx may drop `main` (or import its CLI lazily): nothing to put back
    fake = tmp_path / "httpx"
    fake.mkdir()
    (fake / "__init__.py").write_text("__version__ = '9.9'\n")
    got = run_python(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import registry_client.aio, httpx, json
        print(json.dumps({{"version": httpx.__version__, "main": hasattr(httpx, "main"),
                           "stand_in_left": "httpx._main" in sys.modules}}))
    """)
    assert got == {"version": "9.9", "main": False, "stand_in_left": False}


def test_an_httpx_older_than_the_extra_asks_is_the_extra_s_import_error(
    tmp_path: Path,
) -> None:
    """httpx 0.23 installed (not by the extra, which asks >= 0.28): AsyncRegistry failed
    with "cannot import name 'AsyncRegistry'" from an AttributeError deep in httpcore,
    not the extra's message."""
    fake = tmp_path / "httpx"
    fake.mkdir()
    (fake / "__init__.py").write_text("__version__ = '0.23.0'\n")
    got = run_python(f"""
        import sys, json
        sys.path.insert(0, {str(tmp_path)!r})
        try:
            import registry_client.aio
        except ImportError as exc:
            print(json.dumps({{"error": str(exc)}}))
        else:
            print(json.dumps({{"error": None}}))
    """)
    error = str(got["error"])
    assert "httpx>=0.28" in error and "0.23.0" in error
    assert "pip install" in error and "registry-client[async]" in error


def test_the_oldest_httpx_is_the_async_extra_s_floor() -> None:
    project = (Path(__file__).parents[3] / "pyproject.toml").read_text()
    extra = re.search(r"^async = \[(.*)\]$", project, re.MULTILINE)
    assert extra is not None
    assert f'"httpx>={".".join(map(str, OLDEST))}"' in extra.group(1)
    assert [too_old(v) for v in ("0.26.9", "0.27.2", "0.28.0", "1.0.dev1", "weird")] == [
        True, True, False, False, False]
