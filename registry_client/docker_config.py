"""Credentials the way docker stores them: ``~/.docker/config.json`` and credential helpers."""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ._json import loads
from ._log import log
from ._redact import REDACTED, Redactor
from .auth import TokenAuthenticator
from .errors import CredentialStoreError
from .reference import DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, is_docker_hub
from .reference._grammar import DOMAIN_RE

if TYPE_CHECKING:
    import subprocess

__all__ = [
    "DockerCredentials",
    "authenticator_for",
    "config_path",
    "credentials_for",
    "erase_credentials",
    "helper_for",
    "server_key",
    "store_credentials",
]


DOCKER_HUB_KEY = f"https://{LEGACY_DEFAULT_DOMAIN}/v1/"


@attrs.frozen(repr=False)
class DockerCredentials:
    """A username with a password, or an identity token (an OAuth2 refresh token)."""

    username: str | None
    password: str | None = None
    identity_token: str | None = None

    def __repr__(self) -> str:
        return f"DockerCredentials(username={self.username!r}, secret={REDACTED})"


def config_path() -> Path:
    """Docker's config file: ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``."""
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _file(path: Path | str | None) -> Path:
    """The config file ``path`` names (a string as a Path), else (None, "") docker's own."""
    return Path(path) if path else config_path()


def _normalise(key: str) -> str:
    host = key.strip()
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix):]
    host = host.split("/", 1)[0].lower()
    return DEFAULT_DOMAIN if is_docker_hub(host) else host


def _api_path(path: str) -> bool:
    """Whether a key's path after its host is none, or docker's ``/v1/`` or ``/v2/``."""
    return path.strip("/") in ("", "v1", "v2")


def _key_host(key: str) -> str | None:
    """The registry host a config key names (``host``, ``https://host``,
    ``https://host/v1/``, a URL with any path: docker's ConvertToHostname), normalised;
    None for a key of a namespace of a registry (podman's and skopeo's ``quay.io/team``:
    no scheme), which is no key of the host."""
    bare = key.strip()
    if "://" in bare or _api_path(bare.partition("/")[2]):
        return _normalise(bare)
    return None


def _checked_host(host: str) -> str:
    """``host`` as ``docker login`` takes it (``localhost:5000``, ``https://ghcr.io``,
    docker's ``https://index.docker.io/v1/``), normalised; ValueError for anything else."""
    bare = host.strip()
    scheme, sep, rest = bare.partition("://")
    if not sep:
        rest = bare
    name, _, path = rest.partition("/")
    if (sep and scheme.lower() not in ("http", "https")) or not _api_path(path) \
            or DOMAIN_RE.fullmatch(name) is None:
        raise ValueError(f"{host!r} is not a registry host (such as localhost:5000 or "
                         "https://ghcr.io)")
    return _normalise(bare)


def server_key(host: str) -> str:
    """The key docker files ``host``'s credentials under: the host name
    (``localhost:5000``), and ``https://index.docker.io/v1/`` for Docker Hub (``docker.io``,
    ``index.docker.io``, ``registry-1.docker.io``)."""
    domain = _normalise(host)
    return DOCKER_HUB_KEY if domain == DEFAULT_DOMAIN else domain


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable docker config %s: %s", path, type(exc).__name__)
        return {}
    return doc if isinstance(doc, dict) else {}


def _helper_trouble(strict: bool, message: str) -> None:
    """A credential helper that failed: CredentialStoreError when ``strict``, else a
    warning (the lookup goes on as anonymous)."""
    if strict:
        raise CredentialStoreError(message)
    log.warning("%s: no credentials from it", message)


