"""Registry: the entry point -- connect to a registry, ping it, list it, open repositories."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypedDict

import requests

from . import mediatypes
from ._challenge import ChallengeParseError, parse_challenges
from ._http import DEFAULT_BODY_LIMIT, parse_json, raise_for_status
from ._log import log
from ._pagination import follow_pages, next_link
from ._redact import redact_url
from ._response import Response
from .auth import Authenticator, TokenAuthenticator, refusal_hint
from .errors import InvalidReferenceError, RegistryResponseError
from .quirks import has_quirk, max_page_size
from .ratelimit import RateLimit, parse_rate_limit
from .reference import (
    CATALOG_SCOPE,
    DEFAULT_DOMAIN,
    DOCKER_HUB_HOSTS,
    ImageReference,
    canonical_domain,
    check_reference,
    check_repository_name,
    is_valid_domain,
    is_valid_repository_name,
    names_a_domain,
    parse_image_name,
    scope,
)
from .repository import Repository
from .requester import Requester

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Registry", "RegistryOptions"]

MAX_CATALOG_PAGE = 100_000


class RegistryOptions(TypedDict, total=False):
    """The keyword options of :class:`Registry`, as ``from_reference`` and
    ``from_docker_config`` pass them on (see ``Registry`` for what each means)."""

    authenticator: Authenticator | None
    protocol: str
    session: requests.Session | None
    timeout: float | tuple[float, float]
    verify: bool | str
    proxy: str | None
    retries: int
    max_workers: int
    user_agent: str | None
    pool_size: int | None
    backoff: float
    max_backoff: float
    body_limit: int


class Registry:
    """A container registry, reached through one pooled, thread-safe Requester.

    Args:
        domain: as in image references: ``docker.io``, ``ghcr.io``, ``localhost:5000``.
        authenticator: credentials strategy; None means anonymous token auth (as ``docker pull``).
        protocol: ``"https"`` (default) or ``"http"`` for a local or insecure registry.
        session: a ``requests.Session`` to send through (default: a new pooled one).
        timeout: ``(connect, read)`` seconds, default ``(2, 5)``; streaming reads go on
            as long as bytes keep flowing.
        verify: TLS verification, True (default), False or a CA bundle path.
        proxy: a proxy URL for every request.
        retries: retries after the first attempt of idempotent requests (default 3).
        max_workers: parallel transfers and HEADs (default 4).
        user_agent: the User-Agent header.
        pool_size: connections kept open per host (default ``max(10, max_workers + 2)``);
            used only for the session the Registry makes itself.
        backoff: base of the exponential backoff between retries, in seconds (default 0.25).
        max_backoff: the longest wait between retries, in seconds, ``Retry-After``
            included (default 30).
        body_limit: the largest manifest or JSON body read into memory, in bytes
            (default 4 MiB); a larger one is a ``RegistryResponseError``.

    Usable as a context manager; ``close()`` releases the connections.
    """

    def __init__(
        self,
        domain: str = DEFAULT_DOMAIN,
        *,
        authenticator: Authenticator | None = None,
        protocol: str = "https",
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (2, 5),
        verify: bool | str = True,
        proxy: str | None = None,
        retries: int = 3,
        max_workers: int = 4,
        user_agent: str | None = None,
        pool_size: int | None = None,
        backoff: float = 0.25,
        max_backoff: float = 30.0,
        body_limit: int = DEFAULT_BODY_LIMIT,
    ) -> None:
        domain = canonical_domain(domain)
        self.domain = domain
        self.max_workers = max(1, int(max_workers))
        self._requester = Requester(
            domain,
            authenticator if authenticator is not None else TokenAuthenticator(),
            session,
            protocol,
            timeout=timeout,
            verify=verify,
            proxy=proxy,
            retries=retries,
            user_agent=user_agent,
            pool_size=max(10, self.max_workers + 2) if pool_size is None else pool_size,
            backoff=backoff,
            max_backoff=max_backoff,
            body_limit=body_limit,
        )

    @classmethod
    def from_reference(
        cls, reference: str | ImageReference, **kw: Unpack[RegistryOptions]
    ) -> Registry:
        """A Registry for the domain of an image reference (``quay.io/org/app:1.0``).

        ``kw`` are the options of :class:`Registry`; a reference written with a
        scheme (``http://localhost:5000/app``) sets ``protocol`` unless given.

        Raises:
            InvalidReferenceError: the reference is malformed.
        """
        ref = reference if isinstance(reference, ImageReference) else parse_image_name(
            reference, allow_scheme=True
        )
        if ref.scheme and "protocol" not in kw:
            kw["protocol"] = ref.scheme
        return cls(ref.domain, **kw)

    @classmethod
    def from_docker_config(
        cls, domain: str = DEFAULT_DOMAIN, **kw: Unpack[RegistryOptions]
    ) -> Registry:
        """A Registry using the credentials docker stored for ``domain``.

        Reads ``~/.docker/config.json`` (or ``$DOCKER_CONFIG/config.json``):
        ``auths``, ``credsStore`` and ``credHelpers``. Anonymous when none.
        ``kw`` are the options of :class:`Registry` (an ``authenticator`` given
        there wins over the stored credentials).
        """
        from .docker_config import authenticator_for  # json/subprocess only for this call

        if "authenticator" not in kw:
            kw["authenticator"] = authenticator_for(domain)
        return cls(domain, **kw)

    def __repr__(self) -> str:
        return f"Registry(domain={self.domain!r}, protocol={self._requester.protocol!r})"

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._requester.close()

    @property
    def requester(self) -> Requester:
        """The Requester every request of this registry goes through."""
        return self._requester

    @property
    def rate_limit(self) -> RateLimit | None:
        """The pull budget the registry last reported (Docker Hub's ratelimit headers)."""
        return self._requester.rate_limit

    def check_rate_limit(self, reference: str | ImageReference) -> RateLimit | None:
        """Ask for the current rate limit with a manifest HEAD (not counted by Docker Hub).

        ``reference`` names an image on this registry (``library/alpine:latest``).
        Returns None when the registry reports no limit.

        Raises:
            NotFoundError: the image does not exist.
        """
        if isinstance(reference, ImageReference):
            ref = reference
        else:
            ref = parse_image_name(reference)
            if ref.domain.lower() != self.domain.lower() and not names_a_domain(reference):
                ref = parse_image_name(f"{self.domain}/{reference}")  # "org/app:1" here
        if ref.domain.lower() != self.domain.lower():  # host names ignore case
            raise ValueError(f"{str(reference)!r} is on registry {ref.domain!r}, "
                             f"not on {self.domain!r}")
        repo = self.repository(ref.path)
        tag = ref.reference or "latest"
        check_reference(tag)
        resp = self._requester.send(
            "HEAD", f"{repo.name}/manifests/{tag}", scopes=(scope(repo.name, "pull"),),
            headers={"Accept": mediatypes.MANIFEST_ACCEPT}, context=f"rate limit of {ref}",
        )
        return parse_rate_limit(resp.headers)  # this answer's, not an older one's

    def ping(self) -> None:
        """Check that a registry answers at this domain and accepts our credentials.

        The answer to ``GET /v2/`` must be a registry's: the
        ``Docker-Distribution-API-Version`` header, or (for registries that omit
        it) the empty JSON object ``{}``, or a Basic/Bearer challenge. A web server that is not a
        registry (an HTML page, a 404) is told apart from a registry that refuses.

        Raises:
            RegistryUnavailableError: it cannot be reached.
            AuthenticationError: it refused the credentials.
            RegistryResponseError: the server there is not a container registry.
        """
        context = f"ping {self.domain}"
        resp = self._requester.send("GET", "", context=context, expected=(200, 401, 403, 404))
        if _answers_like_a_registry(resp):
            if resp.status_code != 200:  # with the advice any other refusal gets
                raise_for_status(resp, context=context, method="GET",
                                 hint=refusal_hint(self._requester.authenticator, resp))
            return
        url = redact_url(resp.url)
        raise RegistryResponseError(
            f"{context}: {url} is not a container registry: it answered {resp.status_code} "
            f"with {_what_body(resp)}, without the Docker-Distribution-API-Version header "
            "or a registry's auth challenge (wrong host, port or path?)",
            status_code=resp.status_code, method="GET", url=url,
        )

    def repository(self, name: str) -> Repository:
        """The repository ``name`` (``library/alpine``); no request is made.

        Raises:
            InvalidReferenceError: the name is not a valid repository path.
        """
        if isinstance(name, str) and "://" in name:
            scheme, _, rest = name.partition("://")
            try:
                path = parse_image_name(name, allow_scheme=True).path
            except (InvalidReferenceError, ValueError):
                path = rest.partition("/")[2]
            raise InvalidReferenceError(
                f"invalid repository name {name[:300]!r}: it has a scheme and host "
                f"({scheme[:20]}://{rest.partition('/')[0][:255]}); a repository name is the "
                f"path on the registry ({path[:300]!r}), or give the whole reference to "
                "repository_from_string")
        host = self._registry_host_in(name)
        if host is not None:
            raise InvalidReferenceError(
                f"invalid repository name {name[:300]!r}: it starts with the registry host "
                f"{host!r}; a repository name is the path on the registry "
                f"({name.split('/', 1)[1][:300]!r}), or give the whole reference to "
                "repository_from_string")
        if isinstance(name, str) and ("@" in name or ":" in name) and len(name) <= 300:
            raise InvalidReferenceError(
                f"invalid repository name {name!r}: a repository name has no tag or digest; "
                f"for the image, use repository_from_string({self.domain + '/' + name!r})")
        check_repository_name(name)
        return Repository(name, self._requester, registry=self, max_workers=self.max_workers)

    def _registry_host_in(self, name: object) -> str | None:
        """The registry host a repository name starts with, if it does.

        ``localhost:5000/app`` (a port: never a path component) or this registry's
        own domain (``ghcr.io/org/app`` on ghcr.io). Other dotted first components
        are legal paths (mirrors keep ``docker.io/library/alpine`` as one).
        """
        if not isinstance(name, str) or "/" not in name:
            return None
        first = name.split("/", 1)[0]
        own = {self.domain.lower(), self._requester.host.lower()}
        if own.intersection(DOCKER_HUB_HOSTS):  # docker.io has other names: all are the host
            own.update(DOCKER_HUB_HOSTS)
        if first.lower() in own or (":" in first and is_valid_domain(first)):
            return first
        return None

    def repository_from_string(self, s: str) -> Repository:
        """The repository named by a reference string on this registry (tag/digest ignored).

        Raises:
            ValueError: the reference is on another registry, or malformed.
        """
        ref = parse_image_name(s, allow_scheme=True)
        if ref.domain.lower() != self.domain.lower():  # host names ignore case
            raise ValueError(
                f"{s!r} is on registry {ref.domain!r}, not on {self.domain!r}"
            )
        return self.repository(ref.path)

    def _catalog_page(self, url: str) -> tuple[list[str], str | None]:
        resp = self._requester.send(
            "GET", url, scopes=(CATALOG_SCOPE,), context=f"catalog of {self.domain}",
        )
        doc = parse_json(resp.content, what=f"catalog of {self.domain}")
        if not isinstance(doc, dict):
            raise RegistryResponseError(f"catalog of {self.domain}: expected a JSON object")
        repos = doc.get("repositories")
        if repos is None:
            repos = []
        if not isinstance(repos, list) or not all(isinstance(r, str) for r in repos):
            raise RegistryResponseError(
                f"catalog of {self.domain}: 'repositories' is not a list of strings"
            )
        if len(repos) > MAX_CATALOG_PAGE:
            raise RegistryResponseError(f"catalog of {self.domain}: page too large")
        return repos, next_link(resp)

    def iter_repositories(self, page_size: int | None = None) -> Iterator[Repository]:
        """Every repository in the catalog, page after page.

        Raises:
            AuthorizationError: the catalog is not open to these credentials.
        """
        if has_quirk(self._requester.host, "dockerhub-no-catalog"):
            raise RegistryResponseError(
                f"{self.domain} does not offer the catalog API (/v2/_catalog); "
                "list repositories through Docker Hub's own API instead"
            )
        url = self._requester.url("_catalog")
        page_size = max_page_size(self._requester.host, page_size)
        if page_size is not None:
            url += f"?n={int(page_size)}"
        pages = follow_pages(
            url, self._catalog_page, same_origin=self._requester.same_origin,
            resolve=lambda link, base: self._requester.resolve(link, base),
            count=len,
        )
        for names in pages:
            for name in names:
                if is_valid_repository_name(name):
                    yield Repository(
                        name, self._requester, registry=self, max_workers=self.max_workers
                    )
                else:  # never a URL or file name; the user hears of it, not silence
                    log.warning("catalog of %s: left out %r, which is not a repository name",
                                self.domain, name[:300])

    def repositories(self) -> list[Repository]:
        """Every repository in the catalog (all pages followed)."""
        return list(self.iter_repositories())

    def search(self, substring: str) -> list[str]:
        """Names of catalog repositories containing ``substring`` (filtered here, not remotely)."""
        return [r.name for r in self.iter_repositories() if substring in r.name]


def _answers_like_a_registry(resp: Response) -> bool:
    """True for an answer to ``GET /v2/`` only a registry gives.

    The API version header (Distribution, Harbor, Quay, ...); else, for registries that
    omit it, a Basic or Bearer challenge on a 401, or a registry's JSON body (the empty
    object ``{}`` on a 200, the ``errors`` list on an error).
    """
    if resp.headers.get("Docker-Distribution-API-Version", "").strip().startswith("registry/"):
        return True
    if resp.status_code == 401:
        try:
            challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
        except ChallengeParseError:
            challenges = []
        if any(c.scheme.lower() in ("basic", "bearer") for c in challenges):
            return True
    try:
        doc = json.loads(resp.content)
    except (ValueError, RecursionError):
        return False
    if resp.status_code == 200:
        # Registries answer /v2/ with an empty object; any other JSON object is some
        # other JSON API (a health endpoint, a web app), not a registry.
        return isinstance(doc, dict) and not doc
    return isinstance(doc, dict) and isinstance(doc.get("errors"), list)


def _what_body(resp: Response) -> str:
    """The body of an answer in a few words (``an HTML page``, ``an empty body``)."""
    ctype = (resp.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    head = resp.content[:512].lstrip().lower()
    if not resp.content:
        return "an empty body"
    if ctype == "text/html" or head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if ctype:
        return f"{'an' if ctype[0] in 'aeiou' else 'a'} {ctype} body"
    return "a body that is not a registry's JSON"
