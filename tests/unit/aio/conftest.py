"""Async unit tests: ``@pytest.mark.anyio`` coroutines on asyncio, on httpx.MockTransport.

``mock_registries()`` gives an ``AsyncRegistry`` and a blocking ``Registry`` of
``registry.example`` answered by one :class:`Router`: a test stubs the answers once,
calls both flavours and compares (results, error types and messages), then asserts on
``router.requests`` (the asyncio flavour's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import requests
import requests_mock

from registry_client import NullAuthenticator, Registry
from registry_client.aio import AsyncRegistry

BASE = "https://registry.example"

Answer = dict[str, Any]


class Router:
    """Answers by ``(method, path)``: a path with its query first, then without it. A
    list of answers is served in turn (the last one repeats); an unknown route is a 599,
    which no test expects. Blocking requests get the same answers via requests-mock."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def add(self, method: str, path: str, *answers: Answer, status: int = 200,
            body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Route ``method path`` (``/v2/...``, with a query or without) to ``answers``."""
        if not answers:
            answers = ({"status": status, "body": body, "headers": headers or {}},)
        self.routes[(method.upper(), path)] = list(answers)

    def _find(self, method: str, path: str, query: str) -> Answer:
        for key in ((method, f"{path}?{query}" if query else path), (method, path)):
            answers = self.routes.get(key)
            if answers is not None:
                return answers.pop(0) if len(answers) > 1 else answers[0]
        return {"status": 599, "body": f"no route {method} {path}".encode()}

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self._find(request.method, request.url.path, request.url.query.decode())
        return _response(answer, request.method)

    def _blocking(self, request: Any, context: Any) -> bytes:
        answer = self._find(request.method, request.path, request.query)
        response = _response(answer, request.method)
        context.status_code = response.status_code
        context.headers.update(response.headers)
        return response.content

    def mount(self, session: requests.Session) -> None:
        """Answer ``session``'s requests (a blocking Registry's) from the same routes."""
        adapter = requests_mock.Adapter()
        adapter.register_uri(requests_mock.ANY, requests_mock.ANY, content=self._blocking)
        session.mount("https://", adapter)

    def paths(self, method: str | None = None) -> list[str]:
        """The paths (with their query) the asyncio flavour asked for, in order."""
        return [r.url.raw_path.decode() for r in self.requests
                if method is None or r.method == method]


def _response(answer: Answer, method: str) -> httpx.Response:
    body = answer.get("body", b"")
    headers = {"Content-Length": str(len(body)), **answer.get("headers", {})}
    return httpx.Response(answer.get("status", 200), headers=headers,
                          content=b"" if method == "HEAD" else body)


MockRegistries = Callable[..., tuple[AsyncRegistry, Registry, Router]]


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio, the loop the library supports."""
    return "asyncio"


@pytest.fixture
async def mock_registries() -> AsyncIterator[MockRegistries]:
    """``mock_registries(**options) -> (AsyncRegistry, Registry, Router)`` of
    ``registry.example``, anonymous (NullAuthenticator), no backoff."""
    made: list[tuple[AsyncRegistry, Registry]] = []

    def make(**options: Any) -> tuple[AsyncRegistry, Registry, Router]:
        router = Router()
        options = {"authenticator": NullAuthenticator(), "retries": 1, "backoff": 0.0,
                   **options}
        session = requests.Session()
        router.mount(session)
        areg = AsyncRegistry("registry.example", transport=router.transport, **options)
        reg = Registry("registry.example", session=session, **options)
        made.append((areg, reg))
        return areg, reg, router

    yield make
    for areg, reg in made:
        await areg.aclose()
        reg.close()
