"""docker config.json credentials: helpers that misbehave degrade to anonymous, never crash."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from registry_client._auth_basic import basic_header, basic_secrets
from registry_client.docker_config import (
    credentials_for,
    erase_credentials,
    helper_for,
    server_key,
    store_credentials,
)
from registry_client.errors import CredentialStoreError


def _helper(bin_dir: Path, name: str, output: str, status: int = 0) -> None:
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}\nEOF\nexit {status}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize(("output", "status"), [
    ("[]", 0), ('"just a string"', 0), ("null", 0), ("42", 0), ("{not json", 0),
    ("[" * 100_000, 0), ('{"Username": "u"}', 0), ("credentials not found", 1),
])
def test_a_helper_that_prints_no_credentials_means_anonymous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str, status: int,
) -> None:
    _helper(tmp_path, "odd", output, status)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {"registry.example": "odd"}}))
    assert credentials_for("registry.example", config) is None


def test_a_config_file_nested_too_deeply_is_ignored_as_unreadable(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text("[" * 100_000 + "]" * 100_000)  # (RecursionError in json)
    assert credentials_for("registry.example", config) is None


def test_a_helper_with_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _helper(tmp_path, "good", '{"ServerURL": "registry.example", "Username": "u", '
                              '"Secret": "s3cret"}')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {"registry.example": "good"}}))
    found = credentials_for("registry.example", config)
    assert found is not None and (found.username, found.password) == ("u", "s3cret")


def test_with_a_creds_store_the_files_auths_hold_no_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docker (and crane, with docker's config code) asks credsStore and never reads a
    leftover auths password once a store is set."""
    _helper(tmp_path, "kc", '{"ServerURL": "registry.example", "Username": "u", '
                            '"Secret": "from-store"}')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    old = base64.b64encode(b"u:stale").decode()
    config.write_text(json.dumps({"credsStore": "kc",
                                  "auths": {"registry.example": {"auth": old}}}))
    found = credentials_for("registry.example", config)
    assert found is not None and found.password == "from-store"


@pytest.mark.parametrize("host", ["registry.example.com", "docker.io"])
def test_the_exact_key_wins_over_an_old_spelling_of_the_same_host(
    tmp_path: Path, host: str,
) -> None:
    """docker looks up the key it writes first, older spellings (https://host,
    https://host/v1/) only when it is missing -- whatever order the file lists them."""
    exact = server_key(host)
    legacy = f"https://{host}" if host != "docker.io" else "https://docker.io"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {
        legacy: {"auth": base64.b64encode(b"u:old").decode()},
        exact: {"auth": base64.b64encode(b"u:new").decode()},
    }}))
    found = credentials_for(host, config)
    assert found is not None and found.password == "new"
    config.write_text(json.dumps({"auths": {
        legacy: {"auth": base64.b64encode(b"u:old").decode()}}}))
    found = credentials_for(host, config)
    assert found is not None and found.password == "old"


@pytest.mark.parametrize("auth", ["!!!!", "bm90LWEtcGFpcg==", "dXNlcjpwYXNz!!", "%%%"])
def test_an_auth_that_is_not_base64_of_user_colon_password_is_ignored_with_a_warning(
    tmp_path: Path, auth: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """As docker: strict base64 of "user:password" (here garbage, "not-a-pair", junk)."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"registry.example": {"auth": auth}}}))
    with caplog.at_level("WARNING", logger="registry_client"):
        assert credentials_for("registry.example", config) is None
    assert "malformed auth entry" in caplog.text


def test_an_auth_with_line_breaks_is_read_as_docker_reads_it(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"registry.example": {"auth": "dXNlcjpw\nYXNz"}}}))
    found = credentials_for("registry.example", config)
    assert found is not None and (found.username, found.password) == ("user", "pass")


def test_an_auth_that_is_not_utf8_is_read_and_sent_as_docker_sends_it(tmp_path: Path) -> None:
    # docker's decodeAuth takes the bytes as they are (a Latin-1 password of an old
    # docker login); the Basic header carries the same bytes back
    config = tmp_path / "config.json"
    pair = b"bob:p\xe4ssword"
    config.write_text(json.dumps({"auths": {"registry.example": {
        "auth": base64.b64encode(pair).decode()}}}))
    found = credentials_for("registry.example", config)
    assert found is not None and found.username == "bob" and found.password is not None
    assert basic_header(found.username, found.password) == (
        "Basic " + base64.b64encode(pair).decode())
    assert base64.b64encode(pair).decode() in basic_secrets(
        basic_header(found.username, found.password))
    store_credentials("registry.example", found.username, found.password, config)
    assert json.loads(config.read_text())["auths"]["registry.example"]["auth"] == (
        base64.b64encode(pair).decode())


@pytest.mark.parametrize("entry", [{"auth": "OnMzY3JldA=="}, {"username": "", "password": "pw"}],
                         ids=["auth-colon-password", "empty-username"])
def test_a_password_without_username_is_ignored_with_a_warning(
    tmp_path: Path, entry: dict[str, str], caplog: pytest.LogCaptureFixture,
) -> None:
    """An authenticator refuses a password without a username: anonymous, not a crash."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"registry.example": entry}}))
    with caplog.at_level("WARNING", logger="registry_client"):
        assert credentials_for("registry.example", config) is None
    assert "without a username" in caplog.text


def test_a_helper_secret_without_username_is_ignored_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    _helper(tmp_path, "nouser", '{"ServerURL": "registry.example", "Secret": "s3cret"}')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {"registry.example": "nouser"}}))
    with caplog.at_level("WARNING", logger="registry_client"):
        assert credentials_for("registry.example", config) is None
    assert "without a username" in caplog.text and "s3cret" not in caplog.text


