"""StreamService: live view (WebRTC, MJPEG, snapshots) and recordings, per replica."""

from __future__ import annotations

from coral_serve.config import CoralConfig
from coral_serve.workers.pool import WorkerPool

__all__ = ["StreamService"]


class StreamService:
    """Fans each pipeline's frames out to its viewers; scales out with replicas."""

    def __init__(self, config: CoralConfig, workers: WorkerPool) -> None:
        self._config = config
        self._workers = workers
        self._sessions: dict[str, object] = {}

    async def start(self) -> None:
        """Nothing to open until the first viewer arrives."""

    async def stop(self) -> None:
        self._sessions.clear()

    async def session_count(self) -> int:
        return len(self._sessions)
