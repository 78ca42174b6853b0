"""The CLI against a real registry serving HTTPS with a self-signed certificate."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3

from registry_client.testing import find_registry_binary, self_signed_certificate

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]
pytestmark = pytest.mark.integration


@contextlib.contextmanager
def _tls_registry(tmp_path: Path, tls: dict[str, Any], **probe: Any) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a registry serving HTTPS as ``tls`` (its config's
    ``http.tls``) says, once ``GET /v2/`` (with ``probe``'s requests options) answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {
        "version": 0.1, "log": {"level": "error"},
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "data")}},
        "http": {"addr": f"127.0.0.1:{port}", "tls": tls},
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
                    requests.get(f"https://127.0.0.1:{port}/v2/", timeout=1, **probe)
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("the TLS registry did not start") from None
                    time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture()
def tls_registry(tmp_path: Path) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a registry serving HTTPS with an untrusted certificate."""
    cert, key = self_signed_certificate(tmp_path)
    with _tls_registry(tmp_path, {"certificate": str(cert), "key": str(key)},
                       verify=False) as host:
        yield host


def test_skip_tls_verify_is_quiet_and_an_untrusted_certificate_names_the_flags(
    cli: CliRunner, tls_registry: str, tmp_path: Path,
) -> None:
    # a loopback host speaks plain HTTP by default: https:// asks for TLS
    refused = cli("ls", f"https://{tls_registry}/lib/app")
    assert refused.returncode == 1
    err = refused.stderr.decode()
    assert err.count("\n") == 1 and "--skip-tls-verify" in err
    assert "--insecure" in err and "protocol=" not in err
    # the https:// written wins over --plain-http: the scheme to write is the advice
    assert "http:// before the host is for a plain-HTTP registry" in err
    assert "--plain-http" not in err
    plain = cli("ls", f"{tls_registry}/lib/app")  # plain HTTP to a TLS port: says what to do
    assert plain.returncode == 1
    err = plain.stderr.decode()
    assert err.count("\n") == 1 and "https://" in err and "--insecure" in err
    assert "protocol=" not in err
    catalog = cli("catalog", tls_registry, "--skip-tls-verify")
    assert (catalog.returncode, catalog.stdout, catalog.stderr) == (0, b"", b"")
    listed = cli("ls", f"{tls_registry}/lib/app", "--skip-tls-verify")
    assert listed.returncode == 1  # the repository does not exist...
    assert listed.stderr.decode().count("\n") == 1  # ...and that is the only line
    assert "InsecureRequestWarning" not in listed.stderr.decode()
    assert "NAME_UNKNOWN" in listed.stderr.decode() or "not found" in listed.stderr.decode()


# -- the library against the same registry: the reason of a TLS failure is told -------------
def test_tls_failures_say_why(tls_registry: str, tmp_path: Path) -> None:
    from registry_client import Registry, RegistryResponseError, RegistrySSLError

    cert = tmp_path / "cert.pem"
    port = tls_registry.rsplit(":", 1)[1]
    with pytest.raises(RegistrySSLError, match=r"self.signed") as untrusted:
        Registry(tls_registry, retries=0).ping()
    assert "verify=" in str(untrusted.value)
    with pytest.raises(RegistrySSLError, match=r"(?i)hostname mismatch"):
        Registry(f"localhost:{port}", verify=str(cert), retries=0).ping()
    with pytest.raises(RegistryResponseError, match="speaks HTTPS"):
        Registry(tls_registry, protocol="http", retries=0).ping()
    with pytest.raises(RegistrySSLError, match="does not exist"):
        Registry(tls_registry, verify=tmp_path / "missing.pem", retries=0).ping()
    Registry(tls_registry, verify=cert, retries=0).ping()  # a Path works too


