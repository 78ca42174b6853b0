"""What a copy plans with (``services._plan``)."""

from __future__ import annotations

import pytest

from registry_client import Registry
from registry_client.services._plan import check_target


def test_a_copy_target_that_is_no_repository_is_a_type_error() -> None:
    # a name where a Repository belongs (as crane takes one) ended in "'str' object
    # has no attribute 'requester'"
    with pytest.raises(TypeError, match=r"registry.repository\(name\) .* not str"):
        check_target("demo/other")
    with pytest.raises(TypeError, match="not dict"):
        check_target({})
    with Registry("registry.example") as reg:
        check_target(reg.repository("demo/other"))
        with pytest.raises(TypeError, match="not str"):
            reg.repository("app").images.copy("1.0", "demo/other")  # type: ignore[arg-type]
