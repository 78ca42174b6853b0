"""Every script in examples/ runs against a real local registry, so none of them rots."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from registry_client.testing import LocalRegistry, LocalRegistryFactory, SeededImage, seed_image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True, text=True, timeout=120, check=False, cwd=EXAMPLES,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def seeded(local_registry_factory: LocalRegistryFactory) -> tuple[LocalRegistry, SeededImage]:
    reg = local_registry_factory("anonymous")
    image = seed_image(reg, "demo/app", "1.0", layers=(2048, 4096))
    seed_image(reg, "demo/multi", "1.0", platforms=["linux/amd64", "linux/arm64/v8"])
    for tag in ("1.1", "1.2", "latest"):
        seed_image(reg, "demo/app", tag, layers=(2048, 4096))
    return reg, image


def test_every_example_is_covered() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    tested = {"list_tags.py", "tags_with_digests.py", "inspect_image.py", "download_blob.py",
              "pull_push.py", "copy_between_registries.py", "retag.py", "delete.py",
              "image_size.py", "search_catalog.py", "parse_references.py", "demo.py",
              "async_tour.py", "mutate_append.py", "dask_mirror.py"}
    assert scripts == tested


def test_list_tags(seeded: tuple[LocalRegistry, SeededImage]) -> None:
    reg, _ = seeded
    out = run("list_tags.py", reg.url, "demo/app", "2")
    assert sorted(out.splitlines()[1:]) == ["1.0", "1.1", "1.2", "latest"]


def test_tags_with_digests(seeded: tuple[LocalRegistry, SeededImage]) -> None:
    reg, image = seeded
    lines = run("tags_with_digests.py", reg.url, "demo/app").splitlines()
    assert f"1.0\t{image.digest}" in lines and len(lines) == 4


def test_inspect_image(seeded: tuple[LocalRegistry, SeededImage]) -> None:
    reg, _ = seeded
    out = run("inspect_image.py", reg.url, "demo/multi", "1.0")
    assert "platform   linux/amd64" in out and "platform   linux/arm64/v8" in out


def test_download_blob(seeded: tuple[LocalRegistry, SeededImage], tmp_path: Path) -> None:
    reg, image = seeded
    out = run("download_blob.py", reg.url, "demo/app", "1.0", str(tmp_path / "layer"))
    assert "verified" in out
    assert (tmp_path / "layer").read_bytes() in image.blobs.values()


def test_pull_push(seeded: tuple[LocalRegistry, SeededImage], tmp_path: Path) -> None:
    reg, _ = seeded
    out = run("pull_push.py", reg.url, "demo/app", "1.0", str(tmp_path / "lay"), "demo/again")
    assert "same digest: True" in out


def test_async_tour(seeded: tuple[LocalRegistry, SeededImage], tmp_path: Path) -> None:
    reg, image = seeded
    out = run("async_tour.py", reg.url, "demo/app", "1.0", str(tmp_path / "lay"), "demo/async")
    assert "read 4 manifests at once: 1.0, 1.1, 1.2, latest" in out
    assert f"pulled {image.digest}" in out
    assert f"({sum(len(b) for b in image.blobs.values())} blob bytes)" in out
    assert "same digest: True" in out
    assert "blob(s) to mount, 0 bytes to transfer" in out
    assert f"copied to demo/async-mirror:1.0 {image.digest}" in out


def test_copy_between_registries(
    seeded: tuple[LocalRegistry, SeededImage], local_registry_factory: LocalRegistryFactory
) -> None:
    reg, image = seeded
    other = local_registry_factory("anonymous")
    out = run("copy_between_registries.py", reg.url, other.url, "demo/app", "1.0")
    assert image.digest in out


def test_retag_and_delete(seeded: tuple[LocalRegistry, SeededImage]) -> None:
    reg, image = seeded
    assert image.digest in run("retag.py", reg.url, "demo/app", "1.0", "stable")
    out = run("delete.py", reg.url, "demo/app", "stable")
    assert "deleted tag stable" in out and "'1.0'" in out


def test_delete_by_digest(local_registry_factory: LocalRegistryFactory) -> None:
    reg = local_registry_factory("anonymous")
    image = seed_image(reg, "gone/app", "1.0")
    assert "deleted manifest" in run("delete.py", reg.url, "gone/app", image.digest)


def test_image_size(seeded: tuple[LocalRegistry, SeededImage]) -> None:
    reg, image = seeded
    out = run("image_size.py", reg.url, "demo/app", "1.0")
    expected = sum(len(b) for b in image.blobs.values())
    assert f"image: {expected} bytes in 2 layer(s)" in out


def test_search_catalog(seeded: tuple[LocalRegistry, SeededImage]) -> None:
    reg, _ = seeded
    assert "demo/multi" in run("search_catalog.py", reg.url, "multi").splitlines()


def test_parse_references() -> None:
    out = run("parse_references.py", "golang:1.12.0", "Invalid/Name")
    assert "domain=docker.io path=library/golang tag=1.12.0" in out
    assert "must be lowercase" in out


def test_demo() -> None:
    out = run("demo.py")
    assert "demo finished" in out and "linux/arm64/v8" in out


def test_mutate_append(seeded: tuple[LocalRegistry, SeededImage], tmp_path: Path) -> None:
    reg, _ = seeded
    seed_image(reg, "demo/site", "base", layers=(), media="oci")  # an image of no layers
    (tmp_path / "site" / "site").mkdir(parents=True)
    (tmp_path / "site" / "site" / "index.html").write_text("<h1>hello</h1>\n")
    out = run("mutate_append.py", reg.url, "demo/site", "base", str(tmp_path / "site"), "1.0",
              str(tmp_path / "rootfs.tar"))
    assert "reproducible: True" in out
    with tarfile.open(tmp_path / "rootfs.tar") as tar:
        page = tar.extractfile("site/index.html")
        assert page is not None and page.read() == b"<h1>hello</h1>\n"


def test_the_kubernetes_indexed_job_runs_one_shard_per_index(tmp_path: Path) -> None:
    import shlex

    import yaml

    from registry_client.sync import load_sync_file

    docs = list(yaml.safe_load_all((EXAMPLES / "sync-indexed-job.yaml").read_text()))
    [job] = [d for d in docs if d["kind"] == "Job"]
    spec = job["spec"]
    assert job["apiVersion"] == "batch/v1" and spec["completionMode"] == "Indexed"
    [container] = spec["template"]["spec"]["containers"]
    command = " ".join(container["command"])
    words = shlex.split(command.split("exec ", 1)[1])
    assert words[:3] == ["registry-client", "sync", "/config/mirror.yaml"]
    assert int(words[words.index("--shards") + 1]) == spec["completions"]
    assert "--shard" not in words  # the index comes from the Job, not the command line
    assert "${JOB_COMPLETION_INDEX}" in command  # one journal per index
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    # the sync file it mounts is one the CLI reads
    [config] = [d for d in docs if d["kind"] == "ConfigMap"]
    (tmp_path / "mirror.yaml").write_text(config["data"]["mirror.yaml"])
    assert len(load_sync_file(tmp_path / "mirror.yaml")) == 3
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/config", "/journal"} <= mounts
    assert {"name": "DOCKER_CONFIG", "value": "/docker"} in container["env"]


def test_dask_mirror(local_registry_factory: LocalRegistryFactory, tmp_path: Path) -> None:
    import json

    src, dst = local_registry_factory("anonymous"), local_registry_factory("anonymous")
    images = {tag: seed_image(src, "dask/app", tag, seed=60 + n, layers=(256,))
              for n, tag in enumerate(["1", "2", "3"])}
    (tmp_path / "mirror.json").write_text(json.dumps(
        {f"{src.host}/dask/app": f"{dst.host}/mirror/app"}))
    args = [str(tmp_path / "mirror.json"), "--plain-http", "--workers", "2",
            "--journal", str(tmp_path / "j.jsonl")]
    out = run("dask_mirror.py", *args)
    assert "3 copied, 0 already there, 0 journaled, 0 failed" in out
    for tag, image in images.items():
        assert f"copied  {dst.host}/mirror/app:{tag}@{image.digest}" in out
    assert dst.request_count("PUT", "/manifests/") == 3
    again = run("dask_mirror.py", *args)
    assert "0 copied, 0 already there, 3 journaled, 0 failed" in again
    assert dst.request_count("PUT", "/manifests/") == 3
