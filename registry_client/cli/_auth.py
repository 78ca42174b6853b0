"""``auth login`` / ``logout`` / ``get``: docker's stored credentials, as crane has them
(and ``login`` / ``logout``, as docker, skopeo and podman spell them)."""

from __future__ import annotations

import argparse
import json

from registry_client import (
    AuthenticationError,
    ImageReference,
    NullAuthenticator,
    Registry,
    docker_config,
)
from registry_client._text import json_safe
from registry_client.reference import canonical_domain

from ._context import (
    USER_AGENT,
    Context,
    UsageError,
    credential_files,
    login_file,
    stored_credentials,
)
from ._parser import Parser, add_verb

__all__ = ["register"]

_NOT_FOUND = "credentials not found in native keychain"  # the helper protocol's words


def register(verbs: argparse._SubParsersAction[Parser], common: list[Parser]) -> None:
    """Add ``auth`` with ``login``, ``logout`` and ``get``; and ``login`` and ``logout``
    as docker, skopeo and podman spell them, the same as ``auth login``/``logout``."""
    auth = add_verb(
        verbs, "auth", common, handler=_no_action,
        summary="log in to a registry, log out, or print stored credentials",
        description="Credentials stored the way docker stores them, so docker, crane,\n"
        "skopeo and this client all find them: in the credential helper docker's\n"
        "config names for the registry (credHelpers, else credsStore), else in the\n"
        "`auths` of $DOCKER_CONFIG/config.json (~/.docker/config.json).",
    )
    actions = auth.add_subparsers(dest="auth_action", metavar="ACTION", title="actions",
                                  required=True, parser_class=Parser)
    _login_arguments(_action(actions, "login", common, run_login,
                             summary=_LOGIN[0], description=_LOGIN[1]))
    _logout_arguments(_action(actions, "logout", common, run_logout,
                              summary=_LOGOUT[0], description=_LOGOUT[1]))
    get = _action(
        actions, "get", common, run_get,
        summary="print a registry's stored credentials (credential-helper JSON)",
        description="Print the credentials docker's config holds for HOST as a credential\n"
        'helper does, like `crane auth get`: {"Username":"...","Secret":"..."}\n'
        '(Username "<token>" for an identity token). Without HOST, it is read from\n'
        "standard input, so this works as a credential helper's `get`. Nothing stored:\n"
        f"'{_NOT_FOUND}' and exit 1 (with --json: on stderr, stdout empty). The\n"
        "secret is printed: mind your terminal.",
    )
    get.add_argument("host", metavar="HOST", nargs="?", help="default: one line of stdin")
    # docker's, skopeo's and podman's spelling
    _login_arguments(add_verb(verbs, "login", common, handler=run_login,
                              summary=_LOGIN[0], description=_LOGIN[1]))
    _logout_arguments(add_verb(verbs, "logout", common, handler=run_logout,
                               summary=_LOGOUT[0], description=_LOGOUT[1]))


_LOGIN = (
    "check credentials against a registry, then store them",
    "Check USER and the password against HOST (GET /v2/ answered with\n"
    "them; a token registry must hand out a token for them), then store them as\n"
    "`docker login` does: with the credential helper configured for HOST, else in\n"
    "config.json (rewritten atomically, mode 0600, its other keys kept); in\n"
    "$REGISTRY_AUTH_FILE instead when it is set, as skopeo and podman do. Refused\n"
    "credentials are not stored (exit 1); so are credentials HOST never asks for.\n"
    "The password comes from --password-stdin (all of standard input, a final\n"
    "newline dropped, as docker reads it) or\n"
    "-p/--password (visible in `ps` and shell history).",
)
"""``login``'s summary and description."""
_LOGOUT = (
    "remove a registry's stored credentials",
    "Remove HOST's credentials as `docker logout` does: from its credential\n"
    "helper (erase) and from config.json -- and from $REGISTRY_AUTH_FILE and\n"
    "podman's auth.json, where other commands would find them too. Nothing\n"
    "stored is not an error.",
)
"""``logout``'s summary and description."""


def _login_arguments(login: Parser) -> None:
    login.add_argument("host", metavar="HOST", help="e.g. localhost:5000, ghcr.io, docker.io")
    login.add_argument(
        "-p", dest="password", metavar="PASSWORD", default=argparse.SUPPRESS,
        help="the password (as --password; prefer --password-stdin)",
    )


def _logout_arguments(logout: Parser) -> None:
    logout.add_argument("host", metavar="HOST")