def test_the_https_port_hint_stays_after_the_tls_ports_400(tls_registry: str) -> None:
    # Go's TLS server answers a plain-HTTP GET with a bare 400 and hangs up on a DELETE
    # without a word: that 400 is no answer from a registry, so the hint must stay.
    from registry_client import Registry, RegistryResponseError, RegistryUnavailableError
    from registry_client.requester import HTTPS_PORT_HINT

    repo = Registry(tls_registry, protocol="http", retries=0).repository("app")
    with pytest.raises(RegistryResponseError, match="speaks HTTPS"):
        repo.tags.get_all()
    with pytest.raises(RegistryUnavailableError) as caught:
        repo.manifests.delete("sha256:" + "a" * 64)
    assert HTTPS_PORT_HINT in str(caught.value)


def test_a_callers_session_keeps_its_tls_setting(tls_registry: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from registry_client import Registry

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    session = requests.Session()
    session.verify = str(tmp_path / "cert.pem")
    Registry(tls_registry, session=session, retries=0).ping()


def test_ssl_cert_file_is_trusted_by_the_cli_and_both_library_flavours(
    cli: CliRunner, tls_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SSL_CERT_FILE names the CA for crane and skopeo (Go) and for httpx; the blocking
    flavour trusted it only through REQUESTS_CA_BUNDLE, the asyncio one did."""
    cert = str(tmp_path / "cert.pem")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    listed = cli("catalog", f"https://{tls_registry}")
    assert (listed.returncode, listed.stderr) == (0, b"")
    from registry_client import Registry

    Registry(tls_registry, retries=0).ping()
    pytest.importorskip("httpx")
    import asyncio

    from registry_client.aio import AsyncRegistry

    async def ping() -> None:
        async with AsyncRegistry(tls_registry, retries=0) as reg:
            await reg.ping()

    asyncio.run(ping())


def test_https_to_a_plain_http_registry_says_so(anon_registry: object) -> None:
    from registry_client import Registry, RegistrySSLError
    from registry_client.testing import LocalRegistry

    assert isinstance(anon_registry, LocalRegistry)
    with pytest.raises(RegistrySSLError, match="plain-HTTP registry\\? use protocol='http'"):
        Registry(anon_registry.host, verify=False, retries=0).ping()


# -- issue 17: loopback speaks HTTP by default; --insecure and --*-tls-verify as crane/skopeo ----
def test_a_loopback_plain_http_registry_needs_no_flag(
    cli: CliRunner, anon_registry: object, unique_repository: str,
) -> None:
    from registry_client.testing import LocalRegistry, seed_image

    assert isinstance(anon_registry, LocalRegistry)
    seed_image(anon_registry, unique_repository, "1.0")
    for host in (anon_registry.host, anon_registry.host.replace("127.0.0.1", "localhost")):
        listed = cli("ls", f"{host}/{unique_repository}")
        assert (listed.returncode, listed.stdout, listed.stderr) == (0, b"1.0\n", b"")
    # --insecure reaches it too: TLS is tried first, then plain HTTP
    insecure = cli("ls", f"{anon_registry.host}/{unique_repository}", "--insecure")
    assert (insecure.returncode, insecure.stdout, insecure.stderr) == (0, b"1.0\n", b"")


def test_insecure_and_tls_verify_false_reach_a_self_signed_https_registry(
    cli: CliRunner, tls_registry: str, anon_registry: object, unique_repository: str,
) -> None:
    from registry_client.testing import LocalRegistry, seed_image

    assert isinstance(anon_registry, LocalRegistry)
    image = seed_image(anon_registry, unique_repository, "1.0")
    source = f"{anon_registry.host}/{unique_repository}:1.0"
    target = f"{tls_registry}/{unique_repository}:1.0"
    checked = cli("copy", source, target, "--dest-tls-verify=true")
    assert checked.returncode == 1 and b"certificate" in checked.stderr
    copied = cli("copy", source, target, "--dest-tls-verify=false", "--json")
    assert copied.returncode == 0, copied.stderr
    assert json.loads(copied.stdout)["digest"] == image.digest
    listed = cli("ls", f"{tls_registry}/{unique_repository}", "--insecure")
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, b"1.0\n", b"")
    digest = cli("digest", target, "--insecure")
    assert digest.stdout.decode().strip() == image.digest
    # and back, the TLS registry as the source
    back = cli("copy", target, f"{anon_registry.host}/{unique_repository}-back:1.0",
               "--src-tls-verify=false")
    assert back.returncode == 0, back.stderr
    assert back.stdout.decode().strip().endswith(image.digest)


def test_sync_takes_the_tls_verify_flag_of_each_side(
    cli: CliRunner, tls_registry: str, anon_registry: object, unique_repository: str,
    tmp_path: Path,
) -> None:
    from registry_client.testing import LocalRegistry, seed_image

    assert isinstance(anon_registry, LocalRegistry)
    image = seed_image(anon_registry, unique_repository, "1.0")
    mapping = tmp_path / "sync.yaml"
    mapping.write_text(f"{anon_registry.host}/{unique_repository}:1.0: "
                       f"{tls_registry}/{unique_repository}\n")
    assert cli("sync", str(mapping)).returncode == 1  # loopback: plain HTTP to a TLS port
    synced = cli("sync", str(mapping), "--dest-tls-verify=false", "--json")
    assert synced.returncode == 0, synced.stderr
    assert [i["digest"] for i in json.loads(synced.stdout)["copied"]] == [image.digest]


# -- mutual TLS: a registry that asks for a client certificate -----------------------------
@pytest.fixture()
def mtls_registry(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``(127.0.0.1:PORT, cert dir)`` of a registry that wants a client certificate; the
    folder holds it (client.cert, client.key) and the registry's CA (ca.crt), laid out
    as docker's /etc/docker/certs.d/HOST:PORT and skopeo's --cert-dir are."""
    (tmp_path / "server").mkdir()
    (tmp_path / "client").mkdir()
    server_cert, server_key = self_signed_certificate(tmp_path / "server")
    client_cert, client_key = self_signed_certificate(tmp_path / "client", host="client")
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(server_cert.read_bytes())
    (certs / "client.cert").write_bytes(client_cert.read_bytes())
    (certs / "client.key").write_bytes(client_key.read_bytes())
    tls = {"certificate": str(server_cert), "key": str(server_key),
           "clientcas": [str(client_cert)]}
    with _tls_registry(tmp_path, tls, verify=str(server_cert),
                       cert=(str(client_cert), str(client_key))) as host:
        yield host, certs


def test_cert_dir_cas_are_trusted_besides_the_usual_ones(
    cli: CliRunner, tls_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As docker and skopeo read certs.d, its CAs are trusted besides the usual ones
    (requests': here REQUESTS_CA_BUNDLE's), not instead of them: a registry, a token
    realm or a storage redirect whose certificate the usual CAs vouch for stays trusted
    when the folder holds a CA for something else."""
    (tmp_path / "other").mkdir()
    other, _ = self_signed_certificate(tmp_path / "other", host="other.example")
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "other.crt").write_bytes(other.read_bytes())
    for name in ("CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    usual = {"REQUESTS_CA_BUNDLE": str(tmp_path / "cert.pem")}
    listed = cli("catalog", f"https://{tls_registry}", "--cert-dir", str(certs), env=usual)
    assert (listed.returncode, listed.stderr) == (0, b"")
    # the folder's CA is trusted too: the registry's own, with no usual CA for it --
    # also when the usual ones are a folder holding a DER file (a NUL-led line ended
    # OpenSSL's reading of the bundle made of them, the folder's CAs after it)
    (certs / "registry.crt").write_bytes((tmp_path / "cert.pem").read_bytes())
    listed = cli("catalog", f"https://{tls_registry}", "--cert-dir", str(certs))
    assert (listed.returncode, listed.stderr) == (0, b"")
    usual_dir = tmp_path / "usual"
    usual_dir.mkdir()
    (usual_dir / "other.pem").write_bytes(other.read_bytes())
    (usual_dir / "00000000.0").symlink_to("other.pem")
    (usual_dir / "00000001.0").write_bytes(b"\x30\x82\x01\n\x00\x00der")
    listed = cli("catalog", f"https://{tls_registry}", "--cert-dir", str(certs),
                 env={"REQUESTS_CA_BUNDLE": str(usual_dir)})
    assert (listed.returncode, listed.stderr) == (0, b"")


def test_a_registry_asking_for_a_client_certificate_gets_the_cert_dir_s(
    cli: CliRunner, mtls_registry: tuple[str, Path],
) -> None:
    """skopeo's --cert-dir (docker's certs.d layout): the client certificate goes with
    the requests and the folder's CA is trusted. Without it the registry refuses the
    handshake, and the error says it wants a client certificate -- it advised
    --skip-tls-verify, then --insecure, neither of which helps."""
    host, certs = mtls_registry
    # (the registry's CA trusted by the environment: only the client certificate lacks)
    refused = cli("catalog", f"https://{host}",
                  env={"REQUESTS_CA_BUNDLE": str(certs / "ca.crt")})
    assert refused.returncode == 1
    assert b"client certificate" in refused.stderr, refused.stderr
    listed = cli("catalog", f"https://{host}", "--cert-dir", str(certs))
    assert (listed.returncode, listed.stderr) == (0, b"")
    keyless = certs.parent / "keyless"
    keyless.mkdir()
    (keyless / "client.cert").write_bytes((certs / "client.cert").read_bytes())
    usage = cli("catalog", f"https://{host}", "--cert-dir", str(keyless))
    assert usage.returncode == 2 and b"without its key" in usage.stderr
    assert cli("catalog", f"https://{host}", "--cert-dir", str(certs / "none")).returncode == 2


@pytest.mark.parametrize("flag", ["--insecure", "--tls-verify=false"])
def test_insecure_with_a_client_certificate_reaches_a_mutual_tls_registry(
    cli: CliRunner, mtls_registry: tuple[str, Path], flag: str,
) -> None:
    """crane's --insecure (skopeo's --tls-verify=false) first asks whether the registry
    speaks TLS. That probe went without the --cert-dir certificate: the registry refused
    its handshake, read as "no TLS", and the command went plain HTTP (400 "Client sent
    an HTTP request to an HTTPS server", advising --insecure). skopeo reaches it."""
    host, certs = mtls_registry
    listed = cli("catalog", host, flag, "--cert-dir", str(certs))
    assert (listed.returncode, listed.stderr) == (0, b""), listed.stderr


def test_sigterm_ends_the_cli_as_ctrl_c_does_and_leaves_no_ca_bundle(
    tmp_path: Path, docker_config_dir: Path,
) -> None:
    """SIGTERM (timeout, docker stop, systemd, a cancelled CI job) killed the CLI where it
    stood: the CA bundle it wrote for --cert-dir stayed in $TMPDIR (224 KiB a run), and
    an archive's temp file beside the archive. It ends the command as Ctrl-C does now
    (what is downloaded kept for the next run, temp files removed), exit status 143."""
    certs = tmp_path / "certs"
    certs.mkdir()
    cert, _ = self_signed_certificate(tmp_path)
    (certs / "ca.crt").write_bytes(cert.read_bytes())
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(DOCKER_CONFIG=str(docker_config_dir), TMPDIR=str(scratch))
    with socket.socket() as silent:  # accepts, never answers: the command waits
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "registry_client", "catalog", f"https://127.0.0.1:{port}",
             "--cert-dir", str(certs), "--timeout", "30"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 20
        while not list(scratch.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)  # (the bundle is written before the connection is made)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    assert err.decode().splitlines() == ["registry-client: error: terminated"]
    assert list(scratch.iterdir()) == []


def test_a_cli_started_with_sigterm_ignored_keeps_ignoring_it(
    tmp_path: Path, docker_config_dir: Path,
) -> None:
    """``trap '' TERM`` (nohup-like launchers) hands a command SIGTERM ignored, and it
    keeps ignoring it, as Python keeps an ignored SIGINT: the CLI's own handler took it
    over and ended with 143."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(DOCKER_CONFIG=str(docker_config_dir))
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "registry_client", "catalog", f"https://127.0.0.1:{port}",
             "--timeout", "2", "--skip-tls-verify"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err  # (its own end: the timeout)
    assert b"terminated" not in err
