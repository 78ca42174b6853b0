"""A small Docker-compatible token server (``auth.token`` realm) for tests."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import json
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._grants import Grants, Scope, default_grants, grant_access, split_scopes
from ._jwt import TokenSigner
from ._util import LOCALHOST, StartStop

DEFAULT_SERVICE = "registry-client-test-registry"
DEFAULT_ISSUER = "registry-client-test-token-server"


@dataclasses.dataclass(frozen=True)
class TokenRequest:
    """One request received by a :class:`TokenServer`."""

    method: str
    """``"GET"`` or ``"POST"``."""
    path: str
    """Request path without the query string (``/token``)."""
    query: dict[str, list[str]]
    """Query parameters (for POST: query and form fields; passwords are masked)."""
    user: str | None
    """User name presented (Basic auth, form ``username`` or refresh token owner), or None."""
    scopes: list[str]
    """Scopes requested, one entry per scope (space-separated values are split)."""
    time: float
    """``time.time()`` when the request arrived."""
    status: int
    """HTTP status the token server answered."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    token_server: TokenServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall on keep-alive connections
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def do_GET(self) -> None:
        self.server.token_server._handle(self, "GET", b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.token_server._handle(self, "POST", self.rfile.read(length))

    def send_json(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class TokenServer(StartStop):
    """A threaded token server implementing Docker's token authentication protocol.

    * ``GET /token?service=S&scope=S1&scope=S2[&account=A][&offline_token=true]`` with
      optional Basic credentials (none = anonymous);
    * ``POST /token`` with an OAuth2 form: ``grant_type=password`` (``username``,
      ``password``, ``scope`` space-separated, ``access_type=offline`` to also get a
      ``refresh_token``) or ``grant_type=refresh_token`` (``refresh_token``).

    The granted access is the intersection of the requested and the allowed actions (see
    :data:`Grants`); a wrong password gives 401 with a JSON error body.  Useful knobs for
    tests: :attr:`lifetime` (``expires_in``), :meth:`fail_next`, :attr:`delay`,
    :attr:`requests` / :attr:`count` / :meth:`reset`, and :meth:`mint`.
    """

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        grants: Grants | None = None,
        *,
        admin: str = "admin",
        lifetime: int = 300,
        service: str = DEFAULT_SERVICE,
        issuer: str = DEFAULT_ISSUER,
        directory: str | Path | None = None,
    ) -> None:
        self.users: dict[str, str] = dict(users or {})
        """User name -> password; may be changed while the server runs."""
        self._admin = admin
        self.grants: dict[str | None, dict[str, str]] = default_grants(self.users, admin)
        """Effective grant rules (defaults overlaid with ``grants``); mutable at runtime.
        A user without an entry (one added to :attr:`users` later) gets the defaults."""
        for user, rules in (grants or {}).items():
            self.grants[user] = dict(rules)
        self.lifetime = lifetime
        """``expires_in`` (and ``exp - iat``) of issued tokens, in seconds; settable."""
        self.delay = 0.0
        """Seconds to sleep before answering each request (for timeout tests)."""
        self.service = service
        """The service name; the registry's ``auth.token.service`` and the tokens' ``aud``."""
        self.issuer = issuer
        """The ``iss`` claim; the registry's ``auth.token.issuer``."""
        self._directory = Path(directory) if directory is not None else None
        self._own_directory = False
        self._lock = threading.Lock()
        self._requests: list[TokenRequest] = []
        self._failures: list[int] = []
        self._refresh_tokens: dict[str, str] = {}
        self._signer: TokenSigner | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> TokenServer:
        """Generate keys, write the root certificate and start serving; returns self."""
        if self._server is not None:
            raise RuntimeError("token server already started")
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="registry-client-token-"))
            self._own_directory = True
        self.root_cert_path.write_bytes(self._get_signer().root_pem)
        server = _Server((LOCALHOST, 0), _Handler)
        server.token_server = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"token-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the temporary directory (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._own_directory and self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
            self._own_directory = False

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1 (only once started)."""
        if self._server is None:
            raise RuntimeError("token server is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def realm(self) -> str:
        """The token endpoint, ``http://127.0.0.1:PORT/token`` (the registry's realm)."""
        return f"{self.url}/token"

    @property
    def root_cert_path(self) -> Path:
        """PEM file with the root CA certificate (the registry's ``rootcertbundle``)."""
        if self._directory is None:
            raise RuntimeError("token server is not started")
        return self._directory / "token-root-ca.pem"

    # -- test knobs ----------------------------------------------------------------------

    @property
    def requests(self) -> list[TokenRequest]:
        """A snapshot of the requests received so far (oldest first)."""
        with self._lock:
            return list(self._requests)

    @property
    def count(self) -> int:
        """Number of requests received so far (including failed ones)."""
        with self._lock:
            return len(self._requests)

    def reset(self) -> None:
        """Forget recorded requests, pending :meth:`fail_next` failures and :attr:`delay`."""
        with self._lock:
            self._requests.clear()
            self._failures.clear()
        self.delay = 0.0

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """Make the next ``n`` token requests fail with HTTP ``status``."""
        with self._lock:
            self._failures.extend([status] * n)

    def mint(
        self,
        access: list[dict[str, Any]],
        subject: str = "admin",
        lifetime: int | None = None,
        *,
        audience: str | None = None,
    ) -> str:
        """Return a signed token with the given ``access`` claim, without any HTTP.

        ``access`` items look like ``{"type": "repository", "name": "a/b",
        "actions": ["pull", "push"]}``.  The token is accepted by any registry that trusts
        this server (``lifetime`` defaults to :attr:`lifetime`).
        """
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience or self.service,
            "exp": now + (self.lifetime if lifetime is None else lifetime),
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        return self._get_signer().sign(claims)

    def _get_signer(self) -> TokenSigner:
        with self._lock:
            if self._signer is None:
                self._signer = TokenSigner(self.issuer)
            return self._signer

    # -- request handling ----------------------------------------------------------------

    def _handle(self, handler: _Handler, method: str, body: bytes) -> None:
        if self.delay > 0:
            time.sleep(self.delay)
        parts = urlsplit(handler.path)
        params = parse_qs(parts.query, keep_blank_values=True)
        if method == "POST":
            for key, values in parse_qs(body.decode("utf-8", "replace")).items():
                params.setdefault(key, []).extend(values)
        user, status, answer, headers = self._answer(handler, method, parts.path, params)
        recorded = {k: (["***"] if k == "password" else v) for k, v in params.items()}
        record = TokenRequest(
            method=method,
            path=parts.path,
            query=recorded,
            user=user,
            scopes=split_scopes(params.get("scope", [])),
            time=time.time(),
            status=status,
        )
        with self._lock:
            self._requests.append(record)
        handler.send_json(status, answer, headers)

    def _answer(
        self, handler: _Handler, method: str, path: str, params: dict[str, list[str]]
    ) -> tuple[str | None, int, dict[str, Any], dict[str, str]]:
        """Return (user, status, JSON body, extra headers) for one request."""
        user, password = _basic_credentials(handler.headers.get("Authorization"))
        if method == "POST" and user is None:
            user = _first(params, "username")
            password = _first(params, "password")
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return user, failure, _error("UNAVAILABLE", "injected failure"), {}
        if path.rstrip("/") != "/token":
            return user, 404, _error("NOT_FOUND", f"no such endpoint: {path}"), {}

        grant_type = _first(params, "grant_type") if method == "POST" else None
        offline = False
        if method == "GET":
            offline = _first(params, "offline_token") == "true"
        elif grant_type == "password":
            if user is None:
                return None, 400, _oauth_error("invalid_request", "username missing"), {}
            offline = _first(params, "access_type") == "offline"
        elif grant_type == "refresh_token":
            with self._lock:
                owner = self._refresh_tokens.get(_first(params, "refresh_token") or "")
            if owner is None or owner not in self.users:
                return owner, 401, _oauth_error("invalid_grant", "invalid refresh token"), {}
            user, password, offline = owner, self.users[owner], True
        else:
            message = f"unsupported grant_type: {grant_type!r}"
            return user, 400, _oauth_error("unsupported_grant_type", message), {}

        if user is not None and (user not in self.users or self.users[user] != password):
            challenge = {"WWW-Authenticate": f'Basic realm="{self.realm}"'}
            if method == "POST":
                return user, 401, _oauth_error("invalid_grant", "bad credentials"), challenge
            return user, 401, _error("UNAUTHORIZED", "incorrect username or password"), challenge

        scopes = [s for s in map(Scope.parse, split_scopes(params.get("scope", []))) if s]
        rules = self.grants.get(user)
        if rules is None:  # a user added at runtime: the defaults, as for the others
            rules = default_grants([user] if user else [], self._admin).get(user, {})
        access = grant_access(rules, scopes)
        lifetime = self.lifetime
        token = self.mint(
            access,
            subject=user or "",
            lifetime=lifetime,
            audience=_first(params, "service") or self.service,
        )
        issued_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        answer: dict[str, Any] = {"expires_in": lifetime, "issued_at": issued_at}
        if method == "GET":
            answer = {"token": token, "access_token": token, **answer}
        else:
            granted = [Scope(a["type"], a["name"], tuple(a["actions"])) for a in access]
            answer = {"access_token": token, **answer, "scope": " ".join(map(str, granted))}
        if offline and user is not None:
            refresh = _first(params, "refresh_token") if grant_type == "refresh_token" else None
            if refresh is None:
                refresh = secrets.token_urlsafe(32)
                with self._lock:
                    self._refresh_tokens[refresh] = user
            answer["refresh_token"] = refresh
        return user, 200, answer, {}


def _first(params: Mapping[str, list[str]], key: str) -> str | None:
    values = params.get(key)
    return values[0] if values else None


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", None
    user, _, password = decoded.partition(":")
    return user, password


def _error(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "detail": None}], "details": message}


def _oauth_error(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description}
