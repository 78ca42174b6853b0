"""mutate (append, config, flatten, rebase) and images.export on Distribution 2.8, proven
with umoci: bases are real tar layers umoci packed, results are unpacked by umoci."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _tar_images import sha256, tar_of
from _umoci import build_layout, tar_files, tree_files, unpack

from registry_client import (
    BaseMismatchError,
    Image,
    PlatformNotFoundError,
    RawManifest,
    Registry,
    Repository,
    mutate,
)
from registry_client.testing import LocalRegistry, seed_image

pytestmark = pytest.mark.integration

BASE_LAYERS = [
    {"etc/os-release": b"NAME=base\n", "etc/gone": b"to be deleted\n",
     "usr/bin/tool": b"#!/bin/sh\necho tool\n"},
    {"etc/motd": b"hello from base\n"},
]


@pytest.fixture
def client(anon_registry: LocalRegistry) -> Iterator[Registry]:
    with Registry(anon_registry.host, protocol="http") as reg:
        yield reg


def push_base(repo: Repository, tmp_path: Path, tag: str, layers: list[dict[str, bytes | None]],
              architecture: str | None = None) -> Image:
    """Build ``layers`` with umoci and push them to ``repo:tag`` with images.push."""
    layout = build_layout(tmp_path / f"build-{repo.name.replace('/', '-')}-{tag}", tag, layers,
                          architecture=architecture)
    return repo.images.push(layout, tag)


def app_dir(root: Path) -> Path:
    app = root / "app"
    (app / "srv" / "data").mkdir(parents=True)
    (app / "srv" / "main.sh").write_text("#!/bin/sh\necho app\n")
    (app / "srv" / "main.sh").chmod(0o755)
    (app / "srv" / "data" / "values.json").write_text('{"a": 1}\n')
    (app / "srv" / "link").symlink_to("main.sh")
    return app


def unpacked(repo: Repository, reference: str, tmp_path: Path, name: str) -> Path:
    """Pull ``reference`` with images.pull, unpack it with umoci: its root filesystem."""
    layout = tmp_path / f"pulled-{name}"
    repo.images.pull(reference, layout)
    return unpack(layout, reference, tmp_path / f"bundle-{name}")


def config_of(repo: Repository, reference: str) -> dict[str, object]:
    manifest = json.loads(repo.manifests.get_raw(reference).data)
    doc: dict[str, object] = json.loads(repo.blobs.get(manifest["config"]["digest"]))
    return doc


def test_append_of_a_directory_twice_gives_one_digest_and_umoci_sees_base_and_app(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    repo = client.repository(unique_repository)
    base = push_base(repo, tmp_path, "base", BASE_LAYERS)
    app = app_dir(tmp_path)
    first = mutate.append(repo, "base", [app], tag="app-1")
    os.utime(app / "srv" / "main.sh", (1_000_000, 1_000_000))  # mtimes are not content
    second = mutate.append(repo, "base", [app], tag="app-2")
    assert first.digest == second.digest != base.digest
    assert (first.tag, first.repository) == ("app-1", unique_repository)

    manifest = json.loads(repo.manifests.get_raw("app-1").data)
    base_manifest = json.loads(repo.manifests.get_raw("base").data)
    assert manifest["layers"][:2] == base_manifest["layers"]
    assert len(manifest["layers"]) == 3
    config = config_of(repo, "app-1")
    base_config = config_of(repo, "base")
    assert config["rootfs"]["diff_ids"][:2] == base_config["rootfs"]["diff_ids"]  # type: ignore[index]
    assert len(config["rootfs"]["diff_ids"]) == 3  # type: ignore[index]
    assert config["history"][-1]["created_by"] == "registry-client append"  # type: ignore[index]
    assert config["created"] == base_config["created"]

    rootfs = unpacked(repo, "app-1", tmp_path, "app")
    files = tree_files(rootfs)
    assert files["etc/os-release"] == b"NAME=base\n"
    assert files["etc/motd"] == b"hello from base\n"
    assert files["srv/main.sh"] == b"#!/bin/sh\necho app\n"
    assert files["srv/data/values.json"] == b'{"a": 1}\n'
    assert os.readlink(rootfs / "srv" / "link") == "main.sh"
    assert os.stat(rootfs / "srv" / "main.sh").st_mode & 0o777 == 0o755


@pytest.mark.parametrize("base", [None, "scratch"])
def test_append_onto_scratch_gives_an_image_of_the_layers_alone(
    client: Registry, unique_repository: str, tmp_path: Path, base: str | None,
) -> None:
    # FROM scratch (crane's append without a base): an empty image of the platform asked
    # for (linux/amd64 by default), the same digest every time
    repo = client.repository(unique_repository)
    app = app_dir(tmp_path)
    first = mutate.append(repo, base, [app], tag="app")
    again = mutate.append(repo, None, [app], tag="again")
    assert first.digest == again.digest
    assert [str(p) for p in first.platforms] == ["linux/amd64"]
    manifest = json.loads(repo.manifests.get_raw("app").data)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.oci.image.layer.v1.tar+gzip"]
    config = config_of(repo, "app")
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    assert "created" not in config  # nothing that changes from run to run
    assert len(config["rootfs"]["diff_ids"]) == 1  # type: ignore[index]
    assert [h["created_by"] for h in config["history"]] == [  # type: ignore[attr-defined]
        "registry-client append"]
    assert repo.images.validate("app").ok
    rootfs = unpacked(repo, "app", tmp_path, "scratch")
    assert sorted(tree_files(rootfs)) == ["srv/data/values.json", "srv/main.sh"]
    assert os.readlink(rootfs / "srv" / "link") == "main.sh"

    arm = mutate.append(repo, base, [app], tag="arm", platform="linux/arm64/v8")
    config = config_of(repo, "arm")
    assert (config["architecture"], config["os"], config["variant"]) == ("arm64", "linux", "v8")
    assert arm.digest != first.digest
    assert json.loads(repo.manifests.get_raw("arm").data)["layers"] == manifest["layers"]


def test_append_sends_no_blob_the_registry_has(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    """The second append uploads nothing: the layer and config are there (HEAD only)."""
    repo = client.repository(unique_repository)
    push_base(repo, tmp_path, "base", BASE_LAYERS)
    app = app_dir(tmp_path)
    mutate.append(repo, "base", [app], tag="one")
    before = anon_registry.request_count("POST", f"/{unique_repository}/blobs/uploads")
    mutate.append(repo, "base", [app], tag="two")
    assert anon_registry.request_count("POST", f"/{unique_repository}/blobs/uploads") == before


def test_append_onto_a_base_in_another_repository_mounts_its_layers(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    base_repo = client.repository(unique_repository + "-base")
    push_base(base_repo, tmp_path, "1.0", BASE_LAYERS)
    repo = client.repository(unique_repository)
    layer = tmp_path / "extra.tar"
    with tarfile.open(layer, "w") as tar:
        info = tarfile.TarInfo("opt/extra.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"extra\n"))
    image = mutate.append(repo, f"{anon_registry.host}/{unique_repository}-base:1.0", [layer],
                          tag="1.0")
    assert image.repository == unique_repository
    mounts = anon_registry.request_count("POST", f"/{unique_repository}/blobs/uploads/?mount=")
    assert mounts >= 2  # the base's two layers (its config is rewritten, so uploaded)
    files = tree_files(unpacked(repo, "1.0", tmp_path, "mounted"))
    assert files["opt/extra.txt"] == b"extra\n"
    assert files["etc/motd"] == b"hello from base\n"
    # the short form, a repository of the same registry, reads the same base
    again = mutate.append(repo, f"{unique_repository}-base:1.0", [layer], tag="1.1")
    assert again.digest == image.digest


def test_a_same_registry_repo_and_tag_of_letters_and_digits_is_no_digest(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    """``python:latest`` matches the digest grammar (algorithm ``python``), and was taken
    for a digest: UnsupportedDigestError, where ``python:3.12`` worked (a '.' is no
    digest's). A digest names an algorithm this client knows; anything else is a name."""
    short = unique_repository.replace("/", "-")  # one path component, no '.'
    base = seed_image(anon_registry, short, "latest", seed=77)
    repo = client.repository(unique_repository)
    image = mutate.config(repo, f"{short}:latest", tag="1.0", labels={"k": "v"})
    assert config_of(repo, "1.0")["config"]["Labels"] == {"k": "v"}  # type: ignore[index]
    layers = json.loads(repo.manifests.get_raw("1.0").data)["layers"]
    assert [d["digest"] for d in layers] == list(base.layers)
    assert image.tag == "1.0"


def test_config_sets_labels_entrypoint_and_annotations(
    client: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    repo = client.repository(unique_repository)
    push_base(repo, tmp_path, "base", BASE_LAYERS)
    image = mutate.config(
        repo, "base", tag="configured", labels={"org.example.team": "web"},
        env={"MODE": "prod"}, entrypoint=["/srv/main.sh"], cmd=["--serve"], user="1000",
        workdir="/srv", exposed_ports=["8080", "53/udp"],
        annotations={"org.example.note": "mutated"}, created="2025-01-02T03:04:05Z")
    details = repo.images.details("configured")
    assert details[0].labels == {"org.example.team": "web"}
    assert details[0].created is not None and details[0].created.year == 2025
    settings = config_of(repo, "configured")["config"]
    assert settings["Entrypoint"] == ["/srv/main.sh"]  # type: ignore[index]
    assert settings["Cmd"] == ["--serve"]  # type: ignore[index]
    assert settings["User"] == "1000" and settings["WorkingDir"] == "/srv"  # type: ignore[index]
    assert "MODE=prod" in settings["Env"]  # type: ignore[index]
    assert set(settings["ExposedPorts"]) >= {"8080/tcp", "53/udp"}  # type: ignore[index]
    manifest = json.loads(repo.manifests.get_raw("configured").data)
    assert manifest["annotations"]["org.example.note"] == "mutated"
    assert image.digest == repo.manifests.head("configured").digest
    # layers untouched
    base_manifest = json.loads(repo.manifests.get_raw("base").data)
    assert manifest["layers"] == base_manifest["layers"]


def test_flatten_gives_one_layer_whose_export_equals_the_original_s(
    client: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    repo = client.repository(unique_repository)
    push_base(repo, tmp_path, "base", [*BASE_LAYERS, {"etc/gone": None}])
    mutate.append(repo, "base", [app_dir(tmp_path)], tag="app")
    flat = mutate.flatten(repo, "app", tag="flat")
    manifest = json.loads(repo.manifests.get_raw("flat").data)
    assert len(manifest["layers"]) == 1
    config = config_of(repo, "flat")
    assert len(config["rootfs"]["diff_ids"]) == 1  # type: ignore[index]
    assert len(config["history"]) == 1  # type: ignore[arg-type]
    # the old history in the comment, as crane flatten writes it: a JSON array (it was
    # an object, {"history": [...]}, which readers of crane's comment do not parse)
    comment = json.loads(config["history"][0]["comment"])  # type: ignore[index]
    assert comment == config_of(repo, "app")["history"]
    original = repo.images.export("app", tmp_path / "app.tar")
    flattened = repo.images.export("flat", tmp_path / "flat.tar")
    assert tar_files(original) == tar_files(flattened)
    assert original.read_bytes() == flattened.read_bytes()
    assert "etc/gone" not in tar_files(flattened)
    assert tree_files(unpacked(repo, "flat", tmp_path, "flat")) == tar_files(flattened)
    assert mutate.flatten(repo, "app", tag="flat-again").digest == flat.digest


def test_rebase_swaps_the_base_layers_and_keeps_the_app_layer(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    repo = client.repository(unique_repository)
    old = push_base(repo, tmp_path, "base-1", BASE_LAYERS)
    new_repo = client.repository(unique_repository + "-bases")
    new = push_base(new_repo, tmp_path, "2", [
        {"etc/os-release": b"NAME=patched\n", "usr/bin/tool": b"#!/bin/sh\necho v2\n"}])
    mutate.append(repo, "base-1", [app_dir(tmp_path)], tag="app")
    app_manifest = json.loads(repo.manifests.get_raw("app").data)
    rebased = mutate.rebase(repo, "app", old_base="base-1",
                            new_base=f"{unique_repository}-bases:2", tag="app-rebased")
    manifest = json.loads(repo.manifests.get_raw("app-rebased").data)
    new_manifest = json.loads(new_repo.manifests.get_raw("2").data)
    assert manifest["layers"] == [*new_manifest["layers"], app_manifest["layers"][-1]]
    assert manifest["annotations"]["org.opencontainers.image.base.digest"] == new.digest
    config = config_of(repo, "app-rebased")
    new_config = config_of(new_repo, "2")
    app_config = config_of(repo, "app")
    assert config["rootfs"]["diff_ids"] == [  # type: ignore[index]
        *new_config["rootfs"]["diff_ids"], app_config["rootfs"]["diff_ids"][-1]]  # type: ignore[index]
    files = tree_files(unpacked(repo, "app-rebased", tmp_path, "rebased"))
    assert files["etc/os-release"] == b"NAME=patched\n"
    assert files["srv/main.sh"] == b"#!/bin/sh\necho app\n"
    assert "etc/motd" not in files  # only the old base had it
    assert rebased.digest != old.digest
    with pytest.raises(BaseMismatchError, match="not built on"):
        mutate.rebase(repo, "app", old_base=f"{unique_repository}-bases:2", new_base="base-1",
                      tag="refused")
    assert "refused" not in repo.tags.get_all()


def test_a_whiteout_layer_deletes_a_base_file_for_export_and_umoci(
    client: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    repo = client.repository(unique_repository)
    push_base(repo, tmp_path, "base", BASE_LAYERS)
    deleting = tmp_path / "delete.tar.gz"
    with tarfile.open(deleting, "w:gz") as tar:
        for name in ("etc/.wh.gone", "usr/bin/.wh..wh..opq"):
            tar.addfile(tarfile.TarInfo(name))
        info = tarfile.TarInfo("usr/bin/new-tool")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"new\n"))
    mutate.append(repo, "base", [deleting], tag="deleted")
    exported = tar_files(repo.images.export("deleted", tmp_path / "rootfs.tar"))
    umoci_files = tree_files(unpacked(repo, "deleted", tmp_path, "deleted"))
    for files in (exported, umoci_files):
        assert "etc/gone" not in files
        assert "usr/bin/tool" not in files  # the opaque directory hid it
        assert files["usr/bin/new-tool"] == b"new\n"
        assert files["etc/motd"] == b"hello from base\n"
    assert exported == umoci_files
    assert not any(".wh." in name for name in exported)


def test_a_base_whiteout_made_by_umoci_is_applied_by_export(
    client: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    repo = client.repository(unique_repository)
    push_base(repo, tmp_path, "base", [*BASE_LAYERS, {"etc/gone": None}])
    exported = tar_files(repo.images.export("base", tmp_path / "rootfs.tar"))
    assert exported == tree_files(unpacked(repo, "base", tmp_path, "base"))
    assert "etc/gone" not in exported and "etc/motd" in exported


def test_an_index_is_changed_per_platform_or_one_platform_alone(
    client: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    repo = client.repository(unique_repository)
    amd = push_base(repo, tmp_path, "amd64", BASE_LAYERS)
    arm = push_base(repo, tmp_path, "arm64", BASE_LAYERS[:1], architecture="arm64")
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [
                 {"mediaType": amd.media_type, "digest": amd.digest, "size": amd.size,
                  "platform": {"os": "linux", "architecture": "amd64"}},
                 {"mediaType": arm.media_type, "digest": arm.digest, "size": arm.size,
                  "platform": {"os": "linux", "architecture": "arm64"}}]}
    data = json.dumps(index).encode()
    repo.manifests.put("multi", RawManifest(data, index["mediaType"],  # type: ignore[arg-type]
                                            "sha256:" + hashlib.sha256(data).hexdigest()))
    app = app_dir(tmp_path)
    both = mutate.append(repo, "multi", [app], tag="multi-app")
    assert [str(p) for p in both.platforms] == ["linux/amd64", "linux/arm64"]
    for platform, count in (("linux/amd64", 3), ("linux/arm64", 2)):
        files = tar_files(repo.images.export("multi-app", tmp_path / f"{count}.tar",
                                             platform=platform))
        assert files["srv/main.sh"] == b"#!/bin/sh\necho app\n"
        assert ("etc/motd" in files) is (platform == "linux/amd64")
    with pytest.raises(PlatformNotFoundError, match=r"\(linux/amd64, linux/arm64\): choose "
                       "one with platform="):
        repo.images.export("multi-app", tmp_path / "none.tar")
    flat = mutate.flatten(repo, "multi-app", tag="multi-flat")
    assert [str(p) for p in flat.platforms] == ["linux/amd64", "linux/arm64"]
    for p in flat.platforms:
        assert p.digest is not None
        assert len(json.loads(repo.manifests.get_raw(p.digest).data)["layers"]) == 1
    noted = mutate.config(repo, "multi", tag="noted", annotations={"k": "v"})
    assert json.loads(repo.manifests.get_raw("noted").data)["annotations"] == {"k": "v"}
    assert [p.digest for p in noted.platforms] == [amd.digest, arm.digest]  # configs unchanged
    with pytest.raises(PlatformNotFoundError, match="single linux/amd64 image"):
        mutate.flatten(repo, "amd64", tag="nope", platform="linux/arm64")
    one = mutate.config(repo, "multi", tag="arm-only", labels={"a": "b"}, platform="linux/arm64")
    assert len(one.platforms) == 1 and one.platforms[0].architecture == "arm64"
    assert repo.images.details("arm-only")[0].labels == {"a": "b"}


def test_append_onto_a_docker_image_adds_a_docker_layer(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    seed_image(anon_registry, unique_repository, "empty", layers=(), media="docker")
    repo = client.repository(unique_repository)
    image = mutate.append(repo, "empty", [app_dir(tmp_path)], tag="app")
    assert image.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    manifest = json.loads(repo.manifests.get_raw("app").data)
    assert [d["mediaType"] for d in manifest["layers"]] == [
        "application/vnd.docker.image.rootfs.diff.tar.gzip"]
    files = tar_files(repo.images.export("app", tmp_path / "rootfs.tar"))
    assert set(files) == {"srv/main.sh", "srv/data/values.json"}


def test_big_layers_stream_through_files_not_memory(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    """A 48 MiB file appended, flattened and exported: Python's memory peak stays a
    fraction of it (the layer goes through temporary files in blocks; a download's
    hashing may hold up to HASH_AHEAD 1 MiB blocks, 16 MiB)."""
    seed_image(anon_registry, unique_repository, "empty", layers=(), media="oci")
    big = tmp_path / "big" / "data"
    big.mkdir(parents=True)
    with open(big / "blob.bin", "wb") as f:
        for _ in range(48):
            f.write(os.urandom(1 << 20))
    repo = client.repository(unique_repository)
    tracemalloc.start()
    try:
        mutate.append(repo, "empty", [tmp_path / "big"], tag="big")
        mutate.flatten(repo, "big", tag="big-flat")
        exported = repo.images.export("big-flat", tmp_path / "rootfs.tar")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 << 20, f"peak {peak >> 20} MiB"  # half the layer
    with tarfile.open(exported) as tar:
        assert tar.getmember("data/blob.bin").size == 48 << 20


def test_mutate_works_in_every_auth_mode_and_mounts_across_repositories(
    any_registry: LocalRegistry, client_for: Any, unique_repository: str, tmp_path: Path,
) -> None:
    """Basic and token auth: reading the base's repository and mounting from it need the
    pull scope there and push here, which the requester asks for."""
    seed_image(any_registry, unique_repository + "-base", "1", layers=(), media="oci")
    reg = client_for(any_registry)
    base_repo = reg.repository(unique_repository + "-base")
    layer_dir = tmp_path / "layer"
    (layer_dir / "etc").mkdir(parents=True)
    (layer_dir / "etc" / "base.txt").write_text("base\n")
    mutate.append(base_repo, "1", [layer_dir], tag="2")
    repo = reg.repository(unique_repository)
    app = mutate.append(repo, f"{unique_repository}-base:2", [app_dir(tmp_path)], tag="app")
    labelled = mutate.config(repo, "app", tag="app", labels={"auth": any_registry.auth})
    flat = mutate.flatten(repo, "app", tag="flat")
    files = tar_files(repo.images.export("flat", tmp_path / "rootfs.tar"))
    assert files["etc/base.txt"] == b"base\n" and "srv/main.sh" in files
    assert len({app.digest, labelled.digest, flat.digest}) == 3


def test_rebasing_an_index_onto_a_base_lacking_one_of_its_platforms_is_refused(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    two = ["linux/amd64", "linux/arm64"]
    seed_image(anon_registry, unique_repository, "old", layers=(100,), platforms=two, seed=1)
    seed_image(anon_registry, unique_repository, "new", layers=(200,), platforms=two, seed=2)
    seed_image(anon_registry, unique_repository, "new-amd64", layers=(300,), seed=3)
    repo = client.repository(unique_repository)
    old_amd64 = json.loads(repo.manifests.get_raw("old").data)["manifests"][0]["digest"]
    mutate.append(repo, "old", [app_dir(tmp_path)], tag="app")
    both = mutate.rebase(repo, "app", old_base="old", new_base="new", tag="rebased")
    assert [str(p) for p in both.platforms] == two
    # refused for its second platform: nothing pushed for the first either (it was:
    # its layers mounted, its config uploaded, its manifest put by digest)
    anon_registry.clear_access_log()
    for old, new in (("old", "new-amd64"), (old_amd64, "new")):
        with pytest.raises(PlatformNotFoundError, match="linux/arm64"):
            mutate.rebase(repo, "app", old_base=old, new_base=new, tag="mixed")
    writes = [(e.method, e.path) for e in anon_registry.access_log_entries()
              if e.method not in ("GET", "HEAD")]
    assert writes == []
    assert "mixed" not in repo.tags.get_all()


@pytest.mark.parametrize(("image_media", "base_media"), [("docker", "oci"), ("oci", "docker")])
def test_rebase_across_docker_and_oci_types_the_base_layers_as_the_image_s_family(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
    image_media: str, base_media: str,
) -> None:
    seed_image(anon_registry, unique_repository, "old", layers=(100,), media=image_media,
               seed=1)
    seed_image(anon_registry, unique_repository, "new", layers=(200, 300), media=base_media,
               seed=2)
    repo = client.repository(unique_repository)
    mutate.append(repo, "old", [app_dir(tmp_path)], tag="app")
    rebased = mutate.rebase(repo, "app", old_base="old", new_base="new", tag="rebased")
    manifest = json.loads(repo.manifests.get_raw("rebased").data)
    family = ({"application/vnd.docker.image.rootfs.diff.tar.gzip"} if image_media == "docker"
              else {"application/vnd.oci.image.layer.v1.tar+gzip"})
    assert rebased.media_type == json.loads(repo.manifests.get_raw("app").data)["mediaType"]
    assert {d["mediaType"] for d in manifest["layers"]} == family
    new = json.loads(repo.manifests.get_raw("new").data)
    assert [d["digest"] for d in manifest["layers"][:2]] == [d["digest"] for d in new["layers"]]
    # skopeo parses the manifest: it refuses a schema 2 manifest listing OCI layer types
    inspected = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false",
         f"docker://{anon_registry.host}/{unique_repository}:rebased"],
        capture_output=True, text=True, timeout=120)
    assert inspected.returncode == 0, inspected.stderr
    assert len(json.loads(inspected.stdout)["Layers"]) == 3


def push_without_history(repo: Repository, tag: str, layers: list[bytes]) -> None:
    """An OCI image of ``layers`` (random bytes) whose config has no history."""
    digests = ["sha256:" + hashlib.sha256(b).hexdigest() for b in layers]
    for blob, digest in zip(layers, digests, strict=True):
        repo.blobs.upload(blob, digest=digest)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": digests}}).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    repo.blobs.upload(config, digest=config_digest)
    oci = "application/vnd.oci.image.manifest.v1+json"
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": oci,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": d, "size": len(b)} for d, b in zip(digests, layers, strict=True)],
    }).encode()
    repo.manifests.put(tag, RawManifest(manifest, oci,
                                        "sha256:" + hashlib.sha256(manifest).hexdigest()))


def layer_entries(config: dict[str, Any]) -> int:
    return sum(1 for h in config["history"] if not h.get("empty_layer"))


def test_history_has_one_entry_per_layer_after_append_and_rebase(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    repo = client.repository(unique_repository)
    push_without_history(repo, "bare", [b"one", b"two"])
    seed_image(anon_registry, unique_repository, "with", layers=(100, 200, 300), media="oci")
    mutate.append(repo, "bare", [app_dir(tmp_path)], tag="app")
    config: dict[str, Any] = config_of(repo, "app")
    assert layer_entries(config) == 3 and config["history"][-1]["created_by"] == (
        "registry-client append")
    # an image without history rebased onto a base with history
    push_without_history(repo, "bare-app", [b"one", b"two", b"app"])
    mutate.rebase(repo, "bare-app", old_base="bare", new_base="with", tag="rebased")
    rebased: dict[str, Any] = config_of(repo, "rebased")
    assert len(rebased["rootfs"]["diff_ids"]) == 4 and layer_entries(rebased) == 4
    assert rebased["history"][:3] == config_of(repo, "with")["history"]
    # and back: the app keeps its own entry, the bare base gets one per layer
    mutate.rebase(repo, "rebased", old_base="with", new_base="bare", tag="back")
    back: dict[str, Any] = config_of(repo, "back")
    assert len(back["rootfs"]["diff_ids"]) == 3 and layer_entries(back) == 3
    assert back["history"][-1] == rebased["history"][-1]


def test_a_new_entrypoint_clears_cmd_unless_cmd_is_given_too(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    seed_image(anon_registry, unique_repository, "base", media="oci")
    repo = client.repository(unique_repository)
    assert config_of(repo, "base")["config"]["Cmd"] == ["/bin/sh"]  # type: ignore[index]
    mutate.config(repo, "base", tag="ep", entrypoint=["/app"])
    settings: dict[str, Any] = config_of(repo, "ep")["config"]  # type: ignore[assignment]
    assert settings["Entrypoint"] == ["/app"] and "Cmd" not in settings  # as crane, docker
    mutate.config(repo, "base", tag="both", entrypoint=["/app"], cmd=["--serve"])
    settings = config_of(repo, "both")["config"]  # type: ignore[assignment]
    assert settings["Entrypoint"] == ["/app"] and settings["Cmd"] == ["--serve"]
    mutate.config(repo, "base", tag="cmd", cmd=["-c", "true"])
    settings = config_of(repo, "cmd")["config"]  # type: ignore[assignment]
    assert settings["Cmd"] == ["-c", "true"] and "Entrypoint" not in settings


def test_annotations_on_a_docker_manifest_or_list_are_refused(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str,
) -> None:
    seed_image(anon_registry, unique_repository, "one", media="docker")
    seed_image(anon_registry, unique_repository, "list", media="docker",
               platforms=["linux/amd64", "linux/arm64"])
    repo = client.repository(unique_repository)
    for reference, platform in (("one", None), ("list", None), ("list", "linux/arm64")):
        with pytest.raises(ValueError, match="Docker schema 2 has no annotations"):
            mutate.config(repo, reference, tag="noted", annotations={"k": "v"},
                          platform=platform)
    assert "noted" not in repo.tags.get_all()
    mutate.config(repo, "one", tag="labelled", labels={"k": "v"})  # labels are fine


def put_json(repo: Repository, doc: dict[str, Any], media_type: str,
             tag: str | None = None) -> tuple[str, int]:
    data = json.dumps(doc).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    repo.manifests.put(tag or digest, RawManifest(data, media_type, digest))
    return digest, len(data)


def test_attestations_of_changed_images_are_dropped_others_kept(
    client: Registry, anon_registry: LocalRegistry, unique_repository: str, tmp_path: Path,
) -> None:
    seed_image(anon_registry, unique_repository, "plain", media="oci",
               platforms=["linux/amd64", "linux/arm64"])
    repo = client.repository(unique_repository)
    oci, oci_index = ("application/vnd.oci.image.manifest.v1+json",
                      "application/vnd.oci.image.index.v1+json")
    images = json.loads(repo.manifests.get_raw("plain").data)["manifests"]
    statement = b'{"_type": "https://in-toto.io/Statement/v0.1"}'
    statement_digest = "sha256:" + hashlib.sha256(statement).hexdigest()
    repo.blobs.upload(statement, digest=statement_digest)
    attestations = []
    for image in images:
        # as BuildKit writes them: an image manifest (OCI image config) for unknown/unknown
        config = json.dumps({"architecture": "unknown", "os": "unknown",
                             "rootfs": {"type": "layers",
                                        "diff_ids": [statement_digest]}}).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        repo.blobs.upload(config, digest=config_digest)
        digest, size = put_json(repo, {
            "schemaVersion": 2, "mediaType": oci,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.in-toto+json",
                        "digest": statement_digest, "size": len(statement)}]}, oci)
        attestations.append({
            "mediaType": oci, "digest": digest, "size": size,
            "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                            "vnd.docker.reference.digest": image["digest"]}})
    put_json(repo, {"schemaVersion": 2, "mediaType": oci_index,
                    "manifests": [*images, *attestations]}, oci_index, tag="built")
    # index annotations only: the images keep their digests, so do their attestations
    noted = json.loads(repo.manifests.get_raw(
        mutate.config(repo, "built", tag="noted", annotations={"k": "v"}).digest).data)
    assert noted["manifests"] == [*images, *attestations]
    # a changed image: its attestation, about the old image, is dropped (not mutated)
    arm = mutate.config(repo, "built", tag="arm", labels={"a": "b"}, platform="linux/arm64")
    assert arm.media_type == oci
    both = json.loads(repo.manifests.get_raw(
        mutate.append(repo, "built", [app_dir(tmp_path)], tag="app").digest).data)
    assert [m["platform"]["architecture"] for m in both["manifests"]] == ["amd64", "arm64"]
    assert "vnd.docker.reference.type" not in json.dumps(both)


def test_annotations_alone_leave_a_config_without_settings_as_it_is(
    client: Registry, unique_repository: str,
) -> None:
    repo = client.repository(unique_repository)
    push_without_history(repo, "bare", [b"one"])  # its config has no "config" object
    bare = json.loads(repo.manifests.get_raw("bare").data)
    mutate.config(repo, "bare", tag="noted", annotations={"k": "v"})
    noted = json.loads(repo.manifests.get_raw("noted").data)
    assert noted["config"] == bare["config"]  # the same config blob
    assert noted["annotations"] == {"k": "v"}


def tar_layer(entries: list[tuple[str, str, bytes]]) -> bytes:
    """A tar of ``(name, kind, data)``: kind "file" (data), "dir", "symlink" or "hardlink"
    (data: the target)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                         "hardlink": tarfile.LNKTYPE}[kind]
            info.linkname = data.decode()
            tar.addfile(info)
    return out.getvalue()


def hand_layout(root: Path, tag: str, layers: list[bytes]) -> Path:
    """An OCI layout holding ``tag``: an amd64 image of the tar ``layers`` (uncompressed)."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    config = {"architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers",
                         "diff_ids": [blob(b)["digest"] for b in layers]}}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           **blob(json.dumps(config).encode())},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **blob(b)}
                           for b in layers]}
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": manifest["mediaType"], **blob(json.dumps(manifest).encode()),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    return root


