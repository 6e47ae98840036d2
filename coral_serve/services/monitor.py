"""MonitorService: polls pipeline workers, keeps chart history, watches the recordings disk."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from coral_serve.config import CoralConfig
from coral_serve.services.checks import CheckResult
from coral_serve.workers.pool import WorkerPool

__all__ = ["MonitorService"]


class MonitorService:
    """One replica: the metric history and the disk quota are shared state."""

    def __init__(self, config: CoralConfig, workers: WorkerPool) -> None:
        self._config = config
        self._workers = workers
        self._recordings = Path(str(config.streams.recordings.directory))

    async def start(self) -> None:
        """Nothing runs in the background until pipelines exist to poll."""

    async def stop(self) -> None:
        """Nothing to release yet."""

    async def check_disk(self) -> CheckResult:
        """Readiness: the recordings filesystem keeps its minimum share of free space."""
        path = self._recordings
        while not path.exists() and path != path.parent:
            path = path.parent
        usage = await asyncio.to_thread(shutil.disk_usage, path)
        free_percent = 100.0 * usage.free / usage.total if usage.total else 0.0
        floor = self._config.monitoring.disk.min_free_percent
        return CheckResult(
            name="disk",
            ok=free_percent >= floor,
            detail=f"{free_percent:.1f}% free on {path} (minimum {floor:g}%)",
        )
