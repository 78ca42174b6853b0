"""Cold start: what a fresh process loads for ``import registry_client``, for
``from registry_client import Registry`` and for ``registry-client ls``.

Each check runs a new interpreter and reads its ``sys.modules``: a module that a
change starts importing at the top of the cheap path (the models, cattrs, tqdm,
the image machinery, asyncio) fails here, by name, before it shows in a benchmark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from registry_client.testing import LocalRegistry, seed_tags

# Never needed to build a Registry or to list tags: the manifest and image models and
# their cattrs converter, progress events and bars, the image/blob/manifest services,
# the tag-delete tombstone (uuid), the asyncio flavour, sync and retention, and what
# only credential helpers and config writes use.
HEAVY = (
    "cattrs", "tqdm", "uuid", "asyncio", "httpx",
    "registry_client.models.image", "registry_client.models.manifest",
    "registry_client.models._converter", "registry_client.progress",
    "registry_client.layout",
    "registry_client.services.images", "registry_client.services.blobs",
    "registry_client.services.manifests", "registry_client.services._tag_delete",
    "registry_client.services._plan", "registry_client.services._copy",
    "registry_client.aio", "registry_client.sync", "registry_client.retention",
    # reading the docker config needs no process (credential helpers) and no lock
    "subprocess", "fcntl", "registry_client._locks",
)

_REPORT = "import json, sys; json.dump(sorted(sys.modules), open(sys.argv[1], 'w'))"


def _modules_after(code: str, tmp_path: Path, *args: str,
                   env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded by a new interpreter once ``code`` has run."""
    out = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{_REPORT}", str(out), *args],
        check=False, timeout=60, cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(out.read_text()))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_import_registry_client_loads_only_the_errors(tmp_path: Path) -> None:
    modules = _modules_after("import registry_client", tmp_path)
    # _lazy: the 40-line PEP 562 helper every lazy package shares (imports nothing)
    assert _loaded(modules, ("registry_client",)) == [
        "registry_client", "registry_client._lazy", "registry_client.errors",
    ]
    assert _loaded(modules, ("requests", "attrs", "attr")) == []


def _theirs(tmp_path: Path) -> set[str]:
    """What requests and attrs load themselves (on 3.10 attrs imports platform, which
    imports subprocess): not ours to keep out."""
    return _modules_after("import attrs, requests", tmp_path)


def test_registry_import_loads_no_service_or_model(tmp_path: Path) -> None:
    modules = _modules_after("from registry_client import Registry", tmp_path)
    assert "registry_client.registry" in modules and "requests" in modules
    assert _loaded(modules - _theirs(tmp_path), HEAVY) == []
    assert _loaded(modules, ("registry_client.models", "registry_client.services.tags")) == []


def test_ls_loads_only_what_a_tag_list_needs(
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
    docker_config_dir: Path,
) -> None:
    seed_tags(anon_registry, unique_repository, ["1.0", "2.0"])
    code = (
        "import contextlib, io, sys\n"
        "from registry_client.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    status = main(['ls', sys.argv[2], '--plain-http'])\n"
        "assert status == 0 and sorted(out.getvalue().split()) == ['1.0', '2.0'], out.getvalue()\n"
    )
    modules = _modules_after(code, tmp_path, f"{anon_registry.host}/{unique_repository}",
                             env={"DOCKER_CONFIG": str(docker_config_dir)})
    assert "registry_client.services.tags" in modules  # the check did list the tags
    assert _loaded(modules - _theirs(tmp_path), HEAVY) == []
    assert _loaded(modules, ("registry_client.models",)) == [
        "registry_client.models", "registry_client.models._mediatype",
        "registry_client.models._tag_page"]
    # only the module of the verb named is imported and built into the parser
    from registry_client.cli._verbs import MODULES
    assert sorted(m for m in modules if m.rsplit(".", 1)[-1] in MODULES) == [
        "registry_client.cli._listing"]


# What only archives, exports, copies, validation, indexes and artifacts use: a pull
# of an image layout needs none of it (tarfile, gzip, the copy plan's models).
NOT_FOR_A_PULL = (
    "tarfile", "gzip", "registry_client._tarfs",
    "registry_client.services._archive", "registry_client.services._archive_files",
    "registry_client.services._archive_write", "registry_client.services._export",
    "registry_client.services._copy", "registry_client.services._plan",
    "registry_client.services._attach", "registry_client.services._validate",
    "registry_client.services._index", "registry_client.services._artifact",
    "registry_client.services._details", "registry_client.models.validation",
    # nor the upload machinery, nor the progress events when no callback is given
    "registry_client.services._upload", "registry_client.services._upload_sessions",
    "registry_client.services._upload_source", "registry_client.progress",
)


