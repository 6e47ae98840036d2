"""Helpers of the object-event tests: revisions as a worker makes them, and workers that
report scripted ones through the worker interface EventService polls."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from coral_serve.config import ConfigSources, CoralConfig, load_config
from coral_serve.schema.events import ClipState, EventPhase, ObjectEvent
from coral_serve.workers.pool import WorkerGone

T0 = 1_700_000_000.0


def revision(
    event_id: str,
    number: int,
    phase: EventPhase = EventPhase.update,
    *,
    pipeline_id: str = "cam-1",
    label: str = "person",
    start: float = T0,
    zones: tuple[str, ...] = (),
    clip: ClipState = ClipState.none,
    end: float | None = None,
    has_snapshot: bool = False,
) -> ObjectEvent:
    return ObjectEvent(
        id=event_id,
        pipeline_id=pipeline_id,
        track_id=1,
        label=label,
        phase=phase,
        revision=number,
        start=start,
        end=end if end is not None or phase is not EventPhase.end else start + 5,
        best_score=0.5 + number / 100,
        best_frame_id=number,
        zones=list(zones),
        current_zones=list(zones),
        box=[10.0, 10.0, 50.0, 90.0],
        has_snapshot=has_snapshot,
        clip=clip,
    )


def events_config(tmp_path: Path, *sets: str) -> CoralConfig:
    """The dev defaults on a data dir of the test's own, without the demo pipeline."""
    sets = (f"pipelines.data_dir={tmp_path}", "demo=none", *sets)
    return load_config(ConfigSources(sets=list(sets), environ={}))


def new_id() -> str:
    return uuid.uuid4().hex


class ScriptedWorker:
    """The worker's object-event ring: every revision it made, with a `seq`, read by cursor
    and left in place (as `PipelineWorker.read_object_events` does)."""

    def __init__(self, pipeline_id: str, generation: int = 1) -> None:
        self.pipeline_id = pipeline_id
        self.generation = generation
        self.ring: list[dict[str, Any]] = []
        self.reads = 0

    def emit(self, *revisions: ObjectEvent) -> None:
        for item in revisions:
            self.ring.append({"seq": len(self.ring) + 1, **item.model_dump(mode="json")})

    def status(self) -> dict[str, Any]:
        return {"generation": self.generation, "analytics": {"zones": {}, "lines": {}}}

    def read_object_events(self, after: int, max_items: int) -> list[dict[str, Any]]:
        self.reads += 1
        return [item for item in self.ring if item["seq"] > after][:max_items]


class ScriptedPool:
    """A `WorkerPool` of scripted workers; `kill` makes one gone, as a dead process is."""

    def __init__(self, *workers: ScriptedWorker) -> None:
        self.workers = {worker.pipeline_id: worker for worker in workers}

    async def call(self, pipeline_id: str, method: str, *args: Any, timeout: float = 10.0) -> Any:
        worker = self.workers.get(pipeline_id)
        if worker is None:
            raise WorkerGone(pipeline_id)
        return getattr(worker, method)(*args)

    async def kill(self, pipeline_id: str) -> None:
        self.workers.pop(pipeline_id, None)

    async def live(self) -> set[str]:
        return set(self.workers)