def _from_helper(helper: str, domain: str, strict: bool = False) -> DockerCredentials | None:
    import subprocess  # only for credential helpers: 1.4 ms off every CLI start

    name = f"docker-credential-{helper}"
    exe = shutil.which(name)
    if exe is None:
        _helper_trouble(strict, f"docker credential helper {name} not found")
        return None
    try:
        out = subprocess.run(
            [exe, "get"], input=server_key(domain).encode(), capture_output=True, timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _helper_trouble(strict, f"credential helper {name} failed: {type(exc).__name__}")
        return None
    if out.returncode != 0:
        if not _says_not_found(out):
            _helper_trouble(strict, f"credential helper {name} could not get the "
                            f"credentials for {server_key(domain)}: {_failure(out)}")
        return None
    try:
        doc = loads(out.stdout)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        _helper_trouble(strict, f"credential helper {name} printed malformed JSON")
        return None
    user, secret = doc.get("Username"), doc.get("Secret")
    if not isinstance(secret, str) or not secret:
        return None
    if user == "<token>":
        return DockerCredentials(username=None, identity_token=secret)
    if not isinstance(user, str) or not user:
        _helper_trouble(strict, f"credential helper {name} gave a secret without a "
                        "username")
        return None
    return DockerCredentials(username=user, password=secret)


_NOT_FOUND = b"credentials not found in native keychain"


def _says_not_found(out: subprocess.CompletedProcess[bytes]) -> bool:
    """Whether a helper that failed said "nothing stored": its whole answer the helpers'
    own words (docker-credential-helpers' IsErrCredentialsNotFoundMessage), not any
    message holding "not found" -- "executable file not found" is a failure."""
    return _NOT_FOUND in (out.stdout.strip().lower(), out.stderr.strip().lower())


def _failure(out: subprocess.CompletedProcess[bytes]) -> str:
    """What a failed helper said (stderr, else stdout; never what names a secret, and
    credentials masked as the CLI masks them: it goes to the library's log too) and its
    exit status."""
    said = []
    mask = Redactor()
    for stream in (out.stderr, out.stdout):
        text = mask(" ".join(stream.decode("utf-8", "replace").split()))
        if text and "secret" not in text.lower():
            said.append(text[:300])
    return f"{' / '.join(said) or 'nothing said'} (exit status {out.returncode})"


def _from_auths(auths: dict[str, Any], domain: str) -> DockerCredentials | None:
    # docker's order: the key it writes (host, or Hub's https://index.docker.io/v1/),
    # then older spellings of the same host (https://host, https://host/v1/...)
    exact = [k for k in (server_key(domain), domain) if k in auths]
    for key in dict.fromkeys([*exact, *auths]):
        entry = auths[key]
        if _key_host(key) != domain or not isinstance(entry, dict):
            continue
        identity = entry.get("identitytoken")
        user, password = entry.get("username"), entry.get("password")
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:  # as docker does: strict base64 (line breaks ignored) of "user:password",
                # whatever bytes they are (kept as they are: surrogateescape)
                compact = encoded.replace("\r", "").replace("\n", "")
                decoded = base64.b64decode(compact, validate=True).decode(
                    "utf-8", "surrogateescape")
            except binascii.Error:
                decoded = ""
            if ":" not in decoded:
                log.warning("ignoring a malformed auth entry for %s in docker config", domain)
                continue
            user, _, password = decoded.partition(":")
        if isinstance(identity, str) and identity:
            return DockerCredentials(
                username=user if isinstance(user, str) else None, identity_token=identity
            )
        if isinstance(user, str) and isinstance(password, str):
            if not user:  # an authenticator refuses a password without a username
                log.warning("ignoring an auth entry without a username for %s in docker "
                            "config", domain)
                continue
            return DockerCredentials(username=user, password=password)
    return None


def credentials_for(
    domain: str, path: Path | None = None, *, strict: bool = False,
) -> DockerCredentials | None:
    """The credentials docker would use for ``domain``, or None (anonymous).

    As docker (and crane) look: ``credHelpers`` (per registry), else ``credsStore``
    (the file's ``auths`` then hold no credentials), else ``auths`` -- its key for the
    host first, then older spellings of it (``https://host``). A
    credential helper that fails (not installed, or an answer other than "credentials
    not found") is logged as a warning and the lookup gives None, unless ``strict``.

    Raises:
        CredentialStoreError: ``strict`` and the helper failed; the message quotes what
            it said (never a line naming a secret) and its exit status.
    """
    domain = _normalise(domain)
    doc = _load(_file(path))
    helper = _helper_name(doc, domain)
    if helper is not None:
        return _from_helper(helper, domain, strict)
    auths = doc.get("auths")
    return _from_auths(auths, domain) if isinstance(auths, dict) else None


def authenticator_for(domain: str, path: Path | None = None) -> TokenAuthenticator:
    """A TokenAuthenticator carrying docker's stored credentials for ``domain``; anonymous
    when there are none, or when a credential helper failed (logged as a warning, and
    said by the error of a request the registry then refuses)."""
    try:
        creds = credentials_for(domain, path, strict=True)
    except CredentialStoreError as exc:
        log.warning("%s: no credentials from it", exc)
        anonymous = TokenAuthenticator()
        anonymous._no_credentials_why = str(exc)
        return anonymous
    if creds is None:
        return TokenAuthenticator()
    if creds.identity_token:
        return TokenAuthenticator(username=creds.username, refresh_token=creds.identity_token)
    return TokenAuthenticator(username=creds.username, password=creds.password)


# -- storing (``auth login`` / ``auth logout``) -------------------------------------------------
@contextmanager
def _updating(path: Path, *, create: bool) -> Iterator[None]:
    """Hold the config's lock (``flock`` on ``config.json.lock`` beside it, left there)
    around a read-change-rewrite, so concurrent logins and logouts lose no update.
    ``create``: make the directory first. Without fcntl, or where no lock file can be
    made (a read-only or missing directory), there is no lock."""
    from ._locks import locked_file  # only to write the config: fcntl stays out of reads

    target = path.resolve() if path.is_symlink() else path
    with ExitStack() as stack:
        try:
            if create:
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            stack.enter_context(locked_file(target.with_name(f"{target.name}.lock")))
        except OSError as exc:
            log.debug("docker config %s: updated without a lock (%s)", path,
                      type(exc).__name__)
        yield


def _load_for_update(path: Path) -> dict[str, Any]:
    """The config as it is, to be rewritten: anything but a JSON object is refused (a file
    that cannot be read back is never overwritten, its other keys would be lost)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialStoreError(f"cannot read docker config {path}: {exc}") from None
    if not text.strip():
        return {}
    try:
        doc = loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise CredentialStoreError(
            f"docker config {path} is not a JSON object: left as it is, nothing stored"
        )
    return doc


def _save(path: Path, doc: dict[str, Any]) -> None:
    """Replace ``path`` atomically (temp file in its directory, then rename), mode 0600.

    A symlinked config is written through to its target, as docker does, and a file
    rewritten by root (``sudo -E``) keeps its owner, as docker's does.
    """
    target = path.resolve() if path.is_symlink() else path
    try:
        was = target.stat()
    except OSError:
        was = None
    try:
        data = (json.dumps(doc, indent="\t", allow_nan=False) + "\n").encode("utf-8")
    except ValueError as exc:  # (1e400 read as infinite: written back, not JSON)
        raise CredentialStoreError(f"docker config {path} holds a number JSON cannot "
                                   f"({exc}): left as it is, nothing stored") from None
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=target.parent)
    except OSError as exc:
        raise CredentialStoreError(f"cannot write docker config {path}: {exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            if was is not None and os.geteuid() == 0 and (was.st_uid, was.st_gid) != (0, 0):
                os.fchown(f.fileno(), was.st_uid, was.st_gid)  # (root alone may)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CredentialStoreError(f"cannot write docker config {path}: {exc}") from None


def helper_for(host: str, path: Path | None = None) -> str | None:
    """The credential helper docker uses for ``host`` (``credHelpers``, else
    ``credsStore``): its name without ``docker-credential-``; None for the file itself."""
    return _helper_name(_load(_file(path)), _normalise(host))


def _helper_name(doc: dict[str, Any], domain: str) -> str | None:
    """The helper holding ``domain``'s credentials, as docker picks it for reads and
    writes alike: its ``credHelpers`` entry (an empty one: the file), else
    ``credsStore``; None for the file."""
    helpers = doc.get("credHelpers")
    if isinstance(helpers, dict):
        for key, helper in helpers.items():
            if _key_host(key) == domain and isinstance(helper, str):
                return helper or None
    store = doc.get("credsStore")
    return store if isinstance(store, str) and store else None


def _run_helper(helper: str, action: str, data: str) -> subprocess.CompletedProcess[bytes]:
    import subprocess  # only for credential helpers (see _from_helper)

    exe = shutil.which(f"docker-credential-{helper}")
    if exe is None:
        raise CredentialStoreError(
            f"docker credential helper docker-credential-{helper} not found on PATH"
        )
    try:
        return subprocess.run([exe, action], input=data.encode("utf-8"), capture_output=True,
                              timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CredentialStoreError(
            f"credential helper docker-credential-{helper} {action} failed: "
            f"{type(exc).__name__}"
        ) from None


def _helper_message(out: subprocess.CompletedProcess[bytes], secret: str | None = None) -> str:
    """What a helper that failed to store or erase said, with credentials masked: the
    ``secret`` it was given (as given, and as the JSON it was sent in spells it) and
    whatever looks like one -- a helper may repeat its input in its complaint."""
    mask = Redactor([secret, json.dumps(secret)[1:-1]] if secret else ())
    text = mask((out.stdout or out.stderr).decode("utf-8", "replace").strip())
    return " ".join(text.split())[:300] or f"exit status {out.returncode}"


def _drop_entries(auths: dict[str, Any], domain: str) -> bool:
    """Remove every ``auths`` key naming ``domain`` (``host``, ``https://host``...)."""
    keys = [k for k in auths if _key_host(k) == domain]
    for key in keys:
        del auths[key]
    return bool(keys)


def store_credentials(
    host: str, username: str, secret: str, path: Path | None = None,
) -> str | None:
    """Store credentials for ``host`` the way ``docker login`` does.

    With a credential helper configured for ``host`` (``credHelpers``, else
    ``credsStore``), the helper's ``store`` gets them and the config file keeps only an
    empty ``auths`` entry for the host (no secret); otherwise the config's ``auths``
    gets ``{"auth": base64("username:secret")}``. The file (``path``, default
    :func:`config_path`) is rewritten atomically with mode 0600, every other key kept,
    under a lock (``config.json.lock`` beside it) that concurrent calls wait for.
    No check against the registry is made here. Returns the helper's name, or None
    when the secret went into the file.

    Raises:
        ValueError: ``host`` is not a registry host (a path, a space, empty), an empty
            ``username`` or ``secret``, or a ``:`` in ``username``.
        CredentialStoreError: the config is not a JSON object, cannot be written, or the
            helper failed.
    """
    if not username or not secret:
        raise ValueError("store_credentials needs a username and a secret")
    if ":" in username:
        raise ValueError("a username cannot contain ':' (docker's auth is user:secret)")
    _checked_host(host)
    path = _file(path)
    with _updating(path, create=True):
        return _store(path, host, username, secret)


def _store(path: Path, host: str, username: str, secret: str) -> str | None:
    domain = _normalise(host)
    key = server_key(domain)
    doc = _load_for_update(path)
    helper = _helper_name(doc, domain)
    if helper is not None:
        request = json.dumps({"ServerURL": key, "Username": username, "Secret": secret})
        out = _run_helper(helper, "store", request)
        if out.returncode != 0:
            raise CredentialStoreError(
                f"credential helper docker-credential-{helper} could not store the "
                f"credentials for {key}: {_helper_message(out, secret)}"
            )
        entry: dict[str, Any] = {}  # as docker: the host is listed, its secret is not
    else:
        pair = f"{username}:{secret}".encode("utf-8", "surrogateescape")
        entry = {"auth": base64.b64encode(pair).decode("ascii")}
    auths = doc.get("auths")
    if not isinstance(auths, dict):
        auths = {}
    _drop_entries(auths, domain)  # older spellings would be found first otherwise
    auths[key] = entry
    doc["auths"] = auths
    _save(path, doc)
    return helper


def erase_credentials(host: str, path: Path | None = None) -> bool:
    """Remove ``host``'s credentials, as ``docker logout`` does: from its credential helper
    (``erase``) when one is configured, and every ``auths`` entry for it from the config
    file (rewritten atomically under the same lock as :func:`store_credentials`, other
    keys kept). Returns True when something was
    removed, False when nothing was stored for ``host``.

    Raises:
        ValueError: ``host`` is not a registry host (a path, a space, empty).
        CredentialStoreError: the config is not a JSON object, cannot be written, or the
            helper failed for another reason than "not found".
    """
    _checked_host(host)
    path = _file(path)
    with _updating(path, create=False):
        return _erase(path, host)


def _erase(path: Path, host: str) -> bool:
    domain = _normalise(host)
    doc = _load_for_update(path)
    removed = False
    helper = _helper_name(doc, domain)
    if helper is not None:
        out = _run_helper(helper, "erase", server_key(domain))
        if out.returncode == 0:
            removed = True
        elif not _says_not_found(out):
            raise CredentialStoreError(
                f"credential helper docker-credential-{helper} could not erase the "
                f"credentials for {server_key(domain)}: {_helper_message(out)}"
            )
    auths = doc.get("auths")
    if isinstance(auths, dict) and _drop_entries(auths, domain):
        removed = True
        _save(path, doc)
    return removed
