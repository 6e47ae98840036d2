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
from typing import Any

from prometheus_client.core import Metric

from coral_serve.config import CoralConfig
from coral_serve.engine.download import downloads_dir
from coral_serve.monitoring.exposition import Exposition
from coral_serve.monitoring.fanout import SinkFanout
from coral_serve.monitoring.http_reports import HttpReports
from coral_serve.monitoring.http_stats import HttpStats
from coral_serve.monitoring.line_totals import LINE_TOTALS_FILE, LineTotals
from coral_serve.monitoring.loops import Loops
from coral_serve.monitoring.outbox import WRITE_TIMEOUT, SinkStatus
from coral_serve.monitoring.poller import WorkerPoller
from coral_serve.monitoring.quota import QuotaKeeper
from coral_serve.monitoring.service_metrics import CallbackCollector, service_families
from coral_serve.monitoring.viewers import VIEWER_REPORT_TTL, ViewerCounts
from coral_serve.schema.analytics import LineCrossings
from coral_serve.schema.checks import CheckResult, Readiness
from coral_serve.schema.disk import CleanupReport, DiskReport, NodeDisk
from coral_serve.schema.metrics import PipelineMetrics
from coral_serve.services.media_agent import MediaNodes, ask_every_node
from coral_serve.sinks.base import MetricsSink
from coral_serve.sinks.points import Point
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
    Ray-aware modules know. `media`: every node's media agent, on a cluster whose nodes keep
    media on their own disks; the disk report, cleanup and disk checks then cover each node
    (its agent enforces the quota there). None: this replica's directory is all there is.
    """

    def __init__(
        self,
        config: CoralConfig,
        workers: WorkerPool,
        extra_sinks: Mapping[str, MetricsSink] | None = None,
        media: MediaNodes | None = None,
    ) -> None:
        self._config = config
        self._media = media
        self._monitoring = config.monitoring
        self._extra_sinks = dict(extra_sinks or {})
        lines = LineTotals(Path(config.pipelines.data_dir) / LINE_TOTALS_FILE)
        self._poller = WorkerPoller(workers, config.monitoring, lines)
        self._viewers = ViewerCounts()
        self._sinks = SinkFanout(config.monitoring)
        self._http = HttpReports()
        self._exposition = Exposition()
        self._quota = QuotaKeeper(
            Path(str(config.streams.recordings.directory)),
            config.monitoring.disk,
            downloads_dir(config.pipelines.data_dir),
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

    async def line_crossings(self, pipeline_id: str) -> list[LineCrossings]:
        totals = self._poller.line_totals(pipeline_id)
        return [
            LineCrossings(line=line, direction=direction, label=label, count=count)
            for (line, direction, label), count in sorted(totals.items())
        ]

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
        """This replica's recordings directory, and each node's on a cluster."""
        report = await self._quota.report()
        if self._media is None:
            return report
        nodes = [
            NodeDisk(node=node, disk=None, error=_failure(answer))
            if isinstance(answer, BaseException)
            else NodeDisk(node=node, disk=answer)
            for node, answer in await self._ask_nodes("disk_report")
        ]
        return report.model_copy(update={"nodes": nodes})

    async def cleanup(self, dry_run: bool = False) -> CleanupReport:
        """Enforce the recordings quota now (or only say what it would delete), on every node
        of a cluster; a node that does not answer is named in `errors`."""
        if self._media is None:
            return await self._quota.cleanup(dry_run)
        merged = CleanupReport(dry_run=dry_run, deleted=[], freed_bytes=0, kept_in_progress=0)
        for node, answer in await self._ask_nodes("cleanup", dry_run):
            if isinstance(answer, BaseException):
                merged.errors.append(f"node {node}: {_failure(answer)}")
                continue
            merged.deleted += answer.deleted
            merged.freed_bytes += answer.freed_bytes
            merged.kept_in_progress += answer.kept_in_progress
            merged.errors += [f"node {node}: {error}" for error in answer.errors]
        return merged

    async def poll(self) -> None:
        """One polling round; its points go to the history and to every sink."""
        points = await self._poller.poll(self._viewers.totals(), time.time())
        self._sinks.offer(points)

    # -- readiness checks (HealthService calls them by name) ---------------------------

    async def check_disk(self) -> CheckResult:
        """Readiness: the recordings filesystem keeps its minimum share of free space (on
        every node of a cluster)."""
        if self._media is None:
            return await self._quota.check_disk()
        return await self._check_nodes("check_disk", "disk")

    async def check_disk_quota(self) -> CheckResult:
        """Warning: recordings use more than warn_percent of their byte quota (on a node)."""
        if self._media is None:
            return await self._quota.check_quota()
        return await self._check_nodes("check_quota", "disk_quota")

    async def check_tasks(self) -> CheckResult:
        """Readiness: every background task is alive (they catch their own errors)."""
        return self._loops.check()

    async def check_sinks(self) -> CheckResult:
        """Warning: a sink is down; its points wait, bounded, and it is retried."""
        return self._sinks.check()

    # -- internals ---------------------------------------------------------------------

    async def _ask_nodes(self, method: str, *args: Any) -> list[tuple[str, Any]]:
        assert self._media is not None
        timeout = self._config.streams.media.agent_timeout
        return await ask_every_node(self._media, method, *args, timeout=timeout)

    async def _usage_points(self) -> list[Point]:
        """Recordings usage per pipeline directory: this replica's, or every node's (a node
        that does not answer sends its points next round)."""
        if self._media is None:
            return await self._quota.usage_points()
        points: list[Point] = []
        for node, answer in await self._ask_nodes("usage_points"):
            if isinstance(answer, BaseException):
                log.warning("recordings usage of node %s: %s", node, _failure(answer))
            else:
                points += answer
        return points

    async def _check_nodes(self, method: str, name: str) -> CheckResult:
        """One check over every node: it fails if a node's fails; a node whose agent does
        not answer within half the check's time is named but fails nothing (it may be
        leaving the cluster, and its pipelines with it)."""
        assert self._media is not None
        timeout = min(
            self._config.streams.media.agent_timeout, self._config.health.check_timeout / 2
        )
        answers = await ask_every_node(self._media, method, timeout=timeout)
        ok, details = True, []
        for node, answer in answers:
            if isinstance(answer, BaseException):
                details.append(f"node {node[:12]}: no answer ({_failure(answer)})")
                continue
            ok = ok and answer.ok
            details.append(f"node {node[:12]}: {answer.detail}")
        return CheckResult(name=name, ok=ok, detail="; ".join(details) or "no nodes")

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
                if self._media is None:
                    await self._quota.cleanup()
                else:  # each node's agent enforces the quota on its own disk
                    await self._media.keep_quota()
                if self._sinks:
                    self._sinks.offer(await self._usage_points())
            except Exception:
                log.exception("recordings quota pass failed")
            await asyncio.sleep(self._monitoring.disk.check_interval)


def _failure(error: BaseException) -> str:
    return str(error) or type(error).__name__