def test_export_and_flatten_agree_with_umoci_on_links(
    client: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    layers = [
        tar_layer([("etc", "dir", b""), ("etc/hard1", "file", b"hard"),
                   ("etc/hard2", "hardlink", b"etc/hard1"), ("a", "dir", b""),
                   ("a/f1", "file", b"one"), ("a/hl", "hardlink", b"a/f1"),
                   ("lnk", "symlink", b"/etc")]),
        tar_layer([("a/f1", "file", b"two"), ("lnk/passwd2", "file", b"via link")]),
        tar_layer([("etc/.wh.hard1", "file", b"")]),
    ]
    layout = hand_layout(tmp_path / "layout", "links", layers)
    expected = tree_files(unpack(layout, "links", tmp_path / "bundle"))
    assert expected == {"etc/hard2": b"hard", "a/f1": b"two", "a/hl": b"one",
                        "etc/passwd2": b"via link"}  # what umoci makes of it
    repo = client.repository(unique_repository)
    repo.images.push(layout, "links")
    exported = repo.images.export("links", tmp_path / "rootfs.tar")
    extracted = tmp_path / "extracted"
    extracted.mkdir()
    subprocess.run(["tar", "-xf", str(exported), "-C", str(extracted)], check=True)
    assert tree_files(extracted) == expected
    mutate.flatten(repo, "links", tag="flat")
    assert tree_files(unpacked(repo, "flat", tmp_path, "flat")) == expected


def test_a_changed_config_or_entry_drops_the_embedded_data_of_the_old_one(
    client: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    """A descriptor's ``data`` is its blob's bytes (image-spec: they MUST match digest and
    size); a descriptor whose digest changes must not keep the old bytes. Unchanged
    descriptors keep theirs."""
    import base64

    repo = client.repository(unique_repository)
    base = push_base(repo, tmp_path, "base", BASE_LAYERS[:1])
    manifest = json.loads(repo.manifests.get_raw("base").data)
    config = repo.blobs.get(manifest["config"]["digest"])
    manifest["config"]["data"] = base64.b64encode(config).decode()
    layer = manifest["layers"][0]
    layer["data"] = base64.b64encode(repo.blobs.get(layer["digest"])).decode()
    data = json.dumps(manifest).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    repo.manifests.put("embedded", RawManifest(data, base.media_type, digest))
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": base.media_type, "digest": digest, "size": len(data),
                            "data": base64.b64encode(data).decode(),
                            "platform": {"os": "linux", "architecture": "amd64"}}]}
    index_data = json.dumps(index).encode()
    repo.manifests.put("embedded-index", RawManifest(
        index_data, index["mediaType"],  # type: ignore[arg-type]
        "sha256:" + hashlib.sha256(index_data).hexdigest()))

    def consistent(descriptor: dict[str, Any]) -> bool:
        if "data" not in descriptor:
            return True
        embedded = base64.b64decode(descriptor["data"])
        return ("sha256:" + hashlib.sha256(embedded).hexdigest() == descriptor["digest"]
                and len(embedded) == descriptor["size"])

    for image in (mutate.config(repo, "embedded", tag="labelled", labels={"new": "2"}),
                  mutate.append(repo, "embedded", [app_dir(tmp_path)], tag="appended"),
                  mutate.flatten(repo, "embedded", tag="flat")):
        doc = json.loads(repo.manifests.get_raw(image.digest).data)
        assert consistent(doc["config"]) and "data" not in doc["config"]
        assert all(consistent(d) for d in doc["layers"])
    kept = json.loads(repo.manifests.get_raw("appended").data)["layers"][0]
    assert kept["data"] == layer["data"]  # the unchanged base layer keeps its bytes
    changed = mutate.config(repo, "embedded-index", tag="labelled-index", labels={"n": "1"})
    entry = json.loads(repo.manifests.get_raw(changed.digest).data)["manifests"][0]
    assert entry["digest"] != digest and consistent(entry) and "data" not in entry


