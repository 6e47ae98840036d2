"""Metric sinks: where MonitorService's points go (Prometheus, InfluxDB, stdout, plugins).

`points` is what a sink is handed (sink plugins import `Point` from there).
"""

from coral_serve.sinks.base import MetricsSink, SinkError, SinkSpec

__all__ = ["MetricsSink", "SinkError", "SinkSpec"]