# -- store_credentials / erase_credentials (``auth login`` / ``auth logout``) --------------------
FAKE_HELPER = Path(__file__).resolve().parents[1] / "data" / "docker-credential-fake"


@pytest.fixture
def fake_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """docker-credential-fake on PATH; returns the JSON file it keeps its state in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker-credential-fake").write_bytes(FAKE_HELPER.read_bytes())
    (bin_dir / "docker-credential-fake").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    state = tmp_path / "helper-state.json"
    monkeypatch.setenv("FAKE_CREDENTIAL_STORE", str(state))
    return state


def test_store_writes_an_auths_entry_mode_0600_and_keeps_every_other_key(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "auths": {"other.example": {"auth": "b3RoZXI6cHc="},
                  "https://registry.example": {"auth": "b2xkOm9sZA=="}},
        "psFormat": "table {{.ID}}", "HttpHeaders": {"X-Meta": "1"},
    }))
    config.chmod(0o644)
    assert store_credentials("registry.example", "alice", "s3cret", config) is None
    doc = json.loads(config.read_text())
    assert doc["psFormat"] == "table {{.ID}}" and doc["HttpHeaders"] == {"X-Meta": "1"}
    assert doc["auths"] == {  # the older spelling of the same host is replaced
        "other.example": {"auth": "b3RoZXI6cHc="},
        "registry.example": {"auth": base64.b64encode(b"alice:s3cret").decode()},
    }
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".config")] == []
    found = credentials_for("registry.example", config)
    assert found is not None and (found.username, found.password) == ("alice", "s3cret")


def test_store_creates_the_directory_and_file(tmp_path: Path) -> None:
    config = tmp_path / "new" / "config.json"
    store_credentials("localhost:5000", "bob", "pw", config)
    assert json.loads(config.read_text()) == {
        "auths": {"localhost:5000": {"auth": base64.b64encode(b"bob:pw").decode()}}}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


@pytest.mark.parametrize("host", ["docker.io", "index.docker.io", "registry-1.docker.io",
                                  "https://index.docker.io/v1/"])
def test_docker_hub_is_filed_under_dockers_key(tmp_path: Path, host: str) -> None:
    config = tmp_path / "config.json"
    store_credentials(host, "me", "tok", config)
    assert list(json.loads(config.read_text())["auths"]) == ["https://index.docker.io/v1/"]
    assert server_key(host) == "https://index.docker.io/v1/"
    assert erase_credentials("docker.io", config) is True
    assert json.loads(config.read_text())["auths"] == {}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "\xff\xfe"])
def test_a_config_that_is_not_a_json_object_is_never_overwritten(
    tmp_path: Path, content: str,
) -> None:
    config = tmp_path / "config.json"
    config.write_bytes(content.encode("latin-1"))
    with pytest.raises(CredentialStoreError, match="config"):
        store_credentials("registry.example", "alice", "s3cret", config)
    with pytest.raises(CredentialStoreError, match="config"):
        erase_credentials("registry.example", config)
    assert config.read_bytes() == content.encode("latin-1")


def test_a_symlinked_config_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "docker.json"
    real.parent.mkdir()
    real.write_text("{}")
    link = tmp_path / "config.json"
    link.symlink_to(real)
    store_credentials("registry.example", "alice", "pw", link)
    assert link.is_symlink()
    assert "registry.example" in json.loads(real.read_text())["auths"]


@pytest.mark.parametrize(("username", "secret"), [("", "pw"), ("alice", ""), ("a:b", "pw")])
def test_store_refuses_unusable_credentials(tmp_path: Path, username: str, secret: str) -> None:
    with pytest.raises(ValueError, match=r"username|secret"):
        store_credentials("registry.example", username, secret, tmp_path / "config.json")
    assert not (tmp_path / "config.json").exists()


def test_erase_removes_every_spelling_and_says_whether_anything_was_there(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {
        "registry.example": {"auth": "YTpi"}, "http://registry.example": {"auth": "YTpi"},
        "keep.example": {"auth": "YTpi"}}, "credHelpers": {}}))
    assert erase_credentials("registry.example", config) is True
    assert json.loads(config.read_text()) == {
        "auths": {"keep.example": {"auth": "YTpi"}}, "credHelpers": {}}
    before = config.read_bytes()
    assert erase_credentials("registry.example", config) is False
    assert config.read_bytes() == before
    assert erase_credentials("registry.example", tmp_path / "missing.json") is False


def test_with_a_creds_store_the_helper_gets_the_secret_and_the_file_none(
    tmp_path: Path, fake_helper: Path,
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "credsStore": "fake", "auths": {"registry.example": {"auth": "b2xkOm9sZA=="}}}))
    assert store_credentials("registry.example", "alice", "s3cret", config) == "fake"
    assert helper_for("registry.example", config) == "fake"
    text = config.read_text()
    assert "s3cret" not in text and "b2xkOm9sZA" not in text  # the old secret went too
    assert json.loads(text) == {"credsStore": "fake", "auths": {"registry.example": {}}}
    state = json.loads(fake_helper.read_text())
    assert state["log"] == [["store", "registry.example"]]
    assert state["store"] == {"registry.example": {"Username": "alice", "Secret": "s3cret"}}
    found = credentials_for("registry.example", config)
    assert found is not None and (found.username, found.password) == ("alice", "s3cret")
    assert erase_credentials("registry.example", config) is True
    state = json.loads(fake_helper.read_text())
    assert state["store"] == {} and state["log"][-2:] == [
        ["get", "registry.example"], ["erase", "registry.example"]]
    assert json.loads(config.read_text()) == {"credsStore": "fake", "auths": {}}
    assert credentials_for("registry.example", config) is None


def test_a_hosts_cred_helper_wins_over_the_creds_store(tmp_path: Path, fake_helper: Path
                                                        ) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "missing-store",
                                  "credHelpers": {"registry.example": "fake"}}))
    assert store_credentials("registry.example", "alice", "pw", config) == "fake"
    assert json.loads(fake_helper.read_text())["store"]["registry.example"]["Secret"] == "pw"
    # another host goes to credsStore, whose helper is not installed: an error, nothing written
    before = config.read_bytes()
    with pytest.raises(CredentialStoreError, match="docker-credential-missing-store not found"):
        store_credentials("other.example", "alice", "pw", config)
    assert config.read_bytes() == before


def test_a_failing_helper_is_an_error_and_the_file_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _helper(tmp_path, "broken", "the keychain is locked", status=1)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "broken"}))
    with pytest.raises(CredentialStoreError, match="the keychain is locked"):
        store_credentials("registry.example", "alice", "pw", config)
    with pytest.raises(CredentialStoreError, match="could not erase"):
        erase_credentials("registry.example", config)
    assert json.loads(config.read_text()) == {"credsStore": "broken"}


@pytest.mark.parametrize("erase", [False, True])
def test_concurrent_stores_and_erases_lose_no_update(tmp_path: Path, erase: bool) -> None:
    """Each call reads, changes and rewrites the file: a lock keeps them apart (20
    parallel stores kept 9 entries before)."""
    from concurrent.futures import ThreadPoolExecutor

    config = tmp_path / "config.json"
    hosts = [f"r{n}.example" for n in range(20)]
    if erase:
        config.write_text(json.dumps({"auths": {h: {"auth": "YTpi"} for h in hosts},
                                      "other": 1}))
    with ThreadPoolExecutor(20) as pool:
        if erase:
            done = list(pool.map(lambda h: erase_credentials(h, config), hosts))
        else:
            done = list(pool.map(lambda h: store_credentials(h, "alice", "pw", config), hosts))
    if erase:
        assert done == [True] * 20
        assert json.loads(config.read_text()) == {"auths": {}, "other": 1}
    else:
        assert sorted(json.loads(config.read_text())["auths"]) == sorted(hosts)


@pytest.mark.parametrize("host", ["", "  ", "bad host/with/path", "r.example/team/app",
                                  "r.example:port", "-bad.example", "https://", "r.example/v3"])
def test_store_and_erase_refuse_what_is_not_a_registry_host(tmp_path: Path, host: str) -> None:
    config = tmp_path / "config.json"
    with pytest.raises(ValueError, match="registry host"):
        store_credentials(host, "alice", "pw", config)
    with pytest.raises(ValueError, match="registry host"):
        erase_credentials(host, config)
    assert not config.exists()


@pytest.mark.parametrize(("host", "key"), [
    ("localhost:5000", "localhost:5000"), ("https://ghcr.io", "ghcr.io"),
    ("http://[::1]:5000/", "[::1]:5000"), ("r.example/v2/", "r.example"),
    ("https://index.docker.io/v1/", "https://index.docker.io/v1/"),
])
def test_store_takes_a_host_as_docker_login_does(tmp_path: Path, host: str, key: str) -> None:
    config = tmp_path / "config.json"
    store_credentials(host, "alice", "pw", config)
    assert list(json.loads(config.read_text())["auths"]) == [key]


def test_a_helper_that_fails_is_a_warning_for_lookups_and_an_error_when_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Not "credentials not found" but a failure (exit 3): lookups fall back to anonymous
    with a warning that quotes the helper; strict=True (``auth get``) raises."""
    _helper(tmp_path, "bad", "the keychain exploded", status=3)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "bad"}))
    with caplog.at_level("WARNING", logger="registry_client"):
        assert credentials_for("registry.example", config) is None
    assert any("docker-credential-bad" in r.getMessage()
               and "the keychain exploded" in r.getMessage() for r in caplog.records)
    with pytest.raises(CredentialStoreError, match=r"the keychain exploded.*exit status 3"):
        credentials_for("registry.example", config, strict=True)


