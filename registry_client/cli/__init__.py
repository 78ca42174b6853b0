"""The ``registry-client`` command line (also ``python -m registry_client``).

A thin layer over the public API with crane's verbs: ``ls`` (``tags``),
``catalog``, ``manifest``, ``digest``, ``config``, ``inspect``, ``blob``,
``pull``, ``push``, ``copy``, ``tag``, ``delete`` and ``parse``, plus ``referrers``,
``attach`` (OCI 1.1 artifacts), ``prune`` (retention) and ``auth`` (``login``,
``logout``, ``get``: docker's stored credentials). Run
``registry-client --help`` for the flags. Exit status: 0 success, 1 the
registry or the operation failed, 2 the command line is wrong, 141 standard
output was closed before everything was written (``| head``), 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM, ended as Ctrl-C ends it).
"""

from __future__ import annotations

import errno
import gc
import io
import signal
import sys
import threading
import traceback
import warnings
from typing import Any, NoReturn, TextIO, cast

import urllib3

from registry_client import InvalidReferenceError, RegistryError
from registry_client._text import printable, printable_lines

from ._context import Context, UsageError, in_cli_words
from ._log import Redactor, install_logging, remove_logging
from ._parser import EXIT_CLOSED_STDOUT, PROG, quiet_stdout
from ._stdout import STDOUT, whole_stdout
from ._verbs import build_parser

__all__ = ["main", "run"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a command it ended
# -o names for standard output itself: a broken pipe there is the quiet 141 too
_STDOUT_NAMES = frozenset({"-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"})
def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


def _report(redactor: Redactor, verbose: bool, message: str) -> None:
    if verbose:
        sys.stderr.write(printable_lines(redactor(traceback.format_exc())))
    sys.stderr.write(f"{PROG}: error: {printable(redactor(_one_line(message)))}\n")
    sys.stderr.flush()


class _ClosedBytes(io.RawIOBase):
    """The bytes side of :class:`_ClosedStdout`: writing is a closed pipe."""

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        raise BrokenPipeError(errno.EPIPE, "standard output is closed")


class _ClosedStdout(io.TextIOBase):
    """Stands in for a stdout whose descriptor was closed (``>&-``): Python sets
    ``sys.stdout`` to None then. Writing to it (text or bytes) is a closed pipe
    (exit 141)."""

    buffer = _ClosedBytes()

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "standard output is closed")


