"""What every verb shares: parsed references, credentials, registries, output and progress."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, TextIO

import requests
import requests.adapters

from registry_client import (
    Authenticator,
    ImageReference,
    InvalidReferenceError,
    Platform,
    Registry,
    Repository,
    TokenAuthenticator,
    __version__,
    docker_config,
    parse_image_name,
)
from registry_client.progress import ProgressCallback

from ._log import Redactor, trace_hook
from ._text import json_safe, printable

__all__ = ["Context", "UsageError"]

ENV_USERNAME = "REGISTRY_USERNAME"
ENV_PASSWORD = "REGISTRY_PASSWORD"
DEFAULT_TAG = "latest"
USER_AGENT = f"registry-client-cli/{__version__}"


class UsageError(Exception):
    """The command line is wrong (exit status 2)."""


class Context:
    """One CLI run: the parsed flags, the credentials and the registries it opened."""

    def __init__(
        self, args: argparse.Namespace, *, stdin: TextIO, stdout: TextIO, stderr: TextIO,
        redactor: Redactor,
    ) -> None:
        self.args = args
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.redactor = redactor
        self.json: bool = bool(args.json)
        self.verbose: bool = bool(args.verbose)
        self.platform: Platform | None = self._parse_platform(args.platform)
        self._credentials = self._explicit_credentials()
        self._registries: dict[tuple[str, str], Registry] = {}

    # -- flags ---------------------------------------------------------------------------
    @staticmethod
    def _parse_platform(value: str | None) -> Platform | None:
        if value is None:
            return None
        try:
            return Platform.parse(value)
        except ValueError as exc:
            raise UsageError(f"--platform: {exc}") from None

    def _explicit_credentials(self) -> tuple[str, str] | None:
        """Credentials from the flags, else from the environment; None: use docker's."""
        args = self.args
        if args.password is not None and args.password_stdin:
            raise UsageError("give either --password or --password-stdin, not both")
        password: str | None = args.password
        if args.password_stdin:
            password = self.stdin.read()
            password = password.removesuffix("\n").removesuffix("\r")
            if not password:
                raise UsageError("--password-stdin: nothing was read from standard input")
        username: str | None = args.username
        if username is not None or password is not None:
            username = username if username is not None else os.environ.get(ENV_USERNAME)
            password = password if password is not None else os.environ.get(ENV_PASSWORD)
            if username is None:
                raise UsageError(f"a password was given without --username (or ${ENV_USERNAME})")
            if password is None:
                raise UsageError(
                    "--username needs --password-stdin, --password or "
                    f"${ENV_PASSWORD}"
                )
        else:
            username = os.environ.get(ENV_USERNAME) or None
            password = os.environ.get(ENV_PASSWORD)
            if username is None and not password:
                return None
            if username is None or password is None:
                raise UsageError(f"set both ${ENV_USERNAME} and ${ENV_PASSWORD}, or neither")
        self.redactor.add(password)
        return username, password

    # -- references ----------------------------------------------------------------------
    def reference(self, text: str, what: str = "reference") -> ImageReference:
        """Parse a ``docker pull``-style reference (``localhost:5000/app:1.0``).

        Raises:
            UsageError: it is not a valid reference.
        """
        try:
            return parse_image_name(text, allow_scheme=True)
        except InvalidReferenceError as exc:
            raise UsageError(f"{what}: {exc}") from None

    def image_reference(self, text: str, what: str = "reference") -> tuple[ImageReference, str]:
        """A reference and what to ask the registry for: digest, else tag, else ``latest``."""
        ref = self.reference(text, what)
        return ref, ref.reference or DEFAULT_TAG

    def repository_reference(self, text: str, what: str = "repository") -> ImageReference:
        """A reference that must name a repository only (no tag, no digest)."""
        ref = self.reference(text, what)
        if ref.tag is not None or ref.digest is not None:
            raise UsageError(f"{what} {text!r}: give a repository without a tag or digest")
        return ref

    # -- registries ----------------------------------------------------------------------
    def authenticator(self, domain: str) -> Authenticator | None:
        """Credentials for ``domain``: flags > environment > docker config > anonymous."""
        if self._credentials is not None:
            username, password = self._credentials
            return TokenAuthenticator(username=username, password=password)
        found = docker_config.credentials_for(domain)
        if found is None:
            return None
        if found.identity_token:
            self.redactor.add(found.identity_token)
            return TokenAuthenticator(username=found.username, refresh_token=found.identity_token)
        self.redactor.add(found.password)
        return TokenAuthenticator(username=found.username, password=found.password)

    def _session(self) -> requests.Session | None:
        if not self.verbose:
            return None
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=10)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.hooks["response"].append(trace_hook(self.redactor))
        return session

    def registry(self, ref: ImageReference) -> Registry:
        """The Registry of a reference, opened once per domain and protocol."""
        args = self.args
        protocol = ref.scheme or ("http" if args.plain_http else "https")
        key = (ref.domain, protocol)
        if key not in self._registries:
            self._registries[key] = Registry(
                ref.domain,
                authenticator=self.authenticator(ref.domain),
                protocol=protocol,
                verify=not args.skip_tls_verify,
                session=self._session(),
                user_agent=USER_AGENT,
            )
        return self._registries[key]

    def repository(self, ref: ImageReference) -> Repository:
        """The repository a reference names."""
        return self.registry(ref).repository(ref.path)

    def close(self) -> None:
        """Close every registry (and session) this run opened."""
        for reg in self._registries.values():
            session = reg.requester.session
            reg.close()
            if self.verbose:
                session.close()
        self._registries.clear()

    # -- output --------------------------------------------------------------------------
    def line(self, text: str = "") -> None:
        """Print one line of text on stdout, control characters escaped (tabs kept)."""
        self.stdout.write(printable(text, keep_tabs=True) + "\n")

    def error_line(self, text: str) -> None:
        """Print one line on stderr, control characters escaped."""
        self.stderr.write(printable(text) + "\n")

    def print_json(self, doc: Any) -> None:
        """Print a JSON document on stdout (indented, keys in the order given).

        Every control character is a JSON escape (C1 and DEL too), so the
        document is exact and safe on a terminal.
        """
        self.stdout.write(json_safe(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n")

    def binary_stdout(self) -> BinaryIO:
        """stdout for raw bytes."""
        self.stdout.flush()
        buffer = getattr(self.stdout, "buffer", None)
        if buffer is None:
            raise UsageError("standard output does not accept bytes")
        return buffer  # type: ignore[no-any-return]

    def write_bytes(self, data: bytes) -> None:
        """Write raw bytes to stdout exactly as given."""
        out = self.binary_stdout()
        out.write(data)
        out.flush()

    @contextmanager
    def progress(self, verb: str) -> Iterator[ProgressCallback | None]:
        """A ``progress=`` callback drawing bars when stderr is a terminal, else None."""
        isatty = getattr(self.stderr, "isatty", None)
        if not (callable(isatty) and isatty()):
            yield None
            return
        from ._progress import ProgressBars

        bars = ProgressBars(self.stderr, verb)
        try:
            yield bars
        finally:
            bars.close()

