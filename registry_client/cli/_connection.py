"""How the command line reaches a registry: HTTPS, plain HTTP, or "insecure" (crane's).

The choice, first that applies:

1. a reference written with ``http://`` or ``https://``: that scheme;
2. the side's ``--src-tls-verify`` / ``--dest-tls-verify`` (skopeo's flags; a skopeo
   sync file's ``tls-verify`` for its registry): false is "insecure", true is HTTPS
   with the certificate checked;
3. ``--plain-http``: plain HTTP (with ``--insecure`` or ``--skip-tls-verify`` too, no
   certificate is checked: an https:// proxy's, a redirect's storage);
4. ``--insecure``: "insecure";
5. ``--skip-tls-verify``: HTTPS without checking the certificate;
6. a loopback host (``localhost``, ``127.0.0.0/8``, ``::1``, any port): plain HTTP, as
   docker and crane treat them;
7. HTTPS with the certificate checked.

"Insecure" is what crane's ``--insecure`` and skopeo's ``--tls-verify=false`` mean:
HTTPS without checking the certificate, falling back to plain HTTP when the registry
does not speak TLS there (one ``GET /v2/`` finds out, as crane's ping does).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, Literal

import requests

from registry_client import (
    ImageReference,
    NullAuthenticator,
    Registry,
    RegistryError,
    RegistrySSLError,
    RegistryUnavailableError,
)
from registry_client.reference._grammar import is_loopback

from ._parser import Parser, go_bool

__all__ = ["CERTS_D", "INSECURE", "add_tls_verify_flags", "certificates", "choose",
           "is_loopback", "pem_texts", "probe_protocol"]

CERTS_D = ("/etc/containers/certs.d", "/etc/docker/certs.d")
"""Where docker and skopeo look for a registry's certificates, one folder per
``HOST:PORT`` (or ``HOST``): ``*.crt`` CAs, ``NAME.cert`` with ``NAME.key``."""


def certificates(
    domain: str, cert_dir: str | None, roots: tuple[str, ...] = CERTS_D,
) -> tuple[list[Path], tuple[str, str] | None]:
    """The CA files (``*.crt``) and the client certificate and key (``NAME.cert``
    with ``NAME.key``) for ``domain``: from ``cert_dir`` when given, else from the
    first of ``roots``' folders named after the domain that exists (as docker and
    skopeo read them).

    Raises:
        ValueError: ``cert_dir`` is no folder, or a ``.cert`` has no ``.key``.
    """
    if cert_dir is not None:
        folder = Path(cert_dir).expanduser()
        if not folder.is_dir():
            raise ValueError(f"--cert-dir {cert_dir!r}: no such folder")
    else:
        found = [Path(root) / name for root in roots
                 for name in dict.fromkeys((domain, domain.split(":")[0]))
                 if (Path(root) / name).is_dir()]
        if not found:
            return [], None
        folder = found[0]
    cas = sorted(folder.glob("*.crt"))
    pairs = sorted(folder.glob("*.cert"))
    if not pairs:
        return cas, None
    key = pairs[0].with_suffix(".key")
    if not key.is_file():
        raise ValueError(f"{pairs[0]}: a client certificate without its key ({key.name})")
    return cas, (str(pairs[0]), str(key))

_HASHED_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+")
"""How OpenSSL finds a certificate in a ``-CApath`` folder: by its subject's hash."""
_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN (TRUSTED )?CERTIFICATE-----.+?-----END \1?CERTIFICATE-----", re.DOTALL)


def pem_texts(where: str) -> list[bytes]:
    """The certificates (PEM blocks) of a CA bundle file, or of a CA folder as OpenSSL
    reads one (``-CApath``, SSL_CERT_DIR): the files its hashed names lead to, each
    once. What is no PEM certificate is left out: a DER file's NUL-led line ends
    OpenSSL's reading of a bundle, and the CAs after it would be dropped."""
    path = Path(where)
    if not path.is_dir():
        files = [path]
    else:
        files = list(dict.fromkeys(
            p.resolve() for p in sorted(path.iterdir())
            if _HASHED_NAME.fullmatch(p.name) and p.is_file()))
    return [m.group(0) for f in files for m in _PEM_CERTIFICATE.finditer(f.read_bytes())]


INSECURE: Literal["insecure"] = "insecure"
"""The protocol choice "HTTPS without verification, else plain HTTP" (found by a probe)."""

Choice = tuple[Literal["http", "https", "insecure"], bool]


def add_tls_verify_flags(sub: argparse.ArgumentParser) -> None:
    """``--src-tls-verify[=BOOL]`` and ``--dest-tls-verify[=BOOL]`` (skopeo's names)."""
    group = sub.add_argument_group(
        "TLS per side (as skopeo)",
        "=false: HTTPS without checking the certificate, else plain HTTP (crane's\n"
        "--insecure); =true: HTTPS with the certificate checked, loopback hosts too.")
    for side, what in (("src", "source"), ("dest", "destination")):
        flag = f"--{side}-tls-verify"
        if isinstance(sub, Parser):
            sub.go_bools.add(flag)
        group.add_argument(
            flag, metavar="BOOL", type=go_bool(flag), nargs="?", const=True, default=None,
            help=f"check the {what} registry's TLS certificate (default: true, but plain "
            "HTTP for loopback hosts)",
        )


def choose(ref: ImageReference, args: argparse.Namespace, tls_verify: bool | None) -> Choice:
    """``(protocol, verify)`` for ``ref``: see the module's rules; ``tls_verify`` is the
    side's (or the registry's) ``tls-verify``, None when not given."""
    skip = bool(args.skip_tls_verify or getattr(args, "insecure", False) or tls_verify is False)
    if ref.scheme is not None:
        return ("https" if ref.scheme == "https" else "http"), not skip
    if tls_verify is not None:
        return (INSECURE, False) if tls_verify is False else ("https", True)
    if args.plain_http:  # (a skip flag with it: an https:// proxy's certificate, or storage's)
        return "http", not skip
    if getattr(args, "insecure", False):
        return INSECURE, False
    if args.skip_tls_verify:
        return "https", False
    if is_loopback(ref.domain):
        return "http", True
    return "https", True


def probe_protocol(
    domain: str, *, session: requests.Session | None, timeout: float | None,
    user_agent: str,
) -> Literal["http", "https"]:
    """``"https"`` when ``domain`` answers ``GET /v2/`` over TLS (certificate unchecked),
    else ``"http"`` -- crane's ``--insecure`` ping. Any answer over TLS (a refusal too)
    means HTTPS; a TLS failure or no connection means plain HTTP."""
    options: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
    with Registry(domain, protocol="https", verify=False, retries=0, session=session,
                  authenticator=NullAuthenticator(), user_agent=user_agent,
                  **options) as reg:
        try:
            reg.ping()
        except (RegistrySSLError, RegistryUnavailableError):
            return "http"
        except RegistryError:
            return "https"
    return "https"