def test_every_verb_finds_a_platform_inside_a_nested_index(
    client: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    """An index whose amd64 image sits in an inner index (an entry naming no platform):
    pull found it, details / export / validate / flatten said there was no such
    platform. Every verb that takes a platform finds the same image."""
    repo = client.repository(unique_repository)
    amd = push_base(repo, tmp_path, "amd64", BASE_LAYERS)
    arm = push_base(repo, tmp_path, "arm64", BASE_LAYERS[:1], architecture="arm64")
    oci_index = "application/vnd.oci.image.index.v1+json"

    def put_index(tag: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        data = json.dumps({"schemaVersion": 2, "mediaType": oci_index,
                           "manifests": entries}).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        repo.manifests.put(tag, RawManifest(data, oci_index, digest))  # type: ignore[arg-type]
        return {"mediaType": oci_index, "digest": digest, "size": len(data)}

    inner = put_index("inner", [{"mediaType": amd.media_type, "digest": amd.digest,
                                 "size": amd.size,
                                 "platform": {"os": "linux", "architecture": "amd64"}}])
    put_index("nested", [inner, {"mediaType": arm.media_type, "digest": arm.digest,
                                 "size": arm.size,
                                 "platform": {"os": "linux", "architecture": "arm64"}}])
    amd64 = "linux/amd64"
    assert repo.images.pull("nested", tmp_path / "pulled", platform=amd64).digest == amd.digest
    assert [d.digest for d in repo.images.details("nested", platform=amd64)] == [amd.digest]
    assert repo.images.validate("nested", platform=amd64).ok
    files = tar_files(repo.images.export("nested", tmp_path / "amd.tar", platform=amd64))
    assert files["etc/motd"] == b"hello from base\n"
    flat = mutate.flatten(repo, "nested", tag="flat", platform=amd64)
    assert [str(p) for p in flat.platforms] == [amd64]
    assert repo.images.details("flat")[0].platform.architecture == "amd64"
    with pytest.raises(PlatformNotFoundError):
        repo.images.details("nested", platform="linux/s390x")


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def test_export_of_an_index_of_one_entry_without_a_platform(
    client: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    """An index entry's platform is optional: an index of one entry that names none
    was "a multi-platform index: choose a platform (have: )", and no --platform could
    choose it. It is that image, held against a platform asked for as a single one."""
    repo = client.repository(unique_repository)
    layer = tar_of({"hello.txt": b"hello\n"})
    gz = gzip.compress(layer, mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [sha256(layer)]}}).encode()
    layer_d, config_d = repo.blobs.upload(gz), repo.blobs.upload(config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_d.digest,
        "size": config_d.size}, "layers": [{"mediaType": OCI_LAYER, "digest": layer_d.digest,
                                            "size": layer_d.size}]}).encode()
    digest = sha256(manifest)
    repo.manifests.put(digest, RawManifest(data=manifest, media_type=OCI_MANIFEST,
                                           digest=digest))
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest)}]}).encode()
    repo.manifests.put("noplat", RawManifest(data=index, media_type=OCI_INDEX,
                                             digest=sha256(index)))
    for platform in (None, "linux/amd64"):
        out = repo.images.export("noplat", tmp_path / f"fs-{platform is None}.tar",
                                 platform=platform)
        assert tar_files(out) == {"hello.txt": b"hello\n"}
    with pytest.raises(PlatformNotFoundError):
        repo.images.export("noplat", tmp_path / "arm.tar", platform="linux/arm64")



