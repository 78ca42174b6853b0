"""What is secret and how it is masked: one policy for the library and the command line.

Secret are the credential headers (``Authorization``, ``Proxy-Authorization``,
``Cookie``, ``Set-Cookie``), the user info of a URL, query parameters and
JSON/form fields named like credentials (tokens, passwords, signatures, the
upload ``_state``), credentials after an auth scheme (``Bearer``, ``Basic``)
and JWTs. A secret is shown as ``***`` (``<redacted>`` in a credential object's repr).

URLs have two views:

* :func:`redact_url`, for the library's errors and log lines: user info dropped,
  secret parameters masked, the others kept, so that an error still says which
  page, upload or digest it was about;
* :meth:`Redactor.url`, for the CLI's ``-v`` trace: every parameter masked but a
  few known harmless ones, because the trace shows every URL, redirects to blob
  storage included, whose parameters no one here knows.

A domain the user typed is quoted back with :func:`hide_userinfo` (``***@host``),
which keeps the text recognisable.

The HTTP libraries underneath log the library's requests too (httpx every URL at
INFO, urllib3 and httpcore at DEBUG, a redirect's ``Location`` included): their
records are masked as the CLI's trace is while a request of the library's is sent
(:func:`watch_foreign_logs`, :func:`sending`). This module imports only the standard
library, so every layer may use it.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "REDACTED",
    "SAFE_PARAMS",
    "SECRET_HEADERS",
    "SECRET_NAMES",
    "Redactor",
    "done_sending",
    "hide_userinfo",
    "is_secret_header",
    "is_secret_param",
    "redact_url",
    "sending",
    "watch_foreign_logs",
]

MASK = "***"
"""What a secret is replaced by in text: URLs, headers, messages."""

REDACTED = "<redacted>"
"""What a credential object's ``repr`` shows for its secret (never its length or start)."""

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
"""Headers whose value is a credential (lower case)."""

SECRET_NAMES = frozenset({
    "token", "access_token", "refresh_token", "password", "_state",
    "signature", "sig", "x-amz-signature", "x-amz-credential", "x-goog-signature",
    "verify",  # Docker Hub's CDN redirects: ?verify=<expiry>-<HMAC>
    # docker's config.json / credential helper answer fields ("identitytoken", "Secret")
    "identitytoken", "secret",
})
"""Query parameters and JSON/form fields whose value is a credential (lower case).

``_state`` is Distribution's signed upload state; the signatures and
credentials are those of presigned blob-storage redirects (S3, GCS, Docker Hub's
CDN)."""

# A parameter is secret too when its name contains one of these (X-Amz-Security-Token).
_SECRET_WORDS = ("token", "signature", "credential", "password", "secret")

SAFE_PARAMS = frozenset({"n", "last", "mount", "from", "digest", "scope", "service", "account"})
"""Query parameters the CLI trace shows; it masks every other one."""

_USERINFO_RE = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*://)?)[^/\[\]]*@")

# What follows a secret's name before its value: at once (password=x), or in quotes after
# a space ("password": "x").
_SEPARATOR = r"['\"]?\s*[=:](?:['\"]?|\s*['\"])"

_NOT_CHALLENGE = r"(?!(?:realm|service|scope|error|error_description|charset)=)"
# After an auth scheme in free text, a credential rather than a word of prose: it holds a
# digit or a base64/JWT symbol, a capital past its first letter (base64), or is long.
# ("Bearer challenge without realm", "want Bearer or Basic" keep their words.)
_CREDENTIAL = r"(?=[^\s'\",}]*[0-9+/=._~-]|[^\s'\",}][a-z]*[A-Z]|[^\s'\",}]{20})"


