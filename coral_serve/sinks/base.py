"""`MetricsSink`, the one interface of every metric destination, and `SinkSpec` for plugins."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from coral_serve.sinks.points import Point

__all__ = ["MetricsSink", "SinkError", "SinkSpec"]


class SinkError(Exception):
    """A write did not reach its destination; the message is safe to show (no secrets)."""


class MetricsSink(ABC):
    """A destination for points. MonitorService owns the buffering, retries and timeouts,
    so a sink only delivers: `write` gets the points since the last successful write, oldest
    first, and raises to say "not delivered, keep them and try again later"."""

    @abstractmethod
    async def write(self, points: Sequence[Point]) -> None:
        """Deliver every point or raise; never block the event loop (use a thread)."""

    async def close(self) -> None:  # noqa: B027 - most sinks hold nothing to release
        """Release connections; called once when MonitorService stops."""


@dataclass(frozen=True)
class SinkSpec:
    """What a `coral_serve.metric_sinks` entry point gives (or a callable returning it).

    Configured as `monitoring.sinks: [{type: plugin, name: <entry point>, options: {...}}]`;
    `factory` receives `options`.
    """

    name: str
    factory: Callable[[Mapping[str, object]], MetricsSink]
    description: str = ""
