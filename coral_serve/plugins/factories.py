"""Create the object a configured plugin stands for (a metric sink, a notifier) from its
entry point, or say why it cannot be: third-party code never stops the service using it."""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from typing import Any, Protocol, TypeVar

from coral_serve.config.plugins import PluginsConfig
from coral_serve.plugins.discovery import discover_plugins

__all__ = ["PluginUnavailable", "create_from_plugin", "unique_name"]

T = TypeVar("T", covariant=True)


class PluginSpec(Protocol[T]):
    """What a factory-style entry point gives: a name and how to build the object."""

    name: str
    factory: Callable[[Mapping[str, object]], T]


class PluginUnavailable(Exception):
    """The plugin cannot be created; `reason` says why, for /readyz and the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def unique_name(base: str, taken: Container[str]) -> str:
    """`base`, else `base-2`, `base-3`, ...: the first one not `taken`."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def create_from_plugin(
    group: str,
    name: str,
    spec_type: type[Any],
    options: Mapping[str, object],
    plugins: PluginsConfig,
) -> Any:
    """`spec.factory(options)` of the entry point `name` of `group`, whose object is a
    `spec_type` or a callable returning one; raises PluginUnavailable otherwise."""
    found = [p for p in discover_plugins(plugins) if p.info.group == group and p.info.name == name]
    if not found:
        raise PluginUnavailable(f"no {group} entry point named {name!r}")
    plugin = found[0]
    if not plugin.info.loaded:
        raise PluginUnavailable(plugin.info.reason)
    try:
        spec = plugin.obj if isinstance(plugin.obj, spec_type) else plugin.obj()
        if not isinstance(spec, spec_type):
            kind = spec_type.__name__
            raise PluginUnavailable(f"entry point gave {type(spec).__name__}, not a {kind}")
        return spec.factory(dict(options))
    except PluginUnavailable:
        raise
    except Exception as exc:  # third-party code: reported, never raised further
        raise PluginUnavailable(f"could not create it: {type(exc).__name__}: {exc}") from exc