def test_pull_loads_no_archive_copy_or_export_machinery(
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    seed_tags(anon_registry, unique_repository, ["1.0"])
    code = (
        "import sys\n"
        "from registry_client import Registry\n"
        "with Registry(sys.argv[2], protocol='http') as reg:\n"
        "    reg.repository(sys.argv[3]).images.pull('1.0', 'out')\n"
    )
    modules = _modules_after(code, tmp_path, anon_registry.host, unique_repository)
    assert "registry_client.services._pull" in modules  # the check did pull
    assert (tmp_path / "out" / "index.json").is_file()
    assert _loaded(modules, NOT_FOR_A_PULL) == []


# The typed documents a pull, push or copy never reads: the image config's and the
# manifests' attrs classes (~1 ms each to build in a fresh process) and the cattrs
# converter. They read manifests as RawManifest, move blobs by descriptor and return
# an Image.
NOT_FOR_MOVING_IMAGES = (
    "cattrs", "registry_client.models.image", "registry_client.models.manifest",
    "registry_client.models._converter", "registry_client.models.validation",
)


# A pull, a copy and a push of `1.0` in either flavour, each snippet setting `got` to
# the three Images; then the same checks for both.
_MOVES = {
    "blocking": (
        "import sys\n"
        "from registry_client import Image, Registry\n"
        "with Registry(sys.argv[2], protocol='http') as reg:\n"
        "    repo = reg.repository(sys.argv[3])\n"
        "    got = [repo.images.pull('1.0', 'out'),\n"
        "           repo.images.copy('1.0', reg.repository(sys.argv[3] + '-copy')),\n"
        "           reg.repository(sys.argv[3] + '-pushed').images.push('out', '1.0')]\n"
    ),
    "asyncio": (
        "import asyncio, sys\n"
        "from registry_client import Image\n"
        "from registry_client.aio import AsyncRegistry\n"
        "async def main():\n"
        "    async with AsyncRegistry(sys.argv[2], protocol='http') as reg:\n"
        "        repo = reg.repository(sys.argv[3])\n"
        "        return [await repo.images.pull('1.0', 'out'),\n"
        "                await repo.images.copy('1.0', reg.repository(sys.argv[3] + '-copy')),\n"
        "                await reg.repository(sys.argv[3] + '-pushed').images.push('out', '1.0')]\n"
        "got = asyncio.run(main())\n"
    ),
}
_SAME_IMAGE = (
    "assert all(isinstance(image, Image) for image in got), got\n"
    "assert len({image.digest for image in got}) == 1, got\n"
)


@pytest.mark.parametrize("flavour", sorted(_MOVES))
def test_pull_push_and_copy_build_no_document_model(
    flavour: str, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    seed_tags(anon_registry, unique_repository, ["1.0"])
    modules = _modules_after(_MOVES[flavour] + _SAME_IMAGE, tmp_path, anon_registry.host,
                             unique_repository)
    assert {"registry_client.services._pull", "registry_client.services._copy",
            "registry_client.services._push"} <= modules  # the check did all three
    assert ("registry_client.aio._images" in modules) is (flavour == "asyncio")
    # and no progress events without a progress callback
    assert _loaded(modules, (*NOT_FOR_MOVING_IMAGES, "registry_client.progress")) == []


# -- the command's exit ------------------------------------------------------------------------

def test_the_command_is_run_which_exits_with_main_s_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc
    from importlib.metadata import entry_points

    import registry_client.cli as cli

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "registry-client"]
    assert script.value == "registry_client.cli:run"
    calls: list[str] = []
    monkeypatch.setattr(cli, "main", lambda: calls.append("main") or 3)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    with pytest.raises(SystemExit) as exited:
        cli.run()
    assert exited.value.code == 3
    # the interpreter's exit then skips the garbage collector's walk over every object
    # left (15-25 ms of each command), once main is done with them
    assert calls == ["main", "freeze"]


def test_python_m_registry_client_runs_the_command_too(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "registry_client", "parse", "alpine"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert "docker.io" in done.stdout
