"""Images built and read by umoci (Debian's ``umoci``, a tool nobody here wrote).

``build_layout`` makes an OCI layout whose layers are real tar layers that umoci packed
(``umoci repack`` after changing an unpacked bundle: deleted files become whiteouts);
``unpack`` turns a layout back into a root filesystem with ``umoci unpack --rootless``.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

UMOCI = shutil.which("umoci") or "/usr/bin/umoci"

Changes = Mapping[str, bytes | None]
"""One layer's changes: path -> new content, or None to delete the path."""


def umoci(*args: str) -> None:
    result = subprocess.run([UMOCI, *args], capture_output=True, timeout=120, check=False)
    assert result.returncode == 0, f"umoci {' '.join(args)}: {result.stderr.decode()[-2000:]}"


def build_layout(root: Path, tag: str, layers: Sequence[Changes], *,
                 architecture: str | None = None) -> Path:
    """An OCI layout at ``root`` holding ``tag``: one umoci layer per ``layers`` entry."""
    layout = root / "layout"
    umoci("init", "--layout", str(layout))
    umoci("new", "--image", f"{layout}:{tag}")
    if architecture:
        umoci("config", "--image", f"{layout}:{tag}", "--architecture", architecture)
    for i, changes in enumerate(layers):
        bundle = root / f"bundle-{i}"
        umoci("unpack", "--rootless", "--image", f"{layout}:{tag}", str(bundle))
        for name, content in changes.items():
            path = bundle / "rootfs" / name
            if content is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
        umoci("repack", "--image", f"{layout}:{tag}", str(bundle))
        shutil.rmtree(bundle)
    return layout


def unpack(layout: Path, tag: str, bundle: Path) -> Path:
    """``umoci unpack --rootless``: the root filesystem directory of ``layout:tag``."""
    umoci("unpack", "--rootless", "--image", f"{layout}:{tag}", str(bundle))
    return bundle / "rootfs"


def tree_files(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root``: relative path -> content."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def tar_files(path: Path) -> dict[str, bytes]:
    """Every regular file of a tar: name -> content."""
    files: dict[str, bytes] = {}
    with tarfile.open(path) as tar:
        for info in tar:
            if info.isreg():
                f = tar.extractfile(info)
                assert f is not None
                files[info.name] = f.read()
    return files
