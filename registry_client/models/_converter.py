"""The library's one cattrs converter and the JSON <-> model functions built on it.

How models map to JSON:

* field names are snake_case and JSON keys camelCase (``media_type`` ->
  ``mediaType``), except the keys listed in ``_KEYS`` (``os.version``,
  ``diff_ids``, the capitalised container-config keys...);
* ``None`` values and empty defaults (``Platform.os_features == ()``) are left
  out, while collections that were present, even empty, are written back;
* keys a class does not model, and keys that were explicitly ``null``, are
  collected into the class's ``extra`` dict and merged back when writing.

So ``converter.unstructure(converter.structure(doc, Cls)) == doc`` for real
registry documents.  Values are checked strictly (a string is not a list, a
bool is not an int) and descriptor digests and sizes are validated; the
``*_from_bytes`` functions turn every problem into a RegistryResponseError.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory, list_structure_factory
from cattrs.errors import AttributeValidationNote, ClassValidationError, IterableValidationError
from cattrs.gen import (
    make_dict_structure_fn,
    make_dict_unstructure_fn,
    make_mapping_structure_fn,
    override,
)

from ..errors import RegistryError, RegistryResponseError
from ..reference import DIGEST_RULE, is_valid_digest
from .descriptor import Descriptor, Platform
from .image import ContainerConfig, History, Image, ImageConfig, RootFS, TagPage
from .manifest import (
    MAX_INDEX_ENTRIES,
    Manifest,
    ManifestList,
    ManifestV2,
    OCIIndex,
    OCIManifest,
    manifest_class_for,
)

__all__ = [
    "config_from_bytes",
    "converter",
    "descriptor_from_dict",
    "json_key",
    "manifest_from_bytes",
    "manifest_to_bytes",
    "media_type_of",
    "tag_page_from_bytes",
]

T = TypeVar("T")

StructureHook = Callable[[Any, Any], Any]


class _BadValue(ValueError):
    """A value of the wrong JSON type or out of range; its message is shown as is."""


_KINDS = {type(None): "null", bool: "a boolean", list: "an array", dict: "an object"}


def _kind(value: object) -> str:
    """How a JSON value looks, for error messages."""
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"the number {value!r}"[:60]
    return _KINDS.get(type(value), type(value).__name__)


# -- strict scalar hooks ----------------------------------------------------


def _structure_str(value: object, _: object) -> str:
    if isinstance(value, str):
        return value
    raise _BadValue(f"expected a string, got {_kind(value)}")


def _structure_int(value: object, _: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _BadValue(f"expected an integer, got {_kind(value)}")


def _structure_bool(value: object, _: object) -> bool:
    if isinstance(value, bool):
        return value
    raise _BadValue(f"expected true or false, got {_kind(value)}")


def _structure_digest(value: object, _: object) -> str:
    digest = _structure_str(value, _)
    if not is_valid_digest(digest):
        raise _BadValue(f"invalid digest {digest[:100]!r} (want {DIGEST_RULE})")
    return digest


def _structure_size(value: object, _: object) -> int:
    size = _structure_int(value, _)
    if size < 0:
        raise _BadValue(f"size must not be negative, got {size}")
    return size


# -- key naming --------------------------------------------------------------

_KEYS: dict[type, dict[str, str]] = {
    Platform: {"os_version": "os.version", "os_features": "os.features"},
    ImageConfig: {"os_version": "os.version", "os_features": "os.features"},
    RootFS: {"diff_ids": "diff_ids"},
    History: {"created_by": "created_by", "empty_layer": "empty_layer"},
    ContainerConfig: {
        "user": "User",
        "exposed_ports": "ExposedPorts",
        "env": "Env",
        "entrypoint": "Entrypoint",
        "cmd": "Cmd",
        "volumes": "Volumes",
        "working_dir": "WorkingDir",
        "labels": "Labels",
        "stop_signal": "StopSignal",
        "args_escaped": "ArgsEscaped",
    },
}
# Fields that are never read from or written to the class's JSON object.
_NOT_IN_JSON: dict[type, frozenset[str]] = {
    Platform: frozenset({"digest", "media_type", "size"}),
}
# Informative string fields a builder may fill with another JSON type (a Unix time
# for ``created``): read as None, the value kept in ``extra`` and written back, so
# one odd field does not make the image unreadable (ImageDetails reads it so too).
_LENIENT_STRINGS: dict[type, frozenset[str]] = {
    ImageConfig: frozenset({"created"}),
    History: frozenset({"created"}),
}
_STRUCT_HOOKS: dict[tuple[type, str], StructureHook] = {
    (Descriptor, "digest"): _structure_digest,
    (Descriptor, "size"): _structure_size,
}
_MANIFEST_MODELS = (ManifestV2, ManifestList, OCIManifest, OCIIndex)
_MODELS: frozenset[type] = frozenset(
    {Platform, Descriptor, *_MANIFEST_MODELS, ImageConfig, ContainerConfig, RootFS, History}
    | {Image, TagPage}
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def json_key(cls: type, field_name: str) -> str:
    """The JSON key of field ``field_name`` of model class ``cls``."""
    return _KEYS.get(cls, {}).get(field_name) or _camel(field_name)


def _allows_none(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp)


def _in_json(cls: type, field: attrs.Attribute[Any]) -> bool:
    return field.name != "extra" and field.name not in _NOT_IN_JSON.get(cls, frozenset())


# -- model hooks: generated by cattrs, wrapped to keep unknown keys in ``extra`` --


def _make_structure(cls: type[Any]) -> StructureHook:
    attrs.resolve_types(cls)
    overrides: dict[str, Any] = {}
    keys: dict[str, str] = {}  # JSON key -> field name
    absent_is_none: list[tuple[str, str]] = []
    empty_by_default: list[str] = []  # JSON keys of fields whose default is ()
    required_nullable: list[str] = []  # JSON keys of fields with no default that allow None
    for field in attrs.fields(cls):
        if not _in_json(cls, field):
            overrides[field.name] = override(omit=True)
            continue
        key = json_key(cls, field.name)
        keys[key] = field.name
        hook = _STRUCT_HOOKS.get((cls, field.name))
        if cls is Image and field.name == "platforms":
            hook = _structure_reported_platforms
        overrides[field.name] = override(rename=key, struct_hook=hook)
        if field.default not in (attrs.NOTHING, None) and _allows_none(field.type):
            absent_is_none.append((key, field.name))
        elif field.default is attrs.NOTHING and _allows_none(field.type):
            required_nullable.append(key)  # written without its key when None
        if isinstance(field.default, tuple) and field.default == ():
            empty_by_default.append(key)
    generated = make_dict_structure_fn(cls, converter, **overrides)
    has_extra = "extra" in attrs.fields_dict(cls)
    lenient = _LENIENT_STRINGS.get(cls, frozenset())

    def structure(obj: Any, _: Any) -> Any:
        if not isinstance(obj, Mapping):
            raise _BadValue(f"expected an object, got {_kind(obj)}")
        odd = {k: v for k, v in obj.items() if k in lenient and not isinstance(v, str)}
        missing = [key for key in required_nullable if key not in obj]
        fields = {**obj, **dict.fromkeys(missing), **dict.fromkeys(odd)} \
            if missing or odd else obj
        instance = generated(fields, cls)
        changes: dict[str, Any] = {name: None for key, name in absent_is_none if key not in obj}
        if has_extra:
            # Unknown keys, known keys that were explicitly null, and empty lists of
            # fields whose default is empty (else left out when written): all survive.
            extra = {k: v for k, v in obj.items()
                     if k not in keys or v is None or (v == [] and k in empty_by_default)
                     or k in odd}
            if extra:
                changes["extra"] = extra
        return attrs.evolve(instance, **changes) if changes else instance

    return structure


def _make_unstructure(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    attrs.resolve_types(cls)
    overrides: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if not _in_json(cls, field):
            overrides[field.name] = override(omit=True)
            continue
        empty_default = isinstance(field.default, tuple) and field.default == ()
        hook = None
        if (cls, field.name) == (Image, "platforms"):
            hook = _unstructure_reported_platforms
        overrides[field.name] = override(
            rename=json_key(cls, field.name), omit_if_default=empty_default, unstruct_hook=hook
        )
    generated = make_dict_unstructure_fn(cls, converter, **overrides)
    has_extra = "extra" in attrs.fields_dict(cls)

    def unstructure(instance: Any) -> dict[str, Any]:
        result = {k: v for k, v in generated(instance).items() if v is not None}
        if has_extra:
            for key, value in instance.extra.items():
                result.setdefault(key, value)
        return result

    return unstructure


_REPORT_KEYS: dict[str, tuple[str, StructureHook]] = {
    "digest": ("digest", _structure_digest),
    "mediaType": ("media_type", _structure_str),
    "size": ("size", _structure_size),
}


def _unstructure_reported_platforms(platforms: list[Platform]) -> list[dict[str, Any]]:
    """Image.platforms: the platform JSON plus the manifest's digest, mediaType and size."""
    result = []
    for p in platforms:
        item = converter.unstructure(p, Platform)
        for key, (name, _) in _REPORT_KEYS.items():
            if getattr(p, name) is not None:
                item[key] = getattr(p, name)
        result.append(item)
    return result


