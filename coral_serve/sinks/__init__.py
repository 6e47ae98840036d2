"""Metric sinks: where MonitorService's points go (Prometheus, InfluxDB, stdout, plugins)."""

from coral_serve.sinks.base import MetricsSink, SinkError, SinkSpec

__all__ = ["MetricsSink", "SinkError", "SinkSpec"]
