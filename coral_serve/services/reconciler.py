"""Make the running workers match the stored desired state, and restart them per policy."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from coral_serve.errors import CoralError
from coral_serve.schema.records import PipelineRecord
from coral_serve.schema.redact import masked_text
from coral_serve.schema.spec import PipelineSpec, RestartPolicy
from coral_serve.schema.state import DesiredState, PipelineState
from coral_serve.schema.views import PipelineStatus
from coral_serve.services.freshness import Fresh
from coral_serve.store.pipelines import PipelineStore, UnreadableRowError
from coral_serve.workers.pool import WorkerGone, WorkerPool

__all__ = ["Reconciler", "Supervision"]

log = logging.getLogger(__name__)

STATUS_TIMEOUT = 3.0
# Pipelines one pass looks at together: N pending workers cost one status timeout, not N.
PASS_CONCURRENCY = 16
# API reads share a worker's status this long, so a burst of requests costs one actor call.
STATUS_MAX_AGE = 0.5
# A worker that ran this long since its last (re)start is healthy again: backoff resets.
_STABLE_SECONDS = 60.0
_WORKER_DIED = "worker process died"
_ACTIVE_STATES = frozenset(
    {PipelineState.starting, PipelineState.running, PipelineState.reconnecting}
)


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
    # Why the last attempt to start a worker failed (None once one started) and how many
    # attempts in a row failed: the backoff between attempts grows with them.
    launch_error: str | None = None
    launch_failures: int = 0
    # The model check on a node that would run the worker, while it is under way, and the
    # spec that last passed it (a changed spec is checked again). A failed check gives up:
    # a broken model file does not mend itself by retrying.
    model_check: asyncio.Task[str | None] | None = None
    model_passed: PipelineSpec | None = None


@dataclass
class _SharedLock:
    """A pipeline's lock and how many coroutines hold or wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


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
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        wake: Callable[[], None] | None = None,
    ) -> None:
        """`wake` asks for a pass now: a model check has finished."""
        self._store = store
        self._wake = wake
        self._workers = workers
        self._backoff = (backoff_initial, backoff_max)
        self._supervision: dict[str, Supervision] = {}
        self._locks: dict[str, _SharedLock] = {}

    @contextlib.asynccontextmanager
    async def lock(self, pipeline_id: str) -> AsyncIterator[None]:
        """Serialises API actions and reconcile passes on one pipeline.

        The lock lives while anyone holds or awaits it, so nothing (not even `forget`) can
        hand a second coroutine a fresh lock for the same pipeline, and ids of deleted
        pipelines leave nothing behind.
        """
        shared = self._locks.setdefault(pipeline_id, _SharedLock())
        shared.users += 1
        try:
            async with shared.lock:
                yield
        finally:
            shared.users -= 1
            if not shared.users:
                del self._locks[pipeline_id]

    def supervision(self, pipeline_id: str) -> Supervision:
        return self._supervision.setdefault(pipeline_id, Supervision())

    def invalidate(self, pipeline_id: str) -> None:
        """Read the worker's status afresh next time (after pausing or resuming it)."""
        fresh = self.supervision(pipeline_id).fresh_status
        if fresh is not None:
            fresh.invalidate()

    def forget(self, pipeline_id: str, keep_passed: bool = False) -> None:
        """Drop what is known about a pipeline's worker (restarted or deleted); a restart of
        the same spec may `keep_passed` its model check."""
        supervision = self._supervision.pop(pipeline_id, None)
        if supervision is None:
            return
        if supervision.model_check is not None:
            supervision.model_check.cancel()
        if keep_passed and supervision.model_passed is not None:
            self.model_passed(pipeline_id, supervision.model_passed)

    def model_passed(self, pipeline_id: str, spec: PipelineSpec) -> None:
        """`spec`'s model was checked where it runs (by a create): its worker starts at once."""
        self.supervision(pipeline_id).model_passed = spec

    async def reconcile(self) -> None:
        """One pass: start what is missing, restart what failed, stop orphans.

        Workers are listed before rows: every worker is started after its row is stored, so
        a worker without a row in this list is really an orphan (checked again under its
        lock before it is stopped).
        """
        seen_at = time.monotonic()
        live = await self._workers.live()
        records = await self._store.list()
        gate = asyncio.Semaphore(PASS_CONCURRENCY)
        await asyncio.gather(
            *(self._reconcile_record(row, row.id in live, seen_at, gate) for row in records)
        )
        for orphan in live - {record.id for record in records}:
            await self._stop_orphan(orphan)

    async def _reconcile_record(
        self, seen: PipelineRecord, alive: bool, seen_at: float, gate: asyncio.Semaphore
    ) -> None:
        """Ask the worker without holding the pipeline's lock (a pending worker takes the
        whole status timeout to answer), then act under the lock unless something changed."""
        async with gate:
            try:
                status = await self.observe(seen) if alive and not self._given_up(seen) else None
                async with self.lock(seen.id):
                    current = await self._store.get(seen.id)
                    if current is None:
                        self.forget(seen.id)  # deleted while its worker was asked
                        return
                    if current.updated != seen.updated:
                        return  # changed meanwhile: the next pass sees it as it is
                    launched_at = self.supervision(seen.id).launched_at
                    if launched_at is not None and launched_at > seen_at:
                        return  # (re)started since the workers were listed
                    await self._reconcile_one(current, status)
            except Exception:  # one broken pipeline must not stall the others
                log.exception("reconciling pipeline %s failed", seen.id)

    async def _stop_orphan(self, pipeline_id: str) -> None:
        async with self.lock(pipeline_id):
            try:
                with contextlib.suppress(UnreadableRowError):  # a quarantined row does not run
                    if await self._store.get(pipeline_id) is not None:
                        return  # created after the rows were read
                log.info("stopping orphan worker %s", pipeline_id)
                await self._workers.kill(pipeline_id)
            except Exception:  # like a broken pipeline, one orphan must not end the pass
                log.exception("stopping orphan worker %s failed", pipeline_id)

    def _given_up(self, record: PipelineRecord) -> bool:
        return self.supervision(record.id).given_up

    async def status(self, record: PipelineRecord, alive: bool) -> PipelineStatus:
        supervision = self.supervision(record.id)
        if supervision.given_up and supervision.last_status is not None:
            return supervision.last_status
        if alive:
            if supervision.fresh_status is None:
                supervision.fresh_status = Fresh(lambda: self.observe(record), STATUS_MAX_AGE)
            return await supervision.fresh_status.get()
        if supervision.model_check is not None:
            state, reason = PipelineState.pending, f"{_waiting_for(record.spec)} to check its model"
        elif supervision.launch_error is not None:
            state, reason = PipelineState.failed, supervision.launch_error
        elif supervision.launched_at is None:
            state, reason = PipelineState.starting, None
        else:
            state, reason = PipelineState.restarting, _WORKER_DIED
        return self._stamped(record, PipelineStatus(state=state, reason=reason))

    async def observe(self, record: PipelineRecord) -> PipelineStatus:
        """Ask the worker; a worker that cannot answer yet is waiting for resources."""
        supervision = self.supervision(record.id)
        try:
            raw = await self._workers.call(record.id, "status", timeout=STATUS_TIMEOUT)
        except asyncio.TimeoutError:
            status = PipelineStatus(state=PipelineState.pending, reason=_waiting_for(record.spec))
        except WorkerGone:
            status = PipelineStatus(state=PipelineState.failed, reason=_WORKER_DIED)
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
        """Start a worker for `record`; a downloaded source is fetched by the worker, onto
        the disk of the node it runs on. A paused pipeline's worker starts paused: it never
        processes a frame.
        """
        supervision = self.supervision(record.id)
        if not await self._model_checked(record, supervision):
            return
        paused = record.desired_state is DesiredState.paused
        try:
            await self._workers.start(record.id, record.spec, record.generation, paused)
        except Exception as exc:  # Ray refusing the actor, or the worker failing to build
            await self._launch_failed(record, supervision, exc)
            return
        supervision.launched_at = time.monotonic()
        supervision.retry_at = None
        supervision.launch_error = None
        supervision.launch_failures = 0
        supervision.given_up = False
        supervision.failure_reported = False
        supervision.last_status = None
        supervision.fresh_status = None
        if event:
            await self._store.add_event(record.id, event)

    async def _launch_failed(
        self, record: PipelineRecord, supervision: Supervision, exc: Exception
    ) -> None:
        """Say why, once per distinct reason, and try again later (exponential, capped)."""
        detail = exc.detail if isinstance(exc, CoralError) else f"{type(exc).__name__}: {exc}"
        reason = f"worker could not start: {masked_text(detail)}"
        supervision.launch_failures += 1
        initial, ceiling = self._backoff
        delay = min(ceiling, initial * 2 ** (supervision.launch_failures - 1))
        supervision.retry_at = time.monotonic() + delay
        supervision.launched_at = None
        log.warning("pipeline %s: %s; next attempt in %.0fs", record.id, reason, delay)
        if reason != supervision.launch_error:
            supervision.launch_error = reason
            await self._store.add_event(record.id, "launch_failed", reason)
        if record.restart_policy is RestartPolicy.never:
            await self._give_up(record, reason)

    async def _model_checked(self, record: PipelineRecord, supervision: Supervision) -> bool:
        """Whether the model passed its check where the pipeline runs; starts that check (it
        waits for the pipeline's resources, as its worker would), or fails the pipeline with
        the reason the check gave."""
        if supervision.model_passed == record.spec:
            return True
        task = supervision.model_check
        if task is None:
            supervision.model_check = asyncio.create_task(
                self._workers.check_model(record.spec), name=f"coral-model-check-{record.id}"
            )
            wake = self._wake
            if wake is not None:
                supervision.model_check.add_done_callback(lambda _: wake())
            return False
        if not task.done():
            return False
        supervision.model_check = None
        error = None if task.cancelled() else task.exception()
        if task.cancelled() or error is not None:  # e.g. its node went away while checking
            await self._launch_failed(record, supervision, error or RuntimeError("cancelled"))
            return False
        reason = task.result()
        if reason is None:
            supervision.model_passed = record.spec
            return True
        log.warning("pipeline %s: %s", record.id, reason)
        await self._store.add_event(record.id, "failed", reason)
        await self._give_up(record, reason)
        return False

    async def _reconcile_one(self, record: PipelineRecord, status: PipelineStatus | None) -> None:
        """Act on one pipeline; `status` is what its worker said (None: no live worker)."""
        supervision = self.supervision(record.id)
        if supervision.given_up:
            return
        if status is None:
            if supervision.launched_at is not None:
                await self._on_failure(record, _WORKER_DIED, finished=False)
            elif supervision.retry_at is None or time.monotonic() >= supervision.retry_at:
                await self.launch(record, "started")  # first start, or restore after a restart
            return
        if supervision.launched_at is None:
            supervision.launched_at = time.monotonic()  # adopted after a redeploy
            await self._store.add_event(record.id, "adopted")
        if status.generation != record.generation:
            log.info("pipeline %s changed; replacing its worker", record.id)
            await self.launch(record, "restarted")
        elif status.state == PipelineState.failed:
            await self._on_failure(record, status.reason or "failed", finished=False)
        elif status.state == PipelineState.finished:
            await self._on_failure(record, "source ended", finished=True)
        elif record.desired_state is DesiredState.paused and status.state in _ACTIVE_STATES:
            await self._workers.call(record.id, "pause")
        elif record.desired_state is DesiredState.running and status.state == PipelineState.paused:
            await self._workers.call(record.id, "resume")
        elif (
            status.state == PipelineState.running
            and supervision.restarts
            and self._stable(supervision)
        ):
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
        state = PipelineState.finished if finished else PipelineState.failed
        supervision.last_status = self._stamped(
            record,
            (supervision.last_status or PipelineStatus(state=state)).model_copy(
                update={"state": state, "reason": None if finished else reason}
            ),
        )
