"""Reading the layers above the defaults: files, CORAL_ environment variables, `--set` pairs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from coral_serve.config.errors import ConfigError, ConfigProblem

__all__ = [
    "ENV_PREFIX",
    "Layer",
    "deep_merge",
    "env_layer",
    "file_layer",
    "parse_scalar",
    "set_layer",
    "split_assignment",
]

ENV_PREFIX = "CORAL_"

Layer = list[tuple[str, Any]]
"""A layer is an ordered list of (dotted key, value) assignments."""


def parse_scalar(text: str) -> Any:
    """Parse a command-line or environment value as a YAML scalar (`8080` is an int)."""
    try:
        return yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        return text


def split_assignment(text: str, origin: str) -> tuple[str, str]:
    """Split `a.b=c` into its key and raw value, or explain why it is malformed."""
    key, sep, value = text.partition("=")
    key = key.strip().lstrip("+")
    if not sep or not key:
        raise ConfigError([ConfigProblem(text, "expected KEY=VALUE", origin)])
    return key, value


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Layer:
    items: Layer = []
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            items.extend(_flatten(value, dotted))
        else:
            items.append((dotted, value))
    return items


def file_layer(path: Path) -> Layer:
    """Read a YAML or JSON descriptor file into assignments."""
    origin = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem("-c", f"cannot read {path}: {exc.strerror}")]) from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        detail = str(exc).replace("\n", " ")
        raise ConfigError([ConfigProblem("-c", f"malformed file: {detail}", origin)]) from None
    if data is None:
        return []
    if not isinstance(data, Mapping):
        raise ConfigError([ConfigProblem("<root>", "the file must hold a mapping", origin)])
    return _flatten(data)


def env_layer(environ: Mapping[str, str], groups: Iterable[str] = ()) -> Layer:
    """`CORAL_HTTP__PORT=9100` becomes `http.port = 9100`; `__` separates levels.

    Single-word names are read only when they name a config group (`CORAL_WEB=prod`), so
    unrelated variables such as `CORAL_CONFIG` are left alone.
    """
    single_level = {group for group in groups if "/" not in group}
    items: Layer = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        if len(parts) == 1 and parts[0] not in single_level:
            continue
        items.append((".".join(parts), parse_scalar(environ[name])))
    return items


def set_layer(assignments: Iterable[str], origin: str = "--set") -> Layer:
    """Parse `--set a.b=c` pairs; values are YAML scalars."""
    items: Layer = []
    for text in assignments:
        key, raw = split_assignment(text, origin)
        items.append((key, parse_scalar(raw)))
    return items


def deep_merge(base: dict[str, Any], dotted: str, value: Any) -> None:
    """Assign `value` at `dotted` inside `base`, creating (or replacing) parents as needed."""
    parts = dotted.split(".")
    node = base
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value
