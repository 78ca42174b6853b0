"""registry_client.testing's image builder: random layers of any size."""

from __future__ import annotations

import random

import pytest

from registry_client.testing import _image


def test_a_layer_of_256_mib_or_more_is_built_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """random.randbytes takes at most 2**28 - 1 bytes (its bit count is a C int):
    seed_image(layers=[256 MiB]) raised OverflowError."""
    asked: list[int] = []

    class Checked(random.Random):
        def randbytes(self, n: int) -> bytes:
            asked.append(n)
            if n >= _image.RANDBYTES_MAX:
                raise OverflowError("Python int too large to convert to C int")
            return super().randbytes(n)

    monkeypatch.setattr(_image, "RANDBYTES_MAX", 1000)
    data = _image.random_bytes(Checked(7), 2500)
    assert len(data) == 2500 and asked == [999, 999, 502]
    assert _image.random_bytes(random.Random(7), 999) == random.Random(7).randbytes(999)
