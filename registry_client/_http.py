"""Status-to-error mapping, capped body reads and redaction (one place for each)."""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import urllib3.exceptions

from ._challenge import ChallengeParseError, parse_challenges
from .errors import (
    AuthenticationError,
    AuthorizationError,
    NotFoundError,
    RegistryError,
    RegistryResponseError,
    RegistryUnavailableError,
)

DEFAULT_BODY_LIMIT = 4 * 1024 * 1024
_ERROR_BODY_LIMIT = 64 * 1024
_SECRET_PARAMS = {"token", "access_token", "refresh_token", "password", "x-amz-signature",
                  "signature", "sig", "x-amz-credential", "x-goog-signature", "_state"}
_SECRET_HEADER_RE = re.compile(r"(?i)^(authorization|proxy-authorization|cookie|set-cookie)$")


def is_digits(value: str) -> bool:
    """True for a non-empty string of ASCII digits (``"²".isdigit()`` is True, this is not)."""
    return value.isascii() and value.isdigit()


def _secret_param(name: str) -> bool:
    low = name.lower()
    return low in _SECRET_PARAMS or any(
        word in low for word in ("token", "signature", "credential", "password", "secret")
    )


def redact_url(url: str | None) -> str:
    """A URL with user info and secret-looking query values replaced by ``***``."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        query = urlencode(
            [(k, "***" if _secret_param(k) else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)],
            safe=":/,*",
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "<unparsable url>"


def redact_headers(headers: Any) -> dict[str, str]:
    """Headers as a dict, with credentials replaced by ``***``."""
    out: dict[str, str] = {}
    for k, v in dict(headers or {}).items():
        out[str(k)] = "***" if _SECRET_HEADER_RE.match(str(k)) else str(v)
    return out


def read_capped(resp: requests.Response, limit: int = DEFAULT_BODY_LIMIT) -> bytes:
    """Read a whole (small) body, refusing one over ``limit`` bytes before it grows in memory.

    Raises:
        RegistryResponseError: the body is larger than ``limit`` or shorter than announced.
    """
    length = resp.headers.get("Content-Length")
    announced: int | None = None
    if length is not None:
        try:
            announced = int(length)
        except ValueError:
            resp.close()
            raise RegistryResponseError(
                f"invalid Content-Length {length[:40]!r}", url=redact_url(resp.url)
            ) from None
        if announced > limit or announced < 0:
            resp.close()
            raise RegistryResponseError(
                f"response body of {announced} bytes exceeds the {limit}-byte limit"
                if announced > limit else f"invalid Content-Length {announced}",
                status_code=resp.status_code, url=redact_url(resp.url),
            )
    # With a Content-Encoding the decoded size legitimately differs from the header.
    encoding = (resp.headers.get("Content-Encoding") or "").strip().lower()
    exact = announced if encoding in ("", "identity") else None
    chunks: list[bytes] = []
    total = 0
    try:
        for chunk in resp.iter_content(chunk_size=256 * 1024):
            total += len(chunk)
            if total > limit:
                raise RegistryResponseError(
                    f"response body exceeds the {limit}-byte limit",
                    status_code=resp.status_code, url=redact_url(resp.url),
                )
            if exact is not None and total > exact:
                raise RegistryResponseError(
                    f"response body is longer than its Content-Length of {exact} bytes",
                    status_code=resp.status_code, url=redact_url(resp.url),
                )
            chunks.append(chunk)
        if exact is not None and total < exact:
            raise RegistryResponseError(
                f"response body of {total} bytes is shorter than its Content-Length "
                f"of {exact} bytes",
                status_code=resp.status_code, url=redact_url(resp.url),
            )
    except requests.RequestException as exc:
        # requests reports a read timeout while streaming as a ConnectionError
        timed_out = any(isinstance(a, urllib3.exceptions.ReadTimeoutError) for a in exc.args)
        raise RegistryUnavailableError(
            f"reading the response from {redact_url(resp.url)} failed: "
            + ("read timed out" if timed_out else type(exc).__name__),
            url=redact_url(resp.url),
        ) from None
    finally:
        resp.close()
    return b"".join(chunks)


def _short_text(resp: requests.Response, body: bytes) -> str:
    """A plain-text error body worth showing (one short printable line), else ""."""
    ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype not in ("", "text/plain") or not body or len(body) > 300:
        return ""
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        return ""
    return text if text.isprintable() and "\n" not in text else ""


def discard(resp: requests.Response, limit: int = 64 * 1024) -> None:
    """Drain an unwanted small body, then close: the connection goes back to the pool.

    Closing a streamed response whose body was not read closes its socket, so every
    401 challenge, HEAD or retried 503 would cost a new TCP connection (keep-alive lost).
    """
    try:
        seen = 0
        for chunk in resp.iter_content(16 * 1024):
            seen += len(chunk)
            if seen > limit:
                break
    except Exception:
        pass
    resp.close()


def parse_json(data: bytes, *, what: str) -> Any:
    """Decode JSON, turning any failure into RegistryResponseError."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise RegistryResponseError(f"{what}: the registry sent malformed JSON") from None


