"""The runtime descriptor: schema, composition from layers, and the UI's view of it."""

from coral_serve.config.descriptor import CoralConfig
from coral_serve.config.errors import ConfigError, ConfigProblem
from coral_serve.config.loader import ConfigSources, conf_dir, config_groups, load_config
from coral_serve.config.webapp import WebAppConfig

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
