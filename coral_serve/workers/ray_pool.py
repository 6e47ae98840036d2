"""Workers as named, detached Ray actors: they outlive Serve redeploys and any replica can
find one by name, so PipelineService adopts them instead of restarting them."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError
from ray.util import list_named_actors

from coral_serve.engine.model_files import ModelFiles
from coral_serve.engine.recording_files import RecordingSettings
from coral_serve.schema.spec import PipelineSpec, ResourcesSpec
from coral_serve.workers.pool import WorkerGone, pipeline_id_of, worker_name

__all__ = ["MODEL_CHECK_TASK", "RayWorkerPool", "placement"]

# Threads per actor: a streaming `wait_frame` must never hold up `status` or `stop`.
_ACTOR_CONCURRENCY = 16
_STOP_GRACE_SECONDS = 5.0
MODEL_CHECK_TASK = "coral-model-check"
"""The task name of model checks (`ray list tasks --filter name=coral-model-check`)."""


@ray.remote(max_retries=0)
def _check_model_task(spec: PipelineSpec, files: ModelFiles | None) -> str | None:
    """`engine.model.check_model` as a task, placed like the worker: it loads the model where
    it will run."""
    # Imported here, in the task: the replicas that submit it must not load the engine
    # (NumPy, OpenCV); only the worker that runs it needs it.
    from coral_serve.engine.model import check_model

    return check_model(spec, files)


def placement(resources: ResourcesSpec) -> dict[str, Any]:
    """Ray options that place a pipeline's worker, and its model check with it."""
    return {
        "num_cpus": resources.num_cpus,
        "num_gpus": resources.num_gpus,
        "resources": dict(resources.custom) or None,
    }


class RayWorkerPool:
    """Picklable: Serve passes it to every replica that talks to workers."""

    def __init__(
        self,
        namespace: str,
        recordings: RecordingSettings | None = None,
        model_files: ModelFiles | None = None,
    ) -> None:
        self.namespace = namespace
        self.recordings = recordings
        self.model_files = model_files  # checked again on the worker's node, which reads them
        self._handles: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "recordings": self.recordings,
            "model_files": self.model_files,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["namespace"], state.get("recordings"), state.get("model_files")
        )

    async def start(
        self, pipeline_id: str, spec: PipelineSpec, generation: int, paused: bool = False
    ) -> None:
        # Imported here: every replica that reaches workers unpickles this pool, and only the
        # one that starts them needs the engine (tracking, drawing, video: ~45 MiB, ~1 s).
        from coral_serve.workers.worker import PipelineWorker

        await self.kill(pipeline_id)
        actor_class = ray.remote(PipelineWorker).options(
            name=worker_name(pipeline_id),
            namespace=self.namespace,
            lifetime="detached",
            **placement(spec.resources),
            max_concurrency=_ACTOR_CONCURRENCY,
            max_restarts=0,  # PipelineService restarts per the pipeline's restart policy
        )
        self._handles[pipeline_id] = actor_class.remote(
            pipeline_id, spec, generation, self.recordings, paused, self.model_files
        )

    async def check_model(self, spec: PipelineSpec) -> str | None:
        task = _check_model_task.options(name=MODEL_CHECK_TASK, **placement(spec.resources))
        ref = task.remote(spec, self.model_files)
        try:
            return await ref
        except asyncio.CancelledError:
            ray.cancel(ref)  # still queued for its resources, most likely: it never runs
            raise

    async def has_room(self, spec: PipelineSpec) -> bool:
        free = await asyncio.to_thread(ray.available_resources)
        wanted = spec.resources
        amounts = {"CPU": wanted.num_cpus, "GPU": wanted.num_gpus, **wanted.custom}
        return all(free.get(name, 0.0) >= amount for name, amount in amounts.items() if amount)

    async def call(self, pipeline_id: str, method: str, *args: Any, timeout: float = 10.0) -> Any:
        actor = await self._actor(pipeline_id)
        try:
            return await asyncio.wait_for(getattr(actor, method).remote(*args), timeout)
        except (RayActorError, GetTimeoutError) as exc:
            self._handles.pop(pipeline_id, None)
            raise WorkerGone(pipeline_id) from exc

    async def kill(self, pipeline_id: str) -> None:
        try:
            actor = await self._actor(pipeline_id)
        except WorkerGone:
            return
        self._handles.pop(pipeline_id, None)
        with contextlib.suppress(RayActorError, asyncio.TimeoutError):
            await asyncio.wait_for(actor.stop.remote(), _STOP_GRACE_SECONDS)
        ray.kill(actor, no_restart=True)

    async def live(self) -> set[str]:
        named = await asyncio.to_thread(list_named_actors, all_namespaces=True)
        ids = set()
        for entry in named:
            if entry.get("namespace") != self.namespace:
                continue
            pipeline_id = pipeline_id_of(entry.get("name", ""))
            if pipeline_id is not None:
                ids.add(pipeline_id)
        for gone in self._handles.keys() - ids:  # keep handles only of workers that exist
            del self._handles[gone]
        return ids

    async def _actor(self, pipeline_id: str) -> Any:
        handle = self._handles.get(pipeline_id)
        if handle is not None:
            return handle
        try:
            handle = await asyncio.to_thread(
                ray.get_actor, worker_name(pipeline_id), namespace=self.namespace
            )
        except ValueError:
            raise WorkerGone(pipeline_id) from None
        self._handles[pipeline_id] = handle
        return handle
