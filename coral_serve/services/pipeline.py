"""PipelineService: owner of desired pipeline state and of the reconcile loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
from pydantic import ValidationError

from coral_serve.config import ConfigError, CoralConfig
from coral_serve.config.pipelines import resolve_template
from coral_serve.config.reload import redeploy_keys, reload_config
from coral_serve.engine.download import downloads_dir
from coral_serve.engine.errors import ModelLoadError
from coral_serve.engine.model_files import ModelFiles, confine_model_paths
from coral_serve.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PreconditionFailedError,
    UnavailableError,
)
from coral_serve.schema.changes import (
    PipelineUpdate,
    SpecChange,
    merge_diff,
    merge_patch,
    spec_changes,
)
from coral_serve.schema.checks import CheckResult
from coral_serve.schema.feed import ViewChanges
from coral_serve.schema.plans import ApplyPlan, ApplyRequest, PlannedChange, ReloadPlan
from coral_serve.schema.records import PipelineEvent, PipelineRecord
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.state import DesiredState, Origin
from coral_serve.schema.views import PipelineView
from coral_serve.services.freshness import Fresh
from coral_serve.services.outbound import check_outbound
from coral_serve.services.reconciler import STATUS_MAX_AGE, Reconciler
from coral_serve.services.secret_file import URL_SIGNING_SECRET_FILE, read_or_create_secret
from coral_serve.services.sources import check_source
from coral_serve.services.view_feed import ViewFeed
from coral_serve.store.database import open_database
from coral_serve.store.pipelines import (
    PipelineStore,
    StoreError,
    UnreadableRowError,
    validation_reason,
)
from coral_serve.tasks import stop_tasks
from coral_serve.workers.pool import WorkerGone, WorkerPool

__all__ = ["PipelineService", "declared_id"]

log = logging.getLogger(__name__)

# Seconds between two prunings of the event log by the reconcile loop.
_PRUNE_INTERVAL = 60.0
# How long a create waits for its model check where the pipeline runs, when a node has room
# for it (a cold Ray worker on a busy node takes seconds); longer, and it answers `pending`.
_MODEL_CHECK_WAIT = 30.0
# How long a delete waits for the worker to remove its downloaded source.
_DISCARD_SECONDS = 2.0
# Longest wait of one `watch` call.
_MAX_WATCH_SECONDS = 30.0
_DECLARED_NAMESPACE = uuid.UUID("6f0d3a52-55a4-4c3e-9a51-c0a1c0a01000")


def declared_id(name: str) -> str:
    """Pipelines declared in the descriptor keep the same id across restarts and hosts."""
    return uuid.uuid5(_DECLARED_NAMESPACE, name).hex


class PipelineService:
    """Keeps what users asked for in SQLite; exactly one replica owns the file.

    Every change is committed before any worker is touched, and the reconcile loop converges
    the workers on what is stored, so a crash at any point loses nothing.
    """

    def __init__(self, config: CoralConfig, workers: WorkerPool) -> None:
        self._config = config
        self._store_path = Path(str(config.pipelines.store_path))
        self._workers = workers
        self._db: aiosqlite.Connection | None = None
        self._store_inode: int | None = None
        self._store: PipelineStore | None = None
        self._reconciler: Reconciler | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._live = Fresh(self._workers.live, STATUS_MAX_AGE)
        self._feed = ViewFeed()

    async def start(self) -> None:
        self._db = await open_database(self._store_path)
        self._store_inode = self._store_path.stat().st_ino
        self._store = PipelineStore(self._db)
        self._reconciler = Reconciler(self._store, self._workers, wake=self._wake.set)
        await self._sync_declared()
        log.info("pipeline store open at %s", self._store_path)
        if self._config.pipelines.auto_restore:
            self._loop_task = asyncio.create_task(self._reconcile_loop(), name="coral-reconcile")

    async def stop(self) -> None:
        """Stop reconciling; workers keep running so a redeploy adopts them."""
        if self._loop_task is not None:
            await stop_tasks([self._loop_task])
            self._loop_task = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    # -- API ---------------------------------------------------------------------------

    async def create(self, spec: PipelineSpec, template: str | None = None) -> PipelineView:
        passed = await self._check_spec(spec)
        record = await self._insert(spec, template)
        await self._start(record, passed)
        return await self._written(record.id)

    async def _insert(self, spec: PipelineSpec, template: str | None) -> PipelineRecord:
        async with self._writing() as (store, _):
            if await store.get_by_name(spec.name) is not None:
                raise ConflictError(f"a pipeline named {spec.name!r} already exists")
            record = self._new_record(spec, uuid.uuid4().hex, Origin.api, template)
            await store.insert(record)
        log.info("created pipeline %s (%s)", record.id, record.name)
        return record

    async def _start(self, record: PipelineRecord, passed: bool) -> None:
        _, reconciler = self._ready()
        async with reconciler.lock(record.id):
            if passed:
                reconciler.model_passed(record.id, record.spec)
            await self._launch_now(record)

    async def list(self) -> list[PipelineView]:
        store, reconciler = self._ready()
        read_at = self._feed.version
        records = await store.list()
        live = await self._live.get()
        statuses = await asyncio.gather(
            *(reconciler.status(record, record.id in live) for record in records)
        )
        views = [PipelineView.of(r, s) for r, s in zip(records, statuses, strict=True)]
        views += [PipelineView.of_broken(row) for row in await store.broken()]
        self._feed.replace(views, read_at)
        return views

    async def get(self, pipeline_id: str) -> PipelineView:
        _, reconciler = self._ready()
        read_at = self._feed.version
        record = await self._record(pipeline_id)
        alive = pipeline_id in await self._live.get()
        view = PipelineView.of(record, await reconciler.status(record, alive))
        self._feed.publish([view], read_at)
        return view

    async def _written(self, pipeline_id: str) -> PipelineView:
        """The view a write answers with. A read that began before the write (a long-poll's
        list sharing a status read from before a pause) may finish after this one, and
        must not publish what it saw over it."""
        self._feed.touch(pipeline_id)
        return await self.get(pipeline_id)

    async def watch(self, epoch: str = "", since: int = 0, timeout: float = 0.0) -> ViewChanges:
        """Views changed after version `since` of `epoch` (every view for an unknown one).

        Waits up to `timeout` seconds for a change; when none comes, reads every status
        afresh and answers with what that changed. Ingress replicas long-poll this, so the
        workers are asked once per `timeout` however many reads the API serves.
        """
        timeout = min(max(timeout, 0.0), _MAX_WATCH_SECONDS)
        if self._feed.settling:  # a pipeline on its way to a state: look again soon
            timeout = min(timeout, STATUS_MAX_AGE)
        if not self._feed.primed or (timeout and not await self._feed.wait(epoch, since, timeout)):
            await self.list()
        return self._feed.changes(epoch, since)

    async def pause(self, pipeline_id: str) -> PipelineView:
        return await self._set_desired(pipeline_id, DesiredState.paused, "paused", "pause")

    async def resume(self, pipeline_id: str) -> PipelineView:
        return await self._set_desired(pipeline_id, DesiredState.running, "resumed", "resume")

    async def restart(self, pipeline_id: str) -> PipelineView:
        await self._record(pipeline_id)
        async with self._writing() as (store, reconciler), reconciler.lock(pipeline_id):
            await store.bump_generation(pipeline_id, "restarted", "requested")
            await self._workers.kill(pipeline_id)
            reconciler.forget(pipeline_id, keep_passed=True)
            record = await self._record(pipeline_id)
            await self._launch_now(record, event=None)
        return await self._written(pipeline_id)

    async def update(
        self,
        pipeline_id: str,
        patch: dict[str, Any],
        if_match: int | None = None,
        dry_run: bool = False,
    ) -> PipelineUpdate:
        """Apply a JSON merge patch to the stored spec (hot or cold, see schema/changes)."""

        def patched(record: PipelineRecord) -> tuple[PipelineSpec, str | None]:
            merged = merge_patch(record.spec.model_dump(mode="json"), patch)
            return PipelineSpec.model_validate(merged), record.template

        return await self._change(pipeline_id, patched, if_match, dry_run=dry_run)

    async def replace(
        self,
        pipeline_id: str,
        spec: PipelineSpec,
        if_match: int | None = None,
        dry_run: bool = False,
    ) -> PipelineUpdate:
        """Replace the whole spec, by the same hot/cold rules as `update`."""
        return await self._change(pipeline_id, lambda _: (spec, None), if_match, dry_run=dry_run)

    async def apply(self, request: ApplyRequest) -> ApplyPlan:
        """Create or update each spec by name, like `kubectl apply`: a spec as stored is left
        alone, so applying the same files twice changes nothing. Every spec is resolved and
        checked before the first write."""
        store, _ = self._ready()
        specs = [
            self._resolved(item, f"pipelines[{i}]") for i, item in enumerate(request.pipelines)
        ]
        names = [spec.name for spec, _ in specs]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise InvalidRequestError(f"pipelines: names must be unique; repeated: {repeated}")
        existing = {record.name: record for record in await store.list()}
        plan = ApplyPlan(dry_run=request.dry_run)
        added = [(spec, template) for spec, template in specs if spec.name not in existing]
        passed = [await self._check_spec(spec) for spec, _ in added]
        plan.added = [spec.name for spec, _ in added]
        if not request.dry_run:  # stored one by one, started together
            created = [await self._insert(spec, template) for spec, template in added]
            await asyncio.gather(*map(self._start, created, passed))
        for spec, template in specs:
            record = existing.get(spec.name)
            if record is None:
                continue
            if record.origin is Origin.config:
                plan.skipped.append(f"{spec.name}: {_declared_here(record.name)}")
            else:
                resolved = (spec, template)
                update = await self._change(
                    record.id, lambda _, r=resolved: r, None, dry_run=request.dry_run
                )
                _note(plan, spec.name, update)
        if request.prune:
            for record in existing.values():
                if record.origin is Origin.api and record.name not in names:
                    plan.removed.append(record.name)
                    if not request.dry_run:
                        await self._remove(record.id)
        if plan.added and not request.dry_run:
            await self.list()  # what was created reaches the readers' views at once
        return plan

    async def reload(self) -> ReloadPlan:
        """Read the descriptor again and apply its declared pipelines and templates (added,
        changed by the hot/cold rules, removed); other changed settings are reported."""
        try:
            fresh = await asyncio.to_thread(reload_config, self._config)
        except ConfigError as exc:
            problems = "; ".join(str(problem) for problem in exc.problems)
            raise InvalidRequestError(f"the descriptor cannot be reloaded: {problems}") from None
        pipelines = self._config.pipelines.model_copy(
            update={"declared": fresh.pipelines.declared, "templates": fresh.pipelines.templates}
        )
        pipelines.keep_templates_of(fresh.pipelines)
        needs_redeploy = redeploy_keys(self._config, fresh)
        old_templates = self._config.pipelines.templates
        self._config = self._config.model_copy(update={"pipelines": pipelines})
        plan = await self._sync_declared(now=True)
        await self._retemplate(old_templates, plan)
        if plan.added:
            await self.list()  # what was created reaches the readers' views at once
        plan.needs_redeploy = needs_redeploy
        log.info("descriptor reloaded: %s", plan.model_dump_json())
        return plan

    async def delete(self, pipeline_id: str) -> None:
        """Idempotent, from every state: the row goes first, then the worker and downloads."""
        store, _ = self._ready()
        try:
            record = await store.get(pipeline_id)
        except UnreadableRowError:
            record = None  # quarantined: deleting it is the way out
        if record is not None and record.origin is Origin.config:
            raise ConflictError(_declared_here(record.name))
        await self._remove(pipeline_id)

    async def _remove_worker(self, pipeline_id: str) -> None:
        """Stop the worker; its downloaded source goes from its node (the worker removes
        it there) and from this one's data dir (one box, or a shared volume)."""
        with contextlib.suppress(WorkerGone, asyncio.TimeoutError):
            # Short: a busy or hung worker must not hold up the delete; it is killed next
            # (what it could not remove stays in its node's downloads directory).
            await self._workers.call(pipeline_id, "discard_download", timeout=_DISCARD_SECONDS)
        await self._workers.kill(pipeline_id)
        own = downloads_dir(self._config.pipelines.data_dir) / pipeline_id
        await asyncio.to_thread(shutil.rmtree, own, ignore_errors=True)

    async def _remove(self, pipeline_id: str) -> None:
        store, reconciler = self._ready()
        async with self._writing(), reconciler.lock(pipeline_id):
            removed = await store.delete(pipeline_id)
            self._feed.remove(pipeline_id)
            await self._remove_worker(pipeline_id)
            await self._prune_events()  # its events go with it
        reconciler.forget(pipeline_id)
        self._live.invalidate()
        if removed:
            log.info("deleted pipeline %s", pipeline_id)

    async def results(
        self, pipeline_id: str, max_items: int, exclude: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Return and remove buffered results (empty while the pipeline has no worker)."""
        return await self._worker_results(pipeline_id, "consume_results", max_items, list(exclude))

    async def read_results(
        self, pipeline_id: str, after: int, max_items: int, exclude: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Buffered results with `seq > after`, left in place: a read any viewer may do."""
        return await self._worker_results(
            pipeline_id, "read_results", after, max_items, list(exclude)
        )

    async def _worker_results(
        self, pipeline_id: str, method: str, *args: Any
    ) -> list[dict[str, Any]]:
        await self._record(pipeline_id)
        try:
            return await self._workers.call(pipeline_id, method, *args)
        except (WorkerGone, asyncio.TimeoutError):
            return []

    async def events(self, pipeline_id: str, limit: int = 200) -> list[PipelineEvent]:
        store, _ = self._ready()
        await self._record(pipeline_id)
        return await store.events(pipeline_id, limit)

    async def url_signing_secret(self) -> bytes:
        """Key material of signed media URLs for every ingress replica, which may run on
        other nodes: kept next to the store this replica alone owns (mode 0600)."""
        path = self._store_path.with_name(URL_SIGNING_SECRET_FILE)
        return await asyncio.to_thread(read_or_create_secret, path)

    async def check_store(self) -> CheckResult:
        """Readiness: the store file is still there and answers a query.

        Unreadable rows are a warning, not a failure: the others are served, and an unready
        pod would only be restarted into the same store.
        """
        store, _ = self._ready()
        problem = await asyncio.to_thread(self._store_problem)
        if problem:
            return CheckResult(name="store", ok=False, detail=problem)
        count = await store.count()
        detail = f"{count} pipelines stored"
        broken = await store.broken()
        if broken:
            ids = ", ".join(row.id for row in broken)
            detail += f"; warning: {len(broken)} cannot be read and do not run (delete them): {ids}"
        return CheckResult(name="store", ok=True, detail=detail)

    # -- internals ---------------------------------------------------------------------

    def _store_problem(self) -> str:
        """Why writes would be lost: the file we hold open is no longer the one on disk."""
        try:
            inode = self._store_path.stat().st_ino
        except FileNotFoundError:
            return f"store file {self._store_path} is missing"
        if inode != self._store_inode:
            return f"store file {self._store_path} was replaced; restart to open the new one"
        return ""

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[tuple[PipelineStore, Reconciler]]:
        """Refuse a change that would not survive a restart, and say why (503, not 500)."""
        store, reconciler = self._ready()
        problem = await asyncio.to_thread(self._store_problem)
        if problem:
            raise UnavailableError(f"pipeline store unavailable: {problem}")
        try:
            yield store, reconciler
        except StoreError as exc:
            raise UnavailableError(f"pipeline store cannot be written: {exc}") from None

    def _ready(self) -> tuple[PipelineStore, Reconciler]:
        if self._store is None or self._reconciler is None:
            raise UnavailableError("pipeline store is not open")
        return self._store, self._reconciler

    async def _record(self, pipeline_id: str) -> PipelineRecord:
        store, _ = self._ready()
        record = await store.get(pipeline_id)
        if record is None:
            raise NotFoundError(f"no pipeline with id {pipeline_id!r}")
        return record

    async def _change(
        self,
        pipeline_id: str,
        new_spec: Callable[[PipelineRecord], tuple[PipelineSpec, str | None]],
        if_match: int | None,
        *,
        dry_run: bool = False,
        declared: bool = False,
    ) -> PipelineUpdate:
        """Store the new spec (and template name) by compare and set on the revision, then
        reach the worker: in place for hot fields, a restart under the same id for cold ones.

        Without If-Match a lost race is retried on the row as it now is, so two concurrent
        patches both land; with it, a moved-on row is a 412. Declared pipelines change only
        through a reload (`declared`).
        """
        while True:
            record = await self._record(pipeline_id)
            if record.origin is Origin.config and not declared:
                raise ConflictError(_declared_here(record.name))
            if if_match is not None and if_match != record.revision:
                raise PreconditionFailedError(
                    f"If-Match names revision {if_match} but pipeline {pipeline_id!r} is at "
                    f"revision {record.revision}; GET it again and reapply the change"
                )
            try:
                spec, template = new_spec(record)
            except ValidationError as exc:
                raise InvalidRequestError(f"spec: {validation_reason(exc)}") from None
            if spec.name != record.name:
                raise InvalidRequestError(
                    f"name: a pipeline keeps its name ({record.name!r}); create a new one instead"
                )
            change = spec_changes(record.spec, spec)
            if template != record.template:  # only the record's bookkeeping: hot
                applied = "cold" if change.applied == "cold" else "hot"
                change = SpecChange(applied=applied, changed=[*change.changed, "template"])
            if change.applied == "none":
                return await self._updated(pipeline_id, change)
            cold = change.applied == "cold"
            passed = await self._check_spec(spec) if cold else False
            if dry_run:
                return await self._updated(pipeline_id, change)
            policy = spec.restart_policy or self._config.pipelines.default_restart_policy
            changed = record.model_copy(
                update={"spec": spec, "restart_policy": policy, "template": template}
            )
            event = "reconfigured" if cold else "updated"
            async with self._writing() as (store, reconciler), reconciler.lock(pipeline_id):
                detail = ", ".join(change.changed)
                if not await store.update_spec(changed, record.revision, cold, event, detail):
                    continue  # another write came first: redo the change on top of it
                stored = await self._record(pipeline_id)
                if cold:
                    await self._workers.kill(pipeline_id)
                    reconciler.forget(pipeline_id)
                    if passed:
                        reconciler.model_passed(pipeline_id, stored.spec)
                    await self._launch_now(stored, event=None)
                else:
                    await self._hot_apply(stored)
            log.info("pipeline %s %s: %s", pipeline_id, event, detail)
            return await self._updated(pipeline_id, change)

    async def _retemplate(self, old: dict[str, dict[str, Any]], plan: ReloadPlan) -> None:
        """API pipelines made from a template that changed take the template's change: each
        field the template changed, by the hot/cold rules; their other fields stay theirs."""
        store, _ = self._ready()
        templates = self._config.pipelines.templates
        for record in await store.list():
            name = record.template
            if record.origin is not Origin.api or name is None or name not in old:
                continue
            if name not in templates:
                plan.skipped.append(f"{record.name}: its template {name!r} is gone; left as is")
                continue
            patch = merge_diff(old[name], templates[name])
            if not patch:
                continue

            def patched(
                current: PipelineRecord, patch: dict[str, Any] = patch
            ) -> tuple[PipelineSpec, str | None]:
                merged = merge_patch(current.spec.model_dump(mode="json"), patch)
                return PipelineSpec.model_validate(merged), current.template

            _note(plan, record.name, await self._change(record.id, patched, None))

    def _resolved(self, item: dict[str, Any], where: str) -> tuple[PipelineSpec, str | None]:
        """A spec as sent, or its template merged with it; each problem a 422 naming `where`."""
        try:
            data, template = resolve_template(item, self._config.pipelines.templates, where)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from None
        try:
            return PipelineSpec.model_validate(data), template
        except ValidationError as exc:
            raise InvalidRequestError(f"{where}.{validation_reason(exc)}") from None

    async def _hot_apply(self, record: PipelineRecord) -> None:
        """Hand the running worker its new spec; without a live one the next start uses it."""
        _, reconciler = self._ready()
        try:
            await self._workers.call(record.id, "update", record.spec)
        except (WorkerGone, asyncio.TimeoutError):
            log.info("pipeline %s has no live worker; its next start runs the new spec", record.id)
        reconciler.invalidate(record.id)

    async def _updated(self, pipeline_id: str, change: SpecChange) -> PipelineUpdate:
        view = await self._written(pipeline_id)
        return PipelineUpdate(applied=change.applied, changed=change.changed, pipeline=view)

    def _new_record(
        self, spec: PipelineSpec, pipeline_id: str, origin: Origin, template: str | None = None
    ) -> PipelineRecord:
        now = time.time()
        return PipelineRecord(
            template=template,
            id=pipeline_id,
            name=spec.name,
            spec=spec,
            desired_state=DesiredState.running,
            restart_policy=spec.restart_policy or self._config.pipelines.default_restart_policy,
            origin=origin,
            generation=1,
            created=now,
            updated=now,
        )

    async def _check_spec(self, spec: PipelineSpec) -> bool:
        """Reject what can never run before anything is stored (each a 422).

        Paths are confined here, where it is cheap; the model is checked where the pipeline
        will run. True: it passed there. False: no node has room for it now (or its check
        took too long); the reconciler checks it once one has, and fails the pipeline if
        the model does not pass.
        """
        pipelines = self._config.pipelines
        await asyncio.to_thread(
            check_source, spec.source.uri, pipelines.sources, pipelines.data_dir
        )
        await check_outbound(spec.source.uri, pipelines.outbound)
        files = ModelFiles.allowed_by(pipelines.models, pipelines.data_dir)
        try:  # the key's own message: a refused path must not read as a model error
            await asyncio.to_thread(confine_model_paths, spec.model, files)
        except ModelLoadError as exc:
            raise InvalidRequestError(str(exc)) from None
        if not await self._workers.has_room(spec):
            return False
        try:
            reason = await asyncio.wait_for(self._workers.check_model(spec), _MODEL_CHECK_WAIT)
        except asyncio.TimeoutError:
            return False
        except Exception:  # the check itself broke (its node went away): check again later
            log.warning("checking the model of %s failed", spec.name, exc_info=True)
            return False
        if reason is not None:
            raise InvalidRequestError(reason)
        return True

    async def _launch_now(self, record: PipelineRecord, event: str | None = "started") -> None:
        """Start the worker right away; if that fails the reconcile loop tries again."""
        _, reconciler = self._ready()
        try:
            await reconciler.launch(record, event)
        except Exception:
            log.exception("starting pipeline %s failed; the reconciler will retry", record.id)
        self._live.invalidate()
        self._wake.set()

    async def _set_desired(
        self, pipeline_id: str, state: DesiredState, event: str, method: str
    ) -> PipelineView:
        record = await self._record(pipeline_id)
        async with self._writing() as (store, reconciler), reconciler.lock(pipeline_id):
            if record.desired_state is not state:
                await store.set_desired(pipeline_id, state, event)
            with contextlib.suppress(WorkerGone, asyncio.TimeoutError):
                await self._workers.call(pipeline_id, method)
            reconciler.invalidate(pipeline_id)
        return await self._written(pipeline_id)

    async def _sync_declared(self, now: bool = False) -> ReloadPlan:
        """Declared pipelines are desired state too: add new ones, update changed ones and
        drop those no longer declared. At start the reconcile loop brings the workers along;
        `now` (a reload) applies each change at once, by the hot/cold rules."""
        store, reconciler = self._ready()
        pipelines = self._config.pipelines
        declared = {declared_id(spec.name): spec for spec in pipelines.declared}
        plan = ReloadPlan()
        for row in await store.broken():
            if row.id in declared:  # the descriptor still says what it should be
                await store.delete(row.id)
        for record in await store.list():
            if record.origin is Origin.config and record.id not in declared:
                plan.removed.append(record.name)
                await (self._remove(record.id) if now else store.delete(record.id))
        for pipeline_id, spec in declared.items():
            existing = await store.get(pipeline_id)
            template = pipelines.template_of(spec.name)
            record = self._new_record(spec, pipeline_id, Origin.config, template)
            if existing is None:
                clash = await store.get_by_name(spec.name)
                if clash is not None:
                    log.error("declared pipeline %r clashes with an API pipeline", spec.name)
                    plan.skipped.append(f"{spec.name}: an API-created pipeline has this name")
                    continue
                await store.insert(record, "declared")
                plan.added.append(spec.name)
                if now:
                    async with reconciler.lock(pipeline_id):
                        await self._launch_now(record)
            elif now:
                resolved = (spec, template)
                update = await self._change(
                    pipeline_id, lambda _, r=resolved: r, None, declared=True
                )
                _note(plan, spec.name, update)
            elif (
                existing.spec != spec
                or existing.restart_policy != record.restart_policy
                or existing.template != template
            ):
                await store.replace_spec(record, "redeclared")
        return plan

    async def _prune_events(self) -> None:
        store, _ = self._ready()
        retention = self._config.pipelines.events
        await store.prune_events(retention.max_age_days * 86400, retention.max_per_pipeline)

    async def _reconcile_loop(self) -> None:
        _, reconciler = self._ready()
        interval = self._config.pipelines.reconcile_interval
        pruned_at = float("-inf")
        while True:
            self._wake.clear()  # a wake during the pass asks for another one
            try:
                await reconciler.reconcile()
                self._live.invalidate()  # the pass may have started workers
                await self.list()  # publishes what the pass changed to the ingress replicas
                if time.monotonic() - pruned_at >= _PRUNE_INTERVAL:
                    pruned_at = time.monotonic()
                    await self._prune_events()
            except Exception:
                log.exception("reconcile pass failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)


def _declared_here(name: str) -> str:
    return (
        f"pipeline {name!r} is declared in the configuration (pipelines.declared, name "
        f"{name!r}); edit the descriptor there and reload (POST /api/v1/config/reload)"
    )


def _note(plan: ApplyPlan, name: str, update: PipelineUpdate) -> None:
    """Count one update in a plan: changed (hot or cold) or unchanged."""
    if update.applied == "none":
        plan.unchanged.append(name)
    else:
        plan.changed.append(
            PlannedChange(name=name, applied=update.applied, changed=update.changed)
        )
