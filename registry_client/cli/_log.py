"""Logging for the command line: ``-v`` request trace on stderr, with every secret redacted.

The library already logs requests with redacted URLs; this module adds a
header-level trace (``>`` request, ``<`` response) and a :class:`RedactingFilter`
that scrubs every record once more before it is written, as a second line of
defence. What counts as a secret is decided by :mod:`registry_client._redact`
(:class:`Redactor`, re-exported here), which the library uses too.
"""

from __future__ import annotations

import logging
from typing import Any, TextIO

import requests

from registry_client._redact import Redactor
from registry_client._text import printable, printable_lines

__all__ = ["RedactingFilter", "Redactor", "install_logging", "trace_hook"]

LOGGER_NAME = "registry_client"
TRACE_LOGGER_NAME = "registry_client.cli"

class RedactingFilter(logging.Filter):
    """A logging filter that renders each record and masks every credential in it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its redacted rendering; always keep the record."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: show its template only
            message = str(record.msg)
        record.msg = self.redactor(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        return True


class _QuietSetupWarnings(logging.Filter):
    """Without ``-v``, drop the library's "plain HTTP" / "TLS verification disabled" notices.

    They only restate what the user asked for with ``--plain-http`` or
    ``--skip-tls-verify``, and would break the one-line-on-stderr promise.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "setup_notice", False)


class _QuietSummarized(logging.Filter):
    """Without ``-v``, drop notices the verb prints itself (``summarized``).

    A tag deleted while ``ls --digests``, ``prune``, ``copy --all-tags`` or ``sync``
    read it is logged by the library and named again in the verb's own summary
    line: once on stderr is enough.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "summarized", False)


class _Formatter(logging.Formatter):
    """``registry-client: LEVEL: message``, with the registry's control characters escaped.

    A message is one line: a line feed in it (from an error body, a tag) is
    escaped too. Only the request trace and tracebacks keep their line feeds,
    which the CLI and Python put there.
    """

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        message = (printable_lines(message) if record.name == TRACE_LOGGER_NAME
                   else printable(message))
        text = f"registry-client: {record.levelname.lower()}: {message}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + printable_lines(record.exc_text)
        if record.stack_info:
            text += "\n" + printable_lines(self.formatStack(record.stack_info))
        return text


def install_logging(
    stream: TextIO, *, verbose: bool, redactor: Redactor
) -> tuple[logging.Handler, int]:
    """Attach a redacting stderr handler to the ``registry_client`` logger.

    With ``verbose`` the logger goes to DEBUG (request trace); otherwise only
    warnings and errors are shown. Returns the handler and the previous level,
    for :func:`remove_logging`.
    """
    logger = logging.getLogger(LOGGER_NAME)
    previous = logger.level
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_Formatter("%(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    if verbose:
        handler.setLevel(logging.DEBUG)
        logger.setLevel(logging.DEBUG)
    else:
        handler.setLevel(logging.WARNING)
        handler.addFilter(_QuietSetupWarnings())
        handler.addFilter(_QuietSummarized())
        logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    return handler, previous


def remove_logging(handler: logging.Handler, previous_level: int) -> None:
    """Undo :func:`install_logging`."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.removeHandler(handler)
    logger.setLevel(previous_level)
    handler.flush()


def trace_hook(redactor: Redactor) -> Any:
    """A requests ``response`` hook logging each exchange's headers (never bodies) at DEBUG."""
    log = logging.getLogger(TRACE_LOGGER_NAME)

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        lines = [f"> {request.method} {redactor.url(request.url)}"]
        lines += ["> " + h for h in redactor.headers(request.headers)]
        lines.append(f"< {response.status_code} {response.reason or ''}".rstrip())
        lines += ["< " + h for h in redactor.headers(response.headers)]
        log.debug("HTTP exchange\n  %s", "\n  ".join(lines))

    return hook
