"""Polling every live pipeline worker for its status, and the chart history that keeps."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from coral_serve.config.monitoring import MonitoringConfig
from coral_serve.monitoring.history import History
from coral_serve.monitoring.line_totals import LineKey, LineTotals, flatten_lines
from coral_serve.schema.metrics import MetricSample, PipelineMetrics
from coral_serve.schema.views import PipelineStatus
from coral_serve.sinks.points import (
    PIPELINE,
    Point,
    gone_point,
    line_points,
    pipeline_point,
    unresponsive_point,
    zone_points,
)
from coral_serve.workers.pool import WorkerPool

__all__ = ["WorkerPoller"]

log = logging.getLogger(__name__)


class WorkerPoller:
    """Turns each round of worker statuses into points, one per pipeline, plus a final one for
    each pipeline that is gone since the previous round."""

    def __init__(
        self, workers: WorkerPool, monitoring: MonitoringConfig, lines: LineTotals | None = None
    ) -> None:
        """`lines`: where line totals outlive workers (none kept: counted from zero)."""
        self._workers = workers
        self._lines = lines or LineTotals(None)
        self._zone_keys: dict[str, set[tuple[str, str]]] = {}  # zone, class reported so far
        self._interval = monitoring.poll_interval
        self._history = History(monitoring.history_seconds, monitoring.poll_interval)
        # A round never outlasts its interval by much, whatever one worker does.
        self._timeout = min(max(monitoring.poll_interval, 0.5), 5.0)
        self._names: dict[str, str] = {}  # pipelines of the last poll: id -> name

    def history(self, pipeline_id: str, window: float, now: float) -> PipelineMetrics:
        points = self._history.window(pipeline_id, window, now)
        return PipelineMetrics(
            pipeline_id=pipeline_id,
            window=min(window, self._history.seconds),
            poll_interval=self._interval,
            samples=[MetricSample(time=p.time, values=dict(p.fields)) for p in points],
        )

    def line_totals(self, pipeline_id: str) -> dict[LineKey, int]:
        """Crossings of each line, direction and label since the pipeline began."""
        return self._lines.current(pipeline_id)

    async def poll(self, viewers: Mapping[str, int], now: float) -> list[Point]:
        """One round: every live worker at once, each with its own deadline, so a dead or
        slow worker costs the others nothing."""
        live = await asyncio.wait_for(self._workers.live(), self._timeout)
        rounds = await asyncio.gather(
            *(self._poll_one(pid, viewers.get(pid, 0), now) for pid in sorted(live))
        )
        points = [point for found in rounds for point in found]
        for pipeline_id in self._names.keys() - live:
            points.append(gone_point(pipeline_id, self._names.pop(pipeline_id), now))
            self._zone_keys.pop(pipeline_id, None)
        for point in points:
            if point.measurement == PIPELINE and not point.final:
                self._history.add(point.tags["pipeline"], point)
        self._history.prune(now)
        await asyncio.to_thread(self._lines.save)
        return points

    async def _poll_one(self, pipeline_id: str, viewers: int, now: float) -> list[Point]:
        try:
            # The pool applies the deadline to the call itself; this one also covers finding
            # the worker (a Ray actor lookup), which the pool does before its deadline starts.
            deadline = self._timeout
            raw = await asyncio.wait_for(
                self._workers.call(pipeline_id, "status", timeout=deadline), deadline
            )
            status = PipelineStatus.model_validate(raw)
        except Exception as exc:  # timeout, worker gone, or a worker answering nonsense
            log.debug("pipeline %s did not report: %r", pipeline_id, exc)
            name = self._names.setdefault(pipeline_id, pipeline_id)
            return [unresponsive_point(pipeline_id, name, viewers, now)]
        point = pipeline_point(pipeline_id, status, viewers, now)
        self._names[pipeline_id] = point.tags["name"]
        return [point, *self._analytics_points(pipeline_id, status, now)]

    def _analytics_points(
        self, pipeline_id: str, status: PipelineStatus, now: float
    ) -> list[Point]:
        """Zone occupancy now (0 for a zone and class seen before and empty now) and line
        totals across the pipeline's workers."""
        analytics = (status.model_extra or {}).get("analytics")
        if not isinstance(analytics, dict):
            return []
        zones: dict[str, dict[str, int]] = {}
        seen = self._zone_keys.setdefault(pipeline_id, set())
        for zone, labels in (analytics.get("zones") or {}).items():
            zones[zone] = {label: int(n) for label, n in labels.items()}
            seen.update((zone, label) for label in labels)
        for zone, label in seen:
            zones.setdefault(zone, {}).setdefault(label, 0)
        counted = flatten_lines(analytics.get("lines") or {})
        totals = self._lines.update(pipeline_id, status.generation, counted)
        return zone_points(pipeline_id, zones, now) + line_points(pipeline_id, totals, now)
