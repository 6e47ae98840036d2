"""Compose the runtime descriptor: `conf/` defaults < file < environment < overrides."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import ValidationError

from coral_serve.config.descriptor import CoralConfig
from coral_serve.config.errors import ConfigError, ConfigProblem
from coral_serve.config.layers import (
    ENV_PREFIX,
    Layer,
    deep_merge,
    env_layer,
    file_layer,
    set_layer,
)
from coral_serve.config.monitoring import SINK_TYPES
from coral_serve.config.notifications import NOTIFIER_TYPES
from coral_serve.config.sources import ConfigSources
from coral_serve.schema.redact import SECRET_WORDS

__all__ = ["ConfigSources", "conf_dir", "config_groups", "examples_dir", "load_config"]

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def conf_dir() -> Path:
    """The Hydra tree: inside the installed wheel, else the checkout's top-level `conf/`."""
    for candidate in (_PACKAGE_ROOT / "conf", _PACKAGE_ROOT.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError("coral_serve's conf/ tree is missing from this installation")


def examples_dir() -> Path:
    """The checkout's bundled models and media (`examples/`, beside `conf/`); an installed
    wheel ships none, so there it names a folder that does not exist."""
    return conf_dir().parent / "examples"


# `${coral.examples:media/vtest.mp4}`: an absolute path, since Ray workers run elsewhere.
OmegaConf.register_new_resolver(
    "coral.examples", lambda relative="": str(examples_dir() / relative), replace=True
)


@cache
def config_groups() -> dict[str, tuple[str, ...]]:
    """Every config group (`streams/webrtc`) and its options (`none`, `stun`, `turn`)."""
    root = conf_dir()
    groups: dict[str, tuple[str, ...]] = {}
    for directory in sorted(path for path in root.rglob("*") if path.is_dir()):
        options = tuple(sorted(p.stem for p in directory.glob("*.yaml")))
        if options:
            groups[directory.relative_to(root).as_posix()] = options
    return groups


def load_config(sources: ConfigSources | None = None) -> CoralConfig:
    """Build and validate the descriptor; raise `ConfigError` listing every problem."""
    sources = sources or ConfigSources()
    groups = config_groups()
    environ = os.environ if sources.environ is None else sources.environ

    layers: list[tuple[str, Layer]] = []
    if sources.file is not None:
        layers.append((str(sources.file), file_layer(Path(sources.file))))
    if sources.use_env:
        layers.append(("environment", env_layer(environ, groups)))
    layers.append(("override", set_layer(sources.overrides, "override")))
    layers.append(("--set", set_layer(sources.sets)))
    layers.append(("builder args", list(sources.extra.items())))

    selections: dict[str, str] = {}
    values: list[tuple[str, str, Any]] = []
    problems: list[ConfigProblem] = []
    for origin, layer in layers:
        for key, value in layer:
            group = key.replace(".", "/")
            if group in groups and not isinstance(value, Mapping):
                if str(value) in groups[group]:
                    selections[group] = str(value)
                else:
                    choices = ", ".join(groups[group])
                    problems.append(
                        ConfigProblem(key, f"no option {value!r} (choose from {choices})", origin)
                    )
            else:
                values.append((origin, key, value))
    if problems:
        raise ConfigError(problems)

    data = _compose_defaults(selections)
    origins: dict[str, str] = {}
    for origin, key, value in values:
        deep_merge(data, key, value)
        origins[key] = origin
    config = _validate(_resolve(data), origins)
    # A reload reads the same layers again, with the CORAL_ variables of this moment, from
    # whichever process and working directory it runs in.
    snapshot = {key: value for key, value in environ.items() if key.startswith(ENV_PREFIX)}
    file = Path(sources.file).absolute() if sources.file is not None else None
    config.pipelines.keep_sources(dataclasses.replace(sources, file=file, environ=snapshot))
    return config


def _compose_defaults(selections: Mapping[str, str]) -> dict[str, Any]:
    """Compose `conf/` with the chosen group options; Hydra never writes or chdirs here."""
    overrides = [f"{group}={option}" for group, option in selections.items()]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            composed = compose(config_name="config", overrides=overrides)
    except HydraException as exc:
        raise ConfigError([ConfigProblem("<defaults>", str(exc).splitlines()[0])]) from None
    finally:
        GlobalHydra.instance().clear()
    container = OmegaConf.to_container(composed, resolve=False)
    assert isinstance(container, dict)
    return container


def _resolve(data: dict[str, Any]) -> dict[str, Any]:
    """Resolve `${a.b}` interpolations once every layer is merged."""
    try:
        resolved = OmegaConf.to_container(OmegaConf.create(data), resolve=True)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", "") or "<interpolation>"
        message = getattr(exc, "msg", None) or str(exc)
        raise ConfigError([ConfigProblem(str(key), message)]) from None
    assert isinstance(resolved, dict)
    return resolved


def _validate(data: dict[str, Any], origins: Mapping[str, str]) -> CoralConfig:
    try:
        return CoralConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_problem(error, origins) for error in exc.errors()]) from None


def _problem(error: Mapping[str, Any], origins: Mapping[str, str]) -> ConfigProblem:
    """Turn one pydantic error into a line naming the dotted key, the value and the rule."""
    parts = [str(part) for part in error["loc"]]
    # Discriminated unions add the tag to the location; it is not a key the user wrote.
    key = ".".join(part for part in parts if not _is_union_tag(part))
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] != "missing":
        message = f"{message} (got {_shown(key, error.get('input'))})"
    origin = next((origins[k] for k in _prefixes(key) if k in origins), None)
    return ConfigProblem(key, message, origin)


def _is_union_tag(part: str) -> bool:
    return part in SINK_TYPES or part in NOTIFIER_TYPES or part.startswith("function-")


def _prefixes(key: str) -> list[str]:
    parts = key.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def _shown(key: str, value: Any) -> str:
    if any(word in key.lower() for word in SECRET_WORDS):
        return "<secret>"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
