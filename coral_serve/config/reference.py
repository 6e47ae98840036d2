"""Render the configuration reference (Markdown) from the schema's own descriptions."""

from __future__ import annotations

import json
import types
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from coral_serve.config.descriptor import CoralConfig

__all__ = ["README_MARKERS", "render_reference", "splice_reference"]


def render_reference() -> str:
    lines = [
        "| key | type | default | description |",
        "|---|---|---|---|",
    ]
    _walk(CoralConfig, "", lines)
    return "\n".join(lines) + "\n"


def _walk(model: type[BaseModel], prefix: str, lines: list[str]) -> None:
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = _nested_model(info.annotation)
        if nested is not None:
            _walk(nested, f"{key}.", lines)
            continue
        env = "CORAL_" + key.upper().replace(".", "__")
        description = (info.description or "").replace("|", "\\|")
        lines.append(
            f"| `{key}` | {_type_name(info.annotation)} | {_default(info)} | "
            f"{description} (env `{env}`) |"
        )


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(arg) for arg in typing.get_args(annotation))
        return f"{origin.__name__}[{args}]"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f"`{member.value}`" for member in annotation)
    return getattr(annotation, "__name__", str(annotation))


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    if isinstance(value, Enum):
        value = value.value
    return f"`{json.dumps(value, default=str)}`"


README_MARKERS = ("<!-- config-reference:start -->", "<!-- config-reference:end -->")


def splice_reference(readme: str) -> str:
    """Replace the text between the README markers with the current reference."""
    start, end = README_MARKERS
    head, found, rest = readme.partition(start)
    if not found or end not in rest:
        raise ValueError(f"README lacks the {start} ... {end} markers")
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{render_reference()}{end}{tail}"
