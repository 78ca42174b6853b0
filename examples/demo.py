"""The demo: start a local registry, push a generated multi-platform image, then use the CLI.

Run it with ``make demo`` (or ``python examples/demo.py``). It needs the
``docker-registry`` binary (``apt-get install docker-registry``); nothing else
to configure. Every command shown is really run, and its real output printed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shlex
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from registry_client import RawManifest, Registry
from registry_client.mediatypes import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST
from registry_client.testing import LocalRegistry

PLATFORMS = [("linux", "amd64", None), ("linux", "arm64", "v8")]


def _layer(os_name: str, arch: str) -> tuple[bytes, str]:
    """A real gzipped tar layer with one file; returns (blob, diff_id)."""
    content = f"hello from {os_name}/{arch}\n".encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mtime = 1700000000
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    diff_id = _sha(tar_bytes)
    return gzip.compress(tar_bytes, mtime=0), diff_id


def push_generated_image(reg: Registry, name: str, tag: str) -> str:
    """Build a two-platform OCI image in memory and push it with the library."""
    repo = reg.repository(name)
    entries = []
    for os_name, arch, variant in PLATFORMS:
        layer, diff_id = _layer(os_name, arch)
        config = {
            "architecture": arch, "os": os_name, "created": "2026-11-23T12:00:00Z",
            "config": {"Cmd": ["cat", "/hello.txt"],
                       "Labels": {"org.opencontainers.image.title": "registry-client demo"}},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": "2026-11-23T12:00:00Z", "created_by": "demo.py"}],
        }
        if variant:
            config["variant"] = variant
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        config_desc = repo.blobs.upload(config_bytes)
        layer_desc = repo.blobs.upload(layer)
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_desc.digest,
                       "size": config_desc.size},
            "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer_desc.digest,
                        "size": layer_desc.size}],
        }
        data = json.dumps(manifest, separators=(",", ":")).encode()
        digest = repo.manifests.put(
            _sha(data), RawManifest(data=data, media_type=OCI_MANIFEST, digest=_sha(data))
        )
        platform = {"architecture": arch, "os": os_name}
        if variant:
            platform["variant"] = variant
        entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(data),
                        "platform": platform})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
                       separators=(",", ":")).encode()
    return repo.manifests.put(tag, RawManifest(data=index, media_type=OCI_INDEX,
                                               digest=_sha(index)))


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def cli(*args: str) -> str:
    """Run the CLI, show the command and its output; fail loudly on a non-zero exit."""
    cmd = ["registry-client", *args]
    print(f"\n$ {shlex.join(cmd)}", flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", "registry_client", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )
    out = proc.stdout.rstrip()
    if out:
        print(out)
    if proc.returncode != 0:
        print(proc.stderr.rstrip(), file=sys.stderr)
        raise SystemExit(f"demo step failed: {shlex.join(cmd)} (exit {proc.returncode})")
    return out


def main() -> int:
    """Run the demo end to end; exit status 0 when every step worked."""
    print("Starting a local registry (CNCF Distribution, anonymous, loopback)...")
    with LocalRegistry("anonymous") as local, tempfile.TemporaryDirectory() as tmp:
        host = local.host
        print(f"registry listening on http://{host}")
        with Registry(host, protocol="http") as reg:
            digest = push_generated_image(reg, "demo/hello", "1.0")
            print(f"pushed demo/hello:1.0 (2 platforms) with the library: {digest}")
        ref = f"{host}/demo/hello:1.0"
        cli("catalog", host, "--plain-http")
        cli("ls", f"{host}/demo/hello", "--plain-http")
        cli("inspect", ref, "--plain-http")
        layout = str(Path(tmp) / "layout")
        cli("pull", ref, layout, "--plain-http")
        print("layout on disk:", ", ".join(sorted(p.name for p in Path(layout).iterdir())))
        cli("copy", ref, f"{host}/demo/mirror:1.0", "--plain-http")
        cli("tag", f"{host}/demo/mirror:1.0", "stable", "--plain-http")
        cli("ls", f"{host}/demo/mirror", "--plain-http")
        cli("delete", f"{host}/demo/mirror:1.0", "--plain-http")
        cli("ls", f"{host}/demo/mirror", "--plain-http")
        cli("digest", f"{host}/demo/mirror:stable", "--plain-http")
    print("\nregistry stopped; demo finished.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
