"""The argparse command line: global flags (accepted before or after the verb) and verbs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from registry_client import __version__

from ._stdout import STDOUT

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

    from ._context import Context

__all__ = ["DESCRIPTION", "EPILOG", "PROG", "Parser", "add_verb", "at_least", "global_flags",
           "positive_int"]

PROG = "registry-client"

DESCRIPTION = """\
A command-line client for Docker Registry v2 / OCI registries, with crane's verbs.
References are written as for `docker pull`: localhost:5000/app:1.0,
ghcr.io/org/app@sha256:..., alpine (= docker.io/library/alpine). A reference
without tag or digest means the tag `latest`, except for `delete`, which wants one
(or --all)."""

EPILOG = """\
connection:
  Loopback registries (localhost, 127.0.0.0/8, ::1, any port) speak plain HTTP
  by default, as docker and crane treat them; every other host HTTPS with its
  certificate checked. --plain-http talks plain HTTP to any host.
  --skip-tls-verify keeps HTTPS but accepts any certificate (self-signed
  registries): the traffic is encrypted, but nobody checks who answers.
  --insecure means what it means in crane: HTTPS without checking the
  certificate, or plain HTTP when the registry does not speak TLS (one GET /v2/
  finds out). copy and sync take skopeo's --src-tls-verify=false and
  --dest-tls-verify=false (the same as --insecure, for one side) and =true
  (HTTPS with the certificate checked, loopback hosts too). A reference may
  also start with http:// or https://, which wins over these flags.

credentials (first found wins):
  1. --username with --password-stdin (or --password, which other users can
     see in `ps` and which lands in your shell history: avoid it);
  2. $REGISTRY_USERNAME and $REGISTRY_PASSWORD;
  3. stored credentials, per registry: $REGISTRY_AUTH_FILE when set; docker's
     config, $DOCKER_CONFIG/config.json or ~/.docker/config.json (`auths`,
     `credHelpers`, `credsStore`, identity tokens); podman's and skopeo's
     $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json;
  4. anonymous (anonymous tokens where the registry hands them out).
  1 and 2 are for a command that talks to one registry: `copy` and `sync`
  between two registries refuse them (exit 2) rather than send one
  registry's password to the other. Give each side its own with
  --src-creds USER[:PASSWORD] and --dest-creds USER[:PASSWORD] (as skopeo;
  without :PASSWORD, one line of standard input); a side without them uses
  the stored credentials of its host, which are always looked up per registry.

exit status:
  0 success, 1 the registry or the operation failed, 2 the command line is
  wrong (unknown flag, invalid reference, platform or tag), 141 standard
  output was closed early (`| head`), as crane and coreutils report it.

examples:
  registry-client ls localhost:5000/app
  echo "$TOKEN" | registry-client auth login ghcr.io -u me --password-stdin
  echo "$TOKEN" | registry-client --username me --password-stdin inspect ghcr.io/me/app:1.0
  registry-client pull alpine:3.19 ./alpine --platform linux/arm64
  registry-client copy localhost:5000/app:1.0 registry.example.com/app:1.0
  registry-client blob localhost:5000/app@sha256:... > layer.tar.gz"""


# 128 + SIGPIPE: a shell's status for crane or coreutils cut short by `| head`
EXIT_CLOSED_STDOUT = 141


def quiet_stdout() -> None:
    """Point stdout at /dev/null once its reader has gone, so the interpreter's last
    flush at exit finds no broken pipe to complain of."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


GO_BOOL_FLAG = "--tls-verify"


def go_bool(flag: str) -> Callable[[str], bool]:
    """An argparse type: the value of the boolean flag ``flag``, as Go reads it (skopeo's
    ``--tls-verify=false``)."""

    def value(text: str) -> bool:
        word = text.strip().lower()
        if word in ("1", "t", "true", "yes"):
            return True
        if word in ("0", "f", "false", "no"):
            return False
        raise argparse.ArgumentTypeError(f"want true or false, not {text!r} (write {flag}=false)")

    return value


def _go_bool_words(words: list[str], flags: set[str]) -> list[str]:
    """``words`` with each bare Go-style boolean flag (before any ``--``) written
    ``--flag=true``, so the word after it stays an argument, as skopeo reads it."""
    out: list[str] = []
    for i, word in enumerate(words):
        if word == "--":
            return out + words[i:]
        out.append(f"{word}=true" if word in flags else word)
    return out


