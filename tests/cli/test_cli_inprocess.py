"""The CLI in-process: usage errors, redaction, logging and progress bars (fast, no subprocess)."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import subprocess
import sys
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
import requests_mock

import registry_client.cli._context as cli_context
import registry_client.cli._transfer as transfer
import registry_client.sync as sync_module
from registry_client import Registry
from registry_client.cli import main
from registry_client.cli._log import Redactor, install_logging, remove_logging
from registry_client.cli._progress import ProgressBars
from registry_client.progress import BlobAdvanced, BlobFinished, BlobMounted, BlobStarted
from registry_client.testing import LocalRegistry, seed_image

DIGEST = "sha256:" + "ab" * 32


class FakeTerminal(io.StringIO):
    """A text stream that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


# -- usage errors -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ls", "localhost:5000/app", "--username", "alice"], "--password"),
        (["ls", "localhost:5000/app", "--password", "x", "--password-stdin"], "not both"),
        (["manifest", "localhost:5000/app", "--platform", "linux"], "--platform"),
        (["ls", "localhost:5000/app", "--platform", "linux/amd64"], "does not apply"),
        (["ls", "localhost:5000/app:1.0"], "without a tag"),
        (["ls", "localhost:5000/app", "--page-size", "0"], "page-size"),
        (["tag", "localhost:5000/app:1.0", "other/app:2"], "bare tag"),
        (["blob", "localhost:5000/app:1.0"], "REPOSITORY@DIGEST"),
        (["delete", "localhost:5000/app"], "REPOSITORY:TAG"),
        (["push", ".", f"localhost:5000/app@{DIGEST}"], "not to a digest"),
        (["push", ".", "localhost:5000/app:1.0"], "OCI image layout"),  # (no index.json)
        (["copy", "localhost:5000/a:1", f"localhost:5000/b@{DIGEST}"], "not a digest"),
        (["catalog", "localhost:5000/app"], "registry domain"),
        (["catalog", "myhost"], "registry domain"),
        (["parse", "app/UPPER"], "lowercase"),
        # no TCP port has these numbers (the reference grammar takes any digits): the
        # command line is wrong (exit 2), not the registry (it was exit 1)
        (["ls", "127.0.0.1:99999/team/app"],
         "repository '127.0.0.1:99999/team/app': port 99999 is out of range"),
        (["pull", "localhost:0/app:1", "out"], "port 0 is out of range"),
        (["catalog", "127.0.0.1:70000"], "registry domain"),
        # the host as the user wrote it (not the reference made of it: "HOST/x")
        (["logout", "localhost:70000"], "host 'localhost:70000': port 70000"),
    ],
)
def test_usage_errors(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str],
    docker_config_dir: Path,
) -> None:
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert needle in err


@pytest.mark.parametrize("host", ["docker.io", "index.docker.io", "registry-1.docker.io"])
def test_catalog_of_any_docker_hub_name_is_docker_hub_s(
    host: str, capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    """Every name of Docker Hub is a registry domain; Hub has no catalog (no request sent)."""
    assert main(["catalog", host]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "does not offer the catalog API" in err and "registry domain" not in err


def test_environment_needs_both_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], docker_config_dir: Path
) -> None:
    monkeypatch.setenv("REGISTRY_USERNAME", "alice")
    assert main(["ls", "localhost:5000/app"]) == 2
    assert "REGISTRY_PASSWORD" in capsys.readouterr().err


def test_password_stdin_must_not_be_empty(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], docker_config_dir: Path
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert main(["ls", "localhost:5000/app", "-u", "alice", "--password-stdin"]) == 2
    assert "nothing was read" in capsys.readouterr().err


