"""`PipelineHost`: several pipelines' workers in one process (`pipelines.isolation: shared`),
sharing one inference session per model (engine/sessions.py).

Each pipeline is its own `PipelineWorker` with its own engine threads, recorder and event
media; only the process and the loaded models are shared. Ray makes a host an actor (one per
node and resource shape, `workers/shared_pool.py`); the in-process pool uses one directly.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from coral_serve.engine.model_files import ModelFiles
from coral_serve.engine.recording_files import RecordingSettings
from coral_serve.schema.spec import PipelineSpec
from coral_serve.workers.pool import WorkerGone
from coral_serve.workers.priority import apply_worker_priority

if TYPE_CHECKING:
    from coral_serve.workers.worker import PipelineWorker

__all__ = ["PipelineHost"]


class PipelineHost:
    """Pipelines by id; every method is thread-safe (a Ray host serves calls in threads)."""

    def __init__(self, share_sessions: bool = True) -> None:
        """`share_sessions=False`: each pipeline loads its own model (the in-process pool in
        `process` isolation, where the only difference left is the process).

        The engine is imported here and in `start`, in the host's own process: the replica
        that makes this class an actor imports this module, and must not load the engine,
        OpenCV and PyAV (~70 MiB) for it."""
        apply_worker_priority()  # the host is the pipelines' process: before its imports
        from coral_serve.engine.sessions import SharedSessions

        self._sessions = SharedSessions() if share_sessions else None
        self._lock = threading.Lock()
        self._workers: dict[str, PipelineWorker] = {}

    def start(
        self,
        pipeline_id: str,
        spec: PipelineSpec,
        generation: int,
        recordings: RecordingSettings | None = None,
        paused: bool = False,
        model_files: ModelFiles | None = None,
    ) -> None:
        """Replace the pipeline's worker with a new one; the model loads in the background."""
        from coral_serve.workers.worker import PipelineWorker

        self.kill(pipeline_id)
        worker = PipelineWorker(
            pipeline_id, spec, generation, recordings, paused, model_files, self._sessions
        )
        with self._lock:
            self._workers[pipeline_id] = worker

    def call(self, pipeline_id: str, method: str, *args: Any) -> Any:
        """A `PipelineWorker` method of one pipeline; WorkerGone when it is not here."""
        if method.startswith("_"):
            raise ValueError(f"{method!r} is not a worker method")
        with self._lock:
            worker = self._workers.get(pipeline_id)
        if worker is None:
            raise WorkerGone(pipeline_id)
        return getattr(worker, method)(*args)

    def kill(self, pipeline_id: str) -> int:
        """Stop the pipeline's worker (idempotent); how many pipelines are left here."""
        with self._lock:
            worker = self._workers.pop(pipeline_id, None)
        if worker is not None:
            worker.stop()
        with self._lock:
            return len(self._workers)

    def pipelines(self) -> list[str]:
        with self._lock:
            return list(self._workers)

    def describe(self) -> dict[str, Any]:
        """Where this host runs and what it holds (benchmarks, operators)."""
        sessions = self._sessions.describe() if self._sessions is not None else None
        return {"pid": os.getpid(), "pipelines": self.pipelines(), "sessions": sessions}
