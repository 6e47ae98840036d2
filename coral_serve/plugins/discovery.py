"""Find entry-point plugins and report, for each, whether it loaded and why not.

A plugin that fails to import, returns the wrong thing, needs a newer coral_serve or a
missing distribution is reported with the reason and never stops the app.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points
from importlib.metadata import version as installed_version
from typing import Any

from packaging.version import InvalidVersion, Version

from coral_serve.config.plugins import PluginsConfig
from coral_serve.plugins.specs import WebPluginSpec
from coral_serve.version import __version__

__all__ = [
    "PLUGIN_GROUPS",
    "WEB_PLUGIN_GROUPS",
    "DiscoveredPlugin",
    "PluginInfo",
    "discover_plugins",
    "web_plugins",
]

WEB_PLUGIN_GROUPS: tuple[str, ...] = (
    "coral_serve.web_plugins",
    "coral_inference.web_plugins",  # the older group name, still read
)
PLUGIN_GROUPS: tuple[str, ...] = (
    *WEB_PLUGIN_GROUPS,
    "coral_serve.backends",
    "coral_serve.metric_sinks",
    "coral_serve.event_sinks",
)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    group: str
    version: str
    distribution: str
    loaded: bool
    reason: str
    description: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class DiscoveredPlugin:
    info: PluginInfo
    obj: Any
    """What the entry point gave (a WebPluginSpec for web plugins); None unless loaded."""


def discover_plugins(config: PluginsConfig) -> list[DiscoveredPlugin]:
    """Every plugin of every group, loaded where the configuration allows it."""
    found: list[DiscoveredPlugin] = []
    for group in PLUGIN_GROUPS:
        for entry in sorted(entry_points(group=group), key=lambda e: e.name):
            found.append(_inspect(entry, group, config))
    return found


def web_plugins(discovered: list[DiscoveredPlugin]) -> list[tuple[PluginInfo, WebPluginSpec]]:
    return [
        (plugin.info, plugin.obj)
        for plugin in discovered
        if plugin.info.loaded and isinstance(plugin.obj, WebPluginSpec)
    ]


def _inspect(entry: EntryPoint, group: str, config: PluginsConfig) -> DiscoveredPlugin:
    dist = entry.dist
    distribution = dist.name if dist is not None else ""
    version = dist.version if dist is not None else ""

    def report(
        loaded: bool, reason: str, obj: Any = None, version: str = version, description: str = ""
    ) -> DiscoveredPlugin:
        info = PluginInfo(entry.name, group, version, distribution, loaded, reason, description)
        return DiscoveredPlugin(info, obj if loaded else None)

    skipped = _skip_reason(entry.name, config)
    if skipped:
        return report(False, skipped)
    try:
        obj = entry.load()
        if group in WEB_PLUGIN_GROUPS and not isinstance(obj, WebPluginSpec) and callable(obj):
            obj = obj()
    except Exception as exc:  # any import-time failure of third-party code
        return report(False, f"import failed: {type(exc).__name__}: {exc}")
    if group not in WEB_PLUGIN_GROUPS:
        return report(True, "", obj)
    if not isinstance(obj, WebPluginSpec):
        return report(False, f"entry point gave {type(obj).__name__}, not a WebPluginSpec")
    problem = _incompatibility(obj)
    return report(not problem, problem, obj, obj.version, obj.description)


def _incompatibility(spec: WebPluginSpec) -> str:
    try:
        if Version(__version__) < Version(spec.min_coral_version):
            return f"needs coral_serve >= {spec.min_coral_version} (this is {__version__})"
    except InvalidVersion:
        return f"invalid min_coral_version {spec.min_coral_version!r}"
    for requirement in spec.dependencies:
        try:
            installed_version(requirement)
        except PackageNotFoundError:
            return f"needs the distribution {requirement!r}, which is not installed"
    return ""


def _skip_reason(name: str, config: PluginsConfig) -> str:
    if not config.enabled:
        return "plugins.enabled is false"
    if name in config.deny:
        return "listed in plugins.deny"
    if config.allow and name not in config.allow:
        return "not listed in plugins.allow"
    return ""
