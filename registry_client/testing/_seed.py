"""Seed a :class:`LocalRegistry` with images using raw ``requests`` (not registry_client).

Requests are authenticated as the registry's admin (Basic, or a token minted by its token
server) and carry an internal User-Agent, so :meth:`LocalRegistry.request_count` ignores
them.  Blobs are uploaded monolithically (POST, then PUT with ``?digest=``).
"""

from __future__ import annotations

import dataclasses
import datetime
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin

import requests

from ._image import (
    DEFAULT_PLATFORM,
    MEDIA_FLAVORS,
    MediaFlavor,
    SeededImage,
    build_image,
    build_index,
    format_created,
    sha256_digest,
)
from ._process import LocalRegistry
from ._util import INTERNAL_USER_AGENT


class SeedError(RuntimeError):
    """The registry refused a seeding request."""


def seed_blob(reg: LocalRegistry, repository: str, data: bytes) -> str:
    """Upload ``data`` as a blob of ``repository`` (monolithic POST + PUT); return its digest."""
    with _session(reg, [repository]) as session:
        return _upload_blob(session, reg.url, repository, data)


def seed_image(
    reg: LocalRegistry,
    repository: str,
    tag: str | None = "latest",
    *,
    layers: Sequence[int] = (1024,),
    platforms: Sequence[str] | None = None,
    media: MediaFlavor = "docker",
    seed: int = 0,
    labels: Mapping[str, str] | None = None,
    created: str | datetime.datetime | None = None,
) -> SeededImage:
    """Push an image (or a multi-platform index) to ``repository`` and tag it ``tag``.

    ``layers`` gives the size in bytes of each random layer (random bytes labelled as a
    gzip layer, not a tar archive: what reads a layer's content -- ``validate``,
    ``export``, ``docker-archive`` -- refuses them).  Without ``platforms`` a
    single image manifest for ``linux/amd64`` is pushed; with ``platforms`` (e.g.
    ``["linux/amd64", "linux/arm64/v8"]``) one image manifest per platform is pushed by
    digest, then a manifest list (``media="docker"``) or OCI index (``media="oci"``)
    referencing them.  ``tag=None`` pushes by digest only.  The same arguments always
    produce the same digests.
    """
    if media not in MEDIA_FLAVORS:
        raise ValueError(f"media must be 'docker' or 'oci', not {media!r}")
    created_text = format_created(created)
    with _session(reg, [repository]) as session:
        if platforms is None:
            image = build_image(
                repository,
                DEFAULT_PLATFORM,
                media,
                layers,
                random.Random(seed),
                labels,
                created_text,
            )
            return _push_image(session, reg.url, image, tag)
        children = [
            _push_image(
                session,
                reg.url,
                build_image(
                    repository,
                    platform,
                    media,
                    layers,
                    random.Random(f"{seed}/{platform}"),
                    labels,
                    created_text,
                ),
                None,
            )
            for platform in platforms
        ]
        index = build_index(repository, media, children)
        return _push_image(session, reg.url, index, tag)


def seed_tags(
    reg: LocalRegistry, repository: str, tags: Iterable[str], **image_options: Any
) -> SeededImage:
    """Push one image (see :func:`seed_image` for options) and tag it with every tag.

    Returns the image with :attr:`SeededImage.tag` set to the first tag.
    """
    tag_list = list(tags)
    if not tag_list:
        raise ValueError("tags must not be empty")
    image = seed_image(reg, repository, tag_list[0], **image_options)
    with _session(reg, [repository]) as session:
        for tag in tag_list[1:]:
            _put_manifest(session, reg.url, repository, tag, image.manifest, image.media_type)
    return image


def seed_many_repositories(
    reg: LocalRegistry,
    names: Iterable[str],
    *,
    tag: str = "latest",
    media: MediaFlavor = "docker",
    workers: int = 8,
) -> list[SeededImage]:
    """Quickly push one tiny image (16-byte layer) tagged ``tag`` to each repository.

    The blobs are uploaded once and cross-repository mounted into the other repositories
    (3 requests per repository, ``workers`` threads with keep-alive sessions); 250
    repositories take well under a second.
    """
    repositories = list(dict.fromkeys(names))
    if not repositories:
        return []
    first = seed_image(reg, repositories[0], tag, layers=(16,), media=media)
    local = threading.local()
    sessions: list[requests.Session] = []
    lock = threading.Lock()

    def push(repository: str) -> SeededImage:
        session: requests.Session | None = getattr(local, "session", None)
        if session is None:
            session = _session(reg, [], {})
            local.session = session
            with lock:
                sessions.append(session)
        # small per-repository tokens: a token listing every repository is slow to verify
        headers = reg.admin_headers([repository, first.repository])
        for digest, data in first.blobs.items():
            _upload_blob(
                session,
                reg.url,
                repository,
                data,
                mount_from=first.repository,
                digest=digest,
                headers=headers,
            )
        _put_manifest(
            session, reg.url, repository, tag, first.manifest, first.media_type, headers=headers
        )
        return dataclasses.replace(first, repository=repository)

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            return [first, *pool.map(push, repositories[1:])]
    finally:
        for session in sessions:
            session.close()


# -- internals ---------------------------------------------------------------------------


def _session(
    reg: LocalRegistry, repositories: list[str], headers: Mapping[str, str] | None = None
) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = f"{INTERNAL_USER_AGENT}/seed"
    session.headers.update(headers if headers is not None else reg.admin_headers(repositories))
    return session


def _check(response: requests.Response, expected: int, what: str) -> None:
    if response.status_code != expected:
        raise SeedError(
            f"{what}: {response.request.method} {response.url} answered "
            f"{response.status_code} (expected {expected}): {response.text[:500]}"
        )


def _upload_blob(
    session: requests.Session,
    base: str,
    repository: str,
    data: bytes,
    *,
    mount_from: str | None = None,
    digest: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> str:
    digest = digest or sha256_digest(data)
    params = {"mount": digest, "from": mount_from} if mount_from else None
    response = session.post(
        f"{base}/v2/{repository}/blobs/uploads/", params=params, headers=headers, timeout=30
    )
    if mount_from and response.status_code == 201:
        return digest
    _check(response, 202, f"starting the upload of {digest} to {repository}")
    location = urljoin(base + "/", response.headers["Location"])
    response = session.put(
        location,
        params={"digest": digest},
        data=data,
        timeout=60,
        headers={**(headers or {}), "Content-Type": "application/octet-stream"},
    )
    _check(response, 201, f"uploading {digest} to {repository}")
    return digest


def _put_manifest(
    session: requests.Session,
    base: str,
    repository: str,
    reference: str,
    manifest: bytes,
    media_type: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> None:
    response = session.put(
        f"{base}/v2/{repository}/manifests/{reference}",
        data=manifest,
        headers={**(headers or {}), "Content-Type": media_type},
        timeout=30,
    )
    _check(response, 201, f"putting manifest {repository}:{reference}")


def _push_image(
    session: requests.Session, base: str, image: SeededImage, tag: str | None
) -> SeededImage:
    if image.config_digest is not None:  # an image manifest: its blobs first
        for digest, data in image.blobs.items():
            _upload_blob(session, base, image.repository, data, digest=digest)
    _put_manifest(
        session, base, image.repository, tag or image.digest, image.manifest, image.media_type
    )
    return dataclasses.replace(image, tag=tag)
