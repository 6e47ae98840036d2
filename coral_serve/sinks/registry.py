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
from coral_serve.plugins.factories import PluginUnavailable, create_from_plugin, unique_name
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
        sinks[unique_name(base, sinks)] = _build(config, plugins, timeout)
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
    try:
        sink: MetricsSink = create_from_plugin(
            SINK_GROUP, config.name, SinkSpec, config.options, plugins
        )
    except PluginUnavailable as exc:  # shown as a sink that is down, the monitor runs on
        log.error("metric sink plugin %s is unavailable: %s", config.name, exc.reason)
        return UnavailableSink(f"plugin unavailable: {exc.reason}")
    return sink
