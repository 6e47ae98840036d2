"""Lifecycle races and failures: restart, reconcile snapshots, launch failures, paused
restores and event retention, against a real store, real workers and real video."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from coral_serve.config import CoralConfig
from coral_serve.engine.recording_files import RecordingSettings
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.state import DesiredState
from coral_serve.services.pipeline import PipelineService
from coral_serve.services.reconciler import Reconciler
from coral_serve.workers.local import LocalWorkerPool
from coral_serve.workers.pool import WorkerGone
from tests.conftest import shared_file
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

API = "/api/v1/pipelines"


class ObservedPool(LocalWorkerPool):
    """The in-process pool, counting starts; a test can hold `start` at a gate, run a hook
    inside `live()`, or leave `status` of some workers unanswered (as a Ray actor waiting
    for an NPU node does)."""

    def __init__(self, recordings: RecordingSettings | None = None) -> None:
        super().__init__(recordings)
        self.starts = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.at_gate = asyncio.Event()
        self.on_live: Callable[[], Awaitable[None]] | None = None
        self.silent: set[str] = set()
        self.answer = asyncio.Event()
        self.unanswered = 0

    async def start(
        self, pipeline_id: str, spec: PipelineSpec, generation: int, paused: bool = False
    ) -> None:
        self.starts += 1
        self.at_gate.set()
        await self.gate.wait()
        await super().start(pipeline_id, spec, generation, paused)

    async def live(self) -> set[str]:
        hook, self.on_live = self.on_live, None
        if hook is not None:
            await hook()
        return await super().live()

    async def call(self, pipeline_id: str, method: str, *args: Any, timeout: float = 10.0) -> Any:
        if method == "status" and pipeline_id in self.silent:
            self.unanswered += 1
            try:
                await self.answer.wait()
            finally:
                self.unanswered -= 1
        return await super().call(pipeline_id, method, *args, timeout=timeout)


def clip_spec(name: str, **extra: Any) -> PipelineSpec:
    uri = str(shared_file("media", "vtest-10s.mp4"))
    return PipelineSpec.model_validate(
        {"name": name, "source": {"uri": uri, "loop": True}, "model": {"backend": "none"}, **extra}
    )


def lifecycle_config(tmp_path: Path, *sets: str) -> CoralConfig:
    media = shared_file("media", "vtest-10s.mp4").parent
    # A long interval: each test drives reconcile passes itself, where it matters when.
    return make_config(
        tmp_path,
        f"pipelines.sources.file_roots=[{media}]",
        "pipelines.reconcile_interval=3600",
        *sets,
    )


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[PipelineService, ObservedPool]]:
    pool = ObservedPool()
    pipelines = PipelineService(lifecycle_config(tmp_path), pool)
    await pipelines.start()
    try:
        yield pipelines, pool
    finally:
        pool.answer.set()
        pool.gate.set()
        await pipelines.stop()
        for pipeline_id in await pool.live():
            await pool.kill(pipeline_id)


def waiting_for_lock(reconciler: Reconciler, pipeline_id: str) -> bool:
    """Whether a second coroutine holds or awaits the pipeline's lock."""
    return getattr(reconciler._locks.get(pipeline_id), "users", 0) > 1


async def worker_state(pool: LocalWorkerPool, pipeline_id: str) -> str | None:
    try:
        return (await pool.call(pipeline_id, "status"))["state"]
    except WorkerGone:
        return None


async def test_restart_replaces_the_worker_once(tmp_path: Path) -> None:
    async with running_app(lifecycle_config(tmp_path)) as (client, _):
        created = (await client.post(API, json=clip_spec("cam").model_dump(mode="json"))).json()
        restarted = await client.post(f"{API}/{created['id']}/restart")
        assert restarted.status_code == 200, restarted.text
        assert restarted.json()["generation"] == created["generation"] + 1
        await eventually(
            lambda: client.get(f"{API}/{created['id']}/status"),
            lambda r: r.json()["state"] == "running" and r.json()["generation"] == 2,
        )
        events = (await client.get(f"{API}/{created['id']}/events")).json()
        assert [(e["kind"], e["detail"]) for e in events][-1] == ("restarted", "requested")
        missing = await client.post(f"{API}/{'0' * 32}/restart")
        assert missing.status_code == 404 and missing.json()["error"]


async def test_a_pass_during_restart_waits_and_starts_no_second_worker(service) -> None:
    pipelines, pool = service
    view = await pipelines.create(clip_spec("cam"))
    pool.gate.clear()
    pool.at_gate.clear()
    restart = asyncio.create_task(pipelines.restart(view.id))
    await pool.at_gate.wait()  # restart holds the lock and is starting the new worker
    reconciler = pipelines._ready()[1]
    passing = asyncio.create_task(reconciler.reconcile())
    # The pass either waits for the pipeline's lock or (the bug) starts a second worker.
    await eventually(
        lambda: asyncio.sleep(0, pool.starts > 2 or waiting_for_lock(reconciler, view.id)),
        bool,
    )
    pool.gate.set()
    await asyncio.gather(restart, passing)
    assert pool.starts == 2  # create, restart
    await reconciler.reconcile()
    kinds = [event.kind for event in await pipelines.events(view.id)]
    assert "failed" not in kinds and kinds.count("restarted") == 1
    assert await worker_state(pool, view.id) in ("starting", "running")


