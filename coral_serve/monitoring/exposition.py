"""The Prometheus registry behind /metrics: pipeline points held by the prometheus sink,
HTTP counts of every ingress replica, and the control plane's own families."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from coral_serve.errors import NotFoundError
from coral_serve.sinks.base import MetricsSink
from coral_serve.sinks.prometheus import PrometheusSink

__all__ = ["Exposition"]


class Exposition:
    """Exists only when a prometheus sink is configured; otherwise /metrics says how to add one."""

    def __init__(self) -> None:
        self._registry: CollectorRegistry | None = None

    def assemble(self, sinks: Iterable[MetricsSink], *collectors: Collector) -> None:
        """Register the prometheus sink among `sinks` (if any) and `collectors` beside it."""
        prometheus = next((s for s in sinks if isinstance(s, PrometheusSink)), None)
        if prometheus is None:
            self._registry = None
            return
        registry = CollectorRegistry(auto_describe=False)
        registry.register(prometheus)
        for collector in collectors:
            registry.register(collector)
        self._registry = registry

    def text(self) -> bytes:
        """Prometheus exposition of every pipeline, sink, readiness check and HTTP route."""
        if self._registry is None:
            raise NotFoundError(
                "the prometheus sink is not configured (monitoring.sinks: [{type: prometheus}])"
            )
        return generate_latest(self._registry)