@pytest.mark.parametrize("output", [
    '{"Username": "u", "Secret": "hunter2"}',
    '{"Username": "u", "Password": "hunter2"}',  # (a helper's own spelling)
    "error: keychain locked; Password=hunter2",
    "token: Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJodW50ZXIyIn0.c2ln",
])
def test_a_helper_failure_never_quotes_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    output: str,
) -> None:
    """Not in the error, nor in the warning a lookup logs: the library's log was given
    the helper's words as they were (the CLI masked them; a library user's log did not)."""
    _helper(tmp_path, "leaky", output, status=2)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {"registry.example": "leaky"}}))
    with pytest.raises(CredentialStoreError) as caught:
        credentials_for("registry.example", config, strict=True)
    assert "hunter2" not in str(caught.value)
    with caplog.at_level("WARNING", logger="registry_client"):
        assert credentials_for("registry.example", config) is None
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "docker-credential-leaky" in logged
    assert "hunter2" not in logged and "eyJzdWIiOiJodW50ZXIyIn0" not in logged


def test_a_failure_that_only_mentions_not_found_is_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docker-credential-pass without pass installed says 'executable file not found':
    read as "nothing stored", the lookup went anonymous unwarned, and logout said "Not
    logged in". Only the helpers' own words mean not found (docker-credential-helpers'
    IsErrCredentialsNotFoundMessage: the whole trimmed output)."""
    _helper(tmp_path, "pass", 'exec: "pass": executable file not found in $PATH: ', status=1)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "pass", "auths": {"registry.example": {}}}))
    with pytest.raises(CredentialStoreError, match="executable file not found"):
        credentials_for("registry.example", config, strict=True)
    with pytest.raises(CredentialStoreError, match="could not erase"):
        erase_credentials("registry.example", config)


def test_an_empty_cred_helper_entry_means_the_file_for_reads_and_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """credHelpers {"HOST": ""} beside a credsStore: docker keeps HOST's credentials in the
    file. The login went to the credsStore, the lookup ran "docker-credential-"."""
    _helper(tmp_path, "store", '{"Username": "other", "Secret": "x"}')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "store",
                                  "credHelpers": {"registry.example": ""}}))
    assert helper_for("registry.example", config) is None
    assert store_credentials("registry.example", "alice", "pw", config) is None
    found = credentials_for("registry.example", config, strict=True)
    assert found is not None and (found.username, found.password) == ("alice", "pw")


def test_a_namespace_key_is_neither_read_nor_dropped_for_its_host(tmp_path: Path) -> None:
    """podman and skopeo keep credentials per namespace in auth.json ("HOST/team"): they
    were read for every repository of HOST, and a login to HOST deleted them."""
    config = tmp_path / "auth.json"
    team = {"auth": base64.b64encode(b"alice:a").decode()}
    ops = {"auth": base64.b64encode(b"carol:c").decode()}
    config.write_text(json.dumps({"auths": {"registry.example/team": team,
                                            "registry.example/ops": ops}}))
    assert credentials_for("registry.example", config) is None
    store_credentials("registry.example", "bob", "b", config)
    assert json.loads(config.read_text())["auths"] == {
        "registry.example/team": team, "registry.example/ops": ops,
        "registry.example": {"auth": base64.b64encode(b"bob:b").decode()}}
    assert erase_credentials("registry.example", config) is True
    assert list(json.loads(config.read_text())["auths"]) == [
        "registry.example/team", "registry.example/ops"]


def test_a_key_with_a_scheme_is_its_host_s_whatever_its_path(tmp_path: Path) -> None:
    """docker (ConvertToHostname) and containers/image read https://HOST/anything as
    HOST's: only a key without a scheme may name a namespace."""
    config = tmp_path / "config.json"
    entry = {"auth": base64.b64encode(b"alice:a").decode()}
    config.write_text(json.dumps({"auths": {"https://registry.example/team": entry}}))
    found = credentials_for("registry.example", config)
    assert found is not None and found.username == "alice"
    assert erase_credentials("registry.example", config) is True
    assert json.loads(config.read_text())["auths"] == {}


