"""What every verb shares: parsed references, credentials, registries, output and progress."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TextIO, TypeVar

import requests
import requests.adapters

from registry_client import (
    Authenticator,
    ImageReference,
    InvalidReferenceError,
    PlatformNotFoundError,
    Registry,
    Repository,
    TokenAuthenticator,
    __version__,
    docker_config,
    models,
    parse_image_name,
)
from registry_client._text import is_utf8, json_safe, printable
from registry_client._transport import new_session, usual_cas
from registry_client.auth import NO_CREDENTIALS_HINT
from registry_client.reference._grammar import port_out_of_range
from registry_client.requester import HTTPS_PORT_HINT, TIMEOUT_HINT, TLS_HINT, VERIFY_HINT

from ._connection import INSECURE, certificates, choose, pem_texts, probe_protocol
from ._log import Redactor, trace_hook

if TYPE_CHECKING:
    from registry_client import Platform
    from registry_client.progress import ProgressCallback

__all__ = ["CLI_LOOPBACK_HINT", "CLI_TLS_HINT", "Context", "UsageError", "credential_files",
           "in_cli_words", "login_file", "skopeo_registry", "stored_credentials"]

ENV_USERNAME = "REGISTRY_USERNAME"
ENV_PASSWORD = "REGISTRY_PASSWORD"
DEFAULT_TAG = "latest"
USER_AGENT = f"registry-client-cli/{__version__}"
SIDE_FLAGS = {"src": "--src-creds", "dest": "--dest-creds"}

SECRET_LIMIT = 1 << 20
"""The most characters a password or token read from standard input may have."""

_CLI_NO_CREDENTIALS = ("no credentials were given: use --username with --password-stdin, "
                       f"${ENV_USERNAME}/${ENV_PASSWORD} or `docker login`")
_CLI_NO_CREDENTIALS_SIDES = ("no credentials were given: use --src-creds USER[:PASSWORD] / "
                             "--dest-creds USER[:PASSWORD] or `docker login`")

Side = Literal["src", "dest"]
_T = TypeVar("_T")

CRANE_PLATFORM = "linux/amd64"
"""The image crane reads of a multi-platform one where it needs one and is told none."""
CLI_TLS_HINT = ("--skip-tls-verify or --insecure skips the check (REQUESTS_CA_BUNDLE names "
                 "a CA bundle); --plain-http is for a plain-HTTP registry")
# plain HTTP without --plain-http: a loopback host's default
CLI_LOOPBACK_HINT = ("write https:// before the host, or use --insecure (a self-signed "
                      "certificate): loopback hosts speak plain HTTP by default")
# The library's advice names its arguments; the command line's names its flags.
_CLI_WORDS = (
    (TLS_HINT, CLI_TLS_HINT),
    (VERIFY_HINT, CLI_TLS_HINT.split(";")[0]),  # (a proxy's: no --plain-http)
    ("use protocol='http'", "use --plain-http"),
    (TIMEOUT_HINT, "raise --timeout for a slow registry"),
    (HTTPS_PORT_HINT, "is it an HTTPS port? drop --plain-http"),
    ("drop protocol='http' (--plain-http)", "drop --plain-http"),
    ("choose one with platform=", "choose one with --platform"),
)
# A reference's own http:// or https:// wins over every flag: the advice for its host
# names the scheme to write instead.
_SCHEME_WORDS = {
    "https": (
        ("use protocol='http'", "write http:// before the host, not https://"),
        (TLS_HINT, CLI_TLS_HINT.replace("--plain-http is", "http:// before the host is")),
    ),
    "http": (
        (HTTPS_PORT_HINT, "is it an HTTPS port? write https:// before the host, not http://"),
        ("drop protocol='http' (--plain-http)", "write https:// before the host, not http://"),
    ),
}


_DOCKER_TRANSPORT = "docker://"
# skopeo's transports that are no registry: what `pull` and `push` read and write
_SKOPEO_TRANSPORTS = ("oci", "oci-archive", "docker-archive", "dir", "containers-storage",
                      "docker-daemon")


def skopeo_registry(text: str) -> str:
    """A reference with skopeo's ``docker://`` transport taken off
    (``docker://HOST/REPO:TAG``): it says "a registry", nothing about the protocol,
    which the flags decide as for any reference."""
    return text[len(_DOCKER_TRANSPORT):] if text.startswith(_DOCKER_TRANSPORT) else text


def credential_files() -> list[Path | None]:
    """Where stored credentials are looked up, first found wins (None: docker's config).

    ``$REGISTRY_AUTH_FILE`` when set (podman's and skopeo's override: the user named
    it); docker's config, where ``login`` stores; then podman's and skopeo's auth.json,
    ``$XDG_RUNTIME_DIR/containers/auth.json`` and ``$XDG_CONFIG_HOME`` (or
    ``~/.config``) ``/containers/auth.json`` -- the same format, per registry host.
    """
    files: list[Path | None] = []
    chosen = os.environ.get("REGISTRY_AUTH_FILE")
    if chosen:
        files.append(Path(chosen))
    files.append(None)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        files.append(Path(runtime) / "containers" / "auth.json")
    config = os.environ.get("XDG_CONFIG_HOME")
    files.append((Path(config) if config else Path.home() / ".config")
                 / "containers" / "auth.json")
    return files


def stored_credentials(domain: str, *, strict: bool = False,
                       ) -> docker_config.DockerCredentials | None:
    """The credentials the first of :func:`credential_files` holds for ``domain``
    (``strict``: a credential helper's failure raises, see ``credentials_for``)."""
    for path in credential_files():
        found = docker_config.credentials_for(domain, path, strict=strict)
        if found is not None:
            return found
    return None


def login_file() -> Path | None:
    """Where ``login`` stores: ``$REGISTRY_AUTH_FILE`` when set (as ``skopeo login`` and
    ``podman login``; every verb reads it first), else docker's config (None)."""
    chosen = os.environ.get("REGISTRY_AUTH_FILE")
    return Path(chosen) if chosen else None


def in_cli_words(message: str, plain_http: bool = True) -> str:
    """A library message with the flags' names in place of the library's arguments."""
    for library, cli in _CLI_WORDS:
        message = message.replace(library, cli)
    return message if plain_http else message.replace("drop --plain-http", CLI_LOOPBACK_HINT)


class UsageError(Exception):
    """The command line is wrong (exit status 2)."""


def utf8_text(value: str, flag: str) -> str:
    """``value`` (a flag's, or read from stdin) if it is UTF-8 text; UsageError naming
    ``flag`` if it held bytes that are not (Python keeps them as lone surrogates, which
    no JSON document or HTTP header can carry)."""
    if not is_utf8(value):
        raise UsageError(f"{flag}: not valid UTF-8 text")
    return value


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
        self._stdin_used_by: str | None = None
        self._credentials_from = ""
        self._credentials = self._explicit_credentials()
        self._side_credentials: dict[str, tuple[str, str]] = {}
        for side, flag in SIDE_FLAGS.items():
            value: str | None = getattr(args, f"{side}_creds", None)
            if value is not None:
                self._side_credentials[side] = self._parse_side_credentials(flag, value)
        self._registries: dict[tuple[str, str, bool, str | None], Registry] = {}
        # per registry (lower-case domain): a skopeo sync file's tls-verify and credentials
        self._registry_tls_verify: dict[str, bool] = {}
        self._registry_credentials: dict[str, tuple[str, str]] = {}
        self._probed: dict[str, Literal["http", "https"]] = {}  # --insecure: what answered
        self._scratch_dir: str | None = None  # CA bundles made of certs.d files
        self._bundles: list[Path] = []
        self._schemes: dict[str, str] = {}  # lower-case domain: the scheme a reference wrote
        # advice in other words than the flags' (a skopeo sync file's keys): (old, new)
        self.advice_words: list[tuple[str, str]] = []

    # -- flags ---------------------------------------------------------------------------
    def one_image(self, call: Callable[[Platform | None], _T]) -> _T:
        """``call(--platform)``, for a verb that writes one image (``export``, a
        docker-archive ``pull``). Without --platform, a multi-platform image is read for
        linux/amd64, as crane's export and pull read it (and our inspect and config);
        where it has none, the first call's error stands: the choice is the user's."""
        try:
            return call(self.platform)
        except PlatformNotFoundError as exc:
            if self.args.platform is not None:
                raise
            try:
                return call(models.Platform.parse(CRANE_PLATFORM))
            except PlatformNotFoundError:
                raise exc from None

    @staticmethod
    def _parse_platform(value: str | None) -> Platform | None:
        if value is None or value.lower() == "all":  # crane's "all": every platform
            return None
        try:
            return models.Platform.parse(value)
        except ValueError as exc:
            raise UsageError(f"--platform: {exc}") from None

    def _explicit_credentials(self) -> tuple[str, str] | None:
        """Credentials from the flags, else from the environment; None: use docker's."""
        args = self.args
        if args.password is not None and args.password_stdin:
            raise UsageError("give either --password or --password-stdin, not both")
        password: str | None = args.password
        if args.password_stdin:
            self._claim_stdin("--password-stdin")
            password = self._bounded(self.stdin.read(SECRET_LIMIT + 1), "--password-stdin")
            password = password.removesuffix("\n").removesuffix("\r")
            if not password:
                raise UsageError("--password-stdin: nothing was read from standard input")
            utf8_text(password, "--password-stdin")
        elif password is not None:
            utf8_text(password, "--password")
        username: str | None = args.username
        if username is not None:
            utf8_text(username, "--username")
        self._credentials_from = "--username/--password"
        if username is not None or password is not None:
            username = username if username is not None else os.environ.get(ENV_USERNAME)
            password = password if password is not None else os.environ.get(ENV_PASSWORD)
            if not username:
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
            utf8_text(username, f"${ENV_USERNAME}")
            utf8_text(password, f"${ENV_PASSWORD}")
            self._credentials_from = f"${ENV_USERNAME}/${ENV_PASSWORD}"
        self.redactor.add(password)
        return username, password

    @property
    def explicit_credentials(self) -> tuple[str, str] | None:
        """``(username, password)`` from the flags or the environment; None: none given."""
        return self._credentials

    def read_stdin_line(self, what: str) -> str:
        """One line of standard input for ``what`` (which then owns stdin)."""
        self._claim_stdin(what)
        line = self._bounded(self.stdin.readline(SECRET_LIMIT + 1), what)
        return line.removesuffix("\n").removesuffix("\r")

    @staticmethod
    def _bounded(text: str, what: str) -> str:
        """``text`` read from stdin for ``what``, refused when it is longer than a
        password or token can be (``</dev/zero`` was read until memory ran out)."""
        if len(text) > SECRET_LIMIT:
            raise UsageError(f"{what}: more than {SECRET_LIMIT} characters on standard "
                             "input: not a password or token")
        return text

    def _claim_stdin(self, flag: str) -> None:
        if self.stdin is None:  # `cmd <&-`: Python has no sys.stdin then
            raise UsageError(f"{flag}: standard input is closed: nothing can be read there")
        if self._stdin_used_by is not None:
            raise UsageError(
                f"{self._stdin_used_by} and {flag} both want a password from standard input, "
                "which holds one password: give the other as USER:PASSWORD"
            )
        self._stdin_used_by = flag

    def _parse_side_credentials(self, flag: str, value: str) -> tuple[str, str]:
        """``USER[:PASSWORD]`` (skopeo's form); without a password, one line of stdin."""
        username, colon, password = value.partition(":")
        if not username:
            raise UsageError(f"{flag}: give USER[:PASSWORD], with a user name")
        if colon:
            if not password:
                raise UsageError(f"{flag} {username}: empty password")
        else:
            isatty = getattr(self.stdin, "isatty", None)
            if callable(isatty) and isatty():
                raise UsageError(
                    f"{flag} {username}: no password: give {username}:PASSWORD, or pipe the "
                    "password on standard input"
                )
            self._claim_stdin(flag)
            password = self._bounded(self.stdin.readline(SECRET_LIMIT + 1), flag)
            password = password.removesuffix("\n").removesuffix("\r")
            if not password:
                raise UsageError(f"{flag} {username}: nothing was read from standard input")
        utf8_text(value, flag)
        utf8_text(password, flag)
        self.redactor.add(password)
        return username, password

    def check_sides(
        self, sources: Iterable[ImageReference], targets: Iterable[ImageReference]
    ) -> None:
        """Refuse credentials that would reach a registry they are not for.

        ``--src-creds``/``--dest-creds`` are for one registry each;
        ``--username``/``--password`` and ``$REGISTRY_USERNAME``/``$REGISTRY_PASSWORD``
        are for a command that talks to one registry (or whose every registry has
        its own ``--*-creds``; the environment is then unused).

        Raises:
            UsageError: with the flags to use instead.
        """
        domains: dict[str, list[str]] = {"src": [], "dest": []}
        for side, refs in (("src", sources), ("dest", targets)):
            for ref in refs:
                if ref.domain.lower() not in domains[side]:
                    domains[side].append(ref.domain.lower())
        for side, flag in SIDE_FLAGS.items():
            # (a source a sync file gives credentials to keeps them: the flag's are not
            # for it, as skopeo's are not)
            takers = [d for d in domains[side]
                      if side == "dest" or d not in self._registry_credentials]
            if side in self._side_credentials and len(takers) > 1:
                what = "sources" if side == "src" else "targets"
                raise UsageError(
                    f"{flag} is for one registry, and the {what} are on several "
                    f"({', '.join(takers)})"
                )
        every = list(dict.fromkeys(domains["src"] + domains["dest"]))
        if self._credentials is None or len(every) < 2:
            return
        covered = all(side in self._side_credentials for side in SIDE_FLAGS)
        if covered and self._credentials_from.startswith("$"):
            return  # each registry has its own: the environment's are not used
        raise UsageError(
            f"{self._credentials_from} are for one registry, and this command talks to "
            f"{len(every)} ({', '.join(every)}): give each side its own with "
            "--src-creds USER[:PASSWORD] and --dest-creds USER[:PASSWORD]"
        )

    def sides_differ(self, domain: str) -> bool:
        """Whether a source on ``domain`` gets other credentials than a target there:
        ``--src-creds`` and ``--dest-creds`` that differ, or a sync file's (a source's)
        other than the destination's (``--dest-creds``, else the command's, else the
        stored ones)."""
        src, dest = self._side_credentials.get("src"), self._side_credentials.get("dest")
        own = self._registry_credentials.get(domain.lower())
        if own is None:
            return src is not None and dest is not None and src != dest
        if dest is None:
            dest = self._credentials
        if dest is None:
            found = stored_credentials(domain)
            dest = (found.username or "", found.password) if found is not None \
                and found.password is not None else None
        return own != dest

    def set_registry_options(
        self, domain: str, *, tls_verify: bool | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        """A source registry's own ``tls-verify`` and credentials (a skopeo sync file's):
        they win over the --src-* flags for that registry (not as a destination)."""
        if tls_verify is not None:
            self._registry_tls_verify[domain.lower()] = tls_verify
        if credentials is not None:
            self.redactor.add(credentials[1])
            self._registry_credentials[domain.lower()] = credentials

    def explain(self, message: str) -> str:
        """A library error message with the CLI's flags in place of the library's advice
        (or, for a host the reference wrote with its scheme, the scheme to write)."""
        lowered = message.lower()
        for domain, scheme in self._schemes.items():
            if domain in lowered:
                for library, cli in _SCHEME_WORDS[scheme]:
                    message = message.replace(library, cli)
                break
        message = in_cli_words(message, bool(getattr(self.args, "plain_http", False)))
        for old, new in self.advice_words:
            message = message.replace(old, new)
        hint = (_CLI_NO_CREDENTIALS_SIDES if hasattr(self.args, "src_creds")
                else _CLI_NO_CREDENTIALS)
        return message.replace(NO_CREDENTIALS_HINT, hint)

    # -- references ----------------------------------------------------------------------
    def reference(self, text: str, what: str = "reference") -> ImageReference:
        """Parse a ``docker pull``-style reference (``localhost:5000/app:1.0``), or one
        with skopeo's ``docker://`` before it.

        Raises:
            UsageError: it is not a valid reference.
        """
        try:
            ref = parse_image_name(skopeo_registry(text), allow_scheme=True)
        except InvalidReferenceError as exc:
            transport = text.split(":", 1)[0]
            if transport in _SKOPEO_TRANSPORTS:
                raise UsageError(
                    f"{what} {text!r}: skopeo's {transport}: transport is no registry; "
                    "`pull REFERENCE DIR|FILE.tar` and `push DIR|FILE.tar REFERENCE` write "
                    "and read OCI layouts and archives") from None
            raise UsageError(f"{what}: {exc}") from None
        # (``parse`` shows the reference as docker's grammar reads it: any port digits)
        port = port_out_of_range(ref.domain)
        if port is not None and getattr(self.args, "verb", None) != "parse":
            # (a host verb reads its host as a reference on it, "HOST/x": the host, then)
            shown = ref.domain if what == "host" else text
            raise UsageError(f"{what} {shown!r}: port {port} is out of range (1-65535)")
        return ref

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
    def authenticator(self, domain: str, side: Side | None = None) -> Authenticator | None:
        """Credentials for ``domain``: the side's --*-creds > flags > environment >
        docker config > anonymous."""
        explicit = (self._registry_credentials.get(domain.lower()) if side != "dest"
                    else None)
        if explicit is None:
            explicit = self._side_credentials.get(side or "", self._credentials)
        if explicit is not None:
            username, password = explicit
            return TokenAuthenticator(username=username, password=password)
        found = stored_credentials(domain)
        if found is None:
            return None
        if found.identity_token:
            self.redactor.add(found.identity_token)
            return TokenAuthenticator(username=found.username, refresh_token=found.identity_token)
        self.redactor.add(found.password)
        return TokenAuthenticator(username=found.username, password=found.password)

    def connection_options(self) -> dict[str, Any]:
        """``Registry`` keywords of the flags that were given: ``--timeout``,
        ``--retry-times`` and ``-j`` (left out otherwise: the library's defaults apply)."""
        args = self.args
        options: dict[str, Any] = self.jobs_option()
        if args.timeout is not None:
            options["timeout"] = args.timeout
        if args.retry_times is not None:
            options["retries"] = args.retry_times
        return options

    def jobs_option(self) -> dict[str, Any]:
        """``max_workers=N`` for ``-j N`` (copy, sync: images at once, and blobs at once
        in each), for ``Registry`` and ``sync()``; nothing without it (their default)."""
        jobs: int | None = getattr(self.args, "jobs", None)
        return {} if jobs is None else {"max_workers": jobs}

    def _session(self, cert: tuple[str, str] | None = None) -> requests.Session | None:
        """The session a Registry sends through: its own (None) unless ``-v`` traces
        requests or a client certificate (``cert``: its file and key) goes with them."""
        if not self.verbose and cert is None:
            return None
        session = new_session()  # (the registry's rules on redirect hops: no netrc...)
        session.cert = cert
        workers: int = self.jobs_option().get("max_workers", 0)  # as Registry sizes its own
        adapter = requests.adapters.HTTPAdapter(pool_connections=4,
                                                pool_maxsize=max(10, workers + 2))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        if self.verbose:
            session.hooks["response"].append(trace_hook(self.redactor))
        return session

    def _certificates(self, domain: str, verify: bool) -> tuple[bool | str, tuple[str, str] | None]:
        """``verify`` and the client certificate for ``domain`` from --cert-dir or the
        certs.d folders (see ``_connection.certificates``): when the certificate is
        checked, one bundle of the usual CAs and the folder's, which docker and skopeo
        add to the system's -- not put in their place: a token realm, a storage redirect
        or a proxy the usual CAs vouch for stays trusted."""
        try:
            cas, pair = certificates(domain, getattr(self.args, "cert_dir", None))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if not cas or verify is not True:
            return verify, pair
        usual = pem_texts(usual_cas(f"https://{domain}/"))
        bundle = Path(self._scratch()) / f"ca-{len(self._bundles)}.pem"
        bundle.write_bytes(b"\n".join([*usual, *(path.read_bytes() for path in cas)]))
        self._bundles.append(bundle)
        return str(bundle), pair

    def _scratch(self) -> str:
        if self._scratch_dir is None:
            self._scratch_dir = tempfile.mkdtemp(prefix="registry-client-certs-")
        return self._scratch_dir

    def registry(self, ref: ImageReference, side: Side | None = None) -> Registry:
        """The Registry of a reference, opened once per domain, protocol and credentials.

        ``side`` (``"src"``/``"dest"``, for copy and sync) picks that side's
        ``--src-creds``/``--dest-creds`` and ``--*-tls-verify`` when given; call
        :meth:`check_sides` first. HTTPS or plain HTTP: see ``_connection``.
        """
        args = self.args
        domain = ref.domain.lower()
        if ref.scheme is not None:
            self._schemes[domain] = ref.scheme
        tls_verify = self._registry_tls_verify.get(domain) if side != "dest" else None
        if tls_verify is None and side is not None:
            tls_verify = getattr(args, f"{side}_tls_verify", None)
        if tls_verify is None:  # skopeo's --tls-verify (of a one-registry verb)
            tls_verify = getattr(args, "tls_verify", None)
        choice, verify = choose(ref, args, tls_verify)
        if choice == INSECURE:
            if domain not in self._probed:
                # (-v: the probe is traced too; a registry asking for a client
                # certificate refuses a handshake without it, which reads as "no TLS")
                session = self._session(self._certificates(domain, False)[1])
                try:
                    self._probed[domain] = probe_protocol(
                        ref.domain, session=session, timeout=args.timeout,
                        user_agent=USER_AGENT)
                finally:
                    if session is not None:
                        session.close()
            choice = self._probed[domain]
        protocol: str = choice
        # the side's own credentials (--src-creds, --dest-creds); a destination on a
        # registry a sync file gives credentials to has a Registry of its own too: they
        # are the source's
        own = side if side in self._side_credentials or (
            side == "dest" and domain in self._registry_credentials) else None
        key = (ref.domain, protocol, verify, own)
        if key not in self._registries:
            checked, cert = (self._certificates(domain, verify) if protocol == "https"
                             else (verify, None))
            self._registries[key] = Registry(
                ref.domain,
                authenticator=self.authenticator(ref.domain, own),
                protocol=protocol,
                verify=checked,
                session=self._session(cert),
                user_agent=USER_AGENT,
                **self.connection_options(),
            )
        return self._registries[key]

    def repository(self, ref: ImageReference, side: Side | None = None) -> Repository:
        """The repository a reference names (``side``: as for :meth:`registry`)."""
        return self.registry(ref, side).repository(ref.path)

    def close(self) -> None:
        """Close every registry (and session) this run opened."""
        for reg in self._registries.values():
            session = reg.requester.session
            reg.close()
            if self.verbose or session.cert is not None:
                session.close()
        self._registries.clear()
        if self._scratch_dir is not None:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)
            self._scratch_dir = None

    # -- output --------------------------------------------------------------------------
    def line(self, text: str = "") -> None:
        """Print one line of text on stdout, control characters escaped (tabs kept), and
        characters the locale's encoding has no bytes for as backslash escapes."""
        self.stdout.write(self._encodable(printable(text, keep_tabs=True)) + "\n")

    def _encodable(self, text: str) -> str:
        """``text`` with what stdout's encoding cannot write (a Latin-1 locale, "✓") as
        backslash escapes, instead of an error after half the output."""
        encoding = getattr(self.stdout, "encoding", None)
        if not encoding or text.isascii():
            return text
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            return text.encode(encoding, "backslashreplace").decode(encoding)
        except LookupError:  # (a stream that names no codec Python knows)
            pass
        return text

    def error_line(self, text: str) -> None:
        """Print one line on stderr, control characters escaped."""
        self.stderr.write(printable(text) + "\n")

    def print_json(self, doc: Any, indent: int = 2) -> None:
        """Print a JSON document on stdout (indented, keys in the order given).

        Every control character is a JSON escape (C1 and DEL too), and so are
        format characters (bidi overrides...) and lone surrogates, so the
        document is exact, always encodable and safe on a terminal.
        """
        text = json_safe(json.dumps(doc, indent=indent, ensure_ascii=False))
        if self._encodable(text) is not text:  # the locale cannot write it: JSON escapes
            text = json_safe(json.dumps(doc, indent=indent, ensure_ascii=True))
        self.stdout.write(text + "\n")

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
        """A ``progress=`` callback drawing bars when stderr is a terminal, else None
        (and None with --quiet, or on a terminal that cannot move its cursor: TERM=dumb)."""
        isatty = getattr(self.stderr, "isatty", None)
        if (not (callable(isatty) and isatty()) or getattr(self.args, "quiet", False)
                or os.environ.get("TERM") == "dumb"):
            yield None
            return
        from ._progress import ProgressBars  # tqdm only when a terminal shows bars

        bars = ProgressBars(self.stderr, verb)
        try:
            yield bars
        finally:
            bars.close()