def _windows_image(repo: Repository, tag: str, layers: list[bytes], os_version: str) -> None:
    """Push ``layers`` (tars) as a windows/amd64 image of ``os_version`` under ``tag``, and
    an index of it (its entry naming the os version) under ``tag-idx``."""
    oci, index_type = "application/vnd.oci.image.manifest.v1+json", \
        "application/vnd.oci.image.index.v1+json"
    descs = []
    for tar in layers:
        packed = gzip.compress(tar, mtime=0)
        repo.blobs.upload(packed)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "size": len(packed), "digest": sha256(packed)})
    config = json.dumps({"architecture": "amd64", "os": "windows", "os.version": os_version,
                         "config": {}, "rootfs": {"type": "layers",
                                                  "diff_ids": [sha256(t) for t in layers]}}
                        ).encode()
    repo.blobs.upload(config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": oci, "layers": descs, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
        "digest": sha256(config)}}).encode()
    digest = repo.manifests.put(tag, RawManifest(manifest, oci, sha256(manifest)))
    index = json.dumps({"schemaVersion": 2, "mediaType": index_type, "manifests": [{
        "mediaType": oci, "digest": digest, "size": len(manifest),
        "platform": {"architecture": "amd64", "os": "windows", "os.version": os_version}}]}
    ).encode()
    repo.manifests.put(f"{tag}-idx", RawManifest(index, index_type, sha256(index)))


