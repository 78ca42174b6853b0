"""Known differences between registries, in one table, and what the client does about each.

Each quirk names the hosts it applies to (glob patterns), says what the
registry does, what the client does instead, and where it is documented.
Capabilities found at run time (a 404/405/UNSUPPORTED answer to an optional
API) are remembered per Registry in ``requester.capabilities``, so a fallback
costs one round trip once, not on every call.
"""

from __future__ import annotations

import fnmatch
from typing import NamedTuple

from .reference import DOCKER_HUB_HOSTS

__all__ = ["QUIRKS", "Quirk", "chunk_size_limit", "has_quirk", "max_page_size"]


class Quirk(NamedTuple):
    """One registry behaviour the client adapts to."""

    name: str
    hosts: tuple[str, ...]
    behaviour: str
    handling: str
    link: str
    value: int | None = None

    def applies_to(self, host: str) -> bool:
        """True when ``host`` (``ghcr.io``, ``123.dkr.ecr.eu-west-1.amazonaws.com``) matches."""
        host = host.lower()
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.hosts)


QUIRKS: tuple[Quirk, ...] = (
    Quirk(
        "ecr-page-size", ("*.dkr.ecr.*.amazonaws.com", "*.dkr.ecr.*.amazonaws.com.cn"),
        "ECR refuses tag-list and catalog pages with n > 1000 and pages with an opaque cursor",
        "page sizes are clamped to 1000; the Link URL is followed exactly as given",
        "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ListImages.html",
        value=1000,
    ),
    Quirk(
        "ghcr-chunk-size", ("ghcr.io",),
        "GHCR refuses PATCH chunks larger than about 4 MiB in chunked blob uploads",
        "chunked uploads to GHCR use chunks of at most 4 MiB",
        "https://github.com/orgs/community/discussions/26327",
        value=4 * 1024 * 1024,
    ),
    Quirk(
        "dockerhub-no-catalog", DOCKER_HUB_HOSTS,
        "Docker Hub does not serve /v2/_catalog",
        "catalog calls fail at once with a clear RegistryResponseError (no request sent)",
        "https://docs.docker.com/docker-hub/api/latest/",
    ),
    Quirk(
        "dockerhub-no-delete", DOCKER_HUB_HOSTS,
        "Docker Hub refuses DELETE on the registry API (deletes go through Hub's own API)",
        "the 405/UNSUPPORTED answer is mapped to RegistryResponseError naming the quirk",
        "https://docs.docker.com/docker-hub/api/latest/",
    ),
    Quirk(
        "dockerhub-no-cross-registry-mount", DOCKER_HUB_HOSTS,
        "a blob can only be mounted from another repository of the same registry",
        "copies between registries stream blobs; mount is only tried within one registry",
        "https://distribution.github.io/distribution/spec/api/#cross-repository-blob-mount",
    ),
    Quirk(
        "harbor-mount-401", ("*",),
        "Harbor answers 401/403 (not 202) to a mount whose source repository is missing or "
        "not readable",
        "a mount refused with 401/403/404 counts as 'not mounted' and the blob is uploaded",
        "https://github.com/goharbor/harbor/issues/15383",
    ),
    Quirk(
        "quay-mount-needs-from", ("quay.io", "*.quay.io"),
        "Quay ignores a mount request without the 'from' parameter",
        "mount requests always carry both 'mount' and 'from'",
        "https://github.com/quay/quay/blob/master/endpoints/v2/blob.py",
    ),
    Quirk(
        "oci-chunk-min-length", ("*",),
        "a registry may answer the upload POST with OCI-Chunk-Min-Length: chunks must be "
        "at least that long (the last one excepted)",
        "chunked uploads raise their chunk size to that minimum",
        "https://github.com/opencontainers/distribution-spec/blob/main/spec.md"
        "#pushing-a-blob-in-chunks",
    ),
    Quirk(
        "no-referrers-api", ("*",),
        "Distribution 2.8 and others answer 404 to /v2/<name>/referrers/<digest>",
        "the referrers tag schema (sha256-<hex> tag) is used; remembered per registry",
        "https://github.com/opencontainers/distribution-spec/blob/main/spec.md"
        "#referrers-tag-schema",
    ),
    Quirk(
        "no-tag-delete", ("*",),
        "Distribution 2.8 answers 400 DIGEST_INVALID / 405 UNSUPPORTED to DELETE by tag",
        "the tag is pointed at a unique throw-away manifest, which is deleted by digest; "
        "remembered per registry",
        "https://github.com/distribution/distribution/issues/1566",
    ),
)

_BY_NAME = {q.name: q for q in QUIRKS}


def has_quirk(host: str, name: str) -> bool:
    """True when the quirk ``name`` applies to ``host``."""
    quirk = _BY_NAME.get(name)
    return quirk is not None and quirk.applies_to(host)


def hub_refuses_deletes(host: str, exc: Exception) -> bool:
    """True for Docker Hub's 405 to a DELETE (quirk ``dockerhub-no-delete``): no
    fallback can help there, and none may write to the repository trying."""
    return getattr(exc, "status_code", None) == 405 and has_quirk(host, "dockerhub-no-delete")


def max_page_size(host: str, wanted: int | None) -> int | None:
    """The page size to ask for: ``wanted``, clamped where a registry has a limit.

    Raises:
        ValueError: ``wanted`` is not a positive integer (0 would list nothing).
    """
    if wanted is not None and (isinstance(wanted, bool) or not isinstance(wanted, int)
                               or wanted < 1):
        raise ValueError(f"a page size must be a positive integer, not {wanted!r}")
    quirk = _BY_NAME["ecr-page-size"]
    if wanted is not None and quirk.value is not None and quirk.applies_to(host):
        return min(wanted, quirk.value)
    return wanted


def chunk_size_limit(host: str) -> int | None:
    """The largest PATCH chunk the registry accepts, when it has a known limit."""
    quirk = _BY_NAME["ghcr-chunk-size"]
    return quirk.value if quirk.applies_to(host) else None
