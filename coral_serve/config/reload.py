"""Reading the descriptor again while the app runs (`POST /api/v1/config/reload`, SIGHUP)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from coral_serve.config.descriptor import CoralConfig
from coral_serve.config.errors import ConfigError, ConfigProblem
from coral_serve.config.loader import load_config

__all__ = ["RELOADED_KEYS", "redeploy_keys", "reload_config"]

# What a reload applies; every other changed key is reported as needing a redeploy.
RELOADED_KEYS = ("pipelines.declared", "pipelines.templates")


def reload_config(config: CoralConfig) -> CoralConfig:
    """The descriptor composed again from the layers `config` came from."""
    sources = config.pipelines.sources_read
    if sources is None:
        raise ConfigError(
            [ConfigProblem("<reload>", "this descriptor was built in code, not read from layers")]
        )
    return load_config(sources)


def redeploy_keys(old: CoralConfig, new: CoralConfig) -> list[str]:
    """Dotted keys that differ outside RELOADED_KEYS (ports, replicas, ...)."""
    changed = _changed(old.model_dump(mode="json"), new.model_dump(mode="json"), "")
    return [key for key in changed if not key.startswith(RELOADED_KEYS)]


def _changed(old: Any, new: Any, prefix: str) -> Iterator[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            yield from _changed(old.get(key), new.get(key), f"{prefix}{key}.")
    elif old != new:
        yield prefix.rstrip(".")