class _Deferred(Exception):
    """A usage error met inside the intermixed parse, reported once it is over."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (exit status 2).

    Flags must be spelled out: argparse's prefix matching (``--dig`` for
    ``--digests``) is off, so a flag added later never changes what an old
    script's abbreviation meant.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._intermixing = False
        self.go_bools: set[str] = {GO_BOOL_FLAG}
        """Flags read as Go reads a boolean flag (skopeo's ``--tls-verify``): given bare
        they are true, and they take a value only as ``--flag=value``."""

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None,
    ) -> argparse.Namespace:
        """argparse's, but an argument no verb takes is a usage error of that verb (its
        name and its ``--help`` in the message), not of the whole command."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self._chosen(parsed).error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed

    def _chosen(self, parsed: argparse.Namespace) -> Parser:
        """The parser of the (sub-)verb ``parsed`` names: this one when it has none."""
        for action in self._actions:
            if isinstance(action.choices, dict):  # the verbs: name -> its parser
                chosen = action.choices.get(getattr(parsed, action.dest, None) or "")
                if isinstance(chosen, Parser):
                    return chosen._chosen(parsed)
        return self

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        """Flags anywhere among the arguments, as crane and skopeo take them: a verb's
        optional last argument after a flag (``export REF --plain-http FILE``) is that
        argument. argparse alone gives it its default at the first flag, then calls it
        unrecognized. A parser with verbs of its own parses as argparse does (its verb
        parsers then intermix); so does one whose words the intermixed parse cannot
        read and that hold a ``--`` (after which every word is an argument: Python's
        intermixed parsing drops a ``--`` before the first positional)."""
        words = list(sys.argv[1:] if args is None else args)
        if not self._intermixing:
            words = _go_bool_words(words, self.go_bools)
        intermix = not self._intermixing and not any(
            action.nargs in (argparse.PARSER, argparse.REMAINDER)
            for action in self._get_positional_actions())
        if not intermix:
            return super().parse_known_args(words, namespace)
        self._intermixing = True  # (argparse's intermixed parse calls this again)
        try:
            parsed, extras = self.parse_known_intermixed_args(words, namespace)
            if not (extras and "--" in words):
                return parsed, extras
            failure = "--"  # (a word after it taken for a flag: argparse's parse, below)
        except _Deferred as failed:
            failure = failed.message
        finally:
            self._intermixing = False
        if "--" in words or failure.startswith("the following arguments are required"):
            # The intermixed parse looks at the flags first and names the missing flags
            # only; argparse's own parse names every missing argument. And it drops a --
            # before the first positional (a word after it read as a flag): argparse's own
            # parse reads every word after -- as an argument.
            return super().parse_known_args(words, namespace)
        self.error(failure)

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` and a hint to ``--help``, then exit 2."""
        if getattr(self, "_intermixing", False):  # (reported once that parse is over)
            raise _Deferred(message)
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        """argparse's writer (help, usage, version, errors): help and version go to
        stdout, and a stdout that is closed (``>&-``: argparse would fall back to stderr)
        or whose reader has gone (``| head -0``: argparse would ignore it) is the quiet
        exit 141, as for every other output."""
        if not message:
            return
        if file is None:  # help, usage, version: sys.stdout, which is None when closed
            raise SystemExit(EXIT_CLOSED_STDOUT)
        try:
            file.write(message)
            flush = getattr(file, "flush", None)
            if flush is not None:
                flush()
        except BrokenPipeError:
            quiet_stdout()
            raise SystemExit(EXIT_CLOSED_STDOUT) from None
        except OSError as exc:  # a full disk (>/dev/full): one line, as every verb says it
            quiet_stdout()
            sys.stderr.write(f"{self.prog}: error: {STDOUT}: {exc.strerror or exc}\n")
            raise SystemExit(1) from None


def global_flags(suppress: bool) -> Parser:
    """The global flags, as a parent parser.

    The copy given to each verb has SUPPRESS defaults, so a flag set before the
    verb is not reset by the verb's parser (crane-style ``ls REPO --plain-http``).
    """
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parent = Parser(add_help=False)
    group = parent.add_argument_group("global options (before or after the verb)")
    group.add_argument(
        "--plain-http", action="store_true", default=default(False),
        help="use plain HTTP, no TLS (loopback hosts use it without this flag)",
    )
    group.add_argument(
        "--insecure", action="store_true", default=default(False),
        help="as in crane: HTTPS without checking the certificate, else plain HTTP",
    )
    group.add_argument(
        GO_BOOL_FLAG, metavar="BOOL", type=go_bool(GO_BOOL_FLAG), nargs="?", const=True,
        default=default(None),
        help="skopeo's flag: =false is --insecure (HTTPS without checking the "
        "certificate, else plain HTTP); =true checks it, loopback hosts too",
    )
    group.add_argument(
        "--skip-tls-verify", action="store_true", default=default(False),
        help="use HTTPS without checking the certificate (self-signed registries)",
    )
    group.add_argument(
        "--cert-dir", metavar="DIR", default=default(None), type=nonempty_path,
        help="skopeo's flag: a client certificate (NAME.cert with NAME.key) for a registry "
        "that asks for one (mutual TLS), and CA certificates (*.crt) to trust; without "
        "it, /etc/containers/certs.d/HOST:PORT and /etc/docker/certs.d/HOST:PORT are "
        "read when they exist, as docker and skopeo do",
    )
    group.add_argument(
        "--timeout", metavar="SECONDS", type=_seconds, default=default(None),
        help="seconds to wait for a connection and for each answer (default: 2 to "
        "connect, 5 for an answer)",
    )
    group.add_argument(
        "--retry-times", metavar="N", type=at_least(0), default=default(None),
        help="retry a failed request that may be repeated N times (skopeo's flag; "
        "default 3, 0: never)",
    )
    group.add_argument(
        "-u", "--username", metavar="USER", default=default(None),
        help="user name for the registry (with --password-stdin)",
    )
    group.add_argument(
        "--password-stdin", action="store_true", default=default(False),
        help="read the password or token from standard input (all of it, a final "
        "newline dropped)",
    )
    group.add_argument(
        "--password", metavar="PASSWORD", default=default(None),
        help="password on the command line: visible in `ps` and shell history, "
        "prefer --password-stdin",
    )
    group.add_argument(
        "--platform", metavar="OS/ARCH[/VARIANT][:OSVERSION]", default=default(None),
        help="pick this platform of a multi-platform image (linux/amd64, linux/arm64/v8, "
        "windows/amd64:10.0.17763 as crane; all: every platform, the default)",
    )
    group.add_argument(
        "--json", action="store_true", default=default(False),
        help="print machine-readable JSON: every verb that prints a result (ls, inspect, copy, "
        "sync, auth, ...; manifest, config and parse print JSON anyway); blob, which writes "
        "raw bytes, and delete of one reference, which prints nothing, refuse it",
    )
    group.add_argument(
        "-v", "--verbose", action="store_true", default=default(False),
        help="trace requests and responses on stderr (credentials and tokens redacted); "
        "show tracebacks",
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", default=default(False),
        help="no progress bars on a terminal (skopeo's --quiet); results and errors are "
        "printed as ever. TERM=dumb also turns the bars off",
    )
    group.add_argument(
        "--version", action="version", version=f"{PROG} {__version__}",
        help="print the version and exit",
    )
    return parent


_MAX_SECONDS = 1_000_000.0  # 11.5 days: beyond, the clock's arithmetic overflows time_t


def _seconds(text: str) -> float:
    """``--timeout``'s value: seconds, a number above zero (and at most ~11 days)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= _MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"want seconds above zero and at most {_MAX_SECONDS:.0f}, not {text!r}")
    return value


def add_verb(
    verbs: argparse._SubParsersAction[Parser], name: str, common: list[Parser],
    *, summary: str, description: str, handler: Callable[[Context], int], platform: bool = False,
    aliases: tuple[str, ...] = (), json_output: bool = True,
) -> Parser:
    """Add one verb; ``handler(ctx) -> int`` runs it, ``platform`` says if --platform applies,
    ``json_output`` False refuses --json (a verb that prints no result to put in JSON)."""
    sub = verbs.add_parser(
        name, aliases=list(aliases), parents=common, help=summary,
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.set_defaults(handler=handler, uses_platform=platform, json_output=json_output)
    return sub


def nonempty_path(text: str) -> str:
    """An argparse type: a path, which may not be empty. An empty one is an unset
    variable ("$OUT"), which ``Path("")`` would read as the current directory."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path (is a variable unset?)")
    return text


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of ``minimum`` or more."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    return whole_number


positive_int = at_least(1)
"""A whole number of 1 or more (a page size, a number of jobs)."""