def _structure_reported_platforms(value: Any, _: Any) -> list[Platform]:
    result = []
    for p in converter.structure(value, list[Platform]):
        known = {
            name: hook(p.extra[k], None) for k, (name, hook) in _REPORT_KEYS.items() if k in p.extra
        }
        extra = {k: v for k, v in p.extra.items() if k not in _REPORT_KEYS}
        result.append(attrs.evolve(p, extra=extra, **known))
    return result


# -- strict collections ------------------------------------------------------


def _is_list(tp: Any) -> bool:
    return get_origin(tp) is list


def _is_var_tuple(tp: Any) -> bool:
    args = get_args(tp)
    return get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _is_dict(tp: Any) -> bool:
    return get_origin(tp) is dict


def _array_hook(tp: Any) -> StructureHook:
    make = homogenous_tuple_structure_factory if _is_var_tuple(tp) else list_structure_factory
    inner = make(tp, converter)

    def structure_array(value: Any, t: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise _BadValue(f"expected an array, got {_kind(value)}")
        return inner(value, t)

    return structure_array


def _object_hook(tp: Any) -> StructureHook:
    inner = make_mapping_structure_fn(tp, converter, dict, detailed_validation=True)

    def structure_object(value: Any, t: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _BadValue(f"expected an object, got {_kind(value)}")
        return inner(value, t)

    return structure_object


converter = cattrs.Converter(unstruct_collection_overrides={tuple: list})
"""The library's converter: ``converter.structure(json_dict, Descriptor)``,
``converter.unstructure(model)`` -> JSON-ready dict."""

converter.register_structure_hook(str, _structure_str)
converter.register_structure_hook(int, _structure_int)
converter.register_structure_hook(bool, _structure_bool)
converter.register_structure_hook_factory(lambda t: _is_list(t) or _is_var_tuple(t), _array_hook)
converter.register_structure_hook_factory(_is_dict, _object_hook)
converter.register_structure_hook_factory(lambda t: t in _MODELS, _make_structure)
converter.register_unstructure_hook_factory(lambda t: t in _MODELS, _make_unstructure)


def _structure_manifest(value: Any, _: object) -> Manifest:
    """``converter.structure(doc, Manifest)``: the class is chosen as for a fetched manifest."""
    if not isinstance(value, Mapping):
        raise _BadValue(f"expected an object, got {_kind(value)}")
    cls: Any = manifest_class_for(value)
    return converter.structure(value, cls)  # type: ignore[no-any-return]


converter.register_structure_hook(Manifest, _structure_manifest)


# -- errors ------------------------------------------------------------------


def _message(exc: BaseException) -> str:
    if isinstance(exc, _BadValue):
        return str(exc)
    if isinstance(exc, KeyError):
        return "required field missing"
    return f"invalid value ({type(exc).__name__}: {str(exc)[:100]})"


def _problems(exc: BaseException, path: str = "$") -> list[str]:
    """Flatten a cattrs validation error into ``"<problem> at <JSON path>"`` strings."""
    if not isinstance(exc, (ClassValidationError, IterableValidationError)):
        return [f"{_message(exc)} at {path}"]
    noted, plain = exc.group_exceptions()
    found: list[str] = []
    for sub, note in noted:
        if isinstance(note, AttributeValidationNote):
            found += _problems(sub, f"{path}.{json_key(exc.cl, note.name)}")
        else:
            found += _problems(sub, f"{path}[{note.index!r}]")
    return found + [p for sub in plain for p in _problems(sub, path)]


def _structure(data: Any, cls: type[T], what: str) -> T:
    try:
        return converter.structure(data, cls)
    except RegistryError:
        raise
    except Exception as exc:
        problems = _problems(exc)
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise RegistryResponseError(f"malformed {what}: " + "; ".join(problems[:5]) + more) from exc


def _load_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:  # includes JSONDecodeError, UnicodeDecodeError
        raise RegistryResponseError(f"{what} is not valid JSON: {str(exc)[:200]}") from exc
    except TypeError as exc:
        raise RegistryResponseError(f"{what} must be bytes, got {type(data).__name__}") from exc
    if not isinstance(doc, dict):
        raise RegistryResponseError(f"{what} must be a JSON object, got {_kind(doc)}")
    return doc


# -- public functions ----------------------------------------------------------


def manifest_from_bytes(data: bytes, content_type: str | None = None) -> Manifest:
    """Parse a manifest as received from a registry.

    The class is chosen by ``content_type`` (parameters such as ``;
    charset=utf-8`` are ignored, and generic types like ``application/json``
    count as absent), else by the JSON ``mediaType``, else by shape
    (``manifests`` -> OCIIndex, ``config``/``layers`` -> OCIManifest).

    Raises:
        SchemaV1NotSupportedError: a Docker schema1 manifest.
        UnknownSchemaError: a media type, schemaVersion or shape the library does not know.
        RegistryResponseError: invalid JSON, a malformed manifest, or an index with more
            than ``MAX_INDEX_ENTRIES`` (1,000) entries.
    """
    doc = _load_object(data, "manifest")
    cls = manifest_class_for(doc, content_type)
    entries = doc.get("manifests")
    if cls in (ManifestList, OCIIndex) and isinstance(entries, list) \
            and len(entries) > MAX_INDEX_ENTRIES:
        raise RegistryResponseError(
            f"{cls.__name__} with {len(entries)} entries: more than {MAX_INDEX_ENTRIES} "
            "is refused"
        )
    return _structure(doc, cls, f"{cls.__name__} manifest")


def manifest_to_bytes(manifest: Manifest) -> bytes:
    """The manifest as compact UTF-8 JSON (same input, same bytes)."""
    document = converter.unstructure(manifest)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def media_type_of(manifest: Manifest) -> str:
    """The manifest's ``media_type``, or its class's ``MEDIA_TYPE`` when that is None."""
    return manifest.media_type or type(manifest).MEDIA_TYPE


def config_from_bytes(data: bytes) -> ImageConfig:
    """Parse an image configuration blob.

    Raises:
        RegistryResponseError: invalid JSON or a malformed configuration.
    """
    return _structure(_load_object(data, "image config"), ImageConfig, "image config")


def descriptor_from_dict(data: Mapping[str, Any]) -> Descriptor:
    """Validate and convert one descriptor JSON object.

    Raises:
        RegistryResponseError: the object is not a valid descriptor.
    """
    return _structure(data, Descriptor, "descriptor")


def tag_page_from_bytes(data: bytes, last: str | None = None) -> TagPage:
    """Parse a ``/v2/<name>/tags/list`` answer; ``"tags": null`` gives no tags.

    ``last`` is the marker for the next page (from the Link header), if any.

    Raises:
        RegistryResponseError: invalid JSON or a malformed answer.
    """
    doc = _load_object(data, "tag list")
    tags = doc.get("tags")
    fields = {"name": doc.get("name"), "tags": [] if tags is None else tags}
    page = _structure(fields, TagPage, "tag list")
    return attrs.evolve(page, last=last) if last is not None else page
