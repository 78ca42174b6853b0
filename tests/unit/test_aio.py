"""The boundary of ``registry_client.aio``: the blocking API never loads it, nor httpx or
asyncio, and without the ``async`` extra (httpx) importing it says how to install it.

Each check runs in a fresh interpreter, so nothing this test process imported counts.
This file runs in the lowest-dependencies run too (no httpx there; here its absence is
simulated), unlike ``tests/unit/aio``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

# The asyncio machinery the blocking API must never load (issue #14).
ASYNC_ONLY = ("httpx", "httpcore", "h11", "anyio", "sniffio", "asyncio")

# `import registry_client`, then every entry point of the blocking API: the object model,
# the pull/push/copy code paths, the CLI, sync and retention.
BLOCKING_API = """
import registry_client
from registry_client import Registry, Repository, TokenAuthenticator
import registry_client.services.images
import registry_client.services._pull
import registry_client.services._push
import registry_client.services._copy
import registry_client.cli
import registry_client.sync
import registry_client.retention
reg = Registry("127.0.0.1:1", protocol="http")
repo = reg.repository("demo/app")
repo.images, repo.tags, repo.manifests, repo.blobs
reg.close()
"""

# httpx "not installed": None in sys.modules makes every import of it an ImportError.
WITHOUT_HTTPX = "import sys\nsys.modules['httpx'] = None\n"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=60, check=False,
    )


def loaded_after(code: str) -> list[str]:
    """The top-level packages of ASYNC_ONLY in sys.modules after running ``code``."""
    probe = code + textwrap.dedent(f"""
        import sys
        print(sorted({{m.split(".")[0] for m in sys.modules}} & set({ASYNC_ONLY!r})))
    """)
    proc = run_python(probe)
    assert proc.returncode == 0, proc.stderr
    loaded: list[str] = eval(proc.stdout.strip().splitlines()[-1])  # a printed list of str
    return loaded


def test_import_registry_client_loads_no_httpx() -> None:
    # the issue's own acceptance line, verbatim
    proc = run_python("import registry_client, sys; assert 'httpx' not in sys.modules")
    assert proc.returncode == 0, proc.stderr


def test_the_blocking_api_loads_no_asyncio_machinery() -> None:
    assert loaded_after(BLOCKING_API) == []


def test_the_blocking_api_works_without_httpx() -> None:
    proc = run_python(WITHOUT_HTTPX + BLOCKING_API)
    assert proc.returncode == 0, proc.stderr


def test_import_registry_client_aio_without_httpx_says_how_to_install_it() -> None:
    proc = run_python(WITHOUT_HTTPX + textwrap.dedent("""
        try:
            import registry_client.aio
        except ImportError as exc:
            print("ImportError:", exc)
        else:
            print("imported")
    """))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip()
    assert out.startswith("ImportError:"), out
    assert "pip install 'registry-client[async]'" in out


def test_from_registry_client_aio_import_async_registry_without_httpx_fails_the_same_way() -> None:
    proc = run_python(WITHOUT_HTTPX + textwrap.dedent("""
        try:
            from registry_client.aio import AsyncRegistry
        except ImportError as exc:
            print("ImportError:", exc)
        import registry_client
        print("blocking ok:", registry_client.Registry.__name__)
    """))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("ImportError:") and "registry-client[async]" in lines[0]
    assert lines[-1] == "blocking ok: Registry"


def test_async_registry_is_importable_from_registry_client_too_on_first_use() -> None:
    """The contract's "every name on this page is importable from registry_client":
    AsyncRegistry too -- loaded when asked for, so `import registry_client` (and
    `from registry_client import *`) still loads no httpx; without the extra, asking
    for it says how to install it, as `import registry_client.aio` does."""
    proc = run_python(textwrap.dedent("""
        import sys
        from registry_client import *
        assert 'httpx' not in sys.modules
        try:
            from registry_client import AsyncRegistry
        except ImportError as exc:
            print("ImportError:", exc)
        else:
            from registry_client.aio import AsyncRegistry as same
            assert AsyncRegistry is same and 'httpx' in sys.modules
            print("ok")
    """))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip()
    if importlib.util.find_spec("httpx") is not None:
        assert out == "ok"
    else:  # the lowest-dependencies run: no async extra
        assert out.startswith("ImportError:") and "registry-client[async]" in out
