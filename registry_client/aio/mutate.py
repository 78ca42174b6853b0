"""Async forms of :mod:`registry_client.mutate`: append, config, flatten, rebase.

The same flows (:class:`~registry_client.mutate.MutateFlows`), results and errors as the
blocking module, run by the asyncio shell; file work (packing, compressing, merging
layers) runs in worker threads, so the event loop keeps running::

    from registry_client.aio import mutate

    image = await mutate.append(repo, "base/python:3.12", ["./dist"], tag="1.0")
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence

from .._flow import Flow
from ..errors import RegistryError
from ..models import Image, Platform
from ..mutate import LayerSource, MutateFlows
from ..services._base import in_repository
from ._repository import AsyncRepository
from ._run import arun

__all__ = ["append", "config", "flatten", "rebase"]


async def _arun(repo: AsyncRepository, flow: Flow[Image]) -> Image:
    """Run a mutate flow with the asyncio shell; its error named as the blocking
    module's (``services._base.in_repository``: the registry)."""
    try:
        return await arun(flow, repo._shell)
    except RegistryError as exc:
        in_repository(exc, repo.domain, None)  # (a base may be another repository's)
        raise


async def append(
    repo: AsyncRepository, base: str | None, layers: Iterable[LayerSource], *, tag: str,
    platform: str | Platform | None = None,
) -> Image:
    """Async form of :func:`registry_client.mutate.append`."""
    return await _arun(repo, MutateFlows.of(repo).append(base, layers, tag=tag, platform=platform))


async def config(
    repo: AsyncRepository, reference: str, *, tag: str,
    labels: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None,
    entrypoint: Sequence[str] | None = None, cmd: Sequence[str] | None = None,
    user: str | None = None, workdir: str | None = None,
    exposed_ports: Iterable[str] | None = None, annotations: Mapping[str, str] | None = None,
    created: str | _dt.datetime | None = None, platform: str | Platform | None = None,
) -> Image:
    """Async form of :func:`registry_client.mutate.config`."""
    return await _arun(repo, MutateFlows.of(repo).config(
        reference, tag=tag, labels=labels, env=env, entrypoint=entrypoint, cmd=cmd, user=user,
        workdir=workdir, exposed_ports=exposed_ports, annotations=annotations,
        created=created, platform=platform))


async def flatten(
    repo: AsyncRepository, reference: str, *, tag: str, platform: str | Platform | None = None,
) -> Image:
    """Async form of :func:`registry_client.mutate.flatten`."""
    return await _arun(repo, MutateFlows.of(repo).flatten(reference, tag=tag, platform=platform))


async def rebase(
    repo: AsyncRepository, reference: str, *, old_base: str, new_base: str, tag: str,
) -> Image:
    """Async form of :func:`registry_client.mutate.rebase`."""
    return await _arun(repo, MutateFlows.of(repo).rebase(reference, old_base=old_base,
                                                  new_base=new_base, tag=tag))
