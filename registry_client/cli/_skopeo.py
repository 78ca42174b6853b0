"""``sync --src-yaml FILE DEST`` (skopeo's sync file) and ``sync --src docker SOURCE DEST``:
each image where skopeo puts it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._context import CLI_LOOPBACK_HINT, CLI_TLS_HINT, Context, UsageError, skopeo_registry

if TYPE_CHECKING:
    from registry_client.sync import SyncEntry

__all__ = ["skopeo_docker_entry", "skopeo_entries"]


_FILE_TLS = "tls-verify: false under the source registry in the sync file"
_ADVICE = (  # the file's key (sources) or --dest-tls-verify (DEST), not --plain-http
    (CLI_TLS_HINT, f"{_FILE_TLS} (--dest-tls-verify=false for DEST) skips the check "
                   "(REQUESTS_CA_BUNDLE names a CA bundle)"),
    (CLI_LOOPBACK_HINT, "write https:// before DEST, or --dest-tls-verify=false: loopback "
                        "hosts speak plain HTTP by default"),
    ("use --plain-http", f"set {_FILE_TLS} (--dest-tls-verify=false for DEST)"),
    ("drop --plain-http", "write https:// before DEST, or --dest-tls-verify=false"),
)


def skopeo_entries(ctx: Context, path: str, destination: str) -> list[SyncEntry]:
    """The sync entries of a skopeo sync file copied under ``destination``, as
    ``skopeo sync --src yaml --dest docker FILE DEST`` (no ``--scoped``) names them.

    Each registry's ``tls-verify`` and ``credentials`` in the file are given to the
    context for it as a source: as in skopeo 1.9.3, the file alone sets a source
    registry's TLS (no ``tls-verify``: true, HTTPS with the certificate checked, loopback
    hosts too; ``--src-tls-verify`` does not change it). The tags of
    ``images-by-tag-regex`` are listed by the sync, as a whole repository's are.

    Raises:
        UsageError: the file is not a skopeo sync file, or DEST is not a registry (path).
    """
    # this verb only: a quicker start for the others
    from registry_client._skopeo_sync import read_skopeo_sync, skopeo_copies, skopeo_destination
    from registry_client.sync import SyncEntry  # this verb only, as above

    try:
        registries = read_skopeo_sync(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--src-yaml: {exc}") from None
    try:
        destination = skopeo_destination(destination)
    except ValueError as exc:
        raise UsageError(f"sync destination {exc}") from None
    options: dict[str, tuple[str, bool, tuple[str, str] | None]] = {}
    for reg in registries:
        tls_verify = True if reg.tls_verify is None else reg.tls_verify  # skopeo's default
        # a key may name a namespace of its registry (HOST/team): its settings are HOST's
        # -- the registry its images' names are on (index.docker.io and myorg/:
        # docker.io), as skopeo reads the key
        host = ctx.reference(f"{reg.domain}/x", "sync source").domain.lower()
        key, earlier_tls, earlier_credentials = options.setdefault(
            host, (reg.domain, tls_verify, reg.credentials))
        if (earlier_tls, earlier_credentials) != (tls_verify, reg.credentials):
            raise UsageError(
                f"--src-yaml: {key} and {reg.domain} are one registry with different "
                "tls-verify or credentials: give them once")
        ctx.set_registry_options(host, tls_verify=tls_verify, credentials=reg.credentials)
    ctx.advice_words.extend(_ADVICE)
    return [SyncEntry(source, target, tags)
            for source, target, tags in skopeo_copies(registries, destination)]


def skopeo_docker_entry(ctx: Context, source: str, destination: str) -> SyncEntry:
    """The sync entry of ``skopeo sync --src docker --dest docker SOURCE DEST`` (no
    ``--scoped``): the repository SOURCE (every tag) or the image SOURCE (its tag) to
    ``DEST/`` and the last path component of its repository, as skopeo 1.9 names it.

    Raises:
        UsageError: SOURCE is no reference, or DEST is not a registry (path).
    """
    from registry_client._skopeo_sync import skopeo_destination  # this verb only, as above
    from registry_client.sync import SyncEntry  # this verb only, as above

    ref = ctx.reference(source, "sync source")
    try:
        destination = skopeo_destination(destination)
    except ValueError as exc:
        raise UsageError(f"sync destination {exc}") from None
    return SyncEntry(skopeo_registry(source), f"{destination}/{ref.path.rsplit('/', 1)[-1]}")
