"""MonitorService: polls pipeline workers, keeps chart history, feeds the metric sinks and
enforces the recordings disk quota.

Each job is a part of coral_serve.monitoring that this deployment composes: WorkerPoller
(polling, history), ViewerCounts, SinkFanout (sink outboxes), Exposition (the Prometheus
registry), HttpReports (HTTP counts of every ingress replica), QuotaKeeper (disk quota) and
Loops (the background loops). They share one replica because they share its state: the
points polled feed the history, the sinks and /metrics alike.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from prometheus_client.core import Metric

from coral_serve.config import CoralConfig
from coral_serve.monitoring.exposition import Exposition
from coral_serve.monitoring.fanout import SinkFanout
from coral_serve.monitoring.history import PipelineMetrics
from coral_serve.monitoring.http_reports import HttpReports
from coral_serve.monitoring.http_stats import HttpStats
from coral_serve.monitoring.line_totals import LINE_TOTALS_FILE, LineTotals
from coral_serve.monitoring.loops import Loops
from coral_serve.monitoring.outbox import WRITE_TIMEOUT, SinkStatus
from coral_serve.monitoring.poller import WorkerPoller
from coral_serve.monitoring.quota import QuotaKeeper
from coral_serve.monitoring.service_metrics import CallbackCollector, service_families
from coral_serve.monitoring.viewers import VIEWER_REPORT_TTL, ViewerCounts
from coral_serve.schema.checks import CheckResult, Readiness
from coral_serve.schema.disk import CleanupReport, DiskReport
from coral_serve.sinks.base import MetricsSink
from coral_serve.sinks.registry import build_sinks
from coral_serve.workers.pool import WorkerPool

__all__ = ["TASK_PREFIX", "VIEWER_REPORT_TTL", "MonitorService"]

log = logging.getLogger(__name__)

TASK_PREFIX = "coral-monitor-"
# stop() budget: cancelled loops end at once; the sinks' final flush and closing get the rest.
_CANCEL_SECONDS = 1.0


class MonitorService:
    """One replica: history, sink buffers, the Prometheus state and the disk quota are shared
    state, so every ingress replica asks this one, and /metrics is the same on all of them.

    `extra_sinks` are sinks built by the caller, e.g. Ray's metrics, which only the
    Ray-aware modules know.
    """

    def __init__(
        self,
        config: CoralConfig,
        workers: WorkerPool,
        extra_sinks: Mapping[str, MetricsSink] | None = None,
    ) -> None:
        self._config = config
        self._monitoring = config.monitoring
        self._extra_sinks = dict(extra_sinks or {})
        lines = LineTotals(Path(config.pipelines.data_dir) / LINE_TOTALS_FILE)
        self._poller = WorkerPoller(workers, config.monitoring, lines)
        self._viewers = ViewerCounts()
        self._sinks = SinkFanout(config.monitoring)
        self._http = HttpReports()
        self._exposition = Exposition()
        self._quota = QuotaKeeper(
            Path(str(config.streams.recordings.directory)), config.monitoring.disk
        )
        self._loops = Loops(TASK_PREFIX)
        self._readiness: Readiness | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start polling, one flush loop per sink, and the quota loop."""
        if self._loops:
            return
        monitoring = self._monitoring
        if monitoring.enabled:
            sinks = {
                **build_sinks(monitoring.sinks, self._config.plugins, WRITE_TIMEOUT),
                **self._extra_sinks,
            }
            outboxes = self._sinks.open(sinks)
            self._exposition.assemble(
                sinks.values(), self._http.stats, CallbackCollector(self._service_families)
            )
            self._loops.spawn("poll", self._poll_loop())
            for outbox in outboxes:
                self._loops.spawn(f"sink-{outbox.name}", outbox.run())
        self._loops.spawn("disk", self._disk_loop())

    async def stop(self) -> None:
        """Cancel every task, flush what is buffered once, close the sinks: within 5 s."""
        await self._loops.stop(_CANCEL_SECONDS)
        await self._sinks.close()

    async def running_tasks(self) -> list[str]:
        """Names of the background tasks still running (empty once stopped)."""
        return [name for name, alive in self._loops.alive().items() if alive]

    # -- API ---------------------------------------------------------------------------

    async def history(self, pipeline_id: str, window: float) -> PipelineMetrics:
        return self._poller.history(pipeline_id, window, time.time())

    async def metrics_text(self) -> bytes:
        """Prometheus exposition of every pipeline, sink, readiness check and HTTP route."""
        return self._exposition.text()

    async def report_http(self, replica: str, sequence: int, stats: HttpStats) -> None:
        """Add an ingress replica's request counts since its previous report; a report it
        retries after a lost answer carries the same sequence number and counts once."""
        self._http.add(replica, sequence, stats)

    async def report_viewers(self, replica: str, viewers: Mapping[str, int]) -> None:
        """A StreamService replica's viewer count per pipeline id; replicas report at least
        every VIEWER_REPORT_TTL / 3 seconds, and a stopped replica's counts expire."""
        self._viewers.report(replica, viewers)

    async def record_health(self, readiness: Readiness) -> None:
        """HealthService hands over each readiness evaluation for the metrics."""
        self._readiness = readiness

    async def sinks(self) -> list[SinkStatus]:
        return self._sinks.statuses()

    async def disk_report(self) -> DiskReport:
        return await self._quota.report()

    async def cleanup(self, dry_run: bool = False) -> CleanupReport:
        """Enforce the recordings quota now (or only say what it would delete)."""
        return await self._quota.cleanup(dry_run)

    async def poll(self) -> None:
        """One polling round; its points go to the history and to every sink."""
        points = await self._poller.poll(self._viewers.totals(), time.time())
        self._sinks.offer(points)

    # -- readiness checks (HealthService calls them by name) ---------------------------

    async def check_disk(self) -> CheckResult:
        """Readiness: the recordings filesystem keeps its minimum share of free space."""
        return await self._quota.check_disk()

    async def check_disk_quota(self) -> CheckResult:
        """Warning: recordings use more than warn_percent of their byte quota."""
        return await self._quota.check_quota()

    async def check_tasks(self) -> CheckResult:
        """Readiness: every background task is alive (they catch their own errors)."""
        return self._loops.check()

    async def check_sinks(self) -> CheckResult:
        """Warning: a sink is down; its points wait, bounded, and it is retried."""
        return self._sinks.check()

    # -- internals ---------------------------------------------------------------------

    def _service_families(self) -> Iterator[Metric]:
        return service_families(self._sinks.statuses(), self._loops.alive(), self._readiness)

    async def _poll_loop(self) -> None:
        interval = self._monitoring.poll_interval
        while True:
            started = time.monotonic()
            try:
                await self.poll()
            except Exception:  # the loop must outlive any one bad round
                log.exception("polling pipeline workers failed")
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def _disk_loop(self) -> None:
        while True:
            try:
                await self._quota.cleanup()
                if self._sinks:
                    self._sinks.offer(await self._quota.usage_points())
            except Exception:
                log.exception("recordings quota pass failed")
            await asyncio.sleep(self._monitoring.disk.check_interval)
