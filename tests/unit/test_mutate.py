"""mutate's decisions without a registry: where a reference is read from, how the config
and manifest documents change, and what is refused before any request."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import requests_mock

from registry_client import (
    InvalidReferenceError,
    LayerError,
    Registry,
    RegistryError,
    RegistryResponseError,
    mutate,
)
from registry_client._tarfs import PreparedLayer
from registry_client.models import Descriptor, RawManifest
from registry_client.mutate import (
    _NO_HISTORY,
    MutateFlows,
    _add_layers,
    _dumps,
    _history_for,
    _layer_in,
    _merge_env,
    _port,
    _rfc3339,
    _split_history,
)
from registry_client.services._export import SingleImage

DIGEST = "sha256:" + "a" * 64


@pytest.fixture
def flows() -> MutateFlows:
    repo = Registry("localhost:5000", protocol="http").repository("team/app")
    return MutateFlows.of(repo)


@pytest.mark.parametrize(("text", "name", "reference"), [
    ("1.0", "team/app", "1.0"),
    (DIGEST, "team/app", DIGEST),
    ("team/app:2.0", "team/app", "2.0"),
    ("base/python:3.12", "base/python", "3.12"),
    ("base/python", "base/python", "latest"),
    ("localhost:5000/base/python@" + DIGEST, "base/python", DIGEST),
    ("http://localhost:5000/base/python:1", "base/python", "1"),
])
def test_a_reference_is_read_from_this_repository_or_another_of_the_registry(
    flows: MutateFlows, text: str, name: str, reference: str,
) -> None:
    source = flows._source(text)
    assert (source.name, source.reference) == (name, reference)
    assert source.manifests.repository == name and source.blobs.repository == name


def test_an_image_of_another_registry_is_refused(flows: MutateFlows) -> None:
    with pytest.raises(ValueError, match="another registry"):
        flows._source("ghcr.io/org/base:1")
    with pytest.raises(InvalidReferenceError):
        flows._source("Not A Reference!")


def test_env_updates_replace_in_place_and_append_new_keys() -> None:
    assert _merge_env(["PATH=/bin", "A=1", "B=x=y"], {"A": "2", "C": "3"}) == [
        "PATH=/bin", "A=2", "B=x=y", "C=3"]


def test_created_is_written_in_utc_rfc3339() -> None:
    plus_one = dt.timezone(dt.timedelta(hours=1))
    assert _rfc3339(dt.datetime(2025, 1, 2, 4, 4, 5, tzinfo=plus_one)) == "2025-01-02T03:04:05Z"
    assert _rfc3339(dt.datetime(2025, 1, 2, 3, 4, 5, 250000, tzinfo=dt.timezone.utc)) == (
        "2025-01-02T03:04:05.25Z")
    assert _rfc3339("2020-01-01T00:00:00Z") == "2020-01-01T00:00:00Z"
    assert _rfc3339("2020-01-01t01:30:00.123456789+01:30") == "2020-01-01T00:00:00.123456789Z"


@pytest.mark.parametrize("text", [
    "not-a-date", "yesterday", "2020-01-01", "2020-01-01T00:00:00", "2020-01-01 00:00:00Z",
    "2020-13-01T00:00:00Z", "2020-02-30T00:00:00Z", "2020-01-01T00:00:00.Z",
    " 2020-01-01T00:00:00Z", "2020-01-01T00:00:00+0100",
    "\u0662\u0660\u0662\u0660-01-01T00:00:00Z"])
def test_created_that_is_no_rfc3339_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        _rfc3339(text)


@pytest.mark.parametrize(("value", "written"), [
    ("0500-01-01T00:00:00Z", "0500-01-01T00:00:00Z"),
    ("0001-01-01T00:30:00Z", "0001-01-01T00:30:00Z"),
    (dt.datetime(999, 5, 1, tzinfo=dt.timezone.utc), "0999-05-01T00:00:00Z"),
])
def test_created_before_year_1000_keeps_four_year_digits(
        value: str | dt.datetime, written: str) -> None:
    """strftime's %Y does not pad: '500-01-01T00:00:00Z', which Go (skopeo) cannot read
    and which the CLI, reading it again, refused as no RFC 3339 time."""
    assert _rfc3339(value) == written
    assert _rfc3339(written) == written


@pytest.mark.parametrize("value", [
    "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00",
    dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))])
def test_created_that_leaves_the_years_utc_holds_is_a_value_error(
        value: str | dt.datetime) -> None:
    """RFC 3339 allows these; in UTC they fall outside years 1-9999, which no datetime
    holds (it raised OverflowError, and the CLI said "unexpected" with status 1)."""
    with pytest.raises(ValueError, match="outside"):
        _rfc3339(value)


def test_a_naive_datetime_or_another_type_is_refused_before_any_request() -> None:
    repo = Registry("127.0.0.1:9", protocol="http").repository("app")
    with pytest.raises(ValueError, match="timezone"):
        mutate.config(repo, "1.0", tag="new", created=dt.datetime(2025, 1, 2))
    with pytest.raises(ValueError, match="RFC 3339"):
        mutate.config(repo, "1.0", tag="new", created="not-a-date")
    with pytest.raises(TypeError, match="datetime"):
        mutate.config(repo, "1.0", tag="new", created=1700000000)  # type: ignore[arg-type]
    assert repo.requester.stats["requests"] == 0


def single(media_type: str, config_doc: dict[str, object]) -> SingleImage:
    layer = {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
             "digest": DIGEST, "size": 10}
    manifest = {"schemaVersion": 2, "mediaType": media_type,
                "config": {"mediaType": "x", "digest": DIGEST, "size": 2}, "layers": [layer]}
    data = json.dumps(manifest).encode()
    config_data = json.dumps(config_doc).encode()
    return SingleImage(raw=RawManifest(data, media_type, DIGEST), manifest=manifest,
                       config=Descriptor(media_type="x", digest=DIGEST, size=len(config_data)),
                       config_data=config_data, config_doc=config_doc,
                       layers=[Descriptor(media_type=layer["mediaType"], digest=DIGEST,  # type: ignore[arg-type]
                                          size=10)])


@pytest.mark.parametrize(("media_type", "layer_type"), [
    ("application/vnd.docker.distribution.manifest.v2+json",
     "application/vnd.docker.image.rootfs.diff.tar.gzip"),
    ("application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip"),
])
def test_added_layers_get_their_family_s_type_a_diff_id_and_a_history_entry(
    media_type: str, layer_type: str,
) -> None:
    image = single(media_type, {"created": "2024-01-01T00:00:00Z",
                                "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
                                "history": [{"created_by": "base"}]})
    new = PreparedLayer(Path("x"), "sha256:" + "2" * 64, 42, "sha256:" + "3" * 64)
    manifest, config = _add_layers(image, [new], "registry-client append")
    assert manifest["layers"][-1] == {"mediaType": layer_type, "size": 42, "digest": new.digest}
    assert config["rootfs"]["diff_ids"] == ["sha256:" + "1" * 64, new.diff_id]
    assert config["history"] == [{"created_by": "base"}, {
        "created": "2024-01-01T00:00:00Z", "created_by": "registry-client append"}]
    assert image.config_doc["rootfs"]["diff_ids"] == ["sha256:" + "1" * 64]  # type: ignore[index]
    flat_manifest, flat_config = _add_layers(image, [new], "flatten", replace=True,
                                             comment="old")
    assert [d["digest"] for d in flat_manifest["layers"]] == [new.digest]
    assert flat_config["rootfs"]["diff_ids"] == [new.diff_id]
    assert flat_config["history"][0]["comment"] == "old"


def test_append_without_layers_or_with_a_bad_tag_sends_nothing() -> None:
    repo = Registry("127.0.0.1:9", protocol="http").repository("app")
    with pytest.raises(LayerError, match="no layers"):
        mutate.append(repo, "base", [], tag="new")
    with pytest.raises(InvalidReferenceError):
        mutate.flatten(repo, "1.0", tag="not a tag")
    assert repo.requester.stats["requests"] == 0


def test_a_base_without_history_gets_an_entry_per_layer_before_the_appended_one() -> None:
    image = single("application/vnd.oci.image.manifest.v1+json",
                   {"rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]}})
    new = PreparedLayer(Path("x"), "sha256:" + "2" * 64, 42, "sha256:" + "3" * 64)
    manifest, config = _add_layers(image, [new], "registry-client append")
    assert config["rootfs"]["diff_ids"][-1] == new.diff_id
    assert len(manifest["layers"]) == 2
    assert len(config["history"]) == 2  # one per layer, as the image spec asks
    assert "registry-client" in config["history"][0]["comment"]
    assert config["history"][1]["created_by"] == "registry-client append"


def test_history_gets_one_layer_entry_per_layer() -> None:
    empty = {"created_by": "ENV A=1", "empty_layer": True}
    full = [{"created_by": "ADD"}, empty, {"created_by": "RUN"}]
    assert _history_for(full, 2) == full
    assert _history_for(None, 2) == [_NO_HISTORY, _NO_HISTORY]
    assert _history_for([empty, {"created_by": "RUN"}], 2) == [
        _NO_HISTORY, empty, {"created_by": "RUN"}]
    # the entries after the old base's: its empty ones go with it when they line up
    assert _split_history([*full, {"created_by": "app"}], 2, 3) == [{"created_by": "app"}]
    assert _split_history([*full, empty, {"created_by": "app"}], 2, 1) == [
        empty, {"created_by": "app"}]
    assert _split_history(full, 0, 0) == full


def test_a_layer_is_typed_as_the_manifest_s_family_or_refused() -> None:
    docker, oci = ("application/vnd.docker.distribution.manifest.v2+json",
                   "application/vnd.oci.image.manifest.v1+json")
    gz = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": DIGEST,
          "size": 3}
    as_docker = _layer_in(gz, docker)
    assert as_docker == {**gz, "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"}
    assert _layer_in(as_docker, oci) == gz
    assert _layer_in(gz, oci) == gz
    foreign = {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
               "digest": DIGEST, "size": 3, "urls": ["https://example.com/l"]}
    assert _layer_in(foreign, oci)["mediaType"] == (
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
    assert _layer_in(foreign, oci)["urls"] == foreign["urls"]
    zstd = {**gz, "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd"}
    assert _layer_in(zstd, oci) == zstd
    with pytest.raises(LayerError, match="Docker schema 2"):
        _layer_in(zstd, docker)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"entrypoint": "python"}, TypeError, "entrypoint: a list of str"),
    ({"cmd": "serve"}, TypeError, "cmd: a list of str"),
    ({"cmd": ["serve", 1]}, TypeError, "1 is not a str"),
    ({"exposed_ports": "8080"}, TypeError, "exposed_ports: a list of str"),
    ({"exposed_ports": ["abc"]}, ValueError, "'abc' is no port"),
    ({"exposed_ports": ["8080/xyz"]}, ValueError, "is no port"),
    ({"exposed_ports": ["70000"]}, ValueError, "is no port"),
    ({"env": {"K": None}}, TypeError, "keys and values must be str"),
    ({"env": {"A=B": "1"}}, ValueError, "no variable name"),
    ({"env": {"": "1"}}, ValueError, "no variable name"),
    ({"env": ["A=1"]}, TypeError, "env: a mapping"),
    ({"labels": {"k": 1}}, TypeError, "labels: 'k': 1"),
    ({"annotations": {1: "v"}}, TypeError, "annotations"),
    ({"user": 1000}, TypeError, "user: a str"),
])
def test_config_arguments_of_the_wrong_kind_are_refused_before_any_request(
    kwargs: dict[str, object], error: type[Exception], message: str,
) -> None:
    repo = Registry("127.0.0.1:9", protocol="http").repository("app")
    with pytest.raises(error, match=message):
        mutate.config(repo, "1.0", tag="new", **kwargs)  # type: ignore[arg-type]
    assert repo.requester.stats["requests"] == 0


def test_ports_are_written_with_their_protocol() -> None:
    assert [_port(p) for p in ("8080", "53/udp", "9/sctp", "443/tcp")] == [
        "8080/tcp", "53/udp", "9/sctp", "443/tcp"]


@pytest.mark.parametrize("layers", ["small", Path("small")])
def test_one_layer_not_in_a_list_is_refused(layers: object) -> None:
    repo = Registry("127.0.0.1:9", protocol="http").repository("app")
    with pytest.raises(TypeError, match="layers: a list"):
        mutate.append(repo, "base", layers, tag="new")  # type: ignore[arg-type]
    assert repo.requester.stats["requests"] == 0


def test_a_config_with_a_lone_surrogate_escape_is_written_back_as_read() -> None:
    # a label the registry served as "\ud800" (valid JSON, no UTF-8 for it)
    assert _dumps({"Labels": {"a": "\ud800"}}) == b'{"Labels":{"a":"\\ud800"}}'


def test_a_name_where_the_repository_belongs_is_a_type_error() -> None:
    # ("'str' object has no attribute 'registry'")
    with pytest.raises(TypeError, match=r"the repository to change an image in is a "
                                         r"Repository \(registry.repository"):
        mutate.config("demo/app", "1.0", tag="2.0", labels={"a": "b"})  # type: ignore[arg-type]


def test_an_error_about_the_registry_s_answer_says_where(tmp_path: Path) -> None:
    schema1 = json.dumps({"schemaVersion": 1, "name": "app", "tag": "old", "fsLayers": []})
    with requests_mock.Mocker() as mocked, Registry("registry.example") as reg:
        mocked.get("https://registry.example/v2/app/manifests/old", text=schema1, headers={
            "Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"})
        # (the registry: a base named in another repository of it is read too)
        with pytest.raises(RegistryError, match=r"^registry.example: the registry sent"):
            mutate.config(reg.repository("app"), "old", tag="new", labels={"a": "b"})


def test_a_document_that_cannot_be_written_back_is_a_registry_response_error() -> None:
    # (1e400 reads as infinite: it was a bare ValueError naming nothing)
    with pytest.raises(RegistryResponseError, match="cannot be written back changed"):
        _dumps({"config": {"x": float("inf")}})
