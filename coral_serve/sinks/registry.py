"""Build the configured sinks: the built-in three and `coral_serve.metric_sinks` plugins."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from coral_serve.config.monitoring import (
    InfluxSinkConfig,
    PluginSinkConfig,
    PrometheusSinkConfig,
    SinkConfig,
    StdoutSinkConfig,
)
from coral_serve.config.plugins import PluginsConfig
from coral_serve.plugins.discovery import discover_plugins
from coral_serve.sinks.base import MetricsSink, SinkError, SinkSpec
from coral_serve.sinks.points import Point
from coral_serve.sinks.prometheus import PrometheusSink
from coral_serve.sinks.stdout import StdoutSink

__all__ = ["SINK_GROUP", "UnavailableSink", "build_sinks"]

log = logging.getLogger(__name__)

SINK_GROUP = "coral_serve.metric_sinks"


class UnavailableSink(MetricsSink):
    """Stands in for a plugin sink that could not be created, so the problem shows as a sink
    that is down (in /readyz and /api/v1/monitor/sinks) instead of stopping the monitor."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def write(self, points: Sequence[Point]) -> None:
        raise SinkError(self.reason)


def build_sinks(
    configs: Sequence[SinkConfig], plugins: PluginsConfig, timeout: float
) -> dict[str, MetricsSink]:
    """Sinks by unique name: the type (`influx`, `influx-2`, ...) or the plugin's name."""
    sinks: dict[str, MetricsSink] = {}
    for config in configs:
        base = config.name if isinstance(config, PluginSinkConfig) else config.type
        name, n = base, 1
        while name in sinks:
            n += 1
            name = f"{base}-{n}"
        sinks[name] = _build(config, plugins, timeout)
    return sinks


def _build(config: SinkConfig, plugins: PluginsConfig, timeout: float) -> MetricsSink:
    if isinstance(config, StdoutSinkConfig):
        return StdoutSink()
    if isinstance(config, PrometheusSinkConfig):
        return PrometheusSink()
    if isinstance(config, InfluxSinkConfig):
        # Imported here: influxdb-client adds ~0.3 s to the start of every replica that
        # builds sinks, and most descriptors configure none.
        from coral_serve.sinks.influx import InfluxSink

        return InfluxSink(config, timeout)
    return _plugin(config, plugins)


def _plugin(config: PluginSinkConfig, plugins: PluginsConfig) -> MetricsSink:
    found = [
        p
        for p in discover_plugins(plugins)
        if p.info.group == SINK_GROUP and p.info.name == config.name
    ]
    if not found:
        return _unavailable(config.name, f"no {SINK_GROUP} entry point named {config.name!r}")
    plugin = found[0]
    if not plugin.info.loaded:
        return _unavailable(config.name, plugin.info.reason)
    try:
        spec = plugin.obj if isinstance(plugin.obj, SinkSpec) else plugin.obj()
        if not isinstance(spec, SinkSpec):
            return _unavailable(
                config.name, f"entry point gave {type(spec).__name__}, not a SinkSpec"
            )
        return spec.factory(dict(config.options))
    except Exception as exc:  # third-party code: report it, never crash the monitor
        return _unavailable(config.name, f"could not create the sink: {type(exc).__name__}: {exc}")


def _unavailable(name: str, reason: str) -> MetricsSink:
    log.error("metric sink plugin %s is unavailable: %s", name, reason)
    return UnavailableSink(f"plugin unavailable: {reason}")
