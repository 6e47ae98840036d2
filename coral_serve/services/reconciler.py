"""Make the running workers match the stored desired state, and restart them per policy."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from coral_serve.engine.spec import PipelineSpec, RestartPolicy
from coral_serve.errors import CoralError
from coral_serve.services.downloads import Downloader
from coral_serve.services.freshness import Fresh
from coral_serve.services.sources import source_scheme
from coral_serve.services.views import PipelineStatus
from coral_serve.store.pipelines import DesiredState, PipelineRecord, PipelineStore
from coral_serve.workers.pool import WorkerGone, WorkerPool

__all__ = ["Reconciler", "Supervision"]

log = logging.getLogger(__name__)

STATUS_TIMEOUT = 3.0
# API reads share a worker's status this long, so a burst of requests costs one actor call.
STATUS_MAX_AGE = 0.5
# A worker that ran this long since its last (re)start is healthy again: backoff resets.
_STABLE_SECONDS = 60.0
_WORKER_DIED = "worker process died"
_ACTIVE_STATES = frozenset({"starting", "running", "reconnecting"})


@dataclass
class Supervision:
    """What this service knows about a pipeline beyond its stored row."""

    launched_at: float | None = None
    restarts: int = 0
    retry_at: float | None = None
    given_up: bool = False
    failure_reported: bool = False
    last_status: PipelineStatus | None = None
    fresh_status: Fresh[PipelineStatus] | None = None
    download: asyncio.Task[Path] | None = None


def _waiting_for(spec: PipelineSpec) -> str:
    """Name the resources, so an operator sees which kind of node is missing or full."""
    wanted = spec.resources
    amounts = {**wanted.custom, "GPU": wanted.num_gpus, "CPU": wanted.num_cpus}
    listed = ", ".join(f"{name} {amount:g}" for name, amount in amounts.items() if amount)
    return f"waiting for a node with free {listed}" if listed else "waiting for its worker"


class Reconciler:
    def __init__(
        self,
        store: PipelineStore,
        workers: WorkerPool,
        downloader: Downloader,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self._store = store
        self._workers = workers
        self._downloader = downloader
        self._backoff = (backoff_initial, backoff_max)
        self._supervision: dict[str, Supervision] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, pipeline_id: str) -> asyncio.Lock:
        """Serialises API actions and reconcile passes on one pipeline."""
        return self._locks.setdefault(pipeline_id, asyncio.Lock())

    def supervision(self, pipeline_id: str) -> Supervision:
        return self._supervision.setdefault(pipeline_id, Supervision())

    def invalidate(self, pipeline_id: str) -> None:
        """Read the worker's status afresh next time (after pausing or resuming it)."""
        fresh = self.supervision(pipeline_id).fresh_status
        if fresh is not None:
            fresh.invalidate()

    def forget(self, pipeline_id: str) -> None:
        supervision = self._supervision.pop(pipeline_id, None)
        if supervision is not None and supervision.download is not None:
            supervision.download.cancel()
        self._locks.pop(pipeline_id, None)

    async def reconcile(self) -> None:
        """One pass: start what is missing, restart what failed, stop orphans."""
        records = await self._store.list()
        live = await self._workers.live()
        for record in records:
            async with self.lock(record.id):
                current = await self._store.get(record.id)
                if current is None:
                    continue
                try:
                    await self._reconcile_one(current, current.id in live)
                except Exception:  # one broken pipeline must not stall the others
                    log.exception("reconciling pipeline %s failed", current.id)
        for orphan in live - {record.id for record in records}:
            log.info("stopping orphan worker %s", orphan)
            await self._workers.kill(orphan)

    async def status(self, record: PipelineRecord, alive: bool) -> PipelineStatus:
        supervision = self.supervision(record.id)
        if supervision.given_up and supervision.last_status is not None:
            return supervision.last_status
        if alive:
            if supervision.fresh_status is None:
                supervision.fresh_status = Fresh(lambda: self.observe(record), STATUS_MAX_AGE)
            return await supervision.fresh_status.get()
        if supervision.download is not None:
            state, reason = "downloading", None
        elif supervision.launched_at is None:
            state, reason = "starting", None
        else:
            state, reason = "restarting", _WORKER_DIED
        return self._stamped(record, PipelineStatus(state=state, reason=reason))

    async def observe(self, record: PipelineRecord) -> PipelineStatus:
        """Ask the worker; a worker that cannot answer yet is waiting for resources."""
        supervision = self.supervision(record.id)
        try:
            raw = await self._workers.call(record.id, "status", timeout=STATUS_TIMEOUT)
        except asyncio.TimeoutError:
            status = PipelineStatus(state="pending", reason=_waiting_for(record.spec))
        except WorkerGone:
            status = PipelineStatus(state="failed", reason=_WORKER_DIED)
        else:
            status = PipelineStatus.model_validate(raw)
        status = self._stamped(record, status)
        supervision.last_status = status
        return status

    def _stamped(self, record: PipelineRecord, status: PipelineStatus) -> PipelineStatus:
        supervision = self.supervision(record.id)
        return status.model_copy(
            update={
                "restarts": supervision.restarts,
                "generation": status.generation or record.generation,
            }
        )

    async def launch(self, record: PipelineRecord, event: str | None) -> None:
        """Start a worker for `record` (after fetching a downloaded source, if needed)."""
        supervision = self.supervision(record.id)
        spec = await self._worker_spec(record, supervision)
        if spec is None:
            return
        await self._workers.start(record.id, spec, record.generation)
        supervision.launched_at = time.monotonic()
        supervision.retry_at = None
        supervision.given_up = False
        supervision.failure_reported = False
        supervision.last_status = None
        supervision.fresh_status = None
        if event:
            await self._store.add_event(record.id, event)

    async def _worker_spec(
        self, record: PipelineRecord, supervision: Supervision
    ) -> PipelineSpec | None:
        """The spec the worker runs: a downloaded source points at its local copy."""
        spec = record.spec
        if not spec.source.download or source_scheme(spec.source.uri) not in ("http", "https"):
            return spec
        target = self._downloader.target(record.id, spec.source.uri)
        if not target.is_file():
            task = supervision.download
            if task is None:
                supervision.download = asyncio.create_task(
                    self._downloader.fetch(record.id, spec.source.uri)
                )
                return None
            if not task.done():
                return None
            supervision.download = None
            error = task.exception()
            if error is not None:
                reason = error.detail if isinstance(error, CoralError) else type(error).__name__
                await self._give_up(record, f"download failed: {reason}")
                return None
        source = spec.source.model_copy(update={"uri": str(target)})
        return spec.model_copy(update={"source": source})

    async def _reconcile_one(self, record: PipelineRecord, alive: bool) -> None:
        supervision = self.supervision(record.id)
        if supervision.given_up:
            return
        if not alive:
            if supervision.launched_at is None:
                await self.launch(record, "started")  # first start, or restore after a restart
            else:
                await self._on_failure(record, _WORKER_DIED, finished=False)
            return
        if supervision.launched_at is None:
            supervision.launched_at = time.monotonic()  # adopted after a redeploy
            await self._store.add_event(record.id, "adopted")
        status = await self.observe(record)
        if status.generation != record.generation:
            log.info("pipeline %s changed; replacing its worker", record.id)
            await self.launch(record, "restarted")
        elif status.state == "failed":
            await self._on_failure(record, status.reason or "failed", finished=False)
        elif status.state == "finished":
            await self._on_failure(record, "source ended", finished=True)
        elif record.desired_state is DesiredState.paused and status.state in _ACTIVE_STATES:
            await self._workers.call(record.id, "pause")
        elif record.desired_state is DesiredState.running and status.state == "paused":
            await self._workers.call(record.id, "resume")
        elif status.state == "running" and supervision.restarts and self._stable(supervision):
            supervision.restarts = 0

    @staticmethod
    def _stable(supervision: Supervision) -> bool:
        return time.monotonic() - (supervision.launched_at or 0) > _STABLE_SECONDS

    async def _on_failure(self, record: PipelineRecord, reason: str, finished: bool) -> None:
        supervision = self.supervision(record.id)
        if not supervision.failure_reported:
            supervision.failure_reported = True
            await self._store.add_event(record.id, "finished" if finished else "failed", reason)
        policy = record.restart_policy
        if policy is RestartPolicy.never or (finished and policy is not RestartPolicy.always):
            await self._give_up(record, reason, finished=finished)
            return
        now = time.monotonic()
        if supervision.retry_at is None:
            initial, ceiling = self._backoff
            supervision.retry_at = now + min(ceiling, initial * 2**supervision.restarts)
            return
        if now < supervision.retry_at:
            return
        supervision.restarts += 1
        await self._store.bump_generation(record.id, "restarted", f"attempt {supervision.restarts}")
        fresh = await self._store.get(record.id)
        if fresh is not None:
            await self.launch(fresh, None)

    async def _give_up(self, record: PipelineRecord, reason: str, finished: bool = False) -> None:
        """Leave the pipeline as it is; its status keeps saying why."""
        supervision = self.supervision(record.id)
        supervision.given_up = True
        state = "finished" if finished else "failed"
        supervision.last_status = self._stamped(
            record,
            (supervision.last_status or PipelineStatus(state=state)).model_copy(
                update={"state": state, "reason": None if finished else reason}
            ),
        )