@functools.cache
def _patterns() -> tuple[re.Pattern[str], ...]:
    """The credential patterns of :class:`Redactor`, compiled on first use: only the
    CLI's log and trace need them, so ``import registry_client`` does not pay for it."""
    return (
        # "Authorization: <anything>" (also Proxy-Authorization), header or repr form.
        re.compile(r"(?i)((?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,}]+"),
        # Credentials after an auth scheme, but not the parameters of a challenge.
        re.compile(r"(?i)\b(bearer\s+)" + _NOT_CHALLENGE + r"(?-i:" + _CREDENTIAL + r")"
                   r"[^\s'\",}]+"),
        re.compile(r"(?i)\b(basic\s+)" + _NOT_CHALLENGE + r"(?-i:" + _CREDENTIAL + r")"
                   r"[A-Za-z0-9+/=._~-]+"),
        # JWTs (three base64url parts, the first one a JSON object: "eyJ...").
        re.compile(r"()\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
        # Secret key=value pairs (query strings, form bodies, JSON); the name may end a
        # longer one (X-Amz-Security-Token).
        # A value follows the separator at once (password=x), or in quotes after a space
        # ("password": "x"); "password: give the other" is prose.
        re.compile(
            r"(?i)((?:" + "|".join(re.escape(name) for name in sorted(SECRET_NAMES - {"verify"}))
            + r")" + _SEPARATOR + r")[^&\s'\",}]+"
        ),
        # Docker Hub's CDN signature, ?verify=<expiry>-<HMAC>: not a word ending in
        # "verify" (skopeo's --tls-verify=false), nor a yes/no (verify=False, TLS advice).
        re.compile(r"(?i)((?<![\w-])verify" + _SEPARATOR + r")(?!(?:true|false|0|1)\b)"
                   r"[^&\s'\",}]+"),
    )


def is_secret_header(name: str) -> bool:
    """True for a header whose value is a credential (any case)."""
    return name.lower() in SECRET_HEADERS


def is_secret_param(name: str) -> bool:
    """True for a query parameter whose value may be a credential (any case)."""
    low = name.lower()
    return low in SECRET_NAMES or any(word in low for word in _SECRET_WORDS)


def redact_url(url: str | None) -> str:
    """A URL with user info and secret-looking query values replaced by ``***``."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        query = urlencode(
            [(k, MASK if is_secret_param(k) else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)],
            safe=":/,*",
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "<unparsable url>"


def hide_userinfo(domain_or_url: str) -> str:
    """``user:password@host`` (before the first ``/``) shown as ``***@host``: a domain
    quoted back in an error never repeats a password someone put in it."""
    return _USERINFO_RE.sub(r"\1" + MASK + "@", domain_or_url)


class Redactor:
    """Replaces credentials in text with ``***``: known patterns plus given literal secrets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        """Also mask every occurrence of ``secret`` (ignored when empty or very short)."""
        if secret and len(secret) >= 3:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        """Return ``text`` with every credential masked."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        for pattern in _patterns():
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        return text

    def url(self, url: str | None) -> str:
        """``url`` without user info, with every query value except harmless ones masked."""
        if not url:
            return ""
        try:
            parts = urlsplit(url)
            query = urlencode(
                [(k, v if k.lower() in SAFE_PARAMS else MASK)
                 for k, v in parse_qsl(parts.query, keep_blank_values=True)],
                safe=":/,*@",
            )
            netloc = parts.netloc.rsplit("@", 1)[-1]
            return self(urlunsplit((parts.scheme, netloc, parts.path, query, "")))
        except ValueError:
            return "<unparsable url>"

    def headers(self, headers: Mapping[str, Any]) -> list[str]:
        """``Name: value`` lines, with credential headers masked."""
        lines = []
        for name, value in headers.items():
            shown = MASK if is_secret_header(str(name)) else self(str(value))
            if str(name).lower() == "location":
                shown = self.url(str(value))
            lines.append(f"{name}: {shown}")
        return lines


_SENDING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "registry_client_sending", default=False)
_WATCHED: set[str] = set()
_WATCHING = threading.Lock()


class _OwnRequests(logging.Filter):
    """Masks the records an HTTP library logs while a request of the library's is sent
    (as the CLI's trace is masked); others' records are left as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SENDING.get():
            try:
                message = record.getMessage()
            except Exception:  # a malformed record: its template only
                message = str(record.msg)
            record.msg, record.args = Redactor()(message), None
        return True


_OWN_REQUESTS = _OwnRequests()


def watch_foreign_logs(*names: str) -> None:
    """Mask what the loggers ``names`` (an HTTP library's, each exactly: a logger's
    filters do not apply to its children's records) log of the library's requests."""
    for name in names:
        if name in _WATCHED:
            continue
        with _WATCHING:
            if name not in _WATCHED:
                logging.getLogger(name).addFilter(_OWN_REQUESTS)
                _WATCHED.add(name)


def sending() -> contextvars.Token[bool]:
    """Mark what follows, in this thread or task, as a request of the library's (its
    HTTP library's records masked); :func:`done_sending` ends it."""
    return _SENDING.set(True)


def done_sending(token: contextvars.Token[bool]) -> None:
    """End what :func:`sending` began."""
    _SENDING.reset(token)
