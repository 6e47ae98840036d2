"""A WorkerPool whose workers answer a fixed status, never answer, or are gone."""

from __future__ import annotations

import asyncio
from typing import Any

from coral_serve.workers.pool import WorkerGone


def running_status(name: str, fps: float = 25.0, frames: int = 100) -> dict[str, Any]:
    """What `PipelineWorker.status()` returns for a running pipeline."""
    latency = {"last": 0.010, "mean": 0.012, "p95": 0.020}
    return {
        "name": name,
        "state": "running",
        "fps": fps,
        "counters": {
            "frames_read": frames,
            "frames_processed": frames,
            "frames_dropped": 0,
            "reconnects": 0,
        },
        "latency": {"inference": latency, "end_to_end": {**latency, "mean": 0.04}},
        "width": 640,
        "height": 480,
    }


class StubWorkers:
    def __init__(self) -> None:
        self.statuses: dict[str, dict[str, Any]] = {}
        self.hung: set[str] = set()

    async def live(self) -> set[str]:
        return set(self.statuses) | self.hung

    async def call(self, pipeline_id: str, method: str, *args: Any, timeout: float = 10.0) -> Any:
        if pipeline_id in self.hung:
            await asyncio.sleep(3600)  # the caller's deadline must end this
        if pipeline_id not in self.statuses:
            raise WorkerGone(pipeline_id)
        return self.statuses[pipeline_id]