def test_a_config_rewritten_by_root_keeps_its_owner(tmp_path: Path) -> None:
    """``sudo -E registry-client login``, or a root CI step on a user's DOCKER_CONFIG: the
    file became root's (mode 0600), unreadable to its owner. docker keeps the owner
    (configfile.Save: copyFilePermissions)."""
    config = tmp_path / "config.json"
    config.write_text("{}")
    owner = group = 65534  # nobody, when we may chown (CI runs as root)
    if os.geteuid() == 0:
        os.chown(config, owner, group)
    else:
        owner, group = os.getuid(), os.getgid()
    store_credentials("registry.example", "alice", "pw", config)
    assert (config.stat().st_uid, config.stat().st_gid) == (owner, group)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


@pytest.mark.parametrize("missing", [True, False])
def test_not_found_is_no_error_even_when_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: bool,
) -> None:
    _helper(tmp_path, "empty", "credentials not found in native keychain", status=1)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "gone" if missing else "empty"}))
    if missing:  # a helper that is not installed: an error when strict
        with pytest.raises(CredentialStoreError, match="docker-credential-gone not found"):
            credentials_for("registry.example", config, strict=True)
    else:
        assert credentials_for("registry.example", config, strict=True) is None


def test_a_config_with_a_number_json_cannot_hold_is_never_rewritten(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"auths": {}, "x": 1e400}')
    with pytest.raises(CredentialStoreError, match="holds a number JSON cannot"):
        store_credentials("registry.example", "u", "p", config)
    assert config.read_text() == '{"auths": {}, "x": 1e400}'


