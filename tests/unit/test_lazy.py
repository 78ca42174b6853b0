"""The packages' names loaded on first use (``registry_client._lazy``)."""

from __future__ import annotations

import pytest

import registry_client
from registry_client import models, services, testing


@pytest.mark.parametrize("package", [registry_client, models, services, testing])
def test_every_exported_name_loads_and_dir_lists_it(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    for name in names:
        assert getattr(package, name) is not None
    assert set(names) <= set(dir(package))


@pytest.mark.parametrize("package", [registry_client, models, services, testing])
def test_an_unknown_name_is_an_attribute_error_naming_the_package(package: object) -> None:
    name = package.__name__  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=rf"module '{name}' has no attribute 'nope'"):
        package.nope  # type: ignore[attr-defined]  # noqa: B018


def test_a_loaded_name_is_cached_in_the_package() -> None:
    value = services.TagService
    assert vars(services)["TagService"] is value


def test_the_sync_task_names_are_importable_from_registry_client() -> None:
    from registry_client import SyncTask, TaskResult  # (the import is what is tested)
    from registry_client.sync import SyncTask as task  # (same)
    from registry_client.sync import TaskResult as result

    assert (SyncTask, TaskResult) == (task, result)
