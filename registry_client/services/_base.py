"""The shared shape of every service: a requester, a repository name, one request funnel."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

from .._flow import Call, Endpoint, Flow, run
from .._pagination import Pager, pages
from .._request import Body, Request
from .._response import Response
from ..errors import (
    RegistryError,
    RegistryResponseError,
    SchemaV1NotSupportedError,
    UnknownSchemaError,
)
from ..quirks import hub_refuses_deletes
from ..reference import is_valid_digest, scope
from ..requester import Requester
from ._shell import BlockingShell

T = TypeVar("T")


def check_path(path: str | os.PathLike[str], what: str) -> None:
    """Refuse an empty ``path`` (``what``: the argument, in the user's words).

    ``Path("")`` is the current directory, but an empty path is an unset variable
    (``"$OUT"``), never a wish to write into (or push from) the current directory:
    ``open("")``, ``cp`` and crane refuse it too.

    Raises:
        FileNotFoundError: ``path`` is empty (ENOENT, as ``open("")`` raises).
    """
    if isinstance(path, str) and not path:
        raise FileNotFoundError(errno.ENOENT, f"{what} is an empty path", path)


def in_repository(exc: RegistryError, domain: str, repository: str | None) -> None:
    """``exc``, its message naming ``domain/repository`` (``domain``: the registry only,
    when the document may be of another repository of it) when it is about what the
    registry sent and names neither a request nor the registry: what a service found
    wrong in a document (a schema1 manifest, one not JSON) says where, as the errors of
    a request do. Reworded in place. (An error about local files -- a layout, an
    archive -- is left as it is.)"""
    about_answers = (RegistryResponseError, SchemaV1NotSupportedError, UnknownSchemaError)
    if (isinstance(exc, about_answers) and exc.url is None and exc.status_code is None
            and domain not in exc.message):
        where = domain if repository is None else f"{domain}/{repository}"
        exc.with_context(f"{where}: {exc.message}")


class Service:
    """Base of every class that sends requests about one repository: the services
    (manifests, blobs, tags, images) and the collaborators that send requests of their
    own (upload sessions, referrers, tag deletes). Holds only the shared requester and
    the repository name."""

    def __init__(self, requester: Endpoint, repository: str) -> None:
        self._endpoint = requester
        self.repository = repository

    def __repr__(self) -> str:
        return f"{type(self).__name__}(repository={self.repository!r})"

    @property
    def domain(self) -> str:
        """The registry domain this service talks to."""
        return self._endpoint.domain

    def scope(self, actions: str) -> str:
        """The token scope for ``actions`` on this repository."""
        return scope(self.repository, actions)

    def _run(self, flow: Flow[T]) -> T:
        """Run ``flow`` with the blocking shell (requests, threads): its result; its
        error naming this repository (:func:`in_repository`)."""
        try:
            return run(flow, BlockingShell(self._requester))
        except RegistryError as exc:
            in_repository(exc, self.domain, self.repository)
            raise  # (the same error: its cause kept)

    def _run_pages(self, pager: Pager[T]) -> Iterator[T]:
        """Each page's value of ``pager``, run with the blocking shell as it is asked for
        (an error naming this repository, as :meth:`_run`'s)."""
        try:
            yield from pages(pager, BlockingShell(self._requester))
        except RegistryError as exc:
            in_repository(exc, self.domain, self.repository)
            raise  # (the same error: its cause kept)

    @property
    def _requester(self) -> Requester:
        """The blocking Requester: what the blocking shell (``_run``) sends through."""
        if not isinstance(self._endpoint, Requester):
            raise TypeError(f"{type(self).__name__}: a blocking call on an asyncio registry")
        return self._endpoint

    def _call(
        self,
        method: str,
        path: str,
        *,
        actions: str = "pull",
        operation: str,
        expected: Iterable[int] = (200,),
        extra_scopes: Iterable[str] = (),
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Body | None = None,
        stream: bool = False,
        absolute: bool = False,
        idempotent: bool | None = None,
        timeout: float | tuple[float, float] | None = None,
        retry_connection_errors: bool = True,
        retry_if: Callable[[RegistryError], bool] | None = None,
    ) -> Flow[Response]:
        """The flow of one request about this repository (``path`` relative to
        ``/v2/<name>/``): :meth:`_request`'s rules, for both flavours of the API."""
        target = path if absolute else f"{self.repository}/{path}"
        request = Request(
            method, target, scopes=(self.scope(actions), *extra_scopes),
            expected=frozenset(expected),
            operation=f"{operation} ({self.domain}/{self.repository})",
            params=params, headers=headers, body=data, stream=stream, idempotent=idempotent,
            timeout=timeout, retry_connection_errors=retry_connection_errors,
            retry_if=retry_if,
        )
        try:
            resp: Response = yield Call(request, self._endpoint)
        except RegistryResponseError as exc:
            self._explain_refusal(method, path, exc)
            raise
        return resp

    def _explain_refusal(self, method: str, path: str, exc: RegistryResponseError) -> None:
        """Add why a DELETE was refused, when a registry quirk or setting explains it."""
        if method == "DELETE" and hub_refuses_deletes(self._endpoint.host, exc):
            exc.with_context(exc.message + " -- Docker Hub refuses deletes on the registry "
                             "API (quirk dockerhub-no-delete): delete through Hub's own API")
        elif method == "DELETE" and _deletes_disabled(path, exc):
            exc.with_context(exc.message + " -- the registry does not allow deletes "
                             "(Distribution: storage.delete.enabled: true in its config, "
                             "or REGISTRY_STORAGE_DELETE_ENABLED=true)")


def _deletes_disabled(path: str, exc: RegistryResponseError) -> bool:
    """True for Distribution's answer to a DELETE by digest while deletes are off (its
    default): 405 UNSUPPORTED. A DELETE by tag gets that answer either way (see
    ``tags.delete``), so it says nothing there."""
    return (exc.status_code == 405 and "UNSUPPORTED" in exc.codes
            and is_valid_digest(path.rsplit("/", 1)[-1]))


def link_race(exc: RegistryError) -> bool:
    """Distribution's bare 500 for a link file read while another request writes it:
    worth another try, like a 502-504 (a registry's 500 is otherwise not retried).

    Distribution 2.8 keeps a repository's tags and blobs as small link files; a
    request that reads one another request is writing reads it empty ("invalid
    checksum digest format" in its log, ``UNKNOWN`` 500 on the wire). Racing tag
    deletes meet it; so do a manifest GET or HEAD while the same tag is pushed again
    (CI pushing ``latest`` while deployments pull it), and a blob GET or HEAD while
    another client (a sync shard) links the same layer into the repository. crane
    retries every 500 likewise.
    """
    return exc.status_code == 500

