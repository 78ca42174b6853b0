"""Run the real CNCF Distribution registry (``docker-registry serve``) as a local process."""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Literal

import requests

from ._accesslog import SYNC_PREFIX, AccessLogEntry, LogCapture
from ._binary import basic_header, find_registry_binary, make_htpasswd
from ._grants import Grants
from ._token_server import TokenServer
from ._util import INTERNAL_USER_AGENT, LOCALHOST, StartStop, deep_merge, free_port

AuthMode = Literal["anonymous", "basic", "token"]
AUTH_MODES: tuple[AuthMode, ...] = ("anonymous", "basic", "token")

DEFAULT_ADMIN = ("admin", "admin-pass")

_running: set[LocalRegistry] = set()
"""Every started registry until it is stopped, held strongly: one the program dropped
is still stopped (and its storage removed) at exit."""


_INSTANCE_HEADER = "X-Registry-Client-Instance"

class LocalRegistry(StartStop):
    """A real Distribution registry process on ``127.0.0.1`` with throw-away storage.

    ``auth`` is ``"anonymous"`` (no auth), ``"basic"`` (htpasswd: every user may do
    anything) or ``"token"`` (a :class:`TokenServer` is started as the realm; ``grants``
    decide what each user may do).  An all-powerful :attr:`admin` user always exists in
    ``basic`` / ``token`` mode (``admin`` / ``admin-pass`` unless ``users`` gives
    ``"admin"`` another password).  Use as a context manager or call :meth:`start` /
    :meth:`stop`.

    ``extra_config`` is merged into the generated Distribution configuration. A
    port of your own goes in ``{"http": {"addr": "127.0.0.1:PORT"}}``: the
    registry listens there (and fails to start, saying so, when it is taken);
    otherwise it gets a free port. It speaks plain HTTP: an ``http.tls`` section is
    refused (a ValueError).
    """

    def __init__(
        self,
        auth: AuthMode = "anonymous",
        *,
        users: Mapping[str, str] | None = None,
        grants: Grants | None = None,
        token_lifetime: int = 300,
        delete_enabled: bool = True,
        binary: str | os.PathLike[str] | None = None,
        extra_config: Mapping[str, Any] | None = None,
        storage_dir: str | os.PathLike[str] | None = None,
        log_level: str = "info",
        startup_timeout: float = 10.0,
    ) -> None:
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {AUTH_MODES}, not {auth!r}")
        if grants is not None and auth != "token":
            raise ValueError("grants only apply to auth='token'")
        self.auth: AuthMode = auth
        """The auth mode: ``"anonymous"``, ``"basic"`` or ``"token"``."""
        self.users: dict[str, str] = {}
        """User name -> password (includes the admin); empty in anonymous mode.  In token
        mode this is the token server's user table, so changes apply immediately."""
        self.admin: tuple[str, str] | None = None
        """(user, password) of a user allowed everything; None in anonymous mode."""
        if auth != "anonymous":
            given = dict(users if users is not None else {})
            admin_name, default_pw = DEFAULT_ADMIN
            self.users = {admin_name: given.pop(admin_name, default_pw), **given}
            self.admin = (admin_name, self.users[admin_name])
        self.token_server: TokenServer | None = None
        """The token server (token mode only; created by :meth:`start`)."""
        self.delete_enabled = delete_enabled
        self.extra_config: dict[str, Any] = dict(extra_config or {})
        if (self.extra_config.get("http") or {}).get("tls"):
            raise ValueError(
                "LocalRegistry serves plain HTTP on 127.0.0.1 (its probe, url and the "
                "clients it seeds with speak http://): for HTTPS, run docker-registry "
                "with an http.tls section and the files of self_signed_certificate()")
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self._grants = grants
        self._token_lifetime = token_lifetime
        self._binary = binary
        self._given_storage = Path(storage_dir) if storage_dir is not None else None
        self._workdir: Path | None = None
        self._port: int | None = None
        self._fixed_port = False  # the port came from extra_config http.addr
        self._process: subprocess.Popen[str] | None = None
        self._last_returncode: int | None = None
        self._threads: list[threading.Thread] = []
        self._instance = secrets.token_hex(8)
        self._log = LogCapture()
        self.config: dict[str, Any] = {}
        """The configuration the registry was started with (set by :meth:`start`)."""

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> LocalRegistry:
        """Start the registry (and token server) and wait until ``/v2/`` answers."""
        if self._process is not None:
            raise RuntimeError("registry already started")
        binary = find_registry_binary(self._binary)
        try:
            self._workdir = Path(tempfile.mkdtemp(prefix="registry-client-", dir=_fast_tmp()))
            if self.auth == "token":
                self.token_server = TokenServer(
                    self.users,
                    self._grants,
                    admin=self.admin[0] if self.admin else DEFAULT_ADMIN[0],
                    lifetime=self._token_lifetime,
                    directory=self._workdir,
                ).start()
                self.token_server.users = self.users  # one dict: edits apply to token auth
            self.config = self._build_config()
            config_path = self._workdir / "config.json"
            config_path.write_text(json.dumps(self.config, indent=2))
            for _attempt in range(3):
                self._spawn(binary, config_path)
                if self._wait_ready():
                    break
                self._kill()
                if "address already in use" not in self.output_tail() or self._fixed_port:
                    raise RuntimeError(self._startup_failure(binary))
                self._port = free_port()
                self.config["http"]["addr"] = f"{LOCALHOST}:{self._port}"
                config_path.write_text(json.dumps(self.config, indent=2))
            else:
                raise RuntimeError(self._startup_failure(binary))
        except BaseException:
            self.stop()
            raise
        _running.add(self)
        return self

    def stop(self) -> None:
        """Stop the process and the token server and delete temporary files (idempotent)."""
        _running.discard(self)
        self._kill()
        if self.token_server is not None:
            self.token_server.stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def restart(self) -> None:
        """Restart the registry process on the same port, keeping storage and tokens."""
        if self._process is None or self._workdir is None:
            raise RuntimeError("registry is not running")
        self._kill()
        self._spawn(find_registry_binary(self._binary), self._workdir / "config.json")
        if not self._wait_ready():
            raise RuntimeError(self._startup_failure("registry (restart)"))

    def __repr__(self) -> str:
        where = self.url if self._port is not None and self.running else "stopped"
        return f"<LocalRegistry auth={self.auth!r} {where}>"

    # -- addresses -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the registry process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the registry (None when not started)."""
        return self._process.pid if self._process is not None else None

    @property
    def port(self) -> int:
        """The registry's TCP port on 127.0.0.1."""
        if self._port is None:
            raise RuntimeError("registry is not started")
        return self._port

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` - e.g. ``Registry(reg.host, protocol="http")``."""
        return f"{LOCALHOST}:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}"

    @property
    def storage_dir(self) -> Path:
        """The registry's filesystem storage root."""
        if self._given_storage is not None:
            return self._given_storage
        if self._workdir is None:
            raise RuntimeError("registry is not started")
        return self._workdir / "storage"

    # -- auth helpers --------------------------------------------------------------------

    def admin_headers(
        self, repositories: list[str] | tuple[str, ...] = (), *, catalog: bool = False
    ) -> dict[str, str]:
        """Headers authenticating raw requests as :attr:`admin`.

        Anonymous mode: ``{}``.  Basic mode: a Basic ``Authorization`` header.  Token mode:
        a Bearer token minted for ``*`` on each of ``repositories`` (and on
        ``registry:catalog:*`` when ``catalog`` is true).
        """
        if self.admin is None:
            return {}
        if self.token_server is None:
            return {"Authorization": basic_header(*self.admin)}
        access: list[dict[str, Any]] = [
            {"type": "repository", "name": name, "actions": ["*"]} for name in repositories
        ]
        if catalog:
            access.append({"type": "registry", "name": "catalog", "actions": ["*"]})
        return {"Authorization": "Bearer " + self.token_server.mint(access, self.admin[0])}

    # -- logs ----------------------------------------------------------------------------

    def access_log_entries(
        self, *, include_internal: bool = False, wait: float = 2.0
    ) -> list[AccessLogEntry]:
        """Parsed access log entries so far (oldest first).

        Requests sent by the helpers of this package (readiness probes, seeding, log sync)
        are left out unless ``include_internal`` is true. With ``wait > 0`` the log is first
        synchronised (:meth:`sync_access_log`), so every request already answered is in it.
        """
        if wait > 0 and self.running:
            self.sync_access_log(wait)
        return [e for e in self._log.entries() if include_internal or not e.internal]

    def access_log(self, *, include_internal: bool = False, wait: float = 2.0) -> list[str]:
        """Requests seen so far as ``"METHOD /path?query"`` strings (oldest first)."""
        return [
            str(e)
            for e in self.access_log_entries(include_internal=include_internal, wait=wait)
        ]

    def request_count(
        self,
        method: str | None = None,
        path_contains: str | None = None,
        *,
        status: int | None = None,
        wait: float = 2.0,
    ) -> int:
        """Count requests in the access log matching ``method``/``path_contains``/``status``.

        ``path_contains`` is a substring of the logged request target (path and query).
        Internal requests (probes, seeding) are never counted.  With ``wait > 0`` the log is
        first synchronised (:meth:`sync_access_log`) so requests that already got their
        answer are counted; ``wait=0`` counts what has been read so far.
        """
        return sum(
            1
            for e in self.access_log_entries(wait=wait)
            if (method is None or e.method == method.upper())
            and (path_contains is None or path_contains in e.uri)
            and (status is None or e.status == status)
        )

    def sync_access_log(self, timeout: float = 2.0) -> None:
        """Wait until the log lines of all requests answered so far have been read.

        Sends a marker request and waits for its log line (the registry writes its log in
        order, through one pipe).  Raises :class:`TimeoutError` after ``timeout`` seconds.
        """
        marker = f"{SYNC_PREFIX}{uuid.uuid4().hex}"
        try:
            requests.get(f"{self.url}/v2/", headers={"User-Agent": marker}, timeout=timeout)
        except requests.RequestException as exc:
            raise TimeoutError(f"registry did not answer the log sync request: {exc}") from exc
        self._log.wait_for_marker(marker, timeout, lambda: self.running)

    def clear_access_log(self, *, sync: bool = True) -> None:
        """Forget the access log so far (after syncing it, unless ``sync`` is false)."""
        if sync and self.running:
            self.sync_access_log()
        self._log.clear_entries()

    def output_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the registry's stderr/stdout (for error messages)."""
        return self._log.tail(lines)

    # -- internals -----------------------------------------------------------------------

    def _build_config(self) -> dict[str, Any]:
        assert self._workdir is not None
        if self._port is None:
            self._port = free_port()
        storage = self.storage_dir
        storage.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": self.log_level, "accesslog": {"disabled": False}},
            "http": {"addr": f"{LOCALHOST}:{self._port}", "secret": secrets.token_hex(16),
                     # every answer names this process: another server that took the
                     # port first is never mistaken for it
                     "headers": {_INSTANCE_HEADER: [self._instance]}},
            "storage": {
                "filesystem": {"rootdirectory": str(storage)},
                "delete": {"enabled": self.delete_enabled},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
        }
        if self.auth == "basic":
            htpasswd = self._workdir / "htpasswd"
            htpasswd.write_text(make_htpasswd(self.users))
            config["auth"] = {"htpasswd": {"realm": "registry-client-test", "path": str(htpasswd)}}
        elif self.token_server is not None:
            config["auth"] = {
                "token": {
                    "realm": self.token_server.realm,
                    "service": self.token_server.service,
                    "issuer": self.token_server.issuer,
                    "rootcertbundle": str(self.token_server.root_cert_path),
                }
            }
        merged = deep_merge(config, self.extra_config)
        wanted = (self.extra_config.get("http") or {}).get("addr")
        if wanted is not None:
            # The caller's port: used for the readiness probe, host and url, and never
            # swapped for another one when it is taken.
            address, _, port = str(wanted).rpartition(":")
            if address not in (LOCALHOST, "") or not port.isdigit():
                raise ValueError(f"extra_config http.addr must be '{LOCALHOST}:PORT', "
                                 f"not {wanted!r}")
            self._port = int(port)
            self._fixed_port = True
            merged["http"]["addr"] = f"{LOCALHOST}:{self._port}"
        return merged

    def _spawn(self, binary: str, config_path: Path) -> None:
        self._log.clear_output()
        process = subprocess.Popen(
            [binary, "serve", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            cwd=self._workdir,
        )
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        self._threads = [
            threading.Thread(
                target=_drain,
                args=(stream, self._log.feed),
                daemon=True,
                name=f"registry-{process.pid}-{name}",
            )
            for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))
        ]
        for thread in self._threads:
            thread.start()

    def _wait_ready(self) -> bool:
        """Poll ``GET /v2/`` until it answers 200/401; False if the process died/timed out."""
        deadline = time.monotonic() + self.startup_timeout
        headers = {"User-Agent": f"{INTERNAL_USER_AGENT}/probe"}
        with requests.Session() as session:
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    return False
                try:
                    response = session.get(f"{self.url}/v2/", headers=headers, timeout=1)
                    if response.status_code in (200, 401):
                        if response.headers.get(_INSTANCE_HEADER) == self._instance:
                            return True
                        # Someone else answers on this port: ours will fail to bind and
                        # exit, and start() then tries another port.
                except requests.RequestException:
                    pass
                time.sleep(0.02)
        return False

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        self._last_returncode = process.poll()
        if self._last_returncode is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads = []
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    def _startup_failure(self, binary: str) -> str:
        if self._last_returncode is not None:
            what = f"exited with status {self._last_returncode}"
        else:
            what = f"did not answer on {self.url} within {self.startup_timeout:g}s"
        return f"the registry ({binary} serve) {what}; its output:\n{self.output_tail()}"


def _drain(stream: IO[str], feed: Callable[[str], None]) -> None:
    """Read a pipe until EOF so the registry never blocks on a full pipe."""
    for line in stream:
        feed(line)


def _fast_tmp() -> str | None:
    """A RAM-backed temp dir (``/dev/shm``) when available: the filesystem storage driver
    fsyncs every file it writes, which makes pushes several times slower on a disk."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


@atexit.register
def _stop_leftovers() -> None:
    """Never leave registry processes behind, even if a test session forgot to stop them."""
    for registry in list(_running):
        registry.stop()
