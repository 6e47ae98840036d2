"""Find entry-point plugins and report, for each, whether it loaded and why not."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib.metadata import EntryPoint, entry_points

from coral_serve.config.plugins import PluginsConfig

__all__ = ["PLUGIN_GROUPS", "PluginInfo", "discover_plugins"]

PLUGIN_GROUPS: tuple[str, ...] = (
    "coral_serve.web_plugins",
    "coral_inference.web_plugins",  # the older group name, still read
    "coral_serve.backends",
    "coral_serve.metric_sinks",
)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    group: str
    version: str
    distribution: str
    loaded: bool
    reason: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def discover_plugins(config: PluginsConfig) -> list[PluginInfo]:
    """Every plugin of every group; a plugin that fails to import is reported, never raised."""
    found: list[PluginInfo] = []
    for group in PLUGIN_GROUPS:
        for entry in sorted(entry_points(group=group), key=lambda e: e.name):
            found.append(_inspect(entry, group, config))
    return found


def _inspect(entry: EntryPoint, group: str, config: PluginsConfig) -> PluginInfo:
    dist = entry.dist
    distribution = dist.name if dist is not None else ""
    version = dist.version if dist is not None else ""
    skipped = _skip_reason(entry.name, config)
    if skipped:
        return PluginInfo(entry.name, group, version, distribution, False, skipped)
    try:
        entry.load()
    except Exception as exc:  # any import-time failure of third-party code
        return PluginInfo(entry.name, group, version, distribution, False, f"import failed: {exc}")
    return PluginInfo(entry.name, group, version, distribution, True, "")


def _skip_reason(name: str, config: PluginsConfig) -> str:
    if not config.enabled:
        return "plugins.enabled is false"
    if name in config.deny:
        return "listed in plugins.deny"
    if config.allow and name not in config.allow:
        return "not listed in plugins.allow"
    return ""
