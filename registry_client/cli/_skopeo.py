"""``sync --src-yaml FILE DEST``: skopeo's sync file, each image where skopeo puts it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._context import Context, UsageError

if TYPE_CHECKING:
    from registry_client.sync import SyncEntry

__all__ = ["skopeo_entries"]


def skopeo_entries(ctx: Context, path: str, destination: str) -> list[SyncEntry]:
    """The sync entries of a skopeo sync file copied under ``destination``, as
    ``skopeo sync --src yaml --dest docker FILE DEST`` (no ``--scoped``) names them.

    Each registry's ``tls-verify`` and ``credentials`` in the file are given to the
    context (they win over the --src-* flags for that registry). Tags for
    ``images-by-tag-regex`` are listed now, from the source registry.

    Raises:
        UsageError: the file is not a skopeo sync file, or DEST is not a registry (path).
    """
    # this verb only: a quicker start for the others
    from registry_client._skopeo_sync import read_skopeo_sync, skopeo_destination, skopeo_pairs
    from registry_client.sync import SyncEntry  # this verb only, as above

    try:
        registries = read_skopeo_sync(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--src-yaml: {exc}") from None
    try:
        destination = skopeo_destination(destination)
    except ValueError as exc:
        raise UsageError(f"sync destination {exc}") from None
    for reg in registries:
        ctx.set_registry_options(reg.domain, tls_verify=reg.tls_verify,
                                 credentials=reg.credentials)

    def list_tags(domain: str, repository: str) -> list[str]:
        ref = ctx.reference(f"{domain}/{repository}", "sync source")
        return ctx.repository(ref, "src").tags.get_all()

    return [SyncEntry(source, target)
            for source, target in skopeo_pairs(registries, destination, list_tags)]