def _action(
    actions: argparse._SubParsersAction[Parser], name: str, common: list[Parser],
    handler: object, *, summary: str, description: str,
) -> Parser:
    sub = actions.add_parser(name, parents=common, help=summary, description=description,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.set_defaults(handler=handler, uses_platform=False)
    return sub


def _no_action(ctx: Context) -> int:  # pragma: no cover -- argparse requires an action
    raise UsageError("auth wants an action: login, logout or get")


def _host(ctx: Context, text: str) -> ImageReference:
    """HOST as docker takes it: ``localhost:5000``, ``https://ghcr.io``, and docker's own
    key for Docker Hub (``https://index.docker.io/v1/``)."""
    bare = text.strip()
    scheme, sep, rest = bare.partition("://")
    if not sep:
        scheme, rest = "", bare
    host, _, path = rest.partition("/")
    if path.strip("/") not in ("", "v1", "v2") or not host:
        raise UsageError(f"host {text!r}: give a registry host such as localhost:5000")
    ref = ctx.reference(f"{scheme}{sep}{host}/x", what="host")
    if ref.domain.lower() not in (host.lower(), canonical_domain(host.lower())):
        raise UsageError(f"host {text!r}: give a registry host such as localhost:5000")
    return ref


def run_login(ctx: Context) -> int:
    """``auth login HOST -u USER --password-stdin``."""
    args = ctx.args
    ref = _host(ctx, args.host)
    if args.username is None:
        raise UsageError("login needs -u USER with --password-stdin (or -p PASSWORD)")
    credentials = ctx.explicit_credentials
    if credentials is None or (args.password is None and not args.password_stdin):
        raise UsageError("login needs the password: --password-stdin (or -p PASSWORD)")
    username, secret = credentials
    registry = ctx.registry(ref)
    _check(registry, ref.domain, ctx)
    path = login_file()
    helper = docker_config.store_credentials(ref.domain, username, secret, path)
    where = f"docker-credential-{helper}" if helper else str(
        path or docker_config.config_path())
    if helper is None:  # as docker warns
        ctx.error_line(f"registry-client: warning: the password is stored unencrypted in "
                       f"{where}; a credential helper (credsStore) keeps it in a keychain")
    if ctx.json:
        ctx.print_json({"host": ref.domain, "server": docker_config.server_key(ref.domain),
                        "username": username, "stored_in": where})
    else:
        ctx.line(f"Login Succeeded: {username} on {ref.domain}, stored in {where}")
    return 0


def _check(registry: Registry, domain: str, ctx: Context) -> None:
    """Refuse what the registry refuses, and credentials it never asks for.

    ``GET /v2/`` without credentials first: a registry that answers it anonymously
    never checks a password there (a token registry is asked without any token, so
    an anonymous token cannot stand in for the check). Then with the credentials: a
    Basic registry checks them on that request, a token registry's token server when
    it hands out the token.

    Raises:
        AuthenticationError: the registry or its token server refused them.
    """
    requester = registry.requester
    with Registry(domain, protocol=requester.protocol, verify=requester.verify,
                  authenticator=NullAuthenticator(), user_agent=USER_AGENT,
                  **ctx.connection_options()) as anonymous:
        try:
            anonymous.ping()
        except AuthenticationError:
            pass  # it asks for credentials: the check below means something
        else:
            raise AuthenticationError(
                f"{domain} answered without credentials (GET /v2/), so it cannot check "
                "them: nothing stored"
            )
    registry.ping()


def run_logout(ctx: Context) -> int:
    """``auth logout HOST``."""
    ref = _host(ctx, ctx.args.host)
    removed = False
    for path in credential_files():  # every file a later verb would find them in
        if path is None or path.exists():
            removed = docker_config.erase_credentials(ref.domain, path) or removed
    if ctx.json:
        ctx.print_json({"host": ref.domain, "server": docker_config.server_key(ref.domain),
                        "removed": removed})
    elif removed:
        ctx.line(f"Removed login credentials for {ref.domain}")
    else:
        ctx.line(f"Not logged in to {ref.domain}")
    return 0


def run_get(ctx: Context) -> int:
    """``auth get [HOST]``: the helper-protocol JSON on stdout."""
    text = ctx.args.host
    if text is None:
        text = ctx.read_stdin_line("auth get").strip()
        if not text:
            raise UsageError("auth get: give HOST, or write it on standard input")
    ref = _host(ctx, text)
    found = stored_credentials(ref.domain, strict=True)  # a failure is no
    if found is None:  # "not found"
        if ctx.json:  # stdout holds JSON or nothing
            ctx.error_line(f"registry-client: error: {ref.domain}: {_NOT_FOUND}")
            return 1
        ctx.line(_NOT_FOUND)
        return 1
    if found.identity_token:
        doc = {"Username": "<token>", "Secret": found.identity_token}
    else:
        doc = {"Username": found.username or "", "Secret": found.password or ""}
    # (a login another tool stored as bytes that are not UTF-8 holds lone surrogates:
    # written as their escapes, which read back as the same string)
    ctx.stdout.write(json_safe(json.dumps(doc, separators=(",", ":"), ensure_ascii=False))
                     + "\n")
    return 0
