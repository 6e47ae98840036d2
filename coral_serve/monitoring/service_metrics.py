"""Metrics about the control plane itself: sinks, monitor tasks and readiness checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from coral_serve.schema.checks import Readiness
from coral_serve.schema.metrics import SinkStatus

__all__ = ["CallbackCollector", "service_families"]


class CallbackCollector:
    """Adapts a function to prometheus_client's collector protocol."""

    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


def service_families(
    sinks: Iterable[SinkStatus], tasks: Mapping[str, bool], readiness: Readiness | None
) -> Iterator[Metric]:
    """`readiness` is the latest /readyz evaluation (None before the first one)."""
    up = GaugeMetricFamily("coral_sink_up", "1 while the sink's writes succeed.", labels=["sink"])
    buffered = GaugeMetricFamily(
        "coral_sink_buffered_points", "Points waiting for the sink.", labels=["sink"]
    )
    written = CounterMetricFamily(
        "coral_sink_written_points", "Points delivered to the sink.", labels=["sink"]
    )
    dropped = CounterMetricFamily(
        "coral_sink_dropped_points",
        "Points discarded because the sink's buffer was full.",
        labels=["sink"],
    )
    for status in sinks:
        up.add_metric([status.name], float(status.up))
        buffered.add_metric([status.name], status.buffered)
        written.add_metric([status.name], status.written)
        dropped.add_metric([status.name], status.dropped)
    yield from (up, buffered, written, dropped)

    alive = GaugeMetricFamily(
        "coral_monitor_task_up", "1 while the monitor's background task runs.", labels=["task"]
    )
    for name, running in sorted(tasks.items()):
        alive.add_metric([name], float(running))
    yield alive

    if readiness is not None:
        yield GaugeMetricFamily(
            "coral_ready", "1 when the last readiness check passed.", value=float(readiness.ready)
        )
        checks = GaugeMetricFamily(
            "coral_health_check_ok",
            "1 when the readiness check passed at its last evaluation.",
            labels=["check", "required"],
        )
        for check in readiness.checks:
            checks.add_metric([check.name, str(check.required).lower()], float(check.ok))
        yield checks
