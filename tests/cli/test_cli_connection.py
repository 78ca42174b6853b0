"""The CLI when the connection fails: the cause in one line, the chain under ``-v``.

In-process ``main()`` against loopback ports that refuse, hang or hang up.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from registry_client.cli import main
from registry_client.cli._connection import certificates, choose, pem_texts
from registry_client.reference import parse_image_name
from registry_client.testing import tcp_server


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _silent(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.recv(65536)
        conn.recv(1)  # wait for the client to give up


def _hang_up(conn: socket.socket) -> None:
    conn.recv(65536)


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
def test_a_refused_connection_says_refused(
    verbose: bool, capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    port = _closed_port()
    args = ["--plain-http", "-u", "alice", "--password", "s3cret-PASSWORD",
            "digest", f"127.0.0.1:{port}/app:1.0"]
    assert main(["-v", *args] if verbose else args) == 1
    out, err = capsys.readouterr()
    assert out == ""
    last = err.splitlines()[-1]
    assert last.startswith("registry-client: error: ")
    assert "connection refused" in last and f"127.0.0.1:{port}" in last
    assert "s3cret-PASSWORD" not in err
    if verbose:  # the chain down to the OS error
        assert "ConnectionRefusedError" in err and "direct cause" in err
    else:
        assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_a_timeout_names_the_flag_to_raise_it(
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    with tcp_server(_silent) as port:
        assert main(["--plain-http", "--timeout", "0.3", "digest",
                     f"127.0.0.1:{port}/app:1.0"]) == 1
    err = capsys.readouterr().err
    assert "read timed out" in err and "0.3 s" in err
    assert "--timeout" in err and "timeout=" not in err


def test_plain_http_to_a_port_that_hangs_up_suggests_dropping_plain_http(
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    with tcp_server(_hang_up) as port:
        assert main(["--plain-http", "digest", f"127.0.0.1:{port}/app:1.0"]) == 1
    err = capsys.readouterr().err
    assert "closed the connection without answering" in err
    assert "drop --plain-http" in err and "protocol=" not in err


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "1e10"])
def test_a_timeout_that_is_not_seconds_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    assert main(["--timeout", value, "digest", "localhost:5000/app:1.0"]) == 2
    assert "--timeout" in capsys.readouterr().err


def _go_tls_answer(conn: socket.socket) -> None:
    # what Go's TLS server (the registry's) writes back to a plain-HTTP request
    conn.recv(65536)
    conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS "
                 b"server.\n")


def test_plain_http_to_a_registrys_tls_port_names_the_flag(
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    with tcp_server(_go_tls_answer) as port:
        assert main(["--plain-http", "digest", f"127.0.0.1:{port}/app:1.0"]) == 1
    err = capsys.readouterr().err
    assert "speaks HTTPS: drop --plain-http" in err and "protocol=" not in err


def _plain_http_answer(conn: socket.socket) -> None:
    # a plain-HTTP server's answer to the TLS hello it cannot read
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(("scheme", "server", "advice"), [
    ("https", _plain_http_answer,
     "plain-HTTP registry? write http:// before the host, not https://"),
    ("http", _go_tls_answer, "speaks HTTPS: write https:// before the host, not http://"),
    ("http", _hang_up, "is it an HTTPS port? write https:// before the host, not http://"),
], ids=["https-to-plain-http", "http-to-tls", "http-hung-up"])
def test_a_scheme_written_in_the_reference_is_the_advice_not_a_flag(
    scheme: str, server: Callable[[socket.socket], None], advice: str,
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    # the scheme in the reference wins over the flags: --plain-http or --insecure
    # would change nothing, so the advice names the scheme to write instead
    with tcp_server(server) as port:
        assert main(["digest", f"{scheme}://127.0.0.1:{port}/app:1.0"]) == 1
    err = capsys.readouterr().err
    assert advice in err
    assert "--plain-http" not in err and "--insecure" not in err and "protocol=" not in err


@pytest.mark.parametrize(("retries", "attempts"), [("0", 1), ("1", 2)])
def test_retry_times_sets_the_retries_as_skopeo_s_flag(
    retries: str, attempts: int, capsys: pytest.CaptureFixture[str],
    docker_config_dir: Path,
) -> None:
    # without the flag a refused connection is tried 4 times (the library's 3 retries)
    port = _closed_port()
    assert main(["--retry-times", retries, "digest", f"127.0.0.1:{port}/app:1.0"]) == 1
    err = capsys.readouterr().err
    assert f"failed after {attempts} attempt(s): connection refused" in err


@pytest.mark.parametrize("value", ["-1", "many"])
def test_retry_times_that_is_not_a_count_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    assert main(["--retry-times", value, "digest", "localhost:5000/app:1.0"]) == 2
    assert "--retry-times" in capsys.readouterr().err


def test_certificates_come_from_the_cert_dir_else_the_certs_d_folder_of_the_host(
    tmp_path: Path,
) -> None:
    """As docker and skopeo read them: HOST:PORT's folder, else HOST's, under
    /etc/containers/certs.d then /etc/docker/certs.d; *.crt are CAs, NAME.cert goes
    with NAME.key."""
    containers, docker = tmp_path / "containers", tmp_path / "docker"
    (docker / "reg.example:5000").mkdir(parents=True)
    for name in ("ca.crt", "client.cert", "client.key"):
        (docker / "reg.example:5000" / name).write_text(name)
    (containers / "reg.example").mkdir(parents=True)
    (containers / "reg.example" / "other.crt").write_text("x")
    roots = (str(containers), str(docker))
    cas, pair = certificates("reg.example:5000", None, roots)
    assert [p.name for p in cas] == ["other.crt"] and pair is None  # the first folder found
    cas, pair = certificates("reg.example:5000", str(docker / "reg.example:5000"), roots)
    assert [p.name for p in cas] == ["ca.crt"]
    assert pair == (str(docker / "reg.example:5000" / "client.cert"),
                    str(docker / "reg.example:5000" / "client.key"))
    assert certificates("elsewhere:1", None, roots) == ([], None)
    with pytest.raises(ValueError, match="no such folder"):
        certificates("reg.example", str(tmp_path / "missing"), roots)


def _pem(n: int) -> bytes:
    return (b"-----BEGIN CERTIFICATE-----\nQ0VSVC%d=\n-----END CERTIFICATE-----" % n)


def test_pem_texts_are_the_certificates_openssl_would_read_there(tmp_path: Path) -> None:
    """The certificates of a CA bundle file, or of a CA folder (SSL_CERT_DIR, OpenSSL's
    -CApath) as OpenSSL reads it: by its hashed names, each file once, its PEM blocks
    only. Every file of the folder went into one bundle whole: a DER file (a line
    starting with a NUL byte) ended OpenSSL's reading of it, so the --cert-dir CAs
    after it were dropped without a word."""
    (tmp_path / "bundle.pem").write_bytes(b"junk\n" + _pem(1) + b"\n\x00\x01\n" + _pem(2))
    assert pem_texts(str(tmp_path / "bundle.pem")) == [_pem(1), _pem(2)]
    folder = tmp_path / "certs"
    folder.mkdir()
    (folder / "b.pem").write_bytes(_pem(2))
    (folder / "a.pem").write_bytes(_pem(1))  # (no hashed name: OpenSSL never reads it)
    (folder / "1a2b3c4d.0").symlink_to(folder / "b.pem")
    (folder / "1a2b3c4d.1").symlink_to("b.pem")  # (the same file again)
    (folder / "ffffffff.0").write_bytes(b"\x30\x82\n\x00DER")
    (folder / "sub").mkdir()
    assert pem_texts(str(folder)) == [_pem(2)]


@pytest.mark.parametrize("flag", ["skip_tls_verify", "insecure"])
def test_plain_http_with_a_skip_flag_checks_no_certificate(flag: str) -> None:
    """--plain-http with --skip-tls-verify (or --insecure): the flags were dropped, so an
    https:// proxy's certificate was still checked -- and its refusal advised the very
    flags given."""
    args = argparse.Namespace(plain_http=True, skip_tls_verify=False, insecure=False)
    setattr(args, flag, True)
    assert choose(parse_image_name("registry.example:5000/app:1"), args, None) == (
        "http", False)
    args = argparse.Namespace(plain_http=True, skip_tls_verify=False, insecure=False)
    assert choose(parse_image_name("registry.example:5000/app:1"), args, None) == (
        "http", True)