def test_rebase_onto_a_patched_windows_base_takes_its_os_version(
    client: Registry, unique_repository: str,
) -> None:
    """Rebasing a Windows image onto a newer revision of its OS build is what rebase is
    for there: it was refused ("a single windows/amd64 image, not windows/amd64", the
    os versions unsaid), or done with the old os.version left in the config. As crane's
    mutate.Rebase, the result takes os, architecture and os.version from the new base;
    the bases are matched by the build (10.0.17763), as Windows runs them."""
    repo = client.repository(unique_repository)
    old, patched = tar_of({"Files/base": b"old"}), tar_of({"Files/base": b"patched"})
    _windows_image(repo, "old", [old], "10.0.17763.1")
    _windows_image(repo, "new", [patched], "10.0.17763.2000")
    _windows_image(repo, "other-build", [patched], "10.0.20348.1")
    _windows_image(repo, "app", [old, tar_of({"Files/app": b"app"})], "10.0.17763.1")
    for old_base, new_base in (("old", "new"), ("old-idx", "new-idx")):
        rebased = mutate.rebase(repo, "app", old_base=old_base, new_base=new_base,
                                tag=f"rebased-{new_base}")
        config = config_of(repo, f"rebased-{new_base}")
        assert (config["os"], config["architecture"], config["os.version"]) == (
            "windows", "amd64", "10.0.17763.2000"), new_base
        assert [p.os_version for p in rebased.platforms] == ["10.0.17763.2000"]
    # an index of the image: its entry's platform, which a Windows host picks by, too
    _windows_image(repo, "app-in", [old, tar_of({"Files/app": b"app"})], "10.0.17763.1")
    rebased = mutate.rebase(repo, "app-in-idx", old_base="old", new_base="new",
                            tag="rebased-index")
    [entry] = json.loads(repo.manifests.get_raw("rebased-index").data)["manifests"]
    assert entry["platform"] == {"architecture": "amd64", "os": "windows",
                                 "os.version": "10.0.17763.2000"}
    assert [p.os_version for p in rebased.platforms] == ["10.0.17763.2000"]
    with pytest.raises(PlatformNotFoundError, match=r"windows/amd64:10\.0\.20348\.1") as other:
        mutate.rebase(repo, "app", old_base="old-idx", new_base="other-build-idx",
                      tag="refused")
    assert "windows/amd64:10.0.17763" in str(other.value)


