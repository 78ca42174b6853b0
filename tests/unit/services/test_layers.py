"""The streaming layer reader: decompression, tar-stream checks and diff_ids, fed in pieces."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile

import pytest

from registry_client.services._layers import LayerProblem, LayerReader, TarCheck


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def read(data: bytes, media_type: str = "", piece: int = 7) -> tuple[str, LayerReader]:
    reader = LayerReader(media_type)
    for i in range(0, len(data), piece):
        reader.feed(data[i:i + piece])
    return reader.finish(), reader


TAR = tar_of({"a.txt": b"hello", "dir/b.bin": os.urandom(3000), "long/" * 30 + "c": b"c"})
DIFF_ID = "sha256:" + hashlib.sha256(TAR).hexdigest()


@pytest.mark.parametrize("piece", [1, 7, 512, 1 << 20])
def test_plain_and_gzip_tars_give_their_diff_id(piece: int) -> None:
    assert read(TAR, "application/vnd.oci.image.layer.v1.tar", piece)[0] == DIFF_ID
    diff_id, reader = read(gzip.compress(TAR), "application/vnd.oci.image.layer.v1.tar+gzip",
                           piece)
    assert (diff_id, reader.compression, reader.size) == (DIFF_ID, "gzip", len(TAR))


def test_concatenated_gzip_members_are_one_stream() -> None:
    half = len(TAR) // 2
    data = gzip.compress(TAR[:half]) + gzip.compress(TAR[half:])
    assert read(data)[0] == DIFF_ID


@pytest.mark.parametrize("broken, message", [
    (os.urandom(2000), "not a tar stream"),
    (TAR[:1000], "ends in the middle"),
    (gzip.compress(TAR)[:-20], "truncated"),
    (b"\x1f\x8b\x08\x00garbage-garbage", "gzip stream is corrupt"),
])
def test_broken_layers_are_problems(broken: bytes, message: str) -> None:
    with pytest.raises(LayerProblem, match=message):
        read(broken)


def test_a_media_type_that_contradicts_the_content_is_a_problem() -> None:
    with pytest.raises(LayerProblem, match="says gzip, its content is not compressed"):
        read(TAR, "application/vnd.docker.image.rootfs.diff.tar.gzip")


def test_zstd_without_a_zstd_module_is_a_clear_problem() -> None:
    with pytest.raises(LayerProblem, match="zstd"):
        read(b"\x28\xb5\x2f\xfd" + os.urandom(100), "application/vnd.oci.image.layer.v1.tar+zstd")


def test_tar_check_accepts_a_stream_without_end_marker_at_a_member_boundary() -> None:
    check = TarCheck()
    check.feed(TAR[:-1024].rstrip(b"\0") + b"\0" * (-len(TAR[:-1024].rstrip(b"\0")) % 512))
    check.finish()
    assert check.members >= 3
