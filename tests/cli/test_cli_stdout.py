"""A closed stdout (``| head -0``) and exact flag names (no argparse abbreviations)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from registry_client import Registry
from registry_client.cli import main
from registry_client.models import RawManifest
from registry_client.testing import (
    FaultProxy,
    LocalRegistry,
    LocalRegistryFactory,
    SeededImage,
    seed_image,
    seed_many_repositories,
    seed_tags,
    sha256_digest,
)

EXIT_SIGPIPE = 141  # 128 + SIGPIPE: what a shell reports for crane or `seq` cut by `head`


def run_with_closed_stdout(
    *args: str, cwd: Path, docker_config_dir: Path, unbuffered: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI with stdout a pipe whose reader is already gone (``| head -0``).

    Buffered (Python's default for a pipe) the closed pipe shows at the final
    flush; unbuffered (``PYTHONUNBUFFERED``) at the first line written.
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REGISTRY_") and k != "PYTHONUNBUFFERED"}
    env["DOCKER_CONFIG"] = str(docker_config_dir)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    try:
        return subprocess.run(
            [sys.executable, "-m", "registry_client", *args], stdout=write_end,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
            timeout=60, check=False,
        )
    finally:
        os.close(write_end)


def run_with_stdout_fd_closed(
    *args: str, cwd: Path, docker_config_dir: Path,
) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI with file descriptor 1 closed (``registry-client ... >&-``).

    Python then starts with ``sys.stdout`` set to None.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REGISTRY_") and k != "PYTHONUNBUFFERED"}
    env["DOCKER_CONFIG"] = str(docker_config_dir)
    return subprocess.run(
        ["/bin/sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "registry_client",
         *args], stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
        timeout=60, check=False,
    )


@pytest.fixture(scope="module")
def seeded(local_registry: LocalRegistry) -> SeededImage:
    return seed_tags(local_registry, "stdout/app", [f"1.{i}" for i in range(30)],
                     layers=(3 << 20,))


@pytest.fixture(scope="module")
def tagged_repo(local_registry: LocalRegistry, seeded: SeededImage) -> str:
    return f"{local_registry.host}/stdout/app"


@pytest.fixture(scope="module")
def layer_ref(tagged_repo: str, seeded: SeededImage) -> str:
    """A 3 MiB layer: more than a pipe holds, so the writes meet the closed pipe."""
    return f"{tagged_repo}@{seeded.layers[0]}"


@pytest.mark.parametrize(
    "args",
    [["parse", "golang:1.22"], ["ls", "{repo}", "--plain-http"],
     ["ls", "{repo}", "--plain-http", "--digests", "--json"],
     ["manifest", "{repo}:1.0", "--plain-http"], ["blob", "{layer}", "--plain-http"]],
    ids=["parse", "ls", "ls-json", "manifest", "blob"],
)
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_closed_stdout_is_a_quiet_sigpipe_exit(
    args: list[str], unbuffered: bool, tagged_repo: str, layer_ref: str, tmp_path: Path,
    docker_config_dir: Path,
) -> None:
    argv = [a.format(repo=tagged_repo, layer=layer_ref) for a in args]
    result = run_with_closed_stdout(*argv, cwd=tmp_path, docker_config_dir=docker_config_dir,
                                    unbuffered=unbuffered)
    assert result.returncode == EXIT_SIGPIPE, result.stderr
    assert result.stderr == b""  # no traceback, no "Exception ignored" at exit


def test_failure_with_closed_stdout_keeps_its_status(
    tagged_repo: str, tmp_path: Path, docker_config_dir: Path
) -> None:
    result = run_with_closed_stdout(
        "manifest", f"{tagged_repo}:no-such-tag", "--plain-http",
        cwd=tmp_path, docker_config_dir=docker_config_dir,
    )
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("registry-client: error:") and "404" in line


@pytest.mark.parametrize(
    "args", [["parse", "golang:1.12"], ["ls", "{repo}", "--plain-http"],
             ["manifest", "{repo}:1.0", "--plain-http"], ["blob", "{layer}", "--plain-http"]],
    ids=["parse", "ls", "manifest-bytes", "blob"])
def test_a_closed_stdout_descriptor_is_a_quiet_sigpipe_exit(
    args: list[str], tagged_repo: str, layer_ref: str, tmp_path: Path,
    docker_config_dir: Path,
) -> None:
    argv = [a.format(repo=tagged_repo, layer=layer_ref) for a in args]
    result = run_with_stdout_fd_closed(*argv, cwd=tmp_path, docker_config_dir=docker_config_dir)
    assert result.returncode == EXIT_SIGPIPE, result.stderr
    assert result.stderr == b""


def test_a_failure_with_a_closed_stdout_descriptor_keeps_its_status(
    tagged_repo: str, tmp_path: Path, docker_config_dir: Path,
) -> None:
    result = run_with_stdout_fd_closed(
        "ls", tagged_repo.replace("stdout/app", "stdout/nosuch"), "--plain-http",
        cwd=tmp_path, docker_config_dir=docker_config_dir,
    )
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("registry-client: error:") and "404" in line


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["ls", "--help"]])
@pytest.mark.parametrize("closed", ["pipe", "descriptor"])
def test_help_and_version_to_a_closed_stdout_are_a_quiet_sigpipe_exit(
    argv: list[str], closed: str, tmp_path: Path, docker_config_dir: Path,
) -> None:
    """argparse writes help to stderr when stdout is closed, and swallows a broken pipe;
    like every other output, it is the quiet 141 (docs/cli.md, coreutils' --help)."""
    run = run_with_closed_stdout if closed == "pipe" else run_with_stdout_fd_closed
    result = run(*argv, cwd=tmp_path, docker_config_dir=docker_config_dir)
    assert (result.returncode, result.stderr) == (EXIT_SIGPIPE, b"")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["ls", "--help"]],
                         ids=["help", "version", "verb-help"])