async def test_a_pipeline_created_during_a_pass_is_not_killed_as_an_orphan(service) -> None:
    pipelines, pool = service
    created: list[str] = []

    async def create_meanwhile() -> None:
        created.append((await pipelines.create(clip_spec("late"))).id)

    pool.on_live = create_meanwhile
    await pipelines._ready()[1].reconcile()
    assert created and await pool.live() == set(created)
    kinds = [event.kind for event in await pipelines.events(created[0])]
    assert kinds == ["created", "started"]


async def test_pending_workers_are_asked_together_and_hold_no_api_action(service) -> None:
    pipelines, pool = service
    ids = [(await pipelines.create(clip_spec(f"npu-{n}"))).id for n in range(3)]
    pool.silent = set(ids)
    passing = asyncio.create_task(pipelines._ready()[1].reconcile())
    await eventually(lambda: asyncio.sleep(0, pool.unanswered), lambda n: n >= 3)
    pausing = asyncio.create_task(pipelines.pause(ids[0]))
    store = pipelines._ready()[0]
    await eventually(lambda: store.get(ids[0]), lambda r: r.desired_state is DesiredState.paused)
    assert pool.unanswered >= 3  # stored while every status read is still unanswered
    pool.answer.set()
    assert (await pausing).desired_state == "paused"
    await passing


async def test_a_worker_that_cannot_start_fails_with_the_reason_and_backs_off(
    tmp_path: Path,
) -> None:
    not_a_dir = tmp_path / "recordings"
    not_a_dir.write_text("a file where the recordings directory should be")
    pool = ObservedPool(RecordingSettings(directory=str(not_a_dir), segment_seconds=60))
    pipelines = PipelineService(lifecycle_config(tmp_path / "data"), pool)
    await pipelines.start()
    try:
        reconciler = pipelines._ready()[1]
        reconciler._backoff = (1000.0, 5000.0)
        view = await pipelines.create(clip_spec("rec", outputs={"record": True}))
        assert view.status.state == "failed"
        assert view.status.reason and "worker could not start" in view.status.reason
        for _ in range(3):
            await reconciler.reconcile()
        assert pool.starts == 1  # waiting out the backoff
        supervision = reconciler.supervision(view.id)
        supervision.retry_at = 0.0  # the backoff has passed
        await reconciler.reconcile()
        assert pool.starts == 2
        assert supervision.retry_at - time.monotonic() > 1500  # doubled
        kinds = [event.kind for event in await pipelines.events(view.id)]
        assert kinds.count("launch_failed") == 1  # said once, not on every attempt
        assert (await pipelines.get(view.id)).status.state == "failed"
    finally:
        await pipelines.stop()


async def test_a_paused_pipeline_comes_back_paused_without_a_frame(tmp_path: Path) -> None:
    config = lifecycle_config(tmp_path)
    first = LocalWorkerPool()
    pipelines = PipelineService(config, first)
    await pipelines.start()
    view = await pipelines.create(clip_spec("door"))
    await pipelines.pause(view.id)
    await pipelines.stop()
    await first.kill(view.id)  # the whole serving process died

    pool = LocalWorkerPool()
    restored = PipelineService(config, pool)
    await restored.start()  # the first reconcile pass restores the pipeline
    try:
        states: list[str | None] = []

        async def opened() -> dict[str, Any] | None:
            try:
                status = await pool.call(view.id, "status")
            except WorkerGone:
                return None
            states.append(status["state"])
            return status

        status = await eventually(opened, lambda s: s is not None and s["source_fps"])
        assert set(states) == {"paused"}
        assert status["counters"]["frames_read"] == 0
        assert status["counters"]["frames_processed"] == 0
        await restored.resume(view.id)
        await eventually(opened, lambda s: s is not None and s["counters"]["frames_processed"])
    finally:
        await restored.stop()
        await pool.kill(view.id)


async def test_events_are_pruned_by_count_and_go_with_their_pipeline(tmp_path: Path) -> None:
    config = lifecycle_config(tmp_path, "pipelines.events.max_per_pipeline=4")
    async with running_app(config) as (client, _):
        kept = (await client.post(API, json=clip_spec("kept").model_dump(mode="json"))).json()
        gone = (await client.post(API, json=clip_spec("gone").model_dump(mode="json"))).json()
        for _ in range(5):
            await client.post(f"{API}/{kept['id']}/pause")
            await client.post(f"{API}/{kept['id']}/resume")
        assert len((await client.get(f"{API}/{kept['id']}/events")).json()) > 4
        assert (await client.delete(f"{API}/{gone['id']}")).status_code == 204

        events = (await client.get(f"{API}/{kept['id']}/events")).json()
        assert [e["kind"] for e in events] == ["paused", "resumed", "paused", "resumed"]
        store = (await client.get(f"{API}")).json()
        assert [p["name"] for p in store] == ["kept"]


async def test_old_events_and_those_of_deleted_pipelines_are_pruned(service) -> None:
    pipelines, _ = service
    store = pipelines._ready()[0]
    view = await pipelines.create(clip_spec("cam"))
    await store.add_event("no-such-pipeline", "started")
    assert await store.prune_events(max_age=3600, max_per_pipeline=100) == 1
    assert [e.kind for e in await store.events(view.id)] == ["created", "started"]
    assert await store.prune_events(max_age=0, max_per_pipeline=100) == 2
    assert await store.events(view.id) == []
