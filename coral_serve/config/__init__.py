"""The runtime descriptor: schema, composition from layers, and the UI's view of it."""

from typing import TYPE_CHECKING, Any

from coral_serve.config.descriptor import CoralConfig
from coral_serve.config.errors import ConfigError, ConfigProblem
from coral_serve.config.sources import ConfigSources
from coral_serve.config.webapp import WebAppConfig

if TYPE_CHECKING:
    from coral_serve.config.loader import conf_dir, config_groups, load_config

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "ConfigSources",
    "CoralConfig",
    "WebAppConfig",
    "conf_dir",
    "config_groups",
    "load_config",
]

_LOADER_NAMES = frozenset({"conf_dir", "config_groups", "load_config"})


def __getattr__(name: str) -> Any:
    """The loader, and Hydra with it, on first use: every Serve replica unpickles a
    CoralConfig, and none of them composes one."""
    if name in _LOADER_NAMES:
        from coral_serve.config import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
