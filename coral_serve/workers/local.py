"""In-process workers: the same `PipelineWorker`, in threads of this process, for tests and
tools that run without Ray."""

from __future__ import annotations

import asyncio
from typing import Any

from coral_serve.engine.model import ModelFiles, check_model
from coral_serve.engine.recorder import RecordingSettings
from coral_serve.schema.spec import PipelineSpec
from coral_serve.workers.pool import WorkerGone
from coral_serve.workers.worker import PipelineWorker

__all__ = ["LocalWorkerPool"]


class LocalWorkerPool:
    def __init__(
        self, recordings: RecordingSettings | None = None, model_files: ModelFiles | None = None
    ) -> None:
        self._workers: dict[str, PipelineWorker] = {}
        self._recordings = recordings
        self._model_files = model_files

    async def start(
        self, pipeline_id: str, spec: PipelineSpec, generation: int, paused: bool = False
    ) -> None:
        await self.kill(pipeline_id)
        self._workers[pipeline_id] = await asyncio.to_thread(
            PipelineWorker,
            pipeline_id,
            spec,
            generation,
            self._recordings,
            paused,
            self._model_files,
        )

    async def check_model(self, spec: PipelineSpec) -> str | None:
        return await asyncio.to_thread(check_model, spec, self._model_files)

    async def has_room(self, spec: PipelineSpec) -> bool:
        return True  # this process is the only node, and it does not count resources

    async def call(self, pipeline_id: str, method: str, *args: Any, timeout: float = 10.0) -> Any:
        worker = self._workers.get(pipeline_id)
        if worker is None:
            raise WorkerGone(pipeline_id)
        return await asyncio.wait_for(asyncio.to_thread(getattr(worker, method), *args), timeout)

    async def kill(self, pipeline_id: str) -> None:
        worker = self._workers.pop(pipeline_id, None)
        if worker is not None:
            await asyncio.to_thread(worker.stop)

    async def live(self) -> set[str]:
        return set(self._workers)
