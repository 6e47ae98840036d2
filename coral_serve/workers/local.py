"""In-process workers: the same `PipelineWorker`s, in threads of this process, for tests and
tools that run without Ray. `isolation="shared"` shares their models, as a Ray host does."""

from __future__ import annotations

import asyncio
from typing import Any

from coral_serve.config.pipelines import Isolation
from coral_serve.engine.model import check_model
from coral_serve.engine.model_files import ModelFiles
from coral_serve.engine.recording_files import RecordingSettings
from coral_serve.schema.spec import PipelineSpec
from coral_serve.workers.host import PipelineHost

__all__ = ["LocalWorkerPool"]


class LocalWorkerPool:
    def __init__(
        self,
        recordings: RecordingSettings | None = None,
        model_files: ModelFiles | None = None,
        isolation: Isolation = Isolation.process,
    ) -> None:
        self._host = PipelineHost(share_sessions=Isolation(isolation) is Isolation.shared)
        self._recordings = recordings
        self._model_files = model_files

    async def start(
        self, pipeline_id: str, spec: PipelineSpec, generation: int, paused: bool = False
    ) -> None:
        await asyncio.to_thread(
            self._host.start,
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
        call = asyncio.to_thread(self._host.call, pipeline_id, method, *args)
        return await asyncio.wait_for(call, timeout)

    async def kill(self, pipeline_id: str) -> None:
        await asyncio.to_thread(self._host.kill, pipeline_id)

    async def live(self) -> set[str]:
        return set(self._host.pipelines())

    def describe(self) -> dict[str, Any]:
        """The host's pid, pipelines and open sessions (tests)."""
        return self._host.describe()