def test_help_and_version_to_a_full_disk_are_one_line(
    argv: list[str], tmp_path: Path, docker_config_dir: Path,
) -> None:
    """>/dev/full: a traceback of argparse's writer (exit 1), where the verbs print one
    line; now the same one line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["DOCKER_CONFIG"] = str(docker_config_dir)
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "registry_client", *argv], stdout=full,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, cwd=tmp_path,
            timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [
        f"registry-client{' ls' if argv[0] == 'ls' else ''}: error: "
        "standard output: No space left on device"]


@pytest.mark.parametrize(
    "args",
    [["ls", "{repo}"], ["ls", "{repo}", "--digests", "--json"], ["manifest", "{repo}:1.0"],
     ["inspect", "{repo}:1.0"], ["blob", "{layer}"], ["parse", "golang:1.22"]],
    ids=["ls", "ls-json", "manifest", "inspect", "blob", "parse"],
)
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_a_full_disk_under_stdout_is_one_line_naming_it(
    args: list[str], unbuffered: bool, tagged_repo: str, layer_ref: str, tmp_path: Path,
    docker_config_dir: Path,
) -> None:
    """>/dev/full: "[Errno 28] No space left on device" and then a traceback of the
    last flush (exit 1); now one line that says what could not be written."""
    argv = [a.format(repo=tagged_repo, layer=layer_ref) for a in args]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REGISTRY_") and k != "PYTHONUNBUFFERED"}
    env["DOCKER_CONFIG"] = str(docker_config_dir)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "registry_client", *argv, "--plain-http"], stdout=full,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, cwd=tmp_path,
            timeout=60, check=False)
    name = "/dev/stdout" if args[0] == "blob" else "standard output"  # (blob's -o default)
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [
        f"registry-client: error: {name}: No space left on device"]


@pytest.mark.parametrize(
    "args",
    [["ls", "localhost:5000/app", "--dig"], ["ls", "localhost:5000/app", "--plain"],
     ["--plain", "ls", "localhost:5000/app"], ["inspect", "localhost:5000/app", "--js"],
     ["copy", "localhost:5000/a:1", "localhost:5000/b", "--all-t"]],
    ids=["verb-flag", "global-after-verb", "global-before-verb", "json", "all-tags"],
)
def test_abbreviated_flags_are_refused(
    args: list[str], capsys: pytest.CaptureFixture[str], docker_config_dir: Path
) -> None:
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "unrecognized arguments" in err


def test_sync_failure_with_closed_buffered_stdout_keeps_status_1(
    tagged_repo: str, tmp_path: Path, docker_config_dir: Path
) -> None:
    host = tagged_repo.split("/", 1)[0]
    mapping = tmp_path / "mirror.json"
    mapping.write_text(json.dumps({
        f"{tagged_repo}:1.0": f"{host}/stdout/mirror",       # copied: a line on stdout
        f"{tagged_repo}:no-such-tag": f"{host}/stdout/mirror",  # fails: a line on stderr
    }))
    result = run_with_closed_stdout(
        "sync", str(mapping), "--plain-http", cwd=tmp_path, docker_config_dir=docker_config_dir,
    )
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert "no-such-tag" in line and "Traceback" not in line


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_text_the_locale_cannot_encode_is_escaped_not_an_error(
    local_registry: LocalRegistry, docker_config_dir: Path, as_json: bool,
) -> None:
    """A label of "café ✓" on a terminal whose locale is Latin-1: `inspect` printed
    half its output and failed ("'latin-1' codec can't encode character"). Text now
    shows what the locale cannot as a backslash escape, JSON as a JSON escape (the
    document stays exact)."""
    seed_image(local_registry, "stdout/labels", "1.0", labels={"note": "café ✓"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(DOCKER_CONFIG=str(docker_config_dir), PYTHONIOENCODING="latin-1")
    proc = subprocess.run(
        [sys.executable, "-m", "registry_client", "inspect",
         f"{local_registry.host}/stdout/labels:1.0", "--plain-http",
         *(["--json"] if as_json else [])],
        capture_output=True, env=env, stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode("latin-1")
    if as_json:
        assert "café ✓" in json.dumps(json.loads(out), ensure_ascii=False)
    else:
        assert "café \\u2713" in out


@pytest.mark.parametrize("verb", ["catalog", "ls"])
def test_a_listing_prints_each_page_as_it_comes(
    local_registry_factory: LocalRegistryFactory, docker_config_dir: Path, verb: str,
) -> None:
    """`catalog | head -1` waited for every page (10 pages at 0.5 s: 5 s); crane prints
    each page as it comes. A proxy holds every page but the first 0.5 s (Distribution
    does not page tag lists: for ls the proxy answers the first page itself)."""
    reg = local_registry_factory("anonymous")
    repo = "stream/app"
    if verb == "catalog":
        seed_many_repositories(reg, [f"stream/r{i:02d}" for i in range(12)])
    else:
        seed_tags(reg, repo, [f"t{i:02d}" for i in range(12)], layers=(10,))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["DOCKER_CONFIG"] = str(docker_config_dir)
    with FaultProxy(reg.host) as proxy:
        if verb == "catalog":
            proxy.add_rule("GET", r"/v2/_catalog.*last=", action="delay", delay=0.5,
                           times=None)
        else:
            proxy.add_rule("GET", r"/tags/list\?n=2$", action="status", status=200,
                           body=json.dumps({"name": repo, "tags": ["t00", "t01"]}).encode(),
                           headers={"Content-Type": "application/json",
                                    "Link": f'</v2/{repo}/tags/list?n=2&last=t01>; '
                                            'rel="next"'})
            proxy.add_rule("GET", r"/tags/list.*last=", action="delay", delay=3.0)
        target = proxy.host if verb == "catalog" else f"{proxy.host}/{repo}"
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "registry_client", verb, target, "--page-size", "2",
             "--plain-http"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        first_after = time.monotonic() - started
        rest = proc.stdout.read()  # (not communicate(): it reads past readline's buffer)
        proc.wait(60)
        total = time.monotonic() - started
        err = proc.stderr.read()
    assert proc.returncode == 0, err
    # (Distribution answers the proxy's next page with every tag: some come twice)
    assert len(set((first + rest).splitlines())) == 12
    assert total > 2.5  # (the pages held)
    assert first_after < total - 2


@pytest.fixture(scope="module")
def big_manifest_ref(local_registry: LocalRegistry, seeded: SeededImage) -> tuple[str, bytes]:
    """A 220 KB manifest: more than a pipe holds."""
    client = Registry(local_registry.host, protocol="http")
    repo = client.repository("stdout/app")
    doc = json.loads(repo.manifests.get_raw("1.0").data)
    doc["annotations"] = {f"k{i}": "v" * 100 for i in range(2000)}
    data = json.dumps(doc).encode()
    media = doc.get("mediaType") or "application/vnd.oci.image.manifest.v1+json"
    repo.manifests.put("big", RawManifest(data, media, sha256_digest(data)))
    client.close()
    return f"{local_registry.host}/stdout/app:big", data


def _run_into_pipe(argv: list[str], *, unbuffered: bool, nonblocking: bool, read: int | None,
                   docker_config_dir: Path, cwd: Path) -> tuple[int, bytes, bytes]:
    """The CLI with stdout a pipe read only after 1 s (all of it, or ``read`` bytes and
    then closed); its status, what was read, and stderr."""
    read_end, write_end = os.pipe()
    if nonblocking:  # as CI runners and Node parents may leave a child's stdout
        os.set_blocking(write_end, False)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REGISTRY_") and k != "PYTHONUNBUFFERED"}
    env["DOCKER_CONFIG"] = str(docker_config_dir)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "registry_client", *argv], stdout=write_end,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    os.close(write_end)
    try:
        time.sleep(1)
        if read is None:
            got = b""
            while chunk := os.read(read_end, 1 << 16):
                got += chunk
        else:
            got = os.read(read_end, read)
    finally:
        os.close(read_end)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, got, err


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("nonblocking", [False, True], ids=["blocking", "nonblocking"])
def test_output_larger_than_a_pipe_is_written_whole(
    big_manifest_ref: tuple[str, bytes], unbuffered: bool, nonblocking: bool, tmp_path: Path,
    docker_config_dir: Path,
) -> None:
    """A pipe whose reader comes late: a non-blocking one took 64 KiB of the manifest and
    the rest was lost with exit 0 (PYTHONUNBUFFERED, as Python container images set it)
    or ended in a traceback (exit 120)."""
    ref, data = big_manifest_ref
    status, got, err = _run_into_pipe(["manifest", ref, "--plain-http"], unbuffered=unbuffered,
                                      nonblocking=nonblocking, read=None,
                                      docker_config_dir=docker_config_dir, cwd=tmp_path)
    assert (status, err) == (0, b"")
    assert got == data + b"\n" or got == data


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_output_cut_by_its_reader_after_a_partial_write_is_a_sigpipe_exit(
    big_manifest_ref: tuple[str, bytes], unbuffered: bool, tmp_path: Path,
    docker_config_dir: Path,
) -> None:
    """``| head -c 10`` once the pipe was full: the write that had gone partly through
    was taken for done, and the command said 0."""
    ref, _ = big_manifest_ref
    status, got, err = _run_into_pipe(["manifest", ref, "--plain-http"], unbuffered=unbuffered,
                                      nonblocking=False, read=10,
                                      docker_config_dir=docker_config_dir, cwd=tmp_path)
    assert (status, err, len(got)) == (EXIT_SIGPIPE, b"", 10)


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_a_blob_to_a_non_blocking_stdout_is_written_whole(
    layer_ref: str, seeded: SeededImage, unbuffered: bool, tmp_path: Path,
    docker_config_dir: Path,
) -> None:
    """``blob`` writes its descriptor 1 from the library (the download): it stopped at
    the pipe's 64 KiB with "write could not complete without blocking" (exit 1)."""
    status, got, err = _run_into_pipe(["blob", layer_ref, "--plain-http"],
                                      unbuffered=unbuffered, nonblocking=True, read=None,
                                      docker_config_dir=docker_config_dir, cwd=tmp_path)
    assert (status, err) == (0, b"")
    assert "sha256:" + hashlib.sha256(got).hexdigest() == seeded.layers[0]