def error_list(data: bytes) -> list[dict[str, Any]]:
    """The registry's ``errors`` list from an error body, or [] when there is none."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return []
    errs = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errs, list):
        return []
    return [
        {k: e.get(k) for k in ("code", "message", "detail") if k in e}
        for e in errs
        if isinstance(e, dict)
    ]


def retry_after(resp: requests.Response, cap: float) -> float | None:
    """Seconds asked for by ``Retry-After`` (seconds or an HTTP date), capped."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if is_digits(value):
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, min(when.timestamp() - time.time(), cap))


def _insufficient_scope(resp: requests.Response) -> bool:
    try:
        challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
    except ChallengeParseError:
        return False
    return any(c.params.get("error") == "insufficient_scope" for c in challenges)


def raise_for_status(
    resp: requests.Response,
    *,
    context: str,
    method: str,
    hint: str | None = None,
) -> None:
    """Turn an unexpected answer into the matching typed error (always raises).

    ``hint`` (from :func:`registry_client.auth.refusal_hint`) says what to change
    when a 401/403 is about the credentials that were, or were not, sent.

    Raises:
        AuthenticationError, AuthorizationError, NotFoundError,
        RegistryUnavailableError, RegistryResponseError.
    """
    status = resp.status_code
    url = redact_url(resp.url)
    try:
        if method == "HEAD":
            discard(resp)  # no body: keep the connection
            body = b""
        else:
            body = read_capped(resp, _ERROR_BODY_LIMIT)
    except RegistryError:
        body = b""
    errors = error_list(body)
    detail = "; ".join(
        f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors
    )
    if not detail:
        detail = _short_text(resp, body)
    message = f"{context}: {method} {url} -> {status}" + (f" ({detail})" if detail else "")
    if status == 400 and "HTTP request to an HTTPS server" in detail:
        message += " -- the registry speaks HTTPS: drop protocol='http' (--plain-http)"
    kw: dict[str, Any] = {"status_code": status, "errors": errors, "method": method, "url": url,
                          "retry_after": retry_after(resp, math.inf)}
    cls: type[RegistryError]
    scope_refused = status == 401 and _insufficient_scope(resp)
    if hint and status in (401, 403):
        message += f" -- {hint}" + (" (insufficient_scope)" if scope_refused else "")
    if scope_refused:
        # Distribution's text for this is "authentication required": say what it means
        cls = AuthorizationError
        if not hint:
            message += " -- these credentials may not do this (insufficient_scope)"
    elif status == 401:
        cls = AuthenticationError
    elif status == 403:
        cls = AuthorizationError
    elif status == 404:
        cls = NotFoundError
    elif status in (429, 500, 502, 503, 504):
        cls = RegistryUnavailableError
    else:
        cls = RegistryResponseError
    raise cls(message, **kw)
