"""AsyncRegistry on httpx.MockTransport: ping, the catalog as an async iterator and as a
list, search, names and options -- the blocking Registry's results and errors; and the
object graph under it has the blocking API's shape (same names, same arguments)."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from registry_client import Registry
from registry_client.aio import AsyncRegistry, AsyncRepository
from registry_client.aio._blobs import AsyncBlobService
from registry_client.aio._images import AsyncImageService
from registry_client.errors import InvalidReferenceError, RegistryResponseError

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/json"}
API = {"Docker-Distribution-API-Version": "registry/2.0"}


def catalog(names: list[str], link: str | None = None) -> dict[str, Any]:
    headers = dict(JSON)
    if link is not None:
        headers["Link"] = f'<{link}>; rel="next"'
    return {"status": 200, "body": json.dumps({"repositories": names}).encode(),
            "headers": headers}


def two_pages(router: Any) -> None:
    router.add("GET", "/v2/_catalog", catalog(["a/one", "b/two"], "/v2/_catalog?last=b/two"))
    router.add("GET", "/v2/_catalog?last=b/two", catalog(["c/three", "Not/Valid"]))


async def test_repositories_async_for_and_await(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    two_pages(router)

    seen = [repo async for repo in areg.repositories()]
    assert all(isinstance(r, AsyncRepository) and r.registry is areg for r in seen)
    assert [r.name for r in seen] == ["a/one", "b/two", "c/three"]
    listed = await areg.repositories()
    assert [r.name for r in listed] == [r.name for r in reg.repositories()]
    assert await areg.search("o") == ["a/one", "b/two"] == reg.search("o")
    assert router.paths() == ["/v2/_catalog", "/v2/_catalog?last=b/two"] * 3


async def test_iter_repositories_reads_pages_as_they_are_reached(mock_registries: Any) -> None:
    areg, _, router = mock_registries()
    two_pages(router)
    it = areg.iter_repositories(page_size=50)
    assert router.requests == []
    first = await it.__anext__()
    assert first.name == "a/one"
    assert router.paths() == ["/v2/_catalog?n=50"]
    await it.aclose()


async def test_ping(mock_registries: Any) -> None:
    areg, _, router = mock_registries()
    router.add("GET", "/v2/", status=200, body=b"{}", headers={**JSON, **API})
    assert await areg.ping() is None
    assert router.paths() == ["/v2/"]


async def test_ping_of_a_web_server_fails_as_blocking(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    router.add("GET", "/v2/", status=200, body=b"<html>hello</html>",
               headers={"Content-Type": "text/html"})

    with pytest.raises(RegistryResponseError) as blocking:
        reg.ping()
    with pytest.raises(RegistryResponseError) as flavour:
        await areg.ping()
    assert str(flavour.value) == str(blocking.value)
    assert "is not a container registry" in str(flavour.value)


async def test_check_rate_limit_reads_the_heads_headers(mock_registries: Any) -> None:
    areg, reg, router = mock_registries()
    router.add("HEAD", "/v2/org/app/manifests/1.0", status=200,
               headers={"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600"})
    limit = await areg.check_rate_limit("org/app:1.0")
    assert limit is not None and (limit.limit, limit.remaining) == (100, 76)
    assert limit == reg.check_rate_limit("org/app:1.0")


async def test_names_follow_the_blocking_rules(mock_registries: Any) -> None:
    areg, reg, _ = mock_registries()
    assert areg.repository_from_string("registry.example/org/app:1.0").name == "org/app"
    for bad in ("org/app:1.0", "https://registry.example/org/app", "UPPER/case"):
        with pytest.raises(InvalidReferenceError) as blocking:
            reg.repository(bad)
        with pytest.raises(InvalidReferenceError) as flavour:
            areg.repository(bad)
        assert str(flavour.value) == str(blocking.value)
    with pytest.raises(ValueError, match="is on registry"):
        areg.repository_from_string("ghcr.io/org/app")


async def test_async_with_and_repr() -> None:
    async with AsyncRegistry("localhost:5000", protocol="http") as areg:
        assert repr(areg) == "AsyncRegistry(domain='localhost:5000', protocol='http')"
        assert repr(areg.repository("app")) == (
            "AsyncRepository(domain='localhost:5000', name='app')")
        assert areg.repository("app") == areg.repository("app")


async def test_from_reference_and_from_docker_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = {"auths": {"registry.example": {"username": "me", "password": "pw"}}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))

    async with AsyncRegistry.from_docker_config("registry.example") as areg:
        blocking = Registry.from_docker_config("registry.example")
        stored = areg.requester.authenticator
        assert type(stored) is type(blocking.requester.authenticator)
        assert repr(stored) == repr(blocking.requester.authenticator)
        assert "'me'" in repr(stored) and "pw" not in repr(stored)
        blocking.close()
    async with AsyncRegistry.from_reference("http://localhost:5000/app:1") as areg:
        assert (areg.domain, areg.requester.protocol) == ("localhost:5000", "http")


# -- the blocking API's shape --------------------------------------------------------
HOST = "127.0.0.1:1"  # nothing listens there: nothing here may send a request

# Names whose async form is not a same-named method, each with the reason.
NOT_MIRRORED = {
    "close",  # closing is `async with` / the async close of the asyncio client
    "scope",  # services' plumbing (the token scope of an action), not an operation
}


def public_methods(obj: Any) -> dict[str, inspect.Signature]:
    """Public methods (and classmethods) of ``obj``'s class: name -> bound signature."""
    found: dict[str, inspect.Signature] = {}
    for name in dir(type(obj)):
        if name.startswith("_") or name in NOT_MIRRORED:
            continue
        if isinstance(inspect.getattr_static(type(obj), name), property):
            continue
        value = getattr(obj, name)
        if callable(value):
            found[name] = inspect.signature(value)
    return found


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
                theirs = public_methods(flavour)
                for name, sig in public_methods(blocking).items():
                    if name not in theirs:
                        problems.append(f"{what}.{name}: missing")
                    elif parameters(theirs[name]) != parameters(sig):
                        problems.append(f"{what}.{name}{theirs[name]} != {sig}")
            assert problems == []


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
