"""``AsyncRegistry`` and the object graph under it have the blocking API's shape: the
same names, the same arguments (the registry's own behaviour on a mock transport is in
``test_registry.py``)."""

from __future__ import annotations

import functools
import inspect
import subprocess
import sys
from typing import Any

import pytest

from registry_client import Registry
from registry_client.aio._blobs import AsyncBlobService
from registry_client.aio._images import AsyncImageService

HOST = "127.0.0.1:1"  # nothing listens there: nothing here may send a request

def public_methods(obj: Any) -> dict[str, inspect.Signature]:
    """Public methods (and classmethods) of ``obj``'s class: name -> bound signature."""
    found: dict[str, inspect.Signature] = {}
    for name in dir(type(obj)):
        if name.startswith("_") or _is_attribute(obj, name):
            continue
        value = getattr(obj, name)
        if callable(value):
            found[name] = inspect.signature(value)
    return found


def public_attributes(obj: Any) -> set[str]:
    """Public properties (cached ones too) of ``obj``'s class."""
    return {name for name in dir(type(obj))
            if not name.startswith("_") and _is_attribute(obj, name)}


def _is_attribute(obj: Any, name: str) -> bool:
    return isinstance(inspect.getattr_static(type(obj), name),
                      (property, functools.cached_property))


def parameters(sig: inspect.Signature) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def test_registry_client_aio_exports_async_registry() -> None:
    proc = subprocess.run(
        [sys.executable, "-c",
         "import sys\nfrom registry_client.aio import AsyncRegistry\n"
         "assert 'httpx' in sys.modules\nprint(AsyncRegistry.__name__)"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "AsyncRegistry"


@pytest.mark.anyio
async def test_every_blocking_method_has_an_async_twin_with_the_same_arguments() -> None:
    from registry_client.aio import AsyncRegistry

    async with AsyncRegistry(HOST, protocol="http") as areg:
        with Registry(HOST, protocol="http") as reg:
            repo = reg.repository("demo/app")
            arepo = await _maybe_await(areg.repository("demo/app"))
            pairs = {
                "Registry": (reg, areg),
                "Repository": (repo, arepo),
                "images": (repo.images, arepo.images),
                "tags": (repo.tags, arepo.tags),
                "manifests": (repo.manifests, arepo.manifests),
                "blobs": (repo.blobs, arepo.blobs),
            }
            problems: list[str] = []
            for what, (blocking, flavour) in pairs.items():
                problems += [f"{what}.{name}: missing" for name in public_attributes(blocking)
                             if not hasattr(flavour, name)]
                theirs = public_methods(flavour)
                for name, sig in public_methods(blocking).items():
                    if name not in theirs:
                        problems.append(f"{what}.{name}: missing")
                    elif parameters(theirs[name]) != parameters(sig):
                        problems.append(f"{what}.{name}{theirs[name]} != {sig}")
            assert problems == []
            # the referrers of a repository's manifests, as the blocking plumbing has them
            referrers = (repo.manifests.referrers_service, arepo.manifests.referrers_service)
            theirs = public_methods(referrers[1])
            assert {name: parameters(sig) for name, sig in public_methods(referrers[0]).items()
                    } == {name: parameters(sig) for name, sig in theirs.items()}


@pytest.mark.anyio
async def test_the_repository_knows_its_name_domain_and_registry() -> None:
    from registry_client.aio import AsyncRegistry

    async with AsyncRegistry(HOST, protocol="http") as areg:
        repo = await _maybe_await(areg.repository("demo/app"))
        assert (repo.name, repo.domain) == ("demo/app", HOST)
        assert repo.registry is areg
        assert areg.domain == HOST


def test_async_registry_takes_the_blocking_registrys_options() -> None:
    from registry_client.aio import AsyncRegistry

    blocking = inspect.signature(Registry.__init__).parameters
    flavour = inspect.signature(AsyncRegistry.__init__).parameters
    # `session` is a requests.Session: the asyncio flavour has its own client type there
    missing = [n for n in blocking if n not in flavour and n != "session"]
    assert missing == []
    for name in ("from_reference", "from_docker_config"):
        assert callable(getattr(AsyncRegistry, name))


@pytest.mark.parametrize(("name", "cls"), [
    ("AsyncImageService", AsyncImageService),
    ("AsyncBlobService", AsyncBlobService),
])
def test_every_service_class_is_exported(name: str, cls: type) -> None:
    import registry_client.aio as aio

    assert name in aio.__all__
    assert getattr(aio, name) is cls
    assert name in dir(aio)


def test_the_services_are_imported_when_first_asked_for() -> None:
    code = (
        "import sys, registry_client.aio as aio\n"
        "assert 'registry_client.aio._images' not in sys.modules\n"
        "assert 'registry_client.aio._blobs' not in sys.modules\n"
        "aio.AsyncImageService\n"
        "assert 'registry_client.aio._images' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
