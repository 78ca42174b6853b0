"""A layer laid out for a Windows image, as ``crane append`` lays one out on a Windows base.

The layers of a Windows container image keep their files under ``Files/`` (registry
hives under ``Hives/``), and each entry carries its Windows security descriptor in a PAX
record (``MSWINDOWS.rawsd``). A layer packed as for Linux -- files at the tar's root -- is
useless there. :func:`for_windows` rewrites a prepared layer so: the ``Hives`` and
``Files`` folders first, then every entry under ``Files/`` with a descriptor whose owner
and group are ``BUILTIN\\Users`` (what crane writes); a layer laid out so already is
kept as it is.
"""

from __future__ import annotations

import base64
import copy
import posixpath
import struct
import tarfile
from pathlib import Path

from ._tarfs import ENCODING, ERRORS, PreparedLayer, gzip_file
from .errors import LayerError

__all__ = ["for_windows"]

FILES, HIVES = "Files", "Hives"
RAW_SD = "MSWINDOWS.rawsd"
"""The PAX record of an entry's security descriptor (self-relative, base64)."""


def _users_descriptor() -> str:
    """A self-relative security descriptor (revision 1, SE_SELF_RELATIVE) whose owner and
    group are BUILTIN\\Users (S-1-5-32-545), without access lists; base64, as the PAX
    record holds it."""
    users = bytes([1, 2]) + (5).to_bytes(6, "big") + struct.pack("<II", 32, 545)
    header = struct.pack("<BBHIIII", 1, 0, 0x8000, 20, 20 + len(users), 0, 0)
    return base64.b64encode(header + users + users).decode("ascii")


USERS_SD = _users_descriptor()


def _name(member_name: str) -> str:
    """A tar name without its leading ``/`` or ``./``; ``.`` for the root itself."""
    return posixpath.normpath(member_name.lstrip("/")) if member_name.strip("/.") else "."


def _laid_out(path: Path) -> bool:
    """Whether every entry of the gzip layer at ``path`` is under ``Files`` or ``Hives``."""
    with tarfile.open(path, "r|gz", encoding=ENCODING, errors=ERRORS) as tar:
        tops = {_name(m.name).split("/", 1)[0] for m in tar}
    return bool(tops) and tops <= {FILES, HIVES}


def for_windows(layer: PreparedLayer, dest: Path) -> PreparedLayer:
    """``layer`` laid out for a Windows image, written to ``dest`` (gzip, as ``layer``);
    ``layer`` itself when it is laid out so already.

    Raises:
        LayerError: the layer is not a gzip tar stream.
    """
    try:
        if _laid_out(layer.path):
            return layer
        plain = dest.with_name(dest.name + ".tar")
        with tarfile.open(layer.path, "r|gz", encoding=ENCODING, errors=ERRORS) as src, \
                open(plain, "wb") as out, \
                tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT,
                             encoding=ENCODING, errors=ERRORS) as tar:
            for folder in (HIVES, FILES):
                info = tarfile.TarInfo(folder)
                info.type, info.mode = tarfile.DIRTYPE, 0o555  # (Windows runs no modes)
                tar.addfile(info)
            for member in src:
                name = _name(member.name)
                if name == ".":
                    continue
                info = copy.copy(member)
                info.name = f"{FILES}/{name}"
                if member.islnk():  # a hard link names another entry of the tar
                    info.linkname = f"{FILES}/{_name(member.linkname)}"
                # (a name the source spelt in PAX records would win over the new one)
                kept = {k: v for k, v in member.pax_headers.items()
                        if k not in ("path", "linkpath")}
                info.pax_headers = {**kept, RAW_SD: USERS_SD}
                tar.addfile(info, src.extractfile(member) if member.isreg() else None)
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise LayerError(f"{layer.path}: not a layer to lay out for Windows ({exc})") from None
    with open(plain, "rb") as f:
        digest, size, diff_id = gzip_file(f, dest)
    plain.unlink()
    return PreparedLayer(dest, digest, size, diff_id)
