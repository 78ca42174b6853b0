"""The command line's parser (cli/_parser.py): flags anywhere among a verb's arguments."""

from __future__ import annotations

import pytest

from registry_client.cli._verbs import build_parser


@pytest.mark.parametrize(("words", "expected"), [
    (["export", "a.example/x:1", "--plain-http", "out.tar"],
     {"reference": "a.example/x:1", "file": "out.tar", "plain_http": True}),
    (["export", "--plain-http", "a.example/x:1", "out.tar"],
     {"reference": "a.example/x:1", "file": "out.tar", "plain_http": True}),
    (["sync", "--src", "docker", "--dest", "docker", "a.example/x", "--dry-run", "b.example/y"],
     {"file": "a.example/x", "destination": "b.example/y", "dry_run": True}),
    (["index", "create", "a.example/x:i", "a.example/x:1", "--annotation", "k=v",
      "a.example/x:2"],
     {"references": ["a.example/x:1", "a.example/x:2"], "annotation": ["k=v"]}),
])
def test_flags_may_come_between_a_verb_s_arguments(
    words: list[str], expected: dict[str, object],
) -> None:
    """crane (cobra) and skopeo take flags anywhere; argparse alone gives an optional
    last argument its default at the first flag, then calls the argument unrecognized."""
    args = vars(build_parser().parse_args(words))
    assert {k: args.get(k) for k in expected} == expected


def test_a_verb_with_verbs_of_its_own_still_parses_them() -> None:
    args = build_parser().parse_args(["auth", "get", "--json", "registry.example"])
    assert args.json is True


@pytest.mark.parametrize(("words", "expected"), [
    (["export", "--", "a.example/x:1", "-x"], {"reference": "a.example/x:1", "file": "-x"}),
    (["push", "--plain-http", "--", "-dir", "a.example/x:1"],
     {"directory": "-dir", "reference": "a.example/x:1", "plain_http": True}),
])
def test_every_word_after_a_double_dash_is_an_argument(
    words: list[str], expected: dict[str, object],
) -> None:
    args = vars(build_parser().parse_args(words))
    assert {k: args.get(k) for k in expected} == expected


@pytest.mark.parametrize(("words", "expected"), [
    # Go's boolean flags (skopeo's): bare is true and takes no value of its own
    (["copy", "--src-tls-verify", "a.example/x:1", "b.example/y"],
     {"src_tls_verify": True, "source": "a.example/x:1", "destination": "b.example/y"}),
    (["copy", "a.example/x:1", "--dest-tls-verify=false", "b.example/y"],
     {"dest_tls_verify": False, "destination": "b.example/y"}),
    (["list-tags", "--tls-verify=false", "a.example/x"], {"tls_verify": False}),
    (["inspect", "a.example/x:1", "--tls-verify"], {"tls_verify": True}),
    (["copy", "--all", "--preserve-digests", "a.example/x:1", "b.example/y"],
     {"all": True, "preserve_digests": True, "all_tags": False}),
])
def test_skopeo_s_flags_read_as_skopeo_reads_them(
    words: list[str], expected: dict[str, object],
) -> None:
    args = vars(build_parser().parse_args(words))
    assert {k: args.get(k) for k in expected} == expected


def test_a_bad_tls_verify_value_names_its_own_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["copy", "a.example/x:1", "b.example/y",
                                   "--dest-tls-verify=maybe"])
    err = capsys.readouterr().err
    assert "--dest-tls-verify=false" in err and "--src-tls-verify" not in err


@pytest.mark.parametrize("words", [["ls", "a.example/x", "--bogus"], ["ls", "a.example/x", "y"],
                                   ["auth", "login", "a.example", "--bogus"]])
def test_an_unknown_argument_is_the_verb_s_usage_error(
    words: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(words)
    assert caught.value.code == 2
    verb = " ".join(words[:2] if words[0] == "auth" else words[:1])
    err = capsys.readouterr().err
    assert err.startswith(f"registry-client {verb}: error: unrecognized arguments: ")
    assert f"(see 'registry-client {verb} --help')" in err


def test_a_missing_argument_error_names_every_missing_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The intermixed parse looks at flags first: it named the missing flags only, and
    the missing positional came up at the next try."""
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["attach", "a.example/x:1"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "the following arguments are required: --artifact-type, FILE" in err


@pytest.mark.parametrize(("words", "expected"), [
    (["export", "a.example/x:1", "--platform", "linux/amd64", "--", "-out.tar"],
     {"reference": "a.example/x:1", "file": "-out.tar", "platform": "linux/amd64"}),
    (["ls", "a.example/x", "--plain-http", "--"], {"repository": "a.example/x"}),
])
def test_a_double_dash_after_a_flag_keeps_flags_anywhere(
    words: list[str], expected: dict[str, object],
) -> None:
    args = vars(build_parser().parse_args(words))
    assert {k: args.get(k) for k in expected} == expected


@pytest.mark.parametrize("host", ["http://x", "x/y", "https://ghcr.io/org"])
def test_catalog_of_what_is_no_registry_domain_says_so_in_the_user_s_words(
    host: str, capsys: pytest.CaptureFixture[str],
) -> None:
    """(it quoted "http://x/x", a reference the user never typed)"""
    from registry_client.cli import main

    assert main(["catalog", host]) == 2
    err = capsys.readouterr().err
    assert f"host {host!r}: give a registry domain such as localhost:5000" in err
    assert f"{host}/x" not in err


@pytest.mark.parametrize("words", [
    ["pull", "a.example/x:1", ""],
    ["push", "", "a.example/x:1"],
    ["blob", "a.example/x@sha256:" + "a" * 64, "-o", ""],
    ["artifact", "get", "a.example/x:1", "-o", ""],
    ["export", "a.example/x:1", ""],
    ["attach", "a.example/x:1", "--artifact-type", "t", ""],
    ["sync", "mirror.yaml", "--journal", ""],
    ["sync", "--src-yaml", "", "b.example/m"],
    ["ls", "a.example/x", "--cert-dir", ""],
], ids=["pull", "push", "blob", "artifact", "export", "attach", "journal", "src-yaml",
        "cert-dir"])
def test_an_empty_path_is_a_usage_error(
    words: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    """An empty path is an unset variable ("$OUT"), which Path("") reads as the current
    directory: ``pull REF ""`` wrote a layout among the user's own files."""
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(words)
    assert caught.value.code == 2
    assert "an empty path" in capsys.readouterr().err


def test_an_empty_workdir_is_no_local_path_and_clears_the_image_s() -> None:
    """``mutate -w ""`` clears WorkingDir (as mutate.config(workdir="") does): a path in
    the image, not on this machine -- the empty-path refusal is not for it."""
    args = build_parser().parse_args(["mutate", "a.example/x:1", "-t", "a.example/x:2",
                                      "-w", ""])
    assert args.workdir == ""


@pytest.mark.parametrize(("words", "missing"), [
    (["sync", "--src-yaml", "m.yaml"], "DEST"),
    (["sync", "--src", "yaml", "--dest", "docker"], "SOURCE DEST"),
    (["sync"], "FILE"),
], ids=["src-yaml", "skopeo", "mapping"])
def test_sync_without_its_arguments_names_the_missing_one(
    words: list[str], missing: str, capsys: pytest.CaptureFixture[str],
) -> None:
    """``sync --src-yaml FILE`` (DEST left out) was told "FILE" was missing."""
    from registry_client.cli import main

    assert main(words) == 2
    err = capsys.readouterr().err
    assert f"takes {missing}" in err and "required: FILE" not in err, err
