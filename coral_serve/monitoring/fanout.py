"""Points to every sink at once, each through its own bounded outbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence

from coral_serve.config.monitoring import MonitoringConfig
from coral_serve.monitoring.outbox import SinkOutbox
from coral_serve.schema.checks import CheckResult
from coral_serve.schema.metrics import SinkStatus
from coral_serve.sinks.base import MetricsSink
from coral_serve.sinks.points import Point

__all__ = ["SinkFanout"]

# close() budget: one last flush of what is buffered, then closing the sinks.
_FINAL_FLUSH_SECONDS = 2.0
_CLOSE_SECONDS = 1.0


class SinkFanout:
    """Offering points never waits for a sink: a slow or dead one only fills its own outbox."""

    def __init__(self, monitoring: MonitoringConfig) -> None:
        self._monitoring = monitoring
        self._outboxes: list[SinkOutbox] = []

    def __bool__(self) -> bool:
        return bool(self._outboxes)

    def open(self, sinks: Mapping[str, MetricsSink]) -> list[SinkOutbox]:
        """One outbox per sink; the caller runs each outbox's flush loop."""
        monitoring = self._monitoring
        self._outboxes = [
            SinkOutbox(
                name,
                sink,
                capacity=monitoring.buffer_points,
                flush_interval=monitoring.flush_interval,
                retry_max=monitoring.retry_max_seconds,
            )
            for name, sink in sinks.items()
        ]
        return list(self._outboxes)

    def offer(self, points: Sequence[Point]) -> None:
        for outbox in self._outboxes:
            outbox.offer(points)

    def statuses(self) -> list[SinkStatus]:
        return [outbox.status() for outbox in self._outboxes]

    def check(self) -> CheckResult:
        """Warning: a sink is down; its points wait, bounded, and it is retried."""
        statuses = self.statuses()
        down = [s for s in statuses if not s.up]
        if down:
            detail = "; ".join(
                f"{s.name} down: {s.last_error} ({s.buffered} buffered, {s.dropped} dropped)"
                for s in down
            )
            return CheckResult(name="sinks", ok=False, detail=detail)
        names = ", ".join(s.name for s in statuses) or "none"
        return CheckResult(name="sinks", ok=True, detail=f"up: {names}")

    async def close(self) -> None:
        """Flush what is buffered once and close the sinks, within 3 s (after the flush loops
        were stopped)."""
        outboxes, self._outboxes = self._outboxes, []
        if not outboxes:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(outbox.flush() for outbox in outboxes)), _FINAL_FLUSH_SECONDS
            )
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(o.sink.close() for o in outboxes), return_exceptions=True),
                _CLOSE_SECONDS,
            )
