"""The CLI against a real registry serving HTTPS with a self-signed certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from registry_client.testing import find_registry_binary

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]
pytestmark = pytest.mark.integration


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture()
def tls_registry(tmp_path: Path) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a registry serving HTTPS with an untrusted certificate."""
    cert, key = _self_signed(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {
        "version": 0.1, "log": {"level": "error"},
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "data")}},
        "http": {"addr": f"127.0.0.1:{port}", "tls": {"certificate": str(cert), "key": str(key)}},
    }
    (tmp_path / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    proc = subprocess.Popen([find_registry_binary(), "serve", str(tmp_path / "config.yml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            while True:
                try:
                    requests.get(f"https://127.0.0.1:{port}/v2/", verify=False, timeout=1)
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("the TLS registry did not start") from None
                    time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_skip_tls_verify_is_quiet_and_an_untrusted_certificate_names_the_flags(
    cli: CliRunner, tls_registry: str, tmp_path: Path,
) -> None:
    refused = cli("ls", f"{tls_registry}/lib/app")
    assert refused.returncode == 1
    err = refused.stderr.decode()
    assert err.count("\n") == 1 and "--skip-tls-verify" in err and "--plain-http" in err
    assert "protocol=" not in err
    catalog = cli("catalog", tls_registry, "--skip-tls-verify")
    assert (catalog.returncode, catalog.stdout, catalog.stderr) == (0, b"", b"")
    listed = cli("ls", f"{tls_registry}/lib/app", "--skip-tls-verify")
    assert listed.returncode == 1  # the repository does not exist...
    assert listed.stderr.decode().count("\n") == 1  # ...and that is the only line
    assert "InsecureRequestWarning" not in listed.stderr.decode()
    assert "NAME_UNKNOWN" in listed.stderr.decode() or "not found" in listed.stderr.decode()
