"""skopeo's sync YAML: read as skopeo 1.9 reads it, each image named as skopeo names it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from registry_client._skopeo_sync import (
    SkopeoRegistry,
    read_skopeo_sync,
    skopeo_copies,
    skopeo_destination,
)

DIGEST = "sha256:" + "ab" * 32


def _read(tmp_path: Path, text: str) -> list[SkopeoRegistry]:
    path = tmp_path / "sync.yml"
    path.write_text(text)
    return read_skopeo_sync(path)


def test_scalars_are_the_text_written_as_go_reads_them_into_strings(tmp_path: Path) -> None:
    [reg] = _read(tmp_path, (
        "registry.example.com:5000:\n"
        "  images:\n"
        "    team/app: [1.10, 2.0, '3', true, " + DIGEST + "]\n"
        "    team/all: []\n"
        "    team/none:\n"
        "  images-by-tag-regex:\n"
        "    team/tools: ^v1\\.\n"
        "  tls-verify: false\n"
        "  credentials: {username: me, password: 1234}\n"))
    assert reg.domain == "registry.example.com:5000"
    assert reg.images == {"team/app": ("1.10", "2.0", "3", "true", DIGEST), "team/all": (),
                          "team/none": ()}
    assert reg.tag_regexes["team/tools"] == "^v1\\."
    assert reg.tls_verify is False
    assert reg.credentials == ("me", "1234")
    assert "1234" not in repr(reg)


def test_merge_keys_share_settings_between_registries_as_go_s_yaml_reads_them(
        tmp_path: Path) -> None:
    """``<<: *common`` is YAML, which skopeo 1.9 reads: it was refused as an unknown
    key ("<< is not read here")."""
    first, second = _read(tmp_path, (
        "a.example:\n"
        "  <<: &common\n"
        "    tls-verify: false\n"
        "    credentials: {username: me, password: pw}\n"
        "  images:\n"
        "    team/app: ['1.0']\n"
        "b.example:\n"
        "  <<: [*common, {images: {team/db: []}}]\n"))
    assert (first.tls_verify, first.credentials, first.images) == (
        False, ("me", "pw"), {"team/app": ("1.0",)})
    assert (second.tls_verify, second.credentials, second.images) == (
        False, ("me", "pw"), {"team/db": ()})
    [nested] = _read(tmp_path, "a.example:\n  <<: &c\n    <<: {tls-verify: false}\n"
                               "    images: {app: ['1.0']}\n")
    assert (nested.tls_verify, nested.images) == (False, {"app": ("1.0",)})
    # a quoted "<<" is a key like any other, which skopeo does not read
    with pytest.raises(ValueError, match="<< is not read here"):
        _read(tmp_path, "a.example:\n  '<<': {tls-verify: false}\n")


@pytest.mark.parametrize("text", [
    "a.example:\n  tls-verify: true\n  <<: {tls-verify: false}\n",
    "a.example:\n  <<: {images: {db: ['1.0']}}\n  images: {app: ['1.0']}\n",
    "a.example:\n  <<: [{images: {db: ['1.0']}}, {images: {app: ['2.0']}}]\n",
], ids=["merged-and-own", "merged-images-and-own", "merged-twice"])
def test_a_key_a_merge_sets_again_is_refused(tmp_path: Path, text: str) -> None:
    """skopeo (Go's yaml) reads a key set by a merge and again its own way -- the later
    one wins, maps are joined -- not as YAML says (the mapping's own key wins, whole):
    read either way, images would go missing without a word."""
    with pytest.raises(ValueError, match="set twice"):
        _read(tmp_path, text)


@pytest.mark.parametrize("item", ["'bad tag'", "~", "sha256:abc", "'-x'"])
def test_a_tag_or_digest_that_is_none_is_named_with_its_line(tmp_path: Path, item: str) -> None:
    """It was refused later, as "sync source: invalid reference format", with no file or
    line (the repository's name had them)."""
    with pytest.raises(ValueError, match=r"sync\.yml, line 3: r\.example: .*team/app"):
        _read(tmp_path, f"r.example:\n  images:\n    team/app: ['1.0', {item}]\n")


def test_every_spelling_of_null_go_s_yaml_reads_is_null(tmp_path: Path) -> None:
    """yaml.v2 reads ~, null, Null and NULL as null: `team/app: NULL` is every tag, as
    `team/app:` is (it was refused, "want a list of tags")."""
    for spelling in ("~", "null", "Null", "NULL"):
        [reg] = _read(tmp_path, f"r.example:\n  images:\n    team/app: {spelling}\n"
                                f"  tls-verify: {spelling}\n  credentials: {spelling}\n")
        assert reg.images == {"team/app": ()}
        assert (reg.tls_verify, reg.credentials) == (None, None)


def test_defaults(tmp_path: Path) -> None:
    [reg] = _read(tmp_path, "docker.io:\n  images:\n    busybox: []\n"
                            "  credentials: {username: '', password: x}\n")
    assert (reg.tls_verify, reg.credentials, reg.tag_regexes) == (None, None, {})
    assert _read(tmp_path, "") == []


def test_each_image_goes_to_dest_and_the_last_path_component() -> None:
    [reg] = read_skopeo_sync_text(
        "reg.example:\n  images:\n    a/b/app: ['1.0', " + DIGEST + "]\n    base: []\n"
        "    library/x: ['1']\n"
        "  images-by-tag-regex:\n    team/tools: v1\\.\n")
    assert skopeo_copies([reg], "dest.example/mirror/") == [
        ("reg.example/a/b/app:1.0", "dest.example/mirror/app", None),
        (f"reg.example/a/b/app@{DIGEST}", "dest.example/mirror/app", None),
        ("reg.example/base", "dest.example/mirror/base", None),  # every tag, each its own
        ("reg.example/library/x:1", "dest.example/mirror/x", None),
        # the tags the regex finds: listed by the sync, when it runs
        ("reg.example/team/tools", "dest.example/mirror/tools", "v1\\."),
    ]


def test_a_copy_named_twice_is_kept_once() -> None:
    """(A tag the regex finds too is copied once by the sync: SyncEntry's docs.)"""
    [reg] = read_skopeo_sync_text("r.example:\n  images:\n    app: ['1', '1']\n"
                                  "  images-by-tag-regex:\n    app: ^1$\n")
    assert skopeo_copies([reg], "d.example/m") == [
        ("r.example/app:1", "d.example/m/app", None), ("r.example/app", "d.example/m/app", "^1$")]


@pytest.mark.parametrize(("dest", "target"), [
    ("127.0.0.1:5000", "127.0.0.1:5000/b"),  # a bare registry: skopeo 1.9.3 takes it
    ("127.0.0.1:5000/", "127.0.0.1:5000/b"),
    ("127.0.0.1:5000/x/y/", "127.0.0.1:5000/x/y/b"),
    ("127.0.0.1:5000//x//y", "127.0.0.1:5000/x/y/b"),  # Go's path.Join cleans
])
def test_dest_is_joined_with_the_last_path_component_as_go_path_join(
    dest: str, target: str,
) -> None:
    [reg] = read_skopeo_sync_text("r.example:\n  images:\n    conv/b: ['1.0']\n")
    normal = skopeo_destination(dest)
    assert skopeo_copies([reg], normal) == [("r.example/conv/b:1.0", target, None)]
    assert skopeo_copies([reg], dest) == [("r.example/conv/b:1.0", target, None)]


@pytest.mark.parametrize("dest", ["", "/", "r.example/m:1.0", f"r.example/m@{DIGEST}",
                                  "R.example/Bad Name"])
def test_a_dest_that_is_no_registry_path_is_a_value_error(dest: str) -> None:
    with pytest.raises(ValueError, match="registry"):
        skopeo_destination(dest)


@pytest.mark.parametrize(("text", "message"), [
    ("r.example: [a]\n", "want a mapping"),
    ("r.example:\n  images: [a]\n", "images: want a mapping"),
    ("r.example:\n  images:\n    'Bad Name': []\n", "'Bad Name'"),
    ("r.example:\n  images:\n    app:1.0: []\n", "without tag or digest"),
    ("r.example:\n  credentials: {user: me}\n", "credentials: want username"),
    ("r.example:\n  images:\n    a: ['']\n", "want a list of tags"),
])
def test_what_skopeo_would_not_read_is_a_value_error(
    tmp_path: Path, text: str, message: str,
) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        _read(tmp_path, text)


def read_skopeo_sync_text(text: str) -> list[SkopeoRegistry]:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        return _read(Path(directory), text)


@pytest.mark.parametrize("expression", [
    "^v(?!2)", "(?=v)v1", "(?<=v)1", "(?<!x)v1", r"(v)\1", "v1++", "(?>v1)", "v1*+",
    "([", "v{2,1}", r"\p{Bogus}", r"v1\Z", "(?#note)v", "(?P=x)",
])
def test_a_regex_re2_refuses_skips_that_repository_with_a_warning(
    tmp_path: Path, expression: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """skopeo 1.9.3 compiles with Go's regexp (RE2): an expression it refuses is logged
    and that repository skipped; the rest of the file is synced (exit 0)."""
    quoted = expression.replace("'", "''")
    [reg] = _read(tmp_path, "r.example:\n  images:\n    ok: ['1']\n"
                            f"  images-by-tag-regex:\n    bad: '{quoted}'\n    good: ^v1\n")
    assert set(reg.tag_regexes) == {"good"}
    assert set(reg.skipped) == {"bad"}
    with caplog.at_level("WARNING", logger="registry_client"):
        copies = skopeo_copies([reg], "d.example/m")
    assert copies == [("r.example/ok:1", "d.example/m/ok", None),
                      ("r.example/good", "d.example/m/good", "^v1")]
    assert any("bad" in r.getMessage() and "skipped" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize("expression", [r"^v1\.\d+$", "(?i)^V", r"[\w.-]+", "(?P<x>v)1",
                                        "(?:v)1", r"a{2}", r"\Av1$", r"[(?!]x", "v1*?"])
def test_what_re2_reads_is_kept(tmp_path: Path, expression: str) -> None:
    quoted = expression.replace("'", "''")
    [reg] = _read(tmp_path, f"r.example:\n  images-by-tag-regex:\n    a: '{quoted}'\n")
    assert set(reg.tag_regexes) == {"a"}
    assert reg.skipped == {}


def test_a_regex_is_read_in_go_s_syntax(tmp_path: Path) -> None:
    """Python's re reads [[:digit:]] as a set of "[:digt" and a "]": nothing matches."""
    [reg] = _read(tmp_path, "r.example:\n  images-by-tag-regex:\n"
                            "    a: '^v[[:digit:]]+$'\n    b: '^\\Qv1.0\\E\\z'\n")
    tags = ["v1", "v22", "v1.0", "v1x0", "latest"]
    found = {repo: [t for t in tags if re.search(regex, t)]
             for repo, regex in reg.tag_regexes.items()}
    assert found == {"a": ["v1", "v22"], "b": ["v1.0"]}


def test_an_unknown_key_is_named_with_its_own_line(tmp_path: Path) -> None:
    text = ("a.example:\n  images:\n    app: []\n"
            "b.example:\n  images:\n    app: []\n\n  images-by-semver:\n    app: '>=1'\n")
    with pytest.raises(ValueError, match=r"line 8: b\.example: images-by-semver is not read"):
        _read(tmp_path, text)


def test_a_skipped_regex_and_a_bad_repository_are_named_with_their_own_line(
    tmp_path: Path,
) -> None:
    text = ("a.example:\n  tls-verify: false\n  images:\n    bad: []\n"
            "  images-by-tag-regex:\n    ok: 'v1'\n\n    bad: 'a(?!b)'\n")
    [reg] = _read(tmp_path, text)
    assert reg.skipped["bad"].split(": a.example")[0].endswith(", line 8")
    with pytest.raises(ValueError, match=r"line 4: a\.example: 'Bad'"):
        _read(tmp_path, text.replace("    bad: []", "    Bad: []"))


def test_a_missing_file_is_said_plainly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nonexist\.yml: no such file") as caught:
        read_skopeo_sync(tmp_path / "nonexist.yml")
    assert "Errno" not in str(caught.value)
