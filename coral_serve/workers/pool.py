"""The interface services use to start, call and stop pipeline workers, wherever they run."""

from __future__ import annotations

from typing import Any, Protocol

from coral_serve.schema.spec import PipelineSpec

__all__ = ["WORKER_PREFIX", "WorkerGone", "WorkerPool", "pipeline_id_of", "worker_name"]

WORKER_PREFIX = "coral-pipeline-"


def worker_name(pipeline_id: str) -> str:
    """The Ray actor name of a pipeline's worker: stable, so any replica can find it."""
    return f"{WORKER_PREFIX}{pipeline_id}"


def pipeline_id_of(name: str) -> str | None:
    return name[len(WORKER_PREFIX) :] if name.startswith(WORKER_PREFIX) else None


class WorkerGone(Exception):
    """The pipeline has no live worker (never started, stopped, or its process died)."""


class WorkerPool(Protocol):
    async def start(
        self, pipeline_id: str, spec: PipelineSpec, generation: int, paused: bool = False
    ) -> None:
        """Create the worker; it opens its source and model in the background (and takes no
        frame while `paused`)."""

    async def check_model(self, spec: PipelineSpec) -> str | None:
        """Run `engine.model.check_model` where a worker for `spec` would run (its resources,
        its node's files and runtimes), waiting for those resources as long as it takes;
        cancelling it withdraws the check. The reason the model cannot serve, or None."""

    async def has_room(self, spec: PipelineSpec) -> bool:
        """Whether some node has `spec`'s resources free now: a hint, since the check and the
        worker queue for them anyway."""

    async def call(self, pipeline_id: str, method: str, *args: Any, timeout: float = 10.0) -> Any:
        """Call a `PipelineWorker` method; raises `WorkerGone` when there is no live worker."""

    async def kill(self, pipeline_id: str) -> None:
        """Stop the worker, releasing its source and model; idempotent."""

    async def live(self) -> set[str]:
        """Ids of every pipeline that has a live worker, including ones this process did not
        start (adopted after a redeploy)."""
