"""Pipeline fps and latencies as Ray metrics, next to Ray's own on its dashboard and its
Prometheus endpoint (exported there with Ray's `ray_` prefix).

A Ray-aware module: only `serving.graph` imports it, handing the sink to MonitorService as
an extra sink, so services themselves never import Ray.
"""

from __future__ import annotations

from collections.abc import Sequence

from ray.util.metrics import Gauge

from coral_serve.sinks.base import MetricsSink
from coral_serve.sinks.points import PIPELINE, Point

__all__ = ["RayMetricsSink"]

_TAG_KEYS = ("pipeline", "name")
# point field -> (metric name, description)
_GAUGES = {
    "fps": ("coral_pipeline_fps", "Frames processed per second, recently."),
    "inference_mean_seconds": ("coral_pipeline_inference_seconds", "Mean model time."),
    "e2e_latency_mean_seconds": (
        "coral_pipeline_e2e_latency_seconds",
        "Mean time from capture to published frame.",
    ),
}


class RayMetricsSink(MetricsSink):
    """Gauges are created in the replica on first use: built in the driver, they would be
    pickled into the replica and never registered there."""

    def __init__(self) -> None:
        self._gauges: dict[str, Gauge] | None = None

    def __getstate__(self) -> dict[str, object]:
        return {}

    def __setstate__(self, state: dict[str, object]) -> None:
        self._gauges = None

    async def write(self, points: Sequence[Point]) -> None:
        if self._gauges is None:
            self._gauges = {
                key: Gauge(name, description=text, tag_keys=_TAG_KEYS)
                for key, (name, text) in _GAUGES.items()
            }
        for point in points:
            if point.measurement != PIPELINE:
                continue
            tags = {key: point.tags[key] for key in _TAG_KEYS}
            for key, gauge in self._gauges.items():
                value = point.fields.get(key)
                if isinstance(value, float):
                    gauge.set(value, tags=tags)
