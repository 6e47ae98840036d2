"""MonitorService: polls pipeline workers, keeps chart history, feeds the metric sinks and
enforces the recordings disk quota."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from coral_serve.config import CoralConfig
from coral_serve.errors import NotFoundError
from coral_serve.monitoring.disk import CleanupReport, DiskReport, RecordingsQuota
from coral_serve.monitoring.history import History, MetricSample, PipelineMetrics
from coral_serve.monitoring.http_stats import HttpStats
from coral_serve.monitoring.outbox import WRITE_TIMEOUT, SinkOutbox, SinkStatus
from coral_serve.monitoring.points import (
    Point,
    gone_point,
    pipeline_point,
    recordings_point,
    unresponsive_point,
)
from coral_serve.monitoring.service_metrics import CallbackCollector, service_families
from coral_serve.services.checks import CheckResult, Readiness
from coral_serve.services.views import PipelineStatus
from coral_serve.sinks.base import MetricsSink
from coral_serve.sinks.prometheus import PrometheusSink
from coral_serve.sinks.registry import build_sinks
from coral_serve.tasks import stop_tasks
from coral_serve.workers.pool import WorkerPool

__all__ = ["TASK_PREFIX", "MonitorService"]

log = logging.getLogger(__name__)

TASK_PREFIX = "coral-monitor-"
# stop() budget: cancelled loops end at once; the final flush and closing get the rest.
_CANCEL_SECONDS = 1.0
_FINAL_FLUSH_SECONDS = 2.0
_CLOSE_SECONDS = 1.0
# A viewer report older than this is ignored (its StreamService replica stopped reporting).
VIEWER_REPORT_TTL = 30.0
# Remember each ingress replica's last HTTP report this long, to discard retried ones.
_HTTP_REPLICA_TTL = 3600.0
_MIB = 1024 * 1024


class MonitorService:
    """One replica: history, sink buffers, the Prometheus state and the disk quota are shared
    state, so every ingress replica asks this one, and /metrics is the same on all of them.

    `extra_sinks` are sinks built by the caller, e.g. Ray's metrics, which only app.py knows.
    """

    def __init__(
        self,
        config: CoralConfig,
        workers: WorkerPool,
        extra_sinks: Mapping[str, MetricsSink] | None = None,
    ) -> None:
        self._config = config
        self._monitoring = config.monitoring
        self._workers = workers
        self._extra_sinks = dict(extra_sinks or {})
        self._quota = RecordingsQuota(
            Path(str(config.streams.recordings.directory)), config.monitoring.disk
        )
        self._history = History(self._monitoring.history_seconds, self._monitoring.poll_interval)
        # A round never outlasts its interval by much, whatever one worker does.
        self._poll_timeout = min(max(self._monitoring.poll_interval, 0.5), 5.0)
        self._outboxes: list[SinkOutbox] = []
        self._registry: CollectorRegistry | None = None
        self._http = HttpStats()
        self._http_sequences: dict[str, tuple[int, float]] = {}
        self._viewers: dict[str, tuple[float, dict[str, int]]] = {}
        self._readiness: Readiness | None = None
        self._names: dict[str, str] = {}  # pipelines of the last poll: id -> name
        self._directories: set[str] = set()  # recordings directories last reported
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cleanup_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start polling, one flush loop per sink, and the quota loop."""
        if self._tasks:
            return
        monitoring = self._monitoring
        if monitoring.enabled:
            sinks = {
                **build_sinks(monitoring.sinks, self._config.plugins, WRITE_TIMEOUT),
                **self._extra_sinks,
            }
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
            self._registry = self._prometheus_registry(sinks.values())
            self._spawn("poll", self._poll_loop())
            for outbox in self._outboxes:
                self._spawn(f"sink-{outbox.name}", outbox.run())
        self._spawn("disk", self._disk_loop())

    async def stop(self) -> None:
        """Cancel every task, flush what is buffered once, close the sinks: within 5 s."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        await stop_tasks(tasks, timeout=_CANCEL_SECONDS)
        outboxes, self._outboxes = self._outboxes, []
        if outboxes:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(outbox.flush() for outbox in outboxes)), _FINAL_FLUSH_SECONDS
                )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(o.sink.close() for o in outboxes), return_exceptions=True),
                    _CLOSE_SECONDS,
                )

    async def running_tasks(self) -> list[str]:
        """Names of the background tasks still running (empty once stopped)."""
        return [name for name, task in self._tasks.items() if not task.done()]

    # -- API ---------------------------------------------------------------------------

    async def history(self, pipeline_id: str, window: float) -> PipelineMetrics:
        points = self._history.window(pipeline_id, window, time.time())
        return PipelineMetrics(
            pipeline_id=pipeline_id,
            window=min(window, self._history.seconds),
            poll_interval=self._monitoring.poll_interval,
            samples=[MetricSample(time=p.time, values=dict(p.fields)) for p in points],
        )

    async def metrics_text(self) -> bytes:
        """Prometheus exposition of every pipeline, sink, readiness check and HTTP route."""
        if self._registry is None:
            raise NotFoundError(
                "the prometheus sink is not configured (monitoring.sinks: [{type: prometheus}])"
            )
        return generate_latest(self._registry)

    async def report_http(self, replica: str, sequence: int, stats: HttpStats) -> None:
        """Add an ingress replica's request counts since its previous report; a report it
        retries after a lost answer carries the same sequence number and counts once."""
        now = time.monotonic()
        last = self._http_sequences.get(replica)
        if last is None or sequence > last[0]:
            self._http.merge(stats)
            self._http_sequences[replica] = (sequence, now)
        for name, (_, seen) in list(self._http_sequences.items()):
            if now - seen > _HTTP_REPLICA_TTL:
                del self._http_sequences[name]

    async def report_viewers(self, replica: str, viewers: Mapping[str, int]) -> None:
        """A StreamService replica's viewer count per pipeline id; replicas report at least
        every VIEWER_REPORT_TTL / 3 seconds, and a stopped replica's counts expire."""
        self._viewers[replica] = (time.monotonic(), dict(viewers))

    async def record_health(self, readiness: Readiness) -> None:
        """HealthService hands over each readiness evaluation for the metrics."""
        self._readiness = readiness

    async def sinks(self) -> list[SinkStatus]:
        return [outbox.status() for outbox in self._outboxes]

    async def disk_report(self) -> DiskReport:
        return await asyncio.to_thread(self._quota.report, time.time())

    async def cleanup(self, dry_run: bool = False) -> CleanupReport:
        """Enforce the recordings quota now (or only say what it would delete)."""
        async with self._cleanup_lock:
            return await asyncio.to_thread(self._quota.enforce, dry_run, time.time())

    # -- readiness checks --------------------------------------------------------------

    async def check_disk(self) -> CheckResult:
        """Readiness: the recordings filesystem keeps its minimum share of free space."""
        usage = await asyncio.to_thread(self._quota.filesystem)
        free_percent = 100.0 * usage.free / usage.total if usage.total else 0.0
        floor = self._monitoring.disk.min_free_percent
        return CheckResult(
            name="disk",
            ok=free_percent >= floor,
            detail=f"{free_percent:.1f}% free on {self._quota.root} (minimum {floor:g}%)",
        )

    async def check_disk_quota(self) -> CheckResult:
        """Warning: recordings use more than warn_percent of their byte quota."""
        report = await self.disk_report()
        if report.quota_percent is None or report.max_bytes is None:
            return CheckResult(name="disk_quota", ok=True, detail="no byte quota set")
        return CheckResult(
            name="disk_quota",
            ok=report.quota_percent <= report.warn_percent,
            detail=f"recordings use {report.used_bytes / _MIB:.1f} MiB, "
            f"{report.quota_percent:.1f}% of {report.max_bytes / _MIB:.1f} MiB "
            f"(warning above {report.warn_percent:g}%)",
        )

    async def check_tasks(self) -> CheckResult:
        """Readiness: every background task is alive (they catch their own errors)."""
        if not self._tasks:
            return CheckResult(name="monitor", ok=False, detail="not running")
        ended = [
            f"{name} ended ({_outcome(task)})" for name, task in self._tasks.items() if task.done()
        ]
        if ended:
            return CheckResult(name="monitor", ok=False, detail="; ".join(ended))
        return CheckResult(name="monitor", ok=True, detail=f"{len(self._tasks)} tasks running")

    async def check_sinks(self) -> CheckResult:
        """Warning: a sink is down; its points wait, bounded, and it is retried."""
        statuses = await self.sinks()
        down = [s for s in statuses if not s.up]
        if down:
            detail = "; ".join(
                f"{s.name} down: {s.last_error} ({s.buffered} buffered, {s.dropped} dropped)"
                for s in down
            )
            return CheckResult(name="sinks", ok=False, detail=detail)
        names = ", ".join(s.name for s in statuses) or "none"
        return CheckResult(name="sinks", ok=True, detail=f"up: {names}")

    # -- internals ---------------------------------------------------------------------

    def _spawn(self, name: str, loop: Coroutine[Any, Any, None]) -> None:
        full = f"{TASK_PREFIX}{name}"
        self._tasks[full] = asyncio.create_task(loop, name=full)

    def _prometheus_registry(self, sinks: Iterable[MetricsSink]) -> CollectorRegistry | None:
        prometheus = next((s for s in sinks if isinstance(s, PrometheusSink)), None)
        if prometheus is None:
            return None
        registry = CollectorRegistry(auto_describe=False)
        registry.register(prometheus)
        registry.register(self._http)
        registry.register(CallbackCollector(self._service_families))
        return registry

    def _service_families(self) -> Iterator[Metric]:
        tasks = {name: not task.done() for name, task in self._tasks.items()}
        statuses = [outbox.status() for outbox in self._outboxes]
        return service_families(statuses, tasks, self._readiness)

    async def _poll_loop(self) -> None:
        interval = self._monitoring.poll_interval
        while True:
            started = time.monotonic()
            try:
                await self.poll()
            except Exception:  # the loop must outlive any one bad round
                log.exception("polling pipeline workers failed")
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def poll(self) -> None:
        """One round: every live worker at once, each with its own deadline, so a dead or
        slow worker costs the others nothing."""
        now = time.time()
        live = await asyncio.wait_for(self._workers.live(), self._poll_timeout)
        viewers = self._viewer_counts()
        points = list(
            await asyncio.gather(
                *(self._poll_one(pid, viewers.get(pid, 0), now) for pid in sorted(live))
            )
        )
        for pipeline_id in self._names.keys() - live:
            points.append(gone_point(pipeline_id, self._names.pop(pipeline_id), now))
        for point in points:
            if not point.final:
                self._history.add(point.tags["pipeline"], point)
        self._history.prune(now)
        self._emit(points)

    async def _poll_one(self, pipeline_id: str, viewers: int, now: float) -> Point:
        try:
            # The pool applies the deadline to the call itself; this one also covers finding
            # the worker (a Ray actor lookup), which the pool does before its deadline starts.
            deadline = self._poll_timeout
            raw = await asyncio.wait_for(
                self._workers.call(pipeline_id, "status", timeout=deadline), deadline
            )
            status = PipelineStatus.model_validate(raw)
        except Exception as exc:  # timeout, worker gone, or a worker answering nonsense
            log.debug("pipeline %s did not report: %r", pipeline_id, exc)
            name = self._names.setdefault(pipeline_id, pipeline_id)
            return unresponsive_point(pipeline_id, name, viewers, now)
        point = pipeline_point(pipeline_id, status, viewers, now)
        self._names[pipeline_id] = point.tags["name"]
        return point

    def _viewer_counts(self) -> dict[str, int]:
        now = time.monotonic()
        counts: dict[str, int] = {}
        for replica, (reported, viewers) in list(self._viewers.items()):
            if now - reported > VIEWER_REPORT_TTL:
                del self._viewers[replica]
                continue
            for pipeline_id, count in viewers.items():
                counts[pipeline_id] = counts.get(pipeline_id, 0) + count
        return counts

    def _emit(self, points: list[Point]) -> None:
        for outbox in self._outboxes:
            outbox.offer(points)

    async def _disk_loop(self) -> None:
        while True:
            try:
                await self.cleanup()
                if self._outboxes:
                    await self._report_recordings()
            except Exception:
                log.exception("recordings quota pass failed")
            await asyncio.sleep(self._monitoring.disk.check_interval)

    async def _report_recordings(self) -> None:
        now = time.time()
        inventory = await asyncio.to_thread(self._quota.inventory, now)
        usage = inventory.by_pipeline()
        points = [recordings_point(d, size, count, now) for d, (size, count) in usage.items()]
        points += [
            recordings_point(d, 0, 0, now, final=True) for d in self._directories - usage.keys()
        ]
        self._directories = set(usage)
        self._emit(points)


def _outcome(task: asyncio.Task[None]) -> str:
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    return f"{type(error).__name__}: {error}" if error else "returned"