def _layer_entries(repo: Repository, reference: str, index: int) -> list[tarfile.TarInfo]:
    manifest = json.loads(repo.manifests.get_raw(reference).data)
    blob = repo.blobs.get(manifest["layers"][index]["digest"])
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        return tar.getmembers()


def test_append_onto_a_windows_base_lays_the_layer_out_for_windows(
    client: Registry, unique_repository: str, tmp_path: Path,
) -> None:
    """crane append: "If the base image is a Windows base image (config.OS is "windows"),
    the contents of the tarballs will be modified to be suitable for a Windows container
    image" -- its files under Files/, the Hives and Files folders first, each entry with
    a security descriptor (PAX MSWINDOWS.rawsd: owner and group BUILTIN\\Users). The
    layer was packed as for Linux, which Windows cannot use. A layer laid out for
    Windows already is kept as it is; a Linux base's layers are not touched."""
    repo = client.repository(unique_repository)
    _windows_image(repo, "base", [tar_of({"Files/base.dll": b"base"})], "10.0.17763.1")
    app = tmp_path / "app"
    (app / "bin").mkdir(parents=True)
    (app / "bin" / "app.exe").write_bytes(b"MZ app")
    mutate.append(repo, "base", [app], tag="app")
    entries = _layer_entries(repo, "app", 1)
    assert [(e.name, e.isdir()) for e in entries] == [
        ("Hives", True), ("Files", True), ("Files/bin", True), ("Files/bin/app.exe", False)]
    sd = "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA=="
    assert all(e.pax_headers.get("MSWINDOWS.rawsd") == sd for e in entries[2:])
    config = config_of(repo, "app")
    manifest = json.loads(repo.manifests.get_raw("app").data)
    layer = repo.blobs.get(manifest["layers"][1]["digest"])
    assert config["rootfs"]["diff_ids"][1] == sha256(gzip.decompress(layer))  # type: ignore[index]
    laid_out = tmp_path / "laid-out.tar"
    laid_out.write_bytes(tar_of({"Files/tool.exe": b"MZ tool", "Hives/x": b""}))
    mutate.append(repo, "base", [laid_out], tag="as-given")
    assert [e.name for e in _layer_entries(repo, "as-given", 1)] == ["Files/tool.exe", "Hives/x"]