def test_ls_with_digests_prints_them_as_they_come(
    local_registry_factory: LocalRegistryFactory, docker_config_dir: Path,
) -> None:
    """``ls --digests`` waited for every tag's HEAD before its first line: 10,000 tags
    printed nothing for 18 s (Distribution answers every tag in one page). A proxy holds
    the last tag's HEAD 3 s: the first lines come before it."""
    reg = local_registry_factory("anonymous")
    repo = "stream/digests"
    tags = [f"t{i:03d}" for i in range(300)]
    seeded = seed_tags(reg, repo, tags, layers=(10,))
    with Registry(reg.host, protocol="http") as client:
        tags = client.repository(repo).tags.get_all()  # (the registry's order)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["DOCKER_CONFIG"] = str(docker_config_dir)
    with FaultProxy(reg.host) as proxy:
        proxy.add_rule("HEAD", rf"/manifests/{tags[-1]}$", action="delay", delay=3.0)
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "registry_client", "ls", f"{proxy.host}/{repo}",
             "--digests", "--plain-http"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        first_after = time.monotonic() - started
        rest = proc.stdout.read()
        proc.wait(60)
        total = time.monotonic() - started
        err = proc.stderr.read()
    assert proc.returncode == 0, err
    lines = (first + rest).decode().splitlines()
    assert lines == [f"{tag}\t{seeded.digest}" for tag in tags]
    assert total > 2.5  # (the last HEAD held)
    assert first_after < total - 2
