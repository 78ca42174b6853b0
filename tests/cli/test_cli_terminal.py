"""Terminal safety: text a registry sent never reaches the terminal with raw control characters."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from registry_client._text import json_safe, printable, printable_lines
from registry_client.cli import main
from registry_client.testing import FaultProxy, LocalRegistry, seed_image

CliRunner = Callable[..., subprocess.CompletedProcess[bytes]]

# Everything a terminal may act on, except the line feeds the CLI writes itself.
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
# What reorders or hides text on a terminal ("Trojan Source"), and lone surrogates.
RAW_INVISIBLE = re.compile(
    "[\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff\U000e0001]")
TITLE_AND_CLEAR = "\x1b]0;pwned\x07 \x1b[2J"
C1_AND_DEL = "a\x9b31mb\x7fc\rd"


# -- the escaping function ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (TITLE_AND_CLEAR, "\\x1b]0;pwned\\x07 \\x1b[2J"),
        (C1_AND_DEL, "a\\u009b31mb\\x7fc\\rd"),
        ("tab\there\nnext\x00", "tab\\there\\nnext\\x00"),
        ("café 日本 \\x1b ok", "café 日本 \\x1b ok"),
        ("admin\u202e\u2066txt.exe\u2069", "admin\\u202e\\u2066txt.exe\\u2069"),
        ("a\u200bb\u200fc\ufeffd\u00ade", "a\\u200bb\\u200fc\\ufeffd\\u00ade"),
        ("line\u2028para\u2029end", "line\\u2028para\\u2029end"),
        ("tag\U000e0001char", "tag\\U000e0001char"),
        ("a\ud83db \udc00", "a\\ud83db \\udc00"),
        ("emoji \U0001f600 ok", "emoji \U0001f600 ok"),
    ],
    ids=["osc-and-csi", "c1-del-cr", "tab-lf-nul", "printable-unchanged", "bidi-overrides",
         "zero-width-and-bom", "line-and-paragraph-separators", "astral-format",
         "lone-surrogates", "emoji-unchanged"],
)
def test_printable_escapes_control_characters(raw: str, shown: str) -> None:
    assert printable(raw) == shown
    assert printable(printable(raw)) == shown  # idempotent: safe to apply at two layers
    assert RAW_CONTROL.search(printable(raw)) is None
    assert RAW_INVISIBLE.search(printable(raw)) is None
    printable(raw).encode("utf-8")  # a lone surrogate would not encode


def test_printable_keeps_tabs_and_lines_when_asked() -> None:
    assert printable("tag\tsha256:x\x1b", keep_tabs=True) == "tag\tsha256:x\\x1b"
    assert printable_lines("one\x1b[2J\ntwo\r\n") == "one\\x1b[2J\ntwo\\r\n"


def test_json_safe_escapes_del_and_c1_without_changing_the_value() -> None:
    doc = json.dumps({"label": TITLE_AND_CLEAR + C1_AND_DEL}, ensure_ascii=False)
    safe = json_safe(doc)
    assert RAW_CONTROL.search(safe) is None
    assert json.loads(safe) == json.loads(doc)


def test_json_safe_escapes_invisible_characters_and_lone_surrogates() -> None:
    value = {"bidi\u202e": "x\u2066y\u200bz\u2028\ufeff", "s": "a\ud83db\udc00", "t": "\U000e0001",
             "emoji": "\U0001f600 caf\u00e9"}
    safe = json_safe(json.dumps(value, indent=2, ensure_ascii=False))
    assert RAW_INVISIBLE.search(safe) is None
    assert json.loads(safe) == value  # the exact value, surrogates and all
    safe.encode("utf-8")
    assert "\\ud83d" in safe and "\\udb40\\udc01" in safe
    assert "\U0001f600 caf\u00e9" in safe  # ordinary characters stay themselves


# -- the CLI against a real registry ------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile_image(local_registry: LocalRegistry) -> str:
    """An image whose labels hold a window-title OSC, a clear-screen CSI and C1/DEL."""
    seed_image(local_registry, "terminal/hostile", "1.0", labels={
        "title": TITLE_AND_CLEAR, "c1": C1_AND_DEL, "multi\nline": "x\ny",
    })
    return f"{local_registry.host}/terminal/hostile:1.0"


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_inspect_escapes_hostile_labels(
    hostile_image: str, verbose: bool, capsys: pytest.CaptureFixture[str],
    docker_config_dir: Path,
) -> None:
    args = ["inspect", hostile_image, "--plain-http"] + (["-v"] if verbose else [])
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert RAW_CONTROL.search(out) is None, out
    assert RAW_CONTROL.search(err) is None, err
    assert "title=\\x1b]0;pwned\\x07 \\x1b[2J" in out
    assert "c1=a\\u009b31mb\\x7fc\\rd" in out
    assert "multi\\nline=x\\ny" in out  # a label cannot start a line of its own
    if verbose:
        assert "HTTP exchange" in err


def test_inspect_json_keeps_labels_exact_and_escaped(
    hostile_image: str, capsys: pytest.CaptureFixture[str], docker_config_dir: Path
) -> None:
    assert main(["inspect", hostile_image, "--plain-http", "--json"]) == 0
    out, _ = capsys.readouterr()
    assert RAW_CONTROL.search(out) is None, out
    labels = json.loads(out)["labels"]
    assert labels == {"title": TITLE_AND_CLEAR, "c1": C1_AND_DEL, "multi\nline": "x\ny"}


def test_config_stays_byte_exact(
    cli: CliRunner, hostile_image: str, local_registry: LocalRegistry
) -> None:
    result = cli("config", hostile_image, "--plain-http")
    assert result.returncode == 0, result.stderr
    labels = json.loads(result.stdout)["config"]["Labels"]
    assert labels["title"] == TITLE_AND_CLEAR
    digest = json.loads(cli("manifest", hostile_image, "--plain-http").stdout)["config"]["digest"]
    from registry_client import Registry

    with Registry(local_registry.host, protocol="http") as reg:
        assert result.stdout == reg.repository("terminal/hostile").blobs.get(digest)


def test_inspect_of_invisible_and_surrogate_labels_is_escaped_and_complete(
    cli: CliRunner, local_registry: LocalRegistry
) -> None:
    labels = {"bidi": "admin\u202e\u2066gnp.exe\u2069", "zw": "a\u200bb\ufeff",
              "sur": "a\ud83db"}
    seed_image(local_registry, "terminal/invisible", "1.0", labels=labels)
    ref = f"{local_registry.host}/terminal/invisible:1.0"
    text = cli("inspect", ref, "--plain-http")
    assert text.returncode == 0, text.stderr
    out = text.stdout.decode("utf-8")
    assert RAW_INVISIBLE.search(out) is None, out
    assert "bidi=admin\\u202e\\u2066gnp.exe\\u2069" in out
    assert "zw=a\\u200bb\\ufeff" in out
    assert "sur=a\\ud83db" in out
    as_json = cli("--json", "inspect", ref, "--plain-http")
    assert as_json.returncode == 0, as_json.stderr
    out = as_json.stdout.decode("utf-8")
    assert RAW_INVISIBLE.search(out) is None, out
    assert json.loads(out)["labels"] == labels  # JSON keeps the exact values


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_error_body_and_headers_are_escaped(
    local_registry: LocalRegistry, verbose: bool, capsys: pytest.CaptureFixture[str],
    docker_config_dir: Path,
) -> None:
    body = json.dumps({"errors": [{
        "code": "MANIFEST_UNKNOWN", "message": "gone\x1b]0;pwned\x07\x1b[2J\u009b1A\u202erev",
    }]}).encode()
    with FaultProxy(local_registry, timeout=5) as proxy:
        proxy.add_rule("GET", r"/manifests/", action="status", status=404, times=None,
                       headers={"Content-Type": "application/json",
                                "X-Note": "hi\x1b[2Jthere"}, body=body)
        args = ["manifest", f"{proxy.host}/terminal/app:1.0", "--plain-http"]
        assert main(args + (["-v"] if verbose else [])) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert RAW_CONTROL.search(err) is None, err
    assert RAW_INVISIBLE.search(err) is None, err
    assert "gone\\x1b]0;pwned\\x07\\x1b[2J\\u009b1A\\u202erev" in err
    if verbose:
        assert "X-Note: hi\\x1b[2Jthere" in err
    else:
        assert len(err.splitlines()) == 1


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_ls_of_a_hostile_tag_list_prints_no_control_character(
    local_registry: LocalRegistry, verbose: bool, capsys: pytest.CaptureFixture[str],
    docker_config_dir: Path,
) -> None:
    body = json.dumps({"name": "terminal/app", "tags": ["1.0", "x\x1b[2J\u009b"]}).encode()
    with FaultProxy(local_registry, timeout=5) as proxy:
        proxy.add_rule("GET", r"/tags/list", action="status", status=200, times=None,
                       headers={"Content-Type": "application/json"}, body=body)
        args = ["ls", f"{proxy.host}/terminal/app", "--plain-http"]
        assert main(args + (["-v"] if verbose else [])) == 1  # the library refuses the tag
    out, err = capsys.readouterr()
    assert out == ""
    assert RAW_CONTROL.search(err) is None, err
    assert "invalid tag" in err