def run() -> NoReturn:
    """The ``registry-client`` command (and ``python -m registry_client``): :func:`main`
    with the process's arguments, then exit with its status.

    Once :func:`main` returned, no object of the process is used again, so they are
    all frozen out of the garbage collector's sight (``gc.freeze``): the interpreter's
    exit would otherwise walk every one of them in its last collections, 15-25 ms of
    each command (an ``ls`` takes ~120 ms). Files are closed, ``atexit`` functions and
    the flush of standard output and error still run. :func:`main`, for a caller that
    goes on, does none of this.
    """
    status = main()
    gc.freeze()
    sys.exit(status)


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Errors are reported as one line on stderr (with the traceback only under
    ``-v``); ``--help`` and ``--version`` return 0 instead of exiting.
    """
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(words)
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    redactor = Redactor()
    verbose = bool(args.verbose)
    handler, previous_level = install_logging(sys.stderr, verbose=verbose, redactor=redactor)
    ctx: Context | None = None
    stdout = whole_stdout(sys.stdout)
    terminated = _TermAsInterrupt()
    try:
        ctx = Context(args, stdin=sys.stdin, stdout=stdout or cast(TextIO, _ClosedStdout()),
                      stderr=sys.stderr, redactor=redactor)
        if ctx.platform is not None and not args.uses_platform:
            raise UsageError(f"--platform does not apply to {args.verb}")
        if ctx.json and not getattr(args, "json_output", True):
            raise UsageError(
                f"--json does not apply to {args.verb}: it has no result to print as JSON")
        with warnings.catch_warnings():
            # Certificates go unchecked only when a flag (--skip-tls-verify, --insecure,
            # --*-tls-verify=false) or a sync file asked for it: urllib3's
            # InsecureRequestWarning for each host would only repeat it on stderr.
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            status: int = args.handler(ctx)
        if not _flush_stdout(stdout):
            return status or EXIT_CLOSED_STDOUT
        return status
    except (UsageError, InvalidReferenceError) as exc:
        _report(redactor, verbose, f"{exc} (see '{PROG} {args.verb} --help')")
        return EXIT_USAGE
    except RegistryError as exc:
        message = (ctx.explain(str(exc)) if ctx is not None
                   else in_cli_words(str(exc), bool(getattr(args, "plain_http", False))))
        _report(redactor, verbose, message)
        return EXIT_FAILED
    except BrokenPipeError as exc:
        if exc.filename is not None and str(exc.filename) not in _STDOUT_NAMES:
            # a FIFO given to -o lost its reader: the file named could not be written
            _report(redactor, verbose, _describe(exc))
            return EXIT_FAILED
        # The reader went away (``registry-client blob ... | head``): stop quietly.
        quiet_stdout()
        return EXIT_CLOSED_STDOUT
    except KeyboardInterrupt:
        if terminated.happened:
            _report(redactor, verbose, "terminated")
            return EXIT_TERMINATED
        _report(redactor, verbose, "interrupted")
        return EXIT_INTERRUPTED
    except (OSError, LookupError, ValueError) as exc:
        # Local failures (files, layouts) and "no such platform in this image".
        _report(redactor, verbose, _describe(exc))
        return EXIT_FAILED
    except Exception as exc:  # a bug: still one line, the traceback with -v
        _report(redactor, verbose, f"unexpected {type(exc).__name__}: {exc}"
                + ("" if verbose else " (run with -v for the traceback)"))
        return EXIT_FAILED
    finally:
        if ctx is not None:
            ctx.close()
        terminated.restore()
        remove_logging(handler, previous_level)
        # lines printed before an error: no "Exception ignored" at exit
        _flush_stdout(stdout, reported=True)


class _TermAsInterrupt:
    """SIGTERM (``timeout``, ``docker stop``, systemd, a cancelled CI job) ends the command
    as Ctrl-C does -- what was downloaded is kept for the next run, temp files and the
    CA bundles of --cert-dir are removed -- instead of killing it where it stands; a
    second SIGTERM kills it. Only in the main thread (the only one signals reach), and
    :meth:`restore` puts the previous handler back (:func:`main` for a caller that goes
    on)."""

    def __init__(self) -> None:
        self.happened = False
        self._previous: Any = None
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
            return  # (started with it ignored, ``trap '' TERM``: it stays so)
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        except (ValueError, OSError):  # (no SIGTERM here, or not the main interpreter)
            self._previous = None

    def _handle(self, signum: int, frame: object) -> None:
        self.happened = True
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # (a second one: killed)
        raise KeyboardInterrupt

    def restore(self) -> None:
        """Give SIGTERM back its handler from before."""
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


def _flush_stdout(stdout: TextIO | None, *, reported: bool = False) -> bool:
    """Flush ``stdout`` (the command's) and ``sys.stdout``; False when its reader has
    gone (stdout then points at /dev/null).

    Raises:
        OSError: it could not be written (a full disk), named as :data:`STDOUT`, unless
            ``reported`` (an error was reported already: the exit status stands). What
            was not written is dropped either way: the interpreter's last flush at exit
            must not fail on it again (a traceback after the error line).
    """
    try:
        for stream in dict.fromkeys((stdout, sys.stdout)):
            if stream is not None:  # (None: its descriptor was closed: nothing buffered)
                stream.flush()
    except BrokenPipeError:
        quiet_stdout()
        return False
    except OSError as exc:
        quiet_stdout()
        if reported:
            return False
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, STDOUT) from None
        raise
    return True