def test_parse_with_scheme(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", f"http://localhost:5000/app:1.0@{DIGEST}"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["scheme"] == "http"
    assert (doc["tag"], doc["digest"], doc["reference"]) == ("1.0", DIGEST, DIGEST)



@pytest.mark.parametrize("argv", [
    ["parse", "docker://localhost:5000/app:1.0"],
    ["parse", "docker://localhost:5000/app:1.0", "--json"],
])
def test_skopeo_s_docker_transport_prefix_names_a_registry_image(
    argv: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    # `skopeo inspect docker://HOST/REPO:TAG` habits: the transport says "a registry",
    # nothing about the protocol (the flags and the loopback rule decide that)
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["name"] == "localhost:5000/app" and doc["tag"] == "1.0"
    assert doc.get("scheme") is None



def test_only_references_lose_the_docker_transport_never_a_password(
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    with requests_mock.Mocker() as mocked:
        mocked.get("http://localhost:5000/v2/app/tags/list", [
            {"status_code": 401, "headers": {"WWW-Authenticate": 'Basic realm="r"'}},
            {"json": {"name": "app", "tags": ["1.0"]}},
        ])
        assert main(["-u", "alice", "--password", "docker://pw", "ls",
                     "docker://localhost:5000/app"]) == 0
        sent = mocked.request_history[-1].headers["Authorization"]
    assert capsys.readouterr().out == "1.0\n"
    assert base64.b64decode(sent.split()[1]) == b"alice:docker://pw"

@pytest.mark.parametrize("text", ["oci:/tmp/layout:1.0", "oci-archive:/tmp/app.tar:1.0",
                                  "docker-archive:/tmp/app.tar", "dir:/tmp/app"])
def test_skopeo_s_other_transports_point_at_pull_and_push(
    text: str, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["digest", text]) == 2
    err = capsys.readouterr().err
    transport = text.split(":", 1)[0]
    assert f"skopeo's {transport}: transport" in err
    assert "pull REFERENCE DIR|FILE.tar" in err and "push DIR|FILE.tar REFERENCE" in err

def test_help_and_version_return_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for word in ("--insecure", "--skip-tls-verify", "--password-stdin", "REGISTRY_USERNAME",
                 "credHelpers", "exit status"):
        assert word in text
    assert main(["--version"]) == 0


# -- redaction and logging ----------------------------------------------------------------------
def test_logging_filter_redacts_every_record() -> None:
    stream = io.StringIO()
    redactor = Redactor(["pa55-word"])
    handler, previous = install_logging(stream, verbose=True, redactor=redactor)
    try:
        log = logging.getLogger("registry_client")
        log.debug("login with %s and %s", "pa55-word", "Authorization: Bearer xyz.abc.def")
        logging.getLogger("registry_client.services").debug("Basic dXNlcjpwYXNz")
    finally:
        remove_logging(handler, previous)
    text = stream.getvalue()
    assert "pa55-word" not in text and "xyz.abc.def" not in text and "dXNlcjpwYXNz" not in text
    assert text.count("registry-client: debug: ") == 2


def test_without_v_library_setup_warnings_are_quiet() -> None:
    stream = io.StringIO()
    handler, previous = install_logging(stream, verbose=False, redactor=Redactor())
    try:
        from registry_client import Registry

        Registry("localhost:5000", protocol="http").close()
        logging.getLogger("registry_client").warning("something worth a warning")
    finally:
        remove_logging(handler, previous)
    assert stream.getvalue() == "registry-client: warning: something worth a warning\n"


# -- progress ---------------------------------------------------------------------------------
def test_progress_bars_are_thread_safe() -> None:
    stream = FakeTerminal()
    bars = ProgressBars(stream, "pull")

    def transfer(n: int) -> None:
        digest = f"sha256:{n:064x}"
        bars(BlobStarted(digest, 4096, "download"))
        for done in range(1024, 4097, 1024):
            bars(BlobAdvanced(digest, 1024, done, 4096))
        bars(BlobFinished(digest, 4096))

    threads = [threading.Thread(target=transfer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bars(BlobMounted(DIGEST, 100, "other/repo"))
    assert bars._total.n == bars._total.total == 8 * 4096 + 100
    bars.close()
    assert "pull" in stream.getvalue()


@pytest.mark.integration
def test_pull_draws_progress_only_on_a_terminal(
    anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    docker_config_dir: Path,
) -> None:
    image = seed_image(anon_registry, unique_repository, "1.0", layers=(50_000, 60_000))
    ref = f"{anon_registry.host}/{unique_repository}:1.0"
    assert main(["--plain-http", "pull", ref, str(tmp_path / "quiet")]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == ""
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["--plain-http", "pull", ref, str(tmp_path / "bars")]) == 0
    assert image.digest in capsys.readouterr().out
    assert "pull" in terminal.getvalue() and "100%" in terminal.getvalue()
    # skopeo's --quiet, and a terminal that cannot move its cursor: no bars on it
    for args, term in (["-q"], None), (["--quiet"], None), ([], "dumb"):
        terminal = FakeTerminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        if term is not None:
            monkeypatch.setenv("TERM", term)
        assert main(["--plain-http", *args, "pull", ref, str(tmp_path / "none")]) == 0
        assert image.digest in capsys.readouterr().out
        assert terminal.getvalue() == "", (args, term)


# -- packaging ----------------------------------------------------------------------------------
def test_starting_the_cli_leaves_what_one_verb_needs_unloaded() -> None:
    code = ("import sys, registry_client.cli as c; c.build_parser(); "
            "print([m for m in ('tqdm', 'registry_client.retention', 'registry_client.sync') "
            "if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert result.stdout.strip() == b"[]"


def test_console_script() -> None:
    script = Path(sys.executable).parent / "registry-client"
    assert script.exists(), "pip install -e . installs the registry-client console script"
    result = subprocess.run([str(script), "--version"], capture_output=True, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith(b"registry-client ")


# -- connection flags -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "reference", "protocol", "verify"),
    [
        ([], "example.com/app", "https", True),
        # loopback hosts speak plain HTTP by default, as docker and crane treat them
        ([], "localhost:5000/app", "http", True),
        ([], "localhost/app", "http", True),
        ([], "127.0.0.1:5000/app", "http", True),
        ([], "127.8.9.10/app", "http", True),
        ([], "[::1]:5000/app", "http", True),
        # 127.0.0.1 written as IPv6 (IPv4-mapped), which Go's IPNet.Contains counts in
        # 127.0.0.0/8 (Python's is_loopback says so from 3.13 only); 10.0.0.1 not
        ([], "[::ffff:7f00:1]:5000/app", "http", True),
        ([], "[::ffff:7f01:203]/app", "http", True),
        ([], "[::ffff:a00:1]:5000/app", "https", True),
        ([], "localhost.example.com/app", "https", True),
        ([], "128.0.0.1:5000/app", "https", True),
        ([], "https://localhost:5000/app", "https", True),
        (["--plain-http"], "example.com/app", "http", True),
        # crane's --insecure: HTTPS unchecked, else plain HTTP (nothing answers TLS on port 1)
        (["--insecure"], "127.0.0.1:1/app", "http", False),
        (["--insecure"], "https://localhost:5000/app", "https", False),
        (["--skip-tls-verify"], "example.com/app", "https", False),
        (["--skip-tls-verify"], "localhost:5000/app", "https", False),
        (["--plain-http"], "https://example.com/app", "https", True),
    ],
)
def test_connection_flags(
    flags: list[str], reference: str, protocol: str, verify: bool, docker_config_dir: Path
) -> None:
    from registry_client.cli._context import Context
    from registry_client.cli._verbs import build_parser

    args = build_parser().parse_args([*flags, "ls", reference])
    ctx = Context(args, stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                  redactor=Redactor())
    try:
        requester = ctx.registry(ctx.reference(reference)).requester
        assert (requester.protocol, requester.verify) == (protocol, verify)
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("flags", "side", "reference", "protocol", "verify"),
    [
        (["--dest-tls-verify=true"], "dest", "localhost:5000/app", "https", True),
        (["--dest-tls-verify"], "dest", "localhost:5000/app", "https", True),
        (["--dest-tls-verify=true"], "src", "localhost:5000/app", "http", True),
        (["--src-tls-verify=false"], "src", "127.0.0.1:1/app", "http", False),
        (["--src-tls-verify=false", "--plain-http"], "dest", "example.com/app", "http", True),
        (["--dest-tls-verify=f", "--skip-tls-verify"], "src", "example.com/app", "https", False),
    ],
)
def test_tls_verify_flags_per_side(
    flags: list[str], side: str, reference: str, protocol: str, verify: bool,
    docker_config_dir: Path,
) -> None:
    """skopeo's --src-tls-verify / --dest-tls-verify: for their side only."""
    from registry_client.cli._context import Context
    from registry_client.cli._verbs import build_parser

    args = build_parser().parse_args(["copy", "a.example/x:1", "b.example/y", *flags])
    ctx = Context(args, stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                  redactor=Redactor())
    try:
        requester = ctx.registry(ctx.reference(reference), side).requester  # type: ignore[arg-type]
        assert (requester.protocol, requester.verify) == (protocol, verify)
    finally:
        ctx.close()


@pytest.mark.parametrize("value", ["maybe", "localhost:5000/app:1"])
def test_a_tls_verify_value_that_is_not_a_boolean_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    assert main(["copy", "a.example/x:1", "b.example/y", f"--src-tls-verify={value}"]) == 2
    assert "want true or false" in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["digest", "manifest", "config", "inspect", "validate",
                                  "export"])
def test_platform_on_a_single_image_must_match_as_for_pull(
    verb: str, anon_registry: LocalRegistry, unique_repository: str,
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    """--platform on a single linux/amd64 image: arm64 fails (as pull does), amd64 works."""
    image = seed_image(anon_registry, unique_repository, "1.0")
    ref = f"{anon_registry.host}/{unique_repository}:1.0"
    extra = ["-"] if verb == "export" else []  # (export: to stdout)
    assert main(["--plain-http", verb, ref, *extra, "--platform", "linux/arm64"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "is a single linux/amd64 image, not linux/arm64" in err
    by_digest = f"{ref.rsplit(':', 1)[0]}@{image.digest}"
    named = by_digest if verb in ("inspect", "export") else ref
    assert f"{named} is a single" in err  # the image in full, not a bare tag or digest
    if verb in ("export", "validate"):
        return  # (the image's layers are no tar streams: nothing more to export or check)
    assert main(["--plain-http", verb, ref, "--platform", "linux/amd64"]) == 0
    out, _ = capsys.readouterr()
    if verb == "digest":
        assert out.strip() == image.digest


@pytest.mark.parametrize("verb", ["digest", "manifest", "config", "inspect", "copy"])
def test_platform_finds_an_image_in_an_inner_index_as_pull_does(
    verb: str, anon_registry: LocalRegistry, unique_repository: str,
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    """An index whose amd64 image sits in an inner index (an entry naming no platform):
    every verb with --platform finds it, as pull does (they said "no platform")."""
    from registry_client import RawManifest

    amd, arm = seed_image(anon_registry, unique_repository, "both",
                          platforms=["linux/amd64", "linux/arm64"]).children
    repo = Registry(anon_registry.host, protocol="http").repository(unique_repository)

    def put_index(tag: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        media = "application/vnd.oci.image.index.v1+json"
        data = json.dumps({"schemaVersion": 2, "mediaType": media, "manifests": entries}).encode()
        digest = repo.manifests.put(tag, RawManifest(data=data, media_type=media,  # type: ignore[arg-type]
                                                     digest=_sha256(data)))
        return {"mediaType": media, "digest": digest, "size": len(data)}

    inner = put_index("inner", [{"mediaType": amd.media_type, "digest": amd.digest,
                                 "size": len(amd.manifest),
                                 "platform": {"os": "linux", "architecture": "amd64"}}])
    put_index("nested", [inner, {"mediaType": arm.media_type, "digest": arm.digest,
                                 "size": len(arm.manifest),
                                 "platform": {"os": "linux", "architecture": "arm64"}}])
    ref = f"{anon_registry.host}/{unique_repository}:nested"
    extra = [f"{anon_registry.host}/{unique_repository}-copy:amd"] if verb == "copy" else []
    assert main(["--plain-http", verb, ref, *extra, "--platform", "linux/amd64"]) == 0, \
        capsys.readouterr().err
    out, _ = capsys.readouterr()
    if verb == "digest":
        assert out.strip() == amd.digest
    if verb == "manifest":
        assert out.encode() == amd.manifest
    if verb == "copy":
        copied = Registry(anon_registry.host, protocol="http").repository(
            f"{unique_repository}-copy")
        assert copied.manifests.get_raw("amd").digest == amd.digest
    assert main(["--plain-http", verb, ref, *extra, "--platform", "linux/s390x"]) == 1
    assert "no platform linux/s390x" in capsys.readouterr().err


def _sha256(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- building only the named verb's module -------------------------------------------------------
def _verbs_of(parser: object) -> set[str]:
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(action.choices)


def test_the_verb_table_names_every_verb_with_the_module_that_registers_it() -> None:
    """VERBS (which module to build for a verb) must follow the verb modules: a verb
    added to a module and not to the table would be an "invalid choice" when named."""
    import argparse

    from registry_client.cli._parser import Parser, global_flags
    from registry_client.cli._verbs import MODULES, VERBS, _module, build_parser

    registered: dict[str, str] = {}
    for name in MODULES:
        verbs = Parser().add_subparsers(dest="verb", parser_class=Parser)
        _module(name).register(verbs, [global_flags(True)])
        assert isinstance(verbs, argparse._SubParsersAction)
        registered.update(dict.fromkeys(verbs.choices, name))
    assert registered == VERBS
    assert _verbs_of(build_parser()) == set(VERBS)
    assert _verbs_of(build_parser(["--timeout", "3", "copy", "a", "b"])) == {
        "pull", "push", "copy", "cp", "sync"}


@pytest.mark.parametrize("argv", [
    ["ls", "r"], ["--plain-http", "ls", "r"], ["--timeout", "3", "inspect", "r"],
    ["-u", "ls", "--password-stdin", "pull", "r", "d"], ["--username=ls", "delete", "r:1"],
    ["--platform", "linux/arm64", "manifest", "r"], ["auth", "logout", "r.example"],
    ["cp", "a/b:1", "c/d:1"], ["-v", "--json", "tags", "r"],
])
def test_a_command_parses_the_same_with_only_its_verb_built(argv: list[str]) -> None:
    from registry_client.cli._verbs import build_parser, verb_named

    assert verb_named(argv) is not None
    partial, full = build_parser(argv).parse_args(argv), build_parser().parse_args(argv)
    assert vars(partial) == vars(full)


@pytest.mark.parametrize("argv", [
    [], ["-h"], ["--help", "ls"], ["nope", "r"], ["-vu", "me", "ls", "r"], ["--", "ls"],
    ["--timeout"],
])
def test_in_doubt_every_verb_is_built(argv: list[str]) -> None:
    """No verb, an unknown one, help, or flags read otherwise than one by one: the whole
    parser, so the help and the errors are the ones it gives."""
    from registry_client.cli._verbs import VERBS, build_parser, verb_named

    assert verb_named(argv) is None
    assert _verbs_of(build_parser(argv)) == set(VERBS)


# -- copy / sync -j (crane's --jobs) ---------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["copy", "-a", "-j", "7", "localhost:5000/a", "localhost:5001/b"],
    ["copy", "--jobs", "7", "localhost:5000/a", "localhost:5000/b", "--dry-run"],
    ["sync", "-j", "7", "SYNC_FILE"],
])
def test_jobs_bound_the_copies_and_each_registrys_transfers(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    # as crane's -j: at most N images at once (copy -a, sync) and N blobs at once in each
    made: list[int] = []
    planned: list[int] = []

    class CountedRegistry(cli_context.Registry):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append(kwargs.get("max_workers", 4))
            super().__init__(*args, **kwargs)

    def fake_sync(entries: Any, registry_for: Any, **kwargs: Any) -> Any:
        planned.append(kwargs.get("max_workers", 4))
        for entry in entries:
            registry_for(cli_context.parse_image_name(entry.source))
        return sync_module.SyncResult((), ())

    def opened(*args: Any, **kwargs: Any) -> Any:
        raise SystemExit(0)  # the registries are open: what this test looks at

    monkeypatch.setattr(cli_context, "Registry", CountedRegistry)
    monkeypatch.setattr(sync_module, "sync", fake_sync)
    monkeypatch.setattr("registry_client.services.images.ImageService.copy", opened)
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text("localhost:5000/a:1.0: localhost:5001/b\n")
    with pytest.raises(SystemExit) if argv[0] == "copy" and "-a" not in argv else nullcontext():
        main([str(sync_file) if a == "SYNC_FILE" else a for a in argv])
    assert made and set(made) == {7}, capsys.readouterr().err
    assert planned == ([] if argv[0] == "copy" and "-a" not in argv else [7])


def test_copy_all_tags_no_clobber_keeps_a_tag_pushed_to_the_source_after_its_listing(
    anon_registry: LocalRegistry, unique_repository: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    source, target = f"{unique_repository}/src", f"{unique_repository}/dst"
    seed_image(anon_registry, source, "1.0", seed=1)
    seed_image(anon_registry, source, "2.0", seed=2)
    there = seed_image(anon_registry, target, "2.0", seed=3)
    listed = transfer._tags_of

    def before_2_0_was_pushed(repo: Any) -> set[str]:  # the source as first listed
        return listed(repo) - {"2.0"} if repo.name == source else listed(repo)

    monkeypatch.setattr(transfer, "_tags_of", before_2_0_was_pushed)
    host = anon_registry.host
    assert main(["copy", "-a", "-n", f"{host}/{source}", f"{host}/{target}"]) == 0
    with Registry(host, protocol="http") as reg:
        assert reg.repository(target).manifests.head("2.0").digest == there.digest
        assert reg.repository(target).manifests.head("1.0").digest
    capsys.readouterr()



# -- podman's and skopeo's auth.json -----------------------------------------------------------
def _auth_file(path: Path, host: str, user: str, password: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": token}}}))
    return path


def _basic_sent(argv: list[str]) -> str:
    """The user:password the CLI sends to a registry that asks for Basic credentials."""
    with requests_mock.Mocker() as mocked:
        mocked.get("http://localhost:5000/v2/app/tags/list", [
            {"status_code": 401, "headers": {"WWW-Authenticate": 'Basic realm="r"'}},
            {"json": {"name": "app", "tags": ["1.0"]}},
        ])
        assert main(argv) == 0
        sent = mocked.request_history[-1].headers["Authorization"]
    return base64.b64decode(sent.split()[1]).decode()


@pytest.mark.parametrize("where", ["XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "REGISTRY_AUTH_FILE"])
def test_credentials_podman_and_skopeo_stored_are_used(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], docker_config_dir: Path,
) -> None:
    if where == "REGISTRY_AUTH_FILE":
        path = _auth_file(tmp_path / "elsewhere" / "auth.json", "localhost:5000", "pod", "pw")
        monkeypatch.setenv("REGISTRY_AUTH_FILE", str(path))
    else:
        _auth_file(Path(os.environ[where]) / "containers" / "auth.json", "localhost:5000",
                   "pod", "pw")
    assert _basic_sent(["ls", "localhost:5000/app"]) == "pod:pw"
    capsys.readouterr()


def test_docker_s_config_comes_before_podman_s_but_registry_auth_file_before_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    docker_config_dir: Path,
) -> None:
    _auth_file(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json",
               "localhost:5000", "pod", "pw")
    _auth_file(docker_config_dir / "config.json", "localhost:5000", "docker", "pw")
    assert _basic_sent(["ls", "localhost:5000/app"]) == "docker:pw"  # what `login` wrote
    chosen = _auth_file(tmp_path / "chosen.json", "localhost:5000", "chosen", "pw")
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(chosen))
    assert _basic_sent(["ls", "localhost:5000/app"]) == "chosen:pw"
    capsys.readouterr()


@pytest.mark.parametrize("argv", [
    ["ls", "127.0.0.1:9/app", "-u", "alice", "--password-stdin"],
    ["copy", "127.0.0.1:9/a:1", "127.0.0.1:9/b", "--src-creds", "alice"],
    ["auth", "get"],
])
def test_a_closed_standard_input_is_a_usage_error(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    docker_config_dir: Path,
) -> None:
    """`cmd <&-`: Python has no sys.stdin at all; a verb that wants to read it says so
    (exit 2) instead of failing on None, before any request (nothing listens on 9)."""
    monkeypatch.setattr(sys, "stdin", None)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "standard input is closed" in err and "AttributeError" not in err


@pytest.mark.parametrize("missing", ["no-such-dir", "no-such.tar"])
def test_push_of_a_path_that_is_not_there_is_exit_1_as_every_missing_file(
    tmp_path: Path, missing: str, capsys: pytest.CaptureFixture[str],
) -> None:
    """(exit 2, "the command line is wrong", where append -f and the docs say 1)"""
    assert main(["push", str(tmp_path / missing), "127.0.0.1:9/app:1", "--plain-http"]) == 1
    assert "no such file or directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()  # a folder that is no layout: still the command line's
    assert main(["push", str(tmp_path / "empty"), "127.0.0.1:9/app:1", "--plain-http"]) == 2
    os.mkfifo(tmp_path / "fifo")  # (refused at once: opened, it would wait for a writer)
    assert main(["push", str(tmp_path / "fifo"), "127.0.0.1:9/app:1", "--plain-http"]) == 2


@pytest.mark.parametrize("verb", [
    ["attach", "127.0.0.1:9/app@sha256:" + "a" * 64, "--artifact-type", "a/b", "{missing}"],
    ["sync", "{missing}"],
], ids=["attach", "sync"])
def test_a_file_to_read_that_is_not_there_is_exit_1(
    tmp_path: Path, verb: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    missing = str(tmp_path / "no-such-file")
    assert main([w.format(missing=missing) for w in verb] + ["--plain-http"]) == 1
    assert "no such file or directory" in capsys.readouterr().err.lower()


@pytest.mark.parametrize("key", ["docker.io", "index.docker.io", "myorg"])
def test_a_sync_file_s_docker_hub_key_gives_docker_hub_its_credentials(
    sync_users: dict[str, str | None], tmp_path: Path, docker_config_dir: Path, key: str,
) -> None:
    """skopeo reads `index.docker.io:` and a bare namespace `myorg:` (docker.io/myorg/...)
    as Docker Hub, with the entry's credentials. They were filed under the key's first
    part ("index.docker.io", "myorg"), and Docker Hub's images pulled anonymously."""
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text(f"{key}:\n  images:\n    app: ['1.0']\n"
                         "  credentials: {username: hubuser, password: hubpw}\n")
    assert main(["sync", "--src-yaml", str(sync_file), "localhost:5000/m"]) == 0
    assert {u for ref, u in sync_users.items() if ref.startswith("docker.io/")} == {"hubuser"}


def test_src_creds_go_to_the_one_source_a_sync_file_gives_none(
    sync_users: dict[str, str | None], tmp_path: Path, docker_config_dir: Path,
) -> None:
    """--src-creds is for one registry: with a file naming two, one of them with its own
    credentials, the other is that one (skopeo applies --src-creds to it). It was
    refused, "the sources are on several"."""
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text("b.example:\n  images:\n    app: ['1.0']\n"
                         "  credentials: {username: bee, password: bpw}\n"
                         "c.example:\n  images:\n    app: ['1.0']\n")
    assert main(["sync", "--src-yaml", str(sync_file), "localhost:5000/m",
                 "--src-creds", "carl:cpw"]) == 0
    assert (sync_users["b.example/app"], sync_users["c.example/app"]) == ("bee", "carl")


@pytest.mark.parametrize(("flags", "expected"), [
    (["--src-creds", "carl:cpw"], {"a.example/app": "reader", "b.example/app": "carl",
                                   "a.example/m/app": None}),
    (["--dest-creds", "writer:wpw"], {"a.example/app": "reader", "b.example/app": None,
                                      "a.example/m/app": "writer"}),
])
def test_a_registry_on_both_sides_keeps_each_side_s_credentials(
    sync_users: dict[str, str | None], tmp_path: Path, docker_config_dir: Path,
    flags: list[str], expected: dict[str, str | None],
) -> None:
    """A sync file gives a.example `reader` (its sources); DEST is on a.example too. With
    --src-creds (for b.example) a.example's targets were written with the file's
    `reader`; with --dest-creds its sources were read with the destination's `writer`."""
    sync_file = tmp_path / "sync.yaml"
    sync_file.write_text("a.example:\n  images:\n    app: ['1.0']\n"
                         "  credentials: {username: reader, password: rpw}\n"
                         "b.example:\n  images:\n    app: ['1.0']\n")
    assert main(["sync", "--src-yaml", str(sync_file), "a.example/m", *flags]) == 0
    assert sync_users == expected
