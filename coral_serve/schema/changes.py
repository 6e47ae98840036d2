"""Editing a stored spec: JSON merge patch, and which fields apply hot or need a restart.

A field marks how a change to it reaches a running pipeline with
`json_schema_extra={"x-apply": "hot"}` (applied inside the worker, no frame lost) or
`"cold"` (the worker is replaced: same id, recordings and events). An unmarked field takes
its parent's rule, and a top-level one is cold: a field added later without thought is
safe, a restart, never a change the worker silently ignores.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field

from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.views import PipelineView

__all__ = [
    "APPLY_KEY",
    "Apply",
    "PipelineUpdate",
    "SpecChange",
    "apply_rule",
    "field_rules",
    "merge_diff",
    "merge_patch",
    "spec_changes",
    "spec_json_schema",
]

APPLY_KEY = "x-apply"


class Apply(str, Enum):
    hot = "hot"
    cold = "cold"


_DEFAULT = Apply.cold


class SpecChange(BaseModel):
    """What a new spec changes: `applied` is none (nothing), hot or cold (any cold field)."""

    applied: Literal["none", "hot", "cold"]
    changed: list[str] = Field(description="Dotted paths of the fields that differ.")


class PipelineUpdate(SpecChange):
    """The answer to PATCH and PUT: how the change was applied and the pipeline after it."""

    pipeline: PipelineView


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, `null` removes a key (back to its default),
    anything else (lists included) replaces the value."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def merge_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The merge patch that turns `old` into `new` (`merge_patch(old, it) == new`)."""
    patch: dict[str, Any] = {key: None for key in old.keys() - new.keys()}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(before, dict) and isinstance(value, dict):
            nested = merge_diff(before, value)
            if nested:
                patch[key] = nested
        elif key not in old or before != value:
            patch[key] = value
    return patch


def _nested_model(annotation: Any, in_list: bool = False) -> type[BaseModel] | None:
    """The model a field holds (`X` or `X | None`; with `in_list`, also `list[X]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) or (in_list and origin is list):
        models = [_nested_model(arg, in_list) for arg in typing.get_args(annotation)]
        found = [model for model in models if model is not None]
        return found[0] if len(found) == 1 else None
    return None


def _own_rule(model: type[BaseModel], name: str) -> Apply | None:
    extra = model.model_fields[name].json_schema_extra
    if isinstance(extra, dict) and APPLY_KEY in extra:
        return Apply(extra[APPLY_KEY])
    return None


def field_rules(
    model: type[BaseModel] = PipelineSpec, prefix: str = "", inherited: Apply = _DEFAULT
) -> Iterator[tuple[str, type[BaseModel], str, Apply]]:
    """(dotted path, model, field name, rule) of every field, nested models included."""
    for name, info in model.model_fields.items():
        rule = _own_rule(model, name) or inherited
        path = f"{prefix}{name}"
        yield path, model, name, rule
        nested = _nested_model(info.annotation, in_list=True)  # list items take its rule
        if nested is not None:
            yield from field_rules(nested, f"{path}.", rule)


_RULES: dict[str, Apply] = {path: rule for path, _, _, rule in field_rules()}


def apply_rule(path: str) -> Apply:
    """The rule of a dotted field path; a path inside a list or dict value takes the rule
    of the field holding it."""
    while path not in _RULES and "." in path:
        path = path.rsplit(".", 1)[0]
    return _RULES.get(path, _DEFAULT)


# Fields holding a model: a change inside one is told field by field; other values (lists,
# label dicts) are compared whole.
_MODEL_PATHS = frozenset(
    path
    for path, model, name, _ in field_rules()
    if _nested_model(model.model_fields[name].annotation) is not None
)


def _diff(old: Any, new: Any, prefix: str) -> Iterator[str]:
    if isinstance(old, dict) and isinstance(new, dict) and (not prefix or prefix in _MODEL_PATHS):
        for key in sorted(old.keys() | new.keys()):
            yield from _diff(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key)
    elif old != new:
        yield prefix


def spec_changes(old: PipelineSpec, new: PipelineSpec) -> SpecChange:
    """Which fields differ and whether any of them needs the worker replaced."""
    changed = list(_diff(old.model_dump(mode="json"), new.model_dump(mode="json"), ""))
    if not changed:
        return SpecChange(applied="none", changed=[])
    cold = any(apply_rule(path) is Apply.cold for path in changed)
    return SpecChange(applied="cold" if cold else "hot", changed=changed)


def spec_json_schema() -> dict[str, Any]:
    """The pipeline spec's JSON schema with every property marked hot or cold."""
    schema = PipelineSpec.model_json_schema()
    for _, model, name, rule in field_rules():
        holder = schema if model is PipelineSpec else schema.get("$defs", {}).get(model.__name__)
        if holder is not None and name in holder.get("properties", {}):
            holder["properties"][name][APPLY_KEY] = rule.value
    return schema
