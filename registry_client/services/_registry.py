"""The registry-wide protocol: ping, the catalog, the rate limit, repository names.

:class:`RegistryFlows` is what ``Registry`` and ``AsyncRegistry`` both run: the
requests they send and what the answers mean are written here once.
"""

from __future__ import annotations

from .. import mediatypes
from .._auth_protocol import held_secrets
from .._challenge import ChallengeParseError, parse_challenges
from .._flow import Call, Endpoint, Flow
from .._http import parse_json, status_error
from .._json import loads
from .._log import log
from .._pagination import Pager, next_link
from .._redact import redact_url
from .._request import Request
from .._response import Response
from ..auth import refusal_hint
from ..errors import InvalidReferenceError, RegistryResponseError
from ..quirks import has_quirk, max_page_size
from ..ratelimit import RateLimit, parse_rate_limit
from ..reference import (
    CATALOG_SCOPE,
    DOCKER_HUB_HOSTS,
    ImageReference,
    check_reference,
    check_repository_name,
    hub_repository,
    is_docker_hub,
    is_valid_domain,
    is_valid_repository_name,
    names_a_domain,
    parse_image_name,
    scope,
)

__all__ = ["MAX_CATALOG_PAGE", "RegistryFlows"]

MAX_CATALOG_PAGE = 100_000


class RegistryFlows:
    """The flows of ``Registry``'s own methods (ping, catalog, rate limit), and the rules
    of its repository names, for both flavours of the API.

    ``authenticator`` is the registry's (a refused ping says what to change in it).
    """

    def __init__(self, requester: Endpoint, authenticator: object) -> None:
        self._endpoint = requester
        self._authenticator = authenticator

    def __repr__(self) -> str:
        return f"RegistryFlows(domain={self.domain!r})"

    @property
    def domain(self) -> str:
        """The registry domain."""
        return self._endpoint.domain

    # -- names (no request) -----------------------------------------------------------------
    def repository_name(self, name: str) -> str:
        """``name`` checked as a repository name on this registry (``Registry.repository``);
        on Docker Hub, a name of one component is an official image's: ``library/`` is
        put before it.

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
        return hub_repository(name, self.domain, self._endpoint.host)

    def _is_docker_hub(self) -> bool:
        return is_docker_hub(self.domain) or is_docker_hub(self._endpoint.host)

    def _registry_host_in(self, name: object) -> str | None:
        """The registry host a repository name starts with, if it does.

        ``localhost:5000/app`` (a port: never a path component) or this registry's
        own domain (``ghcr.io/org/app`` on ghcr.io). Other dotted first components
        are legal paths (mirrors keep ``docker.io/library/alpine`` as one).
        """
        if not isinstance(name, str) or "/" not in name:
            return None
        first = name.split("/", 1)[0]
        own = {self.domain.lower(), self._endpoint.host.lower()}
        if self._is_docker_hub():  # docker.io has other names: all are the host
            own.update(DOCKER_HUB_HOSTS)
        if first.lower() in own or (":" in first and is_valid_domain(first)):
            return first
        return None

    def repository_path(self, s: str) -> str:
        """The repository named by a reference string on this registry
        (``Registry.repository_from_string``; tag and digest ignored).

        Raises:
            ValueError: the reference is on another registry, or malformed.
        """
        ref = parse_image_name(s, allow_scheme=True)
        if ref.domain.lower() != self.domain.lower() and not (  # host names ignore case
                ref.domain.lower() in DOCKER_HUB_HOSTS and self._is_docker_hub()):
            raise ValueError(
                f"{s!r} is on registry {ref.domain!r}, not on {self.domain!r}"
            )
        return self.repository_name(ref.path)

    # -- requests ---------------------------------------------------------------------------
    def check_rate_limit(self, reference: str | ImageReference) -> Flow[RateLimit | None]:
        """The flow of ``Registry.check_rate_limit``: one manifest HEAD."""
        if isinstance(reference, ImageReference):
            ref = reference
        else:
            ref = parse_image_name(reference)
            if ref.domain.lower() != self.domain.lower() and not names_a_domain(reference):
                ref = parse_image_name(f"{self.domain}/{reference}")  # "org/app:1" here
        if ref.domain.lower() != self.domain.lower():  # host names ignore case
            raise ValueError(f"{str(reference)!r} is on registry {ref.domain!r}, "
                             f"not on {self.domain!r}")
        name = self.repository_name(ref.path)
        tag = ref.reference or "latest"
        check_reference(tag)
        resp = yield Call(Request(
            "HEAD", f"{name}/manifests/{tag}", scopes=(scope(name, "pull"),),
            headers={"Accept": mediatypes.MANIFEST_ACCEPT}, operation=f"rate limit of {ref}",
        ))
        return parse_rate_limit(resp.headers)  # this answer's, not an older one's

    def ping(self) -> Flow[None]:
        """The flow of ``Registry.ping``: ``GET /v2/``, and is that a registry's answer."""
        context = f"ping {self.domain}"
        resp: Response = yield Call(Request(
            "GET", "", operation=context, expected=frozenset({200, 401, 403, 404})))
        if _answers_like_a_registry(resp):
            if resp.status_code != 200:  # with the advice any other refusal gets
                raise status_error(resp, resp.content, context=context, method="GET",
                                   hint=refusal_hint(self._authenticator, resp),
                                   secrets=held_secrets(self._authenticator))
            return
        url = redact_url(resp.url)
        raise RegistryResponseError(
            f"{context}: {url} is not a container registry: it answered {resp.status_code} "
            f"with {_what_body(resp)}, without the Docker-Distribution-API-Version header "
            "or a registry's auth challenge (wrong host, port or path?)",
            status_code=resp.status_code, method="GET", url=url,
        )

    def catalog(self, page_size: int | None = None) -> Pager[list[str]]:
        """The catalog's pages (``Registry.iter_repositories``), one flow each: the valid
        repository names of each page (another name is logged and left out)."""
        url = self._endpoint.url("_catalog")
        page_size = max_page_size(self._endpoint.host, page_size)
        if page_size is not None:
            url += f"?n={int(page_size)}"
        return Pager(url, self._catalog_page, self._endpoint, count=len)

    def _catalog_page(self, url: str) -> Flow[tuple[list[str], str | None]]:
        if has_quirk(self._endpoint.host, "dockerhub-no-catalog"):
            raise RegistryResponseError(
                f"{self.domain} does not offer the catalog API (/v2/_catalog); "
                "list repositories through Docker Hub's own API instead"
            )
        resp: Response = yield Call(Request(
            "GET", url, scopes=(CATALOG_SCOPE,), operation=f"catalog of {self.domain}"))
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
        names: list[str] = []
        for name in repos:
            if is_valid_repository_name(name):
                names.append(name)
            else:  # never a URL or file name; the user hears of it, not silence
                log.warning("catalog of %s: left out %r, which is not a repository name",
                            self.domain, name[:300])
        return names, next_link(resp)


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
        doc = loads(resp.content)
    except ValueError:
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