def test_a_config_file_may_be_named_by_a_string(tmp_path: Path) -> None:
    # ("'str' object has no attribute 'read_text'")
    config = str(tmp_path / "config.json")
    store_credentials("registry.example", "u", "p", config)  # type: ignore[arg-type]
    found = credentials_for("registry.example", config)  # type: ignore[arg-type]
    assert found is not None and (found.username, found.password) == ("u", "p")
    assert erase_credentials("registry.example", config) is True  # type: ignore[arg-type]


def test_an_empty_path_means_docker_s_own_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    store_credentials("registry.example", "u", "p", "")  # type: ignore[arg-type]
    found = credentials_for("registry.example", "")  # type: ignore[arg-type]
    assert found is not None and found.username == "u"
    assert (tmp_path / "config.json").is_file()


def test_a_helper_that_fails_to_store_never_has_the_secret_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A helper that repeats its input when it fails (``could not parse {...}``) put the
    secret, verbatim, in the CredentialStoreError's message (and a library caller's
    log and traceback): "never a secret" held for get, not for store."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    echoer = bin_dir / "docker-credential-echoer"
    echoer.write_text('#!/bin/sh\necho "error storing credentials: could not parse $(cat)"\n'
                      "exit 1\n")
    echoer.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "echoer"}))
    with pytest.raises(CredentialStoreError) as failed:
        store_credentials("localhost:5000", "alice", 'S3cr3t-"PW"-xyz', config)
    message = str(failed.value)
    assert "could not store the credentials for localhost:5000" in message
    assert "S3cr3t" not in message and "***" in message
