"""Prometheus families of the notifiers: up, queued, delivered, failed, rejected, dropped."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from coral_serve.notify.delivery import NotifierStatus

__all__ = ["notifier_families"]


def notifier_families(statuses: Iterable[NotifierStatus]) -> Iterator[Metric]:
    labels = ["notifier", "type"]
    up = GaugeMetricFamily("coral_notifier_up", "1 while deliveries succeed.", labels=labels)
    queued = GaugeMetricFamily(
        "coral_notifier_queued_messages", "Messages waiting in the outbox.", labels=labels
    )
    counters = {
        "delivered": CounterMetricFamily(
            "coral_notifier_delivered_messages", "Messages delivered.", labels=labels
        ),
        "failed": CounterMetricFamily(
            "coral_notifier_failed_deliveries", "Delivery attempts that failed.", labels=labels
        ),
        "rejected": CounterMetricFamily(
            "coral_notifier_rejected_messages",
            "Messages the receiver refused for good (not retried).",
            labels=labels,
        ),
        "dropped": CounterMetricFamily(
            "coral_notifier_dropped_messages",
            "Oldest messages discarded because the outbox was full.",
            labels=labels,
        ),
    }
    for status in statuses:
        key = [status.name, status.type]
        up.add_metric(key, float(status.up))
        queued.add_metric(key, status.queued)
        for field, family in counters.items():
            family.add_metric(key, getattr(status, field))
    yield from (up, queued, *counters.values())
